"""Replay recordings through the same decode -> book -> Parquet path as the daemon.

Accepts the project's own capture files and the ``corpus-v1`` recordings of
``shared/captures``. Each file is one session: it gets a fresh adapter and
engine (books from different sessions must never mix), all of them write into
one dataset. A ``<name>.instruments.jsonl.gz`` next to a corpus file is fed to
the adapter first so market names come from the exchange's own metadata.

No snapshot can be fetched during a replay: a symbol that loses sync stays
unsynced, and says so, until the recording itself holds a snapshot that bridges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import msgspec

import adapters
from collector.adapter import Adapter
from collector.book.engine import SnapshotSpec
from collector.capture.reader import RecordingInfo, open_recording
from collector.capture.records import CaptureFormatError, Record
from collector.pipeline import Pipeline, Sink, SymbolSummary
from collector.sinks.parquet import ParquetSink


class ReplayError(RuntimeError):
    """A recording cannot be replayed (unknown exchange, unreadable file)."""


class FileSummary(msgspec.Struct):
    path: str
    exchange: str
    records: int
    frames: int
    problems: dict[str, int]
    symbols: dict[str, SymbolSummary]


class ReplaySummary(msgspec.Struct):
    out: str
    files: list[FileSummary]
    parquet_files: int

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


def load_instruments(adapter: Adapter, path: Path) -> None:
    """Feed the recording's instrument responses to the adapter, as the live start-up did."""
    sidecar = instruments_sidecar(path)
    if sidecar is not None:
        for rec in open_recording(sidecar)[1]:
            if rec.kind == "http":
                adapter.decode_rest(rec.url, rec.data, rec.ts)


def open_with_adapter(
    path: Path, exchange: str | None = None
) -> tuple[RecordingInfo, Iterator[Record], str, Adapter]:
    """A recording, its exchange slug (``exchange`` overrides the header) and a fresh adapter.

    Raises ``ReplayError`` saying what is wrong: unreadable, no exchange named, or
    an exchange without an adapter.
    """
    try:
        info, records = open_recording(path)
    except (CaptureFormatError, OSError) as exc:
        raise ReplayError(str(exc)) from None
    slug = exchange or info.exchange
    if not slug:
        raise ReplayError(f"{path}: the recording does not name its exchange; pass --exchange")
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
) -> FileSummary:
    """Replay one recording into ``sink``; ``on_record`` gets the byte-free record count."""
    _, records, slug, adapter = open_with_adapter(path, exchange)
    load_instruments(adapter, path)
    pipeline = Pipeline(adapter, sink, snapshots=snapshots)
    count = 0
    for count, record in enumerate(records, 1):
        pipeline.on_record(record)
        if on_record is not None and count % 4096 == 0:
            on_record(4096)
    pipeline.finish()
    if on_record is not None:
        on_record(count % 4096)
    return FileSummary(
        str(path), slug, count, pipeline.frames, dict(pipeline.problems), pipeline.summary()
    )


def replay(
    paths: Iterable[Path],
    out: Path,
    *,
    exchange: str | None = None,
    on_record: Callable[[int], None] | None = None,
    rotate_seconds: float = 3600.0,
    snapshots: Sequence[SnapshotSpec] = (),
) -> ReplaySummary:
    files = []
    with ParquetSink(out, rotate_seconds=rotate_seconds) as sink:
        for path in paths:
            files.append(
                replay_file(path, sink, exchange=exchange, on_record=on_record, snapshots=snapshots)
            )
    return ReplaySummary(str(out), files, len(sink.published))
