"""What crash recovery costs: its time per day of data, and the live loop's lag meanwhile.

Recovery replays a crashed capture session from its start, so its time grows with
the session's length. This builds the crashed sessions of the default config (the
Binance spot and USD-M BTCUSDT/ETHUSDT recordings of 2024-08-08 in
``shared/captures``, as a killed daemon leaves them: one session per venue, last part
``.inprogress``, nothing published) and times ``recover_dataset`` on them, scaled to
a day of that traffic.

Then it runs the same recovery beside an asyncio loop that sleeps 2 ms at a time,
as the daemon's loop waits for frames, and reports how late those wake-ups come
(p50, p99, max), three ways: the loop alone for as long (``idle``), the recovery in
a thread of the loop's process (``thread``: what the daemon did in its
``to_thread`` before connecting) and in a child process at ``nice`` +10
(``process``: what it does now, ``collector.recovery_process``).

Usage::

    python benchmarks/recovery_cost.py [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from collector.capture.reader import open_recording
from collector.capture.writer import CaptureWriter
from collector.recover import recover_dataset
from collector.recovery_process import BackgroundRecovery

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", ROOT.parent / "shared" / "captures"))
DEFAULT_SET = {  # config/default.toml: these symbols on these venues
    "binance-spot": ["btcusdt_20240808", "ethusdt_20240808"],
    "binance-usdm": ["btcusdt_20240808", "ethusdt_20240808"],
}
SLEEP_S = 0.002


def crashed_sessions(capture: Path) -> tuple[int, float]:
    """Write the default set as a killed run's capture; (records, seconds of data)."""
    records, first, last = 0, None, None
    for exchange, names in DEFAULT_SET.items():
        merged = sorted(
            (r for n in names for r in open_recording(CAPTURES / exchange / f"{n}.jsonl.gz")[1]),
            key=lambda r: r.ts,
        )
        writer = CaptureWriter(capture, exchange)
        for record in merged:
            writer.write(record)
        writer.close(finish=False)
        records += len(merged)
        first = min(first or merged[0].ts, merged[0].ts)
        last = max(last or merged[-1].ts, merged[-1].ts)
    assert first is not None and last is not None
    return records, (last - first) / 1e9


def fresh_copy(template: Path, into: Path) -> Path:
    """A new copy of the crashed capture (a recovery finishes the files it recovers)."""
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(template, into / "capture")
    return into


async def lateness_while(work: str, workdir: Path) -> dict:
    """Wake-up lateness of a 2 ms sleep loop while ``work`` runs (or for 3 s, idle)."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    arguments = {"capture_dir": workdir / "capture", "out": workdir / "data"}
    started = time.perf_counter()
    if work == "thread":
        thread = threading.Thread(
            target=lambda: (recover_dataset(**arguments), loop.call_soon_threadsafe(done.set))
        )
        thread.start()
    elif work == "process":
        recovery = BackgroundRecovery(arguments)
        recovery.start()
        asyncio.get_running_loop().create_task(recovery.wait()).add_done_callback(
            lambda _t: done.set()
        )
    else:
        loop.call_later(3.0, done.set)
    late = []
    while not done.is_set():
        t = time.perf_counter()
        await asyncio.sleep(SLEEP_S)
        late.append(time.perf_counter() - t - SLEEP_S)
    late.sort()
    return {
        "work": work,
        "seconds": round(time.perf_counter() - started, 2),
        "wakeups": len(late),
        "late_p50_ms": round(late[len(late) // 2] * 1e3, 2),
        "late_p99_ms": round(late[int(len(late) * 0.99) - 1] * 1e3, 2),
        "late_max_ms": round(late[-1] * 1e3, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CAPTURES.is_dir():
        print(f"no recordings at {CAPTURES}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="recovery-cost-") as tmp:
        root = Path(tmp)
        records, span = crashed_sessions(root / "template")
        timings = []
        for i in range(args.repeat):
            work = fresh_copy(root / "template", root / f"timed{i}")
            cpu, wall = time.process_time(), time.perf_counter()
            summary = recover_dataset(work / "capture", work / "data")
            timings.append((time.perf_counter() - wall, time.process_time() - cpu))
            assert len(summary.sessions) == len(DEFAULT_SET), summary.line()
        wall, cpu = min(timings)
        lag = [
            asyncio.run(lateness_while(mode, fresh_copy(root / "template", root / f"{mode}{i}")))
            for i in range(args.repeat)
            for mode in ("idle", "thread", "process")
        ]
    result = {
        "records": records,
        "data_seconds": round(span, 1),
        "recovery_wall_s": round(wall, 2),
        "recovery_cpu_s": round(cpu, 2),
        "minutes_per_day_of_data": round(wall * 86_400 / span / 60, 1),
        "lag": lag,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{records:,} records over {span:.0f} s of data: recovered in {wall:.2f} s "
        f"({cpu:.2f} s CPU), {result['minutes_per_day_of_data']} min per day of data"
    )
    for row in lag:
        print(
            f"  {row['work']:8} {row['seconds']:6.2f} s  late p50 {row['late_p50_ms']:5.2f} ms  "
            f"p99 {row['late_p99_ms']:5.2f} ms  max {row['late_max_ms']:6.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
