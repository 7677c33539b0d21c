"""Hand-made faults in real recordings: each ends in the right quality events and a right book.

Each test damages a real Binance recording (one futures pu/u file, one spot U/u
file), replays it, and checks: the quality events name the fault; the book after
recovery equals the clean run's; and, the strongest check, every book state a
user can rebuild from the written rows equals the clean run's state at the same
update id, so no wrong book is ever written as good.
"""

from __future__ import annotations

import json

import pytest
from support import (
    CAPTURES,
    book_states,
    load_records,
    needs_captures,
    pylist,
    run_records,
    snapshot_http,
)

from collector.capture.records import Record
from collector.pipeline import Pipeline

pytestmark = needs_captures

CASES = {
    "futures": ("binance-usdm/BINANCE_FUTURES.jsonl.gz", "SUSHIUSDT"),
    "spot": ("binance-spot/BINANCE.jsonl.gz", "NKNUSDT"),
}
FAULT_AT = 40  # index among the symbol's depth frames, well after the bridge


class Recording:
    def __init__(self, rel: str, symbol: str) -> None:
        self.exchange, self.records = load_records(CAPTURES / rel)
        self.symbol = symbol
        self.depth = [i for i, r in enumerate(self.records) if self._is_depth(r)]
        self.clean = run_records(self.exchange, self.records)

    def _is_depth(self, record: Record) -> bool:
        return (
            record.kind == "recv"
            and f'"s":"{self.symbol}"' in record.data
            and '"depthUpdate"' in record.data
        )

    def frame(self, k: int) -> dict:
        return json.loads(self.records[self.depth[k]].data)

    def snapshot_after(self, k: int) -> Record:
        """A REST snapshot of the clean book right after depth frame ``k``, received after it."""
        end = self.depth[k] + 1
        return snapshot_http(
            self.exchange, self.records[:end], self.symbol, self.records[end - 1].ts + 1
        )


@pytest.fixture(scope="module", params=sorted(CASES))
def rec(request: pytest.FixtureRequest) -> Recording:
    return Recording(*CASES[request.param])


def states_of(pipeline: Pipeline, symbol: str) -> dict[int, tuple[frozenset, frozenset]]:
    """Book state after each written message (by update id), rebuilt from the rows alone."""
    table = pipeline.sink.table("book")
    rows = [r for r in pylist(table.sort_by("apply_seq")) if r["symbol"] == symbol]
    return {
        seq: (frozenset(sides["bid"].items()), frozenset(sides["ask"].items()))
        for seq, sides in book_states(rows)
    }


def kinds(pipeline: Pipeline, symbol: str) -> list[str]:
    table = pipeline.sink.table("quality")
    return [r["kind"] for r in pylist(table) if r["symbol"] == symbol]


def assert_never_wrong(faulty: Pipeline, rec: Recording) -> None:
    clean = states_of(rec.clean, rec.symbol)
    states = states_of(faulty, rec.symbol)
    assert states, "nothing written"
    for seq, state in states.items():
        assert state == clean[seq], f"book written at update {seq} differs from the clean run"


def assert_recovered(faulty: Pipeline, rec: Recording) -> None:
    sync = faulty.engine.symbols[rec.symbol]
    clean = rec.clean.engine.symbols[rec.symbol]
    assert sync.state.value == "synced"
    assert sync.last_id == clean.last_id
    assert sync.book.as_dict() == clean.book.as_dict()


def test_dropped_frame(rec: Recording) -> None:
    records = list(rec.records)
    records.insert(rec.depth[FAULT_AT + 5] + 1, rec.snapshot_after(FAULT_AT + 5))
    del records[rec.depth[FAULT_AT]]
    faulty = run_records(rec.exchange, records)
    stats = faulty.engine.symbols[rec.symbol].stats
    assert (stats.gaps, stats.resyncs) == (1, 1)
    assert kinds(faulty, rec.symbol) == ["synced", "gap", "resync", "synced"]
    written = states_of(faulty, rec.symbol)
    for k in range(FAULT_AT, FAULT_AT + 5):  # nothing between the gap and the new snapshot
        assert rec.frame(k)["data"]["u"] not in written
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_dropped_frame_without_snapshot_stays_unsynced(rec: Recording) -> None:
    records = list(rec.records)
    del records[rec.depth[FAULT_AT]]
    faulty = run_records(rec.exchange, records)
    sync = faulty.engine.symbols[rec.symbol]
    assert sync.state.value == "unsynced"
    assert kinds(faulty, rec.symbol) == ["synced", "gap", "resync", "unsynced_at_end"]
    last_written = max(states_of(faulty, rec.symbol))
    assert last_written == rec.frame(FAULT_AT - 1)["data"]["u"]
    assert_never_wrong(faulty, rec)


def test_duplicated_frame(rec: Recording) -> None:
    records = list(rec.records)
    records.insert(rec.depth[FAULT_AT] + 1, rec.records[rec.depth[FAULT_AT]])
    faulty = run_records(rec.exchange, records)
    stats = faulty.engine.symbols[rec.symbol].stats
    assert (stats.duplicates, stats.gaps, stats.resyncs) == (1, 0, 0)
    assert kinds(faulty, rec.symbol) == ["synced", "duplicate"]
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_frames_out_of_order(rec: Recording) -> None:
    records = list(rec.records)
    a, b = rec.depth[FAULT_AT], rec.depth[FAULT_AT + 1]
    records[a], records[b] = records[b], records[a]
    records.insert(rec.depth[FAULT_AT + 5] + 1, rec.snapshot_after(FAULT_AT + 5))
    faulty = run_records(rec.exchange, records)
    stats = faulty.engine.symbols[rec.symbol].stats
    assert stats.gaps == 1
    assert kinds(faulty, rec.symbol)[:4] == ["synced", "gap", "resync", "synced"]
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_snapshot_older_than_first_delta(rec: Recording) -> None:
    records = list(rec.records)
    snap_at = next(
        i for i, r in enumerate(records) if r.kind == "http" and f"symbol={rec.symbol}" in r.url
    )
    real = records[snap_at]
    body = json.loads(real.data)
    first_buffered = json.loads(records[rec.depth[0]].data)["data"]
    body["lastUpdateId"] = first_buffered["U"] - 1000
    old = Record("http", real.ts, 0, json.dumps(body), real.url)
    records[snap_at] = old
    records.insert(snap_at + 1, real)
    faulty = run_records(rec.exchange, records)
    assert kinds(faulty, rec.symbol) == ["snapshot_stale", "synced"]
    assert faulty.engine.symbols[rec.symbol].stats.snapshots_too_old == 1
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_malformed_frame(rec: Recording) -> None:
    records = list(rec.records)
    broken = records[rec.depth[FAULT_AT]]
    records[rec.depth[FAULT_AT]] = Record("recv", broken.ts, broken.conn, broken.data[:57])
    records.insert(rec.depth[FAULT_AT + 5] + 1, rec.snapshot_after(FAULT_AT + 5))
    faulty = run_records(rec.exchange, records)
    assert sum(faulty.problems.values()) == 1
    assert next(iter(faulty.problems)).startswith("malformed")
    quality = pylist(faulty.sink.table("quality"))
    assert [q["kind"] for q in quality if q["symbol"] is None and q["kind"] == "malformed"]
    assert kinds(faulty, rec.symbol) == ["synced", "gap", "resync", "synced"]
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_malformed_level(rec: Recording) -> None:
    records = list(rec.records)
    frame = rec.frame(FAULT_AT)
    side = "b" if frame["data"]["b"] else "a"
    frame["data"][side][0][0] = "12x.5"
    at = rec.depth[FAULT_AT]
    records[at] = Record("recv", records[at].ts, 1, json.dumps(frame))
    records.insert(rec.depth[FAULT_AT + 5] + 1, rec.snapshot_after(FAULT_AT + 5))
    faulty = run_records(rec.exchange, records)
    assert kinds(faulty, rec.symbol) == ["synced", "malformed", "resync", "synced"]
    assert faulty.engine.symbols[rec.symbol].stats.malformed_levels == 1
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_crossed_book(rec: Recording) -> None:
    records = list(rec.records)
    frame = rec.frame(FAULT_AT)
    prefix = run_records(rec.exchange, records[: rec.depth[FAULT_AT]])
    best_ask = prefix.engine.symbols[rec.symbol].book.asks.best()[0]
    frame["data"]["b"].append([str(best_ask + 1), "1"])
    at = rec.depth[FAULT_AT]
    records[at] = Record("recv", records[at].ts, 1, json.dumps(frame))
    records.insert(rec.depth[FAULT_AT + 5] + 1, rec.snapshot_after(FAULT_AT + 5))
    faulty = run_records(rec.exchange, records)
    assert kinds(faulty, rec.symbol) == ["synced", "crossed_book", "resync", "synced"]
    assert frame["data"]["u"] not in states_of(faulty, rec.symbol)
    assert_recovered(faulty, rec)
    assert_never_wrong(faulty, rec)


def test_other_symbols_unaffected(rec: Recording) -> None:
    records = list(rec.records)
    del records[rec.depth[FAULT_AT]]
    faulty = run_records(rec.exchange, records)
    for symbol, sync in faulty.engine.symbols.items():
        if symbol != rec.symbol:
            clean = rec.clean.engine.symbols[symbol]
            assert sync.stats.gaps == 0
            assert sync.book.as_dict() == clean.book.as_dict()
