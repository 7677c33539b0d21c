"""OKX ``SeqIdRule``: the REST bridge ``prevSeqId <= seqId_snapshot < seqId`` and the chain.

The boundary cases are named one by one; the property tests then build random OKX
chains (ids jump by any amount, no-change pushes repeat the id) and check, through
the real engine, that a REST snapshot taken anywhere in the chain, even strictly
inside one push's id range, syncs exactly when its successor push was buffered, and
that the book it ends with is the chain's own.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.book.book import OrderBook
from collector.book.engine import BookEngine
from collector.book.sequence import SeqIdRule
from collector.book.state import SyncState
from collector.model import BookDelta, BookSnapshot, QualityKind
from collector.tables import TableBuffers

#: Every test here runs on the reference path and on the native core.
pytestmark = pytest.mark.usefixtures("book_path")


RULE = SeqIdRule()
ASK = ("100000", "1")  # one fixed ask above every bid: no book here is crossed


def push(seq: int, prev: int | None, bids=(), ts: int = 1) -> BookDelta:
    return BookDelta("X", None, ts, seq, seq, prev, list(bids), [])


def rest(seq: int, bids=(), ts: int = 0) -> BookSnapshot:
    return BookSnapshot("X", None, ts, seq, list(bids), [ASK])


def engine() -> tuple[BookEngine, TableBuffers]:
    out = TableBuffers()
    return BookEngine(RULE, out, lambda s: s), out


@pytest.mark.parametrize(
    ("prev", "seq", "stale", "bridges"),
    [
        (90, 100, True, False),  # seqId == snapshot seqId: covered, dropped
        (90, 95, True, False),  # wholly older
        (100, 107, False, True),  # prevSeqId == snapshot seqId: the exact successor
        (95, 104, False, True),  # snapshot strictly inside the push: still bridges
        (100, 101, False, True),  # seqId == snapshot seqId + 1
        (101, 108, False, False),  # prevSeqId == snapshot seqId + 1: one push missing
        (100, 100, True, False),  # no-change push at the snapshot: nothing to apply
        (104, 104, False, False),  # no-change push past the snapshot: a push is missing
        (100, 3, False, True),  # restart continuing the snapshot (seqId < prevSeqId)
        (150, 3, False, False),  # restart after a later push: the snapshot is of the old run
        (None, 7, True, False),  # a pre-2022 push has no ids: it cannot bridge anything
    ],
)
def test_bridge_boundaries(prev: int | None, seq: int, stale: bool, bridges: bool) -> None:
    delta = push(seq, prev)
    assert RULE.stale(delta, 100) is stale
    if not stale:  # the engine asks ``bridges`` only of a push that is not stale
        assert RULE.bridges(delta, 100) is bridges


def test_chain_after_sync() -> None:
    assert RULE.continues(push(15, 10), 10) and not RULE.continues(push(30, 20), 15)
    assert RULE.continues(push(15, 15), 15)  # the no-change push
    assert RULE.continues(push(3, 15), 15)  # the documented restart
    assert RULE.outdated(push(45, 40), 50) and not RULE.outdated(push(3, 15), 15)


def test_engine_drops_a_snapshot_the_first_push_cannot_bridge_and_asks_again() -> None:
    eng, out = engine()
    eng.on_delta(push(108, 101))
    assert eng.snapshot_requests() == ["X"]
    eng.on_snapshot(rest(100))
    sync = eng.symbols["X"]
    assert sync.state is SyncState.UNSYNCED and sync.stats.snapshots_too_old == 1
    assert eng.snapshot_requests() == ["X"]  # the docs: "go back to step 3"
    eng.on_snapshot(rest(108, [("10", "1")]))
    eng.on_delta(push(108, 108))  # no-change push at the snapshot: stale
    eng.on_delta(push(115, 108, [("11", "2")]))
    assert sync.state is SyncState.SYNCED and sync.last_id == 115
    assert sync.book.bids.top_levels(5) == [("11", "2"), ("10", "1")]
    quality = out.drain()["quality"]["kind"].to_pylist()
    assert quality == [QualityKind.SNAPSHOT_STALE, QualityKind.SYNCED]


# -- properties ----------------------------------------------------------------------


@st.composite
def chains(draw: st.DrawFn) -> tuple[list[BookDelta], list[int]]:
    """A random OKX push chain, and the true book's bid prices after each push.

    Push i (1-based) adds bid ``1000+i`` unless it is a no-change push (jump 0,
    ``seqId == prevSeqId``, no levels). Id 0 is the chain's start.
    """
    jumps = draw(st.lists(st.one_of(st.just(0), st.integers(1, 100)), min_size=1, max_size=30))
    pushes, seq = [], draw(st.integers(0, 10**12))
    first = seq
    for i, jump in enumerate(jumps, 1):
        bids = [(str(1000 + i), "1")] if jump else []
        pushes.append(push(seq + jump, seq, bids))
        seq += jump
    return pushes, [first] + [p.last_id for p in pushes]


def book_after(pushes: list[BookDelta], k: int) -> list[tuple[str, str]]:
    """Bids of the true book after the first ``k`` pushes, best first."""
    book = OrderBook()
    for p in pushes[:k]:
        book.bids.apply(p.bids)
    return book.bids.top_levels(len(book.bids))


@given(chains(), st.data())
def test_rest_snapshot_anywhere_syncs_iff_its_successor_was_buffered(chain, data) -> None:
    pushes, ids = chain
    n = len(pushes)
    # The snapshot: the book after push k, with a seqId in [ids[k], ids[k+1]) (or = ids[n]).
    k = data.draw(st.integers(0, n), label="k")
    upper = ids[k + 1] - 1 if k < n and ids[k + 1] > ids[k] else ids[k]
    snap_id = data.draw(st.integers(ids[k], upper), label="snapshot seqId")
    # The first buffered push (the daemon asks for a snapshot on the first one it gets).
    b = data.draw(st.integers(0, n - 1), label="first buffered push")
    eng, _ = engine()
    for p in pushes[b:]:
        eng.on_delta(p)
    eng.on_snapshot(rest(snap_id, book_after(pushes, k)))
    sync = eng.symbols["X"]
    # The push the snapshot needs next: the first whose seqId is past the snapshot's.
    successor = next((i for i in range(n) if pushes[i].last_id > snap_id), None)
    if successor is None:  # nothing after the snapshot yet: it waits for its bridge
        assert sync.state is SyncState.BRIDGING
    elif b <= successor:
        assert sync.state is SyncState.SYNCED and sync.last_id == ids[n]
        assert sync.book.bids.top_levels(n) == book_after(pushes, n)
    else:  # the successor came before the buffer started: too old, fetch another
        assert sync.state is SyncState.UNSYNCED and sync.stats.snapshots_too_old == 1


@given(chains(), st.data())
def test_a_lost_push_breaks_the_chain_unless_it_changed_nothing(chain, data) -> None:
    pushes, ids = chain
    if len(pushes) < 2:
        return
    m = data.draw(st.integers(0, len(pushes) - 2), label="lost push")
    last = ids[m]  # the book stands at the push before the lost one
    assert RULE.continues(pushes[m], last)
    assert RULE.continues(pushes[m + 1], last) is (ids[m + 1] == ids[m])
