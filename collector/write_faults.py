"""Write failures of a running daemon: loud once, counted always, over when they are over.

A daemon meant to run for months meets full disks, dead volumes and permission
changes. What operators need from it then is exactly one clear ERROR line when
an episode starts (which target, which path, which errno), a reminder at most
every ``REMIND_S`` seconds while it lasts (with the count), one line when
writing works again, a Prometheus counter per target and errno, and ``/health``
answering 503 with the reason for as long as it lasts. The dataset itself says
so too: each episode's start and end become ``write_error`` quality events,
which reach Parquet once writing works again.

This module only keeps that account; the writers (``collector.sinks.parquet``,
``collector.capture.writer``, ``collector.spool``) keep the data and retry.
"""

from __future__ import annotations

import errno as _errno
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: While an episode lasts, its ERROR line is repeated at most this often.
REMIND_S = 60.0

#: Told (target, ts_ns, detail) of each episode's start and end: the daemon writes
#: them as ``write_error`` quality events.
EpisodeHandler = Callable[[str, int, str], None]


def errno_name(exc: BaseException) -> str:
    """``ENOSPC``, ``EIO``...; ``unknown`` when the error carries no errno."""
    code = getattr(exc, "errno", None)
    return _errno.errorcode.get(code, "unknown") if isinstance(code, int) else "unknown"


def naming(exc: OSError, path: str | os.PathLike[str] | None) -> OSError:
    """``exc``, naming ``path`` when it names no file.

    ``write(2)`` and ``fsync(2)`` errors carry no file name, and "No space left on
    device" alone does not tell an operator which disk or which file to look at.
    """
    if exc.filename is not None or exc.errno is None or path is None:
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), os.fspath(path))


def describe(exc: BaseException, where: str) -> str:
    """One line: the path, the errno and the message, without a traceback."""
    path = getattr(exc, "filename", None) or where
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{path}: {errno_name(exc)} ({reason})"


@dataclass
class _Episode:
    started_ns: int
    detail: str
    failures: int = 1
    reminded_at: float = 0.0
    suppressed: int = 0


class WriteFaults:
    """Open write-failure episodes per target (``capture:binance-spot``, ``parquet``...)."""

    def __init__(self, on_episode: EpisodeHandler | None = None) -> None:
        #: Failed attempts by (kind, errno), kind being the target before any ``:``.
        self.errors: Counter[tuple[str, str]] = Counter()
        self._open: dict[str, _Episode] = {}
        self._on_episode = on_episode

    @property
    def active(self) -> dict[str, str]:
        """Target -> what is failing, for ``/health``."""
        return {target: ep.detail for target, ep in self._open.items()}

    def failed(self, target: str, exc: BaseException, where: str, attempts: int = 1) -> None:
        """``attempts`` write attempts on ``target`` failed with ``exc``."""
        kind = target.split(":", 1)[0]
        self.errors[(kind, errno_name(exc))] += attempts
        detail = describe(exc, where)
        now = time.monotonic()
        episode = self._open.get(target)
        if episode is None:
            episode = self._open[target] = _Episode(time.time_ns(), detail, attempts, now)
            log.error("writing %s failed: %s; data is kept in memory and retried", target, detail)
            self._tell(target, episode.started_ns, f"writing {target} failed: {detail}")
            return
        episode.failures += attempts
        episode.detail = detail
        if now - episode.reminded_at >= REMIND_S:
            log.error(
                "writing %s still failing after %.0f s (%d failed attempts): %s",
                target,
                (time.time_ns() - episode.started_ns) / 1e9,
                episode.failures,
                detail,
            )
            episode.reminded_at = now

    def succeeded(self, target: str) -> bool:
        """Writing ``target`` worked: end its episode, if one was open (then True)."""
        episode = self._open.pop(target, None)
        if episode is None:
            return False
        seconds = (time.time_ns() - episode.started_ns) / 1e9
        log.warning(
            "writing %s works again after %.1f s (%d failed attempts)",
            target,
            seconds,
            episode.failures,
        )
        self._tell(
            target,
            time.time_ns(),
            f"writing {target} works again after {seconds:.1f} s "
            f"({episode.failures} failed attempts; last: {episode.detail})",
        )
        return True

    def _tell(self, target: str, ts_ns: int, detail: str) -> None:
        if self._on_episode is not None:
            self._on_episode(target, ts_ns, detail)
