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

``--variants`` also rewrites the dataset with each candidate layout of
``VARIANTS`` (encodings, zstd level, row-group size) and prints the bytes per
table, the ratio to ``corpus`` and the seconds spent writing (one core, best of
``--repeat``; the tables are in memory, so this is encoding and compression alone).

Usage::

    python benchmarks/dataset_size.py [CAPTURE] [--json] [--variants [--repeat 3]]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
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


def _current(table_schema: pa.Schema) -> dict[str, Any]:
    return encoding.writer_options(table_schema)


def _zstd(level: int) -> Callable[[pa.Schema], dict[str, Any]]:
    return lambda s: {**encoding.writer_options(s), "compression_level": level}


def _codec(name: str, level: int) -> Callable[[pa.Schema], dict[str, Any]]:
    return lambda s: {**encoding.writer_options(s, name), "compression_level": level}


def _recode(kinds: Callable[[pa.Field], bool], how: str) -> Callable[[pa.Schema], dict[str, Any]]:
    """The sink's options with the columns ``kinds`` selects encoded ``how`` instead."""

    def options(table_schema: pa.Schema) -> dict[str, Any]:
        opts = encoding.writer_options(table_schema)
        chosen = {f.name for f in table_schema if kinds(f)}
        if how == "DICTIONARY":
            opts["column_encoding"] = {
                k: v for k, v in opts["column_encoding"].items() if k not in chosen
            }
            opts["use_dictionary"] = sorted(set(opts["use_dictionary"]) | chosen)
        else:
            opts["column_encoding"] = {**opts["column_encoding"], **dict.fromkeys(chosen, how)}
            opts["use_dictionary"] = [c for c in opts["use_dictionary"] if c not in chosen]
        return opts

    return options


def _is_decimal(f: pa.Field) -> bool:
    return pa.types.is_decimal(f.type)


def _is_time(f: pa.Field) -> bool:
    return pa.types.is_timestamp(f.type) and f.name != "expiration"


def _is_int(f: pa.Field) -> bool:
    return pa.types.is_integer(f.type)


#: name -> (writer options for a table schema, rows per row group; None = as the sink wrote).
VARIANTS: dict[str, tuple[Callable[[pa.Schema], dict[str, Any]], int | None]] = {
    "current": (_current, None),
    "zstd-1": (_zstd(1), None),
    "zstd-6": (_zstd(6), None),
    "zstd-9": (_zstd(9), None),
    "zstd-19": (_zstd(19), None),
    "brotli-11": (_codec("brotli", 11), None),
    "gzip-9": (_codec("gzip", 9), None),
    "decimals-BYTE_STREAM_SPLIT": (_recode(_is_decimal, "BYTE_STREAM_SPLIT"), None),
    "decimals-PLAIN": (_recode(_is_decimal, "PLAIN"), None),
    "times-BYTE_STREAM_SPLIT": (_recode(_is_time, "BYTE_STREAM_SPLIT"), None),
    "times-DICTIONARY": (_recode(_is_time, "DICTIONARY"), None),
    "ints-BYTE_STREAM_SPLIT": (_recode(_is_int, "BYTE_STREAM_SPLIT"), None),
    "row-groups-64Ki": (_current, 1 << 16),
    "row-groups-1Mi": (_current, 1 << 20),
    "row-groups-1Mi-zstd-19": (_zstd(19), 1 << 20),
}


def rewrite(
    root: Path, out: Path, options: Callable[[pa.Schema], dict[str, Any]], rows: int | None
) -> float:
    """Each file of ``root`` again under ``out`` with ``options``; seconds spent writing."""
    spent = 0.0
    for f in sorted(root.rglob("*.parquet")):
        source = pq.ParquetFile(f)
        groups = [source.read_row_group(i) for i in range(source.num_row_groups)]
        target = out / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with pq.ParquetWriter(target, source.schema_arrow, **options(source.schema_arrow)) as w:
            if rows is None:
                for group in groups:
                    w.write_table(group)
            else:
                w.write_table(pa.concat_tables(groups), row_group_size=rows)
        spent += time.perf_counter() - start
    return spent


def variants(root: Path, scratch: Path, corpus: int, repeat: int) -> list[dict[str, Any]]:
    """Bytes per table, total, ratio to ``corpus`` and write seconds (best of ``repeat``)."""
    pa.set_cpu_count(1)
    results = []
    for name, (options, rows) in VARIANTS.items():
        seconds = min(rewrite(root, scratch / name, options, rows) for _ in range(repeat))
        sizes = table_bytes(scratch / name)
        total = sum(sizes.values())
        results.append(
            {
                "variant": name,
                **sizes,
                "total": total,
                "ratio_corpus": round(total / corpus, 3),
                "write_s": round(seconds, 3),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--variants", action="store_true", help="also measure every layout in VARIANTS"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="writes per variant; the fastest is reported"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dataset-size-") as tmp:
        scratch = Path(tmp)
        raw = raw_sizes(args.capture, scratch)
        replay([args.capture], scratch / "after")
        rewrite_before(scratch / "after", scratch / "before")
        after, before = table_bytes(scratch / "after"), table_bytes(scratch / "before")
        tried = (
            variants(scratch / "after", scratch / "variants", raw["corpus"], args.repeat)
            if args.variants
            else []
        )
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
    if tried:
        result["variants"] = tried
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
    if tried:
        heads = ("book", 11), ("bbo", 10), ("trades", 9), ("total", 11), ("/corpus", 9)
        print(f"\n{'variant':<28}" + "".join(f"{h:>{w}}" for h, w in heads) + f"{'write s':>9}")
        for v in tried:
            print(
                f"{v['variant']:<28}{v.get('book', 0):>11,}{v.get('bbo', 0):>10,}"
                f"{v.get('trades', 0):>9,}{v['total']:>11,}{v['ratio_corpus']:>9.3f}"
                f"{v['write_s']:>9.3f}"
            )


if __name__ == "__main__":
    main()
