"""Line-oriented access to a foreign recording: gzip, a one-member zip, or plain text.

Other tools ship their files compressed in different ways (tardis: gzip; Bybit and
Binance public data: zip; a user may have unpacked either), and the content, not
the name, says what a file is. Everything here turns decompression failures into
:class:`~collector.capture.records.CaptureFormatError` with the file's name.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from collector.capture.records import CaptureFormatError

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_BLOCK = 1 << 20


@contextlib.contextmanager
def open_text(path: Path) -> Iterator[IO[bytes]]:
    """The decompressed byte stream of ``path``; a zip must hold exactly one file."""
    with open(path, "rb") as raw:
        magic = raw.read(4)
    if magic.startswith(_GZIP_MAGIC):
        with gzip.open(path, "rb") as fh:
            yield fh
    elif magic == _ZIP_MAGIC:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CaptureFormatError(f"{path}: unreadable zip file: {exc}") from exc
        with archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise CaptureFormatError(
                    f"{path}: a zip recording must hold one file, this one holds {len(names)}"
                )
            with archive.open(names[0]) as fh:
                yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def head(path: Path, size: int = 4096) -> bytes:
    """Up to ``size`` decompressed bytes from the start of ``path``; ``b""`` if unreadable.

    For sniffing only: a file this cannot read is left to the other readers,
    whose errors say what they expected.
    """
    try:
        with open_text(path) as fh:
            return fh.read(size)
    except (OSError, EOFError, zlib.error, CaptureFormatError, zipfile.BadZipFile):
        return b""


def lines(path: Path) -> Iterator[bytes]:
    """Each line of ``path`` without its line ending (``\\r\\n`` too), a megabyte at a time."""
    with open_text(path) as fh:
        rest = b""
        while True:
            try:
                block = fh.read(_BLOCK)
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
                raise CaptureFormatError(f"{path}: unreadable compressed data: {exc}") from exc
            if not block:
                break
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            for line in parts:
                yield line.removesuffix(b"\r")
        if rest:
            yield rest.removesuffix(b"\r")


def first_line(data: bytes) -> bytes:
    return io.BytesIO(data).readline().rstrip(b"\r\n")


def text(line: bytes, path: Path, number: int) -> str:
    """``line`` as text (frames are UTF-8 JSON); a bad byte is a format error, not a crash."""
    try:
        return line.decode()
    except UnicodeDecodeError as exc:
        raise CaptureFormatError(f"{path}:{number}: not UTF-8 text: {exc}") from exc
