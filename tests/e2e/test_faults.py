"""Every simulator fault knob: the daemon recovers by itself and never writes a wrong book.

Each test runs the daemon against a generated USD-M book, triggers one fault
once the book is in sync, and checks: the right quality events; the book in
sync again afterwards and equal to the simulator's truth at the same update
id; and every book state rebuilt from the written rows equal to the truth at
its update id (no row from a desynchronized book is written as good).
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
    truth_levels,
    wait_for,
)

from collector.daemon import Daemon
from collector.simulator import Faults, Simulator, SimulatorConfig

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"


def engine(daemon: Daemon):  # type: ignore[no-untyped-def]
    return daemon.runners[0].pipeline.engine.symbols[SYMBOL]


def run_fault(
    tmp_path: Path,
    trigger: dict | None,
    *,
    faults: Faults | None = None,
    settle: float = 1.5,
    exchange_extra: str = "",
    wait_sync: bool = True,
    clear: dict | None = None,
) -> tuple[Daemon, Simulator, list[str], list[dict]]:
    """Run until synced, apply ``trigger`` faults, wait until synced again, stop."""
    states: list[dict] = []

    async def main() -> tuple[Daemon, Simulator]:
        cfg = SimulatorConfig(
            exchanges=(SLUG,),
            symbols=(SYMBOL,),
            interval_ms=10,
            seed=7,
            history=20_000,
            faults=faults or Faults(),
        )
        async with Simulator(cfg) as sim:
            config = daemon_config(
                tmp_path, sim.port, {SLUG: [SYMBOL]}, exchange_extra=exchange_extra
            )

            async def body(daemon: Daemon) -> None:
                if wait_sync:
                    await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "first sync")
                await asyncio.sleep(0.3)
                if trigger:
                    sim.set_faults(trigger)
                await asyncio.sleep(settle)
                if clear:
                    sim.set_faults(clear)
                await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "sync after the fault")
                sync = engine(daemon)  # read in the same step as the check: nothing runs between
                states.append(
                    {
                        "id": sync.last_id,
                        "book": sync.book.as_dict(),
                        "truth": sim.truth(SLUG, SYMBOL, sync.last_id),
                    }
                )

            daemon = await run_daemon(config, body)
            return daemon, sim

    daemon, sim = asyncio.run(main())
    quality = read_table(tmp_path / "data", "quality")
    kinds = (
        []
        if quality is None
        else [
            k
            for k, s in zip(quality["kind"].to_pylist(), quality["symbol"].to_pylist(), strict=True)
            if s in (SYMBOL, None)
        ]
    )
    return daemon, sim, kinds, states


def assert_book_matches_truth(states: list[dict]) -> None:
    (state,) = states
    assert state["truth"] is not None, "simulator no longer remembers that update id"
    assert state["book"] == truth_levels(state["truth"])


def test_clean_run(tmp_path: Path) -> None:
    daemon, sim, kinds, states = run_fault(tmp_path, None)
    assert kinds.count("gap") == 0 and "resync" not in kinds
    assert_book_matches_truth(states)
    assert_rows_never_wrong(tmp_path / "data", sim, SLUG, SYMBOL)
    assert engine(daemon).stats.bbo_matched > 10


@pytest.mark.parametrize(
    "trigger,expected",
    [
        ({"skip": 1}, ["gap", "resync", "synced"]),
        ({"duplicate": 1}, ["duplicate"]),
        ({"malformed": 1}, ["malformed"]),
        ({"drop": 5, "drop_once": True}, ["disconnect", "connect"]),
        ({"server_shutdown": True}, ["disconnect", "connect"]),
        ({"close_after_s": 0.5}, ["disconnect", "connect"]),
    ],
    ids=[
        "skip-update-id",
        "duplicate-update-id",
        "malformed-frame",
        "drop-connection",
        "server-shutdown",
        "close-after",
    ],
)
def test_fault_recovers(tmp_path: Path, trigger: dict, expected: list[str]) -> None:
    _, sim, kinds, states = run_fault(tmp_path, trigger)
    tail = kinds[kinds.index("synced") + 1 :]
    for kind in expected:
        assert kind in tail, (kind, kinds)
    assert_book_matches_truth(states)
    assert_rows_never_wrong(tmp_path / "data", sim, SLUG, SYMBOL)


def test_silent_stream_is_replaced_by_the_watchdog(tmp_path: Path) -> None:
    _, sim, kinds, states = run_fault(
        tmp_path,
        {"silent": 3},
        settle=1.5,
        clear={"silent_after_frames": None},
        exchange_extra="stale_after_s = { book = 0.5, bbo = 0.5, trades = 0.5 }",
    )
    assert any("stale" in d for d in _details(tmp_path))
    assert "disconnect" in kinds[kinds.index("synced") :]
    assert_book_matches_truth(states)
    assert_rows_never_wrong(tmp_path / "data", sim, SLUG, SYMBOL)


def test_rate_limited_and_slow_snapshots(tmp_path: Path) -> None:
    faults = Faults(rest_status=[429, 418], retry_after_s=0.3, snapshot_delay_s=0.5)
    _, sim, kinds, states = run_fault(tmp_path, None, faults=faults)
    assert kinds.count("rate_limited") >= 2
    assert_book_matches_truth(states)
    assert_rows_never_wrong(tmp_path / "data", sim, SLUG, SYMBOL)


def _details(tmp_path: Path) -> list[str]:
    quality = read_table(tmp_path / "data", "quality")
    return [] if quality is None else quality["detail"].to_pylist()
