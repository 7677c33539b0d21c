"""The adapter conformance suite: every adapter over every recording of its exchange.

Nothing here names a venue. A new adapter is covered by registering it (one
line in ``adapters.REGISTRY``) and putting its recordings in the captures
folder of the same name; the file's facts in the captures README (checksums
verified, sequence gaps) become assertions automatically.

For each recording it asserts that:

* every frame decodes to a known message type (no ``drift`` from the recording);
* every book the recording streams gets in sync (an empty book writes no rows);
* the checksums verified and failed, and the sequence gaps, are exactly the
  README's counts for that file (and with no stated facts: nothing fails);
* no crossed or negative book is ever written as good: rebuilt from the
  written rows in ``apply_seq`` order, each state has best bid < best ask;
* trades have a positive price and size and a taker side;
* exchange times are sane: within minutes of receipt, never ahead of it by
  more than a clock skew;
* every table round-trips through Parquet unchanged (exact decimals).
"""

from __future__ import annotations

import heapq
import io
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import CAPTURES, MemorySink, load_records, needs_captures, pylist

import adapters
from collector.pipeline import Pipeline
from collector.replay import load_instruments

pytestmark = needs_captures

#: An exchange time this far before its receipt is not a clock problem but a bug.
MAX_LAG_NS = 5 * 60 * 1_000_000_000
#: ...and this far after it (the recorder's clock behind the venue's) neither.
MAX_SKEW_NS = 10 * 1_000_000_000


def _cases() -> list[tuple[str, Path]]:
    return [
        (slug, path)
        for slug in sorted(adapters.REGISTRY)
        for path in sorted((CAPTURES / slug).glob("*.jsonl.gz"))
        if not path.name.endswith(".instruments.jsonl.gz")
    ]


def _section(path: Path) -> str:
    """The captures README's paragraph on one file."""
    readme = (CAPTURES / "README.md").read_text()
    name = f"### `{path.parent.name}/{path.name}`"
    start = readme.find(name)
    if start < 0:
        return ""
    end = readme.find("\n### ", start + len(name))
    return readme[start : end if end > 0 else None]


def stated_checksums(section: str) -> tuple[int, int] | None:
    """(verified, total) from the file's "**N/M verify**" fact, if it states one."""
    found = re.search(r"\*\*(\d+)/(\d+) verify\*\*", section)
    return (int(found[1]), int(found[2])) if found else None


def stated_gaps(section: str) -> int | None:
    """Total of every "N gaps" the file's facts state, if any."""
    counts = [int(n) for n in re.findall(r"(\d+) gaps\b", section.replace("**", ""))]
    return sum(counts) if counts else None


def _run(slug: str, path: Path) -> tuple[Pipeline, MemorySink]:
    adapter = adapters.create(slug)
    load_instruments(adapter, path)
    sink = MemorySink()
    pipeline = Pipeline(adapter, sink)
    for record in load_records(path)[1]:
        pipeline.on_record(record)
    pipeline.finish()
    return pipeline, sink


@pytest.mark.parametrize(("slug", "path"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_adapter_conforms_on_recording(slug: str, path: Path) -> None:
    pipeline, sink = _run(slug, path)
    stats = {s: sym.stats for s, sym in pipeline.engine.symbols.items()}
    section = _section(path)

    drift = {k: n for k, n in pipeline.problems.items() if k.startswith("drift")}
    assert not drift, f"{path.name}: frames of unknown type: {drift}"

    books = [s for s, n in pipeline.frames_by_symbol.items() if s in stats and n]
    unsynced = [s for s in books if not stats[s].snapshots_applied]
    assert not unsynced, f"{path.name}: books never in sync: {unsynced}"

    verified = sum(s.checksums_verified for s in stats.values())
    failed = sum(s.checksums_failed for s in stats.values())
    checksums = stated_checksums(section)
    if checksums is None:
        assert failed == 0
    else:
        assert (verified, verified + failed) == checksums, path.name
    gaps = sum(s.gaps for s in stats.values())
    assert gaps == (stated_gaps(section) or 0), path.name

    book = sink.table("book")
    if book is not None:
        _assert_never_crossed(book)
    trades = sink.table("trades")
    if trades is not None:
        _assert_sane_trades(trades)
    for name in ("book", "trades", "bbo"):
        table = sink.table(name)
        if table is not None:
            _assert_sane_times(table, name)
    for name, parts in sink.tables.items():
        _assert_parquet_round_trip(pa.concat_tables(parts), name)


def _assert_never_crossed(book: pa.Table) -> None:
    """Replay the written rows per symbol; after every message best bid < best ask.

    The same message boundaries as ``support.book_states``, with lazy heaps for
    the best prices so that deep books (5000 levels a side) stay cheap to check.
    """
    assert pa.compute.min(book["size"]).as_py() >= 0, "negative size written"
    columns = ["symbol", "seq", "ts_recv", "apply_seq", "is_snapshot", "side", "price", "size"]
    by_symbol: dict[str, list[dict]] = {}
    for row in pylist(book.select(columns).sort_by("apply_seq")):
        by_symbol.setdefault(row["symbol"], []).append(row)
    for symbol, rows in by_symbol.items():
        levels: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}
        heaps: dict[str, list[Decimal]] = {"bid": [], "ask": []}
        group = None
        for i, row in enumerate(rows):
            key = (row["seq"], row["ts_recv"]) if row["is_snapshot"] else None
            if key is not None and key != group:
                levels, heaps = {"bid": {}, "ask": {}}, {"bid": [], "ask": []}
            group = key
            side, price = row["side"], row["price"]
            if row["size"] == 0:
                levels[side].pop(price, None)
            else:
                if price not in levels[side]:
                    heapq.heappush(heaps[side], -price if side == "bid" else price)
                levels[side][price] = row["size"]
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            if nxt is None or nxt["seq"] != row["seq"] or nxt["apply_seq"] != row["apply_seq"] + 1:
                bid = _best(heaps["bid"], levels["bid"], -1)
                ask = _best(heaps["ask"], levels["ask"], 1)
                if bid is not None and ask is not None:
                    assert bid < ask, f"{symbol} crossed at update {row['seq']}: {bid} >= {ask}"


def _best(heap: list[Decimal], side: dict[Decimal, Decimal], sign: int) -> Decimal | None:
    while heap:
        price = heap[0] * sign
        if price in side:
            return price
        heapq.heappop(heap)
    return None


def _assert_sane_trades(trades: pa.Table) -> None:
    for row in trades.select(["symbol", "price", "size", "side"]).to_pylist():
        assert row["price"] > Decimal(0) and row["size"] > Decimal(0), row
        assert row["side"] in ("buy", "sell"), row


def _assert_sane_times(table: pa.Table, name: str) -> None:
    ts = table.select(["ts_exchange", "ts_recv"]).cast(
        pa.schema([("ts_exchange", pa.int64()), ("ts_recv", pa.int64())])
    )
    for exchange, received in zip(
        ts["ts_exchange"].to_pylist(), ts["ts_recv"].to_pylist(), strict=True
    ):
        if exchange is None:
            continue
        assert -MAX_SKEW_NS < received - exchange < MAX_LAG_NS, (name, exchange, received)


def _assert_parquet_round_trip(table: pa.Table, name: str) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    again = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert again.equals(table), name


def test_readme_fact_parsers() -> None:
    """The two regexes read the fact styles the captures README uses."""
    assert stated_checksums("Kraken book checksums: **1167/1167 verify** (all)") == (1167, 1167)
    assert stated_gaps("chain over 101 applied frames has **0 gaps**; ...") == 0
    assert stated_gaps("BTCUSDT: 1 snapshot, 299 delta, 0 gaps; ETHUSDT: 1 snapshot, 2 gaps") == 2
    assert stated_gaps("no facts") is None and stated_checksums("no facts") is None
