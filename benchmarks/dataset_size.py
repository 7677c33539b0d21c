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

    python benchmarks/dataset_size.py [CAPTURE] [--json] [--variants [--repeat 3] [--only A,B]]
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
from typing import Any, NamedTuple

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


class Variant(NamedTuple):
    """A layout to measure: writer options, rows per row group (None: as the sink wrote)."""

    options: Callable[[pa.Schema], dict[str, Any]]
    rows: int | None = None
    narrow: bool = False
    """Decimals at their smallest exact scale (``narrowed``): changes the column types."""


def _narrow(level: int) -> Callable[[pa.Schema], dict[str, Any]]:
    """Narrowed decimals stored as INT64 and byte-stream split, at zstd ``level``."""

    def options(table_schema: pa.Schema) -> dict[str, Any]:
        opts = _recode(_is_decimal, "BYTE_STREAM_SPLIT")(table_schema)
        return {**opts, "store_decimal_as_integer": True, "compression_level": level}

    return options


def narrowed(data: pa.Table) -> pa.Table:
    """Each decimal column cast to ``decimal(18, s)``, ``s`` the smallest exact scale.

    The values are unchanged (the cast is safe: it fails rather than round), the
    type is not: ``decimal128(38, 18)`` is the schema's, so this measures what
    the fixed scale costs rather than a layout the sink may write. With 18
    fractional digits a price of 61659.7 is stored as 616597 * 10**17, whose
    low bytes look random; at scale 1 it is 616597, and byte-stream split then
    leaves its high bytes as runs of zeros.
    """
    for i, f in enumerate(data.schema):
        if not pa.types.is_decimal(f.type):
            continue
        for scale in range(19):
            try:
                column = data.column(i).cast(pa.decimal128(18, scale))
            except pa.ArrowInvalid:
                continue
            data = data.set_column(i, pa.field(f.name, column.type, f.nullable), column)
            break
    return data


VARIANTS: dict[str, Variant] = {
    "current": Variant(_current),
    "zstd-1": Variant(_zstd(1)),
    "zstd-6": Variant(_zstd(6)),
    "zstd-9": Variant(_zstd(9)),
    "zstd-19": Variant(_zstd(19)),
    "brotli-11": Variant(_codec("brotli", 11)),
    "gzip-9": Variant(_codec("gzip", 9)),
    "decimals-BYTE_STREAM_SPLIT": Variant(_recode(_is_decimal, "BYTE_STREAM_SPLIT")),
    "decimals-PLAIN": Variant(_recode(_is_decimal, "PLAIN")),
    "times-BYTE_STREAM_SPLIT": Variant(_recode(_is_time, "BYTE_STREAM_SPLIT")),
    "times-DICTIONARY": Variant(_recode(_is_time, "DICTIONARY")),
    "ints-BYTE_STREAM_SPLIT": Variant(_recode(_is_int, "BYTE_STREAM_SPLIT")),
    "row-groups-64Ki": Variant(_current, 1 << 16),
    "row-groups-1Mi": Variant(_current, 1 << 20),
    "row-groups-1Mi-zstd-19": Variant(_zstd(19), 1 << 20),
    # Not allowed by the schema (they change the decimal types): what the scale costs.
    "narrow-decimals-INT64-BSS": Variant(_narrow(encoding.ZSTD_LEVEL), narrow=True),
    "narrow-decimals-INT64-BSS-zstd-9": Variant(_narrow(9), narrow=True),
    "narrow-decimals-INT64-BSS-1Mi-zstd-9": Variant(_narrow(9), 1 << 20, narrow=True),
    "narrow-decimals-INT64-BSS-zstd-15": Variant(_narrow(15), narrow=True),
}


def rewrite(root: Path, out: Path, variant: Variant) -> float:
    """Each file of ``root`` again under ``out`` as ``variant``; seconds spent writing."""
    spent = 0.0
    for f in sorted(root.rglob("*.parquet")):
        source = pq.ParquetFile(f)
        groups = [source.read_row_group(i) for i in range(source.num_row_groups)]
        if variant.narrow:
            whole = narrowed(pa.concat_tables(groups))  # one scale per column and file
            starts = [sum(len(g) for g in groups[:i]) for i in range(len(groups))]
            groups = [whole.slice(at, len(g)) for at, g in zip(starts, groups, strict=True)]
        target = out / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        table_schema = groups[0].schema
        start = time.perf_counter()
        with pq.ParquetWriter(target, table_schema, **variant.options(table_schema)) as w:
            if variant.rows is None:
                for group in groups:
                    w.write_table(group)
            else:
                w.write_table(pa.concat_tables(groups), row_group_size=variant.rows)
        spent += time.perf_counter() - start
    return spent


def variants(
    root: Path, scratch: Path, corpus: int, repeat: int, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Bytes per table, total, ratio to ``corpus`` and write seconds (best of ``repeat``)."""
    pa.set_cpu_count(1)
    results = []
    for name in only or list(VARIANTS):
        seconds = min(rewrite(root, scratch / name, VARIANTS[name]) for _ in range(repeat))
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
    parser.add_argument(
        "--only", help="comma-separated VARIANTS to measure (default: all)", default=""
    )
    args = parser.parse_args()
    only = [v for v in args.only.split(",") if v]
    unknown = sorted(set(only) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory(prefix="dataset-size-") as tmp:
        scratch = Path(tmp)
        raw = raw_sizes(args.capture, scratch)
        replay([args.capture], scratch / "after")
        rewrite_before(scratch / "after", scratch / "before")
        after, before = table_bytes(scratch / "after"), table_bytes(scratch / "before")
        tried = (
            variants(scratch / "after", scratch / "variants", raw["corpus"], args.repeat, only)
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
