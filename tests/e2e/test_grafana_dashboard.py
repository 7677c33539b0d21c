"""deploy/grafana-dashboard.json queries only what a running daemon exports, and
``/live`` is separate from ``/health`` (issue 15 item 9).

A dashboard whose queries name a metric the daemon does not export shows "No
data" forever, silently; so every ``collector_*`` name in it is looked up in the
``/metrics`` of a daemon collecting from the simulator. ``/live`` stays 200 while
the venue is unreachable (``/health`` is 503 then): a liveness probe on it does
not restart pods for a venue outage, only for a stuck process.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path

import aiohttp
import msgspec
from harness import daemon_config, run_daemon, synced, wait_for
from prometheus_client.parser import text_string_to_metric_families

from collector.config import MetricsConfig
from collector.daemon import Daemon
from collector.metrics import LIVE_MIN_S, Metrics
from collector.simulator import Simulator, SimulatorConfig

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana-dashboard.json"
SLUG, SYMBOL = "binance-usdm", "BTCUSDT"
#: The write-failure alarm the dashboard must show (collector/write_faults.py).
WRITE_ALARM = (
    "collector_write_errors_total",
    "collector_write_failing",
    "collector_buffered_bytes",
    "collector_dropped_rows_total",
)


def queried(doc: dict) -> set[str]:
    """Every collector metric name in the dashboard's queries and variables."""
    text = json.dumps([doc["panels"], doc["templating"]])
    return set(re.findall(r"\bcollector_[a-z_]+\b", text))


def exported(text: str) -> set[str]:
    """Every name a query can use: samples, and families without samples yet."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        names.update(s.name for s in family.samples)
    return names


async def get(session: aiohttp.ClientSession, daemon: Daemon, path: str) -> tuple[int, dict | str]:
    async with session.get(f"http://127.0.0.1:{daemon.metrics.port}{path}") as resp:
        text = await resp.text()
        return resp.status, msgspec.json.decode(text) if path != "/metrics" else text


def test_dashboard_is_well_formed() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] and doc["schemaVersion"] >= 36
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    graphs = [p for p in doc["panels"] if p["type"] != "row"]
    for p in graphs:
        box = p["gridPos"]
        assert box["x"] + box["w"] <= 24 and box["h"] > 0, p["title"]
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        for target in p["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    assert set(WRITE_ALARM) <= queried(doc)
    assert len(queried(doc)) >= 30  # streams, books, checks, drift, writes, spools


def test_every_queried_metric_exists_and_live_is_not_health(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    async def main() -> None:
        async with Simulator(
            SimulatorConfig(exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=10, seed=7)
        ) as sim:
            config = daemon_config(tmp_path, sim.port, {SLUG: [SYMBOL]})

            async def body(daemon: Daemon) -> None:
                await wait_for(synced(daemon, SLUG, [SYMBOL]), 10, "first sync")
                await wait_for(lambda: daemon.metrics.flushed_at is not None, 5, "a flush")
                async with aiohttp.ClientSession() as session:
                    seen["metrics"] = (await get(session, daemon, "/metrics"))[1]
                    seen["live"] = await get(session, daemon, "/live")
                    seen["health"] = (await get(session, daemon, "/health"))[0]

            await run_daemon(config, body, timeout_s=20)

    asyncio.run(main())
    missing = queried(json.loads(DASHBOARD.read_text())) - exported(str(seen["metrics"]))
    assert missing == set(), f"the dashboard queries metrics nobody exports: {sorted(missing)}"
    status, doc = seen["live"]  # type: ignore[misc]
    assert status == 200 and doc["ok"] is True and 0 <= doc["last_flush_s"] < doc["limit_s"]
    assert seen["health"] == 200


def test_live_stays_200_while_the_venue_is_down(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on: every connect is refused
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    config = daemon_config(tmp_path, dead, {SLUG: [SYMBOL]})
    answers: dict[str, tuple[int, object]] = {}

    async def body(daemon: Daemon) -> None:
        await wait_for(lambda: daemon.metrics.flushed_at is not None, 5, "a flush")
        async with aiohttp.ClientSession() as session:
            answers["health"] = await get(session, daemon, "/health")
            answers["live"] = await get(session, daemon, "/live")

    asyncio.run(run_daemon(config, body, timeout_s=20))
    assert answers["health"][0] == 503
    assert answers["live"][0] == 200


def test_live_fails_when_the_flush_loop_stops() -> None:
    async def main() -> list[tuple[int, dict]]:
        metrics = Metrics()
        runner = await metrics.serve(MetricsConfig(listen="127.0.0.1:0"), lambda: (True, {}))
        url = f"http://127.0.0.1:{metrics.port}/live"
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for flushed_ago in (None, 0.0, LIVE_MIN_S + 1):
                    if flushed_ago is not None:
                        metrics.flushed(1.0)
                        metrics.flushed_at = time.monotonic() - flushed_ago
                    async with session.get(url) as resp:
                        out.append((resp.status, await resp.json()))
        finally:
            await metrics.stop(runner)
        return out

    before, fresh, stale = asyncio.run(asyncio.wait_for(main(), 10))
    assert before == (200, {"ok": True, "flush_loop": "not started"})
    assert fresh[0] == 200 and stale[0] == 503 and stale[1]["ok"] is False
    assert stale[1]["last_flush_s"] > stale[1]["limit_s"] == LIVE_MIN_S
