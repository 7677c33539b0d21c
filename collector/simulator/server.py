"""The simulator: one aiohttp application serving every simulated exchange on one port.

Routes (the first path segment is the exchange slug):

* ``GET /<slug>/stream?streams=a/b`` (spot, COIN-M), ``/<slug>/public/stream``
  and ``/<slug>/market/stream`` (USD-M, COIN-M): combined-stream websocket.
  The routed paths serve depth/bookTicker only on ``/public``, raw trades on
  both and other streams only on ``/market``; USD-M's retired ``/stream``
  accepts the handshake and stays silent, as the live venue does (see
  ``wire.served_on``); under the ``moved_endpoint`` drift mode the data is
  served under ``/<slug>/ws2/...`` instead, under ``route_split`` trades on
  one path only (see ``faults``);
* ``GET /<slug>/api/v3/depth`` (spot), ``/fapi/v1/depth`` (USD-M),
  ``/dapi/v1/depth`` (COIN-M): REST snapshot;
* ``GET /_truth/<slug>/<SYMBOL>[/<updateId>]``, ``GET /_stats``,
  ``GET|POST /_faults``: control plane for tests;
* ``GET /<slug>[/<path>]`` for every other venue (Kraken, OKX, Bybit, ...): a
  websocket plays back a recorded connection of that path, plain HTTP answers
  with a recorded response (see ``playback``); ``POST`` only for a venue's
  websocket-address call (KuCoin's ``/api/v1/bullet-public``).

Tests use it in-process (``async with Simulator(config) as sim``); the CLI runs
the same object until a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from collector.simulator import rest, websocket, wire
from collector.simulator.config import SimulatorConfig
from collector.simulator.connection import Connection, Source
from collector.simulator.faults import CHECKSUM_VENUES, DRIFT_MODES, THRESHOLDS, FaultState
from collector.simulator.generated import GeneratedSource
from collector.simulator.playback import PlaybackSource, split_recordings
from collector.simulator.recording import RecordedSource
from collector.simulator.stats import Stats


class Simulator:
    """A running (after :meth:`start`) local exchange: Binance simulated, other venues replayed."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.config.check()
        self.stats = Stats()
        self.connections: set[Connection] = set()
        self.weights: dict[str, tuple[int, int]] = {}  # slug -> (UTC minute, weight used)
        cfg = self.config
        # A recording replaces generated books for its exchange; other venues are
        # played back from theirs.
        binance, other = split_recordings(cfg.recordings)
        recorded = RecordedSource.load(binance, speed=cfg.speed, loop=cfg.loop)
        self.playback = PlaybackSource.load(other, speed=cfg.speed, loop=cfg.loop)
        # checksum_zero is refused unless a venue with book checksums is played back.
        self.faults = FaultState(
            self.config.faults, checksum_venues=CHECKSUM_VENUES & set(self.playback)
        )
        for source in self.playback.values():
            source.faults = self.faults
        self.generated = {
            slug: GeneratedSource(
                slug,
                cfg.symbols,
                self.faults,
                seed=cfg.seed,
                history=cfg.history,
                trade_probability=cfg.trade_probability,
            )
            for slug in cfg.generated_exchanges()
            if slug not in recorded
        }
        self.sources: dict[str, Source] = {**self.generated, **recorded}
        self._ids = 0
        self._background: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._clock: asyncio.Task[None] | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.generated:
            self._clock = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
        for conn in self.connections:
            conn.closed = True
        await asyncio.gather(
            *(_quietly(c.ws.close(code=1001, message=b"going away")) for c in self.connections)
        )
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def ws_url(self, slug: str, streams: list[str], path: str = "stream") -> str:
        return f"ws://{self.config.host}:{self.port}/{slug}/{path}?streams={'/'.join(streams)}"

    def rest_url(self, slug: str, symbol: str, limit: int = 1000) -> str:
        return f"{self.url}/{slug}{wire.DEPTH_PATHS[slug]}?symbol={symbol}&limit={limit}"

    # -- state for tests --------------------------------------------------------------

    def truth(self, slug: str, symbol: str, update_id: int | None = None) -> dict | None:
        """The true book of a generated symbol now, or as of ``update_id``."""
        source = self.sources.get(slug)
        return None if source is None else source.truth(symbol, update_id)

    def set_faults(self, doc: dict[str, Any] | None = None, **knobs: Any) -> None:
        """Change fault knobs now (same keys as ``POST /_faults``); see ``faults``."""
        changed = self.faults.update({**(doc or {}), **knobs})
        for conn in self.connections:
            conn.rebase(changed & set(THRESHOLDS))
        if "server_shutdown" in changed and self.faults.faults.server_shutdown:
            self.faults.faults.server_shutdown = False  # a pulse: used up now
            notice = wire.server_shutdown(time.time_ns() // 1_000_000)
            for conn in self.connections:
                self.faults.fired["server_shutdown"] += 1
                task = asyncio.get_running_loop().create_task(_quietly(conn.send(notice)))
                self._background.add(task)  # keep a reference until it is done
                task.add_done_callback(self._background.discard)

    def stats_json(self) -> dict[str, Any]:
        doc = self.stats.as_json(self.faults.fired)
        # Which drift mode is on, and how many frames (or snapshots) each mode changed.
        fired = {k.removeprefix("drift_"): n for k, n in self.faults.fired.items()}
        doc["drift"] = {
            "mode": self.faults.drift,
            "fired": {k: fired[k] for k in DRIFT_MODES if k in fired},
        }
        return doc

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- internals ------------------------------------------------------------------------

    async def _tick(self) -> None:
        """Step every generated book once per interval, without drifting or catching up."""
        loop = asyncio.get_running_loop()
        interval = self.config.interval_ms / 1000
        due = loop.time()
        while True:
            due += interval
            now_ms = time.time_ns() // 1_000_000
            for source in self.generated.values():
                source.step(now_ms)
            delay = due - loop.time()
            if delay < 0:
                due = loop.time()
            await asyncio.sleep(max(delay, 0))

    def _app(self) -> web.Application:
        app = web.Application()
        bind = functools.partial
        app.router.add_get("/_stats", bind(rest.stats, sim=self))
        app.router.add_route("*", "/_faults", bind(rest.faults, sim=self))
        app.router.add_get("/_truth/{slug}/{symbol}", bind(rest.truth, sim=self))
        app.router.add_get("/_truth/{slug}/{symbol}/{update_id}", bind(rest.truth, sim=self))
        for path in ("stream", "public/stream", "market/stream", *wire.MOVED_PATHS):
            app.router.add_get(f"/{{slug}}/{path}", bind(websocket.handle, sim=self, path=path))
        for path in sorted(set(wire.DEPTH_PATHS.values())):
            app.router.add_get(f"/{{slug}}{path}", bind(rest.depth, sim=self))
        for path in ("/fapi/v1/openInterest", "/dapi/v1/openInterest"):
            app.router.add_get(f"/{{slug}}{path}", bind(rest.open_interest, sim=self))
        playback = bind(websocket.handle_playback, sim=self)
        app.router.add_get("/{slug}", playback)
        app.router.add_get("/{slug}/{tail:.*}", playback)
        app.router.add_post("/{slug}/{tail:.*}", playback)  # KuCoin's token call
        return app


async def _quietly(action: Awaitable[object]) -> None:
    """Best effort towards a client that may already be gone."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await action
