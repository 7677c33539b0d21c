"""Where the core cannot be compiled, the install still succeeds and the collector runs on the
reference path, saying so once.

Both halves of that promise are checked here by making them happen: ``setup.py``'s
``build_ext`` with a compiler that always fails, and a replay in a process where the
compiled module cannot be imported.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import CAPTURES, needs_captures

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    importlib.util.find_spec("Cython") is None, reason="Cython (a test extra) is not installed"
)
def test_a_failed_compile_is_one_warning_and_no_extension(tmp_path: Path) -> None:
    shutil.copy(REPO / "setup.py", tmp_path)
    native = tmp_path / "collector" / "native"
    native.mkdir(parents=True)
    for name in ("_core.pyx", "core.h"):
        shutil.copy(REPO / "collector" / "native" / name, native)
    env = {**os.environ, "CC": "/bin/false", "LDSHARED": "/bin/false"}
    build = [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", "lib"]
    done = subprocess.run(
        [*build, "--build-temp", "tmp"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and "collector.native._core not built" in warnings[0]
    assert "reference path" in warnings[0]
    assert not list(tmp_path.rglob("*.so"))


_WITHOUT_CORE = """
import importlib.abc, sys

class NotBuilt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "collector.native._core":
            raise ImportError("no compiler on this machine (simulated)")
        return None

sys.meta_path.insert(0, NotBuilt())
from collector.cli import main
sys.argv[0] = "collector"
sys.exit(main())
"""


@needs_captures
def test_without_the_core_a_replay_says_so_once_and_runs(tmp_path: Path) -> None:
    recording = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
    env = {k: v for k, v in os.environ.items() if k != "COLLECTOR_NATIVE"}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_CORE, "replay", str(recording), "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "native core not built" in line]
    assert len(said) == 1 and "reference path" in said[0], done.stderr
    assert "simulated" in said[0]
    assert list(tmp_path.rglob("*.parquet"))
