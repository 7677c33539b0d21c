"""Bybit v5 option tickers and liquidations on the documentation's own examples.

Linear tickers are proven on the 2026 recording (tests/replay/test_derivative_recordings.py);
no recording carries option tickers or liquidations, so these replay the documented
examples and check every written value against the example's text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import pylist, run_frames

from adapters.bybit.adapter import BybitAdapter
from collector.adapter import Subscription

TS = 1_700_000_000_000_000_000
MS = 1_000_000
WS = "wss://stream.bybit.com/v5/public/"

# https://bybit-exchange.github.io/docs/v5/websocket/public/ticker (option response)
OPTION_TICKER = (
    '{"id":"tickers.BTC-6JAN23-17500-C-2480334983-1672917511074",'
    '"topic":"tickers.BTC-6JAN23-17500-C","ts":1672917511074,"data":{'
    '"symbol":"BTC-6JAN23-17500-C","bidPrice":"0","bidSize":"0","bidIv":"0","askPrice":"10",'
    '"askSize":"5.1","askIv":"0.514","lastPrice":"10","highPrice24h":"25","lowPrice24h":"5",'
    '"markPrice":"7.86976724","indexPrice":"16823.73","markPriceIv":"0.4896",'
    '"underlyingPrice":"16815.1","openInterest":"49.85","turnover24h":"446802.8473",'
    '"volume24h":"26.55","totalVolume":"86","totalTurnover":"1438431","delta":"0.19374011",'
    '"gamma":"0.00004251","vega":"4.6373444","theta":"-33.70089006",'
    '"predictedDeliveryPrice":"0","change24h":"-0.33333334"},"type":"snapshot"}'
)
# https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation
ALL_LIQUIDATION = (
    '{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,'
    '"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}'
)
# https://bybit-exchange.github.io/docs/v5/websocket/public/liquidation (the 2023 topic)
LIQUIDATION = (
    '{"data":{"price":"0.03803","side":"Buy","size":"1637","symbol":"GALAUSDT",'
    '"updatedTime":1673251091822},"topic":"liquidation.GALAUSDT","ts":1673251091822,'
    '"type":"snapshot"}'
)


def written(category: str, frame: str, table: str) -> list[dict]:
    pipeline = run_frames(BybitAdapter(), [frame], ts=TS, url=WS + category)
    data = pipeline.sink.table(table)
    assert data is not None, f"no {table} rows"
    return pylist(data)


def test_option_ticker_writes_every_value_of_the_example() -> None:
    frame = json.loads(OPTION_TICKER)
    d = frame["data"]
    (row,) = written("option", OPTION_TICKER, "option_summary")
    assert row == {
        "symbol": "option:BTC-6JAN23-17500-C",
        "market": row["market"],
        "ts_exchange": frame["ts"] * MS,
        "ts_recv": TS,
        "option_type": "call",
        "strike": Decimal("17500"),
        "expiration": 1672992000 * 10**9,  # 2023-01-06 08:00 UTC: Bybit options' expiry
        "best_bid_price": Decimal(d["bidPrice"]),
        "best_bid_size": Decimal(d["bidSize"]),
        "best_bid_iv": Decimal(d["bidIv"]),
        "best_ask_price": Decimal(d["askPrice"]),
        "best_ask_size": Decimal(d["askSize"]),
        "best_ask_iv": Decimal(d["askIv"]),
        "mark_price": Decimal(d["markPrice"]),
        "mark_iv": Decimal(d["markPriceIv"]),
        "underlying_price": Decimal(d["underlyingPrice"]),
        "underlying_index": None,  # Bybit does not name it
        "delta": Decimal(d["delta"]),
        "gamma": Decimal(d["gamma"]),
        "vega": Decimal(d["vega"]),
        "theta": Decimal(d["theta"]),  # negative: stored signed, exactly
        "rho": None,  # Bybit sends no rho
        "open_interest": Decimal(d["openInterest"]),
    }


@pytest.mark.parametrize(
    ("example", "symbol", "ts_ms", "side", "price", "size"),
    [
        # "Sell" = a short was liquidated, so the liquidation order bought
        (ALL_LIQUIDATION, "linear:ROSEUSDT", 1739502302929, "buy", "0.04499", "20000"),
        # "Buy" = a long was liquidated (protocols.md quirk 19): the order sold
        (LIQUIDATION, "linear:GALAUSDT", 1673251091822, "sell", "0.03803", "1637"),
    ],
)
def test_liquidation_topics_write_the_liquidation_order(
    example: str, symbol: str, ts_ms: int, side: str, price: str, size: str
) -> None:
    (row,) = written("linear", example, "liquidations")
    assert row == {
        "symbol": symbol,
        "market": row["market"],
        "ts_exchange": ts_ms * MS,
        "ts_recv": TS,
        "liquidation_id": None,
        "side": side,
        "price": Decimal(price),
        "size": Decimal(size),
    }


def test_plan_subscribes_derivative_topics_per_category() -> None:
    adapter = BybitAdapter()
    subs = [
        Subscription("linear:BTCUSDT", "derivative_ticker"),
        Subscription("linear:BTCUSDT", "liquidations"),
        Subscription("option:BTC-26DEC25-100000-C", "options"),
    ]
    topics = {
        p.url: [t for f in p.subscribe for t in json.loads(f)["args"]] for p in adapter.plan(subs)
    }
    assert topics == {
        WS + "linear": ["tickers.BTCUSDT", "allLiquidation.BTCUSDT"],
        WS + "option": ["tickers.BTC-26DEC25-100000-C"],
    }
    with pytest.raises(ValueError, match="spot has no 'derivative_ticker'"):
        adapter.plan([Subscription("spot:BTCUSDT", "derivative_ticker")])
