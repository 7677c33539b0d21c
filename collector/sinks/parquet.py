"""Parquet sink: normalized tables to a Hive-partitioned dataset, crash-safe.

Layout (see ``collector/schema.py`` and DESIGN.md "Layout")::

    root/table=<table>/exchange=<exchange>/date=<YYYY-MM-DD>/<table>-<instance>-<start>-<n>.parquet

* ``date`` is the UTC date of each row's ``ts_recv``; one ``write`` may span
  midnight and is split, keeping the relative order of rows inside each date.
* ``<start>`` is the file's first row's ``ts_recv`` as ``YYYYMMDDTHHMMSSffffffZ``;
  ``<n>`` is a per-partition counter, bumped past any name already on disk, so
  a restarted instance never overwrites a published file or a crash leftover.

Why the pieces are shaped this way:

* **No reader ever sees a half-written file.** A file is written as
  ``.<final name>.inprogress`` in its final directory: the leading dot hides it
  from pyarrow datasets and the suffix keeps it out of ``**/*.parquet`` globs
  (DuckDB, Polars). Publishing is close, fsync the file, ``os.replace`` to the
  final name, fsync the directory; so after a crash, even a power loss, every
  ``*.parquet`` file is complete. Rows still buffered or in an ``.inprogress``
  file at a crash are lost here; the raw capture is the recovery log.
* **Deterministic files.** Rotation is by *data* time (``ts_recv``) and by
  written bytes, never by the wall clock, so replaying a capture produces the
  same file names and contents as the live run. ``tick(now_ns)`` is the one
  wall-clock hook, for live runs whose data stops: it only publishes early.
* **Many tiny writes are cheap.** The book engine writes a few rows per frame,
  hundreds of thousands of times. ``write`` only validates and appends record
  batches to a per-partition list; every few hundred batches the list's tail
  is merged into one batch (tiny batches cost more in bookkeeping than in
  data), and a row group of exactly ``row_group_rows`` rows is cut from the
  buffer once that many rows are there, so files never hold tiny row groups
  and the Parquet writer never sees tiny chunks.
* **Rows are never reordered**: book rows of one message must stay together
  and in application order.
* **A failed write loses nothing.** Every row group written to a file that is
  not yet published is also kept in memory, so when any write, fsync or rename
  fails (ENOSPC, EIO, EACCES...) the half-written file is dropped and every row
  it held goes back to the front of its partition's buffer. ``write`` never
  raises ``OSError``; ``flush``, ``tick`` and ``close`` raise the first one they
  met after leaving everything retryable, and further attempts wait out a
  capped backoff (at most 10 s) so a full disk is not hammered. Memory is bounded by
  ``max_buffered_bytes``: past it the oldest buffered rows of the busiest table
  are dropped and ``on_overflow`` is told which window was lost (the quality
  table is never dropped). Keeping a file's rows until it is published costs
  memory in proportion to ``rotate_seconds``, which is why the daemon's default
  rotation is minutes.
* **Sessions.** ``sessions`` maps an exchange to the id of the capture session
  its rows come from; each file records it in its footer
  (``collector.session``), which is how crash recovery tells which of a
  crashed run's rows were already published (``collector.recover``).

The sink is not thread-safe; one owner calls it: a replay, or in the daemon the
writer thread of ``collector.sinks.threaded``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from collector import schema
from collector.sinks import encoding
from collector.transport.retry import Backoff
from collector.write_faults import naming

__all__ = ["SESSION_KEY", "ParquetSink", "check_exchange", "conform"]

#: Footer key naming the capture session a file's rows come from.
SESSION_KEY = "collector.session"
#: Told (table, exchange, rows, first ts_recv, last ts_recv) of rows dropped over budget.
OverflowHandler = Callable[[str, str, int, int, int], None]

_NS_PER_DAY = 86_400 * 10**9


@functools.cache
def _writer_options(table: str, compression: str) -> dict[str, Any]:
    return encoding.writer_options(schema.table_schema(table), compression)


@functools.cache
def _ts_index(table: str) -> int:
    return schema.table_schema(table).get_field_index("ts_recv")


@functools.cache
def _required(table: str) -> list[int]:
    return [i for i, f in enumerate(schema.table_schema(table)) if not f.nullable]


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_DATE = _EPOCH.date()
#: Partition values and instance ids become path components: keep them boring.
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_INPROGRESS = ".inprogress"
#: Merge a partition's small buffered batches once this many have piled up.
_COMPACT_BATCHES = 512
#: pyarrow's writer caps a row group at 64 Mi rows; a larger ``row_group_rows``
#: would silently produce row groups of another size, so it is refused.
_MAX_ROW_GROUP_ROWS = 64 * 1024 * 1024


def format_start(ts_ns: int) -> str:
    """``ts_ns`` as ``YYYYMMDDTHHMMSSffffffZ`` (UTC, microseconds): sortable, path-safe."""
    seconds, rem = divmod(ts_ns, 10**9)
    moment = _EPOCH + _dt.timedelta(seconds=seconds)
    return f"{moment:%Y%m%dT%H%M%S}{rem // 1000:06d}Z"


def _is_text(type_: pa.DataType) -> bool:
    """Plain or dictionary-encoded string: the one difference ``write`` casts away."""
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    return (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or (pa.types.is_string_view(type_))
    )


def _ts_bounds(column: pa.ChunkedArray) -> tuple[int, int]:
    """Min and max of a non-empty, null-free timestamp column, as ns integers.

    ``pc.min_max`` costs ~7 µs a call whatever the size; for the typical write of
    1–100 rows, reading the values buffer directly is two to three times cheaper,
    and this runs once per write.
    """
    if column.num_chunks != 1 or len(column) > 512:
        bounds = pc.min_max(column)
        return bounds["min"].value, bounds["max"].value
    chunk = column.chunk(0)
    values = memoryview(chunk.buffers()[1]).cast("q")[chunk.offset : chunk.offset + len(chunk)]
    return min(values), max(values)


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable (POSIX needs this)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def conform(table: str, data: pa.Table | pa.RecordBatch) -> pa.Table:
    """Return ``data`` with exactly the canonical schema (field docs included).

    The fast path is one schema comparison. Plain vs dictionary strings and
    nullability flags are reconciled by a cast; anything else is an error
    naming the table and every differing column, because writing it would
    either fail later, far from the cause, or silently change the dataset.
    """
    try:
        expected = schema.table_schema(table)
    except KeyError:
        raise ValueError(
            f"unknown table {table!r}; expected one of {sorted(schema.TABLES)} "
            "or book_snapshots_<depth>x<interval>ms"
        ) from None
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif not isinstance(data, pa.Table):
        raise TypeError(f"table {table!r}: expected a pyarrow Table, got {type(data).__name__}")
    got = data.schema
    if not got.equals(expected, check_metadata=True):
        data = _reconcile(table, expected, data)
    # One C++ call checks every non-nullable column: drop_null returns its
    # input untouched when nothing is null (a per-column Python loop costs
    # ~1 µs a column). The Parquet writer would refuse nulls too, but only
    # at row-group time, far from the write that caused them.
    required = data.select(_required(table))
    if pc.drop_null(required).num_rows != required.num_rows:
        nulls = {
            name: column.null_count
            for name, column in zip(required.column_names, required.columns, strict=True)
            if column.null_count
        }
        raise ValueError(f"table {table!r}: nulls in non-nullable columns {nulls}")
    return data


def _reconcile(table: str, expected: pa.Schema, data: pa.Table) -> pa.Table:
    got = data.schema
    missing = [n for n in expected.names if n not in got.names]
    extra = [n for n in got.names if n not in expected.names]
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    if len(set(got.names)) != len(got.names):
        dupes = sorted({n for n in got.names if got.names.count(n) > 1})
        problems.append(f"duplicate columns {dupes}")
    for f in expected:
        if f.name in missing or f.name not in got.names or got.names.count(f.name) > 1:
            continue
        have = got.field(f.name).type
        if have != f.type and not (_is_text(have) and _is_text(f.type)):
            problems.append(f"column {f.name!r} is {have}, expected {f.type}")
    if problems:
        raise ValueError(f"table {table!r}: schema differs: " + "; ".join(problems))
    if got.names != expected.names:
        data = data.select(expected.names)
    return data.cast(expected)


def check_exchange(exchange: str) -> None:
    """Refuse an exchange name that would be an unsafe path component."""
    if not _SLUG.fullmatch(exchange):
        raise ValueError(f"exchange {exchange!r} must match {_SLUG.pattern}")


@dataclass(eq=False)
class _Segment:
    """One output file of one partition: rows buffered for it plus its open writer.

    The file itself is created lazily at the first row group, so a partition
    that receives a handful of rows and is then closed costs one write.
    """

    table: str
    exchange: str
    day: int
    first_ts: int
    window_end: int
    batches: list[pa.RecordBatch] = field(default_factory=list)
    rows: int = 0  # buffered, not yet written
    compacted: int = 0  # batches[:compacted] are already large, merged ones
    written_rows: int = 0
    written_bytes: int = 0
    #: Row groups in the open file, kept until it is published (see "A failed write").
    groups: list[pa.Table] = field(default_factory=list)
    file: BinaryIO | None = None
    writer: pq.ParquetWriter | None = None
    tmp_path: Path | None = None
    final_path: Path | None = None
    #: ``_held_bytes`` of ``batches`` and ``groups``, kept in step by every change to
    #: either: the memory bound and its gauge read it after every hand-off, and
    #: recounting a busy daemon's thousands of small batches each time held the GIL
    #: for tens of milliseconds.
    held: int = 0

    def recount(self) -> None:
        """``held`` from scratch, after a change that is not a plain append or drop."""
        self.held = sum(map(_held_bytes, self.batches)) + sum(map(_held_bytes, self.groups))


class ParquetSink:
    """Writes normalized tables as a Hive-partitioned Parquet dataset.

    ``instance`` distinguishes writers sharing one root (scale-out shards); it
    appears in every file name, so instances never collide and never need to
    look at each other's files. ``rotate_seconds`` and ``rotate_bytes`` bound a
    file by data time and by written size (a file may exceed ``rotate_bytes`` by
    up to one row group, since size is known only once a row group is written).
    ``keep_paths``: list every published file in ``published`` (a replay returns them);
    a daemon, which runs for months, only counts them (``files_published``), or the
    list would hold every file it ever wrote.
    ``on_publish`` is called with each file's final path right after it is published,
    ``before_publish`` right before the first file of a ``flush``/``tick``/``close``
    is made durable (the daemon fsyncs its raw capture there, so a published row's
    frame is always on disk). ``max_buffered_bytes`` and ``on_overflow``: see the
    module docstring; None means unbounded (replays).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        instance: str = "0",
        rotate_seconds: float = 3600.0,
        rotate_bytes: int = 256 * 2**20,
        row_group_rows: int = 262_144,
        compression: str = "zstd",
        on_publish: Callable[[Path], None] | None = None,
        before_publish: Callable[[], None] | None = None,
        max_buffered_bytes: int | None = None,
        on_overflow: OverflowHandler | None = None,
        backoff: Backoff | None = None,
        keep_paths: bool = True,
    ) -> None:
        if not _SLUG.fullmatch(instance):
            raise ValueError(f"instance {instance!r} must match {_SLUG.pattern}")
        if rotate_seconds <= 0:
            raise ValueError(f"rotate_seconds must be positive, got {rotate_seconds}")
        if rotate_bytes <= 0:
            raise ValueError(f"rotate_bytes must be positive, got {rotate_bytes}")
        if not 0 < row_group_rows <= _MAX_ROW_GROUP_ROWS:
            raise ValueError(
                f"row_group_rows must be in 1..{_MAX_ROW_GROUP_ROWS}, got {row_group_rows}"
            )
        if compression.lower() != "none":
            try:
                available = pa.Codec.is_available(compression)
            except (ValueError, pa.ArrowException):
                available = False
            if not available:
                raise ValueError(f"compression {compression!r} is not available in this pyarrow")
        self.root = Path(root)
        self.instance = instance
        #: Every published file's path, with ``keep_paths``; ``files_published`` counts them.
        self.published: list[Path] = []
        self.files_published = 0
        self._keep_paths = keep_paths
        #: Told each published file's path: the daemon's spool uploads it to object storage.
        self.on_publish = on_publish
        self._rotate_ns = round(rotate_seconds * 1e9)
        self._rotate_bytes = rotate_bytes
        self._row_group_rows = row_group_rows
        self._compression = compression
        # (table, exchange) -> day number -> segment being filled for that date.
        self._open: dict[tuple[str, str], dict[int, _Segment]] = {}
        self._counters: dict[tuple[str, str, int], int] = {}
        self._known_dirs: set[Path] = set()
        self._exchanges: set[str] = set()
        self._closed = False
        self._before_publish = before_publish
        self._max_buffered = max_buffered_bytes
        self._on_overflow = on_overflow
        #: exchange -> capture session id, written into each new file's footer.
        self.sessions: dict[str, str] = {}
        #: Segments whose window closed but whose file could not be published yet.
        self._sealed: list[_Segment] = []
        #: The first I/O error of the current public call (raised at its end).
        self._error: OSError | None = None
        #: The latest unresolved I/O error, until a later publish succeeds.
        self.last_error: OSError | None = None
        #: Failed I/O attempts so far.
        self.errors = 0
        self._backoff = backoff or Backoff(base=1.0, cap=10.0)
        self._retry_at = 0.0  # monotonic; no I/O attempt before it while failing
        #: Rows dropped over ``max_buffered_bytes``, per table.
        self.overflow_rows: dict[str, int] = {}

    # ------------------------------------------------------------------ API

    def write(self, table: str, exchange: str, data: pa.Table | pa.RecordBatch) -> None:
        """Buffer ``data`` (exactly ``schema.TABLES[table]``) for its partitions.

        Raises ``ValueError`` for an unknown table, an unsafe exchange slug, a
        schema that differs, or nulls in a non-nullable column; in every case
        nothing of ``data`` has been buffered.
        """
        if self._closed:
            raise RuntimeError("ParquetSink is closed")
        data = conform(table, data)
        if exchange not in self._exchanges:
            check_exchange(exchange)
            self._exchanges.add(exchange)
        if data.num_rows == 0:
            return
        ts = data.column(_ts_index(table))
        lo, hi = _ts_bounds(ts)
        if lo // _NS_PER_DAY == hi // _NS_PER_DAY:
            self._route(table, exchange, hi // _NS_PER_DAY, data, hi)
            return
        # Rows span midnight: one sub-table per UTC date, rows keep their order.
        days = pc.cast(ts, pa.date32()).combine_chunks()
        for day in sorted(pc.unique(days).cast(pa.int32()).to_pylist()):
            part = data.filter(pc.equal(days, pa.scalar(day, pa.int32()).cast(pa.date32())))
            self._route(table, exchange, day, part, pc.max(part.column(_ts_index(table))).value)

    def tick(self, now_ns: int) -> None:
        """Publish every file whose window (first ``ts_recv`` + rotate_seconds) has passed.

        For live runs: without it, a partition whose data stopped (a quiet
        market, a disconnected exchange) would keep its last file unpublished
        until shutdown. Replays need not call it, which keeps them deterministic.
        Raises the first ``OSError`` met; nothing is lost by it (module docstring).
        """
        self._begin()
        attempted = self._may_try()
        if attempted:
            retrying = self.last_error is not None
            for segment in self._segments():
                if segment.window_end <= now_ns:
                    self._seal(segment)
                elif retrying:  # rewrite what a failed file held, to clear the failure
                    try:
                        self._drain(segment, final=True)
                    except OSError as exc:
                        self._failed(exc)
            self._retry_sealed()
        self._limit_memory()
        self._end(attempted)

    def flush(self) -> None:
        """Write every buffered row into its file as (possibly short) row groups.

        Files stay open and unpublished; this bounds memory, not visibility.
        The bytes are handed to the OS (not fsynced): durability comes only
        with publishing. Also retries files that failed to publish, and applies
        ``max_buffered_bytes``. Raises the first ``OSError`` met; nothing is
        lost by it (see the module docstring).
        """
        self._begin()
        attempted = self._may_try()
        if attempted:
            for segment in self._segments():
                try:
                    current = self._drain(segment, final=True)
                    if current is not None and current.file is not None:
                        current.file.flush()
                except OSError as exc:
                    self._failed(exc)
            self._retry_sealed()
        self._limit_memory()
        self._end(attempted)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of rows held in memory: buffered, or in files not yet published."""
        return sum(s.held for s in (*self._segments(), *self._sealed))

    @property
    def failing(self) -> bool:
        """Whether the latest write attempt failed and rows wait for a retry."""
        return self.last_error is not None

    def close(self) -> None:
        """Write everything and publish every file, trying each once more. Idempotent
        once it succeeds.

        Every partition is attempted even if one fails; the first error is
        raised afterwards, and a later ``close`` tries the failed files again
        (the rows are still held), ignoring the retry backoff.
        """
        if self._closed and not self._sealed:
            return
        self._closed = True
        self._begin()
        for segment in self._segments():
            self._seal(segment)
        self._retry_sealed()
        self._end()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Publish even when the body failed: every row written so far is valid.
        self.close()

    # ------------------------------------------------------------ internals

    def _segments(self) -> list[_Segment]:
        return [s for dates in self._open.values() for s in dates.values()]

    # -- failure handling ---------------------------------------------------------

    def _may_try(self) -> bool:
        """False while backing off after a failure (writes only buffer then)."""
        return self.last_error is None or time.monotonic() >= self._retry_at

    def _begin(self) -> None:
        self._error = None

    def _failed(self, exc: OSError) -> None:
        self.errors += 1
        if self._error is None:
            self._error = exc
        if self.last_error is None:
            self._backoff.reset()
        self.last_error = exc
        now = time.monotonic()
        if now >= self._retry_at:  # one backoff step per attempt round, not per file
            self._retry_at = now + self._backoff.next_delay()

    def _end(self, attempted: bool = True) -> None:
        """Raise the call's first I/O error; after a clean attempt, clear the failure."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if attempted and self.last_error is not None and not self._sealed:
            self.last_error = None

    def _abandon(self, segment: _Segment) -> Path | None:
        """Drop the segment's unfinished file; every row it held is buffered again.

        Returns the file's path, for the error that made it fail to name."""
        dropped = segment.tmp_path
        if segment.writer is not None:
            # Closed here, while its file is open: dropped open, pyarrow's writer would
            # close itself at some later garbage collection, writing to a closed file
            # and printing the error to stderr. A failed close leaves nothing to retry.
            with contextlib.suppress(OSError):
                segment.writer.close()
        if segment.file is not None:
            with contextlib.suppress(OSError):
                segment.file.close()
        if segment.tmp_path is not None:
            # Failing leaves an orphan ``.inprogress`` file: hidden from readers,
            # removed by crash recovery at the next start.
            with contextlib.suppress(OSError):
                segment.tmp_path.unlink(missing_ok=True)
        retained = [b for g in segment.groups for b in g.to_batches()]
        segment.batches = retained + segment.batches
        segment.rows += sum(g.num_rows for g in segment.groups)
        segment.compacted = 0
        segment.groups = []
        segment.written_rows = segment.written_bytes = 0
        segment.file = segment.writer = None
        segment.tmp_path = segment.final_path = None
        segment.recount()
        return dropped

    def _seal(self, segment: _Segment) -> None:
        """Write the rest of the segment's rows and publish its file(s); never raises.

        The segment leaves the partition's open set at once, so later rows start
        a new file; when publishing fails it waits in ``_sealed`` for a retry.
        """
        dates = self._open.get((segment.table, segment.exchange), {})
        if dates.get(segment.day) is segment:
            del dates[segment.day]  # the (now maybe empty) dict stays: callers hold it
        try:
            self._finish(segment)
        except OSError as exc:
            self._failed(exc)
            if segment not in self._sealed:
                self._sealed.append(segment)
        else:
            if segment in self._sealed:
                self._sealed.remove(segment)

    def _retry_sealed(self) -> None:
        for segment in list(self._sealed):
            self._seal(segment)

    def _limit_memory(self) -> None:
        """Over ``max_buffered_bytes``: drop the busiest table's oldest rows, and say so."""
        if self._max_buffered is None:
            return
        held = {s: s.held for s in (*self._sealed, *self._segments())}
        total = sum(held.values())
        while total > self._max_buffered:
            per_table: dict[tuple[str, str], int] = {}
            for seg, size in held.items():
                if seg.table != "quality" and size:
                    key = (seg.table, seg.exchange)
                    per_table[key] = per_table.get(key, 0) + size
            if not per_table:
                return
            busiest = max(per_table, key=per_table.__getitem__)
            oldest = min(
                (s for s in held if (s.table, s.exchange) == busiest and held[s]),
                key=lambda s: s.first_ts,
            )
            freed = self._drop_oldest(oldest, total - self._max_buffered)
            held[oldest] -= freed
            total -= freed

    def _drop_oldest(self, segment: _Segment, want: int) -> int:
        """Drop at least ``want`` bytes (or everything) of the segment's oldest rows."""
        self._abandon(segment)  # its rows are all buffered now, oldest first
        dropped: list[pa.RecordBatch] = []
        freed = 0
        while segment.batches and freed < want:
            batch = segment.batches.pop(0)
            dropped.append(batch)
            freed += _held_bytes(batch)
        segment.held -= freed
        rows = sum(b.num_rows for b in dropped)
        segment.rows -= rows
        segment.compacted = 0
        if rows:
            ts = pa.Table.from_batches(dropped).column(_ts_index(segment.table))
            lo, hi = _ts_bounds(ts)
            self.overflow_rows[segment.table] = self.overflow_rows.get(segment.table, 0) + rows
            if self._on_overflow is not None:
                self._on_overflow(segment.table, segment.exchange, rows, lo, hi)
        if not segment.rows and segment in self._sealed:
            self._sealed.remove(segment)
        return freed

    def _route(self, table: str, exchange: str, day: int, data: pa.Table, hi: int) -> None:
        """Append one date's rows to that partition, rotating by data time."""
        dates = self._open.setdefault((table, exchange), {})
        ts_index = _ts_index(table)
        while True:
            # Re-read each time: appending may have rotated the file by size.
            segment = dates.get(day)
            if segment is None:
                first = data.column(ts_index)[0].value
                segment = _Segment(table, exchange, day, first, first + self._rotate_ns)
                dates[day] = segment
            if hi < segment.window_end:
                self._append(segment, data)
                break
            # Some row reaches the window's end: rows before the first such row
            # go to this file, which is then published; the rest start the next.
            end = pa.scalar(segment.window_end, schema.TIMESTAMP)
            cut = pc.index(pc.greater_equal(data.column(ts_index), end), True).as_py()
            if cut > 0:
                self._append(segment, data.slice(0, cut))
                data = data.slice(cut)  # still holds the row at ``hi``
            else:
                self._seal(segment)
        if len(dates) > 1:
            # Older dates of this stream get no more rows once data time passes
            # their window; publish them now instead of holding them to close().
            for other in list(dates.values()):
                if other.day != day and other.window_end <= hi:
                    self._seal(other)

    def _append(self, segment: _Segment, data: pa.Table) -> None:
        batches = segment.batches
        added = data.to_batches()
        batches.extend(added)
        segment.held += sum(map(_held_bytes, added))
        segment.rows += data.num_rows
        if segment.rows >= self._row_group_rows and self._may_try():
            try:
                self._drain(segment, final=False)
            except OSError as exc:  # the rows stay buffered; flush() reports it
                self._failed(exc)
        elif len(batches) - segment.compacted >= _COMPACT_BATCHES:
            # Each tiny batch costs ~6 KB of C++ bookkeeping beyond its data
            # (~80 MB for a 262k-row group written 20 rows at a time); merging
            # them as they come keeps a partition's buffer close to its data size
            # and makes the row-group concatenation cheap in exchange.
            tail = pa.Table.from_batches(batches[segment.compacted :], schema=data.schema)
            batches[segment.compacted :] = tail.combine_chunks().to_batches()
            segment.compacted = len(batches)
            segment.recount()

    def _drain(self, segment: _Segment, *, final: bool) -> _Segment | None:
        """Write full row groups (and, if ``final``, the short last one).

        Rotates by size after any row group that takes the file to
        ``rotate_bytes``; the rows left over start the partition's next file.
        Returns the segment now holding the partition's rows, or ``None``.
        On ``OSError`` the segment's file is abandoned with every row kept.
        """
        expected = schema.table_schema(segment.table)
        size = self._row_group_rows
        current: _Segment | None = segment
        while current is not None and (current.rows >= size or (final and current.rows > 0)):
            seg = current
            n = min(size, seg.rows)
            buffered = pa.Table.from_batches(seg.batches, schema=expected)
            # One contiguous chunk per column: the Parquet writer is ~10x slower
            # on thousands of tiny chunks, and this also unifies dictionaries.
            group = buffered.slice(0, n).combine_chunks()
            seg.batches = buffered.slice(n).to_batches() if n < seg.rows else []
            seg.compacted = 0
            seg.rows -= n
            try:
                self._write_group(seg, group)
            except OSError as exc:
                seg.batches = group.to_batches() + seg.batches
                seg.rows += n
                raise naming(exc, self._abandon(seg)) from exc  # abandon recounts
            seg.recount()
            if seg.written_bytes < self._rotate_bytes:
                continue
            leftover, leftover_rows = seg.batches, seg.rows
            seg.batches, seg.rows = [], 0
            seg.recount()
            current = None
            if leftover_rows:
                first = (
                    pa.Table.from_batches(leftover, schema=expected)
                    .column(_ts_index(seg.table))[0]
                    .value
                )
                current = _Segment(
                    seg.table,
                    seg.exchange,
                    seg.day,
                    first,
                    first + self._rotate_ns,
                    batches=leftover,
                    rows=leftover_rows,
                )
                current.recount()
            dates = self._open.setdefault((seg.table, seg.exchange), {})
            if dates.get(seg.day) is seg:
                del dates[seg.day]
            if current is not None:
                dates[seg.day] = current
            self._seal(seg)
        return current

    def _finish(self, segment: _Segment) -> None:
        """Write the rest of the segment's rows and publish its file(s)."""
        current = self._drain(segment, final=True)
        if current is segment:
            self._publish(segment)
        elif current is not None:  # rotated by size: the leftover's file is another one
            self._seal(current)

    def _write_group(self, segment: _Segment, group: pa.Table) -> None:
        if segment.writer is None:
            self._open_file(segment)
        assert segment.writer is not None and segment.file is not None
        segment.writer.write_table(group, row_group_size=self._row_group_rows)
        segment.groups.append(group)
        segment.written_rows += group.num_rows
        segment.written_bytes = segment.file.tell()

    def _partition_dir(self, segment: _Segment) -> Path:
        date = (_EPOCH_DATE + _dt.timedelta(days=segment.day)).isoformat()
        return (
            self.root / f"table={segment.table}" / f"exchange={segment.exchange}" / f"date={date}"
        )

    def _make_dirs(self, directory: Path) -> None:
        """Create missing directories, fsyncing each parent so the path survives a crash."""
        if directory in self._known_dirs:
            return
        missing = []
        path = directory
        while not path.is_dir():
            missing.append(path)
            path = path.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)  # another instance may race us: fine
            _fsync_dir(path.parent)
        self._known_dirs.add(directory)

    def _open_file(self, segment: _Segment) -> None:
        """Create the segment's ``.inprogress`` file under a name nobody has used.

        The name is claimed with ``O_EXCL`` and skipped while either it or its
        published twin exists, so crash leftovers and earlier runs' files are
        never touched. The published twin is looked for *after* the claim: until
        then another writer of the same instance (two replays into one dataset) may
        still publish that name, and publishing is a rename that would replace it.
        """
        directory = self._partition_dir(segment)
        self._make_dirs(directory)
        key = (segment.table, segment.exchange, segment.day)
        n = self._counters.get(key, 0)
        stem = f"{segment.table}-{self.instance}-{format_start(segment.first_ts)}"
        while True:
            final = directory / f"{stem}-{n}.parquet"
            tmp = directory / f".{final.name}{_INPROGRESS}"
            try:
                file = open(tmp, "xb")  # noqa: SIM115 - closed in _publish
            except FileExistsError:
                n += 1
                continue
            except FileNotFoundError:
                # Someone (a cleanup tool) removed the directory since we
                # made it; make it again and retry the same name.
                self._known_dirs.discard(directory)
                self._make_dirs(directory)
                continue
            if not final.exists():
                break
            file.close()  # published already: give the claim back, try the next name
            with contextlib.suppress(OSError):  # else an empty orphan, as in _abandon
                tmp.unlink()
            n += 1
        self._counters[key] = n + 1
        try:
            writer = pq.ParquetWriter(
                file,
                schema.table_schema(segment.table),
                **_writer_options(segment.table, self._compression),
            )
            session = self.sessions.get(segment.exchange)
            if session is not None:
                writer.add_key_value_metadata({SESSION_KEY: session})
        except BaseException as exc:
            file.close()
            tmp.unlink()  # empty and ours: leave no false crash leftover
            if isinstance(exc, OSError):
                raise naming(exc, tmp) from exc
            raise
        segment.file, segment.writer = file, writer
        segment.tmp_path, segment.final_path = tmp, final

    def _publish(self, segment: _Segment) -> None:
        """Close, fsync, rename into place, fsync the directory; forget the segment.

        On ``OSError`` the file is abandoned and its rows are buffered in the
        segment again (the caller keeps the segment for a retry).
        """
        assert segment.rows == 0, "publish only after every buffered row is written"
        if segment.writer is None:
            return  # nothing was ever written
        assert segment.file is not None and segment.tmp_path and segment.final_path
        if self._before_publish is not None:
            self._before_publish()
        try:
            segment.writer.close()
            segment.file.flush()
            os.fsync(segment.file.fileno())
            segment.file.close()
            os.replace(segment.tmp_path, segment.final_path)
        except OSError as exc:
            raise naming(exc, self._abandon(segment)) from exc
        # Published and readable either way; only a power cut could undo the rename.
        with contextlib.suppress(OSError):
            _fsync_dir(segment.final_path.parent)
        final = segment.final_path
        segment.writer = segment.file = None
        segment.groups = []
        segment.recount()
        self.files_published += 1
        if self._keep_paths:
            self.published.append(final)
        if self.on_publish is not None:
            self.on_publish(final)


def _held_bytes(data: pa.RecordBatch | pa.Table) -> int:
    """Bytes of the Arrow buffers ``data`` keeps alive: what the memory bound counts.

    Not ``nbytes``, which costs about 2 µs a column whatever the size (20 µs a book
    batch); this takes under a microsecond a batch. It is also the truer figure: a
    slice left over from a row group keeps its whole buffer alive."""
    return data.get_total_buffer_size()
