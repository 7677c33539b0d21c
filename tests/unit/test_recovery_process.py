"""``BackgroundRecovery``: what the child meets reaches the parent, whatever it is.

The daemon's own path (a real recovery while collecting, and one stopped midway) is
``tests/e2e/test_background_recovery.py``; here, the two ways a child can fail.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import CAPTURES, load_records, needs_captures

from collector.capture.reader import list_capture_files
from collector.capture.writer import CaptureWriter
from collector.recover import recover_dataset
from collector.recovery_process import BackgroundRecovery


@needs_captures
def test_an_io_error_in_the_child_is_raised_in_the_parent(tmp_path: Path) -> None:
    exchange, records = load_records(CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz")
    writer = CaptureWriter(tmp_path / "capture", exchange)
    for record in records:
        writer.write(record)
    writer.close(finish=False)
    (tmp_path / "data").write_text("a file where the dataset folder should be")
    arguments = {"capture_dir": tmp_path / "capture", "out": tmp_path / "data"}

    async def run() -> None:
        recovery = BackgroundRecovery(arguments)
        recovery.start()
        assert recovery.running
        with pytest.raises(OSError) as failure:
            await recovery.wait()
        assert failure.value.errno == errno.ENOTDIR
        assert not recovery.running

    asyncio.run(run())


def test_a_child_that_dies_is_a_runtime_error() -> None:
    async def run() -> None:
        recovery = BackgroundRecovery({"no such argument": 1})  # a TypeError in the child
        recovery.start()
        with pytest.raises(RuntimeError, match="ended with exit code 1"):
            await recovery.wait()

    asyncio.run(run())


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped in a container does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _locked(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@needs_captures
def test_a_recovery_whose_daemon_is_killed_dies_with_it(tmp_path: Path) -> None:
    """kill -9 of the daemon must not leave its recovery running, holding the session's
    lock, where the restarted daemon would take it for a live one and skip it."""
    exchange, records = load_records(CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz")
    writer = CaptureWriter(tmp_path / "capture", exchange)
    for record in records:  # 94 k records: about a second of recovery
        writer.write(record)
    writer.close(finish=False)
    script = f"""
import asyncio
from pathlib import Path
from collector.recovery_process import BackgroundRecovery
async def main():
    recovery = BackgroundRecovery({{"capture_dir": Path({str(tmp_path / "capture")!r}),
                                    "out": Path({str(tmp_path / "data")!r})}})
    recovery.start()
    print(recovery.pid, flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""
    daemon = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert daemon.stdout is not None
    child = int(daemon.stdout.readline())
    (part,) = list_capture_files(tmp_path / "capture")
    while not _locked(part):  # until it recovers the session, holding its lock
        assert _alive(child), "the recovery ended before it took the session"
        time.sleep(0.02)
    daemon.kill()
    daemon.wait()
    deadline = time.monotonic() + 10
    # Dead, and the session's lock released (the leader shows as a zombie a moment
    # before its last thread has closed its files).
    while (_alive(child) or _locked(part)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the recovery outlived its daemon"
    assert not _locked(part), "the dead recovery still holds the session"
    summary = recover_dataset(tmp_path / "capture", tmp_path / "data")
    assert [s.session for s in summary.sessions] == [writer.session], summary.line()
