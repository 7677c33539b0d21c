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
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from support import CAPTURES, load_records, needs_captures
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from collector.adapter import ConnectionPlan, Endpoint, RestRequest
from collector.capture.records import Record
from collector.config import parse_config
from collector.daemon import Daemon
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

    def on_connecting(self, conn: int, url: str, ts: int) -> None: ...

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


def test_the_daemon_makes_the_call_rewritten_records_it_and_counts_failures(
    tmp_path: Path,
) -> None:
    """``ExchangeRunner.endpoint``: the token call goes where ``rewrite`` points, every
    answer is recorded as an ``http`` record, a refused or unreadable answer is a counted
    failure, and the URL the venue answers with is rewritten too."""
    answers = [
        web.Response(status=500, text="busy"),
        web.Response(text='{"code":"200000","data":{"token":"t","instanceServers":[]}}'),
        web.Response(
            text='{"code":"200000","data":{"token":"t3","instanceServers":[{"endpoint":'
            '"wss://ws-api-spot.kucoin.com/","encrypt":true,"protocol":"websocket",'
            '"pingInterval":18000,"pingTimeout":10000}]}}'
        ),
    ]
    methods: list[str] = []

    async def token(request: web.Request) -> web.Response:
        methods.append(request.method)
        return answers[len(methods) - 1]

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/api/v1/bullet-public", token)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        config = parse_config(
            f'[output]\ndir = "{tmp_path}"\n[capture]\nenabled = false\n'
            '[metrics]\nlisten = "127.0.0.1:0"\n[[exchange]]\nname = "kucoin"\n'
            'symbols = ["BTC-USDT"]\nchannels = ["book"]\n'
            f'rewrite = {{ "https://api.kucoin.com" = "http://127.0.0.1:{port}", '
            '"wss://ws-api-spot.kucoin.com" = "ws://127.0.0.1:9/kucoin" }\n',
            "test",
        )
        daemon = Daemon(config)
        venue = daemon.runners[0]
        recorded: list[Record] = []
        venue._record = recorded.append  # type: ignore[method-assign]
        try:
            (supervisor,) = venue.supervisors
            plan = supervisor.plan
            assert await venue.endpoint(plan) is None  # HTTP 500
            assert await venue.endpoint(plan) is None  # names no server
            endpoint = await venue.endpoint(plan)
        finally:
            await venue.rest.close()
            daemon.sink.close()
            await runner.cleanup()
        assert endpoint is not None
        assert endpoint.url.startswith("ws://127.0.0.1:9/kucoin/?token=t3&connectId=")
        assert endpoint.ping_interval_s == 18.0
        assert daemon.metrics.endpoint_failures["kucoin"] == 2
        assert methods == ["POST"] * 3
        assert [(r.kind, r.status) for r in recorded] == [
            ("http", 500),
            ("http", 200),
            ("http", 200),
        ]
        assert {r.url for r in recorded} == {f"http://127.0.0.1:{port}/api/v1/bullet-public"}

    asyncio.run(main())
