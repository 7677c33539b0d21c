"""HTTP endpoints: the venues' REST depth snapshot and the simulator's control plane.

Depth answers carry ``X-MBX-USED-WEIGHT-1M`` (weight used in the current UTC
clock minute, per exchange) like Binance. The book is read when the request
arrives; ``snapshot_delay_s`` only delays the answer, so a slow snapshot is also
an old one, which is what makes it hard for a client.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

from aiohttp import web

from collector.simulator import wire

if TYPE_CHECKING:
    from collector.simulator.server import Simulator

_JSON = "application/json"

_RATE_LIMITED = {
    429: "Too many requests; current limit of IP is 6000 requests per minute. "
    "Please use the websocket for live updates to avoid polling the API.",
    418: "Way too many requests; IP banned until {until}. "
    "Please use the websocket for live updates to avoid bans.",
}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def depth(request: web.Request, sim: Simulator) -> web.Response:
    slug = request.match_info["slug"]
    source = sim.sources.get(slug)
    if source is None or request.path != f"/{slug}{wire.DEPTH_PATHS[slug]}":
        raise web.HTTPNotFound(text=f"no depth endpoint {request.path} here")
    futures = wire.is_futures(slug)
    symbol = request.query.get("symbol", "")
    try:
        limit = int(request.query.get("limit", "500" if futures else "100"))
    except ValueError:
        return _answer(sim, 400, wire.error_body(-1100, "Illegal characters in 'limit'."), 0)
    limit = max(1, min(limit, 1000 if futures else 5000))
    weight = _use_weight(sim, slug, wire.depth_weight(slug, limit))
    status = sim.faults.take_rest_status()
    if status is not None:
        msg = _RATE_LIMITED.get(status, "An unknown error occurred while processing the request.")
        code = -1003 if status in _RATE_LIMITED else -1000
        body = wire.error_body(code, msg.format(until=_now_ms() + 120_000))
        retry = str(math.ceil(sim.faults.faults.retry_after_s))
        return _answer(sim, status, body, weight, {"Retry-After": retry})
    if not symbol:
        body = wire.error_body(-1102, "Mandatory parameter 'symbol' was not sent.")
        return _answer(sim, 400, body, weight)
    status, body = source.snapshot(symbol, limit, _now_ms())
    delay = sim.faults.faults.snapshot_delay_s
    if delay > 0:
        sim.faults.fired["snapshot_delay"] += 1
        await asyncio.sleep(delay)
    return _answer(sim, status, body, weight)


async def open_interest(request: web.Request, sim: Simulator) -> web.Response:
    """Futures ``GET /fapi/v1/openInterest`` and ``/dapi/v1/openInterest`` (weight 1)."""
    slug = request.match_info["slug"]
    source = sim.generated.get(slug)  # a recording has no open interest to serve
    if source is None or not wire.is_futures(slug):
        raise web.HTTPNotFound(text=f"no open interest endpoint {request.path} here")
    weight = _use_weight(sim, slug, 1)
    status, body = source.open_interest(request.query.get("symbol", ""), _now_ms())
    return _answer(sim, status, body, weight)


def _use_weight(sim: Simulator, slug: str, weight: int) -> int:
    minute = int(time.time() // 60)
    seen_minute, used = sim.weights.get(slug, (minute, 0))
    used = (used if seen_minute == minute else 0) + weight
    sim.weights[slug] = (minute, used)
    return used


def _answer(
    sim: Simulator, status: int, body: str, weight: int, headers: dict[str, str] | None = None
) -> web.Response:
    sim.stats.rest[str(status)] += 1
    return web.Response(
        status=status,
        text=body,
        content_type=_JSON,
        headers={"X-MBX-USED-WEIGHT-1M": str(weight), **(headers or {})},
    )


# -- control plane ---------------------------------------------------------------------


async def stats(request: web.Request, sim: Simulator) -> web.Response:
    return web.json_response(sim.stats_json())


async def faults(request: web.Request, sim: Simulator) -> web.Response:
    if request.method == "POST":
        try:
            doc = await request.json()
            sim.set_faults(doc)
        except ValueError as exc:  # JSONDecodeError is a ValueError too
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(sim.faults.as_json())


async def truth(request: web.Request, sim: Simulator) -> web.Response:
    slug, symbol = request.match_info["slug"], request.match_info["symbol"]
    at_text = request.match_info.get("update_id")
    try:
        at = int(at_text) if at_text else None
    except ValueError:
        return web.json_response({"error": f"bad update id {at_text!r}"}, status=400)
    book = sim.truth(slug, symbol, at)
    if book is None:
        where = f" at update id {at}" if at is not None else ""
        return web.json_response(
            {
                "error": f"no true book for {slug} {symbol}{where} (generated sources only, "
                "within the kept history)"
            },
            status=404,
        )
    return web.json_response(book)
