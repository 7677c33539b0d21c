"""Crash recovery in a child process, so that a restarted daemon collects meanwhile.

Recovery replays a crashed capture session from its start (a book needs the
session's snapshots): about eight minutes per day of the default config's traffic
on one core, so hours after a daemon that ran for weeks. Run before connecting,
that was a gap of hours in the data of every venue; run in a thread, it shared the
GIL with the event loop and delayed every frame by milliseconds. A child process
at a lower priority costs the live loop neither.

What the child publishes is told to the parent as it happens, over a pipe, so
the daemon's spools upload recovered files as they upload their own. Stopping the
daemon kills the child: recovery is safe to kill at any line (``collector.recover``),
and the next start resumes it. A child whose parent is gone dies with it, and
``recover_dataset`` locks the sessions it works on, so a restarted daemon's recovery
never works on the same session at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from collector.recover import RecoverySummary, recover_dataset

log = logging.getLogger(__name__)

#: Added to the child's nice value: the live daemon always comes first.
NICENESS = 10
#: Seconds between the child's checks that its parent is still alive.
ORPHAN_CHECK_S = 1.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class BackgroundRecovery:
    """``recover_dataset(**arguments)`` in a child process; callbacks run in the parent.

    ``on_publish`` and ``on_capture`` are ``recover_dataset``'s, called in a thread
    of the parent with each path the child reports.
    """

    def __init__(
        self,
        arguments: dict[str, Any],
        *,
        on_publish: Callable[[Path], None] | None = None,
        on_capture: Callable[[Path], None] | None = None,
    ) -> None:
        self._callbacks = {"publish": on_publish, "capture": on_capture}
        context = multiprocessing.get_context("spawn")  # the daemon has threads: no fork
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child,
            args=(send, os.getpid(), arguments, on_publish is not None, on_capture is not None),
            name="collector-recovery",
            daemon=True,
        )
        self._send = send
        self._relay: threading.Thread | None = None
        self._done: asyncio.Future[RecoverySummary] | None = None
        self._stopped = False
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        """Started and not yet settled (done, failed, or stopped)."""
        return self._done is not None and not self._done.done()

    def start(self) -> None:
        self._done = asyncio.get_running_loop().create_future()
        self.started_at = time.monotonic()
        self._process.start()
        self._send.close()  # the child's end; ours reports EOF once the child is gone
        self._relay = threading.Thread(target=self._run_relay, name="recovery relay", daemon=True)
        self._relay.start()

    async def wait(self) -> RecoverySummary:
        """The child's summary; raises ``OSError`` (what it met) or ``RuntimeError``."""
        assert self._done is not None, "start() first"
        return await asyncio.shield(self._done)

    def stop(self, timeout: float = 10.0) -> None:
        """Kill the child if it still runs (the next start resumes its work)."""
        self._stopped = True
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout)
        if self._relay is not None:
            self._relay.join(timeout)

    def _run_relay(self) -> None:
        loop = self._done.get_loop() if self._done is not None else None
        outcome: tuple[str, Any] = ("died", None)
        try:
            while True:
                try:
                    kind, value = self._receive.recv()
                except EOFError:
                    break
                callback = self._callbacks.get(kind)
                if callback is not None:
                    try:
                        callback(Path(value))
                    except Exception:  # a spool's bug must not stop the relay
                        log.exception("crash recovery: handing on %s failed", value)
                else:
                    outcome = (kind, value)
        finally:
            self._receive.close()
            self._process.join()
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._settle, outcome)

    def _settle(self, outcome: tuple[str, Any]) -> None:
        assert self._done is not None
        if self._done.done():
            return
        if self._stopped:  # killed on purpose: nobody waits for the outcome any more
            self._done.cancel()
            return
        kind, value = outcome
        if kind == "done":
            self._done.set_result(value)
        elif kind == "failed":
            self._done.set_exception(OSError(*value))
        else:
            self._done.set_exception(
                RuntimeError(f"the recovery process ended with exit code {self._process.exitcode}")
            )


def _child(
    send: Connection,
    parent: int,
    arguments: dict[str, Any],
    report_publish: bool,
    report_capture: bool,
) -> None:
    _die_with(parent)
    os.nice(NICENESS)
    # Ctrl-C, or a service manager stopping the daemon's whole group, is for the
    # daemon to handle: it stops this process itself, and ``stop`` does not ask.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()

    def tell(kind: str) -> Callable[[Path], None]:
        return lambda path: send.send((kind, str(path)))

    try:
        summary = recover_dataset(
            **arguments,
            on_publish=tell("publish") if report_publish else None,
            on_capture=tell("capture") if report_capture else None,
        )
    except OSError as exc:
        send.send(("failed", (exc.errno, exc.strerror or str(exc), exc.filename)))
    else:
        send.send(("done", summary))
    finally:
        send.close()


def _die_with(parent: int) -> None:
    """Ask Linux to kill this process the moment its parent dies (``PR_SET_PDEATHSIG``).

    A kill -9 of the daemon then also ends its recovery at once, releasing the
    session's lock before a restarted daemon looks for sessions to recover (else it
    would take the session for a live one and leave it until the start after).
    Elsewhere, ``_exit_when_orphaned`` notices within ``ORPHAN_CHECK_S``.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _exit_when_orphaned(parent: int) -> None:
    """A killed daemon's recovery stops too: its next start takes the work over."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(1)
