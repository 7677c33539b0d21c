"""Append-only raw capture writer: gzip-compressed msgpack, rotated, crash safe.

Layout of one file: a single gzip member holding a msgpack header map followed
by one array-encoded :class:`~collector.capture.records.Record` per event.

Crash safety comes from zlib's ``Z_SYNC_FLUSH``: it ends the current deflate
block on a byte boundary, so everything written before it can be decompressed
from the bytes on disk even though the gzip trailer is missing. The writer
sync-flushes every ``flush_every`` records and on :meth:`CaptureWriter.flush`,
so after ``kill -9`` the ``.inprogress`` file is readable up to the last flush.
A file only gets its final name (``os.replace`` after ``fsync``) once it is
complete, so a final name always means a whole, checksummed gzip stream.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import msgspec

from collector.capture.records import (
    CAPTURE_FORMAT,
    Record,
    capture_file_name,
    check_slug,
    exchange_dir,
    inprogress_name,
)

MiB: Final = 1 << 20

#: Encoded records are compressed in batches of about this many bytes: one
#: ``compress`` call per record costs more than the encoding itself.
_BATCH_BYTES: Final = 64 * 1024
_GZIP_WBITS: Final = 31  # zlib window 2**15 with a gzip header and trailer
_NS_PER_S: Final = 1_000_000_000


class _CaptureFile:
    """One capture file being written under its hidden ``.inprogress`` name."""

    def __init__(self, final_path: Path, first_ts: int, header: bytes, level: int) -> None:
        self.final_path = final_path
        self.temp_path = final_path.with_name(inprogress_name(final_path.name))
        self.first_ts = first_ts
        self.compressed_bytes = 0
        self._pending = bytearray()
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
        # "x": never clobber another writer's file or a crash leftover.
        self._fh = open(self.temp_path, "xb")  # noqa: SIM115 - closed in finish()
        self._pending += header
        self.sync()  # a crash right after opening still leaves a valid header

    def append(self, encoder: msgspec.msgpack.Encoder, record: Record) -> None:
        """Encode ``record`` into the pending batch; compress when it is large."""
        encoder.encode_into(record, self._pending, -1)
        if len(self._pending) >= _BATCH_BYTES:
            self._compress_pending()

    def sync(self) -> None:
        """Make everything appended so far decodable from the bytes on disk."""
        self._compress_pending()
        self._emit(self._zlib.flush(zlib.Z_SYNC_FLUSH))
        self._fh.flush()

    def finish(self) -> Path:
        """Complete the gzip stream, make it durable and give it its final name."""
        self._compress_pending()
        self._emit(self._zlib.flush(zlib.Z_FINISH))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.temp_path, self.final_path)
        _fsync_dir(self.final_path.parent)
        return self.final_path

    def _compress_pending(self) -> None:
        if self._pending:
            self._emit(self._zlib.compress(self._pending))
            self._pending.clear()

    def _emit(self, chunk: bytes) -> None:
        if chunk:
            self._fh.write(chunk)
            self.compressed_bytes += len(chunk)


def _fsync_dir(directory: Path) -> None:
    """Persist a rename: the new directory entry is only durable once synced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CaptureWriter:
    """Write one exchange's records to rotating capture files.

    Files go to ``<directory>/exchange=<slug>/`` and are named after the ``ts``
    of their first record (``<slug>-<instance>-<YYYYMMDDTHHMMSSffffffZ>.capture.gz``).
    Rotation follows data time, not the wall clock, so replaying or re-capturing
    the same stream always cuts files at the same records. A new file starts
    when a record's ``ts`` is ``rotate_seconds`` past the first ``ts`` of the
    current file, or once the compressed bytes written to it exceed
    ``rotate_bytes`` (approximate: zlib and a 64 KiB batch buffer hold back
    output until the next flush).

    Not thread safe: one writer per exchange stream, used from one thread.
    """

    def __init__(
        self,
        directory: str | Path,
        exchange: str,
        instance: str = "0",
        rotate_seconds: float = 3600,
        rotate_bytes: int = 256 * MiB,
        flush_every: int = 1000,
        *,
        level: int = 6,
        on_complete: Callable[[Path], None] | None = None,
    ) -> None:
        if rotate_seconds <= 0 or rotate_bytes <= 0 or flush_every <= 0:
            raise ValueError("rotate_seconds, rotate_bytes and flush_every must be positive")
        self._exchange = check_slug(exchange, "exchange")
        self._instance = check_slug(instance, "instance")
        self._dir = exchange_dir(directory, exchange)
        self._rotate_ns = round(rotate_seconds * _NS_PER_S)
        self._rotate_bytes = rotate_bytes
        self._flush_every = flush_every
        self._level = level
        self._encoder = msgspec.msgpack.Encoder()
        self._file: _CaptureFile | None = None
        self._unflushed = 0
        self._completed: list[Path] = []
        #: Told each finished file's path: the daemon's spool uploads it to object storage.
        self._on_complete = on_complete
        self._closed = False

    @property
    def current_path(self) -> Path | None:
        """The ``.inprogress`` file being written, or ``None`` before the first record."""
        return None if self._file is None else self._file.temp_path

    @property
    def completed_paths(self) -> tuple[Path, ...]:
        """Final files this writer has finished (rotated or closed), oldest first."""
        return tuple(self._completed)

    def write(self, record: Record) -> None:
        """Append ``record``, rotating first if it belongs in a new file."""
        if self._closed:
            raise ValueError("CaptureWriter is closed")
        current = self._file
        if current is None or self._due_for_rotation(current, record.ts):
            current = self._rotate(record.ts)
        current.append(self._encoder, record)
        self._unflushed += 1
        if self._unflushed >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Make every record written so far readable after a crash (``kill -9``).

        Goes as far as the OS page cache, not the disk: ``fsync`` on every flush
        would cost far more than the flush itself. Files are fsynced on close.
        """
        if self._file is not None:
            self._file.sync()
        self._unflushed = 0

    def close(self) -> None:
        """Finish the current file under its final name. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._finish_current()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Close even on error: what was written is valid and should be kept.
        self.close()

    def _due_for_rotation(self, current: _CaptureFile, ts: int) -> bool:
        return (
            ts - current.first_ts >= self._rotate_ns
            or current.compressed_bytes > self._rotate_bytes
        )

    def _rotate(self, first_ts: int) -> _CaptureFile:
        self._finish_current()
        self._dir.mkdir(parents=True, exist_ok=True)
        self._file = _CaptureFile(self._free_path(first_ts), first_ts, self._header(), self._level)
        self._unflushed = 0
        return self._file

    def _finish_current(self) -> None:
        if self._file is not None:
            path = self._file.finish()
            self._completed.append(path)
            self._file = None
            if self._on_complete is not None:
                self._on_complete(path)

    def _free_path(self, first_ts: int) -> Path:
        """Final path for a file starting at ``first_ts`` that no file uses yet."""
        seq = 0
        while True:
            name = capture_file_name(self._exchange, self._instance, first_ts, seq)
            path = self._dir / name
            if not path.exists() and not (self._dir / inprogress_name(name)).exists():
                return path
            seq += 1

    def _header(self) -> bytes:
        return self._encoder.encode(
            {
                "format": CAPTURE_FORMAT,
                "exchange": self._exchange,
                "instance": self._instance,
                "created_ns": time.time_ns(),
            }
        )
