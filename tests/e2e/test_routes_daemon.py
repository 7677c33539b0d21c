"""Routes that heal themselves (issue 16), end to end against the simulator on 127.0.0.1.

The daemon collects USD-M and COIN-M books, quotes and trades as
``config/default.toml`` does. Under the simulator's ``route_split`` drift mode a
venue's raw trades are acknowledged on every route and served on one only: the
daemon must find that route by itself, say so once at ERROR, count the move,
write one ``drift`` event per moved channel, and keep ``/health`` green once
trades flow. The ``trade_route`` knob makes every route order move, including
the one where no USD-M route delivers, which ``/health`` must report. A replay
of the daemon's capture writes the same trades and the same drift events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pytest
from harness import daemon_config, read_table, run_daemon, samples, value, wait_for

from collector.capture.reader import list_capture_files
from collector.daemon import Daemon
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig
from collector.simulator.faults import Faults

SYMBOLS = {"binance-usdm": ["BTCUSDT", "ETHUSDT"], "binance-coinm": ["BTCUSD_PERP", "ETHUSD_PERP"]}
DEADLINE_S = 1.5  # the trades' stale_after_s: how long a silent route is given
ROUTE = {
    "binance-usdm": "wss://fstream.binance.com/{}/stream",
    "binance-coinm": "wss://dstream.binance.com/{}/stream",
}


def _route(slug: str, path: str) -> str:
    return ROUTE[slug].format(path).replace("//stream", "/stream")


def _health(daemon: Daemon) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{daemon.metrics.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _metrics(daemon: Daemon) -> dict:
    url = f"http://127.0.0.1:{daemon.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return samples(response.read().decode())


def _trading(daemon: Daemon) -> bool:
    return all(
        all(runner.pipeline.trades_by_symbol[s] > 0 for s in SYMBOLS[runner.cfg.name])
        for runner in daemon.runners
    )


class Run:
    """What one daemon run against the simulator showed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seconds_to_trades = 0.0
        self.health: tuple[int, dict] = (0, {})
        self.metrics: dict = {}
        self.errors: list[str] = []  # the rerouter's ERROR lines
        self.warnings: list[str] = []

    def route_events(self, root: Path | None = None) -> list[tuple[str, str]]:
        table = read_table((root or self.root) / "data", "quality")
        assert table is not None
        rows = table.filter(pa.compute.equal(table["kind"], "drift")).sort_by("ts_recv")
        return [(r["exchange"], r["detail"]) for r in rows.to_pylist() if " route " in r["detail"]]


def _run(root: Path, caplog: pytest.LogCaptureFixture, faults: Faults, wait_healthy: bool) -> Run:
    run = Run(root)

    async def main() -> None:
        async with Simulator(SimulatorConfig(exchanges=tuple(SYMBOLS), faults=faults)) as sim:
            config = daemon_config(
                root,
                sim.port,
                SYMBOLS,
                exchange_extra=f"stale_after_s = {{ book = 5, bbo = 5, trades = {DEADLINE_S} }}",
            )

            async def body(daemon: Daemon) -> None:
                started = time.monotonic()
                if wait_healthy:
                    await wait_for(lambda: _trading(daemon), 60, "trades for every symbol")
                    run.seconds_to_trades = time.monotonic() - started
                    await asyncio.sleep(0.5)  # the books sync meanwhile
                    for _ in range(100):
                        run.health = await asyncio.to_thread(_health, daemon)
                        if run.health[0] == 200:
                            break
                        await asyncio.sleep(0.1)
                else:  # COIN-M's trades on its last route; no USD-M route at all
                    coinm = daemon.runners[1].pipeline.trades_by_symbol

                    def settled() -> bool:
                        exhausted = daemon.runners[0].rerouter.problems()
                        return bool(exhausted) and all(coinm[s] for s in SYMBOLS["binance-coinm"])

                    await wait_for(settled, 60, "COIN-M trades and no USD-M route")
                    run.health = await asyncio.to_thread(_health, daemon)
                run.metrics = await asyncio.to_thread(_metrics, daemon)

            with caplog.at_level(logging.WARNING, logger="collector.rerouter"):
                await run_daemon(config, body)

    asyncio.run(main())
    mine = [r for r in caplog.records if r.name == "collector.rerouter"]
    run.errors = [r.getMessage() for r in mine if r.levelno == logging.ERROR]
    run.warnings = [r.getMessage() for r in mine if r.levelno == logging.WARNING]
    return run


def _moved(run: Run, slug: str, failed: list[str], delivers: str) -> None:
    """``slug``'s trades left each of ``failed`` once (WARNING) and ``delivers`` delivered:
    one ERROR line, one drift event per move, counted and shown in the metrics."""
    moving = [w for w in run.warnings if w.startswith(f"{slug} ")]
    assert len(moving) == len(failed), moving
    for line, route in zip(moving, failed, strict=True):
        assert f"route {_route(slug, route)} acknowledged and silent" in line
    assert [e for e in run.errors if e.startswith(f"{slug} ") and "delivers" in e] == [
        f"{slug} trades: route {', '.join(_route(slug, r) for r in failed)} acknowledged and "
        f"silent; route {_route(slug, delivers)} delivers, kept for the rest of the run"
    ]
    events = [d for ex, d in run.route_events() if ex == slug]
    assert len(events) == len(failed), events
    routes = 3 if slug == "binance-coinm" else 2
    assert events[-1].endswith(
        f"moved to route {_route(slug, delivers)} ({len(failed) + 1} of {routes})"
    )
    moves = value(run.metrics, "collector_route_changes_total", exchange=slug, channel="trades")
    assert moves == len(failed)
    info = value(
        run.metrics, "collector_route_info", exchange=slug, channel="trades",
        route=_route(slug, delivers),
    )  # fmt: skip
    assert info == 1


def _replay_agrees(run: Run, tmp_path: Path) -> None:
    """The daemon's capture replays to the same trades and the same route events."""
    again = tmp_path / "replayed"
    replay(list_capture_files(run.root / "capture"), again / "data")
    live, replayed = read_table(run.root / "data", "trades"), read_table(again / "data", "trades")
    assert live is not None and replayed is not None
    order = [("exchange", "ascending"), ("symbol", "ascending"), ("trade_id", "ascending")]
    assert live.sort_by(order).equals(replayed.sort_by(order))
    assert run.route_events(again) == run.route_events()


def test_route_split_moves_coinm_trades_and_leaves_usdm_on_public(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run(tmp_path, caplog, Faults(drift="route_split"), wait_healthy=True)
    assert run.seconds_to_trades < 60
    assert run.health[0] == 200, run.health
    _moved(run, "binance-coinm", ["public"], "market")
    assert len(run.errors) == 1  # the one moved channel's
    assert not [e for e in run.warnings if e.startswith("binance-usdm")]
    assert "public" in run.health[1]["binance-usdm"]["routes"]["trades"]
    _replay_agrees(run, tmp_path)


def test_route_split_on_market_moves_both_venues(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run(tmp_path, caplog, Faults(drift="route_split", trade_route="market"), True)
    assert run.health[0] == 200, run.health
    _moved(run, "binance-usdm", ["public"], "market")
    _moved(run, "binance-coinm", ["public"], "market")
    assert len(run.errors) == 2  # one per moved channel
    _replay_agrees(run, tmp_path)


def test_coinm_falls_back_to_the_unrouted_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run(tmp_path / "a", caplog, Faults(drift="route_split", trade_route="stream"), False)
    # No USD-M route serves trades: after a whole round /health says so.
    status, report = run.health
    assert status == 503
    assert "trades: no route delivers" in report["binance-usdm"]["reason"]
    assert report["binance-coinm"].get("reason") is None
    assert sum("no route delivers" in e for e in run.errors) == 1
    _moved(run, "binance-coinm", ["public", "market"], "")


def test_without_drift_trades_flow_on_the_first_route(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run(tmp_path, caplog, Faults(), wait_healthy=True)
    assert run.health[0] == 200, run.health
    assert run.errors == run.warnings == []
    assert run.route_events() == []
    for slug in SYMBOLS:
        moves = value(run.metrics, "collector_route_changes_total", exchange=slug, channel="trades")
        assert moves == 0
