"""Connections whose address comes from a REST call (KuCoin's token), on real loopback sockets.

The supervisor asks its resolver before every connect, first or again; a failed
call (or an address that is no URL) is a failed connect, backed off like one;
the venue's ping interval from the answer replaces the plan's. The simulator
answers the call with its own address, so a played-back venue is reached through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator

import aiohttp
import pytest
from support import CAPTURES, load_records, needs_captures
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from collector.adapter import ConnectionPlan, Endpoint, RestRequest
from collector.simulator import Simulator, SimulatorConfig
from collector.transport import Backoff, WsSupervisor

TOKEN_CALL = RestRequest("https://api.kucoin.com/api/v1/bullet-public", method="POST")
PING = '{"id":"1","type":"ping"}'


def _plan(bootstrap: RestRequest | None = TOKEN_CALL) -> ConnectionPlan:
    return ConnectionPlan(
        url="wss://ws-api-spot.kucoin.com/",  # the documented default: never dialled
        subscribe=['{"type":"subscribe"}'],
        subscriptions=[],
        max_messages_per_second=100.0,
        lifetime_s=math.inf,
        app_ping=PING,
        app_ping_interval_s=60.0,  # the venue's answer says 0.05 s
        bootstrap=bootstrap,
    )


class _Handler:
    def __init__(self) -> None:
        self.opened: list[str] = []

    def on_open(self, conn: int, url: str, ts: int) -> None:
        self.opened.append(url)

    def on_frame(self, conn: int, data: str | bytes, ts_recv: int) -> None: ...

    def on_close(self, conn: int, ts: int, reason: str) -> None: ...

    def on_send(self, conn: int, data: str, ts: int) -> None: ...


@contextlib.asynccontextmanager
async def _venue(paths: list[str], received: list[str]) -> AsyncIterator[str]:
    """A websocket server that notes each connection's path and what it is sent, and
    hangs up on a client after its second ping (so the client must connect again)."""

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        paths.append(ws.request.path)
        await ws.send('{"type":"welcome"}')
        pings = 0
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                received.append(str(message))
                pings += message == PING
                if pings == 2:
                    await ws.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/endpoint"


def test_every_connect_asks_for_a_fresh_address_and_failures_back_off() -> None:
    paths: list[str] = []
    received: list[str] = []
    calls: list[ConnectionPlan] = []

    async def main() -> WsSupervisor:
        async with _venue(paths, received) as base:

            async def resolve(plan: ConnectionPlan) -> Endpoint | None:
                calls.append(plan)
                if len(calls) == 1:
                    return None  # the token call failed (the resolver logged why)
                if len(calls) == 2:
                    return Endpoint("not a websocket url")
                return Endpoint(f"{base}?token=t{len(calls)}&connectId=c", 0.05)

            handler = _Handler()
            sup = WsSupervisor(
                _plan(), handler, backoff=Backoff(base=0.01, cap=0.05), resolve=resolve
            )
            task = asyncio.create_task(sup.run())
            try:
                async with asyncio.timeout(8):
                    while sup.connects < 2 or len(received) < 3:
                        await asyncio.sleep(0.01)
            finally:
                sup.stop()
                await task
            assert handler.opened[:2] == [
                f"{base}?token=t3&connectId=c",
                f"{base}?token=t4&connectId=c",
            ]
            return sup

    sup = asyncio.run(main())
    assert calls == [_plan()] * len(calls)
    assert sup.endpoint_failures == 2 and sup.connect_failures == 2
    # Each connection went where its own call said: a token is never reused.
    assert paths[:2] == ["/endpoint?token=t3&connectId=c", "/endpoint?token=t4&connectId=c"]
    # The plan's 60 s ping would not have fired; the venue's 0.05 s did, twice per connection.
    assert received[:3] == ['{"type":"subscribe"}', PING, PING]


def test_a_bootstrap_plan_without_a_resolver_is_refused() -> None:
    with pytest.raises(ValueError, match="bootstrap"):
        WsSupervisor(_plan(), _Handler())
    WsSupervisor(_plan(bootstrap=None), _Handler())  # an ordinary plan needs none


@needs_captures
def test_the_simulator_answers_the_token_call_with_its_own_address() -> None:
    recording = CAPTURES / "kucoin" / "KUCOIN.jsonl.gz"
    _, records = load_records(recording)
    first = next(r.data for r in records if r.kind == "recv")

    async def main() -> None:
        config = SimulatorConfig(recordings=(recording,), speed=0)
        async with Simulator(config) as sim, aiohttp.ClientSession() as session:
            async with session.post(f"{sim.url}/kucoin/api/v1/bullet-public") as response:
                assert response.status == 200
                answer = json.loads(await response.text())
            server = answer["data"]["instanceServers"][0]
            assert server["endpoint"] == f"ws://127.0.0.1:{sim.port}/kucoin/endpoint"
            assert server["pingInterval"] == 18000
            url = f"{server['endpoint']}?token={answer['data']['token']}&connectId=x"
            async with session.ws_connect(url) as ws:
                assert (await ws.receive(timeout=10)).data == first

    asyncio.run(main())
