"""``collector replay --jobs``: files replayed at once give the rows of a replay one by one."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import support
from support import CAPTURES, needs_captures

from collector.replay import ReplayError, _replay_parallel, recordings, replay

pytestmark = needs_captures

KRAKEN = [CAPTURES / "kraken" / f"KRAKEN.ws.{n}.jsonl.gz" for n in (48, 49, 50)]
OKX = CAPTURES / "okx" / "OKX.jsonl.gz"
BITFINEX = CAPTURES / "bitfinex" / "BITFINEX.jsonl.gz"
TABLES = ("book", "trades", "bbo", "quality", "derivative_ticker")


def rows(root: Path, table: str) -> list[tuple]:
    """Every row of ``table`` as text, sorted: files split rows differently."""
    path = root / f"table={table}"
    if not path.exists():
        return []
    data = ds.dataset(path, partitioning="hive").to_table()
    return sorted(zip(*(map(str, c.to_pylist()) for c in data.columns), strict=True))


def parquet_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.parquet"))


def truncated_copy(source: Path, folder: Path) -> Path:
    """``source`` cut in the middle of its gzip stream: a damaged file."""
    data = source.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / source.name
    copy.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises((EOFError, gzip.BadGzipFile, OSError)):
        gzip.decompress(copy.read_bytes())
    return copy


def test_jobs_write_the_rows_of_a_replay_one_file_after_another(tmp_path: Path) -> None:
    """Three Kraken sessions share partitions, OKX and Bitfinex have their own, one
    file is damaged: every row, every summary and the damage are those of jobs=1."""
    damaged = truncated_copy(BITFINEX, tmp_path / "cut")
    paths = [*KRAKEN, OKX, damaged]
    one = replay(paths, tmp_path / "one")
    many = replay(paths, tmp_path / "many", jobs=3)
    for table in TABLES:
        assert rows(tmp_path / "many", table) == rows(tmp_path / "one", table), table
    assert rows(tmp_path / "one", "book")
    assert many.files == one.files  # in the order given, damage included
    assert one.files[-1].damage is not None
    assert many.parquet_files == parquet_files(tmp_path / "many") >= one.parquet_files
    assert not list((tmp_path / "many").rglob("*.inprogress"))


def test_progress_hears_of_every_record(tmp_path: Path) -> None:
    heard: list[int] = []
    summary = replay([*KRAKEN, OKX], tmp_path / "o", jobs=2, on_record=heard.append)
    assert sum(heard) == sum(f.records for f in summary.files) > 0


def test_a_file_that_cannot_be_replayed_fails_the_replay(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl.gz"
    junk.write_bytes(gzip.compress(b"not a recording\n"))
    with pytest.raises(ReplayError, match="junk"):
        replay([OKX, junk, *KRAKEN], tmp_path / "o", jobs=2)


def test_cli_jobs(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "collector.cli", "replay", *map(str, [*KRAKEN, OKX])]
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=300, check=False
        )

    one = cli("--out", str(tmp_path / "one"), "--json")
    many = cli("--out", str(tmp_path / "many"), "--json", "--jobs", "0")
    assert one.returncode == many.returncode == 0, many.stderr
    assert json.loads(many.stdout)["files"] == json.loads(one.stdout)["files"]
    bad = cli("--out", str(tmp_path / "bad"), "--jobs", "two")
    assert bad.returncode == 2 and "number of processes" in bad.stderr


def test_a_worker_that_dies_is_a_replay_error(tmp_path: Path) -> None:
    """A worker killed mid-file (the OOM killer) fails the replay with a clear error."""
    with pytest.raises(ReplayError, match=r"died.*fewer --jobs"):
        _replay_parallel(
            recordings([OKX, *KRAKEN]),
            tmp_path,
            3600.0,
            None,
            jobs=2,
            options={},
            on_record=None,
            worker=support.exit_at_once,
        )
