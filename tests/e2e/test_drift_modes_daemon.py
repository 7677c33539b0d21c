"""Every simulator drift mode, seen by the daemon: counted by its drift monitor or its engine.

``tests/contract/test_live_check.py`` shows ``contract-check`` classifying each
mode; this is the other half of the issue's promise: the daemon running
against the drifted simulator notices each one where it belongs. Shape drift
(renamed field, number as string, new field, unknown message type) is counted
by the runtime drift monitor under its (kind, message type, field); a silent
or moved stream is a ``stale`` book; a changed first-delta rule leaves every
snapshot stale and no book synced; zeroed checksums are checksum mismatches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import daemon_config, playback_config, read_table, run_daemon, wait_for
from support import CAPTURES, needs_captures

from collector.config import Config
from collector.daemon import Daemon
from collector.model import QualityEvent
from collector.simulator import Simulator, SimulatorConfig
from collector.simulator.faults import Faults

SPOT = ["BTCUSDT", "ETHUSDT"]
KRAKEN = CAPTURES / "kraken" / "KRAKEN.ws.50.jsonl.gz"


def counted(*keys: tuple[str, str, str]) -> Callable[[Daemon, Counter[str]], bool]:
    def check(daemon: Daemon, seen: Counter[str]) -> bool:
        drift = daemon.runners[0].pipeline.drift
        return drift is not None and all(drift.counts[k] > 0 for k in keys)

    return check


def watch_quality(daemon: Daemon) -> Counter[str]:
    """Count the quality kinds the daemon writes from now on (before it starts: nothing missed)."""
    seen: Counter[str] = Counter()
    out = daemon.runners[0].pipeline.out
    add = out.add_quality

    def counting(event: QualityEvent) -> None:
        seen[event.kind] += 1
        add(event)

    out.add_quality = counting  # type: ignore[method-assign]
    return seen


#: mode -> (what the daemon must show, the quality kind that must be written, if any)
SHAPES = {
    "renamed_field": counted(
        ("missing_field", "depthUpdate", "data.b"), ("new_field", "depthUpdate", "data.bids")
    ),
    "number_as_string": counted(("type_change", "depthUpdate", "data.E")),
    "new_field": counted(("new_field", "depthUpdate", "data.X")),
    "unknown_message": counted(("unknown_message_type", "depthUpdateV2", "")),
}
RULES = {
    "silent_after_handshake": "stale",
    "moved_endpoint": "stale",
    "first_delta_rule": "snapshot_stale",
}


async def _run(
    config: SimulatorConfig,
    make_cfg: Callable[[int], Config],
    until: Callable[[Daemon, Counter[str]], bool],
) -> Daemon:
    async with Simulator(config) as sim:

        async def body(daemon: Daemon) -> None:
            seen = watch_quality(daemon)
            await wait_for(lambda: until(daemon, seen), 20, "the daemon to notice the drift")

        return await run_daemon(make_cfg(sim.port), body)


def _spot_config(root: Path) -> Callable[[int], Config]:
    return lambda port: daemon_config(
        root,
        port,
        {"binance-spot": SPOT},
        exchange_extra="stale_after_s = { book = 2, bbo = 2, trades = 2 }",
    )


@pytest.mark.parametrize("mode", sorted(SHAPES))
def test_shape_drift_is_counted_by_the_drift_monitor(mode: str, tmp_path: Path) -> None:
    config = SimulatorConfig(exchanges=("binance-spot",), faults=Faults(drift=mode))
    asyncio.run(_run(config, _spot_config(tmp_path), SHAPES[mode]))
    table = read_table(tmp_path / "data", "quality")
    assert table is not None and "drift" in table["kind"].to_pylist()


@pytest.mark.parametrize("mode", sorted(RULES))
def test_rule_drift_is_reported_by_the_daemon(mode: str, tmp_path: Path) -> None:
    kind = RULES[mode]
    config = SimulatorConfig(exchanges=("binance-spot",), faults=Faults(drift=mode))

    def noticed(daemon: Daemon, seen: Counter[str]) -> bool:
        return seen[kind] > 0

    daemon = asyncio.run(_run(config, _spot_config(tmp_path), noticed))
    engine = daemon.runners[0].pipeline.engine
    assert not any(s.stats.book_rows for s in engine.symbols.values()), "a drifted book was written"


@needs_captures
def test_zeroed_checksums_are_checksum_mismatches(tmp_path: Path) -> None:
    config = SimulatorConfig(recordings=(KRAKEN,), speed=10.0, faults=Faults(drift="checksum_zero"))
    symbols = ["ADA/XBT", "ETH/CHF", "KSM/XBT"]

    def mismatched(daemon: Daemon, seen: Counter[str]) -> bool:
        stats = daemon.runners[0].pipeline.engine.symbols
        return any(s.stats.checksums_failed for s in stats.values())

    daemon = asyncio.run(
        _run(config, lambda port: playback_config(tmp_path, port, "kraken", symbols), mismatched)
    )
    stats = [s.stats for s in daemon.runners[0].pipeline.engine.symbols.values()]
    assert sum(s.checksums_verified for s in stats) == 0
    table = read_table(tmp_path / "data", "quality")
    assert table is not None and "checksum_mismatch" in table["kind"].to_pylist()
