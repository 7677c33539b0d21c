"""The daemon as a real process: signals, ``kill -9`` and a symbol that never works.

The other e2e tests run the daemon in the test's own event loop, which cannot
show what an operating system does to it: a service manager's SIGTERM, the OOM
killer's SIGKILL at any instant, a process that starts again over the files the
dead one left. Here ``collector simulate`` and ``collector run`` are child
processes talking over loopback sockets, and the checks are made on disk, the
way a reader of the dataset or the next daemon sees it:

* SIGTERM exits 0, leaves no ``.inprogress`` file, and the dataset equals, row
  for row, the replay of the daemon's own capture (so nothing buffered was lost);
* after SIGKILL at random moments every published Parquet file and every capture
  file (leftovers included) reads completely, and a daemon started over the
  debris carries on with ``apply_seq`` still increasing;
* a configured symbol the venue refuses does not hold up the others;
* a kill right after a file is published leaves no published row that the
  capture lacks (expected to fail until the daemon syncs its capture first).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from harness import daemon_config, read_table, run_daemon, synced, wait_for
from processes import (
    SLUG,
    SYMBOL,
    Daemons,
    assert_readable,
    daemons,
    more_captures,
    parquet_files,
    sim_port,
    sorted_table,
    wait_until,
    write_config,
)

from collector.capture.reader import capture_header, list_capture_files
from collector.daemon import Daemon
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig, wire
from collector.sinks.parquet import SESSION_KEY

__all__ = ["daemons", "sim_port"]  # fixtures, used by name

TABLES = ("book", "bbo", "trades", "quality")
#: At least this many SIGKILLs (the brief of this test: "at least 20").
KILLS = 20


def book_apply_seqs(paths: set[Path]) -> pa.Table:
    """``symbol`` and ``apply_seq`` of the book rows in ``paths`` (book files only)."""
    tables = [
        pq.read_table(p, columns=["symbol", "apply_seq"])
        for p in sorted(paths)
        if "table=book" in p.parts
    ]
    if not tables:
        return pa.table(
            {"symbol": pa.array([], pa.string()), "apply_seq": pa.array([], pa.int64())}
        )
    return pa.concat_tables([t.cast(tables[0].schema) for t in tables])


def session_of(path: Path) -> str | None:
    """The capture session a Parquet file's rows came from (its footer)."""
    value = (pq.read_metadata(path).metadata or {}).get(SESSION_KEY.encode())
    return value.decode() if value is not None else None


def book_rows(table: pa.Table | None) -> set[tuple[object, ...]]:
    """Book rows as hashable tuples (every column) for set comparisons."""
    assert table is not None
    return set(zip(*(table[c].to_pylist() for c in table.column_names), strict=True))


# --------------------------------------------------------------------------- tests


def test_sigterm_loses_nothing(sim_port: int, tmp_path: Path, daemons: Daemons) -> None:
    run = tmp_path / "run"
    run.mkdir()
    config = write_config(run, sim_port, rotate_seconds=2)
    data, capture = run / "data", run / "capture"
    proc = daemons.start(config)
    wait_until(lambda: bool(list_capture_files(capture)), proc, "a capture file", daemons)
    time.sleep(4.0)
    assert daemons.terminate(proc) == 0, daemons.tail()

    assert not list(run.glob("**/.*.inprogress")), "files left unpublished after SIGTERM"
    assert len({p.name for p in (data / "table=book").glob("**/*.parquet")}) >= 2, "no rotation"
    replay(list_capture_files(capture), tmp_path / "replayed")
    for name in TABLES:
        live = sorted_table(data, name)
        again = sorted_table(tmp_path / "replayed", name)
        assert live.num_rows > 0, name
        assert live.equals(again), f"{name}: {live.num_rows} live rows, {again.num_rows} replayed"


def test_kill_9_at_random_moments_leaves_a_readable_dataset(
    sim_port: int, tmp_path: Path, daemons: Daemons
) -> None:
    # Short files: most kills then land with files being written or just published.
    config = write_config(tmp_path, sim_port, rotate_seconds=0.5)
    data, capture = tmp_path / "data", tmp_path / "capture"
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    for i in range(KILLS):
        context = f"kill {i + 1} of {KILLS} (seed {seed})"
        before = len(list_capture_files(capture))
        proc = daemons.start(config)
        wait_until(more_captures(capture, before), proc, f"{context}: a new capture file", daemons)
        time.sleep(rng.uniform(0.3, 2.0))
        daemons.kill(proc)
        assert_readable(data, capture, context)
    published = parquet_files(data)
    assert any("table=book" in p.parts for p in published), "no book file ever got published"

    proc = daemons.start(config)
    new_book = lambda: any("table=book" in p.parts for p in parquet_files(data) - published)  # noqa: E731
    wait_until(new_book, proc, "book rows from the restarted daemon", daemons)
    time.sleep(3.0)
    assert daemons.terminate(proc) == 0, daemons.tail()
    assert_readable(data, capture, "after the last run")

    # The last run's own rows (crash recovery, in the background, may publish older
    # sessions' rows meanwhile): its apply_seq continues above everything before.
    last = capture_header(list_capture_files(capture)[-1])["session"]
    old = book_apply_seqs(published)
    new = book_apply_seqs({p for p in parquet_files(data) - published if session_of(p) == last})
    assert new.num_rows > 0
    everything = pa.concat_tables([old, new])
    for symbol in pc.unique(everything["symbol"]).to_pylist():
        seqs = everything.filter(pc.equal(everything["symbol"], symbol))["apply_seq"]
        assert len(pc.unique(seqs)) == len(seqs), f"{symbol}: apply_seq repeats (seed {seed})"
        before_max = pc.max(old.filter(pc.equal(old["symbol"], symbol))["apply_seq"]).as_py()
        after_min = pc.min(new.filter(pc.equal(new["symbol"], symbol))["apply_seq"]).as_py()
        assert before_max is None or after_min > before_max, (symbol, before_max, after_min)

    # Crash recovery at each start rebuilt every killed run's unpublished rows, once:
    # the dataset is exactly the replay of every session's capture.
    summary = replay(list_capture_files(capture), tmp_path / "replayed")
    assert sum(f.frames for f in summary.files) > 0
    for name in ("book", "trades"):
        live, again = sorted_table(data, name), sorted_table(tmp_path / "replayed", name)
        assert live.equals(again), (
            f"{name}: {live.num_rows} rows in the dataset, {again.num_rows} in the capture "
            f"(seed {seed})"
        )


NOPE = "NOPEUSDT"


class TwoSymbolRun(msgspec.Struct):
    """What the daemon did with one good and one refused symbol (see ``run_with_refused``)."""

    rows_at_sync: int
    rows_later: int
    health: dict[str, object]
    root: Path

    def kinds_of(self, symbol: str) -> list[str]:
        quality = read_table(self.root / "data", "quality")
        assert quality is not None
        pairs = zip(quality["kind"].to_pylist(), quality["symbol"].to_pylist(), strict=True)
        return [kind for kind, s in pairs if s == symbol]

    def book_symbols(self) -> set[str]:
        book = read_table(self.root / "data", "book")
        assert book is not None
        return set(book["symbol"].to_pylist())


def run_with_refused(root: Path, generated: tuple[str, ...]) -> TwoSymbolRun:
    """Run the daemon on SYMBOL and NOPE against a simulator generating ``generated``.

    The simulator answers every depth snapshot request for NOPE with Binance's
    ``400 {"code": -1121, "msg": "Invalid symbol."}`` whether or not it streams
    it (a symbol delisted while its stream still runs, or one that never existed).
    The run lasts until that answer has been given and a few flushes more.
    """

    async def main() -> TwoSymbolRun:
        sim_config = SimulatorConfig(exchanges=(SLUG,), symbols=generated, interval_ms=10, seed=5)
        async with Simulator(sim_config) as sim:
            source = sim.generated[SLUG]
            real_snapshot = source.snapshot

            def snapshot(symbol: str, limit: int, now_ms: int) -> tuple[int, str]:
                if symbol.upper() == NOPE:
                    return 400, wire.error_body(-1121, "Invalid symbol.")
                return real_snapshot(symbol, limit, now_ms)

            source.snapshot = snapshot  # type: ignore[method-assign]
            config = daemon_config(
                root,
                sim.port,
                {SLUG: [SYMBOL, NOPE]},
                # A book silent for 1 s is reported and probed with a snapshot request.
                # NOPE shares its connections with the busy SYMBOL, so the watchdog
                # (which shares the setting) never fires.
                exchange_extra="stale_after_s = { book = 1.0 }",
            )
            seen: list[TwoSymbolRun] = []

            async def body(daemon: Daemon) -> None:
                engine = daemon.runners[0].pipeline.engine
                await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, f"{SYMBOL} in sync")
                rows = engine.symbols[SYMBOL].stats.book_rows
                await wait_for(lambda: sim.stats.rest["400"] > 0, 20, f"{NOPE} refused")
                await asyncio.sleep(1.0)  # SYMBOL's rows meanwhile; a few flushes
                _, health = daemon.health()
                seen.append(
                    TwoSymbolRun(rows, engine.symbols[SYMBOL].stats.book_rows, health, root)
                )

            await run_daemon(config, body, timeout_s=40)
            return seen[0]

    return asyncio.run(main())


def assert_not_stalled(run: TwoSymbolRun) -> None:
    """SYMBOL synced and kept writing; NOPE wrote no book row and keeps the daemon unhealthy."""
    assert run.rows_later > run.rows_at_sync > 0, f"{SYMBOL} stopped producing book rows"
    assert SYMBOL in run.book_symbols() and NOPE not in run.book_symbols()
    books = run.health[SLUG]["books"]  # type: ignore[index]
    assert books[SYMBOL] == "synced" and books[NOPE] != "synced", run.health


def test_a_refused_symbol_does_not_stall_the_others(tmp_path: Path) -> None:
    """NOPE streams, but its snapshot is refused: an error is recorded, SYMBOL carries on."""
    run = run_with_refused(tmp_path, (SYMBOL, NOPE))
    assert_not_stalled(run)
    assert "exchange_error" in run.kinds_of(NOPE)


def test_a_silent_unknown_symbol_is_reported_and_does_not_stall_the_others(
    tmp_path: Path,
) -> None:
    """NOPE is neither streamed nor served: reported stale, probed, refused; SYMBOL carries on."""
    run = run_with_refused(tmp_path, (SYMBOL,))
    assert_not_stalled(run)
    kinds = run.kinds_of(NOPE)
    assert "stale" in kinds and "exchange_error" in kinds, kinds


# --------------------------------------------------------------------------- capture order


def kill_after_first_book_publish(root: Path) -> None:
    """Child process: daemon + simulator in-process, SIGKILL right after a book file publishes
    during ``ParquetSink.write``.

    With 0.5 s files, 0.2 s flushes and an update every 10 ms, the first book
    file is published by the sink's rotation inside ``write``, i.e. while the
    flush loop hands rows over: the moment this test is about.
    """
    from collector.config import load_config
    from collector.sinks.parquet import ParquetSink

    write, publish = ParquetSink.write, ParquetSink._publish
    writing = [False]

    def write_flagged(self: ParquetSink, *args: Any) -> None:
        writing[0] = True
        try:
            write(self, *args)
        finally:
            writing[0] = False

    def publish_then_die(self: ParquetSink, segment: Any) -> None:
        publish(self, segment)
        if writing[0] and segment.table == "book":
            os.kill(os.getpid(), signal.SIGKILL)

    ParquetSink.write = write_flagged  # type: ignore[method-assign]
    ParquetSink._publish = publish_then_die  # type: ignore[method-assign]

    async def main() -> None:
        sim_config = SimulatorConfig(exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=10)
        async with Simulator(sim_config) as sim:
            config = load_config(write_config(root, sim.port, rotate_seconds=0.5))
            await run_daemon(config, lambda _: asyncio.sleep(20), timeout_s=30)

    asyncio.run(main())


def test_every_published_row_is_in_the_capture_after_kill_9(tmp_path: Path) -> None:
    """The capture is the recovery log: whatever a reader can see must be in it."""
    child = [sys.executable, __file__, "kill-after-first-book-publish", str(tmp_path)]
    done = subprocess.run(child, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, f"no publish during write\n{done.stderr[-3000:]}"
    replay(list_capture_files(tmp_path / "capture"), tmp_path / "replayed")
    live = book_rows(read_table(tmp_path / "data", "book"))
    missing = live - book_rows(read_table(tmp_path / "replayed", "book"))
    assert not missing, f"{len(missing)} of {len(live)} published rows are not in the capture"


if __name__ == "__main__" and sys.argv[1:2] == ["kill-after-first-book-publish"]:
    kill_after_first_book_publish(Path(sys.argv[2]))
