"""One supervised websocket connection: connect, subscribe, receive, and never give up.

A :class:`WsSupervisor` keeps the stream described by one adapter
:class:`~collector.adapter.ConnectionPlan` flowing for as long as the process
runs. It reconnects with :class:`~collector.transport.retry.Backoff` after any
error, close or stale period, and rolls over *make-before-break* before the
venue's connection lifetime ends (or on :meth:`WsSupervisor.reconnect_now`):
the new connection is opened and subscribed while the old one keeps
delivering, and the old one is closed only once the new one has delivered its
first frame.

During such an overlap frames from both connections reach the handler, each
tagged with its own connection id, so the same update may arrive twice.
Removing the duplicates is the consumer's job: it knows the venue's ids (book
update ids, trade ids) and the transport does not. Losing nothing is worth
seeing a few frames twice.

Everything the handler hears is in call order on the event loop:
``on_connecting`` when an attempt starts (it may fail and say nothing more),
``on_open`` before that connection's frames and sends, ``on_close`` after its
last frame.
An exception raised by the handler is a bug in the consumer, not a network
condition: it stops the supervisor and is re-raised from :meth:`run`.

A plan with a ``bootstrap`` request (KuCoin) does not know its URL in advance:
before every connect, first or again, the supervisor asks its ``resolve``
callable (the daemon makes the venue's REST call, records it and lets the
adapter read the URL out of the answer). A failed call is a failed connect,
retried with the same backoff, so a token that expired with the old connection
is never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException
from websockets.uri import parse_uri

from collector.adapter import ConnectionPlan, Endpoint
from collector.model import ORDERLY_CLOSE
from collector.transport.neterrors import reached, report_dns, short_error
from collector.transport.retry import Backoff

log = logging.getLogger(__name__)

#: Connection ids shared by every supervisor of the process, so capture records
#: from different connections (and successive ones) never share an id.
CONN_IDS: Iterator[int] = itertools.count(1)

#: Where a plan with a ``bootstrap`` request connects now; None when the call failed
#: (the resolver has said why in the log).
Resolver = Callable[[ConnectionPlan], Awaitable[Endpoint | None]]


class FrameHandler(Protocol):
    """Receives everything a supervisor sees; called on the event loop, must not block."""

    def on_connecting(self, conn: int, url: str, ts: int) -> None:
        """Connection ``conn`` to ``url`` is being attempted (it may never open)."""
        ...

    def on_open(self, conn: int, url: str, ts: int) -> None: ...

    def on_frame(self, conn: int, data: str | bytes, ts_recv: int) -> None:
        """``ts_recv`` is ``time.time_ns()`` taken right after the frame was received."""
        ...

    def on_close(self, conn: int, ts: int, reason: str) -> None: ...

    def on_send(self, conn: int, data: str, ts: int) -> None:
        """Every frame we send (subscriptions, app pings), for the raw capture."""
        ...


def loggable_url(url: str) -> str:
    """The URL for logs: a query longer than 200 characters is elided."""
    base, sep, query = url.partition("?")
    if sep and len(query) > 200:
        return f"{base}?<{len(query)} chars>"
    return url


class _Link:
    """One physical connection and the tasks that serve it."""

    def __init__(
        self, conn: int, ws: ClientConnection, opened: float, ping_interval_s: float | None
    ) -> None:
        loop = asyncio.get_running_loop()
        self.conn = conn
        self.ws = ws
        self.ping_interval_s = ping_interval_s  # the app ping's, as the plan or venue says
        self.opened = opened  # monotonic
        self.last_frame = opened  # monotonic; the watchdog counts from the open
        self.first_frame: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[str] = loop.create_future()  # result: why it ended
        self.ended_ts = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.send_lock = asyncio.Lock()
        self.next_send = 0.0  # monotonic time the rate limit allows the next send

    def end(self, reason: str) -> None:
        """Mark the connection over (first reason wins); the supervisor retires it."""
        if not self.ended.done():
            self.ended_ts = time.time_ns()
            self.ended.set_result(reason)


class WsSupervisor:
    """Keeps one planned websocket stream alive; see the module docstring.

    ``state`` is ``"connecting"``, ``"open"``, ``"backoff"`` or ``"stopped"``
    (also before :meth:`run`). Counters: ``connects`` (handshakes that
    succeeded), ``reconnects`` (of those, the ones that replaced a connection
    that was lost), ``rollovers`` (make-before-break replacements),
    ``connect_failures`` (``endpoint_failures`` of them: a failed bootstrap call),
    ``frames``, ``bytes`` (``len`` of each payload: bytes for binary frames,
    characters for text, equal for ASCII JSON) and ``last_frame_monotonic``.

    Not thread-safe: call :meth:`stop` and :meth:`reconnect_now` on the loop.
    """

    def __init__(
        self,
        plan: ConnectionPlan,
        handler: FrameHandler,
        *,
        url: str | None = None,
        stale_after_s: float = 30.0,
        backoff: Backoff | None = None,
        max_size: int = 16 * 2**20,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        rollover_margin_s: float = 300.0,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 5.0,
        conn_ids: Iterator[int] | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self.plan = plan
        self.url = url or plan.url
        parse_uri(self.url)  # a malformed URL is a configuration error: fail now, not forever
        self._handler = handler
        self._stale_after_s = stale_after_s
        self._backoff = backoff or Backoff()
        self._max_size = max_size
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._rollover_margin_s = rollover_margin_s
        self._open_timeout_s = open_timeout_s
        self._close_timeout_s = close_timeout_s
        self._conn_ids = conn_ids if conn_ids is not None else CONN_IDS
        if plan.bootstrap is not None and resolve is None:
            raise ValueError(f"{plan.url}: the plan needs a bootstrap call; give a resolver")
        self._resolve = resolve
        self._log_url = loggable_url(self.url)

        self.state = "stopped"
        self.connects = 0
        self.reconnects = 0
        self.rollovers = 0
        self.connect_failures = 0
        self.endpoint_failures = 0
        self.frames = 0
        self.bytes = 0
        self.last_frame_monotonic: float | None = None

        self._links: list[_Link] = []  # open and not yet retired, oldest first
        self._closers: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # set by stop(), reconnect_now(), a link ending, a failure
        self._stopping = False
        self._reconnect_reason: str | None = None
        self._failure: BaseException | None = None

    # -- control -----------------------------------------------------------------

    def stop(self) -> None:
        """Close the connection(s) gracefully and make :meth:`run` return."""
        self._stopping = True
        self._wake.set()

    def owns(self, conn: int) -> bool:
        """Whether connection ``conn`` is one of this supervisor's open connections."""
        return any(link.conn == conn for link in self._links)

    def send(self, conn: int, frame: str) -> bool:
        """Send ``frame`` on connection ``conn`` (a reply the venue asked for, e.g. a pong),
        paced and recorded like every frame this supervisor sends (``on_send``).

        False, and nothing sent, when ``conn`` is not one of its open connections (it
        closed meanwhile: the question died with it).
        """
        for link in self._links:
            if link.conn == conn and not link.ended.done():
                task = self._spawn(link, self._send(link, frame))
                task.add_done_callback(link.tasks.remove)  # a long-lived link sends many
                return True
        return False

    def reconnect_now(self, reason: str) -> None:
        """Replace the connection make-before-break, e.g. on a venue's shutdown notice.

        While waiting out a backoff this cuts the wait short; while connecting it
        is already being done and is ignored.
        """
        self._reconnect_reason = reason
        self._wake.set()

    def retarget(self, plan: ConnectionPlan, url: str, reason: str) -> None:
        """Serve ``plan`` at ``url`` from now on: a channel moving to another documented
        route (``collector.rerouter``). The current connection is replaced as by
        :meth:`reconnect_now`; a connection attempt already under way is replaced too."""
        parse_uri(url)
        self.plan, self.url, self._log_url = plan, url, loggable_url(url)
        self.reconnect_now(reason)

    # -- main loop -----------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe and receive forever; returns after :meth:`stop` (or raises
        ``CancelledError`` when cancelled). Connections are closed on the way out."""
        first = True
        try:
            while not self._stopping:
                link = await self._open()
                if link is not None:
                    if not first:
                        self.reconnects += 1
                    first = False
                    await self._serve(link)
                if self._stopping:
                    break
                if self._reconnect_reason is not None:  # asked for meanwhile: one try now
                    self._reconnect_reason = None
                    continue
                delay = self._backoff.next_delay()
                self._set_state("backoff", f"retry in {delay:.2f} s")
                await self._wait(timeout=delay)  # reconnect_now() cuts it short
        finally:
            for link in list(self._links):
                link.end(ORDERLY_CLOSE)
                self._retire(link)
            if self._closers:
                await asyncio.gather(*self._closers, return_exceptions=True)
            self._set_state("stopped", "stopped")

    async def _serve(self, link: _Link) -> None:
        """Keep the stream alive on ``link`` and its successors until one is lost."""
        current = link
        roll_at = self._rollover_deadline(current)
        while not self._stopping:
            timeout = None if roll_at is None else max(0.0, roll_at - time.monotonic())
            await self._wait(current.ended, timeout=timeout)
            if self._stopping or current.ended.done():
                return
            due = roll_at is not None and time.monotonic() >= roll_at
            if self._reconnect_reason is None and not due:
                continue
            why = self._reconnect_reason or f"rollover: lifetime {self.plan.lifetime_s:g} s"
            self._reconnect_reason = None
            new = await self._roll_over(current, why)
            if new is None:  # keep the old one and try again a little later
                self._note_health(current)
                roll_at = time.monotonic() + self._backoff.next_delay()
                continue
            current = new
            roll_at = self._rollover_deadline(current)

    async def _roll_over(self, old: _Link, why: str) -> _Link | None:
        """Open a successor, wait for its first frame, then retire ``old``."""
        log.info("ws %s: conn %d: replacing (%s)", self._log_url, old.conn, why)
        new = await self._open()
        if new is None:
            return None
        while not (self._stopping or new.first_frame.done() or new.ended.done()):
            if old.ended.done():  # lost meanwhile: the new one simply takes over
                break
            await self._wait(new.first_frame, new.ended, old.ended)
        if new.ended.done() or self._stopping:
            return None
        if not old.ended.done():
            old.end(f"replaced by conn {new.conn} ({why})")
            self._retire(old)
        self.rollovers += 1
        return new

    def _rollover_deadline(self, link: _Link) -> float | None:
        """When to replace ``link``: ``lifetime - margin`` (at least half the lifetime,
        so a margin larger than the lifetime cannot cause a rollover storm)."""
        lifetime = self.plan.lifetime_s
        if not math.isfinite(lifetime) or lifetime <= 0 or lifetime > 10 * 365 * 86400:
            return None
        return link.opened + max(lifetime - self._rollover_margin_s, lifetime / 2)

    async def _wait(self, *futures: asyncio.Future[Any], timeout: float | None = None) -> None:
        """Wait for any of ``futures``, a wake-up or the timeout; then retire ended links."""
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waker, *futures], timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            waker.cancel()
        self._wake.clear()
        if self._failure is not None:
            raise self._failure
        for link in list(self._links):
            if link.ended.done():
                self._retire(link)

    # -- one connection --------------------------------------------------------------

    async def _open(self) -> _Link | None:
        """Connect and start serving; None when the attempt failed or stop() came first."""
        conn = next(self._conn_ids)
        target, plan = self.url, self.plan  # retarget() may change them meanwhile
        if not self._links:
            self._set_state("connecting", f"conn {conn}")
        url, ping_s = target, plan.app_ping_interval_s
        if plan.bootstrap is not None:
            endpoint = await self._endpoint(plan, conn)
            if endpoint is None:
                return None
            url, ping_s = endpoint.url, endpoint.ping_interval_s or ping_s
        self._handler.on_connecting(conn, url, time.time_ns())
        attempt = asyncio.ensure_future(
            connect(
                url,
                compression="deflate",
                max_size=self._max_size,  # of the decompressed message: also the inflate bound
                ping_interval=self._ping_interval_s,
                ping_timeout=self._ping_timeout_s,
                open_timeout=self._open_timeout_s,
                close_timeout=self._close_timeout_s,
            )
        )
        try:
            while not attempt.done() and not self._stopping:
                await self._wait(attempt)
        except BaseException:  # cancelled, or a handler failure elsewhere: drop the attempt
            attempt.cancel()
            await asyncio.wait([attempt])
            if not attempt.cancelled() and attempt.exception() is None:
                self._track(asyncio.create_task(attempt.result().close()))
            raise
        if not attempt.done():  # stop() came first
            attempt.cancel()
            await asyncio.wait([attempt])
        if attempt.cancelled():
            return None
        if (exc := attempt.exception()) is not None:
            if not isinstance(exc, OSError | TimeoutError | WebSocketException):
                raise exc
            self.connect_failures += 1
            if not report_dns(log, exc, url):
                why = short_error(exc, url)
                log.warning("ws %s: conn %d: connect failed: %s", self._log_url, conn, why)
            return None
        ws = attempt.result()
        reached(url)
        if self._stopping:
            await ws.close()
            return None
        link = _Link(conn, ws, time.monotonic(), ping_s)
        self._links.append(link)
        self.connects += 1
        self._set_state("open", f"conn {conn}")
        self._handler.on_open(conn, url, time.time_ns())
        if target == self.url:  # a fresh connection satisfies any pending request
            self._reconnect_reason = None
        link.ended.add_done_callback(lambda _: self._wake.set())
        self._spawn(link, self._receive(link))
        self._spawn(link, self._watch(link))
        self._spawn(link, self._subscribe(link, plan))
        if plan.app_ping and link.ping_interval_s:
            self._spawn(link, self._app_ping(link, plan.app_ping))
        return link

    async def _endpoint(self, plan: ConnectionPlan, conn: int) -> Endpoint | None:
        """The bootstrap call's answer (``resolve``); None when it failed or stop() came first."""
        assert self._resolve is not None
        call = asyncio.ensure_future(self._resolve(plan))
        try:
            while not call.done() and not self._stopping:
                await self._wait(call)
        except BaseException:  # cancelled, or a handler failure elsewhere
            call.cancel()
            await asyncio.wait([call])
            raise
        if not call.done():  # stop() came first
            call.cancel()
            await asyncio.wait([call])
            return None
        endpoint = call.result()  # a resolver that raises has a bug: it stops run()
        if endpoint is not None:
            try:
                parse_uri(endpoint.url)
            except InvalidURI as exc:
                why = f"bootstrap gave a bad URL: {exc}"
                log.warning("ws %s: conn %d: %s", self._log_url, conn, why)
                endpoint = None
        if endpoint is None:
            self.connect_failures += 1
            self.endpoint_failures += 1
        return endpoint

    def _spawn(self, link: _Link, body: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run one of a link's tasks; an unexpected exception (a handler bug) stops run()."""

        def done(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and (exc := task.exception()) is not None:
                link.end(f"unexpected error: {exc!r}")
                self._failure = self._failure or exc
                self._wake.set()

        task = asyncio.create_task(body)
        task.add_done_callback(done)
        link.tasks.append(task)
        return task

    async def _receive(self, link: _Link) -> None:
        """The hot path: stamp, count and hand over every frame."""
        ws, conn, on_frame = link.ws, link.conn, self._handler.on_frame
        try:
            while True:
                data = await ws.recv()
                ts_recv = time.time_ns()
                now = time.monotonic()
                link.last_frame = self.last_frame_monotonic = now
                self.frames += 1
                self.bytes += len(data)
                if not link.first_frame.done():
                    link.first_frame.set_result(None)
                on_frame(conn, data, ts_recv)
        except ConnectionClosed as exc:
            link.end(f"connection closed: {exc}")

    async def _watch(self, link: _Link) -> None:
        """End the link when no frame came for ``stale_after_s`` (a silent feed is dead)."""
        stale = self._stale_after_s
        while True:
            delay = link.last_frame + stale - time.monotonic()
            if delay <= 0:
                link.end(f"stale: no frame for {stale:g} s")
                return
            await asyncio.sleep(delay)

    async def _subscribe(self, link: _Link, plan: ConnectionPlan) -> None:
        for frame in plan.subscribe:
            await self._send(link, frame)

    async def _app_ping(self, link: _Link, frame: str) -> None:
        assert link.ping_interval_s is not None
        while True:
            await asyncio.sleep(link.ping_interval_s)
            await self._send(link, frame)

    async def _send(self, link: _Link, frame: str) -> None:
        """Send no faster than the plan's message rate (per connection, as venues count)."""
        rate = self.plan.max_messages_per_second
        async with link.send_lock:
            delay = link.next_send - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await link.ws.send(frame)
            except ConnectionClosed:
                return  # the receiver sees the same close and ends the link
            ts = time.time_ns()
            if rate > 0 and math.isfinite(rate):
                link.next_send = time.monotonic() + 1.0 / rate
            self._handler.on_send(link.conn, frame, ts)

    def _retire(self, link: _Link) -> None:
        """Stop delivering from an ended link, report it closed, close it in the background."""
        if link not in self._links:
            return
        self._links.remove(link)
        for task in link.tasks:
            task.cancel()
        reason = link.ended.result()
        self._note_health(link)
        log.info("ws %s: conn %d closed: %s", self._log_url, link.conn, reason)
        self._handler.on_close(link.conn, link.ended_ts, reason)
        self._track(asyncio.create_task(self._close_ws(link, reason)))

    def _track(self, closer: asyncio.Task[None]) -> None:
        """Keep a closing handshake running in the background; run() awaits it on exit."""
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)

    @staticmethod
    async def _close_ws(link: _Link, reason: str) -> None:
        """Closing handshake for a retired link, bounded by ``close_timeout_s``.

        What still arrives is read and dropped: with nobody reading, the receive
        queue would fill, websockets would stop reading the socket, and the
        peer's close frame would sit unread until the timeout.
        """
        if link.tasks:
            await asyncio.wait(link.tasks)  # the cancelled reader must be gone before we read
        drain = asyncio.create_task(_drain(link.ws))
        text = reason.encode()[:120].decode(errors="ignore")  # a reason fits in 123 bytes
        with contextlib.suppress(Exception):
            await link.ws.close(code=1000, reason=text)
        drain.cancel()
        await asyncio.wait([drain])

    def _note_health(self, link: _Link) -> None:
        """Reset the backoff once ``link`` has delivered and stayed up ``healthy_after_s``."""
        if link.first_frame.done() and self._backoff.healthy(time.monotonic(), link.opened):
            self._backoff.reset()

    def _set_state(self, state: str, reason: str) -> None:
        if state != self.state:
            log.info("ws %s: %s -> %s (%s)", self._log_url, self.state, state, reason)
        self.state = state


async def _drain(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.recv()
