"""Binance USD-M and COIN-M derivative data on the documentation's own examples.

No recording carries these streams, so each test replays the example of the page it
names through the pipeline and checks every written value against the example's text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import MemorySink, pylist, run_frames

from adapters.binance.adapter import BinanceAdapter
from collector.adapter import Subscription
from collector.capture.records import Record
from collector.pipeline import Pipeline

TS = 1_700_000_000_000_000_000
USDM_STREAMS = (
    "https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams"
)
COINM_STREAMS = (
    "https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams"
)

# USDM_STREAMS + "/Mark-Price-Stream"
USDM_MARK = (
    '{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",'
    '"i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}'
)
# COINM_STREAMS + "/Mark-Price-Stream": a delivery contract has no funding ("" and 0)
COINM_MARK = (
    '{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSD_201225","p":"10934.62615417",'
    '"P":"10962.17178236","i":"10933.62615417","r":"","T":0}'
)
# USDM_STREAMS + "/Liquidation-Order-Streams"
USDM_LIQUIDATION = (
    '{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",'
    '"q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}'
)
# COINM_STREAMS + "/Liquidation-Order-Streams"
COINM_LIQUIDATION = (
    '{"e":"forceOrder","E":1591154240950,"o":{"s":"BTCUSD_200925","ps":"BTCUSD","S":"SELL",'
    '"o":"LIMIT","f":"IOC","q":"1","p":"9425.5","ap":"9496.5","X":"FILLED","l":"1","z":"1",'
    '"T":1591154240949}}'
)
# https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest
USDM_OPEN_INTEREST = '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
# https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Open-Interest
COINM_OPEN_INTEREST = (
    '{"symbol":"BTCUSD_PERP","pair":"BTCUSD","openInterest":"517026",'
    '"contractType":"PERPETUAL","time":1591261042378}'
)


def combined(stream: str, payload: str) -> str:
    return f'{{"stream":"{stream}","data":{payload}}}'


def written(slug: str, frames: list[str], table: str) -> list[dict]:
    data = run_frames(BinanceAdapter(slug), frames, ts=TS).sink.table(table)
    assert data is not None, f"no {table} rows"
    return pylist(data)


@pytest.mark.parametrize(
    ("slug", "stream", "example"),
    [
        ("binance-usdm", "btcusdt@markPrice@1s", USDM_MARK),
        ("binance-coinm", "btcusd_201225@markPrice@1s", COINM_MARK),
    ],
)
def test_mark_price_stream_writes_the_example_exactly(slug: str, stream: str, example: str) -> None:
    wire = json.loads(example)
    (row,) = written(slug, [combined(stream, example)], "derivative_ticker")
    assert row["symbol"] == wire["s"]
    assert row["ts_exchange"] == wire["E"] * 10**6 and row["ts_recv"] == TS
    assert row["mark_price"] == Decimal(wire["p"])
    assert row["index_price"] == Decimal(wire["i"])
    # "" and 0 mean "no funding" (delivery contract): null, never 0 or 1970
    assert row["funding_rate"] == (Decimal(wire["r"]) if wire["r"] else None)
    assert row["funding_time"] == (wire["T"] * 10**6 if wire["T"] else None)
    assert row["last_price"] is row["open_interest"] is row["predicted_funding_rate"] is None


@pytest.mark.parametrize(
    ("slug", "stream", "example"),
    [
        ("binance-usdm", "btcusdt@forceOrder", USDM_LIQUIDATION),
        ("binance-coinm", "btcusd_200925@forceOrder", COINM_LIQUIDATION),
    ],
)
def test_force_order_writes_a_liquidation(slug: str, stream: str, example: str) -> None:
    order = json.loads(example)["o"]
    (row,) = written(slug, [combined(stream, example)], "liquidations")
    assert row == {
        "symbol": order["s"],
        "market": row["market"],
        "ts_exchange": order["T"] * 10**6,
        "ts_recv": TS,
        "liquidation_id": None,  # Binance gives liquidations no id
        "side": "sell",  # the liquidation order sold: a long position was closed
        "price": Decimal(order["p"]),
        "size": Decimal(order["q"]),
    }


@pytest.mark.parametrize(
    ("slug", "url", "body"),
    [
        (
            "binance-usdm",
            "https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT",
            USDM_OPEN_INTEREST,
        ),
        (
            "binance-coinm",
            "https://dapi.binance.com/dapi/v1/openInterest?symbol=BTCUSD_PERP",
            COINM_OPEN_INTEREST,
        ),
    ],
)
def test_open_interest_poll_answer_is_a_ticker_row(slug: str, url: str, body: str) -> None:
    pipeline = Pipeline(BinanceAdapter(slug), MemorySink())
    pipeline.on_record(Record("http", TS, 0, body, url, 200))
    pipeline.finish()
    wire = json.loads(body)
    (row,) = pylist(pipeline.sink.table("derivative_ticker"))
    assert row["symbol"] == wire["symbol"] and row["ts_exchange"] == wire["time"] * 10**6
    assert row["open_interest"] == Decimal(wire["openInterest"])
    assert row["mark_price"] is row["funding_rate"] is row["funding_time"] is None


def test_plan_puts_derivative_streams_on_the_market_path_and_polls_open_interest() -> None:
    adapter = BinanceAdapter("binance-usdm")
    subs = [Subscription("BTCUSDT", c) for c in ("book", "derivative_ticker", "liquidations")]
    urls = sorted(p.url for p in adapter.plan(subs))
    assert urls == [
        "wss://fstream.binance.com/market/stream?streams=btcusdt@markPrice@1s/btcusdt@forceOrder",
        "wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms",
    ]
    (poll,) = adapter.poll_requests(subs)
    assert poll.request.url == "https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT"
    assert poll.request.weight == 1 and poll.interval_s == adapter.open_interest_interval_s


def test_spot_has_no_derivative_channels() -> None:
    spot = BinanceAdapter("binance-spot")
    assert spot.derivative_channels == ()
    with pytest.raises(ValueError, match="no 'derivative_ticker' channel"):
        spot.plan([Subscription("BTCUSDT", "derivative_ticker")])
    assert spot.poll_requests([Subscription("BTCUSDT", "derivative_ticker")]) == []


def _depth(first: int, last: int, prev: int, ms: int) -> str:
    data = (
        f'{{"e":"depthUpdate","E":{ms},"T":{ms},"s":"BTCUSDT","U":{first},"u":{last},'
        f'"pu":{prev},"b":[["100.0","1"]],"a":[["101.0","2"]]}}'
    )
    return combined("btcusdt@depth@100ms", data)


def _mark(price: str, rate: str, ms: int) -> str:
    data = (
        f'{{"e":"markPriceUpdate","E":{ms},"s":"BTCUSDT","p":"{price}","i":"1","r":"{rate}",'
        '"T":1562306400000}'
    )
    return combined("btcusdt@markPrice@1s", data)


def test_book_snapshots_with_carry_the_latest_mark_and_funding_at_each_instant() -> None:
    """``[[book_snapshots]] with``: each sample holds the latest values received at or
    before its instant (no look-ahead), and a table without ``with`` holds nulls."""
    ms = 10**6
    t0 = 1_700_000_000_000 * ms  # on the 100 ms grid
    snapshot = '{"lastUpdateId":100,"E":1,"T":1,"bids":[["99.0","1"]],"asks":[["102.0","1"]]}'
    url = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
    records = [
        Record("recv", t0 + 10 * ms, 1, _depth(95, 105, 90, 1)),
        Record("http", t0 + 20 * ms, 0, snapshot, url, 200),
        Record("recv", t0 + 50 * ms, 1, _mark("100.5", "0.0001", 2)),
        Record("recv", t0 + 150 * ms, 1, _depth(106, 110, 105, 3)),
        Record("recv", t0 + 180 * ms, 1, _mark("100.7", "", 4)),  # delivery-like: no rate
        Record("recv", t0 + 250 * ms, 1, _depth(111, 115, 110, 5)),
        Record("recv", t0 + 290 * ms, 1, _mark("100.9", "-0.0002", 6)),
        Record("recv", t0 + 350 * ms, 1, _mark("101.1", "-0.0002", 7)),  # after instant 300
        Record("recv", t0 + 410 * ms, 1, _depth(116, 120, 115, 8)),
    ]
    pipeline = Pipeline(
        BinanceAdapter("binance-usdm"),
        MemorySink(),
        snapshots=[(1, 100, ("mark_price", "funding_rate")), (1, 50)],
    )
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    rows = pylist(pipeline.sink.table("book_snapshots_1x100ms"))
    got = [(r["ts_recv"] - t0, r["mark_price"], r["funding_rate"]) for r in rows]
    assert got == [
        (100 * ms, Decimal("100.5"), Decimal("0.0001")),
        (200 * ms, Decimal("100.7"), Decimal("0.0001")),  # the rate carried forward
        (300 * ms, Decimal("100.9"), Decimal("-0.0002")),  # not the 350 ms mark: no look-ahead
        (400 * ms, Decimal("101.1"), Decimal("-0.0002")),
    ]
    plain = pylist(pipeline.sink.table("book_snapshots_1x50ms"))
    assert plain and all(r["mark_price"] is r["funding_rate"] is None for r in plain)


def _drift(frames: list[str], slug: str = "binance-usdm") -> list[str]:
    """Drift events of the venue's monitor, the frames received when the example was sent
    (the monitor checks exchange times against the receive time)."""
    sent = json.loads(frames[0])["data"]["E"] * 10**6
    pipeline = run_frames(BinanceAdapter(slug), frames, ts=sent)
    quality = pipeline.sink.table("quality")
    rows = [] if quality is None else pylist(quality)
    return [r["detail"] for r in rows if r["kind"] == "drift"]


def test_the_drift_monitor_knows_the_documented_derivative_messages() -> None:
    assert _drift([combined("btcusdt@markPrice@1s", USDM_MARK)] * 3) == []
    assert _drift([combined("btcusdt@forceOrder", USDM_LIQUIDATION)] * 3) == []
    assert _drift([combined("btcusd_201225@markPrice@1s", COINM_MARK)], "binance-coinm") == []
    assert _drift([combined("btcusd_200925@forceOrder", COINM_LIQUIDATION)], "binance-coinm") == []


def test_the_drift_monitor_reports_a_renamed_mark_price_field() -> None:
    renamed = USDM_MARK.replace('"p":', '"markPrice":')
    details = _drift([combined("btcusdt@markPrice@1s", renamed)])
    assert sorted(d.split(": ")[0] for d in details) == [
        "missing_field markPrice data.p",
        "new_field markPrice data.markPrice",
    ]
