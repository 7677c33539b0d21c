"""Replay throughput: frames/s and book level-updates/s, decode only / + book / end to end.

Records are read into memory first, so the figures measure the pipeline, not
gzip and JSON-lines parsing of the recording (reported separately as "read").
The process is pinned to one core and Arrow to one thread: the target is per
core. Two workloads per capture:

* ``all``: every record of the capture (frames/s is the figure of interest);
* ``depth``: only depth frames and REST snapshots (level updates/s).

Usage::

    python benchmarks/replay_throughput.py [CAPTURE ...] [--repeat 3] [--json]

With no capture given, the ``binance-usdm`` recordings of ../shared/captures are used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import adapters  # noqa: E402
from collector.capture.reader import open_recording  # noqa: E402
from collector.capture.records import Record  # noqa: E402
from collector.model import BookDelta, BookSnapshot, Control  # noqa: E402
from collector.pipeline import Pipeline  # noqa: E402
from collector.sinks.parquet import ParquetSink  # noqa: E402

CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", ROOT.parent / "shared" / "captures"))


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
            levels += sum(len(m.bids) + len(m.asks) for m in book)
    return kept, levels


def time_decode(exchange: str, records: list[Record]) -> float:
    adapter = adapters.create(exchange)
    decode, decode_rest = adapter.decode, adapter.decode_rest
    start = time.perf_counter()
    for r in records:
        if r.kind == "recv":
            decode(r.data, r.ts, r.conn)
        elif r.kind == "open":
            adapter.connected(r.conn, r.url)
        elif r.kind == "http":
            decode_rest(r.url, r.data, r.ts)
    return time.perf_counter() - start


def time_pipeline(exchange: str, records: list[Record], to_parquet: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        sink = ParquetSink(tmp) if to_parquet else NullSink()
        pipeline = Pipeline(adapters.create(exchange), sink)
        start = time.perf_counter()
        for r in records:
            pipeline.on_record(r)
        pipeline.finish()
        if to_parquet:
            sink.close()
        return time.perf_counter() - start


def bench(path: Path, repeat: int) -> dict:
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
    for name, recs in workloads.items():
        for stage, fn in (
            ("decode", lambda rs=recs: time_decode(exchange, rs)),
            ("book", lambda rs=recs: time_pipeline(exchange, rs, False)),
            ("e2e", lambda rs=recs: time_pipeline(exchange, rs, True)),
        ):
            best = min(fn() for _ in range(repeat))
            result[f"{name}_{stage}_frames_per_s"] = round(len(recs) / best)
            if name == "depth":
                result[f"{name}_{stage}_levels_per_s"] = round(levels / best)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("captures", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = args.captures or sorted(
        p
        for p in (CAPTURES / "binance-usdm").glob("*.jsonl.gz")
        if not p.name.endswith(".instruments.jsonl.gz")
    )
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    results = [bench(p, args.repeat) for p in paths]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(
            f"\n{r['capture']}: {r['records']:,} records ({r['depth_records']:,} depth, "
            f"{r['levels']:,} levels); read {r['read_records_per_s']:,} records/s"
        )
        print(f"  {'stage':<8}{'all frames/s':>16}{'depth frames/s':>18}{'levels/s':>14}")
        for stage in ("decode", "book", "e2e"):
            print(
                f"  {stage:<8}{r[f'all_{stage}_frames_per_s']:>16,}"
                f"{r[f'depth_{stage}_frames_per_s']:>18,}{r[f'depth_{stage}_levels_per_s']:>14,}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
