"""The Parquet sink on its own thread: the event loop hands tables over and returns.

Encoding and writing Parquet (compression, row-group assembly, ``fsync``) take
tens to hundreds of milliseconds a round; on the event loop that is time in
which no frame is read, so the kernel's receive queues fill and every frame's
``ts_recv`` is stamped late. pyarrow releases the GIL while it encodes and
writes, so one writer thread takes that work off the loop almost entirely.

Why it is shaped this way:

* **One owner.** ``ParquetSink`` is not thread safe, so after the first hand-off
  only the writer thread calls it. The caller validates each table first
  (``parquet.conform``), so a bad table still raises ``ValueError`` at the
  caller, with nothing queued, exactly as ``ParquetSink.write`` does.
* **Order.** One FIFO queue, one consumer: tables reach the sink in the order
  they were handed over, so rows of one partition are never reordered, and a
  ``tick`` acts on every row handed over before it.
* **Bounded, and explicit when full.** The queue holds at most
  ``max_queued_bytes`` of tables. When a hand-off would pass that, the caller
  *waits* for the writer to catch up (backpressure; counted in ``full_waits``
  and ``full_wait_s``, logged once per episode): nothing is dropped here. The
  writer thread never blocks on a failing disk (``ParquetSink.write`` only
  buffers while it backs off), so the queue fills only when the disk or the CPU
  is slower than the stream, and then waiting is the honest answer: TCP flow
  control pushes back on the venue, and ``ts_recv`` shows the delay. Loss only
  ever happens in the sink, past its own ``max_buffered_bytes``, in the
  documented order with a ``buffer_overflow`` quality event. A table larger
  than the whole bound is accepted once the queue is empty.
* **Nothing swallowed.** ``OSError`` from ``tick`` is the sink's business (it
  keeps the rows and ``last_error`` says why, as on the loop). Anything else
  raised in the thread is a bug: logged with its traceback at once, counted in
  ``bugs``, kept in ``bug``, and raised again by ``close``. The thread itself
  survives it, as the daemon's flush loop does.
* **Shutdown drains.** ``close`` queues behind every table handed over, waits
  for the thread to write and publish them all, and raises what the sink's
  ``close`` raised; a later ``close`` retries on the caller's thread.

State the event loop reads (``errors``, ``last_error``, ``published``...) is
read through plain attribute loads, which the GIL makes atomic; ``buffered_bytes``
and ``overflow_rows`` are copies the writer refreshes after every operation, so
no reader iterates the sink's structures while the thread changes them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from collector.sinks.parquet import ParquetSink, check_exchange, conform

log = logging.getLogger(__name__)

__all__ = ["ThreadedSink"]

#: How long a waiting caller sleeps between checks that the writer thread lives.
_WAIT_S = 1.0


@dataclass(eq=False)
class _Op:
    """One queued operation: ``write`` a table, ``tick`` to a time, or ``close``."""

    kind: str
    table: str = ""
    exchange: str = ""
    data: pa.Table | None = None
    now_ns: int = 0
    nbytes: int = 0
    rows: int = 0
    done: Future[None] | None = field(default=None)


class ThreadedSink:
    """A ``ParquetSink`` driven by one writer thread through a bounded FIFO queue."""

    def __init__(
        self, sink: ParquetSink, *, max_queued_bytes: int, name: str = "parquet-writer"
    ) -> None:
        if max_queued_bytes <= 0:
            raise ValueError(f"max_queued_bytes must be positive, got {max_queued_bytes}")
        self.sink = sink
        self.max_queued_bytes = max_queued_bytes
        self._name = name
        self._ops: deque[_Op] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: Tables, rows and bytes handed over and not yet through the sink (the
        #: operation in progress included).
        self.queued_batches = 0
        self.queued_rows = 0
        self.queued_bytes = 0
        #: Hand-offs that had to wait for room, and the seconds they waited.
        self.full_waits = 0
        self.full_wait_s = 0.0
        #: Unexpected exceptions in the writer thread, and the first one.
        self.bugs = 0
        self.bug: BaseException | None = None
        self.buffered_bytes = 0
        self.overflow_rows: dict[str, int] = {}

    # -- the sink's interface, for the daemon ----------------------------------------

    @property
    def root(self) -> Path:
        return self.sink.root

    @property
    def sessions(self) -> dict[str, str]:
        return self.sink.sessions

    @property
    def on_publish(self) -> Callable[[Path], None] | None:
        return self.sink.on_publish

    @property
    def published(self) -> list[Path]:
        return self.sink.published

    @property
    def files_published(self) -> int:
        return self.sink.files_published

    @property
    def errors(self) -> int:
        return self.sink.errors

    @property
    def last_error(self) -> OSError | None:
        return self.sink.last_error

    @property
    def failing(self) -> bool:
        return self.sink.last_error is not None

    # -- hand-off (any thread but the writer's) ---------------------------------------

    def write(self, table: str, exchange: str, data: pa.Table | pa.RecordBatch) -> None:
        """Validate ``data`` here (``ValueError`` as ``ParquetSink.write``) and queue it.

        Waits while the queue is full (see the module docstring).
        """
        if self._closed:
            raise RuntimeError("ThreadedSink is closed")
        data = conform(table, data)
        check_exchange(exchange)
        if data.num_rows == 0:
            return
        self._put(_Op("write", table, exchange, data, nbytes=data.nbytes, rows=data.num_rows))

    def tick(self, now_ns: int) -> None:
        """Queue ``ParquetSink.tick(now_ns)``; its failures show in ``last_error``."""
        if self._closed:
            raise RuntimeError("ThreadedSink is closed")
        with self._cond:
            last = self._ops[-1] if len(self._ops) > 1 else None  # [0] may be in progress
            if last is not None and last.kind == "tick":
                last.now_ns = now_ns  # a tick still waiting: one later tick does both
                return
        self._put(_Op("tick", now_ns=now_ns))

    def close(self) -> None:
        """Write and publish everything handed over, then stop the thread.

        Blocks until done: call it off the event loop. Raises the sink's
        ``OSError`` (nothing lost; a later ``close`` retries) or the first bug
        the thread met (rows may be lost: the caller must not report success).
        """
        if self._thread is None or not self._thread.is_alive():
            self._closed = True
            self.sink.close()  # the thread is gone (or never ran): retry here
            self._refresh()
            self._raise_bug()
            return
        done: Future[None] = Future()
        self._put(_Op("close", done=done))
        self._closed = True
        try:
            done.result()
        finally:
            self._thread.join()
            self._refresh()
        self._raise_bug()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until everything handed over so far went through the sink; False on
        timeout. For callers that must see the sink's state after their hand-offs."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._ops:
                self._check_alive()
                left = _WAIT_S if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, _WAIT_S))
        return True

    def _check_alive(self) -> None:
        """Operations are queued: the thread must be there to take them (it never
        exits before ``close``; this guards the caller from waiting forever)."""
        if self._thread is not None and not self._thread.is_alive():
            raise RuntimeError("the Parquet writer thread is gone") from self.bug

    def _raise_bug(self) -> None:
        if self.bug is not None:
            raise RuntimeError(
                f"the Parquet writer thread failed {self.bugs} time(s)"
            ) from self.bug

    def _put(self, op: _Op) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            if self._ops and self.queued_bytes + op.nbytes > self.max_queued_bytes:
                self._wait_for_room(op.nbytes)
            self._ops.append(op)
            self.queued_batches += op.kind == "write"
            self.queued_rows += op.rows
            self.queued_bytes += op.nbytes
            self._cond.notify_all()

    def _wait_for_room(self, nbytes: int) -> None:
        """Backpressure: wait (holding ``_cond``'s lock) until ``nbytes`` fit or the queue
        is empty. The one place the caller waits for the writer; loud once per wait."""
        started = time.monotonic()
        self.full_waits += 1
        log.warning(
            "Parquet writer behind: %d bytes queued (bound %d); the stream waits for it",
            self.queued_bytes,
            self.max_queued_bytes,
        )
        while self._ops and self.queued_bytes + nbytes > self.max_queued_bytes:
            self._check_alive()
            self._cond.wait(_WAIT_S)
        self.full_wait_s += time.monotonic() - started

    # -- the writer thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ops:
                    self._cond.wait()
                op = self._ops[0]  # stays counted until it is through the sink
            try:
                self._apply(op)
            except BaseException as exc:  # reported, kept, and raised again by close
                self._failed(op, exc)
            self._refresh()
            with self._cond:
                self._ops.popleft()
                self.queued_batches -= op.kind == "write"
                self.queued_rows -= op.rows
                self.queued_bytes -= op.nbytes
                self._cond.notify_all()
            if op.kind == "close":
                return

    def _apply(self, op: _Op) -> None:
        if op.kind == "write":
            assert op.data is not None
            self.sink.write(op.table, op.exchange, op.data)
        elif op.kind == "tick":
            with contextlib.suppress(OSError):  # kept and retried; ``last_error`` says why
                self.sink.tick(op.now_ns)
        else:
            assert op.done is not None
            try:
                self.sink.close()
            except BaseException as exc:  # handed to the caller of close
                op.done.set_exception(exc)
            else:
                op.done.set_result(None)

    def _failed(self, op: _Op, exc: BaseException) -> None:
        self.bugs += 1
        if self.bug is None:
            self.bug = exc
        what = f"{op.kind} {op.table} {op.exchange} ({op.rows} rows)".rstrip()
        log.error(
            "Parquet writer thread failed on %s (a bug: please report it)", what, exc_info=exc
        )

    def _refresh(self) -> None:
        """Copy the figures the event loop reads (writer thread, or after it stopped)."""
        self.buffered_bytes = self.sink.buffered_bytes
        self.overflow_rows = dict(self.sink.overflow_rows)
