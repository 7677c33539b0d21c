"""A restarted daemon collects while it recovers a crashed run, in a child process.

Recovery replays a crashed capture session from its start, which takes hours after
a daemon that ran for weeks; before, the daemon connected only once it was done.
Here a crashed session of two real recordings (168 k records, nothing published)
waits in the capture folder when the daemon starts against the simulator:

* its venue connects and writes rows before the recovery ends, and ``/health``
  says a recovery is running meanwhile;
* the crashed session's rows land exactly once, as replaying it alone writes them;
* stopped in the middle of the recovery, the daemon leaves the session for the
  next recovery, which completes it exactly once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from harness import daemon_config, read_table, run_daemon, wait_for
from support import CAPTURES, load_records, needs_captures

from collector.capture.reader import capture_header, list_capture_files
from collector.capture.writer import CaptureWriter
from collector.daemon import Daemon
from collector.recover import recover_dataset
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

CRASHED = [
    CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz",
    CAPTURES / "binance-usdm" / "ethusdt_20240808.jsonl.gz",
]
LIVE = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
SYMBOLS = ["AKROUSDT", "SUSHIUSDT"]
TABLES = ("book", "trades", "bbo")


def crashed_session(capture: Path) -> tuple[str, Path]:
    """The two recordings as one killed run's capture: one session, left ``.inprogress``."""
    records = sorted((r for p in CRASHED for r in load_records(p)[1]), key=lambda r: r.ts)
    writer = CaptureWriter(capture, "binance-usdm")
    for record in records:
        writer.write(record)
    writer.close(finish=False)  # as kill -9 leaves it
    (part,) = list_capture_files(capture)
    assert part.name.endswith(".inprogress")
    return writer.session, part


def crashed_rows(root: Path, table: str) -> pa.Table:
    """The rows of the crashed session's symbols (the live run streams others), sorted."""
    data = read_table(root, table)
    assert data is not None, table
    data = data.filter(pc.is_in(data["symbol"], pa.array(["BTCUSDT", "ETHUSDT"])))
    return data.sort_by([(name, "ascending") for name in data.column_names])


def replay_alone(capture: Path, session: str, out: Path) -> Path:
    """The crashed session replayed on its own: what the dataset must hold of it."""
    replay([p for p in list_capture_files(capture) if capture_header(p)["session"] == session], out)
    return out


def config(root: Path, port: int):  # type: ignore[no-untyped-def]
    return daemon_config(root, port, {"binance-usdm": SYMBOLS}, channels=("book", "bbo", "trades"))


def test_the_daemon_collects_while_it_recovers(tmp_path: Path) -> None:
    session, part = crashed_session(tmp_path / "capture")
    seen: dict[str, float] = {}

    async def main() -> Daemon:
        async with Simulator(SimulatorConfig(recordings=(LIVE,), speed=5.0)) as sim:

            async def body(daemon: Daemon) -> None:
                def connected() -> bool:
                    runner = daemon.runners[0]
                    return any(s.state == "open" for s in runner.supervisors)

                await wait_for(connected, 30, "a connection")
                seen["connected"] = time.monotonic()
                assert daemon.recovery is not None and daemon.recovery.running
                report = daemon.health()[1]
                assert report["recovery"]["running"] is True, report
                await daemon.recovery.wait()
                seen["recovered"] = time.monotonic()
                assert "recovery" not in daemon.health()[1]
                await asyncio.sleep(1.0)

            return await run_daemon(config(tmp_path, sim.port), body, timeout_s=120)

    asyncio.run(main())
    assert seen["connected"] < seen["recovered"]
    assert not part.exists()  # finished under its final name
    alone = replay_alone(tmp_path / "capture", session, tmp_path / "alone")
    for table in TABLES:
        assert crashed_rows(tmp_path / "data", table).equals(crashed_rows(alone, table)), table


def test_stopped_midway_the_next_recovery_completes_it(tmp_path: Path) -> None:
    session, part = crashed_session(tmp_path / "capture")

    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(LIVE,), speed=5.0)) as sim:

            async def body(daemon: Daemon) -> None:
                recovering = lambda: daemon.recovery is not None and daemon.recovery.running  # noqa: E731
                await wait_for(recovering, 30, "the recovery to start")

            await run_daemon(config(tmp_path, sim.port), body)

    asyncio.run(main())
    assert part.exists(), "stopped before it was done: the session is left for the next start"
    assert capture_header(part)["session"] == session
    summary = recover_dataset(tmp_path / "capture", tmp_path / "data")
    assert [s.session for s in summary.sessions] == [session]
    alone = replay_alone(tmp_path / "capture", session, tmp_path / "alone")
    for table in TABLES:
        assert crashed_rows(tmp_path / "data", table).equals(crashed_rows(alone, table)), table


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    """A recovery child must never outlive its test (the daemon kills it on stop)."""
    yield
    assert not [p for p in multiprocessing.active_children() if p.name == "collector-recovery"]


def test_a_recovery_that_cannot_write_makes_health_say_so(tmp_path: Path) -> None:
    """The crashed session's partition cannot be created (a file is in its place):
    the venue still collects, and ``/health`` answers 503 naming the failure."""
    crashed_session(tmp_path / "capture")
    blocked = tmp_path / "data" / "table=book" / "exchange=binance-usdm" / "date=2024-08-08"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder")
    reports = []

    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(LIVE,), speed=5.0)) as sim:

            async def body(daemon: Daemon) -> None:
                await wait_for(lambda: daemon.recovery_failure is not None, 60, "the failure")
                reports.append(daemon.health())

            await run_daemon(config(tmp_path, sim.port), body, timeout_s=120)

    asyncio.run(main())
    ((healthy, report),) = reports
    assert not healthy
    assert "EEXIST" in report["recovery"]["failed"], report
    assert str(blocked) in report["recovery"]["failed"], report
    assert report["binance-usdm"]["ok"], report  # the live venue is fine
