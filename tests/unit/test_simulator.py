"""The exchange simulator over real sockets, checked with our own decoder and book engine.

Every test starts a simulator on a free 127.0.0.1 port inside ``asyncio.run``
and is bounded by ``run``'s timeout. Generated books step every 10 ms here so a
test sees dozens of events in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import sys
import time
from collections.abc import Awaitable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import websockets
from support import CAPTURES, REPO_ROOT

import adapters
from collector import levels
from collector.book.engine import BookEngine
from collector.capture.reader import open_recording
from collector.capture.records import Record
from collector.capture.writer import CaptureWriter
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade
from collector.simulator import Simulator, SimulatorConfig, wire
from collector.simulator.book import GeneratedBook, spec_for
from collector.simulator.cli import build_parser, config_from_args
from collector.simulator.faults import Faults
from collector.tables import TableBuffers

T = TypeVar("T")

SPOT = ("binance-spot", "binance-us", "binance-tr")
FUTURES = ("binance-usdm", "binance-coinm")
SYMBOL = {"binance-coinm": "BTCUSD_PERP"}
RECORDING = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
needs_recording = pytest.mark.skipif(
    not RECORDING.exists(),
    reason=f"corpus recording {RECORDING} not found (set COLLECTOR_CAPTURES to its folder)",
)


def run(coro: Awaitable[T], timeout: float = 8.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def connect(url: str) -> Any:
    """A client that never pauses reading: with the default bounded queue, closing
    a connection with unread frames waits out ``close_timeout`` (10 s)."""
    return websockets.connect(url, max_queue=None, close_timeout=2)


def sim_config(**kw: Any) -> SimulatorConfig:
    kw.setdefault("interval_ms", 10)
    kw.setdefault("seed", 7)
    return SimulatorConfig(**kw)


def symbol_of(slug: str) -> str:
    return SYMBOL.get(slug, "BTCUSDT")


def book_path(slug: str) -> str:
    return "public/stream" if slug == "binance-usdm" else "stream"


def trade_path(slug: str) -> str:
    return "market/stream" if slug == "binance-usdm" else "stream"


class Client:
    """Our adapter and book engine, fed with what the simulator sends."""

    def __init__(self, slug: str) -> None:
        self.adapter = adapters.create(slug)
        self.engine = BookEngine(self.adapter.sequence_rule, TableBuffers(), self.adapter.market)
        self.messages: list[Any] = []

    def feed(self, frame: str | bytes) -> list[Any]:
        msgs = self.adapter.decode(frame, time.time_ns())
        for m in msgs:
            if isinstance(m, BookDelta):
                # Level arrays an adapter left as JSON are the pipeline's to read.
                self.engine.on_delta(levels.read(m))
            elif isinstance(m, BestBidAsk):
                self.engine.on_quote(m)
        self.messages.extend(msgs)
        return msgs

    async def snapshot(self, url: str) -> BookSnapshot:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200
            assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) > 0
            body = await resp.text()
        (snap,) = self.adapter.decode_rest(url, body, time.time_ns())
        assert isinstance(snap, BookSnapshot)
        self.engine.on_snapshot(snap)
        return snap

    def sync(self, symbol: str) -> Any:
        return self.engine.symbols[symbol]

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


async def read_until(ws: Any, client: Client, done: Any, limit: int = 5000) -> None:
    for _ in range(limit):
        client.feed(await ws.recv())
        if done():
            return
    raise AssertionError("condition not reached")


async def synced_client(sim: Simulator, slug: str, ws: Any) -> Client:
    """Read a few frames, fetch a full snapshot, read until the engine is in sync."""
    client, symbol = Client(slug), symbol_of(slug)
    for _ in range(3):
        client.feed(await ws.recv())
    await client.snapshot(sim.rest_url(slug, symbol, 1000))
    await read_until(ws, client, lambda: client.sync(symbol).state.value == "synced")
    return client


def exact(levels: list[list[str]]) -> dict[Decimal, Decimal]:
    return {Decimal(p): Decimal(s) for p, s in levels}


async def get_json(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as resp:
        return resp.status, await resp.json()


# -- the generated book, without sockets --------------------------------------------------


@pytest.mark.parametrize("futures", [False, True])
def test_generated_book_is_deterministic_uncrossed_and_chained(futures: bool) -> None:
    def make() -> GeneratedBook:
        return GeneratedBook(
            "BTCUSDT", spec_for("BTCUSDT", futures), random.Random(5), futures=futures
        )

    a, b = make(), make()
    prev = a.last_id
    for _ in range(3000):
        ev, ev2 = a.step(), b.step()
        assert ev == ev2
        assert 1 <= len(ev.bids) + len(ev.asks) <= 21
        assert ev.prev_id == prev and ev.first_id > prev and ev.last_id >= ev.first_id
        if not futures:
            assert ev.first_id == prev + 1
        prev = ev.last_id
        assert Decimal(ev.best_bid[0]) < Decimal(ev.best_ask[0])
        assert ev.best_bid == a.best_bid() and ev.best_ask == a.best_ask()
    assert 80 <= len(a.bids) <= 510 and 80 <= len(a.asks) <= 510
    assert all(
        "." in p and len(p.split(".")[1]) == a.spec.price_decimals for p, _ in a.snapshot()[1]
    )


def test_truth_history_rebuilds_past_books() -> None:
    book = GeneratedBook(
        "ETHUSDT", spec_for("ETHUSDT", True), random.Random(1), futures=True, history=50
    )
    seen = {}
    for _ in range(120):
        book.step()
        seen[book.last_id] = book.snapshot()
    for last_id in list(seen)[-50:]:
        assert book.truth(last_id) == seen[last_id]
        assert book.truth(last_id + 1) in (seen[last_id], None)  # ids between events
    assert book.truth(list(seen)[10]) is None  # older than the kept history
    assert book.truth(book.last_id + 1) is None  # not produced yet


# -- generated sources over sockets -----------------------------------------------------


@pytest.mark.parametrize("slug", SPOT + FUTURES)
def test_generated_frames_decode_on_every_venue(slug: str) -> None:
    async def main() -> None:
        sym = symbol_of(slug).lower()
        async with Simulator(sim_config(exchanges=(slug,))) as sim:
            book = sim.ws_url(slug, [f"{sym}@depth@100ms", f"{sym}@bookTicker"], book_path(slug))
            trades = sim.ws_url(slug, [f"{sym}@trade", f"{sym}@aggTrade"], trade_path(slug))
            async with connect(book) as wb, connect(trades) as wt:
                client = Client(slug)
                await read_until(wb, client, lambda: len(client.of(BookDelta)) >= 20)
                await read_until(wt, client, lambda: len(client.of(Trade)) >= 4)
        assert not client.of(DecodeFailed) and not client.of(Control)
        deltas = client.of(BookDelta)
        for before, after in itertools.pairwise(deltas):
            if slug in FUTURES:
                assert after.prev_id == before.last_id and after.ts_exchange is not None
            else:
                assert after.prev_id is None and after.first_id == before.last_id + 1
        assert {t.side for t in client.of(Trade)} <= {"buy", "sell"}
        assert client.of(BestBidAsk)[0].seq is not None

    run(main())


@pytest.mark.parametrize("slug", ["binance-spot", "binance-usdm", "binance-coinm"])
def test_engine_syncs_to_the_true_book_and_the_bbo_oracle_agrees(slug: str) -> None:
    async def main() -> None:
        symbol = symbol_of(slug)
        streams = [f"{symbol.lower()}@depth@100ms", f"{symbol.lower()}@bookTicker"]
        async with (
            Simulator(sim_config(exchanges=(slug,))) as sim,
            connect(sim.ws_url(slug, streams, book_path(slug))) as ws,
        ):
            client = await synced_client(sim, slug, ws)
            sync = client.sync(symbol)
            await read_until(ws, client, lambda: sync.stats.deltas_applied >= 30)
            status, truth = await get_json(f"{sim.url}/_truth/{slug}/{symbol}/{sync.last_id}")
        assert status == 200 and truth["lastUpdateId"] == sync.last_id
        assert sync.book.as_dict() == {"bids": exact(truth["bids"]), "asks": exact(truth["asks"])}
        assert sync.stats.bbo_matched > 0 and sync.stats.bbo_mismatched == 0
        assert sync.stats.gaps == 0 and sync.stats.crossed == 0
        prices = [Decimal(p) for p, _ in truth["bids"]]
        assert prices == sorted(prices, reverse=True)

    run(main())


def test_subscribe_request_and_usdm_endpoint_split() -> None:
    async def main() -> None:
        async with Simulator(sim_config(exchanges=("binance-usdm",))) as sim:
            async with connect(sim.ws_url("binance-usdm", [], "public/stream")) as ws:
                await ws.send(
                    json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 7})
                )
                assert json.loads(await ws.recv()) == {"result": None, "id": 7}
                assert json.loads(await ws.recv())["stream"] == "btcusdt@bookTicker"
            # The retired legacy path and a public stream on /market accept and stay silent.
            for path in ("stream", "market/stream"):
                url = sim.ws_url("binance-usdm", ["btcusdt@depth@100ms"], path)
                async with connect(url) as ws:
                    with pytest.raises(TimeoutError):
                        await asyncio.wait_for(ws.recv(), 0.2)
            status, _ = await get_json(f"{sim.url}/_truth/binance-usdm/BTCUSDT/1")
            assert status == 404

    run(main())


# -- recordings -------------------------------------------------------------------------------


@needs_recording
def test_recording_replays_subscribed_streams_in_order_and_its_snapshot_bridges() -> None:
    wanted = ["nknusdt@depth@100ms", "nknusdt@bookTicker"]
    _, records = open_recording(RECORDING)
    expected = [
        r.data for r in records if r.kind == "recv" and json.loads(r.data).get("stream") in wanted
    ]

    async def main() -> tuple[list[str], Client, str]:
        async with Simulator(sim_config(recordings=(RECORDING,), speed=0)) as sim:
            assert set(sim.sources) == {"binance-spot"}
            client = Client("binance-spot")
            async with connect(sim.ws_url("binance-spot", wanted)) as ws:
                got = [await ws.recv() for _ in expected]
                with pytest.raises(TimeoutError):  # the end: open and silent
                    await asyncio.wait_for(ws.recv(), 0.2)
            async with connect(sim.ws_url("binance-spot", wanted[:1])) as ws:
                first = await ws.recv()  # a new connection starts from the beginning
            for frame in got:
                client.feed(frame)
            await client.snapshot(sim.rest_url("binance-spot", "NKNUSDT"))
            return got, client, first

    got, client, first = run(main())
    assert got == expected and first == expected[0]
    sync = client.sync("NKNUSDT")
    assert sync.state.value == "synced" and sync.stats.gaps == 0
    assert sync.last_id == 499870179  # the README's final book id
    assert sync.stats.bbo_matched == 19 and sync.stats.bbo_mismatched == 0


@needs_recording
def test_recording_keeps_its_timing_scaled_by_speed() -> None:
    _, records = open_recording(RECORDING)
    recs = list(records)
    span = (recs[-1].ts - recs[0].ts) / 1e9  # 30.9 s
    stream = "nknusdt@depth@100ms"
    last_ts = max(r.ts for r in recs if r.kind == "recv" and stream in r.data)
    speed = 40.0

    async def main() -> float:
        async with (
            Simulator(sim_config(recordings=(RECORDING,), speed=speed)) as sim,
            connect(sim.ws_url("binance-spot", [stream])) as ws,
        ):
            start = time.monotonic()
            for _ in range(150):
                await ws.recv()
            return time.monotonic() - start

    elapsed = run(main())
    expected = (last_ts - recs[0].ts) / 1e9 / speed
    assert span > 30 and expected * 0.8 <= elapsed <= expected + 1.5


def test_own_capture_is_served_and_loops(tmp_path: Path) -> None:
    """Project captures replay too (no shared corpus needed); ``loop`` starts over."""
    depth = '{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":%d,"u":%d,"pu":%d,"b":[],"a":[]}'
    frames = [wire.combined("btcusdt@depth@0ms", depth % (i, i, i - 1)) for i in (11, 12)]
    trade = wire.combined("btcusdt@trade", '{"e":"trade","E":1}')
    body = '{"lastUpdateId":11,"E":1,"T":1,"bids":[["1.0","2"]],"asks":[["2.0","1"]]}'
    url = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
    base = 1_700_000_000 * 10**9
    with CaptureWriter(tmp_path, "binance-usdm") as writer:
        writer.write(Record("recv", base, 1, frames[0]))
        writer.write(Record("http", base + 1000, 0, body, url, 200))
        writer.write(Record("recv", base + 2000, 2, trade))
        writer.write(Record("recv", base + 3000, 1, frames[1]))
    (path,) = writer.completed_paths

    async def main() -> None:
        config = sim_config(recordings=(path,), speed=0, loop=True)
        async with Simulator(config) as sim:
            url = sim.ws_url("binance-usdm", ["btcusdt@depth@0ms"], "public/stream")
            async with connect(url) as ws:
                assert [await ws.recv() for _ in range(4)] == frames * 2
            async with aiohttp.ClientSession() as http:
                async with http.get(sim.rest_url("binance-usdm", "BTCUSDT")) as resp:
                    assert resp.status == 200 and await resp.text() == body
                async with http.get(sim.rest_url("binance-usdm", "ETHUSDT")) as resp:
                    assert resp.status == 400  # not in the recording: "Invalid symbol."
            assert sim.truth("binance-usdm", "BTCUSDT") is None

    run(main())


# -- faults -----------------------------------------------------------------------------------


def _stream_test(slug: str, body: Any, **faults: Any) -> Any:
    async def main() -> Any:
        sym = symbol_of(slug).lower()
        config = sim_config(exchanges=(slug,), faults=Faults(**faults))
        async with Simulator(config) as sim:
            url = sim.ws_url(slug, [f"{sym}@depth@100ms", f"{sym}@bookTicker"], book_path(slug))
            async with connect(url) as ws:
                return await body(sim, ws)

    return run(main())


@pytest.mark.parametrize("slug", ["binance-spot", "binance-usdm"])
def test_skip_fault_is_a_gap_for_the_engine(slug: str) -> None:
    async def body(sim: Simulator, ws: Any) -> None:
        client = await synced_client(sim, slug, ws)
        sync = client.sync(symbol_of(slug))
        sim.set_faults(skip=1)
        await read_until(ws, client, lambda: sync.stats.gaps >= 1, limit=200)
        assert sync.state.value != "synced" and sim.faults.fired["skip"] >= 1

    _stream_test(slug, body)


def test_duplicate_fault_is_seen_and_ignored_by_the_engine() -> None:
    async def body(sim: Simulator, ws: Any) -> None:
        client = await synced_client(sim, "binance-spot", ws)
        sync = client.sync("BTCUSDT")
        status, state = await get_json(f"{sim.url}/_faults", "POST", {"duplicate": 1})
        assert status == 200 and state["requested"]["duplicate"] == 1
        await read_until(ws, client, lambda: sync.stats.duplicates >= 1, limit=200)
        assert sync.state.value == "synced" and sync.stats.gaps == 0

    _stream_test("binance-spot", body)


def test_malformed_frames_decode_to_decode_failed() -> None:
    async def body(sim: Simulator, ws: Any) -> None:
        client = Client("binance-spot")
        await read_until(ws, client, lambda: len(client.messages) >= 3)
        status, _ = await get_json(f"{sim.url}/_faults", "POST", {"malformed": 2})
        assert status == 200
        await read_until(ws, client, lambda: len(client.of(DecodeFailed)) >= 2, limit=50)
        status, error = await get_json(f"{sim.url}/_faults", "POST", {"malformd": 1})
        assert status == 400 and "malformd" in error["error"]

    _stream_test("binance-spot", body)


def test_rest_rate_limit_then_normal_and_slow_snapshot() -> None:
    async def main() -> None:
        async with Simulator(sim_config(exchanges=("binance-usdm",))) as sim:
            sim.set_faults(rest_status=[429, 418], retry_after_s=3)
            url = sim.rest_url("binance-usdm", "BTCUSDT")
            adapter = adapters.create("binance-usdm")
            async with aiohttp.ClientSession() as http:
                for want in (429, 418):
                    async with http.get(url) as resp:
                        assert (resp.status, resp.headers["Retry-After"]) == (want, "3")
                        (msg,) = adapter.decode_rest(url, await resp.text(), 0)
                        assert isinstance(msg, Control) and msg.kind == "error"
                sim.set_faults(snapshot_delay_s=0.3)
                start = time.monotonic()
                async with http.get(url) as resp:
                    assert resp.status == 200
                    (snap,) = adapter.decode_rest(url, await resp.text(), 0)
                assert time.monotonic() - start >= 0.3 and isinstance(snap, BookSnapshot)
                async with http.get(f"{sim.url}/_stats") as resp:
                    stats = await resp.json()
            assert stats["rest"] == {"429": 1, "418": 1, "200": 1}

    run(main())


def test_server_shutdown_notice_decodes_to_control_shutdown() -> None:
    async def body(sim: Simulator, ws: Any) -> None:
        client = Client("binance-spot")
        client.feed(await ws.recv())
        sim.set_faults(server_shutdown=True)
        await read_until(ws, client, lambda: client.of(Control), limit=50)
        assert client.of(Control)[0].kind == "shutdown"
        assert sim.faults.fired["server_shutdown"] == 1

    _stream_test("binance-spot", body)


def test_drop_closes_without_close_frame_only_once() -> None:
    async def body(sim: Simulator, ws: Any) -> None:
        got = 0
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            while True:
                await ws.recv()
                got += 1
        assert got == 5 and closed.value.rcvd is None  # no close frame: an abrupt drop
        async with connect(sim.ws_url("binance-spot", ["btcusdt@bookTicker"])) as ws2:
            for _ in range(10):  # drop_once: the second connection keeps streaming
                await ws2.recv()
        assert sim.faults.fired["drop"] == 1

    _stream_test("binance-spot", body, drop_after_frames=5, drop_once=True)


def test_silent_keeps_the_connection_open_but_sends_nothing() -> None:
    async def body(sim: Simulator, ws: Any) -> None:
        for _ in range(4):
            await ws.recv()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        await ws.ping()  # still alive
        _, stats = await get_json(f"{sim.url}/_stats")
        assert stats["faults_fired"]["silent"] == 1 and stats["connections"]["open"] == 1
        assert stats["frames_total"] == 4

    _stream_test("binance-spot", body, silent_after_frames=4)


def test_close_after_seconds_closes_with_a_close_frame() -> None:
    async def body(sim: Simulator, ws: Any) -> float:
        start = time.monotonic()
        sim.set_faults(close_after_s=0.3)
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            while True:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        return time.monotonic() - start

    assert 0.25 <= _stream_test("binance-spot", body) < 2.0


# -- the command line ----------------------------------------------------------------------


def test_cli_prints_its_port_serves_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.simulator", "--port", "0", "--seed", "3"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("simulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        status, book = run(get_json(f"{url}/_truth/binance-spot/ETHUSDT"))
        assert status == 200 and book["bids"] and book["asks"]
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_unknown_fault_and_missing_recording(tmp_path: Path) -> None:
    from collector.simulator.cli import main

    with pytest.raises(SystemExit):
        main(["--port", "0", "--faults", '{"nope": 1}'])
    assert main(["--port", "0", "--recording", str(tmp_path / "missing.jsonl.gz")]) == 2


def test_send_stamps_lead_each_frame_and_decode_like_the_plain_frame() -> None:
    """``--send-stamps``: every frame starts with its send time, which precedes its
    receipt, and the adapter makes the same messages of it as of the frame without it."""

    async def main() -> list[tuple[int, str]]:
        slug, symbol = "binance-usdm", "btcusdt"
        streams = [f"{symbol}@depth@100ms", f"{symbol}@bookTicker"]
        got = []
        async with (
            Simulator(sim_config(exchanges=(slug,), send_stamps=True)) as sim,
            connect(sim.ws_url(slug, streams, book_path(slug))) as ws,
        ):
            while len(got) < 20:
                frame = await ws.recv()
                got.append((time.time_ns(), frame))
        return got

    frames = run(main())
    adapter = adapters.create("binance-usdm")
    for received, frame in frames:
        head, sep, rest = frame.partition(",")
        assert head.startswith('{"sent":') and sep, frame
        sent = int(head.removeprefix('{"sent":'))
        assert sent <= received < sent + 5 * 10**9
        plain = "{" + rest
        assert adapter.decode(frame, received, 1) == adapter.decode(plain, received, 1)
    assert build_parser().parse_args(["--send-stamps"]).send_stamps
    assert not config_from_args(build_parser().parse_args([])).send_stamps
