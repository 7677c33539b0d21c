"""book_snapshots: fixed-interval top-N samples taken from the exact engine book.

The reference here is computed outside the sampler: the same recording is fed
record by record to a pipeline without sampling, and before each book record
the test itself reads the engine's top levels for every grid instant passed.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
from support import CAPTURES, MemorySink, load_records, needs_captures, pylist

import adapters
from collector.pipeline import Pipeline

pytestmark = needs_captures

CASES = {
    "binance-spot/BINANCE.jsonl.gz": "NKNUSDT",
    "binance-usdm/BINANCE_FUTURES.jsonl.gz": "SUSHIUSDT",
}
DEPTH, INTERVAL_MS = 10, 250


def reference(exchange: str, records: list) -> list[tuple]:
    step = INTERVAL_MS * 1_000_000
    pipeline = Pipeline(adapters.create(exchange), MemorySink())
    next_instant: dict[str, int] = {}
    rows = []
    for record in records:
        symbol = _book_symbol(record)
        if symbol is not None:
            sync = pipeline.engine.symbols.get(symbol)
            if symbol not in next_instant:
                next_instant[symbol] = -(-record.ts // step) * step
            else:
                ok = sync is not None and sync.state.value == "synced"
                bids = [(p, Decimal(s)) for p, s in sync.book.bids.top(DEPTH)] if ok else []
                asks = [(p, Decimal(s)) for p, s in sync.book.asks.top(DEPTH)] if ok else []
                while next_instant[symbol] < record.ts:
                    rows.append((symbol, next_instant[symbol], ok, bids, asks))
                    next_instant[symbol] += step
        pipeline.on_record(record)
    return rows


def _book_symbol(record) -> str | None:  # type: ignore[no-untyped-def]
    if record.kind == "http" and "/depth" in record.url:
        return record.url.split("symbol=")[1].split("&")[0]
    if record.kind == "recv" and '"depthUpdate"' in record.data:
        return record.data.split('"s":"')[1].split('"')[0]
    return None


@pytest.mark.parametrize("name,busy", CASES.items())
def test_samples_equal_the_engine_book_at_each_instant(name: str, busy: str) -> None:
    exchange, records = load_records(CAPTURES / name)
    sampled = Pipeline(adapters.create(exchange), MemorySink(), snapshots=[(DEPTH, INTERVAL_MS)])
    for record in records:
        sampled.on_record(record)
    sampled.finish()
    table = sampled.sink.table(f"book_snapshots_{DEPTH}x{INTERVAL_MS}ms")
    assert table.schema.field("bid_price").type == pa.list_(pa.decimal128(38, 18), DEPTH)
    got = []
    for row in pylist(table):
        bids = [
            (p, s) for p, s in zip(row["bid_price"], row["bid_size"], strict=True) if p is not None
        ]
        asks = [
            (p, s) for p, s in zip(row["ask_price"], row["ask_size"], strict=True) if p is not None
        ]
        got.append((row["symbol"], row["ts_recv"], row["verified"], bids, asks))
        assert len(row["bid_price"]) == DEPTH  # fixed shape, nulls where shallower
    want = reference(exchange, records)
    assert len(got) > 100
    assert sorted(got, key=lambda r: (r[0], r[1])) == sorted(want, key=lambda r: (r[0], r[1]))
    assert sum(r[2] for r in got if r[0] == busy) > 50  # a busy symbol is verified most of the time
