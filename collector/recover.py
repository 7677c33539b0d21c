"""Crash recovery: rebuild the rows a killed run received but never published.

The raw capture is the recovery log. A daemon killed at any line (kill -9, OOM,
power cut) leaves its capture session's last file ``.inprogress``, readable up
to its last flushed block, while the rows it had not yet published were only in
memory or in an unfinished, footerless Parquet file. Recovery replays the whole
crashed session (its parts in order, as one stream, so books stay in sync
across rotations) through the same pipeline, and writes only what the dataset
does not hold yet:

* Every Parquet file records the capture session of its rows in its footer
  (``collector.sinks.parquet.SESSION_KEY``), so the session's published files
  are known exactly.
* Replay is deterministic, so for each (table, date) partition the rows the
  crashed run published are a prefix of the rows the replay produces (files of a
  partition are published in order). Recovery counts them and skips as many.
  The quality table is the exception, because the daemon adds events of its
  own that no frame carries (silent streams, write failures): its rows are
  matched by value instead.
* Recovered files carry the same session id, so a recovery that is itself
  killed is simply resumed by the next one: exactly once either way.
* A session whose capture is still being written is locked by its writer
  (``flock``), so a recovery never touches a live run's data.
* Once its rows are published, each ``.inprogress`` part is rewritten as a
  complete capture file under its final name: the capture stays replayable and
  the session is not recovered twice.

What cannot be recovered: records the capture never received (after its last
flush; with the default settings at most a second of frames), records dropped
while the capture was paused, and a session recorded without capture. Where the
replay cannot be the live run's exact twin, the prefix count can be off by a few
rows (a row missed or written twice): a capture that paused, ``snapshots``
different from the crashed run's ``[[book_snapshots]]``, and a bad level text in
a book *delta*, whose later rows are dropped up to the next flush (the flush
instants of a live run and of a replay differ). Files
from before sessions existed (no ``session`` in the header) are reported and
left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import adapters
from collector.capture.reader import capture_header, list_capture_files, read_capture
from collector.capture.records import (
    CAPTURE_FORMAT,
    DEFAULT_COMPRESSION_LEVEL,
    INPROGRESS_SUFFIX,
    Record,
)
from collector.capture.writer import CaptureStream
from collector.model import QualityEvent, QualityKind
from collector.pipeline import Pipeline
from collector.sinks.parquet import SESSION_KEY, ParquetSink
from collector.storage import Location, resolve

log = logging.getLogger(__name__)

_NS_PER_DAY = 86_400 * 10**9
_PARQUET_INPROGRESS = ".inprogress"
_SEAL_CHECKPOINT_EVERY = 1000  # records; as the writer's default flush_every
#: A published file's key below the dataset root (hidden temporaries never match).
_PUBLISHED = re.compile(r"table=[^/]+/exchange=[^/]+/date=[^/]+/[^./][^/]*\.parquet")


@dataclass
class SessionRecovery:
    """What recovering one crashed session did."""

    session: str
    exchange: str
    files: list[str]
    records: int = 0
    published_before: int = 0  # rows the crashed run had published
    recovered: Counter[str] = field(default_factory=Counter)  # table -> rows written now


@dataclass
class RecoverySummary:
    sessions: list[SessionRecovery] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # leftovers left alone, with why
    orphans_removed: int = 0

    @property
    def rows(self) -> int:
        return sum(sum(s.recovered.values()) for s in self.sessions)

    def line(self) -> str:
        parts = [
            f"{s.exchange} session {s.session}: {s.records} records, "
            f"{s.published_before} rows already published, "
            f"{sum(s.recovered.values())} rows recovered"
            for s in self.sessions
        ]
        parts += [f"skipped {why}" for why in self.skipped]
        if self.orphans_removed:
            parts.append(f"{self.orphans_removed} unfinished Parquet files removed")
        return "; ".join(parts) or "nothing to recover"


@dataclass
class _Part:
    path: Path
    session: str
    part: int
    exchange: str
    instance: str


def recover_dataset(
    capture_dir: str | Path,
    out: str | Path,
    *,
    instance: str | None = None,
    exclude_sessions: set[str | None] | None = None,
    rotate_seconds: float = 300.0,
    snapshots: Sequence[tuple[int, int]] = (),
    remove_orphans: bool = True,
    on_publish: Callable[[Path], None] | None = None,
    uploaded: Location | None = None,
    on_capture: Callable[[Path], None] | None = None,
) -> RecoverySummary:
    """Recover every crashed session found under ``capture_dir`` into the dataset ``out``.

    ``instance`` limits it to one instance's sessions (the daemon recovers its
    own; shards leave each other's alone); ``exclude_sessions`` are live ones.
    ``remove_orphans`` deletes the recovered instances' unfinished Parquet files
    (footerless, never readable; their rows are what was just recovered).
    ``snapshots`` must be the crashed run's ``[[book_snapshots]]`` for those
    tables to come out the same. ``out`` is the local folder files are written
    in; when it is a spool, ``uploaded`` is the object store it uploads to (and
    ``on_publish`` the spool's ``submit``), where already published files may be;
    ``on_capture`` is told each capture file recovery finishes (the capture spool).
    Raises ``OSError`` when the dataset cannot be
    written; what was published stays, and a later recovery resumes.
    """
    summary = RecoverySummary()
    sessions = _crashed_sessions(Path(capture_dir), instance, exclude_sessions or set(), summary)
    for session, parts in sessions.items():
        with _holding(parts) as held:
            if not held:  # taken since it was listed: another recovery is at it
                summary.skipped.append(f"session {session}: another process is recovering it")
                continue
            summary.sessions.append(
                _recover_session(parts, Path(out), uploaded, rotate_seconds, snapshots, on_publish)
            )
            for part in parts:
                if part.path.name.endswith(INPROGRESS_SUFFIX):
                    final = _finish_leftover(part.path)
                    if on_capture is not None:
                        on_capture(final)
    if remove_orphans:
        for inst in {parts[0].instance for parts in sessions.values()} | (
            {instance} if instance else set()
        ):
            summary.orphans_removed += remove_unfinished(Path(out), inst)
    return summary


def pending_sessions(
    capture_dir: str | Path, instance: str | None, exclude_sessions: set[str | None]
) -> list[str]:
    """The crashed sessions ``recover_dataset`` would recover now (reads a few headers)."""
    found = _crashed_sessions(Path(capture_dir), instance, set(exclude_sessions), RecoverySummary())
    return list(found)


def _crashed_sessions(
    capture_dir: Path,
    instance: str | None,
    exclude: set[str | None],
    summary: RecoverySummary,
) -> dict[str, list[_Part]]:
    """Sessions with an ``.inprogress`` part that no live writer holds, parts in order.

    Only ``.inprogress`` files and, for a crashed session, the files before its
    last part in the same folder are opened (back to its part 0), so a start over
    months of finished captures reads a handful of headers, not all of them.
    """
    if not capture_dir.is_dir():
        return {}
    files = list_capture_files(capture_dir)
    crashed: dict[str, tuple[int, _Part]] = {}  # session -> (index in files, latest part)
    for index, path in enumerate(files):
        if not path.name.endswith(INPROGRESS_SUFFIX):
            continue
        part = _part(path, summary)
        if part is None:
            continue
        if part.session in exclude or (instance is not None and part.instance != instance):
            continue
        if _locked(path):
            exclude.add(part.session)  # a live writer holds it
            crashed.pop(part.session, None)
        elif part.session not in crashed or part.part > crashed[part.session][1].part:
            crashed[part.session] = (index, part)
    sessions: dict[str, list[_Part]] = {}
    for session, (index, last) in crashed.items():
        if session in exclude:
            continue
        parts = {last.part: last}
        for path in reversed(files[:index]):
            if 0 in parts:
                break
            if path.parent != last.path.parent:
                continue
            earlier = _part(path, summary)
            if earlier is not None and earlier.session == session:
                parts.setdefault(earlier.part, earlier)
        missing = sorted(set(range(last.part + 1)) - set(parts))
        if missing:
            summary.skipped.append(
                f"session {session}: capture parts {missing} are missing; books recovered "
                "from the parts that are left sync at their first snapshot"
            )
        sessions[session] = [parts[k] for k in sorted(parts)]
    return sessions


def _part(path: Path, summary: RecoverySummary) -> _Part | None:
    """What a capture file's header says of its session; None (noted) when it cannot."""
    try:
        header = capture_header(path)
    except (OSError, ValueError) as exc:
        summary.skipped.append(f"{path}: unreadable header ({exc})")
        return None
    session = header.get("session")
    if not isinstance(session, str):
        if path.name.endswith(INPROGRESS_SUFFIX):
            summary.skipped.append(
                f"{path}: written before capture sessions existed; replay it by hand"
            )
        return None
    return _Part(path, session, int(header.get("part", 0)), header["exchange"], header["instance"])


def _locked(path: Path) -> bool:
    """Whether a running capture writer holds ``path`` (its ``flock``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # vanished: finished by its writer meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases our lock
    return False


@contextlib.contextmanager
def _holding(parts: list[_Part]) -> Iterator[bool]:
    """Lock a crashed session's ``.inprogress`` parts while it is recovered: yields
    False (holding nothing) if another process has one. A locked part reads as live
    to ``_crashed_sessions``, so two recoveries (a daemon's in the background and a
    ``collector recover``, or the next start's) never write one session's rows twice.
    """
    fds: list[int] = []
    try:
        for part in parts:
            if not part.path.name.endswith(INPROGRESS_SUFFIX):
                continue
            try:
                fd = os.open(part.path, os.O_RDONLY)
            except FileNotFoundError:  # finished by another recovery since it was listed
                yield False
                return
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        for fd in fds:
            os.close(fd)  # also releases its lock


def _records(parts: list[_Part]) -> Iterator[Record]:
    for part in parts:
        yield from read_capture(part.path)


def _recover_session(
    parts: list[_Part],
    out: Path,
    uploaded: Location | None,
    rotate_seconds: float,
    snapshots: Sequence[tuple[int, int]],
    on_publish: Callable[[Path], None] | None,
) -> SessionRecovery:
    first = parts[0]
    result = SessionRecovery(first.session, first.exchange, [str(p.path) for p in parts])
    published = already_published(out, first.exchange, first.session, uploaded)
    result.published_before = sum(published.counts.values()) + sum(published.quality.values())
    with ParquetSink(
        out, instance=first.instance, rotate_seconds=rotate_seconds, on_publish=on_publish
    ) as sink:
        sink.sessions[first.exchange] = first.session
        skipping = SkipPublished(sink, published, result.recovered)
        pipeline = Pipeline(adapters.create(first.exchange), skipping, snapshots=snapshots)
        for record in _records(parts):
            result.records += 1
            pipeline.on_record(record)
        pipeline.finish()
        if result.recovered:
            rows = sum(result.recovered.values())
            pipeline.out.add_quality(
                QualityEvent(
                    None,
                    pipeline.last_ts,
                    QualityKind.RECOVERED,
                    f"{rows} rows of crashed capture session {first.session} rebuilt from "
                    f"{len(parts)} capture file(s) by crash recovery",
                )
            )
            pipeline.flush()
    return result


@dataclass
class PublishedRows:
    """Rows a session already has in the dataset: counts per (table, day); quality rows."""

    counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    quality: Counter[tuple] = field(default_factory=Counter)


def already_published(
    out: Path, exchange: str, session: str, uploaded: Location | None
) -> PublishedRows:
    """The session's rows already in the dataset: in ``out``, and in ``uploaded`` (the
    object store a spooled ``out`` uploads to; a file in both is counted once).

    The spool may be uploading (and deleting) files meanwhile: a file only moves
    from ``out`` to the store, so ``out`` is listed first and the store second, and
    a file gone from ``out`` by the time it is read is read from the store.
    """
    found = PublishedRows()
    keys: set[str] = set()
    sources = [resolve(out), *([uploaded] if uploaded is not None else [])]
    for location in sources:
        for info in location.list(recursive=True):
            key = info.path[len(location.path) :].lstrip("/")
            if _PUBLISHED.fullmatch(key) and f"/exchange={exchange}/" in f"/{key}":
                keys.add(key)
    for key in sorted(keys):
        try:
            meta, quality = _read_published(sources, key, session)
        except (OSError, pa.ArrowInvalid) as exc:
            log.warning("recovery: cannot read %s (%s); its rows are not counted", key, exc)
            continue
        if meta is None:
            continue  # another session's file
        table, _, rest = key.removeprefix("table=").partition("/")
        if quality is not None:
            found.quality.update(_row_keys(quality))
        else:
            day = _day(rest.split("/date=", 1)[1].split("/", 1)[0])
            found.counts[(table, day)] += meta.num_rows
    return found


def _read_published(
    sources: list[Location], key: str, session: str
) -> tuple[pq.FileMetaData | None, pa.Table | None]:
    """The footer of ``key`` if it belongs to ``session`` (and its rows, for quality)."""
    for i, location in enumerate(sources):
        try:
            with location.fs.open_input_file(location.join(key)) as handle:
                meta = pq.read_metadata(handle)
                if (meta.metadata or {}).get(SESSION_KEY.encode()) != session.encode():
                    return None, None
                rows = pq.read_table(handle) if key.startswith("table=quality/") else None
                return meta, rows
        except FileNotFoundError:
            if i == len(sources) - 1:
                raise
    raise FileNotFoundError(key)


def _day(iso_date: str) -> int:
    return int(np.datetime64(iso_date, "D").astype(np.int64))


def _row_keys(table: pa.Table) -> Iterator[tuple]:
    """Each row as a tuple of plain values (timestamps as ns integers: exact)."""
    columns = [
        (c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c).to_pylist()
        for c in table.columns
    ]
    return zip(*columns, strict=True)


class SkipPublished:
    """A sink wrapper that drops the rows a crashed run already published."""

    def __init__(self, sink: ParquetSink, published: PublishedRows, written: Counter[str]) -> None:
        self.sink = sink
        self.skip = Counter(published.counts)
        self.quality = Counter(published.quality)
        self.written = written
        self._published = self.left

    @property
    def left(self) -> int:
        """Published rows not met again yet: after a run, those it did not reproduce."""
        return sum(self.skip.values()) + sum(self.quality.values())

    @property
    def skipped(self) -> int:
        """Rows not written because they were published already."""
        return self._published - self.left

    def write(self, table: str, exchange: str, data: pa.Table) -> None:
        if table == "quality":
            keep = []
            for key in _row_keys(data):
                if self.quality[key] > 0:
                    self.quality[key] -= 1
                    keep.append(False)
                else:
                    keep.append(True)
        else:
            ts = data.column("ts_recv").cast(pa.int64()).to_numpy()
            days = ts // _NS_PER_DAY
            keep_mask = np.ones(len(days), dtype=bool)
            for day in np.unique(days):
                left = self.skip[(table, int(day))]
                if left <= 0:
                    continue
                rows = np.flatnonzero(days == day)[:left]
                keep_mask[rows] = False
                self.skip[(table, int(day))] = left - len(rows)
            keep = keep_mask.tolist()
        kept = data.filter(pa.array(keep, pa.bool_())) if not all(keep) else data
        if kept.num_rows:
            self.written[table] += kept.num_rows
            self.sink.write(table, exchange, kept)


def _finish_leftover(path: Path) -> Path:
    """Rewrite a crashed ``.inprogress`` capture part as a complete file, atomically.

    The header and every complete record are kept byte for byte in meaning (they
    are re-encoded from what was read); the torn tail is what is dropped.
    """
    final = path.with_name(path.name.removeprefix(".").removesuffix(INPROGRESS_SUFFIX))
    header = {**capture_header(path), "format": CAPTURE_FORMAT}  # written in today's layout
    encoder = msgspec.msgpack.Encoder()
    stream = CaptureStream(encoder.encode(header), DEFAULT_COMPRESSION_LEVEL)
    tmp = path.with_name(path.name + ".recovering")
    try:
        with open(tmp, "wb") as fh:
            for n, record in enumerate(read_capture(path), 1):
                if stream.append(encoder, record):
                    fh.write(stream.compress())
                if n % _SEAL_CHECKPOINT_EVERY == 0:  # a reader holds records until proven
                    fh.write(stream.checkpoint())
            fh.write(stream.finish())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:  # the leftover stays as it was, for the next attempt
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    path.unlink()
    with contextlib.suppress(OSError):
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return final


def remove_unfinished(out: Path, instance: str) -> int:
    """Delete ``instance``'s unfinished Parquet files (never readable: no footer).

    Matched on the whole name the sink gives them, so another instance whose
    name merely ends the same way (``shard-0`` vs ``0``) is never touched.
    """
    removed = 0
    for folder in out.glob("table=*"):
        table = re.escape(folder.name.removeprefix("table="))
        name = re.compile(
            rf"\.{table}-{re.escape(instance)}-\d{{8}}T\d{{12}}Z-\d+\.parquet"
            rf"{re.escape(_PARQUET_INPROGRESS)}"
        )
        for path in folder.glob("exchange=*/date=*/.*"):
            if name.fullmatch(path.name):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
    return removed
