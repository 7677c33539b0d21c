"""A run that never received data writes its end-of-run quality rows at a real time, not 1970."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.dataset as ds
from support import pylist

from collector.cli import main as cli_main
from collector.config import parse_config
from collector.daemon import Daemon


def offline_run(out: Path) -> tuple[int, int]:
    """A daemon for one Binance book that never connects: its silent book is reported
    (as the daemon does after the stale window) and the run ends. Returns the run's
    wall-clock window in ns."""
    config = parse_config(
        f'[output]\ndir = "{out}"\n[capture]\nenabled = false\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n[[exchange]]\nname = "binance-spot"\n'
        'symbols = ["BTCUSDT"]\nchannels = ["book"]\n',
        "test",
    )
    started = time.time_ns()
    daemon = Daemon(config)
    (runner,) = daemon.runners
    try:
        runner._report_silent_books({"BTCUSDT"})
        runner.pipeline.finish()  # what the daemon's shutdown does for each runner
    finally:
        daemon.sink.close()
    return started, time.time_ns()


def test_unsynced_at_end_of_a_run_without_data_is_dated_when_observed(tmp_path, capsys) -> None:
    started, ended = offline_run(tmp_path)
    quality = ds.dataset(tmp_path / "table=quality", partitioning="hive").to_table()
    rows = {r["kind"]: r for r in pylist(quality)}
    assert set(rows) == {"stale", "unsynced_at_end"}
    end = rows["unsynced_at_end"]["ts_recv"]
    assert started <= end <= ended  # observed during the run, by the daemon's clock
    assert not list(tmp_path.rglob("date=1970-*"))

    assert cli_main(["quality", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    text = json.dumps(report)
    assert "1970" not in text
