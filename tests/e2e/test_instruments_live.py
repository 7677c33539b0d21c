"""The daemon fetches its venue's instrument lists at start, records them, and names
markets exactly as ``collector replay`` of the source recording (with its sidecar) does.

The simulator plays a recording and, given its ``.instruments.jsonl.gz`` sidecar
among the recordings, answers the instrument URLs with the recorded bodies. The
daemon's capture must hold those answers before any connection opened (so its
own replay learns the same instruments first), and every ``market`` it wrote
must equal the source replay's for the same symbol.

The recorded lists name every streamed symbol exactly as the adapters' fallback
guesses do, so equal names alone would not show the lists were used: the test
serves a copy of the sidecar whose underlying is renamed (BTC -> XBT), and the
live markets must carry the new name.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from harness import playback_config, read_table, run_daemon, synced, wait_for
from support import CAPTURES, needs_captures

import adapters
from collector.capture.reader import list_capture_files, open_recording
from collector.replay import instruments_sidecar, replay
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

CASES = {"okx": "okx/OKX.jsonl.gz", "deribit": "deribit/DERIBIT.jsonl.gz"}
#: Text replaced in the served instrument lists: the underlying of BTC contracts.
RENAME = {
    "okx": {f'"{key}":"BTC-USD"': f'"{key}":"XBT-USD"' for key in ("uly", "instFamily")},
    "deribit": {'"base_currency":"BTC"': '"base_currency":"XBT"'},
}
PLAY_S = 3.0


def _renamed_copy(slug: str, tmp: Path) -> Path:
    """The recording and a sidecar whose BTC underlying is renamed, side by side in ``tmp``."""
    source = CAPTURES / CASES[slug]
    sidecar = instruments_sidecar(source)
    assert sidecar is not None
    tmp.mkdir()
    shutil.copy(source, tmp / source.name)
    with gzip.open(sidecar, "rt") as src, gzip.open(tmp / sidecar.name, "wt") as dst:
        for line in src:
            doc = json.loads(line)
            if doc["kind"] == "http":
                for old, new in RENAME[slug].items():
                    doc["data"] = doc["data"].replace(old, new)
            dst.write(json.dumps(doc) + "\n")
    return tmp / source.name


def _markets(root: Path) -> dict[str, set[str]]:
    """symbol -> markets written, over the book and trades tables."""
    out: dict[str, set[str]] = {}
    for name in ("book", "trades"):
        table = read_table(root, name)
        if table is None:
            continue
        for symbol, market in zip(
            table["symbol"].to_pylist(), table["market"].to_pylist(), strict=True
        ):
            out.setdefault(symbol, set()).add(market)
    return out


async def _live(slug: str, path: Path, root: Path, symbols: list[str], speed: float) -> None:
    sidecar = instruments_sidecar(path)
    assert sidecar is not None
    config = SimulatorConfig(recordings=(path, sidecar), speed=speed)
    async with Simulator(config) as sim:
        cfg = playback_config(root, sim.port, slug, symbols)

        async def body(daemon) -> None:  # type: ignore[no-untyped-def]
            await wait_for(synced(daemon, slug, symbols), 30, f"{slug} books in sync")
            await asyncio.sleep(PLAY_S + 0.5)

        await run_daemon(cfg, body)


@pytest.mark.parametrize("slug", sorted(CASES))
def test_live_markets_come_from_the_recorded_instrument_lists(slug: str, tmp_path: Path) -> None:
    path = _renamed_copy(slug, tmp_path / "src")
    replay([path], tmp_path / "source")
    source = _markets(tmp_path / "source")
    book = read_table(tmp_path / "source", "book")
    assert book is not None
    symbols = sorted(set(book["symbol"].to_pylist()))
    _, records = open_recording(path)
    stamps = [r.ts for r in records]
    speed = max(1.0, (stamps[-1] - stamps[0]) / 1e9 / PLAY_S)
    asyncio.run(_live(slug, path, tmp_path / "live", symbols, speed))

    # The capture holds every instrument list, answered 200, before the first open.
    captured = [
        r for f in list_capture_files(tmp_path / "live" / "capture") for r in open_recording(f)[1]
    ]
    kinds = [r.kind for r in captured]
    http = [r for r in captured if r.kind == "http"]
    recorded = {
        urlsplit(r.url).path + "?" + urlsplit(r.url).query: r.data
        for r in open_recording(instruments_sidecar(path))[1]
    }
    asked = adapters.create(slug).instrument_requests()
    assert len(http) == len(asked)
    assert kinds.index("open") > max(i for i, k in enumerate(kinds) if k == "http")
    for record, request in zip(http, asked, strict=True):
        tail = urlsplit(request.url).path + "?" + urlsplit(request.url).query
        assert record.status == 200 and record.url.endswith(tail), record.url
        assert record.data == recorded[tail]

    # Live markets equal the source replay's, and the replay of the capture's.
    live = _markets(tmp_path / "live" / "data")
    replay(list_capture_files(tmp_path / "live" / "capture"), tmp_path / "again")
    assert live == _markets(tmp_path / "again")
    assert set(symbols) <= set(live)
    for symbol, markets in live.items():
        assert markets == source[symbol], symbol
    renamed = {m for ms in live.values() for m in ms if m.startswith("XBT-")}
    assert renamed, live  # named from the served lists, not guessed from the symbols
