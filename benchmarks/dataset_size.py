"""Dataset size: bytes of the normalized Parquet dataset against the gzip'd raw capture.

Replays a recording with ``collector.replay.replay`` into a temporary directory
(the sink's current writer options, ``collector/sinks/encoding.py``) and prints
the bytes per table. For comparison in the same run, every file is also
rewritten with the writer options used before issue 12 (zstd at Arrow's default
level, a dictionary for every column), row groups unchanged.

The "gzip'd raw capture" is given three ways, all printed:

* ``corpus``: the recording file itself (the corpus's ``.jsonl.gz``: one JSON
  line per frame with its receive time, gzip -9). This is the issue's 3.69 MB
  and the denominator of the headline ratio;
* ``frames-gz9``: gzip -9 of the frame payloads alone, one per line (no
  timestamps; a lower bound for any raw capture);
* ``capture-gz``: the daemon's own ``.capture.gz`` (``CaptureWriter``, at its
  default zlib level) holding the same records.

Usage::

    python benchmarks/dataset_size.py [CAPTURE] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.capture.reader import open_recording  # noqa: E402
from collector.capture.writer import CaptureWriter  # noqa: E402
from collector.replay import replay  # noqa: E402
from collector.sinks import encoding  # noqa: E402

CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", ROOT.parent / "shared" / "captures"))
DEFAULT = CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz"


def raw_sizes(path: Path, scratch: Path) -> dict[str, int]:
    """The three reference sizes of the recording (module docstring)."""
    info, records = open_recording(path)
    frames = bytearray()
    with CaptureWriter(scratch / "capture", info.exchange, session="size") as writer:
        for record in records:
            writer.write(record)
            data = record.data
            frames += data.encode() if isinstance(data, str) else data
            frames += b"\n"
    captured = sum(p.stat().st_size for p in writer.completed_paths)
    return {
        "corpus": path.stat().st_size,
        "frames-gz9": len(gzip.compress(bytes(frames), compresslevel=9, mtime=0)),
        "capture-gz": captured,
    }


def table_bytes(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for f in sorted(root.rglob("*.parquet")):
        table = f.relative_to(root).parts[0].removeprefix("table=")
        sizes[table] = sizes.get(table, 0) + f.stat().st_size
    return sizes


def rewrite_before(root: Path, out: Path) -> None:
    """Each file of ``root`` again, with the writer options used before issue 12."""
    for f in sorted(root.rglob("*.parquet")):
        source = pq.ParquetFile(f)
        target = out / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        stats = encoding.writer_options(source.schema_arrow)["write_statistics"]
        with pq.ParquetWriter(
            target,
            source.schema_arrow,
            compression="zstd",
            write_statistics=stats,
            store_schema=True,
        ) as writer:
            for i in range(source.num_row_groups):
                writer.write_table(source.read_row_group(i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dataset-size-") as tmp:
        scratch = Path(tmp)
        raw = raw_sizes(args.capture, scratch)
        replay([args.capture], scratch / "after")
        rewrite_before(scratch / "after", scratch / "before")
        after, before = table_bytes(scratch / "after"), table_bytes(scratch / "before")
    result = {
        "capture": str(args.capture),
        "raw_bytes": raw,
        "before_bytes": before,
        "after_bytes": after,
        "before_total": sum(before.values()),
        "after_total": sum(after.values()),
    }
    for name, size in raw.items():
        result[f"before_ratio_{name}"] = round(result["before_total"] / size, 3)
        result[f"after_ratio_{name}"] = round(result["after_total"] / size, 3)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"capture: {args.capture}")
    for name, size in raw.items():
        print(f"  raw {name:<11} {size:>12,} bytes")
    print(f"{'table':<18} {'before':>12} {'after':>12} {'after/before':>13}")
    for table in sorted(before):
        b, a = before[table], after.get(table, 0)
        print(f"{table:<18} {b:>12,} {a:>12,} {a / b:>13.3f}")
    print(f"{'total':<18} {result['before_total']:>12,} {result['after_total']:>12,}")
    for name in raw:
        print(
            f"dataset / {name:<11} before {result[f'before_ratio_{name}']:.3f}"
            f"  after {result[f'after_ratio_{name}']:.3f}"
        )


if __name__ == "__main__":
    main()
