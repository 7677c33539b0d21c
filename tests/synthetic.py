"""Small synthetic datasets written by the real sink: many files, exact decimals, two days.

Compaction, object-storage and query tests need a dataset that does not depend on
the shared recordings; rows here have awkward exact decimals (18 fractional digits,
values beyond float precision) so any float round trip would show.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from collector import schema
from collector.sinks.parquet import ParquetSink

DAY = "2026-11-27"
DAY_NS = 1_795_737_600 * 10**9  # 2026-11-27T00:00:00Z
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def _dec(rng: random.Random, whole: int) -> Decimal:
    return Decimal(f"{rng.randrange(whole)}.{rng.randrange(10**18):018d}")


def _ts(ns: list[int]) -> pa.Array:
    return pa.array(ns, pa.int64()).cast(schema.TIMESTAMP)


def trades(rng: random.Random, n: int, start_ns: int, first_id: int = 0) -> pa.Table:
    symbols = [rng.choice(SYMBOLS) for _ in range(n)]
    ts = sorted(start_ns + rng.randrange(60 * 10**9) for _ in range(n))
    return pa.table(
        {
            "symbol": symbols,
            "market": [s[:-4] + "-USDT" for s in symbols],
            "ts_exchange": _ts([t - 1_000_000 for t in ts]),
            "ts_recv": _ts(ts),
            "trade_id": [str(first_id + i) for i in range(n)],
            "side": [rng.choice(("buy", "sell")) for _ in range(n)],
            "price": pa.array([_dec(rng, 90_000) for _ in range(n)], schema.DECIMAL),
            "size": pa.array([_dec(rng, 5) for _ in range(n)], schema.DECIMAL),
        }
    )


def book(rng: random.Random, n: int, start_ns: int, apply_from: int) -> pa.Table:
    symbols = [rng.choice(SYMBOLS) for _ in range(n)]
    ts = sorted(start_ns + rng.randrange(60 * 10**9) for _ in range(n))
    # Several rows share a ts_recv (one message): apply_seq must order them.
    ts = [ts[i - i % 3] for i in range(n)]
    return pa.table(
        {
            "symbol": symbols,
            "market": [s[:-4] + "-USDT" for s in symbols],
            "ts_exchange": _ts(ts),
            "ts_recv": _ts(ts),
            "seq": list(range(n)),
            "apply_seq": list(range(apply_from + n, apply_from, -1)),  # against ts order
            "is_snapshot": [False] * n,
            "side": [rng.choice(("bid", "ask")) for _ in range(n)],
            "price": pa.array([_dec(rng, 90_000) for _ in range(n)], schema.DECIMAL),
            "size": pa.array([_dec(rng, 5) for _ in range(n)], schema.DECIMAL),
        }
    )


def quality(rng: random.Random, n: int, start_ns: int) -> pa.Table:
    ts = sorted(start_ns + rng.randrange(60 * 10**9) for _ in range(n))
    return pa.table(
        {
            "symbol": [rng.choice((*SYMBOLS, None)) for _ in range(n)],
            "ts_recv": _ts(ts),
            "kind": [rng.choice(("gap", "resync", "connect")) for _ in range(n)],
            "detail": [f"event {i}" for i in range(n)],
            "seq": pa.array([rng.choice((None, i)) for i in range(n)], pa.int64()),
        }
    )


def write_dataset(root: Path | str, *, minutes: int = 30, rows: int = 200, seed: int = 1) -> int:
    """Write ``minutes`` one-minute files per table into ``DAY`` (plus a row on the next
    day); returns the number of files. Two instances write alternate minutes."""
    rng = random.Random(seed)
    sinks = [ParquetSink(root, instance=str(i), rotate_seconds=60) for i in range(2)]
    for minute in range(minutes):
        sink = sinks[minute % 2]
        start = DAY_NS + minute * 60 * 10**9
        sink.write("trades", "binance-spot", trades(rng, rows, start, minute * rows))
        sink.write("book", "binance-spot", book(rng, rows, start, minute * rows))
        sink.write("quality", "binance-spot", quality(rng, 5, start))
    sinks[0].write("trades", "binance-spot", trades(rng, 3, DAY_NS + 86_400 * 10**9, 10**6))
    for sink in sinks:
        sink.close()
    return sum(len(s.published) for s in sinks)
