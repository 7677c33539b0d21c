"""Any other venue's recording served back as it came: the simulator speaking its protocol.

The Binance family is simulated in depth (generated books, the request protocol,
REST snapshots). Every other venue is served from a real recording instead, so
its adapter runs live against the exact frames the venue sent: each client
connection gets one recorded connection's received frames, from that
connection's opening, with the recorded gaps divided by ``speed``. What the
client sends (its subscriptions, pings) is read and ignored: a recording cannot
answer a question it was not asked, and the frames already are the venue's
answers to the recorder's own subscriptions. A reconnecting client therefore
starts over with the venue's snapshots, which is how in-band venues resync.

A client connection is matched to a recorded one by URL path (Bybit's spot and
linear endpoints differ only there); when no recorded path matches (the adapter
now speaks a newer protocol than the recording, e.g. Kraken v2 vs v1), the
recorded connections are handed out in turn. A recording without ``open`` records
(hftbacktest's) has one connection per ``conn`` number, opened at its first frame and
matching no path. HTTP requests get the recorded response of the same path and query
(or of the path ``RECORDED_AS`` names), else of the same path. A venue's call for its
websocket address (KuCoin's token) is answered with the simulator's own address, so a
client that asks for it before each connect comes back here.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import adapters
from collector.capture.reader import open_recording
from collector.simulator import wire
from collector.simulator.faults import FaultState
from collector.simulator.recording import paced

#: ``checksum_zero`` drift: where each venue's book checksum sits in a frame's text, and
#: what replaces it. Only the value's text changes; every other byte stays as recorded.
_OKX_BOOKS = re.compile(r'"channel"\s*:\s*"books"')
_OKX_CHECKSUM = re.compile(r'("checksum"\s*:\s*)-?\d+')
_KRAKEN_V1 = re.compile(r'("c"\s*:\s*)"\d+"')  # v1 book: "c":"1234567890"
_KRAKEN_V2 = re.compile(r'("checksum"\s*:\s*)\d+')  # v2 book: "checksum":1234567890


def zero_checksums(slug: str, frame: str) -> tuple[str, int]:
    """``frame`` with its book checksum(s) set to 0 (OKX ``books``) or "0" (Kraken v1)."""
    if slug == "okx":
        if not _OKX_BOOKS.search(frame):
            return frame, 0
        return _OKX_CHECKSUM.subn(r"\g<1>0", frame)
    if slug == "kraken":
        frame, n = _KRAKEN_V1.subn(r'\g<1>"0"', frame)
        frame, m = _KRAKEN_V2.subn(r"\g<1>0", frame)
        return frame, n + m
    return frame, 0


def kucoin_bullet(endpoint: str) -> str:
    """KuCoin's ``POST /api/v1/bullet-public`` answer, naming ``endpoint`` as its server.

    Shape and values as documented (https://www.kucoin.com/docs/websocket/basic-info/
    apply-connect-token/public-token-no-authentication-required-), times in ms.
    """
    server = {
        "endpoint": endpoint,
        "encrypt": True,
        "protocol": "websocket",
        "pingInterval": 18000,
        "pingTimeout": 10000,
    }
    data = {"token": "simulator", "instanceServers": [server]}
    return json.dumps({"code": "200000", "data": data}, separators=(",", ":"))


#: Calls that yield a websocket address, by path: the answer for a given endpoint.
BOOTSTRAP_ANSWERS = {"/api/v1/bullet-public": kucoin_bullet}
#: Public paths whose answer a recording holds under another path, same query: KuCoin's
#: top-100 book (public) has the shape and ``sequence`` of the full book, which the 2021
#: recording fetched signed; the full body answers the smaller request.
RECORDED_AS = {"/api/v1/market/orderbook/level2_100": "/api/v3/market/orderbook/level2"}


@dataclass
class RecordedConnection:
    """One websocket connection of a recording."""

    path: str
    #: (ns since the connection opened, frame exactly as received)
    frames: list[tuple[int, str | bytes]] = field(default_factory=list)


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def recording_exchange(path: str | Path) -> str | None:
    """The exchange slug a recording's header names."""
    return open_recording(path)[0].exchange


def split_recordings(paths: Iterable[str | Path]) -> tuple[list[str | Path], list[str | Path]]:
    """(Binance-family recordings, recordings of other venues)."""
    binance: list[str | Path] = []
    other: list[str | Path] = []
    for path in paths:
        (binance if recording_exchange(path) in wire.DEPTH_PATHS else other).append(path)
    return binance, other


class PlaybackSource:
    """All recordings of one venue, ready to be played to any number of clients."""

    def __init__(
        self,
        slug: str,
        connections: list[RecordedConnection],
        http: dict[str, tuple[int, str]],
        *,
        speed: float = 1.0,
        loop: bool = False,
    ) -> None:
        self.slug = slug
        self.connections = connections
        self.http = http  # "path?query" and "path" -> (status, body); first recorded wins
        self.speed = speed
        self.loop = loop
        self.handed_out = 0
        self.faults: FaultState | None = None  # set by the simulator; for checksum_zero

    @classmethod
    def load(
        cls, paths: Iterable[str | Path], *, speed: float = 1.0, loop: bool = False
    ) -> dict[str, PlaybackSource]:
        sources: dict[str, PlaybackSource] = {}
        for path in paths:
            info, records = open_recording(path)
            if info.exchange is None:
                raise ValueError(f"{path}: the recording does not name its exchange")
            slug = adapters.canonical(info.exchange)  # served under the venue's name today
            source = sources.setdefault(slug, cls(slug, [], {}, speed=speed, loop=loop))
            opened: dict[int, tuple[int, RecordedConnection]] = {}
            for rec in records:
                if rec.kind == "open":
                    conn = RecordedConnection(_path(rec.url))
                    opened[rec.conn] = (rec.ts, conn)
                    source.connections.append(conn)
                elif rec.kind == "recv":
                    if rec.conn not in opened:  # a source without connection events
                        opened[rec.conn] = (rec.ts, RecordedConnection(""))
                        source.connections.append(opened[rec.conn][1])
                    start, conn = opened[rec.conn]
                    conn.frames.append((rec.ts - start, rec.data))
                elif rec.kind == "http" and isinstance(rec.data, str):
                    url = urlsplit(rec.url)
                    answer = (rec.status or 200, rec.data)
                    source.http.setdefault(f"{url.path.rstrip('/')}?{url.query}", answer)
                    source.http.setdefault(url.path.rstrip("/"), answer)
        return sources

    def pick(self, path: str) -> RecordedConnection | None:
        """The recorded connection for a client connecting to ``path``."""
        path = path.rstrip("/")
        matching = [c for c in self.connections if c.path == path] or self.connections
        if not matching:
            return None
        chosen = matching[self.handed_out % len(matching)]
        self.handed_out += 1
        return chosen

    async def frames(self, recorded: RecordedConnection) -> AsyncIterator[tuple[str, str | bytes]]:
        async for _, frame in paced(recorded.frames, self.speed, self.loop):
            faults = self.faults
            if faults is not None and faults.drift == "checksum_zero" and isinstance(frame, str):
                frame, n = zero_checksums(self.slug, frame)
                if n:
                    faults.fire_drift("checksum_zero")
            yield "playback", frame

    def answer(self, path: str, query: str, ws_base: str = "") -> tuple[int, str] | None:
        """The recorded answer to ``path?query``; for an address call (``BOOTSTRAP_ANSWERS``),
        the address of a recorded connection under ``ws_base`` (the simulator's own
        ``ws://host:port/slug``), since a recorded token would send the client away."""
        path = path.rstrip("/")
        bootstrap = BOOTSTRAP_ANSWERS.get(path)
        if bootstrap is not None and self.connections:
            return 200, bootstrap(ws_base + self.connections[0].path)
        alias = RECORDED_AS.get(path)
        if alias is not None and f"{alias}?{query}" in self.http:
            return self.http[f"{alias}?{query}"]
        return self.http.get(f"{path}?{query}") or self.http.get(path)
