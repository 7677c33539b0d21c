"""Processes for the e2e tests that need real ones: ``collector simulate`` and ``collector run``.

Shared by ``test_process`` (signals, kill -9) and ``test_crash_recovery``; the
checks are made on disk, the way a reader of the dataset or the next daemon sees it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from harness import HOSTS, read_table

from collector.capture.reader import list_capture_files, read_capture
from collector.simulator.process import start_simulator, stop

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"
#: Seconds a daemon gets to exit after SIGTERM; shutdown flushes and fsyncs everything.
STOP_TIMEOUT_S = 30.0
#: Seconds a freshly started daemon gets to connect (open its capture file).
START_TIMEOUT_S = 20.0


# --------------------------------------------------------------------------- processes


def _cli(*args: str) -> list[str]:
    """``collector`` with this interpreter, so the child uses the same venv as pytest."""
    return [sys.executable, "-m", "collector.cli", *args]


@pytest.fixture(scope="module")
def sim_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A ``collector simulate`` child process generating one USD-M book every 10 ms."""
    log = tmp_path_factory.mktemp("simulator") / "simulator.log"
    args = ["--port", "0", "--exchanges", SLUG, "--symbols", SYMBOL, "--interval-ms", "10"]
    proc, port = start_simulator(args, log=log, timeout_s=20.0)
    try:
        yield port
    finally:
        stop(proc)


class Daemons:
    """Starts ``collector run`` children and makes sure none outlives the test."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, config: Path) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(_cli("run", "--config", str(config)), stdout=out, stderr=out)
        self.running.append(proc)
        return proc

    def terminate(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGTERM, as a service manager stops it; the exit code, or fail after 30 s."""
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"no exit {STOP_TIMEOUT_S} s after SIGTERM\n{self.tail()}"
            ) from None

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait(10)

    def tail(self) -> str:
        """The end of the daemons' log, for assertion messages."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def close(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    started = Daemons(tmp_path / "daemon.log")
    try:
        yield started
    finally:
        started.close()


def write_config(
    root: Path,
    port: int,
    *,
    rotate_seconds: float | None,
    metrics_port: int = 0,
    symbols: tuple[str, ...] = (SYMBOL,),
) -> Path:
    """A daemon config under ``root`` with every URL of the venue pointed at the simulator.

    The same keys as ``harness.daemon_config``, but as a file: the child reads it.
    ``rotate_seconds=None`` keeps the default, as ``config/default.toml`` does.
    """
    ws, rest = HOSTS[SLUG]
    base = f"127.0.0.1:{port}/{SLUG}"
    rotate = "" if rotate_seconds is None else f"rotate_seconds = {rotate_seconds}"
    text = f"""
[output]
dir = "{root / "data"}"
{rotate}

[capture]
dir = "{root / "capture"}"

[daemon]
flush_interval_s = 0.2

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[exchange]]
name = "{SLUG}"
symbols = {list(symbols)!r}
rewrite = {{ "{ws}" = "ws://{base}", "{rest}" = "http://{base}" }}
"""
    path = root / "collector.toml"
    path.write_text(text.replace("'", '"'), encoding="utf-8")
    return path


def wait_until(
    check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, daemons: Daemons
) -> None:
    """Poll ``check`` until true; fail at once if the daemon died, or after the start timeout."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        if proc.poll() is not None:
            raise AssertionError(
                f"daemon exited ({proc.returncode}) waiting for {what}\n{daemons.tail()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {START_TIMEOUT_S} s waiting for {what}\n{daemons.tail()}"
            )
        time.sleep(0.02)


# --------------------------------------------------------------------------- the dataset


def parquet_files(data: Path) -> set[Path]:
    """Published files only: ``**/*.parquet`` cannot match the ``.NAME.inprogress`` temporaries."""
    return set(data.glob("**/*.parquet"))


def sorted_table(root: Path, name: str) -> pa.Table:
    """A whole table in one total order (every column a key), so two datasets compare."""
    table = read_table(root, name)
    assert table is not None, f"no {name} table under {root}"
    return table.sort_by([(column, "ascending") for column in table.column_names])


def assert_readable(data: Path, capture: Path, context: str) -> None:
    """What a reader, or the next daemon, finds after a crash: nothing partial, nothing broken."""
    for path in parquet_files(data):
        try:
            pq.read_table(path)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"{context}: published {path} does not read: {exc!r}") from exc
    if (data / "table=book").exists():
        rows = ds.dataset(data / "table=book", partitioning="hive").count_rows()
        # The readers users use see the same, complete files (globs skip .inprogress).
        pattern = str(data / "table=book" / "**" / "*.parquet")
        assert duckdb.sql(f"select count(*) from read_parquet('{pattern}')").fetchall() == [(rows,)]
        assert pl.scan_parquet(pattern).select(pl.len()).collect().item() == rows
    for path in list_capture_files(capture):
        records = list(read_capture(path))  # stops quietly at a cut tail, raises on anything else
        assert all(r.ts > 0 for r in records), f"{context}: {path}"


def more_captures(capture: Path, than: int) -> Callable[[], bool]:
    """True once a daemon has connected: its first record opens a new capture file."""
    return lambda: len(list_capture_files(capture)) > than
