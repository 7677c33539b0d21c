"""Deribit perpetual/future tickers and liquidation-flagged trades on documented frames.

Option tickers are proven on the recording (tests/replay/test_derivative_recordings.py);
the recording has no future or perpetual ticker and no liquidation, so these use the
documentation's examples and check every written value against their text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import pylist, run_frames

from adapters.deribit.adapter import DeribitAdapter
from collector.adapter import Subscription

TS = 1_700_000_000_000_000_000
MS = 1_000_000

# https://docs.deribit.com/subscriptions/market-data/tickerinstrument_nameinterval (example)
PERPETUAL_TICKER = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.raw",'
    '"data":{"timestamp":1623060194301,"stats":{"volume_usd":284061480,"volume":7871.02139035,'
    '"price_change":0.7229,"low":35213.5,"high":36824.5},"state":"open",'
    '"settlement_price":36169.49,"open_interest":502097590,"min_price":35898.37,'
    '"max_price":36991.72,"mark_price":36446.51,"last_price":36457.5,'
    '"interest_value":1.7362511643080387,"instrument_name":"BTC-PERPETUAL",'
    '"index_price":36441.64,"funding_8h":0.0000211,"estimated_delivery_price":36441.64,'
    '"current_funding":0,"best_bid_price":36442.5,"best_bid_amount":5000,'
    '"best_ask_price":36443,"best_ask_amount":100}}}'
)
# The same page: a dated future has no funding fields and may not have traded yet.
FUTURE_TICKER = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-24SEP21.100ms",'
    '"data":{"timestamp":1623060194301,"state":"open","open_interest":1000,'
    '"mark_price":36800.1,"last_price":null,"instrument_name":"BTC-24SEP21",'
    '"index_price":36441.64,"best_bid_price":36790,"best_bid_amount":10,'
    '"best_ask_price":36810.5,"best_ask_amount":20}}}'
)
# https://docs.deribit.com/subscriptions/trades/tradesinstrument_nameinterval: "liquidation"
# is "M" (maker side liquidated), "T" (taker side) or "MT" (both), absent otherwise.
TRADES = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms",'
    '"data":[{"trade_seq":30289432,"trade_id":"48079254","timestamp":1590484156350,'
    '"tick_direction":0,"price":8950.0,"mark_price":8948.9,"liquidation":"M",'
    '"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"sell","amount":10.0},'
    '{"trade_seq":30289433,"trade_id":"48079255","timestamp":1590484156351,'
    '"tick_direction":0,"price":8949.5,"mark_price":8948.9,"liquidation":"MT",'
    '"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"buy","amount":20.0},'
    '{"trade_seq":30289434,"trade_id":"48079256","timestamp":1590484156352,'
    '"tick_direction":0,"price":8949.5,"mark_price":8948.9,'
    '"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"buy","amount":5.0}]}}'
)


def _rows(frame: str, table: str) -> list[dict]:
    data = run_frames(DeribitAdapter(), [frame], ts=TS).sink.table(table)
    assert data is not None, f"no {table} rows"
    return pylist(data)


@pytest.mark.parametrize("frame", [PERPETUAL_TICKER, FUTURE_TICKER])
def test_future_and_perpetual_tickers_write_the_frame_exactly(frame: str) -> None:
    d = json.loads(frame, parse_float=Decimal)["params"]["data"]
    (row,) = _rows(frame, "derivative_ticker")

    def exact(key: str) -> Decimal | None:
        return None if d.get(key) is None else Decimal(str(d[key]))

    assert row == {
        "symbol": d["instrument_name"],
        "market": row["market"],
        "ts_exchange": d["timestamp"] * MS,
        "ts_recv": TS,
        "mark_price": exact("mark_price"),
        "index_price": exact("index_price"),
        "last_price": exact("last_price"),  # null before the first trade: stays null
        "open_interest": exact("open_interest"),
        "funding_rate": exact("funding_8h"),
        "predicted_funding_rate": None,
        "funding_time": None,  # Deribit funds continuously: no next funding instant
    }


def test_liquidation_flags_give_the_liquidation_orders_and_keep_the_trades() -> None:
    pipeline = run_frames(DeribitAdapter(), [TRADES], ts=TS)
    assert len(pipeline.sink.table("trades")) == 3  # the tape is unchanged
    rows = pylist(pipeline.sink.table("liquidations"))
    got = [(r["liquidation_id"], r["side"], r["price"], r["size"], r["ts_exchange"]) for r in rows]
    assert got == [
        # "M", taker sold: the liquidated maker's order bought
        ("48079254", "buy", Decimal("8950.0"), Decimal("10.0"), 1590484156350 * MS),
        # "MT", taker bought: both orders were liquidations
        ("48079255", "sell", Decimal("8949.5"), Decimal("20.0"), 1590484156351 * MS),
        ("48079255", "buy", Decimal("8949.5"), Decimal("20.0"), 1590484156351 * MS),
    ]


def test_plan_subscribes_one_ticker_and_one_trades_channel_per_instrument() -> None:
    subs = [
        Subscription("BTC-PERPETUAL", c)
        for c in ("trades", "derivative_ticker", "liquidations", "options")
    ]
    (plan,) = DeribitAdapter().plan(subs)
    channels = [c for f in plan.subscribe[1:] for c in json.loads(f)["params"]["channels"]]
    assert channels == ["trades.BTC-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.100ms"]
    assert len(plan.subscriptions) == 4
