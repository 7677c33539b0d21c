"""Transport over real loopback sockets: a websockets server and an aiohttp server on
127.0.0.1, port 0, inside each test. Every test is bounded to a few seconds and its
timing assertions are loose (noisy shared VMs); sleeps are only where time is the
subject (rate limits, watchdog, rollover)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from collector.adapter import ConnectionPlan
from collector.transport import Backoff, RestClient, WsSupervisor
from collector.transport.ws import loggable_url

ServerHandler = Callable[[ServerConnection], Awaitable[None]]


def run(coro: Coroutine[Any, Any, Any], timeout: float = 8.0) -> Any:
    """Run one test body with a hard bound, so a bug fails the test instead of hanging it."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def fast_backoff() -> Backoff:
    return Backoff(base=0.05, cap=0.2, rng=lambda: 0.5)


# -- websocket helpers --------------------------------------------------------------


class Recorder:
    """A FrameHandler that keeps every event with the monotonic time it was seen."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, Any, int, float]] = []
        self.attempts: list[tuple[int, int]] = []

    def on_connecting(self, conn: int, url: str, ts: int) -> None:
        self.attempts.append((conn, ts))  # kept apart: ``events`` is what a connection did

    def on_open(self, conn: int, url: str, ts: int) -> None:
        self.events.append(("open", conn, url, ts, time.monotonic()))

    def on_frame(self, conn: int, data: str | bytes, ts_recv: int) -> None:
        self.events.append(("frame", conn, data, ts_recv, time.monotonic()))

    def on_close(self, conn: int, ts: int, reason: str) -> None:
        self.events.append(("close", conn, reason, ts, time.monotonic()))

    def on_send(self, conn: int, data: str, ts: int) -> None:
        self.events.append(("send", conn, data, ts, time.monotonic()))

    def of(self, kind: str) -> list[tuple[str, int, Any, int, float]]:
        return [e for e in self.events if e[0] == kind]

    def conns(self) -> list[int]:
        return [e[1] for e in self.of("open")]


@contextlib.asynccontextmanager
async def ws_server(handler: ServerHandler, port: int = 0) -> AsyncIterator[str]:
    async def guarded(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await handler(ws)

    async with serve(guarded, "127.0.0.1", port) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"


def make_plan(
    url: str,
    subscribe: list[str] | None = None,
    rate: float = 1000.0,
    lifetime: float = math.inf,
    app_ping: str | None = None,
    app_ping_interval_s: float | None = None,
) -> ConnectionPlan:
    return ConnectionPlan(
        url=url,
        subscribe=subscribe or [],
        subscriptions=[],
        max_messages_per_second=rate,
        lifetime_s=lifetime,
        app_ping=app_ping,
        app_ping_interval_s=app_ping_interval_s,
    )


@contextlib.asynccontextmanager
async def supervising(sup: WsSupervisor) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(sup.run())
    try:
        yield task
    finally:
        sup.stop()
        await asyncio.wait_for(task, 3.0)


async def stream(ws: ServerConnection, period: float = 0.02) -> None:
    """Send numbered frames forever (until the client goes away)."""
    for i in itertools.count():
        await ws.send(f'{{"n":{i}}}')
        await asyncio.sleep(period)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- websocket: delivery and subscription -------------------------------------------


def test_frames_arrive_in_order_after_open_and_subscribe() -> None:
    async def main() -> None:
        got: list[str] = []

        async def handler(ws: ServerConnection) -> None:
            got.append(await ws.recv())
            got.append(await ws.recv())
            for i in range(50):
                await ws.send(f"m{i}" if i % 2 else f"m{i}".encode())
            await ws.wait_closed()

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url, ["sub-a", "sub-b"]), rec, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: len(rec.of("frame")) == 50)
                assert sup.state == "open"
        assert got == ["sub-a", "sub-b"]
        kinds = [e[0] for e in rec.events]
        assert kinds[0] == "open" and kinds[-1] == "close"
        (conn,) = set(rec.conns())
        ((attempt, started),) = rec.attempts  # said before the handshake, with its own time
        assert attempt == conn and started <= rec.of("open")[0][3]
        assert [e[2] for e in rec.of("send")] == ["sub-a", "sub-b"]
        frames = rec.of("frame")
        assert [e[2] for e in frames] == [f"m{i}" if i % 2 else f"m{i}".encode() for i in range(50)]
        assert {e[1] for e in frames} == {conn}
        stamps = [e[3] for e in frames]
        assert stamps == sorted(stamps) and stamps[0] >= rec.of("open")[0][3]
        assert abs(stamps[-1] - time.time_ns()) < 5e9  # wall clock, nanoseconds
        assert sup.frames == 50 and sup.bytes == sum(len(e[2]) for e in frames)
        assert sup.connects == 1 and sup.reconnects == 0 and sup.state == "stopped"

    run(main())


def test_subscribe_frames_respect_the_message_rate() -> None:
    async def main() -> None:
        arrivals: list[tuple[str, float]] = []

        async def handler(ws: ServerConnection) -> None:
            async for message in ws:
                arrivals.append((str(message), time.monotonic()))
                if len(arrivals) == 5:
                    await ws.send("ack")

        rec = Recorder()
        async with ws_server(handler) as url:
            subs = [f"sub{i}" for i in range(5)]
            sup = WsSupervisor(make_plan(url, subs, rate=10.0), rec, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: len(rec.of("frame")) == 1)
        assert [a[0] for a in arrivals] == subs
        gaps = [b[1] - a[1] for a, b in itertools.pairwise(arrivals)]
        assert min(gaps) >= 0.1 - 0.03, gaps
        sent = [e[3] for e in rec.of("send")]
        assert min(b - a for a, b in itertools.pairwise(sent)) >= (0.1 - 0.03) * 1e9

    run(main())


def test_app_ping_is_sent_periodically_and_reported() -> None:
    async def main() -> None:
        pings = 0

        async def handler(ws: ServerConnection) -> None:
            nonlocal pings
            async for message in ws:
                if message == "ping":
                    pings += 1
                    await ws.send("pong")

        rec = Recorder()
        async with ws_server(handler) as url:
            plan = make_plan(url, app_ping="ping", app_ping_interval_s=0.1)
            sup = WsSupervisor(plan, rec, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: pings >= 3)
        assert [e[2] for e in rec.of("send")][:3] == ["ping"] * 3

    run(main())


def test_send_answers_on_the_asking_connection_and_is_reported() -> None:
    """A venue's server-initiated ping (HTX) is answered on the connection it came on;
    each answer is one more frame reported for the capture, and none lingers as a task."""

    async def main() -> None:
        got: list[str] = []

        async def handler(ws: ServerConnection) -> None:
            for n in range(3):
                await ws.send(f"ping {n}".encode())
                got.append(await ws.recv())
            await ws.wait_closed()

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff())
            async with supervising(sup):
                for n in range(3):
                    await until(lambda n=n: len(rec.of("frame")) > n)
                    conn = rec.of("frame")[n][1]
                    assert not sup.send(conn + 1000, "to a connection that is not there")
                    assert sup.send(conn, f"pong {n}")
                await until(lambda: len(got) == 3)
                (link,) = sup._links
                await until(lambda: len(link.tasks) == 3)  # receive, watch, subscribe
        assert got == ["pong 0", "pong 1", "pong 2"]
        assert [e[2] for e in rec.of("send")] == got

    run(main())


# -- websocket: failures and reconnects ---------------------------------------------


def test_server_close_reconnects_with_a_new_conn_id() -> None:
    async def main() -> None:
        accepted = 0

        async def handler(ws: ServerConnection) -> None:
            nonlocal accepted
            accepted += 1
            assert await ws.recv() == "sub"
            if accepted == 1:
                await ws.send("first")
                await ws.close(1001, "going away")
                return
            await ws.send("second")
            await ws.wait_closed()

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url, ["sub"]), rec, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: [e[2] for e in rec.of("frame")] == ["first", "second"])
        c1, c2 = rec.conns()
        assert c2 > c1
        kinds = [(e[0], e[1]) for e in rec.events if e[0] != "send"]
        assert kinds[:5] == [
            ("open", c1),
            ("frame", c1),
            ("close", c1),
            ("open", c2),
            ("frame", c2),
        ]
        assert "1001" in rec.of("close")[0][2]
        assert sup.connects == 2 and sup.reconnects == 1
        assert [e[2] for e in rec.of("send")] == ["sub", "sub"]  # subscribed again

    run(main())


def test_silent_server_trips_the_watchdog() -> None:
    async def main() -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send("hello")
            await ws.wait_closed()  # then silence, while the TCP connection stays up

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, stale_after_s=0.3, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: len(rec.of("open")) == 2)
        first_frame, close = rec.of("frame")[0], rec.of("close")[0]
        assert close[2] == "stale: no frame for 0.3 s"
        assert 0.25 <= close[4] - first_frame[4] <= 1.5

    run(main())


def test_watchdog_stays_quiet_while_frames_flow() -> None:
    async def main() -> None:
        rec = Recorder()
        async with ws_server(stream) as url:
            sup = WsSupervisor(make_plan(url), rec, stale_after_s=0.2, backoff=fast_backoff())
            async with supervising(sup):
                await asyncio.sleep(0.8)
                assert not rec.of("close") and len(rec.of("frame")) >= 10

    run(main())


def test_backoff_grows_on_short_connections_and_resets_after_a_healthy_one() -> None:
    async def main() -> None:
        accepted = 0

        async def handler(ws: ServerConnection) -> None:
            nonlocal accepted
            accepted += 1
            await ws.send("hi")
            if accepted <= 3:
                return  # dropped at once: not healthy
            if accepted == 4:
                await asyncio.sleep(0.3)  # outlives healthy_after_s
                return
            await ws.wait_closed()

        backoff = Backoff(base=0.01, cap=0.05, healthy_after_s=0.2, rng=lambda: 0.5)
        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, backoff=backoff)
            async with supervising(sup):
                await until(lambda: len(rec.of("open")) == 4)
                assert backoff.attempt == 3
                await until(lambda: len(rec.of("open")) == 5)
                assert backoff.attempt == 1  # reset, then one delay before the 5th

    run(main())


def test_oversize_message_closes_and_reconnects() -> None:
    async def main() -> None:
        accepted = 0

        async def handler(ws: ServerConnection) -> None:
            nonlocal accepted
            accepted += 1
            # Compresses to a few bytes: only the decompressed size can trip the limit.
            await ws.send("x" * 5000 if accepted == 1 else "small")
            await ws.wait_closed()

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, max_size=1000, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: [e[2] for e in rec.of("frame")] == ["small"])
        c1, c2 = rec.conns()[:2]
        close = rec.of("close")[0]
        assert close[1] == c1 and "1009" in close[2]
        assert rec.of("frame")[0][1] == c2

    run(main())


def test_connect_failures_back_off_and_recover_when_the_server_appears() -> None:
    async def main() -> None:
        port = free_port()
        rec = Recorder()
        url = f"ws://127.0.0.1:{port}/ws"
        sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff())
        async with supervising(sup):
            await until(lambda: sup.connect_failures >= 3)
            assert sup.state in ("connecting", "backoff") and not rec.events
            assert len(rec.attempts) >= sup.connect_failures >= 3  # each try is said

            async def handler(ws: ServerConnection) -> None:
                await ws.send("up")
                await ws.wait_closed()

            async with ws_server(handler, port=port):
                await until(lambda: len(rec.of("frame")) == 1)
                assert sup.state == "open"

    run(main())


def test_handler_errors_are_not_swallowed() -> None:
    async def main() -> None:
        class Broken(Recorder):
            def on_frame(self, conn: int, data: str | bytes, ts_recv: int) -> None:
                raise RuntimeError("consumer bug")

        async def handler(ws: ServerConnection) -> None:
            await ws.send("boom")
            await ws.wait_closed()

        rec = Broken()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff())
            with pytest.raises(RuntimeError, match="consumer bug"):
                await asyncio.wait_for(sup.run(), 3.0)
        assert sup.state == "stopped"
        assert "consumer bug" in rec.of("close")[0][2]

    run(main())


# -- websocket: planned replacement and control ---------------------------------------


def test_rollover_opens_the_new_connection_before_closing_the_old() -> None:
    async def main() -> None:
        rec = Recorder()
        async with ws_server(stream) as url:
            plan = make_plan(url, ["sub"], lifetime=1.0)
            sup = WsSupervisor(plan, rec, rollover_margin_s=0.5, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: sup.rollovers >= 3, timeout=5.0)
                stop_at = len(rec.events)
        events = rec.events[:stop_at]
        opens = [e[1] for e in events if e[0] == "open"]
        assert len(opens) >= 4 and len(set(opens)) == len(opens)
        # Never a moment without an open connection, and each close comes after its
        # successor opened and delivered a frame.
        live: set[int] = set()
        delivered: set[int] = set()
        for kind, conn, payload, _ts, _mono in events:
            if kind == "open":
                live.add(conn)
            elif kind == "frame":
                assert conn in live
                delivered.add(conn)
            elif kind == "close":
                successor = opens[opens.index(conn) + 1]
                assert successor in live and successor in delivered
                assert f"replaced by conn {successor} (rollover" in payload
                live.discard(conn)
                assert live
        # Frames kept flowing (the server sends one every 20 ms on each connection).
        times = [e[4] for e in events if e[0] == "frame"]
        assert max(b - a for a, b in itertools.pairwise(times)) < 0.3
        # Each connection lived about lifetime - margin.
        first_open = next(e[4] for e in events if e[0] == "open")
        first_close = next(e[4] for e in events if e[0] == "close")
        assert 0.4 <= first_close - first_open <= 1.5
        assert sup.reconnects == 0 and sup.connects == len(opens)

    run(main())


def test_reconnect_now_replaces_make_before_break() -> None:
    async def main() -> None:
        rec = Recorder()
        async with ws_server(stream) as url:
            sup = WsSupervisor(make_plan(url, ["sub"]), rec, backoff=fast_backoff())
            async with supervising(sup):
                await until(lambda: len(rec.of("frame")) >= 3)
                sup.reconnect_now("serverShutdown notice")
                await until(lambda: len(rec.of("close")) == 1)
                c1, c2 = rec.conns()
                await until(lambda: rec.events[-1][:2] == ("frame", c2))
        close = rec.of("close")[0]
        assert close[1] == c1
        assert close[2] == f"replaced by conn {c2} (serverShutdown notice)"
        opened_c2 = rec.events.index(rec.of("open")[1])
        closed_c1 = rec.events.index(close)
        assert opened_c2 < closed_c1
        assert any(e[:2] == ("frame", c2) for e in rec.events[opened_c2:closed_c1])
        assert sup.rollovers == 1

    run(main())


def test_stop_closes_promptly_and_run_returns() -> None:
    async def main() -> None:
        closed: list[int | None] = []

        async def handler(ws: ServerConnection) -> None:
            await ws.send("hello")
            await ws.wait_closed()
            closed.append(ws.close_code)

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff())
            task = asyncio.create_task(sup.run())
            await until(lambda: len(rec.of("frame")) == 1)
            started = time.monotonic()
            sup.stop()
            await asyncio.wait_for(task, 2.0)
            assert time.monotonic() - started < 1.0
            await until(lambda: closed == [1000])
        assert sup.state == "stopped"
        assert rec.of("close")[0][2] == "stopped"

    run(main())


def test_stop_during_backoff_and_before_run() -> None:
    async def main() -> None:
        url = f"ws://127.0.0.1:{free_port()}/ws"
        slow = Backoff(base=30.0, cap=30.0, rng=lambda: 1.0)
        sup = WsSupervisor(make_plan(url), Recorder(), backoff=slow)
        task = asyncio.create_task(sup.run())
        await until(lambda: sup.state == "backoff")
        sup.stop()
        await asyncio.wait_for(task, 1.0)

        idle = WsSupervisor(make_plan(url), Recorder())
        idle.stop()
        await asyncio.wait_for(idle.run(), 1.0)
        assert idle.connects == 0 and idle.state == "stopped"

    run(main())


def test_cancelling_run_closes_the_connection() -> None:
    async def main() -> None:
        closed = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            await ws.send("hello")
            await ws.wait_closed()
            closed.set()

        rec = Recorder()
        async with ws_server(handler) as url:
            sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff())
            task = asyncio.create_task(sup.run())
            await until(lambda: len(rec.of("frame")) == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(closed.wait(), 2.0)
        assert [e[0] for e in rec.events][-1] == "close"

    run(main())


def test_conn_ids_come_from_the_given_iterator() -> None:
    async def main() -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send("x")
            await ws.close()

        rec = Recorder()
        async with ws_server(handler) as url:
            ids = itertools.count(700)
            sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff(), conn_ids=ids)
            async with supervising(sup):
                await until(lambda: len(rec.of("open")) >= 2)
        assert rec.conns()[:2] == [700, 701]

    run(main())


def test_long_queries_are_elided_in_logs() -> None:
    short = "wss://x.test/stream?streams=btcusdt@depth"
    assert loggable_url(short) == short
    long = "wss://x.test/stream?streams=" + "/".join(["btcusdt@depth@100ms"] * 20)
    assert loggable_url(long).startswith("wss://x.test/stream?<")
    assert len(loggable_url(long)) < 60


# -- REST -----------------------------------------------------------------------------

Reply = tuple[int, dict[str, str], bytes]


class Script:
    """An aiohttp handler answering from a list of replies (the last one repeats)."""

    def __init__(self, *replies: Reply, delay_first_s: float = 0.0) -> None:
        self.replies = list(replies)
        self.delay_first_s = delay_first_s
        self.calls: list[float] = []

    async def handle(self, request: web.Request) -> web.Response:
        n = len(self.calls)
        self.calls.append(time.monotonic())
        if n == 0 and self.delay_first_s:
            await asyncio.sleep(self.delay_first_s)
        status, headers, body = self.replies[min(n, len(self.replies) - 1)]
        return web.Response(status=status, headers=headers, body=body)


@contextlib.asynccontextmanager
async def http_server(script: Script) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/depth", script.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/depth"
    finally:
        await runner.cleanup()


class FakeTime:
    """Wall clock and sleep for the rate-limit logic: sleeping only moves the clock."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


OK: Reply = (200, {}, b'{"lastUpdateId":1}')


def test_rest_returns_body_status_and_headers() -> None:
    async def main() -> None:
        script = Script((200, {"X-MBX-USED-WEIGHT-1M": "7"}, b'{"lastUpdateId":42}'))
        async with http_server(script) as url, RestClient() as client:
            before = time.time_ns()
            resp = await client.get(url)
            after = time.time_ns()
        assert (resp.status, resp.body, resp.url) == (200, b'{"lastUpdateId":42}', url)
        assert resp.headers["x-mbx-used-weight-1m"] == "7"
        assert before <= resp.ts_recv <= after
        assert client.rate_limited == 0

    run(main())


def test_rest_429_waits_retry_after_then_succeeds() -> None:
    async def main() -> None:
        seen: list[tuple[str, int, float | None]] = []
        script = Script((429, {"Retry-After": "1"}, b""), OK)
        async with (
            http_server(script) as url,
            RestClient(on_rate_limited=lambda *a: seen.append(a)) as client,
        ):
            started = time.monotonic()
            resp = await client.get(url)
            elapsed = time.monotonic() - started
        assert resp.status == 200
        assert 0.9 <= elapsed <= 3.0
        assert 0.9 <= script.calls[1] - script.calls[0] <= 3.0
        assert client.rate_limited == 1 and seen == [(url, 429, 1.0)]

    run(main())


def test_rest_418_then_200() -> None:
    async def main() -> None:
        script = Script((418, {"Retry-After": "0.2"}, b"banned"), OK)
        async with http_server(script) as url, RestClient() as client:
            resp = await client.get(url)
        assert resp.status == 200 and client.rate_limited == 1
        assert script.calls[1] - script.calls[0] >= 0.15

    run(main())


def test_rest_418_holds_back_every_request_to_the_host() -> None:
    async def main() -> None:
        fake = FakeTime(1_000_000.0)
        script = Script((418, {"Retry-After": "120"}, b""), OK)
        async with (
            http_server(script) as url,
            RestClient(clock=fake.clock, sleep=fake.sleep) as client,
        ):
            banned = await client.get(url, max_attempts=1)
            assert banned.status == 418 and fake.sleeps == []
            resp = await client.get(url + "?symbol=ETHUSDT")  # another request, same host
        assert resp.status == 200
        assert fake.sleeps == [pytest.approx(120.0)]
        assert len(script.calls) == 2

    run(main())


def test_rest_5xx_retried_with_backoff_and_other_4xx_returned() -> None:
    async def main() -> None:
        script = Script((500, {}, b""), (502, {}, b""), OK)
        missing = Script((404, {}, b"nope"))
        async with (
            http_server(script) as url,
            http_server(missing) as url404,
            RestClient(backoff=fast_backoff()) as client,
        ):
            resp = await client.get(url)
            assert resp.status == 200 and len(script.calls) == 3
            resp = await client.get(url404)
            assert (resp.status, resp.body) == (404, b"nope") and len(missing.calls) == 1
        assert client.rate_limited == 0

    run(main())


def test_rest_503_honours_retry_after_and_max_attempts() -> None:
    async def main() -> None:
        fake = FakeTime(1_000_000.0)
        script = Script((503, {"Retry-After": "7"}, b"busy"))
        async with (
            http_server(script) as url,
            RestClient(clock=fake.clock, sleep=fake.sleep) as client,
        ):
            resp = await client.get(url, max_attempts=3)
        assert resp.status == 503 and len(script.calls) == 3
        assert fake.sleeps == [7.0, 7.0]

    run(main())


def test_rest_timeouts_are_retried() -> None:
    async def main() -> None:
        script = Script(OK, delay_first_s=1.0)
        async with (
            http_server(script) as url,
            RestClient(timeout_s=0.3, backoff=fast_backoff()) as client,
        ):
            started = time.monotonic()
            resp = await client.get(url)
            elapsed = time.monotonic() - started
        assert resp.status == 200 and len(script.calls) == 2
        assert 0.25 <= elapsed < 1.8

    run(main())


def test_rest_connection_errors_retried_then_raised() -> None:
    async def main() -> None:
        url = f"http://127.0.0.1:{free_port()}/depth"
        async with RestClient(backoff=fast_backoff()) as client:
            with pytest.raises(aiohttp.ClientConnectionError):
                await client.get(url, max_attempts=3)

    run(main())


def test_rest_weight_limit_waits_for_the_next_utc_minute() -> None:
    async def main() -> None:
        fake = FakeTime(60 * 28_000_000 + 30.0)  # half-way through a UTC minute
        script = Script(
            (200, {"X-MBX-USED-WEIGHT-1M": "1075"}, b""),
            (200, {"X-MBX-USED-WEIGHT-1M": "1080"}, b""),
            (200, {"X-MBX-USED-WEIGHT-1M": "1"}, b""),
        )
        async with http_server(script) as url:
            client = RestClient(weight_limit_per_minute=1200, clock=fake.clock, sleep=fake.sleep)
            async with client:
                await client.get(url)  # nothing known yet: goes
                await client.get(url, weight=5)  # 1075 + 5 = 1080 = 90 %: still goes
                assert fake.sleeps == []
                await client.get(url)  # 1081 > 90 %: waits for the next minute
                assert fake.sleeps == [pytest.approx(30.5)]
                assert fake.now % 60 == pytest.approx(0.5)
            fresh = RestClient(weight_limit_per_minute=1200, clock=fake.clock, sleep=fake.sleep)
            async with fresh:
                await fresh.get(url, weight=2000)  # heavier than the whole budget: goes alone
        assert len(script.calls) == 4 and len(fake.sleeps) == 1

    run(main())


def test_a_replaced_connection_closes_promptly_even_under_a_flood() -> None:
    async def main() -> None:
        async def flood(ws: ServerConnection) -> None:
            while True:  # bursts far beyond the client's receive queue
                for i in range(300):
                    await ws.send(f'{{"i":{i}}}')
                await asyncio.sleep(0.005)

        rec = Recorder()
        async with ws_server(flood) as url:
            sup = WsSupervisor(make_plan(url), rec, backoff=fast_backoff(), close_timeout_s=4.0)
            task = asyncio.create_task(sup.run())
            await until(lambda: len(rec.of("frame")) >= 10)
            sup.reconnect_now("test")
            await until(lambda: len(rec.of("close")) == 1)
            started = time.monotonic()
            sup.stop()  # run() waits for every closing handshake, the replaced one's too
            await asyncio.wait_for(task, 6.0)
            assert time.monotonic() - started < 2.0  # not starved until close_timeout_s
        assert rec.of("close")[0][2] == f"replaced by conn {rec.conns()[1]} (test)"

    run(main())
