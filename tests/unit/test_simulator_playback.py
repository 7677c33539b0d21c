"""The simulator plays other venues' recordings back, frame for frame, per URL path."""

from __future__ import annotations

import asyncio

import aiohttp
from support import CAPTURES, load_records, needs_captures

from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

BYBIT = CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"
OKX_INSTRUMENTS = CAPTURES / "okx" / "OKX.instruments.jsonl.gz"


def _recorded(path_suffix: str) -> list[str]:
    _, records = load_records(BYBIT)
    conn = next(r.conn for r in records if r.kind == "open" and r.url.endswith(path_suffix))
    return [r.data for r in records if r.kind == "recv" and r.conn == conn]


async def _receive(url: str, count: int) -> list[str]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str('{"op":"subscribe","args":["ignored"]}')  # read, not answered
        return [(await ws.receive(timeout=10)).data for _ in range(count)]


def test_each_path_gets_its_recorded_connection_from_the_start() -> None:
    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(BYBIT,), speed=0)) as sim:
            base = f"ws://127.0.0.1:{sim.port}/bybit"
            for suffix in ("/v5/public/linear", "/v5/public/spot"):
                expected = _recorded(suffix)
                got = await _receive(base + suffix, 50)
                assert got == expected[:50], suffix
                again = await _receive(base + suffix, 5)  # a reconnect starts over
                assert again == expected[:5], suffix

    asyncio.run(main())


def test_http_answers_with_the_recorded_body_or_404() -> None:
    _, records = load_records(OKX_INSTRUMENTS)
    swap = next(r for r in records if r.url.endswith("instType=SWAP"))

    async def main() -> None:
        config = SimulatorConfig(recordings=(BYBIT, OKX_INSTRUMENTS), speed=0)
        async with Simulator(config) as sim, aiohttp.ClientSession() as session:
            url = f"{sim.url}/okx/api/v5/public/instruments?instType=SWAP"
            async with session.get(url) as response:
                assert response.status == 200
                assert await response.text() == swap.data
            async with session.get(f"{sim.url}/kraken/0/public/Depth") as response:
                assert response.status == 404  # not a simulated venue
            async with session.get(f"{sim.url}/bybit/v5/market/orderbook") as response:
                assert response.status == 404  # nothing recorded there

    asyncio.run(main())


HYPERLIQUID = CAPTURES / "hyperliquid" / "btcusd_20250126.jsonl.gz"


def test_a_recording_without_open_records_is_played_on_any_path() -> None:
    """hftbacktest recorded no connection events: its frames are one connection, from the
    first frame on, served whatever path the client asks for."""
    _, records = load_records(HYPERLIQUID)
    assert not any(r.kind == "open" for r in records)
    expected = [r.data for r in records if r.kind == "recv"]

    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(HYPERLIQUID,), speed=0)) as sim:
            got = await _receive(f"ws://127.0.0.1:{sim.port}/hyperliquid/ws", len(expected))
            assert got == expected

    asyncio.run(main())
