"""Switch-over dedupe: each event once while two connections to one URL overlap."""

from __future__ import annotations

from support import MemorySink

import adapters
from collector.capture.records import Record
from collector.overlap import OverlapFilter
from collector.pipeline import Pipeline

S = 10**9


def test_no_dedupe_without_overlap() -> None:
    f = OverlapFilter()
    f.opened(1, "wss://a", 0)
    f.opened(2, "wss://b", 0)  # another URL: not an overlap
    assert all(f.admit(c, "same", i) for i, c in enumerate([1, 1, 2, 2]))


def test_each_frame_once_during_and_just_after_overlap() -> None:
    f = OverlapFilter(grace_ns=5 * S)
    f.opened(1, "wss://a", 0)
    assert f.admit(1, "e1", 1)
    f.opened(2, "wss://a", 2)  # the new connection
    assert f.admit(1, "e2", 3)
    assert f.admit(2, "e3", 4)  # new one ahead
    assert not f.admit(1, "e3", 5)
    assert not f.admit(2, "e2", 6)
    f.closed(1, 7)
    assert not f.admit(2, "e3", 8)  # survivor lagging: still a duplicate in the grace window
    assert f.admit(2, "e4", 9)
    assert f.admit(2, "e4", 7 + 6 * S)  # after the grace window, no more checking
    assert f.dropped == 3


def test_connections_of_different_plans_on_one_url_are_not_an_overlap() -> None:
    """OKX, Coinbase, Bybit... subscribe in frames: one URL, different events per plan."""
    pipeline = Pipeline(adapters.create("binance-spot"), MemorySink())
    pipeline.on_record(Record("open", 1, 1, "plan 0", url="wss://one"))
    pipeline.on_record(Record("open", 2, 2, "plan 1", url="wss://one"))
    assert not pipeline.overlap.active
    pipeline.on_record(Record("open", 3, 3, "plan 1", url="wss://one"))  # plan 1's rollover
    assert pipeline.overlap.active
