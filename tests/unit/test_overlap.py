"""Switch-over dedupe: each event once while two connections to one URL overlap."""

from __future__ import annotations

from support import MemorySink

import adapters
from collector.capture.records import Record
from collector.overlap import ATTEMPT_NS, OverlapFilter
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


def test_what_the_old_connection_delivered_while_the_new_one_opened_is_not_repeated() -> None:
    """The venue sends on the new connection once it accepts it, before the client sees
    the handshake's answer: e2 and e3 come on the old connection before the new one's
    ``open``, then again on the new one."""
    f = OverlapFilter()
    f.opened(1, "wss://a", 0)
    assert f.admit(1, "e1", 1)
    f.connecting(2, 2)
    assert f.admit(1, "e2", 3) and f.admit(1, "e3", 4)
    f.opened(2, "wss://a", 5)
    assert not f.admit(2, "e2", 6) and not f.admit(2, "e3", 7)
    assert f.admit(2, "e4", 8) and not f.admit(1, "e4", 9)
    assert f.admit(2, "e1", 10)  # came before the attempt started: never seeded
    assert f.dropped == 3


def test_a_resent_recording_is_not_taken_for_the_race() -> None:
    """A simulator replaying a recording resends its first frames verbatim on a new
    connection; those came before the attempt started, so they pass."""
    f = OverlapFilter()
    f.opened(1, "wss://a", 0)
    assert f.admit(1, "snapshot", 1) and f.admit(1, "d1", 2)
    f.connecting(2, 3)
    assert f.admit(1, "d2", 4)
    f.opened(2, "wss://a", 5)
    assert f.admit(2, "snapshot", 6) and f.admit(2, "d1", 7)
    assert not f.admit(2, "d2", 8)


def test_only_the_same_plan_seeds_and_failed_attempts_expire() -> None:
    f = OverlapFilter()
    f.opened(1, "wss://a", 0)
    f.opened(2, "wss://b", 0)
    f.connecting(3, 1)  # fails: never opens
    assert f.active
    assert f.admit(2, "b1", 2) and f.admit(1, "a1", 3)
    assert f.admit(1, "a2", ATTEMPT_NS + 10)  # the failed attempt is forgotten
    assert not f.active
    f.connecting(4, ATTEMPT_NS + 11)
    assert f.admit(2, "b2", ATTEMPT_NS + 12) and f.admit(1, "a3", ATTEMPT_NS + 13)
    f.opened(4, "wss://a", ATTEMPT_NS + 14)
    assert not f.admit(4, "a3", ATTEMPT_NS + 15)
    assert f.admit(4, "b2", ATTEMPT_NS + 16)  # plan b's frame: not this overlap's


def test_the_pipeline_reads_connecting_records() -> None:
    pipeline = Pipeline(adapters.create("binance-spot"), MemorySink())
    pipeline.on_record(Record("open", 1, 1, "plan 0", url="wss://one"))
    pipeline.on_record(Record("connecting", 2, 2, url="wss://one"))
    assert pipeline.overlap.active
    pipeline.on_record(Record("recv", 3, 1, '{"x": 1}'))
    pipeline.on_record(Record("open", 4, 2, "plan 0", url="wss://one"))
    pipeline.on_record(Record("recv", 5, 2, '{"x": 1}'))
    assert pipeline.overlap.dropped == 1
