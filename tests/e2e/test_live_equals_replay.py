"""A live run against the simulator replaying a real recording writes what replay writes.

The daemon connects over loopback websockets and HTTP to the simulator, which
serves a real Binance USD-M recording. Its Parquet must equal, row for row,
what ``collector replay`` writes from the daemon's own capture; and its book
rows must equal those of replaying the source recording (receive times differ,
the books may not). The capture rotates every half second, as it does hourly by
default, so the replay has to carry its books from one part to the next: Binance
sends no snapshot in-band, and a part replayed on its own writes no book rows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pytest
from harness import daemon_config, read_table, run_daemon, synced, wait_for
from support import CAPTURES, needs_captures

from collector.capture.reader import list_capture_files, read_capture
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

RECORDING = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
SYMBOLS = ["AKROUSDT", "CTKUSDT", "KEEPUSDT", "SUSHIUSDT"]
CONTENT = ["symbol", "seq", "is_snapshot", "side", "price", "size"]
SNAPSHOTS = (10, 100)  # book_snapshots depth and interval (ms)


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("live")

    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(RECORDING,), speed=20.0)) as sim:
            config = daemon_config(
                root,
                sim.port,
                {"binance-usdm": SYMBOLS},
                channels=("book", "bbo"),
                capture=f'dir = "{root / "capture"}"\nrotate_seconds = 0.5\n',
                extra=f"[[book_snapshots]]\ndepth = {SNAPSHOTS[0]}\ninterval_ms = {SNAPSHOTS[1]}\n",
            )

            async def body(daemon) -> None:  # type: ignore[no-untyped-def]
                await wait_for(synced(daemon, "binance-usdm", SYMBOLS), 30, "books in sync")
                await asyncio.sleep(2.5)  # the rest of the 31 s recording at 20x

            await run_daemon(config, body)

    asyncio.run(main())
    return root


def test_live_parquet_equals_replay_of_its_own_capture(live_run: Path, tmp_path: Path) -> None:
    captures = list_capture_files(live_run / "capture")
    assert len(captures) >= 3, captures  # one session, several parts
    summary = replay(captures, tmp_path / "replayed", snapshots=[SNAPSHOTS])
    assert [len(f.later_parts) for f in summary.files] == [len(captures) - 1]
    for name in ("book", "bbo", "quality", "book_snapshots_10x100ms"):
        live = read_table(live_run / "data", name)
        again = read_table(tmp_path / "replayed", name)
        assert live is not None and again is not None, name
        order = ["symbol", "apply_seq"] if name == "book" else ["symbol", "ts_recv"]
        if name == "quality":
            order = ["ts_recv", "kind"]
        assert live.sort_by([(c, "ascending") for c in order]).equals(
            again.sort_by([(c, "ascending") for c in order])
        ), name


def test_every_connection_is_announced_before_its_handshake(live_run: Path) -> None:
    """The ``connecting`` record bounds the switch-over race (``collector.overlap``)."""
    records = [r for p in list_capture_files(live_run / "capture") for r in read_capture(p)]
    started = {r.conn: r for r in records if r.kind == "connecting"}
    opened = [r for r in records if r.kind == "open"]
    assert opened
    for r in opened:
        attempt = started[r.conn]
        assert attempt.url == r.url and attempt.ts <= r.ts
        assert records.index(attempt) < records.index(r)


def test_live_books_equal_replay_of_the_source_recording(live_run: Path, tmp_path: Path) -> None:
    replay([RECORDING], tmp_path / "source")
    live = read_table(live_run / "data", "book")
    source = read_table(tmp_path / "source", "book")
    for symbol in SYMBOLS:
        mine = _rows(live, symbol)
        theirs = _rows(source, symbol)
        assert mine, symbol
        # The live run ends when the daemon is stopped; all it wrote matches the source.
        assert mine == theirs[: len(mine)], symbol
        assert len(mine) > 0.9 * len(theirs), symbol


def _rows(table: pa.Table, symbol: str) -> list[tuple]:
    rows = table.filter(pa.compute.equal(table["symbol"], symbol)).sort_by("apply_seq")
    return list(zip(*(rows[c].to_pylist() for c in CONTENT), strict=True))
