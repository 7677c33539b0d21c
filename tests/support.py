"""Shared test helpers: where the recordings are, their documented facts, in-memory runs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import adapters
from collector.capture.reader import open_recording
from collector.capture.records import Record
from collector.pipeline import Pipeline

REPO_ROOT = Path(__file__).resolve().parent.parent
CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", REPO_ROOT.parent / "shared" / "captures"))

needs_captures = pytest.mark.skipif(
    not (CAPTURES / "README.md").exists(),
    reason=f"shared captures not found at {CAPTURES} (set COLLECTOR_CAPTURES to their folder)",
)

BINANCE_FAMILY = ("binance-spot", "binance-us", "binance-tr", "binance-usdm", "binance-coinm")


def recordings(prefixes: tuple[str, ...]) -> list[Path]:
    """Stream recordings (not instrument sidecars) of the given exchange folders."""
    if not CAPTURES.exists():
        return []
    return sorted(
        p
        for prefix in prefixes
        for p in (CAPTURES / prefix).glob("*.jsonl.gz")
        if not p.name.endswith(".instruments.jsonl.gz")
    )


@dataclass(frozen=True)
class BinanceFacts:
    """One symbol's 'Known facts' line of the captures README."""

    symbol: str
    depth_frames: int
    snapshot_id: int
    dropped: int
    applied: int
    gaps: int
    bbo_after_bridge: int
    bbo_matched: int
    final_id: int
    bid: tuple[Decimal, Decimal]
    ask: tuple[Decimal, Decimal]


_FACT = re.compile(
    r"- (?P<symbol>\S+) \((?:spot|futures)[^)]*\)\): (?P<depth>\d+) depth frames; "
    r"REST snapshot lastUpdateId=(?P<snap>\d+); (?P<dropped>\d+) older frames dropped; .*?"
    r"chain over (?P<applied>\d+) applied frames has \*\*(?P<gaps>\d+) gaps\*\*;"
    r"(?: \d+ bookTicker frames, \d+ with `u` equal to a depth frame's `u`, of which "
    r"(?P<after>\d+) are after the bridge and \*\*(?P<matched>\d+)/\d+\*\* match[^;]*;)?"
    r" final book \(u=(?P<final>\d+)\): bid (?P<bp>\S+) x (?P<bs>\S+), "
    r"ask (?P<ap>\S+) x (?P<as>\d+(?:\.\d+)?)"
)


def binance_facts(recording: Path) -> dict[str, BinanceFacts]:
    """Parse the README's facts for one recording, keyed by symbol."""
    readme = (CAPTURES / "README.md").read_text()
    rel = recording.relative_to(CAPTURES).as_posix()
    section = readme.split(f"### `{rel}`", 1)[1].split("\n### ", 1)[0]
    facts = {}
    for m in _FACT.finditer(section):
        facts[m["symbol"]] = BinanceFacts(
            symbol=m["symbol"],
            depth_frames=int(m["depth"]),
            snapshot_id=int(m["snap"]),
            dropped=int(m["dropped"]),
            applied=int(m["applied"]),
            gaps=int(m["gaps"]),
            bbo_after_bridge=int(m["after"] or 0),
            bbo_matched=int(m["matched"] or 0),
            final_id=int(m["final"]),
            bid=(Decimal(m["bp"]), Decimal(m["bs"])),
            ask=(Decimal(m["ap"]), Decimal(m["as"])),
        )
    return facts


class MemorySink:
    """Collects every table a pipeline writes, for tests that need no files."""

    def __init__(self) -> None:
        self.tables: dict[str, list[pa.Table]] = {}

    def write(self, table: str, exchange: str, data: pa.Table) -> None:
        self.tables.setdefault(table, []).append(data)

    def table(self, name: str) -> pa.Table | None:
        parts = self.tables.get(name)
        return pa.concat_tables(parts) if parts else None


def load_records(path: Path) -> tuple[str, list[Record]]:
    info, records = open_recording(path)
    assert info.exchange
    return info.exchange, list(records)


def run_records(exchange: str, records: list[Record], flush_rows: int = 50_000) -> Pipeline:
    """Run records through a fresh pipeline into a ``MemorySink``; returns the finished pipeline."""
    pipeline = Pipeline(adapters.create(exchange), MemorySink(), flush_rows=flush_rows)
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    return pipeline


def pylist(table: pa.Table) -> list[dict]:
    """``to_pylist`` with timestamps as int ns (Python datetimes cannot hold nanoseconds)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.int64()))
    return table.to_pylist()


def snapshot_http(exchange: str, records: list[Record], symbol: str, ts: int) -> Record:
    """A REST snapshot of ``symbol``'s book after a clean run of ``records``, received at ``ts``.

    Hand-made faults need a later snapshot to recover from; the engine's own book
    after the clean prefix is one that is known right at its update id.
    """
    sync = run_records(exchange, records).engine.symbols[symbol]
    body = {
        "lastUpdateId": sync.last_id,
        "bids": [[str(p), s] for p, s in sync.book.bids.top(10_000)],
        "asks": [[str(p), s] for p, s in sync.book.asks.top(10_000)],
    }
    path = "/fapi/v1/depth" if exchange == "binance-usdm" else "/api/v3/depth"
    return Record("http", ts, 0, json.dumps(body), f"https://x{path}?symbol={symbol}&limit=1000")


Sides = dict[str, dict[Decimal, Decimal]]


def book_states(rows: list[dict]) -> Iterator[tuple[int, Sides]]:
    """``(seq, book)`` after each message, applying one symbol's rows as a user would.

    ``rows`` are sorted by ``apply_seq``. A maximal run of snapshot rows with the
    same ``(seq, ts_recv)`` replaces the book; other rows set absolute sizes (0
    deletes). The yielded book is live: copy it to keep it.
    """
    sides: Sides = {"bid": {}, "ask": {}}
    group = None
    for i, row in enumerate(rows):
        key = (row["seq"], row["ts_recv"]) if row["is_snapshot"] else None
        if key is not None and key != group:
            sides = {"bid": {}, "ask": {}}
        group = key
        if row["size"] == 0:
            sides[row["side"]].pop(row["price"], None)
        else:
            sides[row["side"]][row["price"]] = row["size"]
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if nxt is None or nxt["seq"] != row["seq"] or nxt["apply_seq"] != row["apply_seq"] + 1:
            yield row["seq"], sides


def rebuild_books(book: pa.Table) -> dict[str, Sides]:
    """Every symbol's final book, rebuilt from its rows in ``apply_seq`` order."""
    rows = pylist(book.sort_by("apply_seq"))
    books: dict[str, Sides] = {}
    for symbol in {r["symbol"] for r in rows}:
        books[symbol] = {"bid": {}, "ask": {}}
        for _, sides in book_states([r for r in rows if r["symbol"] == symbol]):
            books[symbol] = sides
    return books
