"""Bitget adapter: API v2 on the documentation's own examples, v1 on the recording's shapes.

Docs (each test names its page):

* https://www.bitget.com/api-doc/common/websocket-intro (URL, ``ping``/``pong``, limits);
* https://www.bitget.com/api-doc/spot/websocket/public/Depth-Channel (push, checksum);
* https://www.bitget.com/api-doc/spot/websocket/public/Trades-Channel (trade push).
"""

from __future__ import annotations

import json
from zlib import crc32

import pytest

from adapters.bitget.adapter import (
    CONTRACTS_URL,
    PUBLIC_URL,
    SPOT_SYMBOLS_URL,
    SYMBOLS_PER_CONNECTION,
    BitgetAdapter,
)
from collector.adapter import Subscription
from collector.book.book import OrderBook
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_695_710_946_500_000_000
DEPTH = "https://www.bitget.com/api-doc/spot/websocket/public/Depth-Channel"

#: Depth-Channel, "Push Data" (books5, SPOT BTCUSDT), verbatim.
DOC_BOOKS5 = """{
  "action": "snapshot",
  "arg": {"instType": "SPOT", "channel": "books5", "instId": "BTCUSDT"},
  "data": [
    {
      "asks": [["26274.9", "0.0009"], ["26275.0", "0.0500"]],
      "bids": [["26274.8", "0.0009"], ["26274.7", "0.0027"]],
      "checksum": 0,
      "seq": 123,
      "ts": "1695710946294"
    }
  ],
  "ts": 1695710946294
}"""
#: Trades-Channel, "Push Data", verbatim.
DOC_TRADES = """{
  "action": "snapshot",
  "arg": {"instType": "SPOT", "channel": "trade", "instId": "BTCUSDT"},
  "data": [
    {"ts": "1695709835822", "price": "26293.4", "size": "0.0013", "side": "buy",
     "tradeId": "1000000000"}
  ],
  "ts": 1695711090682
}"""


def signed(text: str) -> int:
    value = crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def test_books5_push_of_the_depth_channel_docs() -> None:
    """Depth-Channel push example: a 5-level snapshot; ``checksum: 0`` means not sent."""
    (snap,) = BitgetAdapter().decode(DOC_BOOKS5, TS)
    assert snap == BookSnapshot(
        "SPOT:BTCUSDT",
        1695710946294 * 10**6,
        TS,
        123,
        [("26274.8", "0.0009"), ("26274.7", "0.0027")],
        [("26274.9", "0.0009"), ("26275.0", "0.0500")],
        True,
        None,
        5,
    )


@pytest.mark.parametrize(
    ("bids", "asks", "doc_string"),
    [
        (
            [("43231.1", "4"), ("43231", "6")],
            [("43232.8", "9"), ("43232.9", "8")],
            "43231.1:4:43232.8:9:43231:6:43232.9:8",
        ),
        ([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")],
         "3366.1:7:3366.8:9:3368:8:3372:8"),
    ],
)  # fmt: skip
def test_checksum_is_the_depth_channel_docs_string(bids, asks, doc_string) -> None:
    """Depth-Channel "Calculate Checksum", both examples: the string the docs build,
    hashed as a signed 32-bit CRC32."""
    book = OrderBook()
    book.bids.apply(bids)
    book.asks.apply(asks)
    assert BitgetAdapter().book_checksum("SPOT:BTCUSDT", book) == signed(doc_string)


def test_books_snapshot_then_update_keep_seq_text_and_checksum() -> None:
    """Depth-Channel: ``books`` sends a snapshot, then ``update`` pushes of the same
    fields (the docs' push shape, action ``update``; size ``0`` deletes)."""
    frame = json.loads(DOC_BOOKS5)
    frame["arg"]["channel"] = "books"
    frame["data"][0]["checksum"] = -1
    a = BitgetAdapter()
    (snap,) = a.decode(json.dumps(frame), TS)
    assert isinstance(snap, BookSnapshot) and snap.last_id == 123 and snap.depth is None
    assert snap.checksum == -1
    frame["action"] = "update"
    frame["data"][0].update(seq=130, asks=[["26274.9", "0"]], bids=[], checksum=77)
    (delta,) = a.decode(json.dumps(frame), TS)
    assert delta == BookDelta(
        "SPOT:BTCUSDT", 1695710946294 * 10**6, TS, 130, 130, None, [], [("26274.9", "0")], 77
    )


def test_books1_is_the_best_bid_and_ask() -> None:
    frame = json.loads(DOC_BOOKS5)
    frame["arg"]["channel"] = "books1"
    (bbo,) = BitgetAdapter().decode(json.dumps(frame), TS)
    assert bbo == BestBidAsk(
        "SPOT:BTCUSDT", 1695710946294 * 10**6, TS, None, "26274.8", "0.0009", "26274.9", "0.0009"
    )


def test_trades_docs_push_snapshot_is_history_update_is_stored() -> None:
    """Trades-Channel: the first push is a ``snapshot`` of recent trades (from before the
    subscription: not stored); ``update`` rows are, with their ``tradeId``."""
    a = BitgetAdapter()
    (snap,) = a.decode(DOC_TRADES, TS)
    assert isinstance(snap, Control) and snap.kind == "ignored"
    (trade,) = a.decode(DOC_TRADES.replace('"snapshot"', '"update"'), TS)
    assert trade == Trade(
        "SPOT:BTCUSDT", 1695709835822 * 10**6, TS, "1000000000", "buy", "26293.4", "0.0013"
    )


def test_events_and_pong_of_the_websocket_intro() -> None:
    """websocket-intro: the subscribe answer echoes ``arg``; errors carry code and msg;
    the text ``ping`` is answered with ``pong``."""
    a = BitgetAdapter()
    ack = '{"event":"subscribe","arg":{"instType":"SPOT","channel":"books5","instId":"BTCUSDT"}}'
    assert a.decode(ack, TS) == [
        Control("ack", TS, "subscribe books5 SPOT:BTCUSDT", "SPOT:BTCUSDT")
    ]
    error = (
        '{"event":"error","code":30001,"op":"subscribe",'
        '"msg":"instType:SPOT,channel:books,instId:X doesn\'t exist"}'
    )
    (err,) = a.decode(error, TS)
    assert err.kind == "error" and err.detail.startswith("30001: ")
    assert a.decode("pong", TS) == [Control("heartbeat", TS, "pong")]


def test_unknown_and_malformed_frames_are_reported_not_raised() -> None:
    a = BitgetAdapter()
    unknown = (
        '{"action":"snapshot","arg":{"instType":"SPOT","channel":"nope","instId":"X"},"data":[]}'
    )
    (u,) = a.decode(unknown, TS)
    assert isinstance(u, DecodeFailed) and u.unknown
    bad = DOC_BOOKS5.replace('"1695710946294"', '"soon"')
    (m,) = a.decode(bad, TS)
    assert isinstance(m, DecodeFailed) and not m.unknown
    (t,) = a.decode(DOC_BOOKS5.replace('"SPOT"', '"MARGIN"'), TS)
    assert isinstance(t, DecodeFailed) and "instType" in t.reason


def test_v1_frames_of_the_recording_name_their_line() -> None:
    """API v1 (the 2022 recording): ``sp`` is spot, ``mc`` a mix line told by the id's
    quote; trades are ``[ts, price, size, side]`` rows without an id."""
    a = BitgetAdapter()
    v1 = (
        '{"action":"update","arg":{"instType":"mc","channel":"books","instId":"DASHUSDT"},'
        '"data":[{"asks":[["113.42","0"]],"bids":[],"checksum":-487257069,"ts":"1649290077676"}]}'
    )
    (delta,) = a.decode(v1, TS)
    assert isinstance(delta, BookDelta) and delta.symbol == "USDT-FUTURES:DASHUSDT"
    assert delta.checksum == -487257069 and delta.last_id == 1  # own count: no seq in v1
    trade = (
        '{"action":"update","arg":{"instType":"sp","channel":"trade","instId":"HOTUSDT"},'
        '"data":[["1649290077777","0.005613","890.8","buy"]]}'
    )
    assert a.decode(trade, TS) == [
        Trade("SPOT:HOTUSDT", 1649290077777 * 10**6, TS, "", "buy", "0.005613", "890.8")
    ]
    coin = v1.replace("DASHUSDT", "BTCUSD")
    assert a.decode(coin, TS)[0].symbol == "COIN-FUTURES:BTCUSD"


def test_plan_one_connection_per_line_on_the_v2_public_url() -> None:
    """websocket-intro: one public URL; ``ping`` every 30 s; fewer than 50 channels each."""
    subs = [Subscription(f"SPOT:C{i}USDT", c) for i in range(20) for c in ("book", "trades")]
    subs.append(Subscription("USDT-FUTURES:BTCUSDT", "bbo"))
    plans = BitgetAdapter().plan(subs)
    assert [len({s.symbol for s in p.subscriptions}) for p in plans] == [
        SYMBOLS_PER_CONNECTION,
        20 - SYMBOLS_PER_CONNECTION,
        1,
    ]
    assert {p.url for p in plans} == {PUBLIC_URL} and PUBLIC_URL.endswith("/v2/ws/public")
    assert all(p.app_ping == "ping" and p.app_ping_interval_s == 30.0 for p in plans)
    args = [arg for p in plans for f in p.subscribe for arg in json.loads(f)["args"]]
    assert len(args) == len(subs)
    assert args[0] == {"instType": "SPOT", "channel": "books", "instId": "C0USDT"}
    assert args[1] == {"instType": "SPOT", "channel": "trade", "instId": "C0USDT"}
    assert args[-1] == {"instType": "USDT-FUTURES", "channel": "books1", "instId": "BTCUSDT"}
    with pytest.raises(ValueError, match="bitget has no channel"):
        BitgetAdapter().plan([Subscription("SPOT:BTCUSDT", "liquidations")])
    assert BitgetAdapter().snapshot_request("SPOT:BTCUSDT") is None


def test_v2_lists_name_markets_and_judge_listing() -> None:
    """Get-Symbols and Get-All-Symbols-Contracts rows (their documented fields)."""
    a = BitgetAdapter()
    urls = [r.url for r in a.instrument_requests()]
    assert urls[0] == SPOT_SYMBOLS_URL and urls[1] == f"{CONTRACTS_URL}?productType=USDT-FUTURES"
    spot = {
        "code": "00000",
        "msg": "success",
        "requestTime": 1,
        "data": [{"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "status": "online"}],
    }
    futures = {"code": "00000", "msg": "success", "requestTime": 1, "data": [
        {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "symbolType": "perpetual"},
        {"symbol": "BTCUSDT0327", "baseCoin": "BTC", "quoteCoin": "USDT",
         "symbolType": "delivery", "deliveryTime": "1774598400000"}]}  # fmt: skip
    assert a.listed("SPOT:BTCUSDT") is None  # no list yet: not judged
    (loaded,) = a.decode_rest(urls[0], json.dumps(spot), TS)
    assert loaded.kind == "ignored"
    a.decode_rest(urls[1], json.dumps(futures), TS)
    assert a.market("SPOT:BTCUSDT") == "BTC-USDT"
    assert a.market("USDT-FUTURES:BTCUSDT") == "BTC-USDT-PERP"
    assert a.market("USDT-FUTURES:BTCUSDT0327") == "BTC-USDT-20260327"
    assert a.listed("SPOT:BTCUSDT") is True and a.listed("SPOT:ETHUSDT") is False
    assert a.listed("COIN-FUTURES:BTCUSD") is None
    error = json.dumps({"code": "40034", "msg": "Parameter does not exist", "data": None})
    assert a.decode_rest(urls[2], error, TS)[0].kind == "error"


def test_markets_without_lists_are_guessed_by_quote() -> None:
    a = BitgetAdapter()
    assert a.market("SPOT:ETHBTC") == "ETH-BTC"
    assert a.market("COIN-FUTURES:BTCUSD") == "BTC-USD-PERP"
    assert a.market("USDC-FUTURES:BTCPERP") == "BTC-USDC-PERP"
    assert a.market("SPOT:WEIRD") == "SPOT:WEIRD"
