"""Metrics, /health and the status view of a running daemon, against the simulator.

What an operator's alerting relies on: /metrics carries the figures, /health
flips to 503 while a book is out of sync and back to 200 once it is synced
again, both listen only on loopback unless told otherwise, and the status view
shows each stream with sensible numbers.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import msgspec
import pytest
from harness import daemon_config, run_daemon, samples, synced, value, wait_for
from prometheus_client import generate_latest
from rich.console import Console
from rich.table import Table

from collector.config import MetricsConfig, parse_config
from collector.daemon import Daemon
from collector.logs import setup_logging
from collector.metrics import Metrics
from collector.simulator import Simulator, SimulatorConfig
from collector.status import frame_counts, render

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"


def sim_config(symbols: tuple[str, ...] = (SYMBOL,)) -> SimulatorConfig:
    return SimulatorConfig(exchanges=(SLUG,), symbols=symbols, interval_ms=10, seed=7)


async def get(session: aiohttp.ClientSession, daemon: Daemon, path: str) -> tuple[int, str]:
    async with session.get(f"http://127.0.0.1:{daemon.metrics.port}{path}") as resp:
        return resp.status, await resp.text()


def listening_on(port: int) -> set[str]:
    """Local addresses (hex, as /proc writes them) with a listening TCP socket on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            entries = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for entry in entries:
            local, state = entry.split()[1], entry.split()[3]
            address, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_metrics_and_health_follow_the_book(tmp_path: Path) -> None:
    """Healthy once synced; 503 while a gap's resync is held back by 429s; healthy again."""
    seen: dict[str, object] = {}

    async def main() -> None:
        async with Simulator(sim_config()) as sim:
            config = daemon_config(tmp_path, sim.port, {SLUG: [SYMBOL]})

            async def body(daemon: Daemon) -> None:
                await wait_for(lambda: daemon.metrics.port is not None, 5, "metrics port")
                assert daemon.metrics.port is not None
                seen["listening"] = listening_on(daemon.metrics.port)
                await wait_for(synced(daemon, SLUG, [SYMBOL]), 5, "first sync")
                await asyncio.sleep(0.3)  # at least one flush, so every figure exists
                async with aiohttp.ClientSession() as session:
                    status, text = await get(session, daemon, "/metrics")
                    assert status == 200
                    seen["metrics"] = samples(text)
                    status, text = await get(session, daemon, "/health")
                    seen["healthy"] = (status, msgspec.json.decode(text))

                    sim.set_faults({"skip": 1, "rest_status": [429, 429, 429], "retry_after_s": 1})
                    deadline = time.monotonic() + 3
                    while (answer := await get(session, daemon, "/health"))[0] == 200:
                        assert time.monotonic() < deadline, "health never turned 503"
                        await asyncio.sleep(0.02)
                    seen["unhealthy"] = (answer[0], msgspec.json.decode(answer[1]))
                    deadline = time.monotonic() + 6
                    while (answer := await get(session, daemon, "/health"))[0] != 200:
                        assert time.monotonic() < deadline, "health never recovered"
                        await asyncio.sleep(0.05)
                    seen["recovered"] = msgspec.json.decode(answer[1])
                    seen["after"] = samples((await get(session, daemon, "/metrics"))[1])

            await run_daemon(config, body, timeout_s=15)

    asyncio.run(main())

    if seen["listening"]:  # /proc is there: the socket itself listens on loopback only
        assert seen["listening"] == {"0100007F"}, seen["listening"]  # 127.0.0.1
    m = seen["metrics"]
    assert isinstance(m, dict)
    assert value(m, "collector_frames_total", exchange=SLUG) > 0
    assert value(m, "collector_book_synced", exchange=SLUG, symbol=SYMBOL) == 1
    assert value(m, "collector_bbo_matches_total", exchange=SLUG, symbol=SYMBOL) > 0
    assert value(m, "collector_checksums_failed_total", exchange=SLUG, symbol=SYMBOL) == 0
    assert 0 <= value(m, "collector_lag_seconds", exchange=SLUG, symbol=SYMBOL) < 5
    assert value(m, "collector_buffered_rows", exchange=SLUG) >= 0
    assert value(m, "collector_files_published_total") >= 0
    assert value(m, "collector_gaps_total", exchange=SLUG, symbol=SYMBOL) == 0
    # the drift monitor checks frames of the clean simulator and finds nothing
    assert value(m, "collector_drift_checked_frames_total", exchange=SLUG) > 0
    assert [lab for lab, _ in m.get("collector_drift_total", []) if lab["exchange"] == SLUG] == []

    status, doc = seen["healthy"]  # type: ignore[misc]
    assert status == 200 and doc["ok"] is True
    assert doc[SLUG]["books"] == {SYMBOL: "synced"}
    assert doc[SLUG]["connections"] == ["open", "open"]

    status, doc = seen["unhealthy"]  # type: ignore[misc]
    assert status == 503 and doc["ok"] is False and doc[SLUG]["ok"] is False
    assert doc[SLUG]["books"][SYMBOL] != "synced"

    recovered = seen["recovered"]
    assert isinstance(recovered, dict) and recovered["ok"] is True
    after = seen["after"]
    assert isinstance(after, dict)
    assert value(after, "collector_gaps_total", exchange=SLUG, symbol=SYMBOL) == 1
    assert value(after, "collector_resyncs_total", exchange=SLUG, symbol=SYMBOL) == 1
    assert value(after, "collector_rate_limited_total") >= 1
    assert value(after, "collector_book_synced", exchange=SLUG, symbol=SYMBOL) == 1


def test_metrics_listen_on_loopback_by_default(tmp_path: Path) -> None:
    """The default config binds 127.0.0.1; the server binds exactly the configured host."""
    config = parse_config('[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n', "t")
    assert config.metrics == MetricsConfig()
    host, _, port = config.metrics.listen.rpartition(":")
    assert (host, port) == ("127.0.0.1", "9464")

    async def main() -> list[object]:
        metrics = Metrics()
        runner = await metrics.serve(MetricsConfig(listen=f"{host}:0"), lambda: (True, {}))
        try:
            assert runner is not None and metrics.port
            return list(runner.addresses)
        finally:
            await metrics.stop(runner)

    addresses = asyncio.run(asyncio.wait_for(main(), 5))
    assert addresses and all(a[0] == "127.0.0.1" for a in addresses), addresses  # type: ignore[index]


def test_book_never_heard_of_is_unhealthy(tmp_path: Path) -> None:
    """A configured book without a single update must not pass as healthy (nor be absent
    from collector_book_synced): it is exactly the book an operator needs to hear about."""
    config = daemon_config(tmp_path, 1, {SLUG: [SYMBOL, "ETHUSDT"]})
    daemon = Daemon(config)
    try:
        runner = daemon.runners[0]
        for supervisor in runner.supervisors:
            supervisor.state = "open"
        sync = runner.pipeline.engine._add(SYMBOL)
        sync.state = sync.state.SYNCED
        ok, report = daemon.health()
        assert not ok
        assert report[SLUG] == {
            "ok": False,
            "connections": ["open", "open"],
            "books": {SYMBOL: "synced", "ETHUSDT": "unsynced"},
            # USD-M trades have two documented routes: the first, until it delivers.
            "routes": {"trades": "wss://fstream.binance.com/public/stream (waiting)"},
        }
        found = samples(generate_latest(daemon.metrics.registry).decode())
        assert value(found, "collector_book_synced", exchange=SLUG, symbol=SYMBOL) == 1
        assert value(found, "collector_book_synced", exchange=SLUG, symbol="ETHUSDT") == 0
    finally:
        for runner in daemon.runners:
            asyncio.run(runner.close())
        daemon.sink.close()


def rows(table: Table) -> list[dict[str, str]]:
    columns = [(str(c.header), [str(cell) for cell in c.cells]) for c in table.columns]
    return [{h: cells[i] for h, cells in columns} for i in range(table.row_count)]


@pytest.fixture
def root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def test_status_view_of_a_running_daemon(tmp_path: Path, root_logger: None) -> None:
    """render() shows one row per connection plan with live figures; with ``status`` on
    the daemon runs the view itself and its logs come out through the same console."""
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    setup_logging("text", console=console)
    symbols = [SYMBOL, "ETHUSDT"]
    got: dict[str, object] = {}

    async def main() -> None:
        async with Simulator(sim_config(tuple(symbols))) as sim:
            config = daemon_config(tmp_path, sim.port, {SLUG: symbols})
            config = msgspec.structs.replace(
                config, daemon=msgspec.structs.replace(config.daemon, status=True)
            )

            async def body(daemon: Daemon) -> None:
                await wait_for(synced(daemon, SLUG, symbols), 5, "sync")
                got["status_task"] = any(
                    t.get_name() == "status" and not t.done() for t in asyncio.all_tasks()
                )
                start = time.monotonic()
                previous = frame_counts(daemon, start)
                await asyncio.sleep(0.5)
                got["table"] = rows(render(daemon, previous, time.monotonic()))
                got["plans"] = sum(len(r.supervisors) for r in daemon.runners)

            daemon = Daemon(config, console)  # run_daemon's own Daemon would draw on stderr
            task = asyncio.create_task(daemon.run())
            try:
                await asyncio.wait_for(body(daemon), 10)
            finally:
                daemon.stop()
                await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert got["status_task"] is True
    table = got["table"]
    assert isinstance(table, list) and len(table) == got["plans"] == 2
    book, trades = table
    assert book["exchange"] == trades["exchange"] == SLUG
    assert book["stream"].startswith("btcusdt@depth@100ms +")
    assert book["state"] == trades["state"] == "open"
    assert float(book["msgs/s"].replace(",", "")) > 10  # two symbols, an update every 10 ms
    assert float(book["last msg"].removesuffix(" s")) < 1
    assert (book["books synced"], book["gaps"], book["resyncs"]) == ("2/2", "0", "0")
    assert trades["books synced"] == "-"
    text = out.getvalue()
    assert "books synced" in text  # the view's last frame, drawn when it stopped
    assert "stopped:" in text and "Parquet files published" in text  # logs via the console
