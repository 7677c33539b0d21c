"""The sink's per-hand-off bookkeeping does not walk what it holds.

The writer thread reads ``ParquetSink.buffered_bytes`` after every hand-off. Summing
every buffered batch there cost 139 ms a read, GIL held, for ten venues' quotes and
trades 290 s into 300 s files (``benchmarks/sink_bookkeeping.py``), about twenty
times a second. So the sink keeps a running count per partition, and reading it
must not look at a single batch, however many are held.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from collector.sinks import parquet

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "benchmarks" / "sink_bookkeeping.py"


def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sink_bookkeeping", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reading_the_held_bytes_walks_no_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_off = harness().hand_off
    sink = parquet.ParquetSink(tmp_path, rotate_seconds=300)
    for second in range(60):
        for venue in ("binance-usdm", "okx", "bybit"):
            for name, table in hand_off(second, quotes=20, trades=2).items():
                sink.write(name, venue, table)
    assert sum(len(s.batches) for s in sink._segments()) >= 300
    expected = sum(
        parquet._held_bytes(b) for s in sink._segments() for b in (*s.batches, *s.groups)
    )
    measured: list[object] = []
    real = parquet._held_bytes
    monkeypatch.setattr(parquet, "_held_bytes", lambda data: measured.append(data) or real(data))
    assert sink.buffered_bytes == expected
    assert measured == []
    sink.close()


def test_the_harness_prints_each_interval() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            *("--venues", "2", "--seconds", "4", "--every", "2", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["second"] for r in rows] == [2, 4]
    assert rows[1]["batches_held"] > rows[0]["batches_held"] > 0
    assert all(r["buffered_bytes"] > 0 and r["write_us"] > 0 for r in rows)
