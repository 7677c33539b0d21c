"""Local spool: finished files wait on local disk until object storage has them.

The Parquet sink and the capture writer always write locally: when the output is
object storage, their root *is* the spool directory, laid out exactly like the
dataset. A file handed to :meth:`Spool.submit` is already finished (fsynced and
renamed), so it survives a crash; a background thread uploads it under the same
relative key (see ``collector.storage.upload``: atomic) and deletes the local copy
only once the upload succeeded. At start, finished files left by an earlier run
(store down at shutdown, crash) are found and uploaded first: nothing is lost.

When the store is unreachable, uploads are retried forever with capped, jittered
exponential backoff, oldest file first. The outage is an alarm: one ERROR log line
when it starts (and when it ends), ``collector_store_up`` = 0 and the spool's
bytes/files gauges in the daemon's metrics. ``max_bytes`` is the disk budget of
finished files waiting here; what happens when it is exceeded is the owner's
policy (the daemon pauses the raw capture first and never drops normalized rows;
see ``collector.daemon``). This module only says so, loudly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from collector.storage import Location, upload
from collector.transport.retry import Backoff

__all__ = ["Spool"]

log = logging.getLogger(__name__)

#: Suffixes of files still being written: never uploaded (the writer renames them).
_UNFINISHED = (".inprogress",)


class Spool:
    """Uploads finished files from ``directory`` to ``target``, one thread, oldest first.

    ``name`` (``output``, ``capture``) labels logs and metrics. Thread safe:
    :meth:`submit` is called from the daemon's loop, uploads run on the thread.
    """

    def __init__(
        self,
        name: str,
        directory: str | Path,
        target: Location,
        *,
        max_bytes: int,
        backoff: Backoff | None = None,
        upload_file: Callable[[Path, Location, str], None] = upload,
    ) -> None:
        self.name = name
        self.directory = Path(directory)
        self.target = target
        self.max_bytes = max_bytes
        #: Retry timing after a failed upload; reset by a success.
        self.backoff = backoff or Backoff(base=0.5, cap=60.0)
        self._upload = upload_file
        self._pending: dict[Path, int] = {}  # insertion order: oldest first
        self._bytes = 0  # sum of self._pending's sizes
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Files and bytes uploaded, failed attempts, and the latest failure (redacted).
        self.uploaded = 0
        self.uploaded_bytes = 0
        self.failures = 0
        self.store_up = True
        self.last_error: str | None = None
        self.last_exception: Exception | None = None
        self._over_budget = False

    # -- state ------------------------------------------------------------------

    @property
    def pending_files(self) -> int:
        with self._cond:
            return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    @property
    def over_budget(self) -> bool:
        """Whether the finished files waiting here exceed ``max_bytes``."""
        return self.pending_bytes > self.max_bytes

    # -- API --------------------------------------------------------------------

    def submit(self, path: Path) -> None:
        """Queue the finished file ``path`` (inside ``directory``) for upload."""
        size = path.stat().st_size
        with self._cond:
            self._bytes += size - self._pending.get(path, 0)
            self._pending[path] = size
            total = self._bytes
            self._cond.notify_all()
        if total > self.max_bytes and not self._over_budget:
            self._over_budget = True
            log.error(
                "%s spool over its budget: %d files, %d bytes waiting in %s (budget %d) "
                "for upload to %s",
                self.name,
                len(self._pending),
                total,
                self.directory,
                self.max_bytes,
                self.target.uri,
            )

    def recover(self) -> int:
        """Queue finished files an earlier run left in the spool; returns how many."""
        found = sorted(
            p
            for p in self.directory.rglob("*")
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_UNFINISHED)
        )
        for path in found:
            self.submit(path)
        if found:
            log.warning(
                "%s spool: %d finished files from an earlier run in %s; uploading them to %s",
                self.name,
                len(found),
                self.directory,
                self.target.uri,
            )
        return len(found)

    def start(self) -> None:
        """Recover leftovers and start the upload thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.recover()
        self._thread = threading.Thread(target=self._run, name=f"spool-{self.name}", daemon=True)
        self._thread.start()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued file is uploaded; False when ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is None else min(left, 0.5))
        return True

    def close(self, timeout: float) -> int:
        """Upload what can be uploaded within ``timeout`` s, stop; returns files left behind.

        Files left behind stay in the spool directory and are uploaded by the
        next run's :meth:`start`: shutdown never waits forever for a dead store.
        """
        self.drain(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            # An upload still in flight to a hung store is abandoned: its file stays
            # here, and an unfinished upload is never visible in the bucket.
            self._thread.join(timeout=5.0)
        left = self.pending_files
        if left:
            log.error(
                "%s spool: %d files (%d bytes) not yet uploaded to %s stay in %s; "
                "the next run uploads them",
                self.name,
                left,
                self.pending_bytes,
                self.target.uri,
                self.directory,
            )
        return left

    # -- the upload thread ------------------------------------------------------

    def _next(self) -> Path | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            return None if self._stopping else next(iter(self._pending))

    def _run(self) -> None:
        while (path := self._next()) is not None:
            key = path.relative_to(self.directory).as_posix()
            try:
                self._upload(path, self.target, key)
            except Exception as exc:  # any failure: keep the file, retry
                self._failed(exc)
                with self._cond:  # stop() interrupts the wait
                    self._cond.wait_for(lambda: self._stopping, self.backoff.next_delay())
                continue
            path.unlink()
            with self._cond:
                size = self._pending.pop(path)
                self._bytes -= size
                total = self._bytes
                self._cond.notify_all()
            self.uploaded += 1
            self.uploaded_bytes += size
            self.backoff.reset()
            if not self.store_up:
                self.store_up = True
                log.warning(
                    "%s store %s reachable again; %d spooled files left to upload",
                    self.name,
                    self.target.uri,
                    len(self._pending),
                )
            if self._over_budget and total <= self.max_bytes:
                self._over_budget = False
                log.warning("%s spool back under its budget (%d bytes)", self.name, total)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.last_exception = exc
        # pyarrow's messages name bucket, key and endpoint, never credentials.
        self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if self.store_up:
            self.store_up = False
            log.error(
                "%s store %s unreachable, spooling to %s and retrying with backoff: %s",
                self.name,
                self.target.uri,
                self.directory,
                self.last_error,
            )
