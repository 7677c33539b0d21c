"""Replay throughput: frames/s and book level-updates/s, decode only / + book / end to end.

Records are read into memory first, so the figures measure the pipeline, not
gzip and JSON-lines parsing of the recording (reported separately as "read").
The process is pinned to one core and Arrow to one thread: the target is per
core. Two workloads per capture:

* ``all``: every record of the capture (frames/s is the figure of interest);
* ``depth``: only depth frames and REST snapshots (level updates/s).

The pipeline stages run with the venue's runtime drift monitor, as the daemon
does; ``--no-drift`` turns it off, and ``--drift-cost`` measures the ``all``
workload both ways in one run (alternating runs, best of ``--repeat`` each) and
also times the monitor on its own (its calls replayed with the adapter's output
precomputed), which is far less noisy than the difference of two pipeline runs
(two identical pipeline runs differ by up to 8% on a shared VM).

``--cpu-time`` times by process CPU time instead of the wall clock (see ``--help``);
``--compare-native`` measures the pure-Python reference and the native core in one
run, alternating, and prints both with their ratio.

Usage::

    python benchmarks/replay_throughput.py [CAPTURE ...] [--repeat 3] [--json]
    python benchmarks/replay_throughput.py [CAPTURE ...] --drift-cost [--repeat 7]

With no capture given, the ``binance-usdm`` recordings of ../shared/captures are used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import adapters  # noqa: E402
from collector.capture.reader import open_recording  # noqa: E402
from collector.capture.records import Record  # noqa: E402
from collector.contract.monitor import CHECKED_CONTROLS, DriftMonitor, monitor_for  # noqa: E402
from collector.levels import REFERENCE as LEVELS  # noqa: E402
from collector.model import BookDelta, BookInvalid, BookSnapshot, Control, DecodeFailed  # noqa: E402
from collector.pipeline import Pipeline  # noqa: E402
from collector.sinks.parquet import ParquetSink  # noqa: E402

CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", ROOT.parent / "shared" / "captures"))

#: The clock the stages are timed with; ``--cpu-time`` makes it the process's CPU time.
clock = time.perf_counter


class NullSink:
    def write(self, table: str, exchange: str, data: pa.Table) -> None:
        pass


def book_workload(exchange: str, records: list[Record]) -> tuple[list[Record], int]:
    """The records that carry book data (and the acks a stateful adapter needs), and their levels.

    Found by decoding once with the venue's own adapter, so the same harness
    measures every venue: a record belongs to the ``depth`` workload when it
    decodes to a book message or a control frame (subscription acks map
    channel ids on Bitfinex), and its levels are those the engine will apply.
    """
    adapter = adapters.create(exchange)
    kept: list[Record] = []
    levels = 0
    for r in records:
        if r.kind == "open":
            adapter.connected(r.conn, r.url)
            kept.append(r)
            continue
        if r.kind == "recv":
            messages = adapter.decode(r.data, r.ts, r.conn)
        elif r.kind == "http":
            messages = adapter.decode_rest(r.url, r.data, r.ts)
        else:
            continue
        book = [m for m in messages if isinstance(m, BookDelta | BookSnapshot)]
        if book or any(isinstance(m, Control) for m in messages):
            kept.append(r)
            levels += sum(_count(m.bids) + _count(m.asks) for m in book)
    return kept, levels


def _count(levels: Sequence | msgspec.Raw) -> int:
    """Levels of a message, also of an array its adapter left as JSON (``collector.levels``)."""
    return len(LEVELS.decode(levels) if isinstance(levels, msgspec.Raw) else levels)


def time_decode(exchange: str, records: list[Record]) -> float:
    adapter = adapters.create(exchange)
    decode, decode_rest = adapter.decode, adapter.decode_rest
    start = clock()
    for r in records:
        if r.kind == "recv":
            decode(r.data, r.ts, r.conn)
        elif r.kind == "open":
            adapter.connected(r.conn, r.url)
        elif r.kind == "http":
            decode_rest(r.url, r.data, r.ts)
    return clock() - start


def time_pipeline(
    exchange: str,
    records: list[Record],
    to_parquet: bool,
    drift: bool = True,
    timer: Callable[[], float] | None = None,
    native: bool | None = None,
) -> float:
    """Seconds by ``timer`` (``time.process_time``: CPU seconds, for a loaded machine);
    by default the module's ``clock``, which ``--cpu-time`` sets."""
    tick = timer or clock
    with tempfile.TemporaryDirectory() as tmp:
        sink = ParquetSink(tmp) if to_parquet else NullSink()
        pipeline = Pipeline(
            adapters.create(exchange), sink, drift="auto" if drift else None, native=native
        )
        start = tick()
        for r in records:
            pipeline.on_record(r)
        pipeline.finish()
        if to_parquet:
            sink.close()
        return tick() - start


def time_monitor(exchange: str, records: list[Record]) -> tuple[float, int]:
    """Seconds the drift monitor alone adds on ``records``, and what it checked.

    The adapter's output for each frame is computed first (untimed); then the
    pipeline's per-frame test and the monitor's calls are timed as the pipeline
    makes them, minus the same loop without them.
    """
    adapter = adapters.create(exchange)
    calls = []
    for r in records:
        if r.kind == "open":
            adapter.connected(r.conn, r.url)
        elif r.kind == "recv":
            messages = adapter.decode(r.data, r.ts, r.conn)
            failed = [m for m in messages if isinstance(m, DecodeFailed)]
            unknown = next((m.reason for m in failed if m.unknown), None)
            forced = bool(failed) or any(
                isinstance(m, BookInvalid)
                or (isinstance(m, Control) and m.kind in CHECKED_CONTROLS)
                for m in messages
            )
            snapshots = sum(isinstance(m, BookSnapshot) for m in messages)
            calls.append((r.data, r.ts, r.conn, forced, unknown, snapshots))

    def run(monitor: DriftMonitor | None) -> float:
        start = clock()
        if monitor is None:
            for i, (_data, _ts, _conn, check, _unknown, snapshots) in enumerate(calls, 1):
                if snapshots:
                    pass
                if check or i < 0:  # the same tests, nothing checked
                    pass
            return clock() - start
        frame, snapshot_due = monitor.frame, monitor.snapshot_due
        for i, (data, ts, conn, check, unknown, snapshots) in enumerate(calls, 1):
            if snapshots:
                for _ in range(snapshots):
                    check = snapshot_due() or check
            if check or i >= monitor.next_frame:
                frame(data, ts, conn, i, unknown)
        return clock() - start

    monitor = monitor_for(exchange)
    assert monitor is not None, exchange
    spent = run(monitor) - run(None)
    start = clock()  # REST bodies: always checked (snapshots, instrument lists)
    for r in records:
        if r.kind == "http" and (r.status is None or 200 <= r.status < 300):
            monitor.rest(r.url, r.data, r.ts)
    return spent + clock() - start, monitor.checked


def drift_cost(path: Path, repeat: int) -> dict:
    """The ``all`` workload with and without the drift monitor, and the monitor alone."""
    info, it = open_recording(path)
    records = list(it)
    exchange = info.exchange or ""
    times: dict[str, list[float]] = {"book": [], "book_nodrift": [], "e2e": [], "e2e_nodrift": []}
    for i in range(repeat):  # interleaved, in alternating order: load changes hit both alike
        for stage, parquet in (("book", False), ("e2e", True)):
            for drift in (True, False) if i % 2 else (False, True):
                key = stage if drift else stage + "_nodrift"
                times[key].append(time_pipeline(exchange, records, parquet, drift))
    frames = sum(r.kind == "recv" for r in records)
    alone = [time_monitor(exchange, records) for _ in range(repeat)]
    monitor_s = min(t for t, _ in alone)
    best = {k: min(v) for k, v in times.items()}
    return {
        "capture": str(path.relative_to(CAPTURES) if path.is_relative_to(CAPTURES) else path),
        "records": len(records),
        "frames": frames,
        "checked": alone[0][1],
        **{f"{k}_frames_per_s": round(len(records) / v) for k, v in best.items()},
        "book_overhead_pct": round(100 * (best["book"] / best["book_nodrift"] - 1), 1),
        "e2e_overhead_pct": round(100 * (best["e2e"] / best["e2e_nodrift"] - 1), 1),
        "e2e_median_overhead_pct": round(
            100 * (statistics.median(times["e2e"]) / statistics.median(times["e2e_nodrift"]) - 1),
            1,
        ),
        "monitor_us_per_frame": round(monitor_s / frames * 1e6, 3),
        "pipeline_us_per_frame": round(best["e2e_nodrift"] / frames * 1e6, 2),
        "monitor_share_pct": round(100 * monitor_s / best["e2e_nodrift"], 2),
    }


def bench(path: Path, repeat: int, drift: bool = True, compare_native: bool = False) -> dict:
    """Figures per workload and stage; with ``compare_native`` both paths, runs alternating.

    The top-level figures are those of the path ``COLLECTOR_NATIVE`` selects (the
    native core when built); ``compare_native`` adds ``reference`` and ``native``
    dicts with the same field names, measured in the same run, and their ratios.
    """
    start = time.perf_counter()
    info, it = open_recording(path)
    records = list(it)
    read_s = time.perf_counter() - start
    exchange = info.exchange or ""
    book_records, levels = book_workload(exchange, records)
    workloads = {"all": records, "depth": book_records}
    result: dict = {
        "capture": str(path.relative_to(CAPTURES) if path.is_relative_to(CAPTURES) else path),
        "records": len(records),
        "depth_records": len(book_records),
        "levels": levels,
        "read_records_per_s": round(len(records) / read_s),
    }
    paths: tuple[bool | None, ...] = (False, True) if compare_native else (None,)
    figures: dict[bool | None, dict] = {p: {} for p in paths}
    for name, recs in workloads.items():
        for stage in ("decode", "book", "e2e"):
            times: dict[bool | None, list[float]] = {p: [] for p in paths}
            for i in range(repeat):  # alternating order: load changes hit both paths alike
                for native in paths if i % 2 == 0 else paths[::-1]:
                    if stage == "decode":  # the adapters' work: the same on both paths
                        times[native].append(time_decode(exchange, recs))
                    else:
                        parquet = stage == "e2e"
                        times[native].append(
                            time_pipeline(exchange, recs, parquet, drift, native=native)
                        )
            for native, spent in times.items():
                best = min(spent)
                figures[native][f"{name}_{stage}_frames_per_s"] = round(len(recs) / best)
                if name == "depth":
                    figures[native][f"{name}_{stage}_levels_per_s"] = round(levels / best)
    if not compare_native:
        return result | figures[None]
    reference, native = figures[False], figures[True]
    return (
        result
        | native
        | {
            "reference": reference,
            "native": native,
            "native_speedup": {k: round(native[k] / reference[k], 2) for k in reference},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("captures", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--no-drift", action="store_true", help="pipelines without the runtime drift monitor"
    )
    parser.add_argument(
        "--drift-cost",
        action="store_true",
        help="measure the drift monitor's cost: the pipeline with and without it, and alone",
    )
    parser.add_argument(
        "--compare-native",
        action="store_true",
        help="measure the pure-Python reference and the native core in one run, alternating "
        "(the adapters' JSON-number reading follows COLLECTOR_NATIVE on both legs)",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time stages by the process's CPU time (all threads) instead of the wall clock: "
        "on a VM shared with other jobs, wall time mostly measures the neighbours; "
        "CPU time leaves out waits (fsync, I/O) and still feels cache contention",
    )
    args = parser.parse_args()
    if args.cpu_time:
        global clock
        clock = time.process_time
    paths = args.captures or sorted(
        p
        for p in (CAPTURES / "binance-usdm").glob("*.jsonl.gz")
        if not p.name.endswith(".instruments.jsonl.gz")
    )
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if args.drift_cost:
        costs = [drift_cost(p, args.repeat) for p in paths]
        if args.json:
            print(json.dumps(costs, indent=2))
            return 0
        for c in costs:
            print(
                f"\n{c['capture']}: {c['frames']:,} frames, {c['checked']:,} checked by the monitor"
            )
            for stage in ("book", "e2e"):
                print(
                    f"  {stage:<5} with {c[f'{stage}_frames_per_s']:>9,} frames/s, without "
                    f"{c[f'{stage}_nodrift_frames_per_s']:>9,}: {c[f'{stage}_overhead_pct']:+.1f}%"
                )
            print(f"  e2e medians: {c['e2e_median_overhead_pct']:+.1f}%")
            print(
                f"  monitor alone {c['monitor_us_per_frame']:.3f} us/frame of "
                f"{c['pipeline_us_per_frame']:.2f} us/frame e2e: {c['monitor_share_pct']:.2f}%"
            )
        return 0
    results = [bench(p, args.repeat, not args.no_drift, args.compare_native) for p in paths]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(
            f"\n{r['capture']}: {r['records']:,} records ({r['depth_records']:,} depth, "
            f"{r['levels']:,} levels); read {r['read_records_per_s']:,} records/s"
        )
        print(f"  {'stage':<16}{'all frames/s':>16}{'depth frames/s':>18}{'levels/s':>14}")
        runs = [("reference", r["reference"]), ("native", r["native"])] if "native" in r else []
        for label, f in runs or [("", r)]:
            for stage in ("decode", "book", "e2e"):
                print(
                    f"  {f'{stage} {label}':<16}{f[f'all_{stage}_frames_per_s']:>16,}"
                    f"{f[f'depth_{stage}_frames_per_s']:>18,}"
                    f"{f[f'depth_{stage}_levels_per_s']:>14,}"
                )
        if runs:
            speedup = r["native_speedup"]
            print(
                f"  native / reference: e2e all frames/s {speedup['all_e2e_frames_per_s']}x, "
                f"e2e depth levels/s {speedup['depth_e2e_levels_per_s']}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
