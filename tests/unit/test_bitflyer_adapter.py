"""bitFlyer adapter on literal frames, in the shapes of the Realtime API examples.

Docs: https://bf-lightning-api.readme.io/docs/realtime-api (JSON-RPC 2.0, ``subscribe``,
``channelMessage``), ``realtime-board-snapshot``, ``realtime-board``,
``realtime-executions``, ``realtime-ticker``; markets: https://lightning.bitflyer.com/docs.
"""

from __future__ import annotations

import json

from support import run_frames

from adapters.bitflyer.adapter import URL, BitflyerAdapter
from collector.adapter import Subscription
from collector.book.sequence import NoSequenceRule
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_436_265_873_600_000_000


def push(channel: str, message: object) -> str:
    """A ``channelMessage`` notification, as on the realtime-api page."""
    params = {"channel": channel, "message": message}
    return json.dumps({"jsonrpc": "2.0", "method": "channelMessage", "params": params})


#: realtime-board-snapshot / realtime-board: the page's example payload.
BOARD = {
    "mid_price": 33320,
    "bids": [{"price": 30000, "size": 0.1}, {"price": 25000, "size": 1}],
    "asks": [{"price": 36640, "size": 5}],
}
SNAPSHOT = push("lightning_board_snapshot_BTC_JPY", BOARD)
DIFF = push(
    "lightning_board_BTC_JPY",
    {"mid_price": 33320, "bids": [], "asks": [{"price": 36640, "size": 0}]},
)


def test_board_snapshot_then_diffs_numbered_per_connection() -> None:
    """realtime-board-snapshot and realtime-board: no ids, sizes absolute, 0 deletes."""
    a = BitflyerAdapter()
    (snap,) = a.decode(SNAPSHOT, TS, conn=1)
    assert snap == BookSnapshot(
        "BTC_JPY", None, TS, 1, [("30000", "0.1"), ("25000", "1")], [("36640", "5")], True
    )
    (diff,) = a.decode(DIFF, TS, conn=1)
    assert diff == BookDelta("BTC_JPY", None, TS, 2, 2, None, [], [("36640", "0")])
    (again,) = a.decode(SNAPSHOT, TS, conn=1)  # the periodic snapshot replaces the book
    assert isinstance(again, BookSnapshot) and again.last_id == 3
    assert isinstance(BitflyerAdapter.sequence_rule, NoSequenceRule)


def test_a_diff_before_the_first_snapshot_is_covered_by_it() -> None:
    """The two channels are separate subscriptions: a diff may come first, on each new
    connection too. It is reported as ignored, so it neither asks for a resync nor lands
    on the previous connection's book."""
    a = BitflyerAdapter()
    (early,) = a.decode(DIFF, TS, conn=1)
    assert early == Control("ignored", TS, "board diff before the first snapshot", "BTC_JPY")
    a.decode(SNAPSHOT, TS, conn=1)
    a.connected(2, URL)
    (early,) = a.decode(DIFF, TS, conn=2)
    assert early.kind == "ignored"
    pipeline = run_frames(BitflyerAdapter(), [DIFF, SNAPSHOT, DIFF], ts=TS, url=URL)
    stats = pipeline.engine.symbols["BTC_JPY"].stats
    assert (stats.snapshots_applied, stats.deltas_applied, stats.resyncs) == (1, 1, 0)
    assert pipeline.engine.snapshot_requests() == []


def test_executions_are_the_takers_and_itayose_fills_are_reported() -> None:
    """realtime-executions: the page's example row; ``side`` is the taker's."""
    row = {
        "id": 39361,
        "side": "SELL",
        "price": 35100,
        "size": 0.01,
        "exec_date": "2015-07-07T10:44:33.547Z",
        "buy_child_order_acceptance_id": "JRF20150707-014356-184990",
        "sell_child_order_acceptance_id": "JRF20150707-104433-186048",
    }
    itayose = {**row, "id": 39362, "side": ""}
    trade, auction = BitflyerAdapter().decode(
        push("lightning_executions_BTC_JPY", [row, itayose]), TS
    )
    assert trade == Trade(
        "BTC_JPY", 1_436_265_873_547_000_000, TS, "39361", "sell", "35100", "0.01"
    )
    assert auction == Control("ignored", TS, "itayose execution 39362 has no taker side", "BTC_JPY")


def test_ticker_is_the_best_bid_and_ask() -> None:
    """realtime-ticker: the page's example; a 7-digit fraction is kept to the 100 ns."""
    ticker = {
        "product_code": "BTC_JPY",
        "state": "RUNNING",
        "timestamp": "2019-04-11T05:14:12.3739915Z",
        "tick_id": 25965446,
        "best_bid": 580006,
        "best_ask": 580771,
        "best_bid_size": 2.00000013,
        "best_ask_size": 0.4,
        "total_bid_depth": 1581.64414981,
        "total_ask_depth": 1415.32079982,
        "market_bid_size": 0,
        "market_ask_size": 0,
        "ltp": 580790,
        "volume": 6703.96837634,
        "volume_by_product": 6647.4934656,
    }
    (quote,) = BitflyerAdapter().decode(push("lightning_ticker_BTC_JPY", ticker), TS)
    assert quote == BestBidAsk(
        "BTC_JPY", 1_554_959_652_373_991_500, TS, None, "580006", "2.00000013", "580771", "0.4"
    )


def test_replies_and_bad_frames() -> None:
    """realtime-api: a request with an ``id`` is answered with ``result`` or ``error``."""
    a = BitflyerAdapter()
    assert a.decode('{"jsonrpc":"2.0","id":1,"result":true}', TS) == [
        Control("ack", TS, "id=1: true")
    ]
    (err,) = a.decode(
        '{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Invalid params"}}', TS
    )
    assert err == Control("error", TS, "id=2 -32602: Invalid params")
    (unknown,) = a.decode(push("lightning_spread_BTC_JPY", {}), TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    (bad,) = a.decode(push("lightning_board_BTC_JPY", {"bids": []}), TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown


def test_plan_subscribes_snapshot_and_diffs_for_a_book() -> None:
    subs = [Subscription("BTC_JPY", c) for c in ("book", "trades", "bbo")]
    (plan,) = BitflyerAdapter().plan(subs)
    assert plan.url == "wss://ws.lightstream.bitflyer.com/json-rpc"
    assert [json.loads(f) for f in plan.subscribe] == [
        {"jsonrpc": "2.0", "method": "subscribe", "params": {"channel": c}, "id": i}
        for i, c in enumerate(
            (
                "lightning_board_snapshot_BTC_JPY",
                "lightning_board_BTC_JPY",
                "lightning_executions_BTC_JPY",
                "lightning_ticker_BTC_JPY",
            ),
            1,
        )
    ]


def test_markets_and_the_regional_lists() -> None:
    a = BitflyerAdapter()
    assert a.market("BTC_JPY") == "BTC-JPY"
    assert a.market("FX_BTC_JPY") == "BTC-JPY-PERP"
    assert a.market("BTCJPY24DEC2021") == "BTC-JPY-20211224"
    japan, usa, eu = (r.url for r in a.instrument_requests())
    a.decode_rest(japan, '[{"product_code":"BTC_JPY","market_type":"Spot"}]', TS)
    assert a.listed("BTC_JPY") is True and a.listed("BTC_USD") is None  # usa not loaded
    a.decode_rest(usa, '[{"product_code":"BTC_USD","market_type":"Spot"}]', TS)
    a.decode_rest(eu, '[{"product_code":"BTC_EUR","market_type":"Spot"}]', TS)
    assert a.listed("BTC_USD") is True and a.listed("DOGE_JPY") is False
    (rows,) = a.decode_rest(japan, "[]", TS)
    assert rows.kind == "ignored"
