"""Book engine on small hand-written streams: alignment, gaps, verification, apply_seq."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.book.engine import BRIDGE_TIMEOUT_NS, BookEngine
from collector.book.sequence import FirstLastRule, PreviousIdRule
from collector.model import BestBidAsk, BookDelta, BookSnapshot
from collector.tables import TableBuffers

#: Every test here runs on the reference path and on the native core.
pytestmark = pytest.mark.usefixtures("book_path")


def make(rule=None) -> tuple[BookEngine, TableBuffers]:
    out = TableBuffers()
    return BookEngine(rule or FirstLastRule(), out, lambda s: f"{s}-N"), out


def delta(first: int, last: int, bids=(), asks=(), ts: int = 0, prev: int | None = None):
    return BookDelta("X", None, ts or last, first, last, prev, list(bids), list(asks))


def snap(last: int, bids=(("10", "1"),), asks=(("11", "1"),), ts: int = 0) -> BookSnapshot:
    return BookSnapshot("X", None, ts or last, last, list(bids), list(asks))


def kinds(out: TableBuffers) -> list[str]:
    t = out.drain().get("quality")
    return [] if t is None else t["kind"].to_pylist()


def test_deltas_buffered_until_snapshot_then_bridged() -> None:
    engine, out = make()
    engine.on_delta(delta(1, 5, bids=[("9", "2")]))
    engine.on_delta(delta(6, 8, asks=[("12", "3")]))
    assert engine.snapshot_requests() == ["X"]
    assert engine.snapshot_requests() == []  # asked once per need
    assert out.pending_rows == 0  # nothing written before the bridge
    engine.on_snapshot(snap(6))
    book = engine.symbols["X"].book
    assert book.as_dict() == {"bids": {Decimal(10): 1}, "asks": {Decimal(11): 1, Decimal(12): 3}}
    tables = out.drain()
    assert tables["book"]["seq"].to_pylist() == [6, 6, 8]
    assert tables["book"]["is_snapshot"].to_pylist() == [True, True, False]
    assert tables["quality"]["kind"].to_pylist() == ["synced"]


def test_snapshot_waits_for_its_bridge() -> None:
    engine, out = make()
    engine.on_snapshot(snap(10))
    assert engine.symbols["X"].state.value == "bridging"
    engine.on_delta(delta(5, 10))  # stale: covered by the snapshot
    assert out.pending_rows == 0
    engine.on_delta(delta(11, 12, bids=[("10", "0")]))
    assert engine.symbols["X"].state.value == "synced"
    assert engine.symbols["X"].book.bids.best() is None


def test_snapshot_too_old_is_refetched() -> None:
    engine, out = make()
    engine.on_delta(delta(20, 25))
    engine.snapshot_requests()
    engine.on_snapshot(snap(10))
    assert engine.symbols["X"].state.value == "unsynced"
    assert engine.snapshot_requests() == ["X"]
    assert kinds(out) == ["snapshot_stale"]


def test_gap_resyncs_and_writes_nothing_until_bridged() -> None:
    engine, out = make()
    engine.on_snapshot(snap(10))
    engine.on_delta(delta(11, 11, bids=[("9", "1")]))
    out.drain()
    engine.on_delta(delta(13, 14, bids=[("8", "1")]))
    assert engine.symbols["X"].state.value == "unsynced"
    assert engine.snapshot_requests() == ["X"]
    engine.on_delta(delta(15, 15, bids=[("7", "1")]))
    tables = out.drain()
    assert "book" not in tables
    assert tables["quality"]["kind"].to_pylist() == ["gap", "resync"]
    engine.on_snapshot(snap(14, bids=[("8", "1")]))
    assert engine.symbols["X"].state.value == "synced"
    assert engine.symbols["X"].book.as_dict()["bids"] == {Decimal(8): 1, Decimal(7): 1}


def test_futures_rule_accepts_the_live_pu_bridge() -> None:
    engine, _ = make(PreviousIdRule())
    engine.on_snapshot(snap(100))
    engine.on_delta(delta(105, 110, prev=100))  # U > lastUpdateId, but pu == lastUpdateId
    assert engine.symbols["X"].state.value == "synced"
    engine.on_delta(delta(111, 120, prev=110))
    engine.on_delta(delta(121, 130, prev=119))
    assert engine.symbols["X"].stats.gaps == 1


def test_crossed_book_is_not_written() -> None:
    engine, out = make()
    engine.on_snapshot(snap(1))
    engine.on_delta(delta(2, 2))
    out.drain()
    engine.on_delta(delta(3, 3, bids=[("11.5", "1")]))
    tables = out.drain()
    assert "book" not in tables
    assert tables["quality"]["kind"].to_pylist() == ["crossed_book", "resync"]


def test_quote_before_its_update_is_verified_when_it_applies() -> None:
    engine, _ = make()
    engine.on_snapshot(snap(1))
    engine.on_delta(delta(2, 2))
    engine.on_quote(BestBidAsk("X", None, 0, 3, "10", "1", "10.5", "2"))
    engine.on_delta(delta(3, 3, asks=[("10.5", "2")]))
    engine.on_quote(BestBidAsk("X", None, 0, 3, "10", "1.0", "10.50", "2"))  # same values
    stats = engine.symbols["X"].stats
    assert (stats.bbo_matched, stats.bbo_mismatched) == (2, 0)
    engine.on_quote(BestBidAsk("X", None, 0, 3, "10", "1", "10.5", "3"))
    assert engine.symbols["X"].stats.bbo_mismatched == 1
    assert engine.symbols["X"].state.value == "unsynced"


def test_apply_seq_follows_receive_time_and_never_repeats() -> None:
    engine, out = make()
    engine.on_delta(delta(2, 2, bids=[("9", "1")], ts=1_000))
    engine.on_snapshot(snap(1, ts=2_000))  # snapshot after its bridging delta arrived
    engine.on_delta(delta(3, 3, bids=[("9", "2")], ts=1_500))  # clock stepped back
    seqs = out.drain()["book"]["apply_seq"].to_pylist()
    assert seqs == [2_000, 2_001, 2_002, 2_003]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # book_path is constant
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(0, 3)), max_size=200))
def test_best_levels_match_a_naive_book(book_path, ops) -> None:
    book = book_path.OrderBook()
    naive = {True: {}, False: {}}
    for is_bid, price, size in ops:
        side = book.bids if is_bid else book.asks
        side.apply([(str(price), str(size))])
        if size:
            naive[is_bid][Decimal(price)] = str(size)
        else:
            naive[is_bid].pop(Decimal(price), None)
        for flag, s in ((True, book.bids), (False, book.asks)):
            want = (max if flag else min)(naive[flag], default=None)
            got = s.best()
            assert (got[0] if got else None) == want
    assert [p for p, _ in book.bids.top(5)] == sorted(naive[True], reverse=True)[:5]
    assert [p for p, _ in book.asks.top(5)] == sorted(naive[False])[:5]
    for flag, side in ((True, book.bids), (False, book.asks)):
        want = sorted(naive[flag], reverse=flag)[:7]
        assert side.top_levels(7) == [(str(p), naive[flag][p]) for p in want]


def test_equal_prices_in_different_notation_are_one_level(book_path) -> None:
    book = book_path.OrderBook()
    book.bids.apply([("61800.2", "1"), ("61800.20", "2")])
    assert len(book.bids) == 1
    book.bids.apply([("61800.200", "0.000")])
    assert len(book.bids) == 0


@pytest.mark.parametrize("bad", [("abc", "1"), ("1", "-2"), ("1", "e5"), (" 1", "1")])
def test_bad_level_text_raises(book_path, bad) -> None:
    from collector.decimal_text import InvalidDecimalText

    with pytest.raises(InvalidDecimalText):
        book_path.OrderBook().bids.apply([bad])


def test_unstorable_size_is_caught_before_anything_is_written() -> None:
    """Sizes are applied unparsed for speed; drain refuses them and the symbol resyncs."""
    engine, out = make()
    other = BookDelta("Y", None, 1, 1, 1, None, [("5", "1")], [])
    engine.on_snapshot(snap(1))
    engine.on_delta(delta(2, 2, bids=[("9", "1")]))
    engine.on_delta(delta(3, 3, bids=[("9", "7.5.1")]))  # not a number
    engine.on_delta(delta(4, 4, bids=[("8", "1")]))
    engine.on_snapshot(BookSnapshot("Y", None, 1, 0, [], [("6", "1")]))
    engine.on_delta(other)
    tables = out.drain(engine.invalidate)
    book = tables["book"]
    rows = list(zip(book["symbol"].to_pylist(), book["seq"].to_pylist(), strict=True))
    assert rows == [("X", 1), ("X", 1), ("X", 2), ("Y", 0), ("Y", 1)]
    assert tables["quality"]["kind"].to_pylist() == ["synced", "synced", "malformed", "resync"]
    assert engine.symbols["X"].state.value == "unsynced"
    assert engine.symbols["Y"].state.value == "synced"
    # The summary counts rows written: updates 3 and 4 were dropped with their symbol's book.
    assert engine.symbols["X"].stats.book_rows == 3
    assert engine.symbols["Y"].stats.book_rows == 2


#: The malformed level of a real Coinbase Exchange snapshot (issue 13).
BAD_LEVEL = ("40531.19", "0.-10000")


@pytest.mark.parametrize("in_band", [True, False])
def test_bad_snapshot_level_is_dropped_alone_and_the_book_syncs(in_band: bool) -> None:
    """One bad level costs that level, not the book: a ``malformed`` event names it, the
    rest is applied and written, and a venue repeating it in every snapshot still syncs."""
    engine, out = make()
    bids = [("40531.20", "0.5"), BAD_LEVEL, ("40531.18", "7.5.1"), ("40531.17", "1")]
    asks = [("40531.25", "2")]
    for last in (10, 20):  # the same bad level in the snapshot of every resync
        engine.on_snapshot(BookSnapshot("X", None, last, last, bids, asks, in_band))
        if not in_band:
            engine.on_delta(delta(last + 1, last + 1))  # the bridge
        assert engine.symbols["X"].state.value == "synced"
        engine.on_delta(delta(last + 3, last + 3))  # a gap: resync
    tables = out.drain(engine.invalidate)
    kinds_written = tables["quality"]["kind"].to_pylist()
    assert kinds_written == ["malformed", "synced", "gap", "resync"] * 2
    detail = tables["quality"]["detail"][0].as_py()
    assert detail.startswith("dropped 2 bad level(s) of snapshot 10, kept the rest: ")
    assert "bid ['40531.19', '0.-10000']: not a number" in detail and "'7.5.1'" in detail
    assert engine.symbols["X"].stats.malformed_levels == 4
    snapshot_rows = tables["book"].filter(tables["book"]["is_snapshot"])
    assert set(snapshot_rows["price"].to_pylist()) == {
        Decimal("40531.20"),
        Decimal("40531.17"),
        Decimal("40531.25"),
    }
    engine.on_snapshot(BookSnapshot("X", None, 30, 30, bids, asks, True))
    book = engine.symbols["X"].book.as_dict()  # the engine never held the bad levels
    assert book["bids"] == {Decimal("40531.20"): Decimal("0.5"), Decimal("40531.17"): 1}


def test_bad_delta_level_still_resyncs() -> None:
    """A delta's bad level leaves that level's size unknown: the book is wrong, resync."""
    engine, out = make()
    engine.on_snapshot(snap(1))
    engine.on_delta(delta(2, 2, bids=[BAD_LEVEL]))
    assert engine.symbols["X"].state.value == "unsynced"
    assert kinds(out) == ["synced", "malformed", "resync"]


def test_snapshot_can_be_requested_before_any_update() -> None:
    engine, _ = make()
    engine.request_snapshot("X")
    engine.request_snapshot("X")
    assert engine.snapshot_requests() == ["X"]
    engine.on_snapshot(snap(5))
    engine.on_delta(delta(6, 6))
    engine.request_snapshot("X")  # in sync: nothing to ask
    assert engine.snapshot_requests() == []


def test_a_snapshot_no_update_ever_bridges_is_dropped_after_the_timeout() -> None:
    """A snapshot far ahead of the stream (a changed first-update rule) must not keep it dark."""
    engine, out = make()
    engine.on_delta(delta(1, 5, ts=1))
    engine.on_snapshot(snap(10**9, ts=2))
    engine.on_delta(delta(6, 8, ts=3))  # older than the snapshot: dropped, still waiting
    assert engine.symbols["X"].state.value == "bridging"
    engine.snapshot_requests()
    engine.on_delta(delta(9, 9, ts=3 + BRIDGE_TIMEOUT_NS))
    assert engine.symbols["X"].state.value == "unsynced"
    assert engine.snapshot_requests() == ["X"]
    assert kinds(out) == ["snapshot_stale"]


def test_snapshot_text_with_a_comma_is_one_bad_level_not_two_good_ones() -> None:
    """The snapshot check joins texts with commas: ``"1,5"`` must not pass as two plain
    texts (it then failed the whole snapshot at apply time)."""
    engine, out = make()
    bids = [("40531.20", "0.5"), ("40531.19", "1,5")]
    engine.on_snapshot(BookSnapshot("X", None, 10, 10, bids, [("40531.25", "2")], True))
    assert engine.symbols["X"].state.value == "synced"
    tables = out.drain(engine.invalidate)
    assert tables["quality"]["kind"].to_pylist() == ["malformed", "synced"]
    assert "bid ['40531.19', '1,5']" in tables["quality"]["detail"][0].as_py()
