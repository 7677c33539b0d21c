"""Crypto.com adapter: Exchange API v1 on the documentation's own examples.

Docs: https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html (each test names
its section). The retired API v2 of the recording is covered by
``tests/replay/test_crypto_com_recordings.py``.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import run_frames

from adapters.crypto_com.adapter import BOOK_DEPTH, INSTRUMENTS_URL, MARKET_URL, CryptoComAdapter
from collector.adapter import Subscription
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade

DOCS = "https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html"
TS = 1_647_917_463_100_000_000

#: #book-instrument_name-depth, "Response Sample - Subscription (SNAPSHOT_AND_UPDATE)",
#: the snapshot, verbatim.
DOC_SNAPSHOT = """{
  "id": -1, "method": "subscribe", "code": 0,
  "result": {
    "instrument_name": "BTCUSD-PERP", "subscription": "book.BTCUSD-PERP.10",
    "channel": "book", "depth": 10,
    "data": [{
      "asks": [
        ["50126.000000", "0.400000", "2"], ["50130.000000", "1.279000", "3"],
        ["50136.000000", "1.279000", "5"], ["50137.000000", "0.800000", "7"],
        ["50142.000000", "1.279000", "1"], ["50148.000000", "2.892900", "9"],
        ["50154.000000", "1.279000", "5"], ["50160.000000", "1.133000", "2"],
        ["50166.000000", "3.090700", "1"], ["50172.000000", "1.279000", "1"]
      ],
      "bids": [
        ["50113.500000", "0.400000", "3"], ["50113.000000", "0.051800", "1"],
        ["50112.000000", "1.455300", "1"], ["50106.000000", "1.174800", "2"],
        ["50100.500000", "0.800000", "4"], ["50100.000000", "1.455300", "5"],
        ["50097.500000", "0.048000", "8"], ["50097.000000", "0.148000", "9"],
        ["50096.500000", "0.399200", "2"], ["50095.000000", "0.399200", "3"]
      ],
      "tt": 1647917462799, "t": 1647917463000, "u": 7845460001
    }]
  }
}"""
#: The same sample's update. The docs' text closes ``update`` with ``}],`` (invalid
#: JSON); here it is ``},``, every value as printed.
DOC_UPDATE = """{
  "id": -1, "method": "subscribe", "code": 0,
  "result": {
    "instrument_name": "BTCUSD-PERP", "subscription": "book.BTCUSD-PERP.10",
    "channel": "book.update", "depth": 10,
    "data": [{
      "update": {
        "asks": [["50126.000000", "0", "0"], ["50180.000000", "3.279000", "10"]],
        "bids": [["50097.000000", "0.252000", "1"]]
      },
      "tt": 1647917463003, "t": 1647917463003, "u": 7845460002, "pu": 7845460001
    }]
  }
}"""
#: #trade-instrument_name, "Response Sample" (comments removed).
DOC_TRADE = """{
  "id": 1, "method": "subscribe", "code": 0,
  "result": {
    "instrument_name": "BTCUSD-PERP", "subscription": "trade.BTCUSD-PERP", "channel": "trade",
    "data": [{"d": "2030407068", "t": 1613581138462, "p": "51327.500000", "q": "0.000100",
              "s": "SELL", "i": "BTCUSD-PERP"}]
  }
}"""
#: #ticker-instrument_name, "Response Sample" (comments removed).
DOC_TICKER = """{
  "id": -1, "method": "subscribe", "code": 0,
  "result": {
    "instrument_name": "BTCUSD-PERP", "subscription": "ticker.BTCUSD-PERP", "channel": "ticker",
    "data": [{"h": "51790.00", "l": "47895.50", "a": "51174.500000", "c": "0.03955106",
              "b": "51170.000000", "bs": "0.1000", "k": "51180.000000", "ks": "0.2000",
              "i": "BTCUSD-PERP", "v": "879.5024", "vv": "26370000.12", "oi": "12345.12",
              "t": 1613580710768}]
  }
}"""


def test_book_snapshot_of_the_delta_subscription_docs() -> None:
    """#book-instrument_name-depth: the snapshot's ``u`` starts the chain; ``tt`` is the
    book's time; the venue keeps the book at the subscribed depth."""
    (snap,) = CryptoComAdapter().decode(DOC_SNAPSHOT, TS)
    assert isinstance(snap, BookSnapshot)
    assert (snap.symbol, snap.last_id, snap.depth) == ("BTCUSD-PERP", 7845460001, 10)
    assert snap.ts_exchange == 1647917462799 * 10**6 and snap.in_band
    assert snap.bids[0] == ("50113.500000", "0.400000") and len(snap.asks) == 10


def test_book_update_of_the_delta_subscription_docs() -> None:
    """#book-instrument_name-depth: ``pu`` names the previous ``u``; size "0" deletes."""
    (delta,) = CryptoComAdapter().decode(DOC_UPDATE, TS)
    assert delta == BookDelta(
        "BTCUSD-PERP",
        1647917463003 * 10**6,
        TS,
        7845460002,
        7845460002,
        7845460001,
        [("50097.000000", "0.252000")],
        [("50126.000000", "0"), ("50180.000000", "3.279000")],
        None,
        10,
    )


def _update(u: int, pu: int, asks: list | None = None) -> str:
    frame = json.loads(DOC_UPDATE)
    data = frame["result"]["data"][0]
    data.update(u=u, pu=pu)
    data["update"] = {"asks": asks or [], "bids": []}
    return json.dumps(frame)


def test_the_docs_chain_syncs_empty_deltas_chain_and_a_wrong_pu_is_a_gap() -> None:
    """#book-instrument_name-depth: "An update should only be processed if the pu field
    corresponds to the u of the last received update"; empty deltas (heartbeat,
    housekeeping) "must be processed as above"."""
    frames = [DOC_SNAPSHOT, DOC_UPDATE, _update(7845460005, 7845460002)]
    pipeline = run_frames(CryptoComAdapter(), frames, ts=TS)
    stats = pipeline.engine.symbols["BTCUSD-PERP"].stats
    assert (stats.snapshots_applied, stats.deltas_applied, stats.gaps) == (1, 2, 0)
    asks = pipeline.engine.symbols["BTCUSD-PERP"].book.as_dict()["asks"]
    assert Decimal("50126") not in asks and asks[Decimal("50180")] == Decimal("3.279")
    broken = [*frames, _update(7845460009, 7845460007, [["50200.000000", "1", "1"]])]
    stats = run_frames(CryptoComAdapter(), broken, ts=TS).engine.symbols["BTCUSD-PERP"].stats
    assert stats.gaps == 1


def test_trades_docs_sample_first_push_is_the_snapshot_of_last_50() -> None:
    """#trade-instrument_name: "It always returns a snapshot of the last 50 trades after
    the initial subscription": the first push per connection is history, not stored;
    ``s`` is the taker's side."""
    a = CryptoComAdapter()
    (first,) = a.decode(DOC_TRADE, TS, conn=1)
    assert isinstance(first, Control) and first.kind == "ignored"
    (trade,) = a.decode(DOC_TRADE, TS, conn=1)
    assert trade == Trade(
        "BTCUSD-PERP", 1613581138462 * 10**6, TS, "2030407068", "sell", "51327.500000", "0.000100"
    )
    assert isinstance(a.decode(DOC_TRADE, TS, conn=2)[0], Control)  # a new subscription


def test_ticker_docs_sample_is_the_best_bid_and_ask() -> None:
    (bbo,) = CryptoComAdapter().decode(DOC_TICKER, TS)
    assert bbo == BestBidAsk(
        "BTCUSD-PERP", 1613580710768 * 10**6, TS, None, "51170.000000", "0.1000", "51180.000000",
        "0.2000",
    )  # fmt: skip
    no_bid = DOC_TICKER.replace('"b": "51170.000000", "bs": "0.1000"', '"b": null, "bs": null')
    (quiet,) = CryptoComAdapter().decode(no_bid, TS)
    assert isinstance(quiet, Control) and quiet.kind == "ignored"


def test_heartbeat_is_answered_on_its_connection() -> None:
    """#websocket-heartbeats: the client must answer ``public/respond-heartbeat`` with the
    same id within 5 s, or the venue closes the connection. The answer is a reply the
    daemon sends on the heartbeat's connection, byte for byte what the recorder of
    ``crypto-com/CRYPTO.COM.jsonl.gz`` sent (its one ``send`` of the kind, below)."""
    frame = '{"id": 1587523073344, "method": "public/heartbeat", "code": 0}'
    (reply,) = CryptoComAdapter().decode(frame, TS)
    assert reply == Control("reply", TS, '{"id":1587523073344,"method":"public/respond-heartbeat"}')
    recorded = '{"id":1637709519420,"method":"public/heartbeat"}'
    (reply,) = CryptoComAdapter().decode(recorded, TS)
    assert reply.detail == '{"id":1637709519420,"method":"public/respond-heartbeat"}'


def test_answers_and_errors() -> None:
    a = CryptoComAdapter()
    assert a.decode('{"id":1,"code":0,"method":"subscribe"}', TS) == [
        Control("ack", TS, "subscribe id 1")
    ]
    (err,) = a.decode('{"id":1,"code":10004,"method":"subscribe","message":"BAD_REQUEST"}', TS)
    assert err.kind == "error" and "10004" in err.detail
    unknown = DOC_TICKER.replace('"channel": "ticker"', '"channel": "nope"')
    (u,) = a.decode(unknown, TS)
    assert isinstance(u, DecodeFailed) and u.unknown
    (bad,) = a.decode(DOC_UPDATE.replace('"pu": 7845460001', '"pu": "x"'), TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown


def test_plan_subscribes_to_deltas_on_the_market_endpoint() -> None:
    """#book-instrument_name-depth "Request Sample - Subscription (SNAPSHOT_AND_UPDATE)"."""
    subs = [Subscription("BTCUSD-PERP", c) for c in ("book", "trades", "bbo")]
    (plan,) = CryptoComAdapter().plan(subs)
    assert plan.url == MARKET_URL == "wss://stream.crypto.com/exchange/v1/market"
    book, others = (json.loads(f) for f in plan.subscribe)
    assert book["params"] == {
        "channels": [f"book.BTCUSD-PERP.{BOOK_DEPTH}"],
        "book_subscription_type": "SNAPSHOT_AND_UPDATE",
        "book_update_frequency": 10,
    }
    assert others["params"] == {"channels": ["trade.BTCUSD-PERP", "ticker.BTCUSD-PERP"]}
    assert plan.app_ping is None  # no documented client ping: heartbeats are answered
    assert CryptoComAdapter().snapshot_request("BTCUSD-PERP") is None
    with pytest.raises(ValueError, match="crypto-com has no channel"):
        CryptoComAdapter().plan([Subscription("BTCUSD-PERP", "liquidations")])


def test_v1_instruments_name_markets() -> None:
    """#public-get-instruments: ``result.data`` rows (their documented fields)."""
    body = {"id": 1, "method": "public/get-instruments", "code": 0, "result": {"data": [
        {"symbol": "BTC_USDT", "inst_type": "CCY_PAIR", "base_ccy": "BTC", "quote_ccy": "USDT"},
        {"symbol": "BTCUSD-PERP", "inst_type": "PERPETUAL_SWAP", "base_ccy": "BTC",
         "quote_ccy": "USD", "expiry_timestamp_ms": 0},
        {"symbol": "BTCUSD-260327", "inst_type": "FUTURE", "base_ccy": "BTC",
         "quote_ccy": "USD", "expiry_timestamp_ms": 1774598400000}]}}  # fmt: skip
    a = CryptoComAdapter()
    assert a.listed("BTC_USDT") is None
    (loaded,) = a.decode_rest(INSTRUMENTS_URL, json.dumps(body), TS)
    assert loaded.kind == "ignored"
    assert [a.market(s) for s in ("BTC_USDT", "BTCUSD-PERP", "BTCUSD-260327")] == [
        "BTC-USDT",
        "BTC-USD-PERP",
        "BTC-USD-20260327",
    ]
    assert a.listed("BTC_USDT") is True and a.listed("ETH_USDT") is False
    error = json.dumps({"id": 1, "code": 40003, "message": "BAD_REQUEST"})
    assert a.decode_rest(INSTRUMENTS_URL, error, TS)[0].kind == "error"


def test_markets_without_the_list() -> None:
    a = CryptoComAdapter()
    assert a.market("ETH_BTC") == "ETH-BTC"
    assert a.market("ETHUSD-PERP") == "ETH-USD-PERP"
    assert a.market("BTCUSD-261225") == "BTC-USD-20261225"
