"""OKX without its in-band snapshot, live: the daemon seeds each book from REST by itself.

The simulator plays an OKX recording rewritten to the announced protocol
(``tests/okx_rewrite.py``: seqIds, no checksum, no snapshot push; the recorded REST
book is what its ``/api/v5/market/books`` answers). The daemon, pointed at it, must
get each book's first push as an update, fetch the REST book (and record it), bridge
it, and end with the books the original recording builds; replaying its own capture
must give the same dataset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from harness import playback_config, read_table, run_daemon, synced, wait_for
from okx_rewrite import rest_seeded, strip_checksums, with_seq_ids, write_corpus
from support import load_records, needs_captures, recordings, run_records

from collector.capture.reader import list_capture_files, open_recording
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

#: Wall time a recording may take to play back; longer ones are sped up.
PLAY_S = 3.0


@pytest.mark.parametrize("path", recordings(("okx",)), ids=lambda p: p.name)
def test_daemon_fetches_the_rest_book_when_no_snapshot_comes(path: Path, tmp_path: Path) -> None:
    _, records = load_records(path)
    rewritten = rest_seeded(with_seq_ids(strip_checksums(records)))
    rest_urls = {r.url for r in rewritten if r.kind == "http"}
    assert rest_urls, f"{path.name}: no session long enough to seed from REST"
    symbols = sorted(url.split("instId=")[1].split("&")[0] for url in rest_urls)
    played = write_corpus(tmp_path / "okx-rest-seeded.jsonl.gz", rewritten)
    speed = max(1.0, (records[-1].ts - records[0].ts) / 1e9 / PLAY_S)
    expected = run_records("okx", records).engine.symbols

    async def live() -> dict:
        async with Simulator(SimulatorConfig(recordings=(played,), speed=speed)) as sim:
            cfg = playback_config(tmp_path / "live", sim.port, "okx", symbols)

            async def body(daemon) -> None:  # type: ignore[no-untyped-def]
                await wait_for(synced(daemon, "okx", symbols), 20, "books seeded from REST")
                await asyncio.sleep(PLAY_S + 0.5)  # the rest of the recording plays

            daemon = await run_daemon(cfg, body)
            return daemon.runners[0].pipeline.engine.symbols

    books = asyncio.run(live())
    for symbol in symbols:
        assert books[symbol].book.as_dict() == expected[symbol].book.as_dict(), symbol
        stats = books[symbol].stats
        assert (stats.gaps, stats.snapshots_too_old, stats.checksums_failed) == (0, 0, 0)

    # The daemon asked for each REST book once and recorded the answer.
    captures = list_capture_files(tmp_path / "live" / "capture")
    fetched = [
        r for f in captures for r in open_recording(f)[1] if r.kind == "http" and "books" in r.url
    ]
    assert sorted(r.url.split("instId=")[1].split("&")[0] for r in fetched) == symbols
    assert all(r.status == 200 and r.url.endswith("&sz=400") for r in fetched)

    # Its capture replays to the dataset it wrote.
    replay(captures, tmp_path / "again")
    for name in ("book", "quality"):
        live_table = read_table(tmp_path / "live" / "data", name)
        again = read_table(tmp_path / "again", name)
        assert live_table is not None and again is not None, name
        keys = ["symbol", "apply_seq"] if name == "book" else ["ts_recv", "kind", "detail"]
        order = [(k, "ascending") for k in keys]
        assert live_table.sort_by(order).equals(again.sort_by(order)), name
