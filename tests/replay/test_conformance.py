"""The adapter conformance suite: every adapter over every recording of its exchange.

Nothing here names a venue. A new adapter is covered by registering it (one
line in ``adapters.REGISTRY``) and putting its recordings in the captures
folder of the same name (or of a former name, ``adapters.FORMER_NAMES``); the
file's facts in the captures README (checksums verified, sequence gaps) become
assertions automatically.

For each recording it asserts that:

* every frame decodes to a known message type (no ``drift`` from the recording);
* every book the recording streams gets in sync (an empty book writes no rows), but
  for those the README says no update bridges to its REST snapshot (``bridge=n/a``);
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

import io
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import (
    adapter_recordings,
    assert_never_crossed,
    needs_captures,
    readme_section,
    run_recording,
    stated_checksums,
    stated_gaps,
    stated_unbridged,
)

from collector.book.engine import SymbolSync
from collector.book.state import SyncState

pytestmark = needs_captures

#: An exchange time this far before its receipt is not a clock problem but a bug.
MAX_LAG_NS = 5 * 60 * 1_000_000_000
#: ...and this far after it (the recorder's clock behind the venue's) neither.
MAX_SKEW_NS = 10 * 1_000_000_000


@pytest.mark.parametrize(
    ("slug", "path"), adapter_recordings(), ids=lambda v: getattr(v, "name", v)
)
def test_adapter_conforms_on_recording(slug: str, path: Path) -> None:
    _, pipeline = run_recording(path, slug)
    sink = pipeline.sink
    stats = {s: sym.stats for s, sym in pipeline.engine.symbols.items()}
    section = readme_section(path)

    drift = {k: n for k, n in pipeline.problems.items() if k.startswith("drift")}
    assert not drift, f"{path.name}: frames of unknown type: {drift}"

    books = [
        s
        for s, n in pipeline.frames_by_symbol.items()
        if s in stats and n and not _rest_snapshot_only(pipeline.engine.symbols[s])
    ]
    unbridged = stated_unbridged(section)
    unsynced = [s for s in books if not stats[s].snapshots_applied and s not in unbridged]
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
        assert_never_crossed(book)
    trades = sink.table("trades")
    if trades is not None:
        _assert_sane_trades(trades)
    for name in ("book", "trades", "bbo"):
        table = sink.table(name)
        if table is not None:
            _assert_sane_times(table, name)
    for name, parts in sink.tables.items():
        # One dictionary per column, as a file holds: parts written apart (the events at
        # the end of input) carry dictionaries of their own, which reading cannot restore.
        table = pa.concat_tables(parts).unify_dictionaries().combine_chunks()
        _assert_parquet_round_trip(table, name)


def _rest_snapshot_only(sym: SymbolSync) -> bool:
    """A REST snapshot that no streamed update ever followed: nothing could bridge it.

    Alignment case 1 needs an update to bridge the snapshot, and a venue may stay
    silent about a pair for a whole recording (Bitstamp's ``sgbeur``, whose book the
    recorder fetched while its stream sent nothing). Any update would have been
    dropped as stale, bridged it, or found it too old.
    """
    st = sym.stats
    return sym.state is SyncState.BRIDGING and not (st.stale_dropped or st.snapshots_too_old)


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
    # Chunking is not content: parts flushed apart (a quality event written at the end of
    # input) carry dictionaries of their own, ordered differently; Arrow calls such arrays
    # unequal although every value is. Parquet reads them back as one.
    assert again.combine_chunks().equals(table.unify_dictionaries().combine_chunks()), name


def test_readme_fact_parsers() -> None:
    """The two regexes read the fact styles the captures README uses."""
    assert stated_checksums("Kraken book checksums: **1167/1167 verify** (all)") == (1167, 1167)
    assert stated_gaps("chain over 101 applied frames has **0 gaps**; ...") == 0
    assert stated_gaps("BTCUSDT: 1 snapshot, 299 delta, 0 gaps; ETHUSDT: 1 snapshot, 2 gaps") == 2
    assert stated_gaps("no facts") is None and stated_checksums("no facts") is None


def _book(rows: list[tuple]) -> pa.Table:
    names = ["symbol", "seq", "apply_seq", "is_snapshot", "side", "price", "size"]
    columns = dict(zip(names, zip(*rows, strict=True), strict=True))
    return pa.table(
        {
            **{k: list(v) for k, v in columns.items() if k not in ("price", "size")},
            "ts_recv": [0] * len(rows),
            "price": pa.array([Decimal(p) for p in columns["price"]], pa.decimal128(38, 18)),
            "size": pa.array([Decimal(s) for s in columns["size"]], pa.decimal128(38, 18)),
        }
    )


def test_the_crossed_book_check_can_fail() -> None:
    """The shared heap-based check catches a crossing delta and a one-sided book."""
    snapshot = [("X", 1, 1, True, "bid", "100", "1"), ("X", 1, 2, True, "ask", "101", "1")]
    assert assert_never_crossed(_book(snapshot), two_sided=True) == 1
    crossing = [*snapshot, ("X", 2, 3, False, "bid", "101", "2")]
    with pytest.raises(AssertionError, match="X crossed at update 2"):
        assert_never_crossed(_book(crossing))
    # The best ask leaves and comes back below the bid: the lazy heap must not miss it.
    relisted = [
        *snapshot,
        ("X", 2, 3, False, "ask", "101", "0"),
        ("X", 3, 4, False, "ask", "99", "1"),
    ]
    with pytest.raises(AssertionError, match="X crossed at update 3"):
        assert_never_crossed(_book(relisted))
    with pytest.raises(AssertionError):
        assert_never_crossed(_book(snapshot[:1]), two_sided=True)
