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


def test_an_overlap_starts_with_the_frames_just_before_it() -> None:
    """The venue sends on the new connection from the moment it accepts it; the old one
    may deliver those events before the new one's ``open`` is seen. Their copies on the
    new connection are dropped, and frames of other plans do not count."""
    f = OverlapFilter()
    f.opened(1, "wss://a", 0)
    f.opened(3, "wss://b", 0)
    assert f.admit(1, "e1", 1)  # before the switch-over
    assert f.admit(3, "e2", 1)  # another plan's frame
    f.opened(2, "wss://a", 2)
    assert not f.admit(2, "e1", 3)
    assert f.admit(2, "e2", 3)  # "wss://b" never carried it for plan "wss://a"
    assert f.dropped == 1


def test_the_pipeline_remembers_frames_before_an_overlap() -> None:
    frame = '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":7}}'
    pipeline = Pipeline(adapters.create("binance-spot"), MemorySink())
    pipeline.on_record(Record("open", 1, 1, url="wss://one"))
    pipeline.on_record(Record("recv", 2, 1, frame))
    pipeline.on_record(Record("open", 3, 2, url="wss://one"))  # the rollover's new connection
    pipeline.on_record(Record("recv", 4, 2, frame))
    assert pipeline.overlap.dropped == 1
