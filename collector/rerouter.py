"""The daemon's side of route choice: feeds a venue's :class:`RouteChooser` and carries out moves.

An ``ExchangeRunner`` owns one :class:`Rerouter` and calls it from four places:
``note`` when a connection opens (the returned text is the ``open`` record's
data, naming the route, so a replay derives the same ``drift`` event, see
``collector.routes``), ``before_frame``/``after_frame`` around the pipeline
(cheap: a truthiness test once every routed channel delivers), and ``run`` as
one of its tasks. A move re-plans every connection of the channel onto the next
route through ``WsSupervisor.retarget``; the books' connections are untouched.

Logs: a WARNING when a route is left, then one ERROR line per moved channel
once a later route delivers, naming the silent route(s) and the one that
delivers; one ERROR line when no route has delivered in a whole round (then
``problems`` makes ``/health`` answer 503). Retry rounds after that log INFO.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from msgspec.structs import replace

from collector.routes import Delivered, Move, RouteChooser, route_label, route_note

if TYPE_CHECKING:
    from collector.config import ExchangeConfig
    from collector.metrics import Metrics
    from collector.pipeline import Pipeline
    from collector.transport.ws import WsSupervisor

log = logging.getLogger(__name__)

#: How often due moves are looked for.
TICK_S = 0.1


class Rerouter:
    """Route choice for the routed plans among ``supervisors`` (one slot each, index stable)."""

    def __init__(
        self,
        cfg: ExchangeConfig,
        supervisors: list[WsSupervisor],
        pipeline: Pipeline,
        metrics: Metrics,
    ) -> None:
        self.exchange = cfg.name
        self.cfg = cfg
        self.supervisors = supervisors
        self.pipeline = pipeline
        self.metrics = metrics
        self.chooser = RouteChooser()
        #: Each slot's routes and its channel key ("book+bbo"). Fallbacks live as long
        #: as the plan the daemon made (``connection_lifetime_s`` applies to them too).
        self._routes = [
            [s.plan, *(replace(f, lifetime_s=s.plan.lifetime_s) for f in s.plan.fallbacks)]
            for s in supervisors
        ]
        self._channel = [
            "+".join(sorted({s.channel for s in sup.plan.subscriptions})) or "none"
            for sup in supervisors
        ]
        #: The channels with routes to choose from.
        pairs = zip(self._channel, self._routes, strict=True)
        routed = (key for key, routes in pairs if routes[1:])
        self.routed = list(dict.fromkeys(routed))
        for key in self.routed:
            slots = self._slots(key)
            routes = [route_label(p.url) for p in self._routes[slots[0]]]
            deadline = min(cfg.stale_after_s[c] for c in key.split("+"))
            alone = len(slots) == len(supervisors)
            self.chooser.add(key, routes, deadline, alone=alone)
            metrics.route(self.exchange, key, routes[0])
        #: Routed connections whose channel has yet to deliver: conn -> (channel, route).
        self._waiting: dict[int, tuple[str, str]] = {}
        self._exhausted: set[str] = set()  # channels whose "no route delivers" was logged

    def _slots(self, key: str) -> list[int]:
        return [slot for slot, k in enumerate(self._channel) if k == key]

    # -- hooks ---------------------------------------------------------------------

    def note(self, slot: int | None, conn: int, url: str) -> str:
        """The ``open`` record data of connection ``conn`` of ``slot``, opened to ``url``:
        the plan and the documented route it serves (one of one for most)."""
        if slot is None:
            return ""
        key, routes = self._channel[slot], self._routes[slot]
        if key not in self.chooser:
            return route_note(slot, key, 0, 1, route_label(routes[0].url))
        urls = [self.cfg.rewrite_url(p.url) for p in routes]
        index = urls.index(url) if url in urls else -1
        active, label = self.chooser.active(key)
        if index != active:  # opened just before a move; replaced right away
            return f"plan {slot}"
        self.chooser.acknowledged(key, label, time.monotonic())
        if self.chooser.waiting(key):
            self._waiting[conn] = (key, label)
        return route_note(slot, key, index, len(urls), label)

    def before_frame(self, conn: int) -> int | None:
        """Data messages so far when ``conn`` still has to show that its route delivers."""
        if conn not in self._waiting:
            return None
        return self.pipeline.frames_by_symbol.total()

    def after_frame(self, conn: int, before: int) -> None:
        if self.pipeline.frames_by_symbol.total() == before:
            return  # an acknowledgement or a heartbeat, not data
        key, label = self._waiting[conn]
        delivered = self.chooser.data(key, label, time.monotonic())
        self._waiting = {c: w for c, w in self._waiting.items() if w[0] != key}
        if delivered is not None:
            self._delivered(delivered)

    def problems(self) -> list[str]:
        return self.chooser.problems()

    # -- the task ------------------------------------------------------------------

    async def run(self) -> None:
        """Tell the chooser which channels the others stream beside, and carry out moves."""
        if not self.routed:
            return
        while True:
            await asyncio.sleep(TICK_S)
            for key in self.routed:
                slots = set(self._slots(key))
                last = [
                    s.last_frame_monotonic
                    for i, s in enumerate(self.supervisors)
                    if i not in slots and s.last_frame_monotonic is not None
                ]
                if last:
                    self.chooser.others_streaming(key, max(last))
            for move in self.chooser.tick(time.monotonic()):
                self._move(move)

    def _move(self, move: Move) -> None:
        key = move.channel
        self._waiting = {c: w for c, w in self._waiting.items() if w[0] != key}
        why = (
            f"route {move.failed} acknowledged and silent for {move.silent_s:.1f} s; "
            f"moving {key} to route {move.route}"
        )
        if not move.exhausted:
            log.warning("%s %s", self.exchange, why)
        elif key not in self._exhausted:
            self._exhausted.add(key)
            routes = ", ".join(self.chooser.routes(key))
            log.error("%s %s: no route delivers (%s); trying again", self.exchange, key, routes)
        else:
            log.info("%s %s (retry round)", self.exchange, why)
        self.metrics.route(self.exchange, key, move.route, moved=True)
        for slot in self._slots(key):
            plan = self._routes[slot][move.index]
            self.supervisors[slot].retarget(plan, self.cfg.rewrite_url(plan.url), why)

    def _delivered(self, d: Delivered) -> None:
        log.error(
            "%s %s: route %s acknowledged and silent; route %s delivers, kept for the rest "
            "of the run",
            self.exchange,
            d.channel,
            ", ".join(d.failed),
            d.route,
        )
