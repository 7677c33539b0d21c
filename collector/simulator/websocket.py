"""The websocket endpoints: handshake, the Binance request protocol, playback, the data pump.

Three tasks per connection: the handler reads client requests (``SUBSCRIBE``,
``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``), a pump moves the source's frames
through the fault knobs to the client, and a watchdog enforces
``close_after_s`` (it must fire even while the source is silent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from collector.simulator import wire
from collector.simulator.connection import Connection

if TYPE_CHECKING:
    from collector.simulator.server import Simulator

log = logging.getLogger(__name__)

_WATCH_INTERVAL_S = 0.02
_CLOSE_TIMEOUT_S = 2.0


async def handle(request: web.Request, sim: Simulator, path: str) -> web.StreamResponse:
    """A Binance combined-stream connection: ``?streams=`` and ``SUBSCRIBE`` requests."""
    slug = request.match_info["slug"]
    source = sim.sources.get(slug)
    if source is None:
        if slug in sim.playback:  # another venue's path that merely looks like Binance's
            return await handle_playback(request, sim, tail=path)
        raise web.HTTPNotFound(text=f"exchange {slug!r} is not simulated here")
    if path in wire.MOVED_PATHS and sim.faults.drift != "moved_endpoint":
        raise web.HTTPNotFound(text=f"no websocket endpoint /{slug}/{path} here")
    streams = request.query.get("streams", "").split("/")
    # Generated books publish to their subscribers; a played-back recording has none.
    subscribers = getattr(source, "subscribers", None)
    return await _serve(request, sim, slug, path, source.frames, streams, _on_request, subscribers)


async def handle_playback(
    request: web.Request, sim: Simulator, tail: str | None = None
) -> web.StreamResponse:
    """Any other venue: one recorded connection played back, or a recorded HTTP answer."""
    slug = request.match_info["slug"]
    path = "/" + (tail if tail is not None else request.match_info.get("tail", ""))
    source = sim.playback.get(slug)
    if source is None:
        raise web.HTTPNotFound(text=f"exchange {slug!r} is not simulated here")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        answer = source.answer(path, request.query_string, f"ws://{request.host}/{slug}")
        if answer is None:
            raise web.HTTPNotFound(text=f"no recorded answer for {path}")
        return web.Response(status=answer[0], text=answer[1], content_type="application/json")
    recorded = source.pick(path)
    if recorded is None:
        raise web.HTTPNotFound(text=f"the recording of {slug!r} has no websocket connection")
    # Subscriptions and pings are read and not answered: the recording holds the answers.
    return await _serve(request, sim, slug, path, lambda _: source.frames(recorded), [], None)


async def _serve(
    request: web.Request,
    sim: Simulator,
    slug: str,
    path: str,
    frames: Callable[[Connection], AsyncIterator[tuple[str, str | bytes]]],
    streams: list[str],
    on_text: Callable[[Connection, str], Awaitable[None]] | None,
    subscribers: set[Connection] | None = None,
) -> web.WebSocketResponse:
    """Accept, pump ``frames`` through the fault knobs, hand client text to ``on_text``.

    ``subscribers``: the generated source's, which ``handshake_delay_s`` joins before
    the handshake is answered, so the venue publishes to the connection meanwhile.
    """
    # A client that stops reading must not hold a close (or the simulator's stop) for long.
    ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20, timeout=_CLOSE_TIMEOUT_S)
    conn = Connection(
        sim.next_id(),
        slug,
        path,
        ws,
        request.transport,
        sim.faults,
        sim.stats,
        send_stamps=sim.config.send_stamps,
    )
    conn.subscribe(streams)
    delay = sim.faults.faults.handshake_delay_s
    if delay and subscribers is not None:
        subscribers.add(conn)  # published to from now on, queued until the pump starts
        sim.faults.fired["handshake_delay"] += 1
        try:
            await asyncio.sleep(delay)
            await ws.prepare(request)
        except BaseException:
            subscribers.discard(conn)
            raise
    else:
        await ws.prepare(request)
    sim.connections.add(conn)
    sim.stats.connections_opened += 1
    sim.stats.connections_open += 1
    pump = asyncio.create_task(_pump(conn, frames(conn)))
    watch = asyncio.create_task(_watch(conn))
    try:
        async for msg in ws:
            if on_text is not None and msg.type is WSMsgType.TEXT:
                await on_text(conn, msg.data)
    finally:
        conn.closed = True
        pump.cancel()
        # The watchdog may be half-way through a close handshake: let it finish.
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pump
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, TimeoutError):
            await asyncio.wait_for(watch, 2.0)
        sim.connections.discard(conn)
        sim.stats.connections_open -= 1
    return ws


async def _pump(conn: Connection, frames: Any) -> None:
    try:
        async for stream, frame in frames:
            if not await conn.send_data(stream, frame):
                break
    except ConnectionError:
        conn.closed = True  # the client went away mid-send
    finally:
        await frames.aclose()


async def _watch(conn: Connection) -> None:
    while not conn.closed:
        await asyncio.sleep(_WATCH_INTERVAL_S)
        if conn.lifetime_over():
            conn.closed = True
            conn.close_reason = "close_after_s"
            conn.faults.fired["close_after"] += 1
            await conn.ws.close(code=1000, message=b"connection lifetime reached")
            return


async def _on_request(conn: Connection, text: str) -> None:
    """Answer a client request the way Binance's combined-stream endpoint does."""
    try:
        req = json.loads(text)
        method, rid = req.get("method"), req.get("id")
        params = req.get("params", [])
    except (ValueError, AttributeError):
        await conn.send(json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
        return
    if method == "SUBSCRIBE" and isinstance(params, list):
        conn.subscribe([str(p) for p in params])
        reply: dict[str, Any] = {"result": None, "id": rid}
    elif method == "UNSUBSCRIBE" and isinstance(params, list):
        conn.unsubscribe([str(p) for p in params])
        reply = {"result": None, "id": rid}
    elif method == "LIST_SUBSCRIPTIONS":
        reply = {"result": list(conn.streams), "id": rid}
    else:
        reply = {"error": {"code": 2, "msg": f"Invalid request: method {method!r}"}, "id": rid}
    await conn.send(json.dumps(reply, separators=(",", ":")))
