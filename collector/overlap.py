"""Exactly-once frames across a planned connection switch-over.

Before a venue's connection lifetime ends, the transport opens a second
connection to the same URL with the same subscriptions and closes the old one
only once the new one delivers. During that overlap both carry the same events,
so each frame must be admitted once. Venues serialize an event identically on
every connection (Binance frames carry the event's own ids and times), so the
frame text itself identifies the event.

The filter lives in the pipeline, driven by the capture's ``open``/``close``
records, so replaying a capture drops exactly what the live run dropped.

Dedupe is active only while two or more connections of one plan are open, and
for ``grace_ns`` of receive time after that, because the surviving connection
may lag the closed one and deliver events it had already delivered. A plan is
named by its URL and, where the capture's ``open`` record says so, the plan's
number: venues that subscribe in frames (OKX, Coinbase, Bybit, ...) open every
connection to the same URL, and those carry different events.

An overlap also starts with what the old connection delivered while the new one
was being opened. The venue sends on the new connection from the moment it
accepts it, before the client has seen the handshake's answer, so the old
connection can deliver an event before the new one's ``open``, and the new
connection's copy then arrives after it. The capture's ``connecting`` record
(written when the attempt starts) bounds that window exactly: nothing the old
connection delivered before it can come again on the new connection, whatever a
replaying simulator resends verbatim.
"""

from __future__ import annotations

from collections import Counter, deque

DEFAULT_GRACE_NS = 10 * 10**9
_MAX_REMEMBERED = 500_000
#: An attempt that has not opened by then is forgotten (longer than any open timeout).
ATTEMPT_NS = 120 * 10**9
#: Frames kept while an attempt is pending; the race is in the last of them.
_MAX_DURING_ATTEMPTS = 4096


class OverlapFilter:
    def __init__(self, grace_ns: int = DEFAULT_GRACE_NS) -> None:
        self.grace_ns = grace_ns
        self._url_of: dict[int, str] = {}
        self._open: Counter[str] = Counter()
        self._active_until: dict[str, int] = {}  # url -> ts; -1 while overlapping
        self._seen: dict[str, set[str | bytes]] = {}
        self._order: dict[str, deque[str | bytes]] = {}
        self.dropped = 0
        #: conn -> receive time its attempt started, while it has not opened.
        self._attempts: dict[int, int] = {}
        #: ``(ts, conn, frame)`` admitted while an attempt is pending.
        self._during: deque[tuple[int, int, str | bytes]] = deque(maxlen=_MAX_DURING_ATTEMPTS)

    def connecting(self, conn: int, ts: int) -> None:
        """Connection ``conn`` is being attempted from ``ts`` on (its plan is not known yet)."""
        self._attempts[conn] = ts

    def opened(self, conn: int, url: str, ts: int) -> None:
        """Connection ``conn`` of plan ``url`` (URL, or URL and plan number) opened."""
        started = self._attempts.pop(conn, None)
        self._url_of[conn] = url
        self._open[url] += 1
        if self._open[url] >= 2:
            starting = self._active_until.get(url) != -1
            self._active_until[url] = -1
            seen = self._seen.setdefault(url, set())
            order = self._order.setdefault(url, deque())
            if starting and started is not None:
                for at, other, data in self._during:
                    if at >= started and other != conn and self._url_of.get(other) == url:
                        seen.add(data)
                        order.append(data)
        if not self._attempts:
            self._during.clear()

    def closed(self, conn: int, ts: int) -> None:
        url = self._url_of.pop(conn, None)
        if url is None:
            return
        self._open[url] -= 1
        if self._open[url] < 2 and self._active_until.get(url) == -1:
            self._active_until[url] = ts + self.grace_ns

    @property
    def active(self) -> bool:
        """Whether any frame needs ``admit``: callers skip it entirely otherwise."""
        return bool(self._active_until or self._attempts)

    def admit(self, conn: int, data: str | bytes, ts: int) -> bool:
        """False for the second copy of a frame during (or just after) an overlap."""
        if self._attempts:
            self._note_during_attempt(conn, data, ts)
        url = self._url_of.get(conn)
        until = self._active_until.get(url) if url is not None else None
        if until is None:
            return True
        assert url is not None
        if until != -1 and ts > until:
            del self._active_until[url], self._seen[url], self._order[url]
            return True
        seen = self._seen[url]
        if data in seen:
            self.dropped += 1
            return False
        seen.add(data)
        order = self._order[url]
        order.append(data)
        if len(order) > _MAX_REMEMBERED:
            seen.discard(order.popleft())
        return True

    def _note_during_attempt(self, conn: int, data: str | bytes, ts: int) -> None:
        attempts = self._attempts
        while attempts and ts - next(iter(attempts.values())) > ATTEMPT_NS:
            del attempts[next(iter(attempts))]  # failed long ago (it never opened)
        if attempts:
            self._during.append((ts, conn, data))
        else:
            self._during.clear()
