"""The daemon's drift monitor against the simulator playing a drifted copy of a recording.

The simulator serves a copy of the Binance USD-M recording in which every
``bookTicker`` frame has ``B`` renamed to ``bidQty`` (the adapter cannot decode
those: always checked) and every ``depthUpdate`` gained an undocumented field
``X`` (the adapter decodes those: found by sampling). The daemon must count both
in ``collector_drift_total`` on ``/metrics``, write each as a ``drift`` quality
event (the first sighting, with a sample frame; not one row per frame), keep its
books in sync, and write the same quality table as a replay of its own capture.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path

import aiohttp
import pyarrow as pa
import pytest
from harness import daemon_config, read_table, run_daemon, samples, synced, value, wait_for
from support import CAPTURES, needs_captures

from collector.capture.reader import list_capture_files
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

RECORDING = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
SLUG = "binance-usdm"
SYMBOLS = ["AKROUSDT", "CTKUSDT", "KEEPUSDT", "SUSHIUSDT"]
RENAMED = ("missing_field", "bookTicker", "data.B"), ("new_field", "bookTicker", "data.bidQty")
ADDED = ("new_field", "depthUpdate", "data.X")


def drifted_copy(dst: Path) -> Path:
    """The recording with its frames edited as the module docstring says.

    Its exchange times (``E``, ``T``) are also moved to today: played back as
    they are, 2021 times received now are a real drift (the monitor's timestamp
    sanity check reports them as ``rule_violation``), not the one under test.
    """
    shift_ms = None
    with gzip.open(RECORDING, "rt") as fin, gzip.open(dst, "wt") as fout:
        for line in fin:
            rec = json.loads(line)
            if rec.get("kind") in ("recv", "http") and isinstance(rec.get("data"), str):
                frame = json.loads(rec["data"])
                data = frame.get("data", frame) if isinstance(frame, dict) else None
                if isinstance(data, dict):
                    for key in ("E", "T"):
                        if isinstance(data.get(key), int):
                            if shift_ms is None:
                                shift_ms = time.time_ns() // 10**6 - data[key]
                            data[key] += shift_ms
                    if data.get("e") == "bookTicker":
                        data["bidQty"] = data.pop("B")
                    elif data.get("e") == "depthUpdate":
                        data["X"] = "new"
                rec["data"] = json.dumps(frame, separators=(",", ":"))
            fout.write(json.dumps(rec) + "\n")
    return dst


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("drift")
    source = drifted_copy(root / "BINANCE_FUTURES.jsonl.gz")
    seen: dict = {}

    async def main() -> None:
        async with Simulator(SimulatorConfig(recordings=(source,), speed=20.0)) as sim:
            config = daemon_config(root, sim.port, {SLUG: SYMBOLS}, channels=("book", "bbo"))

            async def body(daemon) -> None:  # type: ignore[no-untyped-def]
                await wait_for(synced(daemon, SLUG, SYMBOLS), 30, "books in sync")
                await asyncio.sleep(2.5)  # the rest of the 31 s recording at 20x
                url = f"http://127.0.0.1:{daemon.metrics.port}/metrics"
                async with aiohttp.ClientSession() as session, session.get(url) as resp:
                    seen["metrics"] = samples(await resp.text())

            await run_daemon(config, body)

    asyncio.run(main())
    return root, seen


def test_the_daemon_counts_the_drift_on_metrics(live_run: tuple[Path, dict]) -> None:
    _, seen = live_run
    m = seen["metrics"]
    for kind, message_type, field in (*RENAMED, ADDED):
        labels = {"kind": kind, "message_type": message_type, "field": field}
        assert value(m, "collector_drift_total", exchange=SLUG, **labels) >= 1, labels
    drifted = {
        (lab["kind"], lab["message_type"], lab["field"])
        for lab, _ in m["collector_drift_total"]
        if lab["exchange"] == SLUG
    }
    assert drifted == {*RENAMED, ADDED}  # and nothing else
    checked = value(m, "collector_drift_checked_frames_total", exchange=SLUG)
    assert 0 < checked < value(m, "collector_frames_total", exchange=SLUG)


def test_each_drift_is_a_quality_event_not_a_flood(live_run: tuple[Path, dict]) -> None:
    root, _ = live_run
    quality = read_table(root / "data", "quality")
    assert quality is not None
    drift = quality.filter(pa.compute.equal(quality["kind"], "drift"))["detail"].to_pylist()
    for kind, message_type, field in (*RENAMED, ADDED):
        mine = [d for d in drift if d.startswith(f"{kind} {message_type} {field}: ")]
        # 31 s of recording, under the 60 s interval: first sighting + closing count at most
        assert 1 <= len(mine) <= 2, (field, mine)
        assert mine[0].split(": ", 1)[1].startswith("first seen: ")
        assert '"stream":' in mine[0]  # with a sample frame
    assert len(drift) <= 2 * 3


def test_live_drift_events_equal_replay_of_the_capture(
    live_run: tuple[Path, dict], tmp_path: Path
) -> None:
    root, _ = live_run
    replay(list_capture_files(root / "capture"), tmp_path / "replayed")
    live = read_table(root / "data", "quality")
    again = read_table(tmp_path / "replayed", "quality")
    assert live is not None and again is not None
    order = [("ts_recv", "ascending"), ("kind", "ascending"), ("detail", "ascending")]
    assert live.sort_by(order).equals(again.sort_by(order))
