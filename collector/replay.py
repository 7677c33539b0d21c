"""Replay recordings through the same decode -> book -> Parquet path as the daemon.

Accepts the project's own capture files and the ``corpus-v1`` recordings of
``shared/captures``. Each file is one session: it gets a fresh adapter and
engine (books from different sessions must never mix) and a Parquet writer of its
own, whose files are named for the recording's content (``recording_id``); all of
them write into one dataset. That name is how a replay knows a dataset already
holds a recording: it refuses to write its rows twice, or, resuming an
interrupted replay, writes only the rows that run had not published. A
``<name>.instruments.jsonl.gz`` next to a corpus file is fed to the adapter first
so market names come from the exchange's own metadata.

No snapshot can be fetched during a replay: a symbol that loses sync stays
unsynced, and says so, until the recording itself holds a snapshot that bridges.

Because recordings are independent, ``jobs`` replays several at once, each in a
process of its own: the rows and files are those of a replay one after another.

A damaged file (a garbage line, a torn or truncated gzip stream) costs only what
follows the damage: its records before it are replayed and published, the damage
becomes a ``truncated`` or ``corrupt_record`` quality event and the file summary's
``damage``, and the next file is replayed as usual. The reader stops at the damage
rather than skipping it because a skipped update would leave a book silently
wrong on a venue without sequence numbers.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import itertools
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
from pyarrow.fs import FileType

import adapters
from collector.adapter import Adapter
from collector.book.engine import SnapshotSpec
from collector.capture.reader import (
    Damage,
    OnDamage,
    RecordingInfo,
    capture_header,
    capture_session,
    open_recording,
)
from collector.capture.records import CaptureFormatError, Record, capture_sort_key
from collector.formats import FOREIGN_FORMATS
from collector.pipeline import Pipeline, Sink, SymbolSummary
from collector.recover import SkipPublished, already_published, remove_unfinished
from collector.sinks.parquet import SESSION_KEY, ParquetSink
from collector.spool import Spool
from collector.storage import Location, is_remote, redact, resolve

log = logging.getLogger(__name__)

#: Seconds a replay to object storage waits, at its end, for the last uploads.
UPLOAD_TIMEOUT_S = 120.0
#: Bytes at each end of a recording that, with its size, identify it (``recording_id``).
_ID_SPAN = 2**20
#: A published file a replay wrote: its writer instance is the recording's id.
_REPLAYED_FILE = re.compile(r"[a-z_]+-(replay-[0-9a-f]{12})-\d{8}T\d{12}Z-\d+\.parquet")


class ReplayError(RuntimeError):
    """A recording cannot be replayed (unknown exchange, unreadable file)."""


class FileSummary(msgspec.Struct):
    path: str
    exchange: str
    records: int
    frames: int
    problems: dict[str, int]
    symbols: dict[str, SymbolSummary]
    damage: str | None = None
    """What ended the file early, naming the position; None for a file read to its end."""
    resumed: int = 0
    """Rows not written again because an interrupted replay of the file had (``resume``)."""
    later_parts: list[str] = msgspec.field(default_factory=list)
    """Later parts of its capture session, replayed after it as one stream."""


class ReplaySummary(msgspec.Struct):
    out: str
    files: list[FileSummary]
    parquet_files: int

    @property
    def damaged(self) -> list[FileSummary]:
        return [f for f in self.files if f.damage is not None]

    def by_exchange(self) -> dict[str, dict[str, SymbolSummary]]:
        """Per exchange and symbol, summed over files."""
        merged: dict[str, dict[str, SymbolSummary]] = {}
        for f in self.files:
            per = merged.setdefault(f.exchange, {})
            for symbol, s in f.symbols.items():
                if symbol not in per:
                    per[symbol] = msgspec.structs.replace(s)
                    continue
                acc = per[symbol]
                for field in msgspec.structs.fields(SymbolSummary):
                    value = getattr(s, field.name)
                    if type(value) is int:
                        value += getattr(acc, field.name)
                    setattr(acc, field.name, value)
        return merged


def instruments_sidecar(path: Path) -> Path | None:
    """``NAME.instruments.jsonl.gz`` beside ``NAME.jsonl.gz``, else one shared by a family.

    Several recordings of one session may share one instrument file: the
    corpus's ``KRAKEN.ws.48/49/50.jsonl.gz`` all use ``KRAKEN.instruments.jsonl.gz``.
    """
    if not path.name.endswith(".jsonl.gz") or path.name.endswith(".instruments.jsonl.gz"):
        return None
    stem = path.name[: -len(".jsonl.gz")]
    for name in (stem, stem.split(".")[0]):
        sidecar = path.with_name(name + ".instruments.jsonl.gz")
        if sidecar.exists():
            return sidecar
    return None


def load_instruments(adapter: Adapter, path: Path, on_damage: OnDamage | None = None) -> None:
    """Feed the recording's instrument responses to the adapter, as the live start-up did."""
    sidecar = instruments_sidecar(path)
    if sidecar is not None:
        for rec in open_recording(sidecar, on_damage)[1]:
            if rec.kind == "http":
                adapter.decode_rest(rec.url, rec.data, rec.ts)


def open_with_adapter(
    path: Path,
    exchange: str | None = None,
    on_damage: OnDamage | None = None,
    *,
    fmt: str | None = None,
    url: str | None = None,
) -> tuple[RecordingInfo, Iterator[Record], str, Adapter]:
    """A recording, its exchange slug (``exchange`` overrides the header) and a fresh adapter.

    ``fmt`` forces a foreign format, ``url`` is the connection URL for recordings
    that lack one (see ``open_recording``). Raises ``ReplayError`` saying what is
    wrong: unreadable, no exchange named, or an exchange without an adapter.
    ``on_damage`` goes to the reader.
    """
    try:
        info, records = open_recording(path, on_damage, fmt=fmt, exchange=exchange, url=url)
    except (CaptureFormatError, OSError) as exc:
        raise ReplayError(str(exc)) from None
    # A foreign format has already mapped ``exchange`` (a tardis id, say) to a slug.
    slug = info.exchange if info.format in FOREIGN_FORMATS else exchange or info.exchange
    if not slug:
        raise ReplayError(f"{path}: the recording does not name its exchange; pass --exchange")
    slug = adapters.canonical(slug)  # a recording made before the venue's rename
    try:
        adapter = adapters.create(slug)
    except adapters.UnknownExchange as exc:
        raise ReplayError(f"{path}: {exc}") from None
    return info, records, slug, adapter


def replay_file(
    path: Path,
    sink: Sink,
    *,
    exchange: str | None = None,
    on_record: Callable[[int], None] | None = None,
    snapshots: Sequence[SnapshotSpec] = (),
    fmt: str | None = None,
    url: str | None = None,
) -> FileSummary:
    """Replay one recording into ``sink``; ``on_record`` gets the byte-free record count."""
    damages: list[Damage] = []
    _, records, slug, adapter = open_with_adapter(path, exchange, damages.append, fmt=fmt, url=url)
    return _replay_records(path, adapter, slug, records, damages, sink, on_record, snapshots)


def _replay_records(
    path: Path,
    adapter: Adapter,
    slug: str,
    records: Iterable[Record],
    damages: list[Damage],
    sink: Sink,
    on_record: Callable[[int], None] | None,
    snapshots: Sequence[SnapshotSpec],
) -> FileSummary:
    load_instruments(adapter, path, damages.append)
    pipeline = Pipeline(adapter, sink, snapshots=snapshots)
    count = 0
    for count, record in enumerate(records, 1):
        pipeline.on_record(record)
        if on_record is not None and count % 4096 == 0:
            on_record(4096)
    for damage in damages:  # the recording's, and its instrument file's if that is damaged
        pipeline.input_damaged(damage.kind, str(damage))
    pipeline.finish()
    if on_record is not None:
        on_record(count % 4096)
    return FileSummary(
        str(path),
        slug,
        count,
        pipeline.frames,
        dict(pipeline.problems),
        pipeline.summary(),
        "; ".join(map(str, damages)) or None,
    )


@dataclass(frozen=True)
class Recording:
    """What one replay session reads: a file, or the parts of one capture session given.

    The daemon rotates its capture (hourly by default) and its books carry on from
    one part to the next; replayed one by one, every part after the first would
    start without a book and, on a venue whose snapshots come by REST, write none
    until it ends. So the parts of a session are one stream, in part order.
    ``rid``: the writer instance of the files its replay writes (``recording_id``).
    """

    paths: tuple[Path, ...]
    rid: str
    session: str | None = None  # the capture session the paths are parts of

    def __str__(self) -> str:
        more = len(self.paths) - 1
        return f"{self.paths[0]}" + (f" (and {more} later part(s) of its session)" if more else "")


def recordings(paths: Iterable[Path], fmt: str | None = None) -> list[Recording]:
    """The replay sessions ``paths`` make up, in the order each is first named.

    Raises ``ReplayError`` for a recording named twice (the same file content, or
    the same part of a capture session), whose rows would be written twice.
    """
    units: list[Path | str] = []  # a file, or a capture session's id
    sessions: dict[str, dict[int, Path]] = {}
    for path in map(Path, paths):
        try:
            found = capture_session(path, fmt)
        except (CaptureFormatError, OSError) as exc:
            raise ReplayError(str(exc)) from None
        if found is None:
            units.append(path)
            continue
        session, part = found
        parts = sessions.setdefault(session, {})
        if not parts:
            units.append(session)
        if part in parts:
            raise ReplayError(
                f"{path} and {parts[part]} are both part {part} of capture session {session}"
            )
        parts[part] = path
    result: list[Recording] = []
    seen: dict[str, Recording] = {}
    for unit in units:
        if isinstance(unit, Path):
            recording = Recording((unit,), recording_id(unit))
        else:
            recording = _session_recording(unit, sessions[unit])
        if recording.rid in seen:
            raise ReplayError(
                f"{recording} and {seen[recording.rid]} are the same recording: replaying "
                f"both would write its rows twice"
            )
        seen[recording.rid] = recording
        result.append(recording)
    return result


def _session_recording(session: str, parts: dict[int, Path]) -> Recording:
    """The given parts of a capture session in order, named for the session and its
    first part given: more parts of it later are the same recording, resumable."""
    numbers = sorted(parts)
    missing = sorted(set(range(numbers[0], numbers[-1])) - set(numbers))
    if missing:
        log.warning(
            "capture session %s: parts %s are not among the files given; its books "
            "resync where the parts after the hole allow",
            session,
            missing,
        )
    name = f"capture session {session} from part {numbers[0]}"
    rid = f"replay-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return Recording(tuple(parts[n] for n in numbers), rid, session)


def recording_id(path: Path) -> str:
    """``replay-`` and 12 hex digits naming a recording's content.

    Its replay writes files of its own under this writer instance (in their names
    and footers), so a dataset tells which recordings it already holds. Computed
    from the size and the first and last MiB: cheap for a file of any size, and a
    gzip file ends with a CRC-32 of all it holds, so recordings that differ only in
    the middle still get different ids.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        digest.update(size.to_bytes(8, "little"))
        digest.update(f.read(_ID_SPAN))
        if size > _ID_SPAN:
            f.seek(max(_ID_SPAN, size - _ID_SPAN))
            digest.update(f.read())
    return f"replay-{digest.hexdigest()[:12]}"


def _replay_into(
    recording: Recording,
    root: Path,
    rotate_seconds: float,
    on_publish: Callable[[Path], None] | None,
    *,
    resume: bool = False,
    uploaded: Location | None = None,
    on_record: Callable[[int], None] | None = None,
    exchange: str | None = None,
    snapshots: Sequence[SnapshotSpec] = (),
    fmt: str | None = None,
    url: str | None = None,
) -> tuple[FileSummary, list[Path]]:
    """``recording`` into Parquet files of its own under ``root``, their writer instance
    its ``rid``; returns its summary and the files published.

    ``resume``: rows an earlier, interrupted replay of the same recording published
    (in ``root``, or in ``uploaded``, the store a spooled ``root`` uploads to) are
    not written again. The replay is deterministic, so those are a prefix of its
    rows per table and day, which is how crash recovery skips them too.
    """
    rid = recording.rid
    remove_unfinished(root, rid)  # an interrupted replay's footerless leftovers
    damages: list[Damage] = []
    first, *later = recording.paths
    _, records, slug, adapter = open_with_adapter(first, exchange, damages.append, fmt=fmt, url=url)
    read = [first]
    if later:
        records = itertools.chain(records, _later_parts(later, read, damages, url))
    with ParquetSink(
        root, instance=rid, rotate_seconds=rotate_seconds, on_publish=on_publish
    ) as sink:
        sink.sessions[slug] = rid
        skipping = None
        if resume:
            published = already_published(root, slug, rid, uploaded)
            skipping = SkipPublished(sink, published, Counter())
        summary = _replay_records(
            first, adapter, slug, records, damages, skipping or sink, on_record, snapshots
        )
        if skipping is not None:
            summary.resumed = skipping.skipped
            if skipping.left:
                log.warning(
                    "%s: %d rows an earlier replay published were not produced again "
                    "(different code or options?); they stay in the dataset",
                    recording,
                    skipping.left,
                )
    summary.later_parts = [str(p) for p in read[1:]]
    if len(read) < len(recording.paths):
        unread = ", ".join(str(p) for p in recording.paths[len(read) :])
        summary.damage = f"{summary.damage}; later parts not replayed: {unread}"
    return summary, list(sink.published)


def _later_parts(
    paths: list[Path], read: list[Path], damages: list[Damage], url: str | None
) -> Iterator[Record]:
    """The records of a capture session's later parts, each appended to ``read`` as it
    is opened. Damage ends the stream, as it ends a file: a book must not skip what the
    damage lost, and a venue without sequence numbers would never notice."""
    for path in paths:
        if damages:
            return
        read.append(path)
        yield from open_recording(path, damages.append, url=url)[1]


def replay(
    paths: Iterable[Path],
    out: str | Path,
    *,
    exchange: str | None = None,
    on_record: Callable[[int], None] | None = None,
    rotate_seconds: float = 3600.0,
    snapshots: Sequence[SnapshotSpec] = (),
    fmt: str | None = None,
    url: str | None = None,
    jobs: int = 1,
    resume: bool = False,
) -> ReplaySummary:
    """Replay ``paths`` into the dataset at ``out``: a directory, ``s3://`` or ``gs://``.

    ``fmt`` and ``url``: see ``open_recording`` (``--format``, ``--url``). ``jobs``:
    files replayed at once, each in its own process (0: one per CPU); ``on_record``
    then hears of a file's records when the file is done. The processes are spawned,
    so a script that calls this with ``jobs`` above 1 needs Python's usual
    ``if __name__ == "__main__":`` guard around its own work.

    Each recording's rows go to files of its own, named for its content
    (``recording_id``). A recording ``out`` already holds files of is refused with a
    ``ReplayError`` before anything is written, since its rows would be there twice;
    ``resume`` instead finishes such a replay that was interrupted (killed, a full
    disk), writing only the rows it had not published.

    Object storage is written the way the daemon writes it: Parquet files are
    finished in a local spool folder and each is uploaded (atomically, see
    ``collector.storage.upload``) as soon as it is published.
    """
    units = recordings(paths, fmt)
    jobs = min(jobs or os.cpu_count() or 1, len(units))
    remote = is_remote(str(out))
    target = _remote_target(str(out)) if remote else resolve(Path(out))
    _refuse_repeats(target, units, resume)
    options = {
        "exchange": exchange,
        "snapshots": snapshots,
        "fmt": fmt,
        "url": url,
        "resume": resume,
        "uploaded": target if remote else None,
    }
    replay_all: _ReplayAll
    if jobs > 1:
        replay_all = functools.partial(
            _replay_parallel, jobs=jobs, options=options, on_record=on_record
        )
    else:
        replay_all = functools.partial(_replay_sequential, options=options, on_record=on_record)
    if not remote:
        return replay_all(units, Path(out), rotate_seconds, None)
    spool_dir = Path(tempfile.mkdtemp(prefix="collector-replay-spool-"))
    spool = Spool("replay", spool_dir, target, max_bytes=2**62)
    spool.start()
    try:
        summary = replay_all(units, spool_dir, rotate_seconds, spool.submit)
    finally:
        left = spool.close(UPLOAD_TIMEOUT_S)
    if left:
        raise ReplayError(
            f"{left} Parquet files could not be uploaded to {target.uri} "
            f"({spool.last_error}); they are kept in {spool_dir}"
        )
    shutil.rmtree(spool_dir, ignore_errors=True)  # only empty partition folders are left
    return msgspec.structs.replace(summary, out=target.uri)


def _refuse_repeats(target: Location, units: list[Recording], resume: bool) -> None:
    """Raise ``ReplayError`` if ``target`` holds rows of one of ``units`` already: from an
    earlier replay (unless ``resume``), or written live by the daemon (always)."""
    earlier = _earlier_replays(target, {u.rid for u in units})
    if earlier and not resume:
        again = next(u for u in units if u.rid in earlier)
        names = earlier[again.rid]
        raise ReplayError(
            f"{target.uri} already holds {len(names)} Parquet file(s) replayed from "
            f"{again} (named *-{again.rid}-*, e.g. {names[0]}): replaying it again would "
            f"add its rows twice. Replay into another --out, delete those files, or pass "
            f"--resume to finish a replay that was interrupted"
        )
    for unit in units:
        live = _published_live(target, unit) if unit.session is not None else None
        if live is not None:
            raise ReplayError(
                f"{target.uri} already holds the rows the daemon wrote live from capture "
                f"session {unit.session} (e.g. {live}): replaying {unit} there would write "
                f"them a second time. Replay into another --out; rows a killed daemon did "
                f"not publish are for `collector recover`"
            )


def _earlier_replays(target: Location, ids: set[str]) -> dict[str, list[str]]:
    """The published files of ``target`` that replays of ``ids`` wrote, by id."""
    found: dict[str, list[str]] = {}
    for info in target.list(recursive=True):
        match = _REPLAYED_FILE.fullmatch(info.path.rsplit("/", 1)[-1])
        if match is not None and match[1] in ids:
            found.setdefault(match[1], []).append(info.path[len(target.path) :].lstrip("/"))
    return found


def _published_live(target: Location, recording: Recording) -> str | None:
    """A file the daemon published in ``target`` from ``recording``'s capture session.

    The daemon's files name their writer instance and carry the session in their
    footer. Only the session's exchange and days are looked at (from its first part's
    creation to a day past its last part's), and the search stops at the first file
    of the session, so a dataset of months costs a few listings and footers.
    """
    header = capture_header(recording.paths[0])
    instance, exchange = header["instance"], header["exchange"]
    named = re.compile(rf"[a-z_]+-{re.escape(instance)}-\d{{8}}T\d{{12}}Z-\d+\.parquet")
    start, end = _first_date(recording.paths[0]), _first_date(recording.paths[-1])
    if start is None or end is None:
        return None
    days = (end - start).days + 2  # its last part may run past midnight
    dates = [(start + datetime.timedelta(days=d)).isoformat() for d in range(days)]
    tables = [info.path.rsplit("/", 1)[-1] for info in target.list()]
    for partition in (
        (table, f"exchange={exchange}", f"date={date}")
        for table in tables
        if table.startswith("table=")
        for date in dates
    ):
        for info in target.list(*partition):
            if not named.fullmatch(info.path.rsplit("/", 1)[-1]):
                continue
            with target.fs.open_input_file(info.path) as handle:
                footer = pq.read_metadata(handle).metadata or {}
            if footer.get(SESSION_KEY.encode()) == str(recording.session).encode():
                return info.path[len(target.path) :].lstrip("/")
    return None


def _first_date(part: Path) -> datetime.date | None:
    """The UTC date of a capture part's first record: in its file name, as the writer
    names it, else its header's creation time; None when neither says."""
    key = capture_sort_key(part)
    if key is not None:
        return datetime.datetime.strptime(key[0][:8], "%Y%m%d").date()
    created = capture_header(part).get("created_ns")
    if not isinstance(created, int):
        return None
    return datetime.datetime.fromtimestamp(created / 1e9, datetime.UTC).date()


def _remote_target(uri: str) -> Location:
    """Resolve ``uri`` (``AWS_ENDPOINT_URL`` and friends honoured) and check it answers now.

    Checked before reading any recording, so a wrong bucket or an unreachable
    store fails at once rather than after a long replay.
    """
    try:
        target = resolve(uri)
        bucket = target.path.partition("/")[0]
        missing = target.fs.get_file_info(bucket).type == FileType.NotFound
    except (ValueError, OSError) as exc:
        raise ReplayError(f"cannot write to {redact(uri)}: {exc}") from None
    if missing:
        raise ReplayError(f"cannot write to {target.uri}: bucket {bucket!r} does not exist")
    return target


#: Replays recordings into a root: (recordings, root, rotate_seconds, on_publish) -> summary.
_ReplayAll = Callable[[list[Recording], Path, float, Callable[[Path], None] | None], ReplaySummary]


def _replay_sequential(
    units: list[Recording],
    root: Path,
    rotate_seconds: float,
    on_publish: Callable[[Path], None] | None,
    *,
    options: dict[str, Any],
    on_record: Callable[[int], None] | None,
) -> ReplaySummary:
    files, published = [], 0
    for recording in units:
        summary, names = _replay_into(
            recording, root, rotate_seconds, on_publish, on_record=on_record, **options
        )
        files.append(summary)
        published += len(names)
    return ReplaySummary(str(root), files, published)


def _replay_parallel(
    units: list[Recording],
    root: Path,
    rotate_seconds: float,
    on_publish: Callable[[Path], None] | None,
    *,
    jobs: int,
    options: dict[str, Any],
    on_record: Callable[[int], None] | None,
    worker: Callable[..., tuple[FileSummary, list[str]]] | None = None,
) -> ReplaySummary:
    """``jobs`` worker processes, one recording at a time each; summaries in order.

    A worker's files are published (and handed to ``on_publish``) as each recording
    ends. One that cannot be replayed raises its ``ReplayError`` here once it is the
    first to end so; recordings not started by then are not started.
    """
    files: list[FileSummary | None] = [None] * len(units)
    worker = worker or _replay_alone  # tests pass one that dies
    published = 0
    # "spawn": a worker must not inherit the caller's threads (a spool's uploader).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        running = {
            pool.submit(worker, recording, root, rotate_seconds, options): i
            for i, recording in enumerate(units)
        }
        try:
            for done in as_completed(running):
                try:
                    summary, names = done.result()
                except BrokenProcessPool as exc:
                    # Every file in flight fails alike: which one's process died is unknown.
                    raise ReplayError(
                        f"a process replaying files died before {units[running[done]]} was "
                        f"done ({exc}); out of memory? try fewer --jobs"
                    ) from None
                files[running[done]] = summary
                published += len(names)
                if on_publish is not None:
                    for name in names:
                        on_publish(Path(name))
                if on_record is not None:
                    on_record(summary.records)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return ReplaySummary(str(root), [f for f in files if f is not None], published)


def _replay_alone(
    recording: Recording, root: Path, rotate_seconds: float, options: dict[str, Any]
) -> tuple[FileSummary, list[str]]:
    """One recording into a Parquet writer of its own (in a worker process)."""
    summary, names = _replay_into(recording, root, rotate_seconds, None, **options)
    return summary, [str(p) for p in names]
