"""Gzip frames and server pings end to end: the daemon against HTX's recording played back.

The simulator plays ``huobi/HUOBI.jsonl.gz`` over loopback exactly as recorded: binary
frames holding gzip, six of them HTX's ``{"ping": N}``. The daemon must answer every
ping with ``{"pong": N}`` on the connection it came on (HTX closes a connection after
two unanswered pings), keep the gzip bytes as they arrived in its capture, and its
capture must replay to the same rows with the replies counted, not sent.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

from harness import playback_config, run_daemon, synced, wait_for
from support import CAPTURES, needs_captures, run_recording, run_records

from collector.capture.reader import list_capture_files, open_recording
from collector.simulator import Simulator, SimulatorConfig

pytestmark = needs_captures

RECORDING = CAPTURES / "huobi" / "HUOBI.jsonl.gz"
SLUG = "htx"
PLAY_S = 3.0


def _pings(records) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """``(conn, N)`` of every ``{"ping": N}`` received, in order."""
    out = []
    for r in records:
        if r.kind == "recv" and isinstance(r.data, bytes):
            message = json.loads(gzip.decompress(r.data))
            if "ping" in message:
                out.append((r.conn, message["ping"]))
    return out


def test_the_daemon_answers_every_gzip_ping_on_its_connection(tmp_path: Path) -> None:
    source, pipeline = run_recording(RECORDING, SLUG)
    symbols = sorted(s for s, sym in pipeline.engine.symbols.items() if sym.stats.book_rows)
    recorded_pings = [n for _, n in _pings(source)]
    assert len(recorded_pings) == 6
    duration = (source[-1].ts - source[0].ts) / 1e9

    async def main() -> None:
        config = SimulatorConfig(recordings=(RECORDING,), speed=duration / PLAY_S)
        async with Simulator(config) as sim:
            cfg = playback_config(tmp_path, sim.port, SLUG, symbols)

            async def body(daemon) -> None:  # type: ignore[no-untyped-def]
                await wait_for(synced(daemon, SLUG, symbols), 20, "htx books in sync")
                runner = daemon.runners[0]
                await wait_for(
                    lambda: runner.pipeline.controls["reply"] >= len(recorded_pings),
                    20,
                    "every ping answered",
                )
                await asyncio.sleep(0.5)  # the last pong's send task

            await run_daemon(cfg, body)

    asyncio.run(main())
    (capture,) = list_capture_files(tmp_path / "capture")
    records = list(open_recording(capture)[1])
    # The gzip bytes as they came over the wire: binary, not inflated text.
    received = [r.data for r in records if r.kind == "recv"]
    assert received and all(isinstance(d, bytes) and d[:2] == b"\x1f\x8b" for d in received)
    assert [n for _, n in _pings(records)] == recorded_pings
    for i, record in enumerate(records):  # each answered on its own connection, after it
        for conn, n in _pings([record]):
            later = [r.data for r in records[i:] if r.kind == "send" and r.conn == conn]
            assert f'{{"pong":{n}}}' in later, n
    # The capture replays to the same replies, counted and not sent anywhere.
    again = run_records(SLUG, records)
    assert again.controls["reply"] == len(recorded_pings)
    assert again.take_replies() == []
