"""Book engine, alignment cases 2-4: in-band snapshots, venue depth, checksums, adapter gaps."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import book_states, pylist

from collector.book.book import OrderBook
from collector.book.checksum import interleaved_crc32
from collector.book.engine import BookEngine
from collector.book.sequence import FirstLastRule, NoSequenceRule
from collector.model import BookDelta, BookInvalid, BookSnapshot
from collector.tables import TableBuffers

#: Every test here runs on the reference path and on the native core.
pytestmark = pytest.mark.usefixtures("book_path")


def okx_style(symbol: str, book: OrderBook) -> int:
    return interleaved_crc32(book.bids.top_levels(25), book.asks.top_levels(25))


def make(rule=None, checksum=okx_style) -> tuple[BookEngine, TableBuffers]:
    out = TableBuffers()
    engine = BookEngine(rule or FirstLastRule(), out, lambda s: s, checksum=checksum)
    return engine, out


def inband(last: int, bids, asks, *, checksum=None, depth=None, ts: int = 0) -> BookSnapshot:
    return BookSnapshot("X", None, ts or last, last, list(bids), list(asks), True, checksum, depth)


def delta(seq: int, bids=(), asks=(), *, checksum=None, depth=None, ts: int = 0) -> BookDelta:
    return BookDelta("X", None, ts or seq, seq, seq, None, list(bids), list(asks), checksum, depth)


def crc(bids, asks) -> int:
    return interleaved_crc32(bids, asks)


def quality(out: TableBuffers) -> list[str]:
    t = out.drain().get("quality")
    return [] if t is None else t["kind"].to_pylist()


def test_inband_snapshot_syncs_at_once_and_drops_what_came_before() -> None:
    engine, out = make()
    engine.on_delta(delta(4, bids=[("9", "1")]))
    engine.on_delta(delta(6, asks=[("12", "2")]))  # even one past it: the connection resends
    engine.on_snapshot(inband(5, [("10", "1")], [("11", "1")]))
    sym = engine.symbols["X"]
    assert sym.state.value == "synced"
    assert (sym.last_id, sym.stats.stale_dropped) == (5, 2)
    assert sym.book.as_dict() == {"bids": {Decimal(10): 1}, "asks": {Decimal(11): 1}}
    engine.on_delta(delta(6, asks=[("12", "2")]))
    tables = out.drain()
    assert tables["book"]["is_snapshot"].to_pylist() == [True, True, False]
    assert tables["quality"]["kind"].to_pylist() == ["synced"]


def test_venue_restart_snapshot_is_not_followed_by_old_updates() -> None:
    """Bybit restarts at u=1: updates buffered from before must not look like a gap."""
    engine, _ = make()
    engine.on_snapshot(inband(500, [("10", "1")], [("11", "1")]))
    engine.on_invalid(BookInvalid("X", 501, "connection lost"))
    engine.on_delta(delta(502, bids=[("10", "2")]))  # buffered while unsynced
    engine.on_snapshot(inband(1, [("10", "3")], [("11", "1")]))
    engine.on_delta(delta(2, bids=[("10", "4")]))
    sym = engine.symbols["X"]
    assert (sym.state.value, sym.last_id, sym.stats.gaps) == ("synced", 2, 1)


def test_later_inband_snapshot_replaces_the_book_without_a_new_synced_event() -> None:
    engine, out = make()
    engine.on_snapshot(inband(1, [("10", "1")], [("11", "1")]))
    engine.on_delta(delta(2, bids=[("9", "5")]))
    engine.on_snapshot(inband(100, [("8", "1")], [("12", "1")]))  # venue reset
    assert engine.symbols["X"].book.as_dict() == {
        "bids": {Decimal(8): 1},
        "asks": {Decimal(12): 1},
    }
    assert quality(out) == ["synced"]


def test_checksum_mismatch_unsyncs_and_writes_nothing_of_that_update() -> None:
    engine, out = make()
    bids, asks = [("10", "1")], [("11", "1")]
    engine.on_snapshot(inband(1, bids, asks, checksum=crc(bids, asks)))
    good = crc([("10", "2")], asks)
    engine.on_delta(delta(2, bids=[("10", "2")], checksum=good))
    engine.on_delta(delta(3, bids=[("10", "3")], checksum=good))  # the venue's book differs
    stats = engine.symbols["X"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (2, 1)
    assert engine.symbols["X"].state.value == "unsynced"
    assert engine.snapshot_requests() == ["X"]
    tables = out.drain()
    assert tables["book"]["seq"].to_pylist() == [1, 1, 2]  # update 3 wrote nothing
    assert tables["quality"]["kind"].to_pylist() == ["synced", "checksum_mismatch", "resync"]


def test_empty_update_with_checksum_verifies_the_book_as_it_stands() -> None:
    engine, out = make(NoSequenceRule())
    bids, asks = [("10", "1")], [("11", "1")]
    engine.on_snapshot(inband(0, bids, asks))
    engine.on_delta(delta(1, checksum=crc(bids, asks)))
    assert engine.symbols["X"].stats.checksums_verified == 1
    assert out.drain()["book"].num_rows == 2  # the snapshot only


def test_depth_cut_is_written_as_deletions() -> None:
    """A venue keeping 2 levels drops the third silently; the table must say so."""
    engine, out = make(NoSequenceRule(), checksum=None)
    engine.on_snapshot(inband(0, [("10", "1"), ("9", "1")], [("11", "1")], depth=2))
    engine.on_delta(delta(1, bids=[("10.5", "1")], depth=2))  # pushes 9 out
    assert set(engine.symbols["X"].book.as_dict()["bids"]) == {Decimal("10.5"), Decimal(10)}
    rows = pylist(out.drain()["book"])
    update = [(r["side"], r["price"], r["size"]) for r in rows if r["seq"] == 1]
    assert update == [("bid", Decimal("10.5"), 1), ("bid", Decimal(9), 0)]


def test_snapshot_deeper_than_the_venue_depth_is_written_cut() -> None:
    engine, out = make(NoSequenceRule(), checksum=None)
    engine.on_snapshot(inband(0, [("10", "1"), ("9", "1"), ("8", "1")], [("11", "1")], depth=2))
    rows = pylist(out.drain()["book"])
    assert sorted(Decimal(r["price"]) for r in rows if r["side"] == "bid") == [9, 10]


def test_adapter_reported_gap_unsyncs_a_synced_book_and_asks_for_a_resync() -> None:
    engine, out = make()
    engine.on_snapshot(inband(1, [("10", "1")], [("11", "1")]))
    engine.on_invalid(BookInvalid("X", 5, "sequence_num 7 after 5 on connection 1"))
    assert engine.symbols["X"].state.value == "unsynced"
    assert engine.symbols["X"].stats.gaps == 1
    assert engine.snapshot_requests() == ["X"]
    assert quality(out) == ["synced", "gap", "resync"]
    engine.on_delta(delta(2, bids=[("10", "2")]))  # buffered, not written
    assert out.pending_rows == 0


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.integers(1, 30),
            st.sampled_from(["0", "1", "2.5"]),
        ),
        max_size=60,
    ),
    st.integers(1, 5),
)
def test_rows_rebuild_the_engine_book_under_any_depth_cut(updates, depth) -> None:
    """Whatever the updates, replaying the written rows gives the engine's (cut) book."""
    engine, out = make(NoSequenceRule(), checksum=None)
    engine.on_snapshot(inband(0, [("100", "1")], [("200", "1")], depth=depth))
    for i, (is_bid, offset, size) in enumerate(updates, 1):
        price = str(100 - offset) if is_bid else str(200 + offset)
        side = {"bids": [(price, size)]} if is_bid else {"asks": [(price, size)]}
        bids, asks = side.get("bids", []), side.get("asks", [])
        engine.on_delta(BookDelta("X", None, i, i, i, None, bids, asks, None, depth))
    book = out.drain().get("book")
    states = list(book_states(pylist(book)))
    final = states[-1][1]
    assert {"bids": final["bid"], "asks": final["ask"]} == engine.symbols["X"].book.as_dict()
    assert len(final["bid"]) <= depth and len(final["ask"]) <= depth
