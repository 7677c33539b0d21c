"""Readers for recordings: own capture files and the shared corpus-v1 files.

Both formats yield the same :class:`~collector.capture.records.Record`, and
:func:`open_recording` picks the reader from the file's content (not its name),
so replay takes any recording it is handed.

The own-format reader is also the crash-recovery reader: it accepts a file cut
anywhere (a ``.inprogress`` file after ``kill -9``, a partial copy) and yields
every complete record before the cut, without raising. Only positive evidence
that a file is something else (wrong magic, wrong header) raises
:class:`~collector.capture.records.CaptureFormatError`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final, Literal

import msgpack
import msgspec

from collector import formats
from collector.capture.records import (
    CAPTURE_FORMAT,
    INPROGRESS_SUFFIX,
    CaptureFormatError,
    Record,
    capture_sort_key,
    exchange_dir,
)

__all__ = [
    "CORPUS_FORMAT",
    "CaptureFormatError",
    "RecordingInfo",
    "list_capture_files",
    "open_recording",
    "read_capture",
    "read_corpus",
]

#: Value of ``"format"`` in the header line of a shared corpus file.
CORPUS_FORMAT: Final = "corpus-v1"

_log = logging.getLogger(__name__)

_READ_CHUNK: Final = 256 * 1024  # compressed bytes per read of a capture file
_CORPUS_BLOCK: Final = 1 << 20  # decompressed bytes per decode_lines batch
_MAX_ITEM: Final = 1 << 30  # largest msgpack item we agree to buffer
_GZIP_WBITS: Final = 31

StrPath = str | os.PathLike[str]


class RecordingInfo(msgspec.Struct, frozen=True):
    """What :func:`open_recording` found out about a file before reading it."""

    path: str
    format: str
    """``"corpus-v1"`` or ``"collector-capture-v1"``."""
    exchange: str | None
    """Exchange slug from the file's header, when it names one."""


# --------------------------------------------------------------------------- own format


def read_capture(path: StrPath) -> Iterator[Record]:
    """Yield the records of one own-format capture file, finished or ``.inprogress``.

    Stops quietly at a truncated tail (crash, partial copy). Raises
    :class:`CaptureFormatError` if the file is not a capture at all.
    """
    path = Path(path)
    items = _capture_items(path)
    header = next(items, None)
    if header is None:
        return  # cut before the header was complete: an empty capture
    _check_capture_header(header, path)
    for item in items:
        yield _to_record(item, path)


def list_capture_files(directory: StrPath, exchange: str | None = None) -> list[Path]:
    """Capture files (final and ``.inprogress``) under ``directory``, by first record ts.

    ``exchange`` limits the listing to that exchange's folder. Files whose names
    the writer would not produce are ignored.
    """
    root = Path(directory)
    folders = [exchange_dir(root, exchange)] if exchange else sorted(root.glob("exchange=*"))
    keyed = [
        (key, path)
        for folder in folders
        if folder.is_dir()
        for path in folder.iterdir()
        if (key := capture_sort_key(path)) is not None
    ]
    return [path for _, path in sorted(keyed)]


def _capture_items(path: Path) -> Iterator[Any]:
    """Yield every complete msgpack item in a capture file, header first."""
    decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=_MAX_ITEM)
    seen_header = False
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            before = decompressor.copy()  # cheap (~40 KB); lets a bad chunk be salvaged
            try:
                unpacker.feed(decompressor.decompress(chunk))
            except zlib.error as exc:
                unpacker.feed(_salvage(before, chunk))
                for item in _unpack_available(unpacker, path):
                    seen_header = True
                    yield item
                _on_corrupt_stream(path, exc, seen_header)
                return
            for item in _unpack_available(unpacker, path):
                seen_header = True
                yield item
            if decompressor.eof:
                _check_trailing(path, fh, decompressor.unused_data)
                return


def _unpack_available(unpacker: msgpack.Unpacker, path: Path) -> Iterator[Any]:
    """Yield the complete items buffered in ``unpacker``; a partial one waits."""
    try:
        yield from unpacker
    except ValueError as exc:  # msgpack's FormatError/StackError/BufferFull subclass it
        raise CaptureFormatError(f"{path}: corrupt msgpack data in capture: {exc}") from exc


def _salvage(decompressor: Any, chunk: bytes) -> bytes:
    """Decompress ``chunk`` byte by byte up to the first bad byte.

    zlib discards a whole call's output when it meets bad data, so the good
    records just before a torn tail would be lost with a chunk-sized call. Only
    runs once per damaged file, so the per-byte cost does not matter.
    """
    out = bytearray()
    for i in range(len(chunk)):
        try:
            out += decompressor.decompress(chunk[i : i + 1])
        except zlib.error:
            break
    return bytes(out)


def _on_corrupt_stream(path: Path, exc: zlib.error, seen_header: bool) -> None:
    """Decide what a zlib error means: torn crash tail (warn) or a bad file (raise).

    A finished file was fsynced before it was renamed, so damage there is real
    corruption. An ``.inprogress`` file after a power loss can end in garbage
    (zero-filled blocks); everything before it is still good and must stay
    recoverable.
    """
    if not seen_header:
        raise CaptureFormatError(
            f"{path}: not a collector capture (expected gzip-compressed msgpack "
            f"starting with a {CAPTURE_FORMAT!r} header): {exc}"
        ) from exc
    if path.name.endswith(INPROGRESS_SUFFIX):
        _log.warning("%s: corrupt tail ignored after the last complete record: %s", path, exc)
        return
    raise CaptureFormatError(f"{path}: corrupt compressed data: {exc}") from exc


def _check_trailing(path: Path, fh: IO[bytes], unused: bytes) -> None:
    if unused or fh.read(1):
        raise CaptureFormatError(f"{path}: unexpected data after the end of the gzip stream")


def _check_capture_header(header: Any, path: Path) -> dict[str, Any]:
    """Return the header map, or raise if the first item is not ours."""
    fmt = header.get("format") if isinstance(header, dict) else None
    if fmt != CAPTURE_FORMAT:
        found = f"format {fmt!r}" if fmt is not None else f"a {type(header).__name__}"
        raise CaptureFormatError(
            f"{path}: not a {CAPTURE_FORMAT!r} capture: header item has {found}"
        )
    return header


def _to_record(item: Any, path: Path) -> Record:
    if type(item) is list:
        try:
            return Record(*item)
        except TypeError:
            pass
    raise CaptureFormatError(f"{path}: item is not a capture record: {item!r:.200}")


def capture_header(path: StrPath) -> dict[str, Any]:
    """The header map of an own-format capture file (its session, part, exchange...)."""
    return _capture_header(Path(path))


def _capture_header(path: Path) -> dict[str, Any]:
    """Read and validate just the header of a capture file."""
    items = _capture_items(path)
    try:
        header = next(items, None)
    finally:
        items.close()
    if header is None:
        raise CaptureFormatError(f"{path}: capture file ends before its header is complete")
    return _check_capture_header(header, path)


# --------------------------------------------------------------------------- corpus-v1


class _CorpusHeader(msgspec.Struct):
    kind: str
    format: str = ""
    exchange: str | None = None


class _CorpusLine(msgspec.Struct, gc=False):
    """One non-header corpus line; msgspec validates ``kind`` and types in C."""

    kind: Literal["open", "send", "recv", "http", "close"]
    ts: int
    conn: int = 0
    url: str = ""
    data: str = ""
    b64: str | None = None
    status: int | None = None


_corpus_header_decoder: Final = msgspec.json.Decoder(_CorpusHeader)
_corpus_line_decoder: Final = msgspec.json.Decoder(_CorpusLine)


def read_corpus(path: StrPath) -> Iterator[Record]:
    """Yield the records of one corpus-v1 ``.jsonl.gz`` file.

    ``b64`` frames come back as ``bytes`` in ``data``; ``data`` text stays ``str``.
    On the replay hot path: lines are decoded a megabyte at a time with
    ``decode_lines`` rather than one ``decode`` call per line.
    """
    path = Path(path)
    with gzip.open(path, "rb") as fh:
        _parse_corpus_header(_read_corpus(fh.readline, path), path)
        while block := _read_corpus(lambda: fh.read(_CORPUS_BLOCK), path):
            if not block.endswith(b"\n"):
                block += _read_corpus(fh.readline, path)
            for line in _decode_corpus_lines(block, path):
                yield _corpus_record(line, path)


def _read_corpus(read: Any, path: Path) -> bytes:
    """Call a gzip read function, turning gzip/zlib failures into format errors."""
    try:
        return read()
    except (OSError, EOFError, zlib.error) as exc:
        raise CaptureFormatError(f"{path}: unreadable corpus file (gzip): {exc}") from exc


def _parse_corpus_header(line: bytes, path: Path) -> _CorpusHeader:
    try:
        header = _corpus_header_decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise CaptureFormatError(
            f"{path}: not a {CORPUS_FORMAT!r} file: first line is not a JSON header ({exc})"
        ) from exc
    if header.kind != "header" or header.format != CORPUS_FORMAT:
        raise CaptureFormatError(
            f"{path}: not a {CORPUS_FORMAT!r} file: header has kind {header.kind!r}, "
            f"format {header.format!r}"
        )
    return header


def _decode_corpus_lines(block: bytes, path: Path) -> list[_CorpusLine]:
    try:
        return _corpus_line_decoder.decode_lines(block)
    except msgspec.DecodeError as exc:
        raise CaptureFormatError(f"{path}: bad corpus line: {exc}") from exc


def _corpus_record(line: _CorpusLine, path: Path) -> Record:
    data: str | bytes = line.data
    if line.b64 is not None:
        try:
            data = base64.b64decode(line.b64, validate=True)
        except binascii.Error as exc:
            raise CaptureFormatError(f"{path}: bad base64 in a {line.kind} line: {exc}") from exc
    return Record(line.kind, line.ts, line.conn, data, line.url, line.status)


def _corpus_header(path: Path) -> _CorpusHeader:
    with gzip.open(path, "rb") as fh:
        return _parse_corpus_header(_read_corpus(fh.readline, path), path)


# --------------------------------------------------------------------------- detection


def open_recording(
    path: StrPath,
    *,
    fmt: str | None = None,
    exchange: str | None = None,
    url: str | None = None,
) -> tuple[RecordingInfo, Iterator[Record]]:
    """Identify a recording by its content and return its info and a record iterator.

    The header is read and validated now, so a wrong file fails here rather
    than in the middle of a replay; the records are read lazily. Other tools'
    files (``collector.formats``) are recognised first; ``fmt`` forces one of
    them, ``exchange`` and ``url`` tell them what their content does not (for
    those, ``info.exchange`` is the adapter slug ``exchange`` maps to).
    ``url`` also opens any connection of our own formats that has no ``open``.
    """
    path = Path(path)
    foreign = fmt or formats.sniff(path)
    if foreign is not None:
        slug, found = formats.open_foreign(path, foreign, exchange=exchange, url=url)
        return RecordingInfo(path=str(path), format=foreign, exchange=slug), found
    info, records = _open_own(path)
    return info, formats.with_url(records, url) if url else records


def _open_own(path: Path) -> tuple[RecordingInfo, Iterator[Record]]:
    fmt = _sniff_format(path)
    if fmt == CORPUS_FORMAT:
        exchange = _corpus_header(path).exchange
        records = read_corpus(path)
    else:
        exchange = _capture_header(path).get("exchange")
        records = read_capture(path)
    return RecordingInfo(path=str(path), format=fmt, exchange=exchange), records


def _sniff_format(path: Path) -> str:
    """Tell corpus (JSON text) from capture (msgpack map) by the first decompressed byte."""
    try:
        with gzip.open(path, "rb") as fh:
            first = fh.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        raise CaptureFormatError(
            f"{path}: not a recording: expected a gzip-compressed {CORPUS_FORMAT!r} "
            f".jsonl.gz or {CAPTURE_FORMAT!r} capture ({exc})"
        ) from exc
    if first == b"{":
        return CORPUS_FORMAT
    if first and (0x80 <= first[0] <= 0x8F or first[0] in (0xDE, 0xDF)):
        return CAPTURE_FORMAT
    raise CaptureFormatError(
        f"{path}: not a recording: gzip content starts with {first!r}, neither a "
        f"{CORPUS_FORMAT!r} JSON header nor a {CAPTURE_FORMAT!r} msgpack header"
    )
