"""``benchmarks/recovery_cost.py`` runs and reports every figure README quotes from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import needs_captures

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "recovery_cost.py"


@needs_captures
def test_the_harness_reports_recovery_time_and_loop_lateness() -> None:
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--repeat", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["records"] == 243_476 and 340 < result["data_seconds"] < 350
    assert result["recovery_wall_s"] > 0 and result["minutes_per_day_of_data"] > 0
    assert [row["work"] for row in result["lag"]] == ["idle", "thread", "process"]
    for row in result["lag"]:
        assert row["wakeups"] > 0 and 0 <= row["late_p50_ms"] <= row["late_p99_ms"]
