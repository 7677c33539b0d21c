"""One client websocket: its subscriptions, its send path and the faults applied to it.

All frames to a client go through :meth:`Connection.send` under one lock, so
data, replies to ``SUBSCRIBE`` and injected notices never interleave. Faults
that count frames count only market-data frames, not replies or injected ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web

from collector.simulator import wire
from collector.simulator.faults import FaultState
from collector.simulator.stats import Stats

#: Frames a generated-source client may fall behind before it is cut off, as a
#: real venue cuts slow consumers instead of buffering for them without bound.
QUEUE_LIMIT = 20_000


class Source(Protocol):
    """Where an exchange's frames and REST snapshots come from."""

    slug: str

    def frames(self, conn: Connection) -> AsyncIterator[tuple[str, str | bytes]]: ...

    def snapshot(self, symbol: str, limit: int, now_ms: int) -> tuple[int, str]: ...

    def truth(self, symbol: str, at: int | None) -> dict | None: ...


class Connection:
    """State of one accepted websocket."""

    def __init__(
        self,
        cid: int,
        slug: str,
        path: str,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        faults: FaultState,
        stats: Stats,
        *,
        send_stamps: bool = False,
    ) -> None:
        self.id = cid
        self.slug = slug
        self.path = path
        self.ws = ws
        self.transport = transport
        self.faults = faults
        self.stats = stats
        self.send_stamps = send_stamps
        self.streams: list[str] = []  # as subscribed, for LIST_SUBSCRIPTIONS
        self.active: set[str] = set()  # lowercased names this path delivers
        self.wanted: dict[tuple[str, str], list[str]] = {}  # (symbol, kind) -> names
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.frames_sent = 0
        self.baseline: dict[str, int] = {}  # threshold knob -> frames_sent when it was set
        self.opened = time.monotonic()
        self.closed = False
        self.close_reason = ""
        self._lock = asyncio.Lock()

    # -- subscriptions ----------------------------------------------------------

    def subscribe(self, names: list[str]) -> None:
        for name in names:
            if name and name not in self.streams:
                self.streams.append(name)
        self._index()

    def unsubscribe(self, names: list[str]) -> None:
        drop = set(names)
        self.streams = [s for s in self.streams if s not in drop]
        self._index()

    def _index(self) -> None:
        self.active = {s.lower() for s in self.streams if wire.served_on(self.slug, self.path, s)}
        wanted: dict[tuple[str, str], list[str]] = {}
        for name in self.streams:
            key = wire.parse_stream(name)
            if key is not None and name.lower() in self.active:
                wanted.setdefault(key, []).append(name)
        self.wanted = wanted

    def push(self, stream: str, frame: str) -> None:
        """Queue a generated frame; a client too far behind is dropped."""
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.faults.fired["slow_consumer"] += 1
            self.drop("slow consumer")
            return
        self.queue.put_nowait((stream, frame))

    # -- sending ------------------------------------------------------------------

    async def send(self, frame: str | bytes) -> None:
        async with self._lock:
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)

    async def send_data(self, stream: str, frame: str | bytes) -> bool:
        """Send one market-data frame through the fault knobs; False once the pump must stop."""
        faults = self.faults
        if self.closed or self._maybe_drop():
            return False
        silent = faults.faults.silent_after_frames
        if silent is not None and self.count("silent_after_frames") >= silent:
            if self.close_reason != "silent":
                self.close_reason = "silent"
                faults.fired["silent"] += 1
            return True
        withheld = self._withheld_by_drift(stream)
        if withheld is not None:
            faults.fire_drift(withheld)
            return True
        if faults.take_skipped_frame():
            return True  # lost in transit: never sent, not counted
        while faults.take_malformed():
            await self.send(_garble(frame))
        if self.send_stamps and isinstance(frame, str) and frame.startswith("{"):
            frame = f'{{"sent":{time.time_ns()},{frame[1:]}'  # see SimulatorConfig.send_stamps
        await self.send(frame)
        self.frames_sent += 1
        self.stats.frames[f"{self.slug} {stream}"] += 1
        return not self._maybe_drop()

    def _withheld_by_drift(self, stream: str) -> str | None:
        """The drift mode that keeps ``stream``'s data off this (Binance-family) connection now."""
        if self.slug not in wire.DEPTH_PATHS:
            return None  # played-back venues: only checksum_zero applies
        drift = self.faults.drift
        moved = self.path.startswith(wire.MOVED_PREFIX)
        if drift == "silent_after_handshake":
            return drift
        if drift == "route_split" and wire.is_futures(self.slug):
            trades = stream.lower().endswith("@trade")
            if trades and self.path != wire.trade_path(self.slug, self.faults.faults.trade_route):
                return drift
        if moved != (drift == "moved_endpoint"):
            return "moved_endpoint"
        return None

    def count(self, knob: str) -> int:
        return self.frames_sent - self.baseline.get(knob, 0)

    def rebase(self, knobs: set[str]) -> None:
        """Threshold knobs just set count from now on this connection."""
        for knob in knobs:
            self.baseline[knob] = self.frames_sent

    def _maybe_drop(self) -> bool:
        faults = self.faults
        limit = faults.faults.drop_after_frames
        if limit is None or self.count("drop_after_frames") < limit:
            return False
        if faults.faults.drop_once and faults.drops_since_set:
            return False
        faults.drops_since_set += 1
        faults.fired["drop"] += 1
        self.drop("drop_after_frames")
        return True

    def drop(self, reason: str) -> None:
        """Cut the TCP connection without a websocket close frame (buffered data still flushes)."""
        self.closed = True
        self.close_reason = reason
        if self.transport is not None:
            self.transport.close()

    def lifetime_over(self) -> bool:
        limit = self.faults.faults.close_after_s
        if limit is None:
            return False
        since = max(self.opened, self.faults.set_at.get("close_after_s", 0.0))
        return time.monotonic() - since >= limit


def _garble(frame: str | bytes) -> str:
    """A frame cut in half: what a broken proxy or a torn write would deliver."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return text[: max(1, len(text) // 2)]
