"""The raw capture's cost per record and size at each level (``[capture] compression_level``).

Every record of a recording goes through the capture writer's own stream
(``collector.capture.writer.CaptureStream``: msgpack, deflate, a checkpoint and a
sync flush every ``--flush-every`` records, as the daemon flushes), at each level,
with the deflate the writer uses (zlib-ng) and with the standard library's zlib in
its place; the CPU time per record (best of ``--repeat``) and the bytes against the
records' msgpack bytes are printed. One core.

Usage::

    python benchmarks/capture_compression.py [CAPTURE] [--levels 1,4,5,6,9] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from pathlib import Path
from types import ModuleType

import msgspec

from collector.capture import writer
from collector.capture.reader import open_recording
from collector.capture.records import DEFAULT_COMPRESSION_LEVEL, Record
from collector.capture.writer import CaptureStream

BENCH = Path(__file__).resolve().parent
DEFAULT = BENCH.parent.parent / "shared" / "captures" / "binance-usdm" / "btcusdt_20240808.jsonl.gz"


#: The deflate modules compared: the writer's own, and the standard library's.
CODECS: dict[str, ModuleType] = {"zlib-ng": writer.deflate, "zlib": zlib}


def compress(
    records: list[Record], level: int, flush_every: int, codec: ModuleType = writer.deflate
) -> tuple[float, int]:
    """(CPU seconds, compressed bytes) of writing ``records`` as one capture file."""
    writer.deflate = codec  # the stream compresses through the writer module's name
    try:
        encoder = msgspec.msgpack.Encoder()
        start = time.process_time()
        stream = CaptureStream(encoder.encode({"format": "bench"}), level)
        size = 0
        for n, record in enumerate(records, 1):
            if stream.append(encoder, record):  # a full batch, compressed here (no thread)
                size += len(stream.compress())
            if n % flush_every == 0:
                size += len(stream.flush())
        size += len(stream.finish())
        return time.process_time() - start, size
    finally:
        writer.deflate = CODECS["zlib-ng"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--levels", default="1,4,5,6,9")
    parser.add_argument("--flush-every", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    records = list(open_recording(args.capture)[1])
    encoder = msgspec.msgpack.Encoder()
    raw = sum(len(encoder.encode(r)) for r in records)
    print(f"{args.capture.name}: {len(records):,} records, {raw:,} msgpack bytes")
    print(f"{'level':>7}" + "".join(f"{c + ' us/rec':>16}{c + ' ratio':>15}" for c in CODECS))
    for level in (int(x) for x in args.levels.split(",")):
        line = f"{level:>7}"
        for codec in CODECS.values():
            runs = [compress(records, level, args.flush_every, codec) for _ in range(args.repeat)]
            seconds, size = min(runs)
            line += f"{1e6 * seconds / len(records):>16.2f}{size / raw:>15.3f}"
        mark = " (default)" if level == DEFAULT_COMPRESSION_LEVEL else ""
        print(line + mark)
    return 0


if __name__ == "__main__":
    sys.exit(main())
