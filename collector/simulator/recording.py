"""The recorded source: a recording's frames and REST snapshots served back as they came.

Each websocket connection replays the recording **from its beginning**, with
the recorded gaps between frames divided by ``speed`` (0: no waiting), and gets
only the frames of streams it subscribed to (by the combined-stream ``stream``
name). Frames without a stream name (replies to the recorder's own requests)
are not replayed. At the end the connection stays open and silent, or the
replay starts over with ``loop``.

Several recordings of one exchange are merged by time since each file's first
record, so two files of different days play side by side instead of one after
the other with a day's pause between.

REST depth answers with the recorded snapshot body for the symbol: the latest
one recorded at or before the replay position (the position of the connection
that advanced most recently), or the first one if the replay has not reached
any yet.
"""

from __future__ import annotations

import asyncio
import heapq
from bisect import bisect_right
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import msgspec

from collector.capture.reader import open_recording
from collector.simulator import wire
from collector.simulator.connection import Connection

T = TypeVar("T")
Frame = tuple[int, str, str | bytes]  # (ns since the file's first record, stream, frame)


class _Named(msgspec.Struct):
    stream: str | None = None


_named = msgspec.json.Decoder(_Named)


class RecordingError(ValueError):
    """A recording the simulator cannot serve (no exchange named, unknown exchange)."""


def _stream_of(frame: str | bytes) -> str | None:
    if isinstance(frame, bytes):
        return None
    try:
        return _named.decode(frame).stream
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _read(path: Path) -> tuple[str, list[Frame], dict[str, list[tuple[int, str]]]]:
    info, records = open_recording(path)
    if info.exchange is None:
        raise RecordingError(f"{path}: the recording does not name its exchange")
    if info.exchange not in wire.DEPTH_PATHS:
        raise RecordingError(f"{path}: exchange {info.exchange!r} is not simulated")
    frames: list[Frame] = []
    snapshots: dict[str, list[tuple[int, str]]] = {}
    start: int | None = None
    for rec in records:
        start = rec.ts if start is None else start
        offset = rec.ts - start
        if rec.kind == "recv":
            stream = _stream_of(rec.data)
            if stream is not None:
                frames.append((offset, stream.lower(), rec.data))
        elif rec.kind == "http" and rec.status in (None, 200) and isinstance(rec.data, str):
            url = urlsplit(rec.url)
            symbol = parse_qs(url.query).get("symbol", [""])[0].upper()
            if url.path.endswith("/depth") and symbol:
                snapshots.setdefault(symbol, []).append((offset, rec.data))
    return info.exchange, frames, snapshots


async def paced(
    items: list[tuple[int, T]], speed: float, loop: bool
) -> AsyncIterator[tuple[int, T]]:
    """Yield ``(offset_ns, item)`` at the recorded pace divided by ``speed`` (0: at once).

    At the end it stays silent (the connection open) or, with ``loop``, starts over.
    """
    clock = asyncio.get_running_loop()
    while items:
        start = clock.time()
        for i, (offset, item) in enumerate(items):
            if speed > 0:
                delay = start + offset / 1e9 / speed - clock.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 256 == 255:
                await asyncio.sleep(0)  # let other connections and requests run
            yield offset, item
        if not loop:
            break
    await asyncio.Event().wait()  # open and silent until the client leaves


class RecordedSource:
    """All recordings of one exchange slug."""

    def __init__(
        self,
        slug: str,
        frames: list[Frame],
        snapshots: dict[str, list[tuple[int, str]]],
        *,
        speed: float = 1.0,
        loop: bool = False,
    ) -> None:
        self.slug = slug
        self.recorded = frames
        self.snapshots = snapshots
        self.speed = speed
        self.loop = loop
        self.cursor = 0  # replay position (ns offset) of the most recent frame replayed

    @classmethod
    def load(
        cls, paths: Iterable[str | Path], *, speed: float = 1.0, loop: bool = False
    ) -> dict[str, RecordedSource]:
        """One source per exchange named by the recordings' headers."""
        frames: dict[str, list[list[Frame]]] = {}
        snapshots: dict[str, dict[str, list[tuple[int, str]]]] = {}
        for path in paths:
            slug, file_frames, file_snaps = _read(Path(path))
            frames.setdefault(slug, []).append(file_frames)
            merged = snapshots.setdefault(slug, {})
            for symbol, snaps in file_snaps.items():
                merged[symbol] = sorted([*merged.get(symbol, []), *snaps], key=lambda s: s[0])
        return {
            slug: cls(
                slug,
                list(heapq.merge(*parts, key=lambda f: f[0])),
                snapshots[slug],
                speed=speed,
                loop=loop,
            )
            for slug, parts in frames.items()
        }

    async def frames(self, conn: Connection) -> AsyncIterator[tuple[str, str | bytes]]:
        async for offset, (stream, frame) in paced(
            [(o, (st, f)) for o, st, f in self.recorded], self.speed, self.loop
        ):
            self.cursor = offset
            if stream in conn.active:
                yield stream, frame

    def snapshot(self, symbol: str, limit: int, now_ms: int) -> tuple[int, str]:
        snaps = self.snapshots.get(symbol.upper())
        if not snaps:
            return 400, wire.error_body(-1121, "Invalid symbol.")
        i = bisect_right([s[0] for s in snaps], self.cursor)
        return 200, snaps[max(i - 1, 0)][1]

    def truth(self, symbol: str, at: int | None) -> None:
        """A recording's true book is unknown: only generated sources have one."""
        return None
