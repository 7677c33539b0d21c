"""``collector demo`` (what ``make demo`` runs): simulator + daemon offline, clean stop, summary.

It must work the first time, anywhere: from a folder that is not the checkout
(the config ships in the package), with 127.0.0.1:18080 taken (the simulator
moves, the URLs follow), and twice in a row (each run its own dataset, graded A).
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds

from collector.demo import DEFAULT_CONFIG
from collector.quality import build_report

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def port_taken(port: int) -> Iterator[None]:
    """Listen on ``port`` for the duration (if something else already does, it is taken)."""
    with socket.socket() as s:
        with contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            s.listen()
        yield


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_checkout_config_is_the_packaged_one() -> None:
    assert DEFAULT_CONFIG.read_bytes() == (REPO / "config" / "demo.toml").read_bytes()


def test_demo_twice_with_its_port_taken_from_any_folder(tmp_path: Path) -> None:
    roots = []
    with port_taken(18080):
        for _ in range(2):
            done = demo(tmp_path, "--seconds", "4")
            assert done.returncode == 0, done.stderr[-3000:]
            out = " ".join(done.stdout.split())  # rich wraps long lines
            assert re.search(r"simulator on 127\.0\.0\.1:(?!18080\b)\d+ \(18080 is taken\)", out)
            roots.append(Path(re.search(r"Parquet dataset \(new for this run\): (\S+)", out)[1]))
    assert roots[0] != roots[1]
    assert sorted(p.parent for p in roots) == [tmp_path / "data" / "demo"] * 2
    for root in roots:
        for table in ("book", "trades", "bbo", "quality"):
            rows = ds.dataset(root / f"table={table}", partitioning="hive").count_rows()
            assert rows > 0, table
        assert (root / "capture").is_dir()
        assert not list(root.rglob(".*.inprogress"))
        report, _ = build_report(root)
        assert report.grade == "A", report.reasons
        for ex in report.exchanges:
            assert ex.events.get("shutdown", 0) > 0 and "disconnect" not in ex.events
