"""benchmarks/cryptofeed_side_by_side.py without a package registry: it says so and fails.

The harness installs cryptofeed 2.4.1 from the registry into a throwaway venv.
With no registry reachable it must measure nothing, explain why, and exit
non-zero, rather than print ratios against nothing. pip is pointed at an empty
local folder with the index switched off, which is what an offline machine sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import CAPTURES, needs_captures

ROOT = Path(__file__).resolve().parents[2]


@needs_captures
def test_no_registry_means_a_clear_message_and_exit_2(tmp_path: Path) -> None:
    wheels = tmp_path / "no-wheels"
    wheels.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_CONFIG_FILE": os.devnull,
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "cryptofeed_side_by_side.py"),
            str(CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"),
            "--venv",
            str(tmp_path / "venv"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # no figures
    assert "cannot install cryptofeed==2.4.1" in done.stderr
    assert "needs the package registry" in done.stderr
    assert "nothing was measured" in done.stderr
    assert "No matching distribution found for cryptofeed==2.4.1" in done.stderr  # pip's words
