"""``BackgroundRecovery``: what the child meets reaches the parent, whatever it is.

The daemon's own path (a real recovery while collecting, and one stopped midway) is
``tests/e2e/test_background_recovery.py``; here, the two ways a child can fail.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
from support import CAPTURES, load_records, needs_captures

from collector.capture.writer import CaptureWriter
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
