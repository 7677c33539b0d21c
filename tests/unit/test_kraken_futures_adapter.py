"""Kraken Futures adapter on literal frames.

Frames follow the examples of the Derivatives WebSocket pages they name
(docs.kraken.com/exchange/api-reference/futures-websocket/...), numbers written as the
venue writes them (JSON numbers, ``qty`` 0 deleting a level).
"""

from __future__ import annotations

import json

from support import run_frames, table_rows

from adapters.kraken_futures.adapter import URL, KrakenFuturesAdapter
from collector.adapter import Subscription
from collector.book.sequence import FirstLastRule
from collector.model import (
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    Trade,
)

TS = 1_612_269_830_000_000_000
DOCS = "https://docs.kraken.com/exchange/api-reference/futures-websocket/"

#: DOCS + "book": the snapshot example.
SNAPSHOT = (
    '{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1612269825817,'
    '"seq":326072249,"tickSize":null,"bids":[{"price":34892.5,"qty":6385},'
    '{"price":34892,"qty":10924}],"asks":[{"price":34911.5,"qty":20598},'
    '{"price":34912,"qty":2300}]}'
)


def book(seq: int, side: str, price: str, qty: str) -> str:
    """DOCS + "book": a delta in the shape of the page's example."""
    return (
        f'{{"feed":"book","product_id":"PI_XBTUSD","side":"{side}","seq":{seq},'
        f'"price":{price},"qty":{qty},"timestamp":1612269953629}}'
    )


def test_book_snapshot_and_deltas_keep_the_wire_text() -> None:
    """DOCS + "book": snapshot levels and a delta, numbers as their exact text."""
    a = KrakenFuturesAdapter()
    (snap,) = a.decode(SNAPSHOT, TS)
    assert snap == BookSnapshot(
        "PI_XBTUSD",
        1_612_269_825_817_000_000,
        TS,
        326072249,
        [("34892.5", "6385"), ("34892", "10924")],
        [("34911.5", "20598"), ("34912", "2300")],
        in_band=True,
    )
    (delta,) = a.decode(book(326072250, "sell", "34981", "0"), TS)
    assert delta == BookDelta(
        "PI_XBTUSD", 1_612_269_953_629_000_000, TS, 326072250, 326072250, None, [], [("34981", "0")]
    )
    (bid,) = a.decode(book(326072251, "buy", "1e-4", "12.50"), TS)
    assert bid.bids == [("0.0001", "12.50")] and bid.asks == []


def test_the_seq_chain_is_checked_per_product() -> None:
    """DOCS + "book": each product's seq is +1 per message from the snapshot's; a lost
    message is a gap, and nothing is written for the book after it."""
    assert isinstance(KrakenFuturesAdapter.sequence_rule, FirstLastRule)
    frames = [
        SNAPSHOT,
        book(326072250, "buy", "34893", "5"),
        book(326072252, "buy", "34894", "5"),  # 326072251 is missing
    ]
    pipeline = run_frames(KrakenFuturesAdapter(), frames, ts=TS, url=URL)
    stats = pipeline.engine.symbols["PI_XBTUSD"].stats
    assert (stats.snapshots_applied, stats.deltas_applied, stats.gaps) == (1, 1, 1)
    seqs = {seq for (seq,) in table_rows(pipeline, "book", "seq")}
    assert seqs == {326072249, 326072250}
    assert "gap" in [k for (k,) in table_rows(pipeline, "quality", "kind")]


def test_trades_are_the_takers() -> None:
    """DOCS + "trade": the example fill (liquidations: test_derivatives_kraken_futures)."""
    fill = (
        '{"feed":"trade","product_id":"PI_XBTUSD","uid":"05af78ac-a774-478c-a50c-8b9c234e071e",'
        '"side":"sell","type":"fill","seq":653355,"time":1612266317519,"qty":15000,'
        '"price":34969.5}'
    )
    a = KrakenFuturesAdapter()
    (trade,) = a.decode(fill, TS)
    ts_ex = 1_612_266_317_519_000_000
    uid = "05af78ac-a774-478c-a50c-8b9c234e071e"
    assert trade == Trade("PI_XBTUSD", ts_ex, TS, uid, "sell", "34969.5", "15000")


def test_the_trade_snapshot_is_history_and_not_stored() -> None:
    """DOCS + "trade": ``trade_snapshot`` lists trades from before the subscription."""
    frame = {
        "feed": "trade_snapshot",
        "product_id": "PI_XBTUSD",
        "trades": [
            {
                "feed": "trade",
                "product_id": "PI_XBTUSD",
                "uid": "caa9c653-420b-4c24-a9f1-462a054d86f1",
                "side": "sell",
                "type": "fill",
                "seq": 655508,
                "time": 1612269657781,
                "qty": 440,
                "price": 34893,
            }
        ],
    }
    (msg,) = KrakenFuturesAdapter().decode(json.dumps(frame), TS)
    assert msg == Control("ignored", TS, "trade snapshot: 1 trades", "PI_XBTUSD")


def test_events_heartbeats_and_ticker_lite() -> None:
    """Events (futures-websocket guide), ``heartbeat`` and ``ticker_lite`` (DOCS pages)."""
    a = KrakenFuturesAdapter()
    assert a.decode('{"event":"info","version":1}', TS) == [
        Control("ignored", TS, "info version 1")
    ]
    (ack,) = a.decode('{"event":"subscribed","feed":"book","product_ids":["PI_XBTUSD"]}', TS)
    assert ack.kind == "ack" and "PI_XBTUSD" in ack.detail
    (err,) = a.decode('{"event":"error","message":"Invalid product id"}', TS)
    assert err.kind == "error" and "Invalid product id" in err.detail
    (beat,) = a.decode('{"feed":"heartbeat","time":1534262350627}', TS)
    assert beat.kind == "heartbeat"
    lite = '{"feed":"ticker_lite","product_id":"PI_XBTUSD","bid":34932,"ask":34949.5}'
    assert a.decode(lite, TS)[0].kind == "ignored"


def test_bad_and_unknown_frames_are_reported_not_raised() -> None:
    a = KrakenFuturesAdapter()
    (bad,) = a.decode(book(1, "sell", '"34981"', "0"), TS)  # price as a string
    assert isinstance(bad, DecodeFailed) and not bad.unknown
    (unknown,) = a.decode('{"feed":"spread","product_id":"PI_XBTUSD"}', TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    (junk,) = a.decode("not json", TS)
    assert isinstance(junk, DecodeFailed)


def test_plan_subscribes_each_feed_once_with_the_heartbeat() -> None:
    subs = [
        Subscription(s, c)
        for s in ("PF_XBTUSD", "PI_ETHUSD")
        for c in ("book", "trades", "bbo", "derivative_ticker", "liquidations")
    ]
    (plan,) = KrakenFuturesAdapter().plan(subs)
    assert plan.url == "wss://futures.kraken.com/ws/v1"
    frames = [json.loads(f) for f in plan.subscribe]
    assert frames == [
        {"event": "subscribe", "feed": "heartbeat"},
        {"event": "subscribe", "feed": "book", "product_ids": ["PF_XBTUSD", "PI_ETHUSD"]},
        {"event": "subscribe", "feed": "trade", "product_ids": ["PF_XBTUSD", "PI_ETHUSD"]},
        {"event": "subscribe", "feed": "ticker", "product_ids": ["PF_XBTUSD", "PI_ETHUSD"]},
    ]
    assert plan.subscriptions == subs


def test_markets() -> None:
    a = KrakenFuturesAdapter()
    assert a.market("PI_XBTUSD") == "BTC-USD-PERP"
    assert a.market("PF_ETHUSD") == "ETH-USD-PERP"
    assert a.market("FI_XBTUSD_210730") == "BTC-USD-20210730"
    assert a.market("FF_XBTUSD_260925") == "BTC-USD-20260925"
    assert a.market("IN_XBTUSD") == "IN_XBTUSD"  # an index is no market


def test_instruments_list_the_upper_case_product_ids() -> None:
    """``GET /derivatives/api/v3/instruments``: the 2021 list wrote symbols lower case."""
    body = json.dumps(
        {
            "result": "success",
            "instruments": [
                {"symbol": "pi_xbtusd", "type": "futures_inverse", "tradeable": True},
                {"symbol": "in_xbtusd", "type": "spot index", "tradeable": False},
            ],
        }
    )
    a = KrakenFuturesAdapter()
    (msg,) = a.decode_rest(a.instrument_requests()[0].url, body, TS)
    assert msg.kind == "ignored"
    assert a.listed("PI_XBTUSD") is True and a.listed("IN_XBTUSD") is False
    (err,) = a.decode_rest(a.instrument_requests()[0].url, '{"result":"error","error":"x"}', TS)
    assert err.kind == "error"
