"""benchmarks/capture_compression.py still runs against today's ``CaptureStream``.

The harness drives the stream's own methods, so a change of their contract (``append``
once returned the compressed bytes, now it says when a batch is full) breaks it
silently until someone runs it: this runs it on a small real recording.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import CAPTURES, needs_captures

ROOT = Path(__file__).resolve().parents[2]


@needs_captures
def test_the_harness_prints_a_figure_per_level() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "capture_compression.py"),
            str(CAPTURES / "bitmex" / "BITMEX.jsonl.gz"),
            "--levels",
            "1,5",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == ["1", "5"]
    for row in rows:  # µs a record and bytes ratio, with zlib-ng (the writer's) and zlib
        assert len(row) >= 5
        assert float(row[1]) > 0 and 0 < float(row[2]) < 1
        assert float(row[3]) > 0 and 0 < float(row[4]) < 1
