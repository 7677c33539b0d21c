"""Phemex live over loopback with its product list missing at start: nothing is lost.

Phemex prices are scaled integers, unreadable until the product list has loaded. The
simulator plays the recording without the list (its URLs answer 404), so the daemon's
start-up fetch fails and it connects anyway; the adapter holds the frames and asks the
daemon to poll the lists. Midway the list appears: the next poll loads it, the held
frames are decoded in order, and the books sync. The live dataset must equal both the
replay of the daemon's own capture (which holds the failed and the good poll where they
came) and the source recording's rows: every frame that arrived before the list counts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pytest
from harness import playback_config, read_table, run_daemon, synced, wait_for
from support import CAPTURES, needs_captures, run_recording

from adapters.phemex import adapter as phemex
from collector.capture.reader import list_capture_files, open_recording
from collector.replay import instruments_sidecar, replay
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

PATH = CAPTURES / "phemex" / "PHEMEX.jsonl.gz"
CONTENT = ["symbol", "seq", "is_snapshot", "side", "price", "size"]


def _rows(table: pa.Table, symbol: str) -> list[tuple]:
    rows = table.filter(pa.compute.equal(table["symbol"], symbol)).sort_by("apply_seq")
    return list(zip(*(rows[c].to_pylist() for c in CONTENT), strict=True))


def test_frames_before_the_product_list_are_written_once_it_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(phemex, "PRODUCTS_POLL_S", 0.5)
    _, source = run_recording(PATH)
    symbols = sorted(s for s, sync in source.engine.symbols.items() if sync.stats.book_rows)
    sidecar = instruments_sidecar(PATH)
    assert sidecar is not None
    (products,) = [r for r in open_recording(sidecar)[1] if r.kind == "http"]
    root = tmp_path / "live"
    before: list[int] = []

    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(PATH,), speed=4.0)) as sim:
            cfg = playback_config(root, sim.port, "phemex", symbols)

            async def body(daemon) -> None:  # type: ignore[no-untyped-def]
                pipeline = daemon.runners[0].pipeline
                await wait_for(lambda: pipeline.frames > 200, 20, "frames before the list")
                before.append(pipeline.frames)
                assert not pipeline.engine.symbols  # nothing could be read yet: all held
                sim.playback["phemex"].http["/exchange/public/cfg/v2/products"] = (
                    200,
                    products.data,
                )
                await wait_for(synced(daemon, "phemex", symbols), 20, "books after the poll")
                await asyncio.sleep(4.0)

            await run_daemon(cfg, body)

    asyncio.run(main())
    assert before[0] > 200
    live = read_table(root / "data", "book")
    replay([PATH], tmp_path / "source")
    theirs = read_table(tmp_path / "source", "book")
    assert live is not None and theirs is not None
    for symbol in symbols:
        mine, expected = _rows(live, symbol), _rows(theirs, symbol)
        # From the first snapshot on: the frames held before the list were not lost.
        assert mine and mine == expected[: len(mine)], symbol
    # The capture replays to the same rows: the failed polls and the good one are in it.
    replay(list_capture_files(root / "capture"), tmp_path / "again")
    again = read_table(tmp_path / "again", "book")
    assert again is not None
    keys = [("symbol", "ascending"), ("apply_seq", "ascending")]
    assert live.sort_by(keys).equals(again.sort_by(keys))
