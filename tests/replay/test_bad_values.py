"""Bad values inside real frames: huge numbers and negative zero are reported, never stored.

A real Binance spot recording is replayed with one depth frame (well after the
bridge) or one trade edited; everything else is the exchange's own bytes.
"""

from __future__ import annotations

import json
import logging

import pytest
from support import CAPTURES, load_records, needs_captures, pylist, run_records

from collector.capture.records import Record

pytestmark = needs_captures

SPOT = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
SYMBOL = "NKNUSDT"
HUGE = "1" * 50_000_000  # a 50 MB number


@pytest.fixture(scope="module")
def spot() -> tuple[str, list[Record]]:
    return load_records(SPOT)


def edited(records: list[Record], match: str, edit, nth: int = 40) -> list[Record]:
    """``records`` with the ``nth`` frame holding ``match`` re-encoded after ``edit(payload)``."""
    hits = [i for i, r in enumerate(records) if r.kind == "recv" and match in r.data]
    i = hits[min(nth, len(hits) - 1)]
    doc = json.loads(records[i].data)
    edit(doc["data"])
    rec = records[i]
    frame = json.dumps(doc, separators=(",", ":"))
    return [*records[:i], Record(rec.kind, rec.ts, rec.conn, frame, rec.url), *records[i + 1 :]]


def edit_depth(records: list[Record], edit) -> list[Record]:
    return edited(records, f'"s":"{SYMBOL}","U":', edit)


def quality(pipeline) -> list[dict]:
    return pylist(pipeline.sink.table("quality"))


def test_a_50mb_price_is_one_short_detail(spot) -> None:
    exchange, records = spot
    bad = edit_depth(records, lambda d: d["b"].insert(0, [HUGE, "1.0"]))
    pipeline = run_records(exchange, bad)
    events = quality(pipeline)
    assert max(len(e["detail"]) for e in events) < 1000
    (malformed,) = [e for e in events if e["kind"] == "malformed"]
    assert malformed["symbol"] == SYMBOL and "…(50000002 chars)" in malformed["detail"]


def test_a_50mb_size_is_one_short_detail_and_log_line(spot, caplog) -> None:
    exchange, records = spot
    bad = edit_depth(records, lambda d: d["b"].insert(0, ["0.35", HUGE]))
    with caplog.at_level(logging.WARNING):
        pipeline = run_records(exchange, bad)
    assert caplog.records, "the dropped rows are logged"
    assert max(len(r.getMessage()) for r in caplog.records) < 1000
    assert any("…(50000002 chars)" in r.getMessage() for r in caplog.records)
    events = quality(pipeline)
    assert max(len(e["detail"]) for e in events) < 1000
    assert any(e["kind"] == "malformed" and "…(50000002 chars)" in e["detail"] for e in events)
    # The summary (replay --json) counts the book rows written, not those dropped.
    book = pipeline.sink.table("book")
    written = book["symbol"].to_pylist().count(SYMBOL)
    assert 0 < pipeline.summary()[SYMBOL].book_rows == written


@pytest.mark.parametrize("text", ["-0", "-0.0", "-0.00000000"])
@pytest.mark.parametrize("field", [0, 1], ids=["price", "size"])
def test_negative_zero_in_a_book_level_is_malformed(spot, text: str, field: int) -> None:
    exchange, records = spot
    clean = run_records(exchange, records)
    level = ["0.35000000", "1.00000000"]
    level[field] = text
    pipeline = run_records(exchange, edit_depth(records, lambda d: d["b"].insert(0, level)))
    events = [e for e in quality(pipeline) if e["symbol"] == SYMBOL]
    malformed = [e for e in events if e["kind"] == "malformed"]
    assert len(malformed) == 1 and repr(text) in malformed[0]["detail"]
    assert "resync" in [e["kind"] for e in events]
    book = pylist(pipeline.sink.table("book"))
    assert all(r["price"] != 0 for r in book)
    # Fewer rows than the clean run: the edited message and what follows until a resync.
    assert len(book) < clean.sink.table("book").num_rows


def test_negative_zero_trade_price_is_dropped_with_an_event(spot) -> None:
    exchange, records = spot
    bad = edited(records, '"e":"aggTrade"', lambda d: d.update(p="-0.0"), nth=0)
    clean = run_records(exchange, records).sink.table("trades")
    pipeline = run_records(exchange, bad)
    trades = pipeline.sink.table("trades")
    assert (trades.num_rows if trades is not None else 0) == clean.num_rows - 1
    (event,) = [e for e in quality(pipeline) if e["kind"] == "malformed"]
    assert "'-0.0'" in event["detail"] and "trades" in event["detail"]
