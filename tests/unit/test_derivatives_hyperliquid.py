"""Hyperliquid ``activeAssetCtx`` on documented frames.

The recording carries no ``activeAssetCtx``. The frames follow ``WsActiveAssetCtx`` with
``PerpsAssetCtx`` of
https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions;
every written value is compared with the frame's text.
"""

from __future__ import annotations

import json
from decimal import Decimal

from support import pylist, run_frames

from adapters.hyperliquid.adapter import HyperliquidAdapter
from collector.adapter import Subscription

TS = 1_737_918_843_893_000_000
CTX = {
    "dayNtlVlm": "1169046.29406",
    "prevDayPx": "15.322",
    "markPx": "14.3161",
    "midPx": "14.314",
    "funding": "0.0000125",
    "openInterest": "688.11",
    "oraclePx": "14.32",
}


def push(ctx: dict) -> str:
    return json.dumps({"channel": "activeAssetCtx", "data": {"coin": "SOL", "ctx": ctx}})


def test_asset_contexts_write_what_each_states_without_exchange_time() -> None:
    """Mark, oracle (stored as the index) price, open interest and the hourly funding rate
    as sent; the push has no time, so ``ts_exchange`` is null, never the receive time."""
    spot_like = {k: v for k, v in CTX.items() if k not in ("funding", "openInterest", "oraclePx")}
    pipeline = run_frames(HyperliquidAdapter(), [push(CTX), push(spot_like)], ts=TS)
    rows = pylist(pipeline.sink.table("derivative_ticker"))
    keys = ("mark_price", "index_price", "open_interest", "funding_rate")
    assert {(r["symbol"], r["market"], r["ts_exchange"]) for r in rows} == {
        ("SOL", "SOL-USDC-PERP", None)
    }
    assert [tuple(r[k] for k in keys) for r in rows] == [
        (Decimal("14.3161"), Decimal("14.32"), Decimal("688.11"), Decimal("0.0000125")),
        (Decimal("14.3161"), None, None, None),  # what a push does not state stays null
    ]
    assert all(r["last_price"] is None and r["funding_time"] is None for r in rows)


def test_derivative_ticker_is_the_active_asset_ctx_subscription() -> None:
    (plan,) = HyperliquidAdapter().plan([Subscription("SOL", "derivative_ticker")])
    assert [json.loads(f) for f in plan.subscribe] == [
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "SOL"}}
    ]
    assert HyperliquidAdapter.derivative_channels == ("derivative_ticker",)
