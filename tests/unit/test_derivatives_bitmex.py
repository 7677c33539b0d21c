"""BitMEX ``instrument`` and ``liquidation`` topics on documented frames.

No recording carries these topics. The frames follow https://www.bitmex.com/app/wsAPI
(table diffing: a ``partial`` has every field, an ``update`` only the changed ones) and
the field definitions of https://www.bitmex.com/api/explorer/ (Instrument, Liquidation);
every written value is compared with the frame's text.
"""

from __future__ import annotations

from decimal import Decimal

from support import pylist, run_frames

from adapters.bitmex.adapter import BitmexAdapter
from collector.adapter import Subscription

TS = 1_700_000_000_000_000_000
MS = 1_000_000
T0 = 1528889315000 * MS  # 2018-06-13T11:28:35.000Z
NEXT_FUNDING = 1528891200000 * MS  # 2018-06-13T12:00:00.000Z

PARTIAL = (
    '{"table":"instrument","action":"partial","keys":["symbol"],"types":{},"foreignKeys":{},'
    '"attributes":{},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","state":"Open",'
    '"typ":"FFWCSX","markPrice":6834.13,"indicativeSettlePrice":6832.58,"lastPrice":6833.5,'
    '"openInterest":1234567,"fundingRate":0.0001,"indicativeFundingRate":0.000073,'
    '"fundingTimestamp":"2018-06-13T12:00:00.000Z","timestamp":"2018-06-13T11:28:35.000Z"}]}'
)
UPDATE = (
    '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD",'
    '"markPrice":6834.2,"timestamp":"2018-06-13T11:28:35.000Z"}]}'
)
STATS_ONLY = (
    '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD",'
    '"volume":10,"timestamp":"2018-06-13T11:28:35.000Z"}]}'
)
LIQUIDATION = (
    '{"table":"liquidation","action":"insert","data":[{"orderID":'
    '"e0a568ee-7830-4428-92c3-73e82b9fde41","symbol":"XBTUSD","side":"Sell","price":6833.5,'
    '"leavesQty":2020}]}'
)
FILLED = (
    '{"table":"liquidation","action":"delete","data":[{"orderID":'
    '"e0a568ee-7830-4428-92c3-73e82b9fde41","symbol":"XBTUSD"}]}'
)


def test_instrument_partial_and_updates_write_only_what_each_states() -> None:
    pipeline = run_frames(BitmexAdapter(), [PARTIAL, UPDATE, STATS_ONLY], ts=TS)
    rows = pylist(pipeline.sink.table("derivative_ticker"))
    keys = ("mark_price", "index_price", "last_price", "open_interest", "funding_rate")
    assert [(r["ts_exchange"], *(r[k] for k in keys)) for r in rows] == [
        (
            T0,
            Decimal("6834.13"),
            Decimal("6832.58"),
            Decimal("6833.5"),
            Decimal(1234567),
            Decimal("0.0001"),
        ),
        # the update names the mark only: every other field stays null (no merging)
        (T0, Decimal("6834.2"), None, None, None, None),
    ]  # the statistics-only update gives no row
    assert rows[0]["predicted_funding_rate"] == Decimal("0.000073")
    assert rows[0]["funding_time"] == NEXT_FUNDING and rows[1]["funding_time"] is None
    assert {r["market"] for r in rows} == {"BTC-USD-PERP"}


def test_liquidation_inserts_are_liquidations_and_fills_are_not() -> None:
    pipeline = run_frames(BitmexAdapter(), [LIQUIDATION, FILLED], ts=TS)
    (row,) = pylist(pipeline.sink.table("liquidations"))
    assert row == {
        "symbol": "XBTUSD",
        "market": "BTC-USD-PERP",
        "ts_exchange": None,  # the row carries no time: null, never ts_recv
        "ts_recv": TS,
        "liquidation_id": "e0a568ee-7830-4428-92c3-73e82b9fde41",
        "side": "sell",
        "price": Decimal("6833.5"),
        "size": Decimal("2020"),
    }


def test_plan_topics() -> None:
    subs = [Subscription("XBTUSD", c) for c in ("derivative_ticker", "liquidations")]
    (plan,) = BitmexAdapter().plan(subs)
    assert plan.subscribe == [
        '{"op": "subscribe", "args": ["instrument:XBTUSD", "liquidation:XBTUSD"]}'
    ]
