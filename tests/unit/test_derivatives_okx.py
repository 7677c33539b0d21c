"""OKX derivative channels on the v5 documentation's own push examples.

The one OKX recording carries ``tickers`` only (tests/replay/test_derivative_recordings.py);
every other channel is proven here on the example of the docs section named beside it,
each written value compared with the example's text.
"""

from __future__ import annotations

import json
from decimal import Decimal

from support import pylist, run_frames

from adapters.okx.adapter import OkxAdapter
from collector.adapter import Subscription

TS = 1_700_000_000_000_000_000
MS = 1_000_000
DOCS = "https://www.okx.com/docs-v5/en/"

# DOCS + "#public-data-websocket-mark-price-channel"
MARK_PRICE = (
    '{"arg":{"channel":"mark-price","instId":"BTC-USDT"},"data":[{"instType":"MARGIN",'
    '"instId":"BTC-USDT","markPx":"42310.6","ts":"1630049139746"}]}'
)
# DOCS + "#public-data-websocket-index-tickers-channel"
INDEX_TICKERS = (
    '{"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
    '"idxPx":"0.1","high24h":"0.5","low24h":"0.1","open24h":"0.1","sodUtc0":"0.1",'
    '"sodUtc8":"0.1","ts":"1597026383085"}]}'
)
# DOCS + "#public-data-websocket-funding-rate-channel"
FUNDING_RATE = (
    '{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"formulaType":"noRate",'
    '"fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"",'
    '"instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375",'
    '"method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"",'
    '"nextFundingTime":"1700755200000","premium":"0.0001233824646391",'
    '"settFundingRate":"0.0001699799259033","settState":"settled","ts":"1700724675402"}]}'
)
# DOCS + "#public-data-websocket-open-interest-channel"
OPEN_INTEREST = (
    '{"arg":{"channel":"open-interest","instId":"LTC-USD-SWAP"},"data":[{"instType":"SWAP",'
    '"instId":"LTC-USD-SWAP","oi":"5000","oiCcy":"555.55","oiUsd":"50000",'
    '"ts":"1597026383085"}]}'
)
# DOCS + "#public-data-websocket-liquidation-orders-channel"
LIQUIDATION_ORDERS = (
    '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{'
    '"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13",'
    '"time":"1692266434010","ts":"1692266434010"}],"instFamily":"IOST-USDT",'
    '"instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}'
)
# DOCS + "#public-data-websocket-option-summary-channel"
OPT_SUMMARY = (
    '{"arg":{"channel":"opt-summary","instFamily":"BTC-USD"},"data":[{"instType":"OPTION",'
    '"instId":"BTC-USD-241013-70000-P","uly":"BTC-USD","delta":"-1.1180902625",'
    '"gamma":"2.2361957091","vega":"0.0000000001","theta":"0.0000032334","lever":"8465.11",'
    '"markVol":"3.494736","bidVol":"","askVol":"1.1","realVol":"","deltaBS":"-0.9999672034",'
    '"gammaBS":"0.0000000002","thetaBS":"28.2649858387","vegaBS":"0.0000114332",'
    '"ts":"1728703155650","fwdPx":"62604.6993093463","volLv":"0.2044711229"}]}'
)
TICKER_KEYS = (
    "mark_price",
    "index_price",
    "last_price",
    "open_interest",
    "funding_rate",
    "predicted_funding_rate",
    "funding_time",
)


def _rows(frame: str, table: str) -> list[dict]:
    data = run_frames(OkxAdapter(), [frame], ts=TS).sink.table(table)
    assert data is not None, f"no {table} rows"
    return pylist(data)


def _ticker(frame: str, **values: object) -> None:
    d = json.loads(frame)["data"][0]
    (row,) = _rows(frame, "derivative_ticker")
    assert row["symbol"] == d["instId"] and row["ts_exchange"] == int(d["ts"]) * MS
    assert {k: row[k] for k in TICKER_KEYS} == {k: values.get(k) for k in TICKER_KEYS}


def test_mark_price() -> None:
    _ticker(MARK_PRICE, mark_price=Decimal("42310.6"))


def test_index_tickers_rows_name_the_index() -> None:
    _ticker(INDEX_TICKERS, index_price=Decimal("0.1"))


def test_funding_rate_with_an_empty_forecast_is_null() -> None:
    _ticker(
        FUNDING_RATE,
        funding_rate=Decimal("0.0001875391284828"),
        funding_time=1700726400000 * MS,  # settlement of the current period's rate
    )


def test_open_interest_in_contracts() -> None:
    _ticker(OPEN_INTEREST, open_interest=Decimal("5000"))


def test_liquidation_orders() -> None:
    (row,) = _rows(LIQUIDATION_ORDERS, "liquidations")
    assert row == {
        "symbol": "IOST-USDT-SWAP",
        "market": row["market"],
        "ts_exchange": 1692266434010 * MS,
        "ts_recv": TS,
        "liquidation_id": None,
        "side": "buy",  # OKX's side is the liquidation order's (posSide short)
        "price": Decimal("0.007831"),
        "size": Decimal("13"),
    }


def test_option_summary_keeps_black_scholes_greeks_and_nulls_the_rest() -> None:
    (row,) = _rows(OPT_SUMMARY, "option_summary")
    assert row == {
        "symbol": "BTC-USD-241013-70000-P",
        "market": row["market"],
        "ts_exchange": 1728703155650 * MS,
        "ts_recv": TS,
        "option_type": "put",
        "strike": Decimal("70000"),
        "expiration": 1728806400 * 10**9,  # 2024-10-13 08:00 UTC
        "best_bid_price": None,
        "best_bid_size": None,
        "best_bid_iv": None,  # "" on the wire: no bid
        "best_ask_price": None,
        "best_ask_size": None,
        "best_ask_iv": Decimal("1.1"),
        "mark_price": None,
        "mark_iv": Decimal("3.494736"),
        "underlying_price": Decimal("62604.6993093463"),
        "underlying_index": "BTC-USD",
        "delta": Decimal("-0.9999672034"),
        "gamma": Decimal("0.0000000002"),
        "vega": Decimal("0.0000114332"),
        "theta": Decimal("28.2649858387"),
        "rho": None,
        "open_interest": None,
    }


def test_plan_sends_each_arg_once() -> None:
    subs = [
        Subscription("BTC-USDT-SWAP", "derivative_ticker"),
        Subscription("BTC-USDT-SWAP", "liquidations"),
        Subscription("ETH-USDT-SWAP", "liquidations"),
        Subscription("BTC-USD-261225-100000-C", "options"),
        Subscription("BTC-USD-261225-90000-P", "options"),
    ]
    (plan,) = OkxAdapter().plan(subs)
    args = [a for f in plan.subscribe for a in json.loads(f)["args"]]
    assert args == [
        {"channel": "tickers", "instId": "BTC-USDT-SWAP"},
        {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
        {"channel": "open-interest", "instId": "BTC-USDT-SWAP"},
        {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        {"channel": "index-tickers", "instId": "BTC-USDT"},
        {"channel": "liquidation-orders", "instType": "SWAP"},
        {"channel": "opt-summary", "instFamily": "BTC-USD"},
    ]
    assert plan.subscriptions == subs
