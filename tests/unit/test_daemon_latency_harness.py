"""benchmarks/daemon_latency.py still runs the daemon against the simulator and reports.

Issue 12's daemon targets are read off this harness, and it drives the daemon's
internals (its runners, pipeline and sink), so a change there can break it silently
until someone next measures: this runs it for a short window at a low rate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_harness_measures_a_short_run() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "daemon_latency.py"),
            *("--rate", "400", "--symbols", "2", "--seconds", "2", "--warmup-s", "0.5"),
            *("--writer-thread", "on", "--rotate-seconds", "1", "--json"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert result["writer_thread"] is True
    assert result["frames_per_s"] > 0 and result["stamped_frames"] > 0
    assert result["frame_to_row_ms_p50"] > 0
    assert result["loop_lag_ms_p99"] >= result["loop_lag_ms_p50"] >= 0
    # The probe thread's CPU is its own line, not part of the daemon's.
    assert result["probe_cpu_percent"] > 0
    assert 0 < result["daemon_cpu_percent"] < 100 * (os.cpu_count() or 1)
    assert result["parquet_files"] > 0 and result["problems"] == 0
