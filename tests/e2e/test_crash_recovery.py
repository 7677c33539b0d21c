"""Crash recovery and a really full disk, with the daemon as a real process.

* kill -9 after 10-15 s with the default config (files published every few
  minutes, so nothing is published yet), then a restart: every book and trade
  row the killed run received is in the dataset exactly once, in files that name
  the killed run's session, and ``collector recover`` afterwards finds nothing;
* data and capture on a small tmpfs that fills up: ``/health`` goes 503 naming
  ENOSPC within seconds, an ERROR line names the path, collection resumes by
  itself once space returns (``/health`` 200), SIGTERM exits 0, every file reads
  and no row was lost. Skipped where the machine does not let a test mount one.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from processes import (
    Daemons,
    assert_readable,
    daemons,
    sim_port,
    sorted_table,
    wait_until,
    write_config,
)
from s3support import S3Server, s3, s3_env

from collector.capture.reader import capture_header, list_capture_files
from collector.replay import replay
from collector.sinks.parquet import SESSION_KEY
from collector.storage import resolve

__all__ = ["daemons", "s3", "s3_env", "sim_port"]  # fixtures, used by name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def rows_by_session(data: Path, table: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in data.glob(f"table={table}/**/*.parquet"):
        meta = pq.read_metadata(path)
        session = (meta.metadata or {}).get(SESSION_KEY.encode(), b"").decode()
        counts[session] = counts.get(session, 0) + meta.num_rows
    return counts


def test_kill_9_with_the_default_config_then_restart_loses_no_row(
    sim_port: int, tmp_path: Path, daemons: Daemons
) -> None:
    config = write_config(tmp_path, sim_port, rotate_seconds=None)  # the default rotation
    data, capture = tmp_path / "data", tmp_path / "capture"
    proc = daemons.start(config)
    wait_until(lambda: bool(list_capture_files(capture)), proc, "a capture file", daemons)
    time.sleep(random.uniform(10.0, 15.0))
    daemons.kill(proc)
    (leftover,) = list_capture_files(capture)
    killed = capture_header(leftover)["session"]
    assert leftover.name.endswith(".inprogress")
    assert not list(data.glob("table=book/**/*.parquet")), "published although rotation is 300 s"

    proc = daemons.start(config)
    wait_until(lambda: len(list_capture_files(capture)) == 2, proc, "the restart", daemons)
    time.sleep(2.0)
    assert daemons.terminate(proc) == 0, daemons.tail()
    assert "crash recovery:" in daemons.tail()
    assert_readable(data, capture, "after recovery")
    files = list_capture_files(capture)
    assert not [f for f in files if f.name.endswith(".inprogress")], files

    # The killed session alone, replayed, is what the dataset holds of it: exactly.
    (killed_file,) = [f for f in files if capture_header(f)["session"] == killed]
    replay([killed_file], tmp_path / "killed")
    for table in ("book", "trades"):
        expected = sorted_table(tmp_path / "killed", table)
        assert expected.num_rows > 0, table
        assert rows_by_session(data, table)[killed] == expected.num_rows, table
    # And the whole dataset is every session's capture, each row once.
    replay(files, tmp_path / "replayed")
    for table in ("book", "trades"):
        live, again = sorted_table(data, table), sorted_table(tmp_path / "replayed", table)
        assert live.equals(again), (table, live.num_rows, again.num_rows)

    # Nothing is left for an on-demand recovery.
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "recover", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to recover" in done.stdout


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, or a skip saying why there is none."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {made.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; the file that does it."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_filesystem_is_loud_heals_and_loses_no_row(
    sim_port: int, small_disk: Path, daemons: Daemons
) -> None:
    metrics_port = free_port()
    config = write_config(small_disk, sim_port, rotate_seconds=1, metrics_port=metrics_port)
    data, capture = small_disk / "data", small_disk / "capture"
    proc = daemons.start(config)
    wait_until(lambda: health(metrics_port)[0] == 200, proc, "a healthy daemon", daemons)

    filler = fill(small_disk)
    started = time.monotonic()
    wait_until(lambda: health(metrics_port)[0] == 503, proc, "/health 503", daemons)
    noticed = time.monotonic() - started
    _, report = health(metrics_port)
    assert "ENOSPC" in json.dumps(report.get("writes")), report
    time.sleep(2.0)  # keeps receiving while the disk is full
    assert proc.poll() is None
    log = daemons.tail()
    assert "ERROR" in log and "ENOSPC" in log and str(small_disk) in log, log

    filler.unlink()
    wait_until(lambda: health(metrics_port)[0] == 200, proc, "/health 200 again", daemons)
    time.sleep(1.5)  # rows received after recovery are published too
    assert daemons.terminate(proc) == 0, daemons.tail()
    assert noticed < 10.0, f"the full disk took {noticed:.1f} s to show in /health"

    assert_readable(data, capture, "after the full disk")
    replay(list_capture_files(capture), small_disk / "replayed")
    for table in ("book", "trades"):
        live, again = sorted_table(data, table), sorted_table(small_disk / "replayed", table)
        assert live.equals(again), (table, live.num_rows, again.num_rows)


def test_kill_9_on_object_storage_recovers_without_uploading_a_row_twice(
    sim_port: int,
    tmp_path: Path,
    daemons: Daemons,
    s3: S3Server,
) -> None:
    """Dataset and capture in a bucket (moto on loopback): files published before the
    kill are already uploaded and gone from the spool, so recovery must look them up
    in the store, or it would upload their rows again."""
    s3.create_bucket("crash")
    config = write_config(tmp_path, sim_port, rotate_seconds=0.5)
    text = config.read_text()
    for name in ("data", "capture"):
        text = text.replace(
            f'dir = "{tmp_path / name}"',
            f'dir = "s3://crash/{name}"\nendpoint_url = "{s3.endpoint}"\n'
            f'spool_dir = "{tmp_path / "spool" / name}"',
        )
    config.write_text(text)
    uploaded = lambda: len(s3.keys("crash", "data/table=book/")) >= 3  # noqa: E731
    proc = daemons.start(config)
    wait_until(uploaded, proc, "book files in the bucket", daemons)
    time.sleep(random.uniform(0.5, 2.0))
    daemons.kill(proc)
    proc = daemons.start(config)
    wait_until(lambda: "crash recovery:" in daemons.tail(), proc, "the recovery", daemons)
    time.sleep(2.0)
    assert daemons.terminate(proc) == 0, daemons.tail()

    lake = resolve("s3://crash", endpoint_url=s3.endpoint)
    local = {}
    for name in ("data", "capture"):
        local[name] = tmp_path / f"bucket-{name}"
        pafs.copy_files(
            lake.join(name),
            str(local[name]),
            source_filesystem=lake.fs,
            destination_filesystem=pafs.LocalFileSystem(),
        )
    captures = list_capture_files(local["capture"])
    assert len(captures) == 2 and not [c for c in captures if c.name.endswith("inprogress")]
    replay(captures, tmp_path / "replayed")
    for table in ("book", "trades"):
        live = sorted_table(local["data"], table)
        again = sorted_table(tmp_path / "replayed", table)
        assert live.equals(again), (table, live.num_rows, again.num_rows)
