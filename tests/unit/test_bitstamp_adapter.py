"""Bitstamp adapter on literal frames.

Book, trade and REST frames are verbatim from the recording (``bitstamp/BITSTAMP.jsonl.gz``,
2022-01-05), whose shapes https://www.bitstamp.net/websocket/v2/ and
https://www.bitstamp.net/api/ document. The session events (``bts:request_reconnect``,
``bts:heartbeat``, ``bts:error``) follow the event list of https://www.bitstamp.net/websocket/v2/;
no recording carries them, so those frames are written from that page, not copied.
"""

from __future__ import annotations

import json

from support import MemorySink, pylist

from adapters.bitstamp.adapter import ORDER_BOOK_URL, URL, BitstampAdapter
from collector.adapter import Subscription
from collector.book.sequence import IncreasingIdRule
from collector.capture.records import Record
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
)
from collector.model import Trade as TradeMsg
from collector.pipeline import Pipeline

TS = 1_641_343_697_403_468_000
DIFF = (
    '{"data":{"timestamp":"1641343691","microtimestamp":"1641343691244908","bids":'
    '[["1.15979","993.02588113"],["1.14866","7758.51900928"]],"asks":[["1.16601",'
    '"1200.00000000"]]},"channel":"diff_order_book_bateur","event":"data"}'
)
TRADE = (
    '{"data":{"id":216000477,"timestamp":"1641343699","amount":0.0792,"amount_str":'
    '"0.07920000","price":3805.44,"price_str":"3805.44","type":0,"microtimestamp":'
    '"1641343699596000","buy_order_id":1443875737346049,"sell_order_id":1443875731320832},'
    '"channel":"live_trades_ethusd","event":"trade"}'
)
SNAPSHOT_URL = "https://www.bitstamp.net/api/v2/order_book/bateur"
SNAPSHOT = (
    '{"timestamp": "1641343691", "microtimestamp": "1641343691300000", "bids": '
    '[["1.15979", "993.02588113"]], "asks": [["1.16601", "1200.00000000"]]}'
)


def diff(mts: int, bids: list, asks: list, pair: str = "bateur") -> str:
    data = {"timestamp": str(mts // 10**6), "microtimestamp": str(mts), "bids": bids, "asks": asks}
    return json.dumps({"data": data, "channel": f"diff_order_book_{pair}", "event": "data"})


def test_a_diff_event_is_a_delta_stamped_by_its_microtimestamp() -> None:
    (delta,) = BitstampAdapter().decode(DIFF, TS)
    assert delta == BookDelta(
        "bateur",
        1641343691244908000,
        TS,
        1641343691244908,
        1641343691244908,
        None,
        [("1.15979", "993.02588113"), ("1.14866", "7758.51900928")],
        [("1.16601", "1200.00000000")],
    )


def test_the_rest_book_is_the_snapshot_with_or_without_microtimestamp() -> None:
    (snap,) = BitstampAdapter().decode_rest(SNAPSHOT_URL + "/", SNAPSHOT, TS)
    assert snap == BookSnapshot(
        "bateur",
        1641343691300000000,
        TS,
        1641343691300000,
        [("1.15979", "993.02588113")],
        [("1.16601", "1200.00000000")],
    )
    assert not snap.in_band
    # "sometimes lacks microtimestamp": the second stands in, at its first microsecond.
    bare = SNAPSHOT.replace('"microtimestamp": "1641343691300000", ', "")
    (older,) = BitstampAdapter().decode_rest(SNAPSHOT_URL, bare, TS)
    assert older.last_id == 1641343691000000


def _pipeline(records: list[Record]) -> Pipeline:
    pipeline = Pipeline(BitstampAdapter(), MemorySink())
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    return pipeline


def test_events_at_or_before_the_snapshot_are_dropped_and_the_next_bridges() -> None:
    """The websocket page's rule: discard microtimestamp <= the snapshot's, apply the rest."""
    snap_mts = 1641343691300000
    pipeline = _pipeline(
        [
            Record("recv", TS, 1, diff(snap_mts - 1, [["1.15", "1"]], [])),  # buffered, stale
            Record("http", TS + 1, 0, SNAPSHOT, SNAPSHOT_URL),
            Record("recv", TS + 2, 1, diff(snap_mts, [["1.15", "2"]], [])),  # equal: stale
            Record("recv", TS + 3, 1, diff(snap_mts + 1, [["1.15", "3"]], [])),  # bridges
        ]
    )
    st = pipeline.engine.symbols["bateur"].stats
    assert (st.stale_dropped, st.snapshots_applied, st.deltas_applied) == (2, 1, 1)
    rows = pylist(pipeline.sink.table("book"))
    assert [(r["seq"], r["is_snapshot"], r["side"], str(r["price"])) for r in rows] == [
        (snap_mts, True, "bid", "1.159790000000000000"),
        (snap_mts, True, "ask", "1.166010000000000000"),
        (snap_mts + 1, False, "bid", "1.150000000000000000"),
    ]
    assert str(rows[-1]["size"]) == "3.000000000000000000"


def test_a_new_connection_resyncs_the_book() -> None:
    """No update ids: what was lost between connections is invisible, so the book is
    declared invalid on the first event of the newer connection and refetched."""
    adapter = BitstampAdapter()
    first = diff(1641343691400000, [["1.15", "1"]], [])
    assert [type(m) for m in adapter.decode(first, TS, conn=1)] == [BookDelta]
    assert [type(m) for m in adapter.decode(first, TS, conn=1)] == [BookDelta]
    moved = adapter.decode(first, TS, conn=2)
    assert [type(m) for m in moved] == [BookInvalid, BookDelta]
    assert moved[0].symbol == "bateur" and "connection 2" in moved[0].reason
    assert [type(m) for m in adapter.decode(first, TS, conn=1)] == [BookDelta]  # older: draining
    pipeline = _pipeline(
        [
            Record("http", TS, 0, SNAPSHOT, SNAPSHOT_URL),
            Record("recv", TS + 1, 1, diff(1641343691400000, [["1.15", "1"]], [])),
            Record("recv", TS + 2, 2, diff(1641343691500000, [["1.15", "2"]], [])),
        ]
    )
    sync = pipeline.engine.symbols["bateur"]
    assert sync.state.value != "synced" and sync.stats.resyncs == 1
    assert pipeline.engine.snapshot_requests() == ["bateur"]


def test_trades_are_the_takers_with_exact_text() -> None:
    (t,) = BitstampAdapter().decode(TRADE, TS)
    assert t == TradeMsg(
        "ethusd", 1641343699596000000, TS, "216000477", "buy", "3805.44", "0.07920000"
    )
    (sell,) = BitstampAdapter().decode(TRADE.replace('"type":0', '"type":1'), TS)
    assert sell.side == "sell"
    (bad,) = BitstampAdapter().decode(TRADE.replace('"type":0', '"type":2'), TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown


def test_order_book_top_is_the_best_bid_and_ask() -> None:
    frame = DIFF.replace("diff_order_book_", "order_book_")
    (q,) = BitstampAdapter().decode(frame, TS)
    assert q == BestBidAsk(
        "bateur",
        1641343691244908000,
        TS,
        None,
        "1.15979",
        "993.02588113",
        "1.16601",
        "1200.00000000",
    )
    one_sided = frame.replace('[["1.16601","1200.00000000"]]', "[]")
    assert BitstampAdapter().decode(one_sided, TS)[0].kind == "ignored"


def test_session_events() -> None:
    adapter = BitstampAdapter()
    ok = '{"event":"bts:subscription_succeeded","channel":"diff_order_book_bateur","data":{}}'
    assert adapter.decode(ok, TS) == [Control("ack", TS, "diff_order_book_bateur")]
    reconnect = '{"event": "bts:request_reconnect", "channel": "", "data": ""}'
    assert adapter.decode(reconnect, TS) == [Control("shutdown", TS, "bts:request_reconnect")]
    beat = '{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}'
    assert adapter.decode(beat, TS)[0].kind == "heartbeat"
    error = '{"event":"bts:error","channel":"","data":{"code":null,'
    error += '"message":"Bad subscription string."}}'
    assert adapter.decode(error, TS) == [Control("error", TS, "None: Bad subscription string.")]
    (unknown,) = adapter.decode('{"event":"bts:new","channel":"","data":{}}', TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    (broken,) = adapter.decode(DIFF.replace('"microtimestamp":"1641343691244908",', ""), TS)
    assert isinstance(broken, DecodeFailed) and not broken.unknown


def test_plan_snapshot_request_and_pairs() -> None:
    subs = [Subscription("btcusd", c) for c in ("book", "trades", "bbo")]
    (plan,) = BitstampAdapter().plan(subs)
    assert plan.url == URL == "wss://ws.bitstamp.net"
    assert [json.loads(f)["data"]["channel"] for f in plan.subscribe] == [
        "diff_order_book_btcusd",
        "live_trades_btcusd",
        "order_book_btcusd",
    ]
    assert json.loads(plan.subscribe[0])["event"] == "bts:subscribe"
    request = BitstampAdapter().snapshot_request("btcusd")
    assert request is not None and request.url == ORDER_BOOK_URL.format("btcusd")
    adapter = BitstampAdapter()
    pairs = (
        '[{"trading": "Enabled", "base_decimals": 8, "url_symbol": "btcusd", "name": "BTC/USD",'
        ' "instant_and_market_orders": "Enabled", "minimum_order": "20.0 USD",'
        ' "counter_decimals": 2, "description": "Bitcoin / U.S. dollar"}]'
    )
    url = "https://www.bitstamp.net/api/v2/trading-pairs-info/"
    assert adapter.decode_rest(url, pairs, TS)[0].kind == "ignored"
    assert adapter.market("btcusd") == "BTC-USD" and adapter.listed("btcusd")
    assert adapter.listed("ethusd") is False
    (other,) = adapter.decode_rest("https://www.bitstamp.net/api/v2/ticker/btcusd/", "{}", TS)
    assert isinstance(other, DecodeFailed) and other.unknown


def test_increasing_id_rule() -> None:
    rule = IncreasingIdRule()

    def d(i: int) -> BookDelta:
        return BookDelta("x", None, 0, i, i, None, [], [])

    assert rule.stale(d(5), 5) and not rule.stale(d(6), 5)
    assert rule.bridges(d(6), 5) and not rule.bridges(d(5), 5)
    assert rule.continues(d(100), 5)  # ids skip: no gap can be seen
    assert rule.outdated(d(4), 5) and not rule.outdated(d(5), 5)  # a shared id is applied
