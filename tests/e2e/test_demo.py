"""``collector demo`` (what ``make demo`` runs): simulator + daemon offline, clean stop, summary."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_runs_offline_and_summarizes(tmp_path: Path) -> None:
    port = free_port()
    text = (REPO / "config" / "demo.toml").read_text()
    text = text.replace("127.0.0.1:18080", f"127.0.0.1:{port}").replace(
        '"data/demo', f'"{tmp_path}/demo'
    )
    config = tmp_path / "demo.toml"
    config.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "demo", "--config", str(config), "--seconds", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Parquet dataset:" in done.stdout
    for table in ("book", "trades", "bbo", "quality"):
        assert table in done.stdout
        rows = ds.dataset(tmp_path / "demo" / f"table={table}", partitioning="hive").count_rows()
        assert rows > 0, table
    assert not list((tmp_path / "demo").rglob(".*.inprogress"))
