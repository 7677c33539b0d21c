"""``collector compact``: every row kept (exact decimals), sorted, near the target size,
and a crash at any step leaves one complete, readable set of files.

The dataset is written by the real sink (``synthetic.py``): two instances, one
file a minute per table, awkward 18-digit decimals, a second day that must not be
touched. A crash is simulated by raising from ``compact.checkpoint`` after a
protocol step: nothing after it runs, nothing is cleaned up, as with ``kill -9``.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from failing_disk import ERRNOS, FailingDisk
from s3support import S3Server, s3, s3_env  # noqa: F401 - fixtures
from synthetic import DAY, write_dataset

from collector import compact as compaction
from collector.cli import main as cli
from collector.compact import JOURNAL, CompactError, compact
from collector.dataset import duckdb_relation, open_table
from collector.storage import Location, resolve

MIB = 2**20
NEXT_DAY = "2026-11-28"
KEYS = {
    "book": ["symbol", "ts_recv", "apply_seq"],
    "trades": ["symbol", "ts_recv"],
    "quality": ["symbol", "ts_recv"],
}


class _Crash(BaseException):
    """Stands for kill -9: not an Exception, so no cleanup path catches it."""


def _plain(table: pa.Table) -> pa.Table:
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def _rows(root: object, table: str) -> pa.Table:
    """Every row of ``table`` in a canonical order (a multiset check once compared)."""
    data = _plain(open_table(root, table))  # type: ignore[arg-type]
    order = [*KEYS[table], "detail" if table == "quality" else "price", "date"]
    return data.sort_by([(c, "ascending") for c in order])


def _files(root: Path, table: str, date: str = DAY) -> list[Path]:
    return sorted((root / f"table={table}" / "exchange=binance-spot" / f"date={date}").iterdir())


def _glob_count(root: Path, table: str) -> int:
    """Rows a plain ``*.parquet`` glob reader (DuckDB) sees for ``DAY``."""
    pattern = f"{root}/table={table}/*/date={DAY}/*.parquet"
    return duckdb.sql(f"select count(*) from read_parquet('{pattern}')").fetchall()[0][0]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small") / "data"
    write_dataset(root, minutes=12, rows=100)
    return root


def test_every_row_kept_sorted_and_files_near_the_target(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_dataset(root, minutes=30, rows=2000)
    before = {t: _rows(root, t) for t in KEYS}
    counts = {t: _glob_count(root, t) for t in KEYS}
    untouched = _files(root, "trades", NEXT_DAY)
    originals = _files(root, "book")
    assert len(originals) == 30

    results = {
        r.path.split("/")[0][6:]: r for r in compact(resolve(str(root)), DAY, target_bytes=MIB)
    }

    for table in KEYS:
        assert _rows(root, table).equals(before[table]), table  # exact decimals included
        assert _glob_count(root, table) == counts[table]
        assert results[table].rows == counts[table]
        assert sum(results[table].symbols.values()) == counts[table]
    # Files near the target: all but the last within 30 % below it, none much above.
    for table in ("book", "trades"):
        sizes = [size for _, size in results[table].outputs]
        assert len(sizes) >= 2, (table, sizes)
        assert all(0.7 * MIB <= s <= 1.1 * MIB for s in sizes[:-1]), (table, sizes)
        assert sizes[-1] <= 1.1 * MIB
        paths = _files(root, table)
        assert [p.name for p in paths] == [name for name, _ in results[table].outputs]
        assert [p.stat().st_size for p in paths] == sizes
        # Sorted by symbol, then time (then apply_seq for book), within and across files.
        merged = pa.concat_tables(_plain(pq.read_table(p)) for p in paths)
        keys = [(c, "ascending") for c in KEYS[table]]
        assert merged.select(KEYS[table]).equals(merged.sort_by(keys).select(KEYS[table]))
    assert _files(root, "trades", NEXT_DAY) == untouched
    assert not [p for p in root.rglob(".*")]  # no staged file, no journal left

    again = compact(resolve(str(root)), DAY, target_bytes=MIB)
    assert {r.skipped for r in again} == {"already compact"}


STEPS = ["staged", "verified", "journal", "published:0", "deleted:0", "deleted:7"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_leaves_one_complete_set(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    root = tmp_path / "data"
    shutil.copytree(small, root)
    before = _rows(root, "trades")
    day_rows = pc.sum(pc.equal(before["date"], DAY)).as_py()
    originals = [p.name for p in _files(root, "trades")]

    def crash(at: str) -> None:
        if at == step:
            raise _Crash(at)

    monkeypatch.setattr(compaction, "checkpoint", crash)
    with pytest.raises(_Crash):
        compact(resolve(str(root)), DAY, target_bytes=MIB, tables=["trades"])
    # Our readers see exactly one complete set, whatever the crash left.
    assert _rows(root, "trades").equals(before)
    relation = duckdb_relation(root, "trades", connection=duckdb.connect())
    assert relation.aggregate("count(*)").fetchall()[0][0] == before.num_rows
    committed = (_files(root, "trades")[0].parent / JOURNAL).exists()
    assert committed == (step not in ("staged", "verified"))
    if not committed:  # before the commit, even a plain glob sees only the originals
        assert [p.name for p in _files(root, "trades") if p.name[0] != "."] == originals
        assert _glob_count(root, "trades") == day_rows

    monkeypatch.setattr(compaction, "checkpoint", lambda _at: None)
    compact(resolve(str(root)), DAY, target_bytes=MIB, tables=["trades"])  # finishes the job
    assert _rows(root, "trades").equals(before)
    assert _glob_count(root, "trades") == day_rows
    names = [p.name for p in _files(root, "trades")]
    assert len(names) == 1 and names[0].startswith("trades.compacted-20261127-"), names


def test_a_verification_failure_keeps_the_originals(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    shutil.copytree(small, root)
    before = [p.name for p in _files(root, "book")]
    write = compaction._Output.write

    def lossy(self: compaction._Output, chunk: pa.Table) -> None:
        write(self, chunk.slice(1))  # a bug that loses one row per row group

    monkeypatch.setattr(compaction._Output, "write", lossy)
    with pytest.raises(CompactError, match="differ from the originals"):
        compact(resolve(str(root)), DAY, target_bytes=MIB, tables=["book"])
    assert [p.name for p in _files(root, "book")] == before  # nothing staged is left


def _parquet(keys: list[str]) -> list[str]:
    return [k for k in keys if k.endswith(".parquet")]


def test_compact_an_s3_dataset(
    small: Path,
    s3: S3Server,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3.create_bucket("compact")
    lake = resolve("s3://compact/data", endpoint_url=s3.endpoint)
    pafs.copy_files(str(small), lake.path, destination_filesystem=lake.fs)
    before = _rows(lake, "trades")
    prefix = f"data/table=trades/exchange=binance-spot/date={DAY}/"
    assert len(_parquet(s3.keys("compact", prefix))) == 12

    def crash(at: str) -> None:
        if at == "published:0":  # the new object is listed, no original deleted yet
            raise _Crash(at)

    monkeypatch.setattr(compaction, "checkpoint", crash)
    with pytest.raises(_Crash):
        compact(lake, DAY, target_bytes=64 * MIB, tables=["trades"])
    assert len(_parquet(s3.keys("compact", prefix))) == 13
    assert _rows(lake, "trades").equals(before)  # the journal picks one complete set
    monkeypatch.setattr(compaction, "checkpoint", lambda _at: None)

    args = ["--table", "trades", "--endpoint-url", s3.endpoint, "--target-size", "64MB"]
    code = cli(["compact", "s3://compact/data", "--date", DAY, *args])
    assert code == 0
    keys = [k for k in s3.keys("compact", prefix) if not k.endswith("/")]  # not dir markers
    assert len(keys) == 1 and keys[0].split("/")[-1].startswith("trades.compacted-"), keys
    assert _rows(lake, "trades").equals(before)
    assert len(_parquet(s3.keys("compact", "data/table=book/"))) == 12  # untouched


# -- a failing disk at each step -------------------------------------------------
#
# Every write compaction makes can fail (ENOSPC, EIO, EACCES): the staged files, the
# journal, the renames, the deletes and the fsyncs. Whatever step fails, readers
# keep seeing every row exactly once, the error says whether the originals are still
# the truth, and a run after the disk heals finishes with nothing hidden left behind.

#: step -> (checkpoint after which the disk fails, or a special arming; committed?)
FAULT_STEPS = {
    "opening a staged file": ("start", False),
    "in the middle of a staged file": ("first chunk", False),
    "writing the journal": ("verified", False),
    "publishing a new file": ("journal", True),
    "deleting an original": ("deleted:0", True),
    "syncing the directory at the end": ("last fsync", False),
}


@pytest.mark.parametrize("errno_name", sorted(ERRNOS))
@pytest.mark.parametrize("step", list(FAULT_STEPS))
def test_a_failing_disk_at_any_step_loses_nothing(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, errno_name: str
) -> None:
    root = tmp_path / "data"
    shutil.copytree(small, root)
    before = _rows(root, "book")
    disk = FailingDisk(monkeypatch, root, modules=(compaction,))
    location = Location(disk.filesystem(), str(root), str(root))
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    code = ERRNOS[errno_name]
    when, committed = FAULT_STEPS[step]
    if when == "start":
        disk.fail(code)
    elif when == "first chunk":
        write = compaction._Output.write

        def then_fail(self: compaction._Output, chunk: pa.Table) -> None:
            write(self, chunk)
            disk.fail(code)

        monkeypatch.setattr(compaction._Output, "write", then_fail)
    elif when == "last fsync":  # the journal is deleted: only the directory's fsync is left
        fsync_dir = compaction._fsync_dir

        def fail_then_sync(directory: Path) -> None:
            if not (directory / JOURNAL).exists():
                disk.fail(code)
            fsync_dir(directory)

        monkeypatch.setattr(compaction, "_fsync_dir", fail_then_sync)
    else:
        monkeypatch.setattr(compaction, "checkpoint", lambda at: at == when and disk.fail(code))

    with pytest.raises(CompactError) as failure:
        compact(location, DAY, target_bytes=MIB, tables=["book"])
    assert disk.failures >= 1
    message = str(failure.value)
    assert os.strerror(code) in message, message
    assert (_files(root, "book")[0].parent / JOURNAL).exists() == committed
    if when == "last fsync":
        assert "the new files are in place" in message, message
    else:
        assert ("run compact again to finish" if committed else "originals kept") in message
    disk.heal()
    assert _rows(root, "book").equals(before)  # every row, exactly once, while broken
    del failure  # its traceback holds the run's frames
    gc.collect()
    assert unraisable == []  # no writer left open to fail later

    monkeypatch.undo()  # a healthy disk, and compaction as it is
    compact(location, DAY, target_bytes=MIB, tables=["book"])
    assert _rows(root, "book").equals(before)
    names = [p.name for p in _files(root, "book")]
    assert names and all(n.startswith("book.compacted-20261127-") for n in names), names
    assert not [p for p in root.rglob(".*")]  # no staged file, journal or temporary left
