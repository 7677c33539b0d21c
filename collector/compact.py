"""``collector compact``: merge a day's small files into large, sorted ones, crash-safely.

The daemon rotates files by time and size, so a day of a partition
(``table=T/exchange=E/date=D``) is many small files in arrival order. Compaction
rewrites them as files of about ``target_bytes`` sorted by ``symbol``, then
``ts_recv`` (then ``apply_seq`` for ``book``), so a reader of one symbol touches
one or two files and row-group statistics prune by symbol and time.

The protocol, per partition, and why it is safe at every crash point:

1. **Roll forward** an earlier run's journal, if any (step 5 below), and delete
   staged files without a journal (a run that crashed before committing).
2. **Stage**: write the new files under hidden names, ``.NAME.parquet.compacting``
   in the partition (on object storage: built locally, uploaded whole). The leading
   dot hides them from pyarrow datasets and the suffix from ``*.parquet`` globs
   (DuckDB, Polars), so no reader sees them.
3. **Verify**: read the staged files back from the store and compare them with the
   originals, sorted the same way, per group of symbols: every row and every exact
   decimal must be equal (``Table.equals``), not just counts. Mismatch: staged files
   are deleted and the originals stay; nothing else was touched.
4. **Commit**: write the journal ``.compact-journal.json`` (one atomic object or an
   fsynced rename), naming the originals and the new files. From here on the new
   set is the truth and every later run finishes the job (step 1).
5. **Publish** each staged file under its final name (``os.replace``; on S3 a
   server-side copy, atomic per object, then the staged copy is deleted), **delete**
   the originals, delete the journal.

A crash before step 4 leaves the originals, complete, and hidden leftovers that
the next run removes. A crash after it leaves a journal the next run completes.
Between the first publish and the last delete (milliseconds locally, a round trip
per file on S3) a plain ``*.parquet`` glob lists new files *and* originals: no
object store can swap a set of files atomically. Readers of this project
(``collector.dataset``, ``collector quality``) apply :func:`live_files`, which
uses the journal to pick exactly one complete set at every instant; other readers
should not query a partition while it is being compacted, and after a crash
should run ``collector compact`` again (it finishes first) before querying.

Only the files listed at step 2 are touched: files a running daemon publishes
meanwhile stay as they are (the next compaction merges them).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from collector import schema
from collector.sinks import encoding
from collector.storage import Location, upload

__all__ = ["CompactError", "PartitionResult", "compact", "live_files"]

log = logging.getLogger(__name__)

JOURNAL = ".compact-journal.json"
STAGED = ".compacting"
#: Symbols are read and sorted in groups of at most this many rows: memory stays
#: bounded by a group, not by the day (a group holds at least one whole symbol).
GROUP_ROWS = 4_000_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CompactError(RuntimeError):
    """A partition could not be compacted; its originals are untouched and readable."""


@dataclass
class PartitionResult:
    """What compaction did to one partition (``path`` relative to the dataset root)."""

    path: str
    originals: int
    rows: int
    outputs: list[tuple[str, int]] = field(default_factory=list)  # (name, bytes)
    skipped: str | None = None  # why nothing was done
    symbols: dict[str, int] = field(default_factory=dict)  # rows per symbol, verified


def checkpoint(step: str) -> None:
    """Called after each protocol step; tests replace it to crash right there."""


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _read_journal(fs: pafs.FileSystem, directory: str) -> dict | None:
    try:
        with fs.open_input_stream(f"{directory}/{JOURNAL}", compression=None) as stream:
            return json.loads(stream.read())
    except FileNotFoundError:
        return None


def live_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """The Parquet files of one partition directory a reader should read, sorted.

    Normally every ``*.parquet`` not starting with ``.``. While a compaction's
    journal is present (mid-publish, or a crash there), exactly one complete set:
    the new files once all are published, else the originals.
    """
    names = {
        _name(info.path)
        for info in fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
        if info.type == pafs.FileType.File
    }
    files = {n for n in names if n.endswith(".parquet") and not n.startswith(".")}
    if JOURNAL in names:
        journal = _read_journal(fs, directory)
        if journal is not None:
            outputs = set(journal["outputs"])
            if outputs <= files:
                files -= set(journal["originals"])
            else:
                files -= outputs
    return [f"{directory}/{n}" for n in sorted(files)]


def _sort_keys(table_schema: pa.Schema) -> list[tuple[str, str]]:
    keys = ["symbol", "ts_recv"] + (["apply_seq"] if "apply_seq" in table_schema.names else [])
    return [(k, "ascending") for k in keys if k in table_schema.names]


def _plain(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns decoded: equal values compare equal whatever
    dictionaries the files had (``Table.equals`` compares dictionary indices)."""
    for i, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, table.field(i).name, column.cast(column.type.value_type))
    return table.combine_chunks()


def _sorted(table: pa.Table, keys: list[tuple[str, str]]) -> pa.Table:
    """``table`` sorted by ``keys`` (symbols by text, nulls last). The sort is stable:
    rows equal in every key keep the files' order, which is the engine's write order."""
    plain = _plain(table.select([k for k, _ in keys]))
    return table.take(pc.sort_indices(plain, sort_keys=keys))  # nulls sort last


class _Partition:
    """One ``table=T/exchange=E/date=D`` directory being compacted."""

    def __init__(self, root: Location, table: str, exchange: str, date: str) -> None:
        self.root = root
        self.fs = root.fs
        self.rel = f"table={table}/exchange={exchange}/date={date}"
        self.dir = root.join(self.rel)
        self.table, self.date = table, date
        self.schema = schema.table_schema(table)

    # -- recovery ---------------------------------------------------------------

    def recover(self) -> None:
        """Finish a committed compaction; drop staged files of an uncommitted one."""
        journal = _read_journal(self.fs, self.dir)
        if journal is not None:
            log.warning("%s/%s: finishing an interrupted compaction", self.root.uri, self.rel)
            self._publish(journal)
        for info in self.fs.get_file_info(pafs.FileSelector(self.dir, allow_not_found=True)):
            if _name(info.path).endswith(STAGED):
                self.fs.delete_file(info.path)

    def _publish(self, journal: dict) -> None:
        for i, name in enumerate(journal["outputs"]):
            final, staged = f"{self.dir}/{name}", f"{self.dir}/.{name}{STAGED}"
            if self.fs.get_file_info(final).type == pafs.FileType.NotFound:
                if self.fs.get_file_info(staged).type == pafs.FileType.NotFound:
                    raise CompactError(f"{self.rel}: {name} is neither staged nor published")
                self.fs.move(staged, final)  # local: rename; S3: copy (atomic) + delete
            checkpoint(f"published:{i}")
        for i, name in enumerate(journal["originals"]):
            path = f"{self.dir}/{name}"
            if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
                self.fs.delete_file(path)
            checkpoint(f"deleted:{i}")
        self.fs.delete_file(f"{self.dir}/{JOURNAL}")
        if not self.root.remote:
            try:
                _fsync_dir(Path(self.dir))
            except OSError as exc:
                # Not "originals kept": the swap is done. Should the unsynced deletes be
                # lost to a power cut, the journal comes back and the next run finishes.
                raise CompactError(
                    f"{self.rel}: the new files are in place, but syncing the directory "
                    f"failed: {exc}"
                ) from exc

    # -- compaction -------------------------------------------------------------

    def compact(self, target_bytes: int) -> PartitionResult:
        self.recover()
        originals = live_files(self.fs, self.dir)
        sizes = [self.fs.get_file_info(p).size for p in originals]
        result = PartitionResult(self.rel, len(originals), 0)
        if len(originals) <= max(1, math.ceil(sum(sizes) / target_bytes)):
            result.skipped = "already compact"
            return result
        source = ds.dataset(originals, self.schema, "parquet", filesystem=self.fs)
        counts = self._symbol_counts(source)
        groups = self._groups(counts)
        digest = sha256("\n".join(_name(p) for p in originals).encode()).hexdigest()[:8]
        stem = f"{self.table}.compacted-{self.date.replace('-', '')}-{digest}"
        result.rows = sum(counts.values())
        avg_row = max(1.0, sum(sizes) / max(1, result.rows))
        try:
            outputs = self._write(source, groups, stem, target_bytes, avg_row)
            checkpoint("staged")
            self._verify(source, groups, [n for n, _ in outputs])
            checkpoint("verified")
        except (CompactError, OSError, pa.ArrowException):
            self._drop_staged()  # a crash leaves them instead: the next run drops them
            raise
        journal = {"originals": [_name(p) for p in originals], "outputs": [n for n, _ in outputs]}
        self._write_journal(journal)
        checkpoint("journal")
        self._publish(journal)
        result.outputs = outputs
        result.symbols = {str(k): v for k, v in counts.items()}
        return result

    def _symbol_counts(self, source: ds.Dataset) -> dict[str | None, int]:
        symbols = source.to_table(columns=["symbol"])["symbol"]
        counted = pc.value_counts(pc.cast(symbols, pa.string()))
        counts = dict(
            zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            )
        )
        return dict(sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))

    @staticmethod
    def _groups(counts: dict[str | None, int]) -> list[list[str | None]]:
        """Symbols in sort order, cut into groups of at most ``GROUP_ROWS`` rows."""
        groups: list[list[str | None]] = [[]]
        rows = 0
        for symbol, n in counts.items():
            if groups[-1] and rows + n > GROUP_ROWS:
                groups.append([])
                rows = 0
            groups[-1].append(symbol)
            rows += n
        return groups

    def _read_group(self, source: ds.Dataset, group: list[str | None]) -> pa.Table:
        names = [s for s in group if s is not None]
        where = pc.field("symbol").isin(pa.array(names, pa.string()))
        if None in group:
            where |= pc.field("symbol").is_null()
        return _sorted(source.to_table(filter=where), _sort_keys(self.schema))

    def _write(
        self,
        source: ds.Dataset,
        groups: list[list[str | None]],
        stem: str,
        target_bytes: int,
        avg_row: float,
    ) -> list[tuple[str, int]]:
        """Stage sorted files of about ``target_bytes``; returns (final name, bytes)."""
        group_rows = int(min(262_144, max(1024, target_bytes / avg_row / 8)))
        outputs: list[tuple[str, int]] = []
        with tempfile.TemporaryDirectory(prefix="compact-") as scratch:
            # Local datasets: staged in place (same disk: no copy). Object storage:
            # built in scratch space, then uploaded whole under the staged key.
            where = Path(scratch) if self.root.remote else Path(self.dir)
            writer: _Output | None = None
            for group in groups:
                table = self._read_group(source, group)
                for offset in range(0, table.num_rows, group_rows):
                    chunk = table.slice(offset, group_rows)
                    if writer is not None and writer.full(target_bytes):
                        outputs.append(self._stage(writer))
                        writer = None
                    if writer is None:
                        name = f"{stem}-{len(outputs):04d}.parquet"
                        writer = _Output(where / f".{name}{STAGED}", name, self.schema)
                    writer.write(chunk)
            if writer is not None:
                outputs.append(self._stage(writer))
        return outputs

    def _stage(self, output: _Output) -> tuple[str, int]:
        size = output.close()
        if self.root.remote:
            upload(output.path, self.root, f"{self.rel}/{output.path.name}")
            output.path.unlink()
        return output.name, size

    def _verify(self, source: ds.Dataset, groups: list[list[str | None]], names: list[str]) -> None:
        staged = [f"{self.dir}/.{n}{STAGED}" for n in names]
        written = ds.dataset(staged, self.schema, "parquet", filesystem=self.fs)
        for group in groups:
            expected = self._read_group(source, group)
            names_ = [s for s in group if s is not None]
            where = pc.field("symbol").isin(pa.array(names_, pa.string()))
            if None in group:
                where |= pc.field("symbol").is_null()
            got = _plain(written.to_table(filter=where))  # file order is the sorted order
            if not got.equals(_plain(expected)):
                raise CompactError(
                    f"{self.rel}: staged files differ from the originals for symbols "
                    f"{group[:3]}{'...' if len(group) > 3 else ''} "
                    f"({got.num_rows} rows vs {expected.num_rows}); originals kept"
                )

    def _write_journal(self, journal: dict) -> None:
        data = json.dumps(journal, indent=1).encode()
        path = f"{self.dir}/{JOURNAL}"
        if self.root.remote:
            # One small PUT: atomic.
            with self.fs.open_output_stream(path, compression=None) as stream:
                stream.write(data)
            return
        tmp = Path(f"{path}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            _fsync(f)
        tmp.replace(path)
        _fsync_dir(Path(self.dir))

    def _drop_staged(self) -> None:
        for info in self.fs.get_file_info(pafs.FileSelector(self.dir, allow_not_found=True)):
            if _name(info.path).endswith(STAGED):
                self.fs.delete_file(info.path)


class _Output:
    """One local output file being written; ``full`` predicts the next row group."""

    def __init__(self, path: Path, name: str, table_schema: pa.Schema) -> None:
        self.path, self.name = path, name
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._writer = pq.ParquetWriter(
            self._file, table_schema, **encoding.writer_options(table_schema)
        )
        self._groups = 0

    def write(self, chunk: pa.Table) -> None:
        self._writer.write_table(chunk.combine_chunks(), row_group_size=chunk.num_rows)
        self._groups += 1

    def full(self, target_bytes: int) -> bool:
        """Whether one more row group of the average size would pass ``target_bytes``."""
        size = self._file.tell()
        return size + size / self._groups > target_bytes

    def close(self) -> int:
        self._writer.close()
        self._file.flush()
        _fsync(self._file)
        self._file.close()
        return self.path.stat().st_size


def _fsync(f: BinaryIO) -> None:
    os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact(
    root: Location,
    date: str,
    *,
    target_bytes: int = 256 * 2**20,
    tables: Sequence[str] = (),
    exchanges: Sequence[str] = (),
) -> list[PartitionResult]:
    """Compact every partition of ``date`` (``YYYY-MM-DD``) under ``root``.

    ``tables``/``exchanges`` restrict which partitions (default: all). Raises
    ``CompactError`` naming the partition when one fails; partitions done before
    it stay compacted, it and later ones keep their originals.
    """
    if not _DATE.fullmatch(date):
        raise ValueError(f"date {date!r} is not YYYY-MM-DD")
    if target_bytes < 2**20:
        raise ValueError(f"target size {target_bytes} is below 1 MiB")
    results = []
    for table_info in root.list():
        table = _name(table_info.path).removeprefix("table=")
        if not _name(table_info.path).startswith("table=") or (tables and table not in tables):
            continue
        try:
            schema.table_schema(table)
        except KeyError:
            continue  # not one of ours
        for ex_info in root.list(f"table={table}"):
            exchange = _name(ex_info.path).removeprefix("exchange=")
            if not _name(ex_info.path).startswith("exchange=") or (
                exchanges and exchange not in exchanges
            ):
                continue
            if not root.exists(f"table={table}", f"exchange={exchange}", f"date={date}"):
                continue
            partition = _Partition(root, table, exchange, date)
            try:
                results.append(partition.compact(target_bytes))
            except (OSError, pa.ArrowException) as exc:
                committed = _read_journal(root.fs, partition.dir) is not None
                hint = "run compact again to finish" if committed else "originals kept"
                raise CompactError(f"{partition.rel}: {exc}; {hint}") from exc
    return results
