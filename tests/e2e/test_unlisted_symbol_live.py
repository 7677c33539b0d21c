"""A configured symbol the venue does not list costs only itself, live over loopback.

The simulator plays an OKX recording and answers the instrument URLs with the
recorded lists. The config names the recording's future and one of the same form
that the lists do not name (it passes the config check: the form is right, the
market does not exist). The daemon must say so once at ERROR, record why the
symbol has no data, leave it out of the subscription, and stream the listed one:
its rows are written and ``/health`` is 200 once its book syncs, rather than 503
for ever for a book that can never arrive.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from harness import playback_config, read_table, run_daemon, synced, wait_for
from support import CAPTURES, needs_captures

from collector.daemon import Daemon
from collector.replay import instruments_sidecar
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

RECORDING = CAPTURES / "okx" / "OKX.jsonl.gz"
LISTED = "BTC-USD-220527"
UNLISTED = "BTC-USD-991231"


async def _live(root: Path) -> dict[str, object]:
    sidecar = instruments_sidecar(RECORDING)
    assert sidecar is not None
    seen: dict[str, object] = {}
    async with Simulator(SimulatorConfig(recordings=(RECORDING, sidecar), speed=20)) as sim:
        config = playback_config(root, sim.port, "okx", [UNLISTED, LISTED])

        async def body(daemon: Daemon) -> None:
            await wait_for(synced(daemon, "okx", [LISTED]), 30, f"{LISTED} in sync")
            base = f"http://127.0.0.1:{daemon.metrics.port}"
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/health") as resp:
                    seen["health"] = (resp.status, await resp.json())
                async with session.get(f"{base}/metrics") as resp:
                    seen["metrics"] = await resp.text()
            runner = daemon.runners[0]
            seen["subscribed"] = {
                sub.symbol for s in runner.supervisors for sub in s.plan.subscriptions
            }
            await asyncio.sleep(0.5)  # a flush or two

        await run_daemon(config, body)
    return seen


def test_an_unlisted_symbol_is_dropped_and_the_listed_one_streams(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="collector"):
        seen = asyncio.run(_live(tmp_path))

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and UNLISTED in errors[0] and LISTED not in errors[0], errors
    assert seen["subscribed"] == {LISTED}

    status, report = seen["health"]  # type: ignore[misc]
    assert status == 200, report
    assert report["okx"]["books"] == {LISTED: "synced"}
    metrics = str(seen["metrics"])
    assert f'symbol="{LISTED}"' in metrics and UNLISTED not in metrics  # not shown as broken

    data = tmp_path / "data"
    book = read_table(data, "book")
    assert book is not None and set(book["symbol"].to_pylist()) == {LISTED}
    quality = read_table(data, "quality")
    assert quality is not None
    why = [(row["kind"], row["detail"]) for row in quality.to_pylist() if row["symbol"] == UNLISTED]
    assert why == [
        ("exchange_error", f"{UNLISTED} is not in okx's instrument lists; not subscribed")
    ]
    assert all(row["ts_recv"] > 0 for row in quality.to_pylist())
