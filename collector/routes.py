"""Choosing among a channel's documented routes: pure logic, fed with events, returning decisions.

Venues move streams between URL paths and leave the old path accepting the
subscription in silence (Binance USD-M's 2026 ``/public``/``/market`` split).
An adapter declares each channel's routes as data (``ConnectionPlan.fallbacks``,
newest first); :class:`RouteChooser` decides when to leave one, from what the
daemon tells it:

* ``acknowledged(channel, route, t)``: a connection of the route opened (the
  handshake accepted the URL naming the streams);
* ``data(channel, route, t)``: a data message of the channel arrived on it;
* ``others_streaming(channel, t)``: the venue's other connections deliver;
* ``tick(t)``: time passed; returns the moves now due.

A route acknowledged and silent for the channel's ``deadline_s`` while the
venue's other channels stream (or at once, for a channel with no other to
compare with) is left for the next route. The first route that delivers is
kept for the rest of the run. When every route has stayed silent the channel
is ``exhausted``; it starts again from the first route with twice the
deadline each round, so a venue that comes back is found without a storm of
moves.

The decision also has to come out of a replay of the capture, so the daemon
names the route in every ``open`` record it writes (:func:`route_note`) and
the pipeline derives the ``drift`` quality event from those records alone
(:class:`RouteLog`): live and replay write the same event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from collector.model import QualityEvent, QualityKind

#: ``open`` record data of a routed connection: ``plan 3 route trades 2/3 <label>``.
_NOTE = re.compile(r"^plan (\d+) route (\S+) (\d+)/(\d+) (\S+)$")


def route_label(url: str) -> str:
    """A route's name in logs, metrics and events: the URL without its query (stream list)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def route_note(plan: int, channel: str, index: int, count: int, label: str) -> str:
    """The ``open`` record data naming a connection's plan and route (index from 0)."""
    return f"plan {plan} route {channel} {index + 1}/{count} {label}"


def parse_route_note(data: str) -> tuple[str, int, int, str] | None:
    """``(channel, index, count, label)`` of a :func:`route_note`; None for other data."""
    m = _NOTE.match(data)
    if m is None:
        return None
    return m[2], int(m[3]) - 1, int(m[4]), m[5]


@dataclass(frozen=True)
class Move:
    """Re-plan ``channel`` onto route ``index``: ``failed`` stayed silent ``silent_s`` seconds."""

    channel: str
    index: int
    route: str
    failed: str
    silent_s: float
    #: Every route has been silent at least once: this is a retry round, not news.
    exhausted: bool


@dataclass(frozen=True)
class Delivered:
    """``route`` delivers ``channel`` after ``failed`` (newest first) stayed silent."""

    channel: str
    route: str
    failed: tuple[str, ...]


@dataclass
class _Channel:
    routes: list[str]
    deadline_s: float
    alone: bool
    index: int = 0
    acked_at: float | None = None
    delivering: bool = False
    others_at: float | None = None
    failed: list[str] = field(default_factory=list)
    rounds: int = 0  # times every route was found silent

    @property
    def route(self) -> str:
        return self.routes[self.index]


class RouteChooser:
    """One venue's routed channels; see the module docstring."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def add(self, channel: str, routes: list[str], deadline_s: float, *, alone: bool) -> None:
        """Track ``channel`` (its routes newest first); ``alone``: the venue streams nothing
        else, so silence cannot be compared and the deadline alone decides."""
        if len(routes) < 2:
            raise ValueError(f"{channel}: a channel with one route has nothing to choose")
        self._channels[channel] = _Channel(list(routes), deadline_s, alone)

    def __contains__(self, channel: str) -> bool:
        return channel in self._channels

    def active(self, channel: str) -> tuple[int, str]:
        """The index and label of the route ``channel`` uses now."""
        c = self._channels[channel]
        return c.index, c.route

    def routes(self, channel: str) -> list[str]:
        return list(self._channels[channel].routes)

    def waiting(self, channel: str) -> bool:
        """Whether ``channel`` has yet to deliver on its route (data then matters)."""
        c = self._channels.get(channel)
        return c is not None and not c.delivering

    def acknowledged(self, channel: str, route: str, t: float) -> None:
        """A connection of ``route`` opened; the deadline counts from the first one."""
        c = self._channels.get(channel)
        if c is not None and route == c.route and c.acked_at is None:
            c.acked_at = t

    def others_streaming(self, channel: str, t: float) -> None:
        c = self._channels.get(channel)
        if c is not None:
            c.others_at = t

    def data(self, channel: str, route: str, t: float) -> Delivered | None:
        """Data of ``channel`` on ``route``; the first on a route reached by moving is news."""
        c = self._channels.get(channel)
        if c is None or c.delivering or route != c.route:
            return None
        c.delivering = True
        if not c.failed:
            return None  # the newest route works: nothing to say
        return Delivered(channel, c.route, tuple(dict.fromkeys(c.failed)))

    def tick(self, t: float) -> list[Move]:
        """The moves due at ``t``."""
        moves = []
        for name, c in self._channels.items():
            if c.delivering or c.acked_at is None:
                continue
            deadline = c.deadline_s * 2**c.rounds
            silent = t - c.acked_at
            compared = c.alone or (c.others_at is not None and c.others_at >= t - deadline)
            if silent < deadline or not compared:
                continue
            failed = c.route
            c.failed.append(failed)
            c.index = (c.index + 1) % len(c.routes)
            if c.index == 0:
                c.rounds += 1
            c.acked_at = None
            moves.append(Move(name, c.index, c.route, failed, silent, c.rounds > 0))
        return moves

    def problems(self) -> list[str]:
        """Why the venue is unhealthy: channels no route has delivered in a whole round."""
        return [
            f"{name}: no route delivers (silent: {', '.join(c.routes)})"
            for name, c in self._channels.items()
            if c.rounds and not c.delivering
        ]

    def state(self) -> dict[str, str]:
        """Each channel's route and whether it delivers, for ``/health``."""
        return {
            name: f"{c.route} ({'delivers' if c.delivering else 'waiting'})"
            for name, c in self._channels.items()
        }


class RouteLog:
    """Derives route moves from ``open`` records: the pipeline's half, identical in replay.

    A connection opened on a later route of a channel than the one it had means
    the daemon moved it: one ``drift`` event, naming the silent route, for how
    long it had been open, and the route tried next.
    """

    def __init__(self) -> None:
        self._current: dict[str, tuple[int, str, int]] = {}  # channel -> index, label, first ts

    def opened(self, data: str, ts: int) -> QualityEvent | None:
        note = parse_route_note(data) if data.startswith("plan ") else None
        if note is None:
            return None
        channel, index, count, label = note
        current = self._current.get(channel)
        if current is not None and current[0] == index:
            return None
        self._current[channel] = (index, label, ts)
        if current is None:
            return None
        _, failed, since = current
        detail = (
            f"{channel}: route {failed} acknowledged and silent for {(ts - since) / 1e9:.1f} s; "
            f"moved to route {label} ({index + 1} of {count})"
        )
        return QualityEvent(None, ts, QualityKind.DRIFT, detail)
