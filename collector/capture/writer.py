"""Append-only raw capture writer: gzip-compressed msgpack, rotated, crash safe.

Layout of one file (``collector-capture-v2``): a single gzip member holding a
msgpack header map, then array-encoded :class:`~collector.capture.records.Record`
items, with a checkpoint map ``{"crc32": C, "records": N}`` after each flush.

Crash safety comes from zlib's ``Z_SYNC_FLUSH``: it ends the current deflate
block on a byte boundary, so everything written before it can be decompressed
from the bytes on disk even though the gzip trailer is missing. The writer
sync-flushes every ``flush_every`` records and on :meth:`CaptureWriter.flush`,
so after ``kill -9`` the ``.inprogress`` file is readable up to the last flush.
A file only gets its final name (``os.replace`` after ``fsync``) once it is
complete, so a final name always means a whole, checksummed gzip stream.

Deflating is zlib-ng's (``zlib_ng``): the same format, read by any zlib, for about
half of zlib's CPU at the same level and a stream no larger
(``benchmarks/capture_compression.py``).

The gzip trailer's CRC is only read at the very end of a file, after every
record has been handed out; a damaged byte in the middle can inflate to a wrong
but well-formed record long before it. Checkpoints close that gap: each one holds
the CRC-32 and count of the decompressed bytes and records since the previous
one, so a reader hands out a flush's records only once they are proven intact.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import msgspec
from zlib_ng import zlib_ng as deflate

from collector.capture.records import (
    CAPTURE_FORMAT,
    DEFAULT_COMPRESSION_LEVEL,
    Record,
    capture_file_name,
    check_slug,
    exchange_dir,
    inprogress_name,
)
from collector.write_faults import naming

MiB: Final = 1 << 20

#: Encoded records are compressed in batches of about this many bytes: one
#: ``compress`` call per record costs more than the encoding itself.
_BATCH_BYTES: Final = 64 * 1024
_GZIP_WBITS: Final = 31  # zlib window 2**15 with a gzip header and trailer
_NS_PER_S: Final = 1_000_000_000
_checkpoint_encoder: Final = msgspec.msgpack.Encoder()


class CaptureStream:
    """The compressed bytes of one capture file, with a checkpoint after each flush.

    No I/O: each method returns the compressed bytes it produced, for the caller
    to write. Shared by the writer and by crash recovery's re-sealing of a file,
    so both make the same layout.

    With a ``compressor`` (a one-thread executor), full batches are compressed on
    that thread: zlib-ng releases the GIL while it deflates, so the daemon's event loop
    goes on receiving meanwhile (compressing was a sixth of its time). The bytes
    are the same as without it, in the same order: each batch is one ``compress``
    call either way, and a checkpoint waits for every batch handed over before it.
    """

    def __init__(self, header: bytes, level: int, compressor: Executor | None = None) -> None:
        self._pending = bytearray(header)
        self._deflate = deflate.compressobj(level, deflate.DEFLATED, _GZIP_WBITS)
        #: CRC-32, bytes and records compressed since the last checkpoint.
        self._crc = 0
        self._unchecked_bytes = 0
        self._unchecked = 0
        self._compressor = compressor
        #: Batches on the compressor thread, oldest first, with their encoded size.
        self._inflight: deque[tuple[Future[bytes], int]] = deque()
        self._inflight_bytes = 0

    @property
    def pending(self) -> int:
        """Encoded bytes not compressed yet (or still being compressed)."""
        return len(self._pending) + self._inflight_bytes

    def append(self, encoder: msgspec.msgpack.Encoder, record: Record) -> bool:
        """Encode ``record``; True once the pending batch is large enough to ``compress``."""
        encoder.encode_into(record, self._pending, -1)
        self._unchecked += 1
        return len(self._pending) >= _BATCH_BYTES

    def compress(self) -> bytes:
        """Compress the pending batch (zlib may hold some of it back until a flush).

        With a compressor thread the batch is handed over, and what comes back is
        the output of the earlier batches that are done: nothing waits here."""
        if self._compressor is None:
            return self._compress_pending()
        batch, self._pending = self._pending, bytearray()
        self._inflight.append((self._compressor.submit(self._compress, batch), len(batch)))
        self._inflight_bytes += len(batch)
        return self._collect(wait=False)

    def checkpoint(self) -> bytes:
        """Compress what is pending, then a checkpoint proving it (none if nothing new)."""
        out = self._collect(wait=True) + self._compress_pending()
        if self._unchecked_bytes:  # the header alone is checked too
            mark = _checkpoint_encoder.encode({"crc32": self._crc, "records": self._unchecked})
            out += self._deflate.compress(mark)
            self._crc = self._unchecked_bytes = self._unchecked = 0
        return out

    def flush(self) -> bytes:
        """A checkpoint, then a sync flush: all of it decodable from the bytes so far."""
        return self.checkpoint() + self._deflate.flush(deflate.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        """A checkpoint, then the end of the gzip stream (its trailer)."""
        return self.checkpoint() + self._deflate.flush(deflate.Z_FINISH)

    def _collect(self, *, wait: bool) -> bytes:
        """The output of the handed-over batches, in order: those done, or (``wait``) all."""
        out = bytearray()
        inflight = self._inflight
        while inflight and (wait or inflight[0][0].done()):
            future, size = inflight.popleft()
            out += future.result()
            self._inflight_bytes -= size
        return bytes(out)

    def _compress_pending(self) -> bytes:
        if not self._pending:
            return b""
        out = self._compress(self._pending)
        self._pending.clear()
        return out

    def _compress(self, batch: bytearray) -> bytes:
        """One batch, on whichever thread: never two at once (one compressor thread, and
        the caller's own calls come only after ``_collect(wait=True)``)."""
        self._crc = deflate.crc32(batch, self._crc)
        self._unchecked_bytes += len(batch)
        return self._deflate.compress(batch)


class _CaptureFile:
    """One capture file being written under its hidden ``.inprogress`` name.

    Compressed bytes go through ``_out`` and are written with plain ``write``
    calls on an unbuffered file, so after any failure (ENOSPC, EIO...) it is
    known exactly which bytes reached the file: the rest stays in ``_out`` and
    the next ``sync`` writes it, keeping the gzip stream whole. ``finish`` is
    retryable in the same way: the stream is ended once, and writing, syncing
    and renaming are repeated until they succeed.
    """

    def __init__(
        self,
        final_path: Path,
        first_ts: int,
        header: bytes,
        level: int,
        compressor: Executor | None = None,
    ) -> None:
        self.final_path = final_path
        self.temp_path = final_path.with_name(inprogress_name(final_path.name))
        self.first_ts = first_ts
        self.compressed_bytes = 0
        self._stream = CaptureStream(header, level, compressor)
        self._out = bytearray()
        self._ended = False
        # "x": never clobber another writer's file or a crash leftover.
        self._fh = open(self.temp_path, "xb", buffering=0)  # noqa: SIM115 - closed in finish()
        # Held while this process lives: crash recovery leaves a locked file alone.
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    @property
    def unwritten(self) -> int:
        """Bytes held in memory that have not reached the file yet."""
        return self._stream.pending + len(self._out)

    def append(self, encoder: msgspec.msgpack.Encoder, record: Record) -> None:
        """Encode ``record`` into the pending batch; compress when it is large."""
        if self._stream.append(encoder, record):
            self._out += self._stream.compress()
            self._write_out()  # also retries what an earlier failure left unwritten

    def sync(self) -> None:
        """Make everything appended so far decodable from the bytes on disk."""
        if not self._ended:
            self._out += self._stream.flush()
        self._write_out()

    def fsync(self) -> None:
        """``sync``, then make it durable (before rows from it are published)."""
        self.sync()
        os.fsync(self._fh.fileno())

    def finish(self) -> Path:
        """Complete the gzip stream, make it durable and give it its final name."""
        if not self._ended:
            self._out += self._stream.finish()
            self._ended = True
        self._write_out()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.temp_path, self.final_path)
        with contextlib.suppress(OSError):  # renamed either way; durable at the next sync
            _fsync_dir(self.final_path.parent)
        return self.final_path

    def abandon(self) -> None:
        """Close the file as it stands (shutdown on a failing disk): readable up to
        its last complete block, and recovered at the next start."""
        with contextlib.suppress(OSError):
            self._fh.close()

    def _write_out(self) -> None:
        out = self._out
        while out:
            written = self._fh.write(out)  # raises OSError with nothing written
            if not written:
                raise OSError(errno.EIO, "short write", str(self.temp_path))
            del out[:written]
            self.compressed_bytes += written


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

    Every file's header names the writer's ``session`` and the file's ``part``
    in it: crash recovery replays a crashed session's parts in order as one stream.

    I/O failures never raise from ``write`` or ``flush``: the capture is the
    recovery log, and a full capture disk must not stop the rows. What could not
    be written stays in memory (``last_error`` says why; ``errors`` counts
    failed attempts) and goes out with the next successful write; past
    ``max_unwritten`` bytes records are dropped and counted in ``dropped``
    (the capture pauses). ``close`` raises, and leaves the file ``.inprogress``
    when it cannot finish it.

    Not thread safe: one writer per exchange stream, used from one thread. With
    ``compress_in_thread`` (the default) it compresses full batches on a thread of
    its own (see ``CaptureStream``); the files are byte for byte the same.
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
        level: int = DEFAULT_COMPRESSION_LEVEL,
        on_complete: Callable[[Path], None] | None = None,
        max_unwritten: int = 64 * MiB,
        session: str | None = None,
        compress_in_thread: bool = True,
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
        self._compressor = (
            ThreadPoolExecutor(1, thread_name_prefix=f"capture-{exchange}")
            if compress_in_thread
            else None
        )
        self._encoder = msgspec.msgpack.Encoder()
        self._file: _CaptureFile | None = None
        #: Rotated-out files whose completion failed; retried on every flush.
        self._closing: list[_CaptureFile] = []
        self._unflushed = 0
        self._completed: list[Path] = []
        #: Told each finished file's path: the daemon's spool uploads it to object storage.
        self._on_complete = on_complete
        self._closed = False
        self._max_unwritten = max_unwritten
        #: This writer's capture session: unique per run, in every file's header.
        self.session = session or new_session_id(self._instance)
        self._part = 0
        #: The latest I/O error not yet overcome (None while writing works).
        self.last_error: OSError | None = None
        #: Failed write attempts, and records dropped while over ``max_unwritten``.
        self.errors = 0
        self.dropped = 0

    @property
    def current_path(self) -> Path | None:
        """The ``.inprogress`` file being written, or ``None`` before the first record."""
        return None if self._file is None else self._file.temp_path

    @property
    def level(self) -> int:
        """The zlib level of the files this writer makes (``[capture] compression_level``)."""
        return self._level

    @property
    def completed_paths(self) -> tuple[Path, ...]:
        """Final files this writer has finished (rotated or closed), oldest first."""
        return tuple(self._completed)

    @property
    def unwritten(self) -> int:
        """Bytes of records held in memory because writing them failed (or is pending)."""
        files = [*self._closing, *([self._file] if self._file else [])]
        return sum(f.unwritten for f in files)

    def write(self, record: Record) -> None:
        """Append ``record``, rotating first if it belongs in a new file."""
        if self._closed:
            raise ValueError("CaptureWriter is closed")
        if self.last_error is not None and self.unwritten > self._max_unwritten:
            self.dropped += 1
            return
        current = self._file
        if current is None or self._due_for_rotation(current, record.ts):
            try:
                current = self._rotate(record.ts)
            except OSError as exc:
                self._failed(exc, self._file)
                current = self._file
            if current is None:  # no file could be opened to hold it: lost, counted
                self.dropped += 1
                return
        try:
            current.append(self._encoder, record)
        except OSError as exc:  # the record is kept in memory; a later write sends it
            self._failed(exc, current)
            return
        self._unflushed += 1
        if self._unflushed >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Make every record written so far readable after a crash (``kill -9``).

        Goes as far as the OS page cache, not the disk: ``fsync`` on every flush
        would cost far more than the flush itself. See :meth:`sync_to_disk`.
        Also retries completing files whose rotation failed.
        """
        self._unflushed = 0
        self._io(lambda f: f.sync())

    def sync_to_disk(self) -> None:
        """``flush`` and ``fsync``: the daemon calls it before publishing Parquet rows,
        so that a published row's frame survives even a power cut."""
        self._unflushed = 0
        self._io(lambda f: f.fsync())

    def close(self, *, finish: bool = True) -> None:
        """Finish the current file under its final name. Safe to call twice.

        ``finish=False`` (the rows made from this capture could not all be
        published) leaves it ``.inprogress`` for crash recovery. Raises the
        ``OSError`` that kept a file from finishing; it then stays
        ``.inprogress`` too, readable up to its last complete block.
        """
        if self._closed:
            return
        self._closed = True
        files = [*self._closing, *([self._file] if self._file else [])]
        self._closing, self._file = [], None
        error: OSError | None = None
        for file in files:
            try:
                if finish:
                    self._complete(file)
                    continue
                file.fsync()
            except OSError as exc:
                error = error or exc
            file.abandon()
        if self._compressor is not None:
            self._compressor.shutdown(wait=True)
        if error is not None:
            raise error

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

    def _io(self, action: Callable[[_CaptureFile], None]) -> None:
        """Retry pending completions, then ``action`` on the current file; never raises."""
        for file in list(self._closing):
            try:
                self._complete(file)
            except OSError as exc:
                self._failed(exc, file)
                return
            self._closing.remove(file)
        if self._file is None:
            self.last_error = None
            return
        try:
            action(self._file)
        except OSError as exc:
            self._failed(exc, self._file)
        else:
            self.last_error = None

    def _failed(self, exc: OSError, file: _CaptureFile | None) -> None:
        self.errors += 1
        self.last_error = naming(exc, file.temp_path if file is not None else self._dir)

    def _due_for_rotation(self, current: _CaptureFile, ts: int) -> bool:
        return (
            ts - current.first_ts >= self._rotate_ns
            or current.compressed_bytes > self._rotate_bytes
        )

    def _rotate(self, first_ts: int) -> _CaptureFile:
        if self._file is not None:
            old, self._file = self._file, None
            try:
                self._complete(old)
            except OSError as exc:
                self._failed(exc, old)
                self._closing.append(old)  # finished by a later flush
        self._dir.mkdir(parents=True, exist_ok=True)
        self._file = _CaptureFile(
            self._free_path(first_ts), first_ts, self._header(), self._level, self._compressor
        )
        self._part += 1
        self._unflushed = 0
        self._file.sync()  # a crash right after opening still leaves a valid header
        return self._file

    def _complete(self, file: _CaptureFile) -> None:
        path = file.finish()
        self._completed.append(path)
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
                "session": self.session,
                "part": self._part,
            }
        )


def new_session_id(instance: str) -> str:
    """A capture session id: readable (instance, start time) and unique (random tail)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"{instance}-{stamp}-{secrets.token_hex(4)}"
