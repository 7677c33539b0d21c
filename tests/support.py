"""Shared test helpers: where the recordings are, their documented facts, in-memory runs."""

from __future__ import annotations

import os
import re
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


def rebuild_books(book: pa.Table) -> dict[str, dict[str, dict[Decimal, Decimal]]]:
    """Apply book rows in apply_seq order, as a user would; a snapshot group replaces the book."""
    rows = pylist(book.sort_by("apply_seq"))
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    last_group: dict[str, tuple[int, int]] = {}
    for row in rows:
        symbol = row["symbol"]
        sides = books.setdefault(symbol, {"bid": {}, "ask": {}})
        if row["is_snapshot"]:
            group = (row["seq"], row["ts_recv"])
            if last_group.get(symbol) != group:
                sides["bid"].clear()
                sides["ask"].clear()
                last_group[symbol] = group
        else:
            last_group.pop(symbol, None)
        level = sides[row["side"]]
        if row["size"] == 0:
            level.pop(row["price"], None)
        else:
            level[row["price"]] = row["size"]
    return books
