"""The daemon with its Parquet writer thread, over loopback: everything received is published.

A daemon streams a generated USD-M book from the simulator (frames stamped with
their send time) with ``[daemon] writer_thread`` on and files rotating every
half second, so the thread writes and publishes while frames keep arriving.
Checked as an operator and a reader of the dataset would see it:

* files are published while the daemon runs, not only at shutdown;
* the writer queue's depth is exported on ``/metrics``, beside the event loop's lag;
* every frame the daemon counted is in the capture, each received after the
  simulator sent it;
* the dataset equals, row for row, the replay of the capture, and the shutdown
  left the queue empty and exited cleanly;
* rows the sink drops past ``max_buffered_bytes`` on a full disk are named in
  ``quality`` (the handler runs on the writer thread, the row is added on the loop);
* an exception in the thread makes ``/health`` 503 and the exit code 1, and
  leaves the capture in progress for recovery.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
from pathlib import Path

import aiohttp
import pyarrow as pa
import pytest
from failing_disk import FailingDisk
from harness import daemon_config, read_table, run_daemon, samples, synced, value, wait_for

from collector.capture.reader import list_capture_files, read_capture
from collector.daemon import Daemon
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig
from collector.sinks.parquet import ParquetSink
from collector.sinks.threaded import ThreadedSink

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"
TABLES = ("book", "trades", "bbo")
SENT = re.compile(r'^\{"sent":(\d+),')


async def get(daemon: Daemon, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{daemon.metrics.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def rows(root: Path, table: str) -> list[dict]:
    data = read_table(root, table)
    assert data is not None, f"no {table} rows under {root}"
    return data.sort_by([(c, "ascending") for c in data.column_names]).to_pylist()


def test_daemon_with_the_writer_thread_publishes_every_row_it_receives(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    async def body(daemon: Daemon) -> None:
        assert isinstance(daemon.sink, ThreadedSink)
        await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "the book in sync")
        await wait_for(lambda: daemon.sink.files_published >= 3, 20, "files published mid-run")
        seen["published_while_running"] = daemon.sink.files_published
        seen["metrics"] = samples((await get(daemon, "/metrics"))[1])
        seen["health"] = await get(daemon, "/health")
        await asyncio.sleep(1.0)

    async def main() -> Daemon:
        cfg = SimulatorConfig(
            exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=5, seed=5, send_stamps=True
        )
        async with Simulator(cfg) as sim:
            config = daemon_config(
                tmp_path,
                sim.port,
                {SLUG: [SYMBOL]},
                output=f'dir = "{tmp_path / "data"}"\nrotate_seconds = 0.5',
            )
            assert config.daemon.writer_thread, "the writer thread is on by default"
            return await run_daemon(config, body, timeout_s=60)

    daemon = asyncio.run(main())
    assert daemon.clean_exit
    sink = daemon.sink
    assert isinstance(sink, ThreadedSink)
    assert sink.queued_batches == sink.queued_rows == sink.queued_bytes == 0
    assert sink.bugs == 0 and sink.full_waits == 0

    found = seen["metrics"]
    for unit in ("batches", "rows", "bytes"):
        assert value(found, "collector_writer_queue", unit=unit) >= 0  # type: ignore[arg-type]
    assert value(found, "collector_writer_queue_max_bytes") == sink.max_queued_bytes  # type: ignore[arg-type]
    sampled = value(found, "collector_event_loop_lag_seconds_count")  # type: ignore[arg-type]
    assert sampled >= 5, "the loop's lag is sampled every 100 ms"
    assert value(found, "collector_event_loop_lag_seconds_bucket", le="+Inf") == sampled  # type: ignore[arg-type]
    status, text = seen["health"]  # type: ignore[misc]
    assert status == 200, text

    # Every frame counted reached the capture, received after it was sent.
    frames = [r for path in list_capture_files(tmp_path / "capture") for r in read_capture(path)]
    received = [r for r in frames if r.kind == "recv" and isinstance(r.data, str)]
    stamped = [(r.ts, SENT.match(r.data)) for r in received]
    stamped = [(ts, int(m.group(1))) for ts, m in stamped if m is not None]
    assert len(received) == daemon.metrics.frames[SLUG] > 200
    assert len(stamped) == len(received), "every generated frame carries its send time"
    assert all(ts >= sent for ts, sent in stamped)

    # Nothing lost between the loop, the queue and the files: the dataset is the
    # replay of the capture, row for row.
    root = tmp_path / "data"
    assert sink.files_published > seen["published_while_running"]  # type: ignore[operator]
    # A daemon runs for months: it counts its files and keeps no list of them.
    assert sink.published == []
    assert sink.files_published == len(list(tmp_path.glob("data/**/*.parquet")))
    replay(list_capture_files(tmp_path / "capture"), tmp_path / "replayed")
    for table in TABLES:
        live, again = rows(root, table), rows(tmp_path / "replayed", table)
        assert len(live) == len(again) > 0 and live == again, (table, len(live), len(again))


def test_rows_dropped_past_the_bound_by_the_writer_thread_are_named_in_quality(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink's overflow handler runs on the writer thread; its quality row is the loop's."""
    disk = FailingDisk(monkeypatch, tmp_path / "data")
    seen: dict[str, object] = {}

    async def body(daemon: Daemon) -> None:
        await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "the book in sync")
        disk.fail(errno.ENOSPC)
        await wait_for(lambda: bool(daemon.sink.overflow_rows), 60, "rows dropped over the bound")
        seen["dropped"] = dict(daemon.sink.overflow_rows)
        disk.heal()
        await wait_for(lambda: not daemon.faults.active, 40, "writing to work again")
        await asyncio.sleep(0.5)

    async def main() -> Daemon:
        cfg = SimulatorConfig(exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=1, seed=7)
        async with Simulator(cfg) as sim:
            config = daemon_config(
                tmp_path,
                sim.port,
                {SLUG: [SYMBOL]},
                output=f'dir = "{tmp_path / "data"}"\nmax_buffered_bytes = 1048576',
            )
            return await run_daemon(config, body, timeout_s=120)

    daemon = asyncio.run(main())
    assert daemon.clean_exit
    quality = read_table(tmp_path / "data", "quality")
    assert quality is not None
    details = [
        d
        for k, d in zip(quality["kind"].to_pylist(), quality["detail"].to_pylist(), strict=True)
        if k == "buffer_overflow"
    ]
    dropped = seen["dropped"]
    assert isinstance(dropped, dict) and dropped
    assert details and all(d.startswith("dropped ") for d in details), details
    assert {d.split()[2] for d in details} <= set(dropped), (details, dropped)


def test_a_bug_in_the_writer_thread_is_unhealthy_and_exits_1_leaving_the_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = ParquetSink.write

    def write(sink: ParquetSink, table: str, exchange: str, data: pa.Table) -> None:
        if table == "trades":
            raise ZeroDivisionError("a bug in the sink")
        real(sink, table, exchange, data)

    monkeypatch.setattr(ParquetSink, "write", write)
    seen: dict[str, object] = {}

    async def body(daemon: Daemon) -> None:
        await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "the book in sync")
        assert isinstance(daemon.sink, ThreadedSink)
        sink = daemon.sink
        await wait_for(lambda: sink.bugs > 0, 20, "the writer thread to fail")
        seen["health"] = await get(daemon, "/health")
        seen["metrics"] = samples((await get(daemon, "/metrics"))[1])

    async def main() -> Daemon:
        cfg = SimulatorConfig(exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=5, seed=9)
        async with Simulator(cfg) as sim:
            config = daemon_config(tmp_path, sim.port, {SLUG: [SYMBOL]})
            return await run_daemon(config, body, timeout_s=60)

    with caplog.at_level(logging.ERROR):
        daemon = asyncio.run(main())
    status, text = seen["health"]  # type: ignore[misc]
    assert status == 503 and "ZeroDivisionError" in text, text
    assert value(seen["metrics"], "collector_writer_thread_errors_total") >= 1  # type: ignore[arg-type]
    assert any(r.exc_info for r in caplog.records if "writer thread failed on" in r.getMessage())
    assert not daemon.clean_exit, "rows may be lost: the exit code must say so"
    left = list((tmp_path / "capture").glob("**/.*inprogress"))
    assert left, "the capture must stay in progress for recovery"
