"""Planned reconnects before a connection's lifetime ends: no gap and no duplicate row.

With a 2 s connection lifetime the daemon rolls every connection over about
once a second, opening the new connection before closing the old one. Across
every switch the book chain must stay unbroken, each trade and quote must be
written once, and every written book state must equal the simulator's truth.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from harness import (
    assert_rows_never_wrong,
    daemon_config,
    read_table,
    run_daemon,
    synced,
    wait_for,
)

from collector.daemon import Daemon
from collector.simulator import Simulator, SimulatorConfig
from collector.simulator.faults import Faults

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"


@pytest.mark.parametrize("handshake_delay_s", [0.0, 0.3], ids=["prompt", "late-handshake"])
def test_planned_rollover_loses_and_duplicates_nothing(
    tmp_path: Path, handshake_delay_s: float
) -> None:
    """``late-handshake``: the venue publishes to each new connection 0.3 s before it
    answers the handshake, so the old connection delivers those events first and the new
    one repeats them after its ``open``; the overlap filter must know them already."""
    rollovers: list[int] = []
    dropped: list[int] = []

    async def main() -> Simulator:
        cfg = SimulatorConfig(
            exchanges=(SLUG,),
            symbols=(SYMBOL,),
            interval_ms=10,
            seed=3,
            history=20_000,
            trade_probability=0.9,
            faults=Faults(handshake_delay_s=handshake_delay_s),
        )
        async with Simulator(cfg) as sim:
            config = daemon_config(
                tmp_path, sim.port, {SLUG: [SYMBOL]}, exchange_extra="connection_lifetime_s = 2.0"
            )

            async def body(daemon: Daemon) -> None:
                await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "first sync")
                await asyncio.sleep(5.0)
                rollovers.extend(s.rollovers for s in daemon.runners[0].supervisors)
                dropped.append(daemon.runners[0].pipeline.overlap.dropped)

            await run_daemon(config, body)
            return sim

    sim = asyncio.run(main())
    assert min(rollovers) >= 2, rollovers  # both the public and the market connection
    if handshake_delay_s:  # the race was there to lose, and the filter took the copies out
        assert sim.faults.fired["handshake_delay"] >= 2 + sum(rollovers)
        assert dropped[0] > 0

    quality = read_table(tmp_path / "data", "quality")
    kinds = quality["kind"].to_pylist()
    assert kinds.count("synced") == 1, kinds
    for bad in ("gap", "resync", "duplicate", "malformed"):
        assert bad not in kinds, kinds
    assert kinds.count("connect") >= 2 + sum(rollovers)

    trades = read_table(tmp_path / "data", "trades")
    ids = sorted(int(t) for t in trades["trade_id"].to_pylist())
    assert len(ids) == len(set(ids)), "a trade was written twice"
    assert ids == list(range(ids[0], ids[0] + len(ids))), "a trade went missing"

    quotes = read_table(tmp_path / "data", "bbo")["seq"].to_pylist()
    assert len(quotes) == len(set(quotes)), "a quote was written twice"

    assert_rows_never_wrong(tmp_path / "data", sim, SLUG, SYMBOL)
