"""``collector replay --out s3://...`` writes to object storage, never to a folder named ``s3:``.

Against moto's S3 server on loopback, found through ``AWS_ENDPOINT_URL`` as a
user's environment would point at MinIO: the objects read back as exactly the
rows a local replay writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from s3support import FaultProxy, S3Server, s3, s3_env  # noqa: F401 - fixtures
from support import CAPTURES, needs_captures

import collector.replay as replay_module
from collector.dataset import book_at
from collector.replay import ReplayError, replay
from collector.storage import resolve

pytestmark = needs_captures

FUTURES = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
BUCKET = "replayed"
END = "2021-07-22T22:26:11"  # inside the recording


def _rows(dataset: ds.Dataset) -> list[dict]:
    """Every row, columns and rows in a fixed order (file boundaries do not matter)."""
    data = dataset.to_table()
    return sorted(data.select(sorted(data.column_names)).to_pylist(), key=repr)


def test_replay_out_s3_equals_a_local_replay(
    s3: S3Server,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    s3.create_bucket(BUCKET)
    local = tmp_path / "local"
    replay([FUTURES], local)
    env = os.environ | {
        "AWS_ENDPOINT_URL": s3.endpoint,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector.cli",
            "replay",
            str(FUTURES),
            "--out",
            f"s3://{BUCKET}/d",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "s3:").exists()
    assert list(tmp_path.iterdir()) == [local]
    keys = s3.keys(BUCKET, "d/")
    local_files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*.parquet"))
    assert len(keys) == len(local_files) > 0
    # Every reader of a dataset takes the same location: the quality report...
    quality = [sys.executable, "-m", "collector.cli", "quality", "--json"]
    reports = [
        subprocess.run([*quality, where], capture_output=True, text=True, timeout=300, env=env)
        for where in (str(local), f"s3://{BUCKET}/d")
    ]
    assert [r.returncode for r in reports] == [0, 0], reports[1].stderr
    local_report, remote_report = (json.loads(r.stdout) for r in reports)
    for report in (local_report, remote_report):
        del report["dataset"], report["generated_at"]
    assert remote_report == local_report
    # ...the dataset API, and plain pyarrow.
    remote = resolve(f"s3://{BUCKET}/d", endpoint_url=s3.endpoint)
    book = book_at(remote, "binance-usdm", "SUSHIUSDT", END)
    assert book.bids and book.asks
    assert book == book_at(local, "binance-usdm", "SUSHIUSDT", END)
    for table in ("book", "bbo", "trades", "quality"):
        path = remote.join(f"table={table}")
        got = _rows(ds.dataset(path, filesystem=remote.fs, partitioning="hive"))
        assert got == _rows(ds.dataset(local / f"table={table}", partitioning="hive"))


def test_failed_uploads_keep_the_files_and_say_where(
    s3: S3Server,  # noqa: F811 - the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store refuses every upload: the error names the folder holding every file."""
    s3.create_bucket("refusing")
    monkeypatch.setattr(replay_module, "UPLOAD_TIMEOUT_S", 2.0)
    with FaultProxy(s3.port) as proxy:
        proxy.rule = lambda method, _path: "fail" if method in ("PUT", "POST") else None
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        with pytest.raises(ReplayError, match=r"could not be uploaded .* kept in (\S+)") as info:
            replay([FUTURES], "s3://refusing/d")
    kept = Path(str(info.value).rpartition(" kept in ")[2])
    local = replay([FUTURES], tmp_path / "local")
    assert len(list(kept.rglob("*.parquet"))) == local.parquet_files > 0
    assert s3.keys("refusing") == []
    shutil.rmtree(kept)


def test_missing_bucket_fails_before_replaying(
    s3: S3Server,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    env = os.environ | {
        "AWS_ENDPOINT_URL": s3.endpoint,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "replay", str(FUTURES), "--out", "s3://nope/p"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "replay failed: cannot write to s3://nope/p: bucket 'nope' does not exist"
    )
    assert list(tmp_path.iterdir()) == []


def test_unreachable_store_fails_before_replaying(tmp_path: Path) -> None:
    """A store nobody answers at: one clear line, exit 2, nothing written anywhere."""
    from s3support import free_port

    env = os.environ | {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "replay", str(FUTURES), "--out", "s3://b/p"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 2
    assert "cannot write to s3://b/p" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_replay_with_jobs_uploads_every_file_its_workers_publish(
    s3: S3Server,  # noqa: F811 - the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers finish files in the local spool; the replaying process uploads them."""
    s3.create_bucket(BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    spot = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
    local = replay([FUTURES, spot], tmp_path / "local")
    remote_summary = replay([FUTURES, spot], f"s3://{BUCKET}/j", jobs=2)
    assert remote_summary.files == local.files
    assert len(s3.keys(BUCKET, "j/")) == remote_summary.parquet_files >= local.parquet_files
    remote = resolve(f"s3://{BUCKET}/j", endpoint_url=s3.endpoint)
    for table in ("book", "bbo", "trades", "quality"):
        path = remote.join(f"table={table}")
        got = _rows(ds.dataset(path, filesystem=remote.fs, partitioning="hive"))
        assert got == _rows(ds.dataset(tmp_path / "local" / f"table={table}", partitioning="hive"))
    # The store holds these recordings now: a second replay is refused before writing,
    # and resuming one that has nothing left to write publishes nothing.
    keys = s3.keys(BUCKET, "j/")
    with pytest.raises(ReplayError, match="would add its rows twice"):
        replay([spot], f"s3://{BUCKET}/j")
    resumed = replay([FUTURES, spot], f"s3://{BUCKET}/j", jobs=2, resume=True)
    assert resumed.parquet_files == 0 and s3.keys(BUCKET, "j/") == keys
    written = ds.dataset(f"{BUCKET}/j", filesystem=remote.fs).count_rows()
    assert sum(f.resumed for f in resumed.files) == written
