"""The daemon against the simulator while its disk fails: loud, bounded, and healed.

ENOSPC, EIO and EACCES are injected (``failing_disk``) into the capture writer
and the Parquet sink of a daemon streaming a generated USD-M book. Checked, as an
operator and a reader of the dataset would see it:

* the books keep streaming and stay in sync through the failure;
* ``/health`` answers 503 naming the target and the errno within seconds, and
  200 again without a restart once the disk works;
* one ERROR line per episode, ``collector_write_errors_total{target,errno}``;
* ``write_error`` quality events for the episode's start and end;
* no row lost: the dataset equals, row for row, the replay of the capture.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from failing_disk import ERRNOS, FailingDisk
from harness import daemon_config, read_table, run_daemon, samples, synced, wait_for

from collector.capture.reader import list_capture_files
from collector.daemon import Daemon
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"
TABLES = ("book", "trades", "bbo")


async def health(daemon: Daemon) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{daemon.metrics.port}/health"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def metrics_text(daemon: Daemon) -> str:
    url = f"http://127.0.0.1:{daemon.metrics.port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


def sorted_rows(root: Path, table: str) -> list[dict]:
    data = read_table(root, table)
    assert data is not None, f"no {table} rows under {root}"
    return data.sort_by([(c, "ascending") for c in data.column_names]).to_pylist()


@pytest.mark.parametrize("target", ["capture", "parquet"])
@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_write_failure_is_loud_and_heals_without_losing_a_row(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    target: str,
    name: str,
) -> None:
    failing = tmp_path / ("capture" if target == "capture" else "data")
    disk = FailingDisk(monkeypatch, failing)
    code = ERRNOS[name]
    seen: dict[str, object] = {}

    async def body(daemon: Daemon) -> None:
        await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "the book in sync")
        await asyncio.sleep(1.0)  # a few files published before the failure
        frames = daemon.metrics.frames[SLUG]
        disk.fail(code)
        await wait_for(lambda: bool(daemon.faults.active), 5, "the failure noticed")
        status, report = await health(daemon)
        seen["failing"] = (status, report.get("writes"))
        await asyncio.sleep(2.0)  # keeps streaming while failing
        seen["streamed"] = daemon.metrics.frames[SLUG] - frames
        seen["synced_while_failing"] = synced(daemon, SLUG, [SYMBOL])()
        seen["metrics"] = samples(await metrics_text(daemon))
        disk.heal()
        await wait_for(lambda: not daemon.faults.active, 40, "writing to work again")
        await wait_for(synced(daemon, SLUG, [SYMBOL]), 10, "the book in sync")
        seen["healed"] = await health(daemon)
        await asyncio.sleep(0.5)

    async def main() -> Daemon:
        cfg = SimulatorConfig(exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=10, seed=3)
        async with Simulator(cfg) as sim:
            config = daemon_config(
                tmp_path,
                sim.port,
                {SLUG: [SYMBOL]},
                output=f'dir = "{tmp_path / "data"}"\nrotate_seconds = 0.5',
            )
            return await run_daemon(config, body, timeout_s=90)

    with caplog.at_level(logging.WARNING):
        daemon = asyncio.run(main())

    status, writes = seen["failing"]  # type: ignore[misc]
    assert status == 503
    assert isinstance(writes, dict) and len(writes) == 1, writes
    ((where, why),) = writes.items()
    assert where.startswith(target) and name in why and str(failing) in why, writes
    assert seen["streamed"] > 50, "the connection stopped while writing failed"
    assert seen["synced_while_failing"]
    kind = "capture" if target == "capture" else "parquet"
    errors = [
        (labels, v)
        for labels, v in seen["metrics"]["collector_write_errors_total"]  # type: ignore[index]
        if labels == {"target": kind, "errno": name}
    ]
    assert errors and errors[0][1] >= 1, seen["metrics"]["collector_write_errors_total"]  # type: ignore[index]
    assert seen["healed"][0] == 200, seen["healed"]  # type: ignore[index]

    started = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR
        and r.getMessage().startswith("writing ")
        and " failed: " in r.getMessage()
    ]
    assert len(started) == 1, [r.getMessage() for r in started]
    assert name in started[0].getMessage() and str(failing) in started[0].getMessage()
    assert daemon.clean_exit

    root = tmp_path / "data"
    quality = read_table(root, "quality")
    assert quality is not None
    episodes = [
        d
        for k, d in zip(quality["kind"].to_pylist(), quality["detail"].to_pylist(), strict=True)
        if k == "write_error"
    ]
    assert len(episodes) == 2 and "failed" in episodes[0] and "works again" in episodes[1], episodes

    # Nothing lost: every row equals the replay of the (complete) capture.
    replay(list_capture_files(tmp_path / "capture"), tmp_path / "replayed")
    for table in TABLES:
        live, again = sorted_rows(root, table), sorted_rows(tmp_path / "replayed", table)
        assert len(live) == len(again) and live == again, (table, len(live), len(again))
