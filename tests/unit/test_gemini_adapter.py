"""Gemini adapter on literal frames, in the shapes of the market data v2 examples.

Docs: https://docs.gemini.com/websocket-api/#market-data-version-2 (subscribe, the first
``l2_updates`` with the whole book and recent trades, later ones, ``trade``,
``heartbeat``); https://docs.gemini.com/rest-api/#symbols and ``#symbol-details``.
"""

from __future__ import annotations

import json

from support import run_frames, table_rows

from adapters.gemini.adapter import URL, GeminiAdapter
from collector.adapter import Subscription
from collector.book.sequence import NoSequenceRule
from collector.model import BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_560_976_400_500_000_000

#: The first l2_updates of BTCUSD: the whole book, and trades from before the subscription.
FIRST = json.dumps(
    {
        "type": "l2_updates",
        "symbol": "BTCUSD",
        "changes": [["buy", "9122.04", "0.00121425"], ["sell", "9122.07", "0.98942292"]],
        "trades": [
            {
                "type": "trade",
                "symbol": "BTCUSD",
                "event_id": 169841458,
                "timestamp": 1560976400428,
                "price": "9122.04",
                "quantity": "0.0073173",
                "side": "sell",
            }
        ],
        "auction_events": [],
    }
)
LATER = '{"type":"l2_updates","symbol":"BTCUSD","changes":[["sell","9122.07","0"]]}'


def test_the_first_update_is_the_book_and_later_ones_change_it() -> None:
    """v2 docs: the first ``l2_updates`` is the whole book; sizes are absolute, 0 deletes."""
    a = GeminiAdapter()
    (snap,) = a.decode(FIRST, TS, conn=1)
    assert snap == BookSnapshot(
        "BTCUSD", None, TS, 1, [("9122.04", "0.00121425")], [("9122.07", "0.98942292")], True
    )
    (delta,) = a.decode(LATER, TS, conn=1)
    assert delta == BookDelta("BTCUSD", None, TS, 2, 2, None, [], [("9122.07", "0")])
    assert isinstance(GeminiAdapter.sequence_rule, NoSequenceRule)


def test_a_new_connection_starts_with_a_new_book() -> None:
    """The resync is a reconnect: the first update on the new connection is the book."""
    a = GeminiAdapter()
    a.decode(FIRST, TS, conn=1)
    a.decode(LATER, TS, conn=1)
    a.connected(2, URL)
    (again,) = a.decode(FIRST, TS, conn=2)
    assert isinstance(again, BookSnapshot)
    (still,) = a.decode(LATER, TS, conn=1)  # the old connection, until it closes
    assert still == BookDelta("BTCUSD", None, TS, 3, 3, None, [], [("9122.07", "0")])


def test_trades_sent_with_the_book_are_not_stored() -> None:
    """The first update's ``trades`` are history: only ``trade`` events reach the tape."""
    pipeline = run_frames(GeminiAdapter(), [FIRST, LATER], ts=TS, url=URL)
    assert table_rows(pipeline, "trades", "trade_id") == []
    assert pipeline.engine.symbols["BTCUSD"].stats.deltas_applied == 1


def test_trade_events_are_the_takers_with_tid_or_event_id() -> None:
    """v2 docs' ``trade`` example (``event_id``); the 2026 shape adds ``tid``."""
    old = (
        '{"type":"trade","symbol":"BTCUSD","event_id":3575573053,"timestamp":1560976400428,'
        '"price":"9004.21000000","quantity":"0.09110000","side":"buy"}'
    )
    (trade,) = GeminiAdapter().decode(old, TS)
    assert trade == Trade(
        "BTCUSD", 1_560_976_400_428_000_000, TS, "3575573053", "buy", "9004.21000000", "0.09110000"
    )
    new = old[:-1] + ',"tid":2840141017904555}'
    (trade,) = GeminiAdapter().decode(new, TS)
    assert trade.trade_id == "2840141017904555"


def test_heartbeat_errors_and_bad_frames() -> None:
    a = GeminiAdapter()
    beat = '{"type":"heartbeat","timestamp":1560976400428}'
    assert a.decode(beat, TS) == [Control("heartbeat", TS, "heartbeat")]
    err = '{"result":"error","reason":"InvalidJson","message":"Failed to parse"}'
    assert a.decode(err, TS) == [Control("error", TS, "InvalidJson: Failed to parse")]
    (unknown,) = a.decode('{"type":"candles_1m_updates","symbol":"BTCUSD"}', TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    bad = '{"type":"l2_updates","symbol":"BTCUSD","changes":[["hold","1","1"]]}'
    (failed,) = a.decode(bad, TS)
    assert isinstance(failed, DecodeFailed) and not failed.unknown


def test_plan_is_one_l2_subscription_per_connection() -> None:
    """v2 docs' subscribe example: ``l2`` with the symbols; it carries trades too."""
    subs = [Subscription(s, c) for s in ("BTCUSD", "ETHUSD") for c in ("book", "trades")]
    (plan,) = GeminiAdapter().plan(subs)
    assert plan.url == "wss://api.gemini.com/v2/marketdata"
    assert [json.loads(f) for f in plan.subscribe] == [
        {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD", "ETHUSD"]}]}
    ]


def test_markets_from_details_and_from_the_symbol() -> None:
    """REST ``#symbol-details`` names base and quote; without it the symbol is parsed."""
    a = GeminiAdapter()
    assert a.market("BTCUSD") == "BTC-USD"
    assert a.market("ETHGUSDPERP") == "ETH-GUSD-PERP"
    assert a.market("ZECLTC") == "ZEC-LTC"
    details = (
        '{"symbol":"BTCUSDCPERP","base_currency":"BTC","quote_currency":"USDC",'
        '"status":"open","product_type":"swap","contract_type":"linear"}'
    )
    url = "https://api.gemini.com/v1/symbols/details/btcusdcperp"
    assert a.decode_rest(url, details, TS)[0].kind == "ignored"
    assert a.market("BTCUSDCPERP") == "BTC-USDC-PERP"
    (listed,) = a.decode_rest(a.instrument_requests()[0].url, '["btcusd","ethusd"]', TS)
    assert listed.kind == "ignored"
    assert a.listed("BTCUSD") is True and a.listed("DOGEUSD") is False
