"""Readers for recordings: own capture files and the shared corpus-v1 files.

Both formats yield the same :class:`~collector.capture.records.Record`, and
:func:`open_recording` picks the reader from the file's content (not its name),
so replay takes any recording it is handed.

The own-format reader is also the crash-recovery reader: it accepts a file cut
anywhere (a ``.inprogress`` file after ``kill -9``, a partial copy) and yields
every complete record before the cut, without raising. Only positive evidence
that a file is something else (wrong magic, wrong header) raises
:class:`~collector.capture.records.CaptureFormatError`.

Damage after a good header (a garbage line, a torn gzip stream, a finished
capture without its gzip trailer) is a :class:`Damage`: every record before it
is yielded first, then the reader either calls ``on_damage`` and stops (replay
goes on with the next file and reports it) or, without a callback, raises it as
:class:`DamagedRecording` (a ``CaptureFormatError``). A truncated *finished*
capture without a callback only logs a warning, as such files were always read
up to the cut. A ``.inprogress`` capture has no trailer yet: its cut tail is
expected and is not damage.
"""

from __future__ import annotations

import base64
import gzip
import logging
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Literal

import msgpack
import msgspec
from zlib_ng import zlib_ng  # inflates twice as fast as zlib: a replay reads every byte

from collector import formats
from collector.capture.records import (
    CAPTURE_FORMAT,
    CAPTURE_FORMATS,
    INPROGRESS_SUFFIX,
    CaptureFormatError,
    Record,
    capture_sort_key,
    exchange_dir,
)
from collector.model import clip

__all__ = [
    "CORPUS_FORMAT",
    "CaptureFormatError",
    "Damage",
    "DamagedRecording",
    "OnDamage",
    "RecordingInfo",
    "capture_header",
    "capture_session",
    "list_capture_files",
    "open_recording",
    "read_capture",
    "read_corpus",
]

#: Value of ``"format"`` in the header line of a shared corpus file.
CORPUS_FORMAT: Final = "corpus-v1"

_log = logging.getLogger(__name__)

_READ_CHUNK: Final = 256 * 1024  # compressed bytes per read of a recording
_MAX_ITEM: Final = 1 << 30  # largest msgpack item we agree to buffer
_GZIP_WBITS: Final = 31

StrPath = str | os.PathLike[str]


class RecordingInfo(msgspec.Struct, frozen=True):
    """What :func:`open_recording` found out about a file before reading it."""

    path: str
    format: str
    """``"corpus-v1"``, ``"collector-capture-v1"`` or ``"collector-capture-v2"``."""
    exchange: str | None
    """Exchange slug from the file's header, when it names one."""


class Damage(msgspec.Struct, frozen=True):
    """Where a recording stopped being readable before its end, and why.

    ``kind`` is ``"truncated"`` (the file ends inside its gzip stream: a cut copy,
    a finished capture without its trailer) or ``"corrupt_record"`` (bytes that
    are not what the format allows: a garbage line, a torn gzip block, an item
    that is not a record). ``where`` names the position in words.
    """

    path: str
    kind: Literal["truncated", "corrupt_record"]
    offset: int
    """Byte offset: in the file (gzip damage) or in the decompressed stream (records)."""
    where: str
    detail: str
    records: int
    """Records read (and yielded) before the damage."""

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.kind} at {self.where}: {self.detail}; "
            f"{self.records} records before it read"
        )


class DamagedRecording(CaptureFormatError):
    """A recording is damaged after its header; its earlier records were yielded."""

    def __init__(self, damage: Damage) -> None:
        super().__init__(str(damage))
        self.damage = damage


#: Told about the damage that ended a read; the read then stops without raising.
OnDamage = Callable[[Damage], None]


class _Torn(Exception):
    """The gzip stream of a file ends early or breaks at ``offset`` (a file offset)."""

    def __init__(self, kind: Literal["truncated", "corrupt_record"], offset: int, why: str):
        super().__init__(why)
        self.kind = kind
        self.offset = offset
        self.why = why


def _gunzip(path: Path) -> Iterator[bytes]:
    """Yield the decompressed bytes of a gzip file; raise ``_Torn`` where it breaks.

    Everything decompressible before a break is yielded first. Concatenated gzip
    members are one stream, as ``gzip`` reads them; anything else after a member
    is damage.
    """
    decompressor = zlib_ng.decompressobj(wbits=_GZIP_WBITS)
    offset = 0  # file offset of the start of ``chunk``
    inside = False  # bytes of an unfinished member have been fed
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            while chunk:
                before = decompressor.copy()  # cheap (~40 KB); lets a bad chunk be salvaged
                try:
                    data = decompressor.decompress(chunk)
                except zlib_ng.error as exc:
                    good, bad_at = _salvage(before, chunk)
                    if good:
                        yield good
                    where = offset + bad_at
                    raise _Torn("corrupt_record", where, f"bad gzip data: {exc}") from exc
                if data:
                    yield data
                if decompressor.eof:  # a member ended: what follows starts a new one
                    rest = decompressor.unused_data
                    offset += len(chunk) - len(rest)
                    chunk, inside = rest, False
                    decompressor = zlib_ng.decompressobj(wbits=_GZIP_WBITS)
                else:
                    offset += len(chunk)
                    chunk, inside = b"", True
    if inside:
        raise _Torn("truncated", offset, "the file ends inside its gzip stream (no trailer)")


# --------------------------------------------------------------------------- own format


def read_capture(path: StrPath, on_damage: OnDamage | None = None) -> Iterator[Record]:
    """Yield the records of one own-format capture file, finished or ``.inprogress``.

    Raises :class:`CaptureFormatError` if the file is not a capture at all. Damage
    after the header ends the read after every record before it: see the module
    docstring for ``on_damage``. A ``.inprogress`` file's cut tail is not damage.
    """
    path = Path(path)
    items = _capture_items(path)
    try:
        header = next(items, None)
        if header is None:
            return  # cut before the header was complete: an empty capture
        _check_capture_header(header, path)
        yield from items
    except DamagedRecording as exc:
        if path.name.endswith(INPROGRESS_SUFFIX):  # power loss can tear a leftover's tail
            _log.warning("%s: corrupt tail ignored after the last proven record: %s", path, exc)
        elif on_damage is not None:
            on_damage(exc.damage)
        elif exc.damage.kind == "truncated":
            _log.warning("%s", exc.damage)
        else:
            raise


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
    """Yield the header map of a capture file, then each of its records.

    In a v2 file, a flush's records are held back until the checkpoint after
    them proves them intact (see :mod:`collector.capture.writer`); bytes damaged
    inside a flush then lose that flush's records, never turn into wrong ones.
    A clean cut cannot change bytes, so the records before it are handed out.

    Raises ``DamagedRecording`` for damage after the header, except for the
    expected cut tail of a ``.inprogress`` file (power loss can also leave
    garbage there: warned about, not raised).
    """
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=_MAX_ITEM)
    crc: _StreamCrc | None = _StreamCrc()  # None once the header says v1
    held: list[Record] = []  # records not yet proven by a checkpoint
    have_header = False
    yielded = 0  # records handed out
    item_end = 0  # decompressed offset where the last item ended
    try:
        for data in _gunzip(path):
            unpacker.feed(data)
            if crc is not None:
                crc.feed(data)
            try:
                for item in unpacker:
                    if not have_header:  # checked by the caller
                        if not (type(item) is dict and item.get("format") == CAPTURE_FORMAT):
                            crc = None  # v1: no checkpoints
                        have_header = True
                        yield item
                    elif crc is None:
                        record = _to_record(item, path, unpacker, yielded)
                        yielded += 1
                        yield record
                    elif type(item) is dict:
                        crc.check(item, item_end, unpacker.tell(), held, path, yielded)
                        yield from held
                        yielded += len(held)
                        held.clear()
                    else:
                        held.append(_to_record(item, path, unpacker, yielded))
                    if crc is not None:
                        item_end = unpacker.tell()
            except DamagedRecording:
                raise
            except ValueError as exc:  # msgpack's FormatError/StackError/BufferFull
                if not have_header:
                    raise CaptureFormatError(f"{path}: corrupt msgpack data: {exc}") from exc
                detail = f"corrupt msgpack data: {exc}{_unproven(held)}"
                raise _corrupt_item(path, unpacker, yielded, detail) from exc
    except _Torn as torn:
        if not have_header:
            if torn.kind == "truncated":
                return  # cut before the header was complete
            raise CaptureFormatError(
                f"{path}: not a collector capture (expected gzip-compressed msgpack "
                f"starting with a {CAPTURE_FORMAT!r} header): {torn.why}"
            ) from torn
        if torn.kind == "truncated":  # a cut changes no byte before it
            yield from held
            yielded += len(held)
            if path.name.endswith(INPROGRESS_SUFFIX):
                return  # a crash leftover ends inside its stream by nature
        else:
            torn.why += _unproven(held)
        where = f"byte {torn.offset} of the file"
        damage = Damage(str(path), torn.kind, torn.offset, where, torn.why, yielded)
        raise DamagedRecording(damage) from torn
    yield from held  # the gzip trailer's CRC has covered them


def _unproven(held: list[Record]) -> str:
    """What damage cost in records read but not yet proven by a checkpoint."""
    return f"; {len(held)} records since the last checkpoint dropped as unproven" if held else ""


class _StreamCrc:
    """CRC-32 of a v2 capture's decompressed stream between checkpoints.

    Keeps the bytes since the last checkpoint (a flush's worth) as views of the
    chunks fed, so a checkpoint can be checked wherever in a chunk it starts.
    """

    def __init__(self) -> None:
        self._chunks: deque[memoryview] = deque()
        self._at = 0  # stream offset of the first byte kept
        self._crc = 0

    def feed(self, data: bytes) -> None:
        self._chunks.append(memoryview(data))

    def check(
        self,
        mark: dict[Any, Any],
        start: int,
        end: int,
        held: list[Record],
        path: Path,
        yielded: int,
    ) -> None:
        """Prove ``held`` by the checkpoint ``mark`` at ``start:end``, or raise its damage."""
        self._take(start, count=True)
        found, self._crc = self._crc, 0
        self._take(end, count=False)
        if mark != {"crc32": found, "records": len(held)}:
            detail = (
                f"checkpoint {mark!r:.100} does not match the {len(held)} records and "
                f"CRC-32 {found} before it{_unproven(held)}"
            )
            where = f"byte {start} of the decompressed stream"
            raise DamagedRecording(
                Damage(str(path), "corrupt_record", start, where, detail, yielded)
            )

    def _take(self, upto: int, *, count: bool) -> None:
        while self._at < upto:
            chunk = self._chunks[0]
            n = min(len(chunk), upto - self._at)
            if count:
                self._crc = zlib_ng.crc32(chunk[:n], self._crc)
            if n == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
            self._at += n


def _corrupt_item(path: Path, unpacker: msgpack.Unpacker, yielded: int, detail: str) -> Exception:
    """The damage of a bad item after ``yielded`` records were handed out."""
    offset = unpacker.tell()
    where = f"byte {offset} of the decompressed stream"
    return DamagedRecording(Damage(str(path), "corrupt_record", offset, where, detail, yielded))


def _salvage(decompressor: Any, chunk: bytes) -> tuple[bytes, int]:
    """Decompress ``chunk`` byte by byte up to the first bad byte: (output, its index).

    zlib discards a whole call's output when it meets bad data, so the good
    records just before a torn tail would be lost with a chunk-sized call. Only
    runs once per damaged file, so the per-byte cost does not matter.
    """
    out = bytearray()
    for i in range(len(chunk)):
        try:
            out += decompressor.decompress(chunk[i : i + 1])
        except zlib_ng.error:
            return bytes(out), i
    return bytes(out), len(chunk)


def _check_capture_header(header: Any, path: Path) -> dict[str, Any]:
    """Return the header map, or raise if the first item is not ours."""
    fmt = header.get("format") if isinstance(header, dict) else None
    if fmt not in CAPTURE_FORMATS:
        found = f"format {fmt!r}" if fmt is not None else f"a {type(header).__name__}"
        raise CaptureFormatError(
            f"{path}: not a {CAPTURE_FORMAT!r} capture: header item has {found}"
        )
    return header


def _to_record(item: Any, path: Path, unpacker: msgpack.Unpacker, yielded: int) -> Record:
    if type(item) is list:
        try:
            return Record(*item)
        except TypeError:
            pass
    raise _corrupt_item(path, unpacker, yielded, f"item is not a capture record: {item!r:.200}")


def capture_header(path: StrPath) -> dict[str, Any]:
    """The header map of an own-format capture file (its session, part, exchange...)."""
    return _capture_header(Path(path))


def capture_session(path: StrPath, fmt: str | None = None) -> tuple[str, int] | None:
    """The capture session and part number of one of our capture files, else None.

    None for corpus files, other tools' files (or any file when ``fmt`` forces one
    of their formats) and captures written before sessions existed. Raises
    ``CaptureFormatError`` for a file that is no recording at all.
    """
    path = Path(path)
    if fmt or formats.sniff(path) is not None or _sniff_format(path) != CAPTURE_FORMAT:
        return None
    header = _capture_header(path)
    session = header.get("session")
    return (session, int(header.get("part", 0))) if isinstance(session, str) else None


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


def read_corpus(path: StrPath, on_damage: OnDamage | None = None) -> Iterator[Record]:
    """Yield the records of one corpus-v1 ``.jsonl.gz`` file.

    ``b64`` frames come back as ``bytes`` in ``data``; ``data`` text stays ``str``.
    On the replay hot path: lines are decoded a block at a time with
    ``decode_lines`` rather than one ``decode`` call per line. A bad line or a
    torn gzip stream ends the read after every record before it: see the module
    docstring for ``on_damage``.
    """
    path = Path(path)
    try:
        yield from _corpus_records(path)
    except DamagedRecording as exc:
        if on_damage is None:
            raise
        on_damage(exc.damage)


def _corpus_records(path: Path) -> Iterator[Record]:
    line_no = 1  # number of the next whole line to decode; 1 is the header
    offset = 0  # its offset in the decompressed text
    count = 0  # records yielded
    pending: list[bytes] = []  # the start of a line not decompressed to its end yet
    try:
        for data in _chain(_gunzip(path), b"\n"):  # a last line may lack its newline
            cut = data.rfind(b"\n") + 1
            if not cut:
                pending.append(data)  # joined once: a huge line is not copied per chunk
                continue
            block = b"".join((*pending, data[:cut]))
            pending = [data[cut:]]
            if line_no == 1:
                end = block.index(b"\n") + 1
                _parse_corpus_header(block[:end], path)
                line_no, offset, block = 2, end, block[end:]
            try:
                records = [_corpus_record(x) for x in _corpus_line_decoder.decode_lines(block)]
            except (msgspec.DecodeError, ValueError):
                yield from _bad_block(path, block, line_no, offset, count)
            yield from records
            count += len(records)
            line_no += block.count(b"\n")
            offset += len(block)
    except _Torn as torn:
        if line_no == 1:
            raise CaptureFormatError(f"{path}: unreadable corpus file (gzip): {torn}") from torn
        where = f"byte {torn.offset} of the file (line {line_no})"
        damage = Damage(str(path), torn.kind, torn.offset, where, torn.why, count)
        raise DamagedRecording(damage) from torn


def _chain(chunks: Iterator[bytes], last: bytes) -> Iterator[bytes]:
    yield from chunks
    yield last


def _bad_block(path: Path, block: bytes, line_no: int, offset: int, count: int) -> Iterator[Record]:
    """Yield the records of ``block`` line by line up to its bad line, then raise its damage."""
    for line in block.split(b"\n"):
        if line.strip():
            try:
                record = _corpus_record(_corpus_line_decoder.decode(line))
            except (msgspec.DecodeError, ValueError) as exc:
                where = f"line {line_no} (byte {offset} of the decompressed text)"
                detail = f"bad corpus line: {exc}; line: {clip(repr(line), 120)}"
                damage = Damage(str(path), "corrupt_record", offset, where, detail, count)
                raise DamagedRecording(damage) from exc
            yield record
            count += 1
        line_no += 1
        offset += len(line) + 1
    raise AssertionError("a block that failed to decode has a bad line")  # pragma: no cover


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


def _corpus_record(line: _CorpusLine) -> Record:
    """The record of a decoded line; a bad ``b64`` raises ``binascii.Error`` (a ValueError)."""
    data: str | bytes = line.data
    if line.b64 is not None:
        data = base64.b64decode(line.b64, validate=True)
    return Record(line.kind, line.ts, line.conn, data, line.url, line.status)


def _corpus_header(path: Path) -> _CorpusHeader:
    try:
        with gzip.open(path, "rb") as fh:
            line = fh.readline()
    except (OSError, EOFError, zlib.error) as exc:
        raise CaptureFormatError(f"{path}: unreadable corpus file (gzip): {exc}") from exc
    return _parse_corpus_header(line, path)


# --------------------------------------------------------------------------- detection


def open_recording(
    path: StrPath,
    on_damage: OnDamage | None = None,
    *,
    fmt: str | None = None,
    exchange: str | None = None,
    url: str | None = None,
) -> tuple[RecordingInfo, Iterator[Record]]:
    """Identify a recording by its content and return its info and a record iterator.

    The header is read and validated now, so a wrong file fails here rather
    than in the middle of a replay; the records are read lazily. ``on_damage``:
    see the module docstring. Other tools'
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
    info, records = _open_own(path, on_damage)
    return info, formats.with_url(records, url) if url else records


def _open_own(path: Path, on_damage: OnDamage | None) -> tuple[RecordingInfo, Iterator[Record]]:
    fmt = _sniff_format(path)
    if fmt == CORPUS_FORMAT:
        exchange = _corpus_header(path).exchange
        records = read_corpus(path, on_damage)
    else:
        header = _capture_header(path)
        fmt, exchange = header["format"], header.get("exchange")
        records = read_capture(path, on_damage)
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
