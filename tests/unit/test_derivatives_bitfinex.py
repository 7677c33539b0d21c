"""Bitfinex ``status`` channel (``deriv:`` and ``liq:global``) on the documentation's frames.

https://docs.bitfinex.com/reference/ws-public-status: the subscribe answers and the
derivative status are the page's examples (its first fifteen positions; the rest
follow the documented layout), the liquidation row follows the documented layout.
No recording carries this channel. Every written value is compared with the text.
"""

from __future__ import annotations

from decimal import Decimal

from support import pylist, run_frames

from adapters.bitfinex.adapter import BitfinexAdapter
from collector.adapter import Subscription

TS = 1_700_000_000_000_000_000
MS = 1_000_000
URL = "wss://api-pub.bitfinex.com/ws/2"

DERIV_SUBSCRIBED = (
    '{"event":"subscribed","channel":"status","chanId":335856,"key":"deriv:tBTCF0:USTF0"}'
)
LIQ_SUBSCRIBED = '{"event":"subscribed","channel":"status","chanId":91684,"key":"liq:global"}'
DERIV = (
    "[335856,[1596124822000,null,0.896,0.771995,null,1396531.67460709,null,1596153600000,"
    "0.0001056,6,null,-0.01381344,null,null,0.7664,null,null,10573.43,null,null,null,0.3,0.5]]"
)
LIQ = (
    '[91684,[["pos",145400868,1609144352338,null,"tETHF0:USTF0",-1.67288094,730.96,null,0,1,'
    'null,736.13],["pos",145400868,1609144352339,null,"tETHF0:USTF0",-1.67288094,730.96,null,'
    "1,1,null,736.13]]]"
)


def test_derivative_status_writes_every_position_it_maps() -> None:
    pipeline = run_frames(BitfinexAdapter(), [DERIV_SUBSCRIBED, DERIV], ts=TS, url=URL)
    (row,) = pylist(pipeline.sink.table("derivative_ticker"))
    assert row == {
        "symbol": "tBTCF0:USTF0",
        "market": row["market"],
        "ts_exchange": 1596124822000 * MS,
        "ts_recv": TS + 1,
        "mark_price": Decimal("0.7664"),
        "index_price": Decimal("0.771995"),  # SPOT_PRICE
        "last_price": Decimal("0.896"),  # DERIV_PRICE
        "open_interest": Decimal("10573.43"),
        "funding_rate": Decimal("-0.01381344"),  # CURRENT_FUNDING, negative
        "predicted_funding_rate": Decimal("0.0001056"),  # NEXT_FUNDING_ACCRUED
        "funding_time": 1596153600000 * MS,
    }


def test_liquidation_feed_stores_each_liquidation_once() -> None:
    pipeline = run_frames(BitfinexAdapter(), [LIQ_SUBSCRIBED, LIQ], ts=TS, url=URL)
    (row,) = pylist(pipeline.sink.table("liquidations"))  # the IS_MATCH=1 repeat is not stored
    assert row == {
        "symbol": "tETHF0:USTF0",
        "market": row["market"],
        "ts_exchange": 1609144352338 * MS,
        "ts_recv": TS + 1,
        "liquidation_id": "145400868",
        "side": "buy",  # a short position (negative amount) is closed by a buy
        "price": Decimal("736.13"),  # LIQUIDATION_PRICE
        "size": Decimal("1.67288094"),
    }


def test_plan_subscribes_the_global_liquidation_feed_once() -> None:
    subs = [
        Subscription(s, c)
        for s in ("tBTCF0:USTF0", "tETHF0:USTF0")
        for c in ("derivative_ticker", "liquidations")
    ]
    (plan,) = BitfinexAdapter().plan(subs)
    assert plan.subscribe[1:] == [
        '{"event":"subscribe","channel":"status","key":"deriv:tBTCF0:USTF0"}',
        '{"event":"subscribe","channel":"status","key":"liq:global"}',
        '{"event":"subscribe","channel":"status","key":"deriv:tETHF0:USTF0"}',
    ]
