"""Binance USD-M and COIN-M derivative data, live: the daemon against the simulator.

The simulator's generated futures book publishes ``markPrice`` once a second and a
``forceOrder`` every fifth trade, and answers ``openInterest``; the daemon subscribes
``derivative_ticker`` and ``liquidations`` and polls open interest. Every row must
equal the text of the frame or REST body the daemon captured, and a replay of that
capture must write the same three tables.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from harness import daemon_config, read_table, run_daemon, wait_for

from collector.capture.reader import list_capture_files, read_capture
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig

MS = 1_000_000
FUNDING_INTERVAL_NS = 8 * 3600 * 10**9
SYMBOLS = {"binance-usdm": "BTCUSDT", "binance-coinm": "BTCUSD_PERP"}


@pytest.fixture(scope="module", params=sorted(SYMBOLS))
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    slug = request.param
    symbol = SYMBOLS[slug]
    root = tmp_path_factory.mktemp(slug)

    async def main() -> None:
        cfg = SimulatorConfig(exchanges=(slug,), symbols=(symbol,), interval_ms=10, seed=3)
        async with Simulator(cfg) as sim:
            config = daemon_config(
                root,
                sim.port,
                {slug: [symbol]},
                channels=("trades", "derivative_ticker", "liquidations"),
                exchange_extra="poll_interval_s = 0.5",
            )

            async def body(daemon) -> None:  # type: ignore[no-untyped-def]
                counts = daemon.runners[0].pipeline.derivatives_by_symbol
                await wait_for(lambda: counts[symbol] >= 8, 30, "derivative rows")
                await asyncio.sleep(1.5)  # at least one more mark price and poll

            await run_daemon(config, body)

    asyncio.run(main())
    return symbol, root


def _captured(root: Path) -> list:
    return [r for path in list_capture_files(root / "capture") for r in read_capture(path)]


def test_mark_price_rows_equal_the_captured_frames(live: tuple[str, Path]) -> None:
    symbol, root = live
    expected = []
    for record in _captured(root):
        if record.kind == "recv" and "markPriceUpdate" in record.data:
            m = json.loads(record.data)["data"]
            expected.append(
                (
                    record.ts,
                    m["E"] * MS,
                    Decimal(m["p"]),
                    Decimal(m["i"]),
                    Decimal(m["r"]),
                    m["T"] * MS,
                )
            )
    table = read_table(root / "data", "derivative_ticker")
    rows = [
        (
            r["ts_recv"],
            r["ts_exchange"],
            r["mark_price"],
            r["index_price"],
            r["funding_rate"],
            r["funding_time"],
        )
        for r in table.sort_by("ts_recv").to_pylist()
        if r["mark_price"] is not None
    ]
    assert len(expected) >= 2 and rows == expected
    assert all(t % FUNDING_INTERVAL_NS == 0 and t > ex for _, ex, *_, t in rows)  # next 8 h mark
    assert set(table["symbol"].to_pylist()) == {symbol}


def test_open_interest_is_polled_and_written(live: tuple[str, Path]) -> None:
    _, root = live
    bodies = [
        (r.ts, json.loads(r.data))
        for r in _captured(root)
        if r.kind == "http" and "/openInterest" in (r.url or "")
    ]
    assert len(bodies) >= 2, "polled more than once at 0.5 s"
    table = read_table(root / "data", "derivative_ticker")
    rows = [
        (r["ts_recv"], r["ts_exchange"], r["open_interest"])
        for r in table.sort_by("ts_recv").to_pylist()
        if r["open_interest"] is not None
    ]
    assert rows == [(ts, b["time"] * MS, Decimal(b["openInterest"])) for ts, b in bodies]


def test_liquidations_equal_the_captured_force_orders(live: tuple[str, Path]) -> None:
    _, root = live
    expected = []
    for record in _captured(root):
        if record.kind == "recv" and '"forceOrder"' in record.data:
            o = json.loads(record.data)["data"]["o"]
            expected.append((o["T"] * MS, o["S"].lower(), Decimal(o["p"]), Decimal(o["q"])))
    table = read_table(root / "data", "liquidations")
    assert expected and table is not None
    rows = table.sort_by("ts_recv").to_pylist()
    assert [(r["ts_exchange"], r["side"], r["price"], r["size"]) for r in rows] == expected
    # the simulator liquidates through trades: each one is on the tape too
    trades = {
        (t["ts_exchange"], t["side"], t["price"], t["size"])
        for t in read_table(root / "data", "trades").to_pylist()
    }
    assert all((r["ts_exchange"], r["side"], r["price"], r["size"]) in trades for r in rows)


def test_replay_of_the_capture_writes_the_same_tables(
    live: tuple[str, Path], tmp_path: Path
) -> None:
    _, root = live
    replay(list_capture_files(root / "capture"), tmp_path / "again")
    for name in ("derivative_ticker", "liquidations"):
        mine = read_table(root / "data", name)
        again = read_table(tmp_path / "again", name)
        assert mine is not None and again is not None, name
        order = [("ts_recv", "ascending"), ("ts_exchange", "ascending")]
        assert mine.sort_by(order).equals(again.sort_by(order)), name


def test_the_drift_monitor_found_nothing_new(live: tuple[str, Path]) -> None:
    """Mark price, liquidation and open interest frames all match the venue's contract."""
    _, root = live
    quality = read_table(root / "data", "quality")
    drift = [
        d
        for k, d in zip(quality["kind"].to_pylist(), quality["detail"].to_pylist(), strict=True)
        if k == "drift"
    ]
    assert drift == []
