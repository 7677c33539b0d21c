"""``collector quality`` over the derivative tables: counts, rates, silences, holes.

A real recording (Bybit 2026 linear tickers) replayed to a dataset, and hand-made rows
for the rules that need exact times (a ticker silence is a hole; liquidations, which
come when they happen, never make one).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
from support import CAPTURES, needs_captures

from collector.model import DerivativeTicker, Liquidation
from collector.quality import build_report
from collector.replay import replay
from collector.sinks.parquet import ParquetSink
from collector.tables import TableBuffers

S = 1_000_000_000
T0 = 1_786_310_000 * S


@needs_captures
def test_recorded_tickers_are_counted_and_rated(tmp_path: Path) -> None:
    replay([CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"], tmp_path)
    written = ds.dataset(tmp_path / "table=derivative_ticker", partitioning="hive").to_table()
    per_symbol = {s: written["symbol"].to_pylist().count(s) for s in ("linear:BTCUSDT",)}
    report, _ = build_report(tmp_path)
    (ex,) = report.exchanges
    btc = next(s for s in ex.symbols if s.symbol == "linear:BTCUSDT")
    assert btc.rows["derivative_ticker"] == per_symbol["linear:BTCUSDT"] > 0
    assert btc.rows["liquidations"] == btc.rows["option_summary"] == 0
    assert "derivative_ticker" in ex.rates.values
    assert sum(ex.rates.values["derivative_ticker"]) > 0
    assert "derivative_ticker" in btc.latency_by_table


def _dataset(root: Path) -> None:
    out = TableBuffers()
    for sec in (0, 1, 2, 30, 31):  # a 28 s silence of the ticker stream
        ticker = DerivativeTicker("BTCUSDT", T0 + sec * S, T0 + sec * S, mark_price="1")
        out.add_derivative(ticker, "BTC-USDT-PERP")
    for sec in (0, 31):  # liquidations far apart, of a symbol with nothing else
        liq = Liquidation("ETHUSDT", T0 + sec * S, T0 + sec * S, None, "buy", "2", "1")
        out.add_derivative(liq, "ETH-USDT-PERP")
    with ParquetSink(root) as sink:
        for table, data in out.drain().items():
            sink.write(table, "binance-usdm", data)


def test_ticker_silence_is_a_hole_and_sparse_liquidations_are_not(tmp_path: Path) -> None:
    _dataset(tmp_path)
    report, _ = build_report(tmp_path, hole_seconds=5.0)
    (ex,) = report.exchanges
    btc, eth = sorted(ex.symbols, key=lambda s: s.symbol)
    assert btc.symbol == "BTCUSDT" and btc.rows["derivative_ticker"] == 5
    assert [(h.cause, h.start_ns - T0, h.end_ns - T0) for h in btc.holes] == [
        ("no_data", 2 * S, 30 * S)
    ]
    assert eth.symbol == "ETHUSDT" and eth.rows["liquidations"] == 2
    assert eth.holes == [] and eth.coverage_pct == 100.0
    assert eth.grade != "F"
