"""Bitfinex recordings replay to the facts the captures README states, exactly.

BITFINEX.jsonl.gz (cryptofeed, 2021-04) was recorded with conf flags 65536
(SEQ_ALL) only: every channel frame ends with a connection-wide sequence number,
and there are no checksum messages, so no Bitfinex checksum is verified here (the
corpus has no ground truth for it). The expected rows are rebuilt from the frames
with ``json`` and ``Decimal``, independently of the adapter. Its trade frames are
subscription snapshots only (history, not stored), so no trade row is written.
"""

from __future__ import annotations

import re
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    load_records,
    needs_captures,
    readme_recordings,
    readme_section,
    recordings,
    recv_frames,
    rel,
    replayed_fixture,
    run_records,
    written_book_rows,
)

pytestmark = needs_captures

FILES = recordings(("bitfinex",))
_SEQ_FACT = re.compile(r"SEQ_ALL sequence numbers over (\d+) frames: \*\*(\d+) gaps\*\*")

replayed = replayed_fixture(FILES, exchange="bitfinex", ids=lambda p: p.name)


def _frames(records) -> list[tuple[int, object]]:
    """(ts_recv, frame) with every number a ``Decimal``, as the wire text has it."""
    return [(r.ts, f) for r, f in recv_frames(records, parse_float=Decimal, parse_int=Decimal)]


def _channels(records) -> dict[int, tuple[str, str]]:
    """chanId -> (channel, symbol), from the ``subscribed`` acks (one connection here)."""
    assert {r.conn for r in records if r.kind == "recv"} == {1}
    return {
        int(f["chanId"]): (f["channel"], f["symbol"])
        for _, f in _frames(records)
        if isinstance(f, dict) and f.get("event") == "subscribed"
    }


def test_every_bitfinex_recording_is_covered() -> None:
    assert readme_recordings("bitfinex") == {rel(p) for p in FILES}
    assert FILES


def test_sequence_numbers_match_the_readme(replayed) -> None:
    path, records, pipeline = replayed
    frames, gaps = map(int, _SEQ_FACT.search(readme_section(path)).groups())
    adapter = pipeline.adapter
    # Every channel frame (data, heartbeats) carries one; event objects do not.
    with_seq = sum(isinstance(f, list) for _, f in _frames(records))
    assert adapter.seq_checked == with_seq == frames == 1670
    assert adapter.seq_gaps == gaps == 0


def test_books_synced_without_gaps_resyncs_or_checksums(replayed) -> None:
    path, records, pipeline = replayed
    assert "no checksum messages" in readme_section(path)
    books = {s for channel, s in _channels(records).values() if channel == "book"}
    assert len(books) == 7
    summary = pipeline.summary()
    for symbol in books:
        stats = pipeline.engine.symbols[symbol].stats
        assert summary[symbol].synced, symbol
        assert (stats.snapshots_applied, stats.gaps, stats.resyncs, stats.crossed) == (1, 0, 0, 0)
        assert (stats.checksums_verified, stats.checksums_failed) == (0, 0), symbol
    # tBFTUSD's book was acknowledged 11 s in and never changed after its snapshot.
    deltas = {s: pipeline.engine.symbols[s].stats.deltas_applied for s in books}
    assert deltas["tBFTUSD"] == 0 and sum(deltas.values()) == 1593


def test_no_problems_and_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert pipeline.controls["heartbeat"] == sum(
        isinstance(f, list) and f[1] == "hb" for _, f in _frames(records)
    )


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    assert assert_never_crossed(pipeline.sink.table("book")) > 1000


def test_parquet_rows_rebuild_the_engine_book(replayed) -> None:
    _, _, pipeline = replayed
    assert_rows_rebuild_engine_books(pipeline)


def test_written_book_rows_equal_the_wire_values(replayed) -> None:
    """Snapshot entries, then one entry per update, in wire order and as decimals."""
    _, records, pipeline = replayed
    channels = _channels(records)
    expected: dict[str, list] = {}
    for ts, f in _frames(records):
        if not isinstance(f, list) or f[1] == "hb" or channels.get(int(f[0]), ("",))[0] != "book":
            continue
        symbol = channels[int(f[0])][1]
        snapshot = isinstance(f[1][0], list) if f[1] else True
        for price, count, amount in f[1] if snapshot else [f[1]]:
            side = "bid" if amount > 0 else "ask"
            size = Decimal(0) if count == 0 else abs(amount)
            expected.setdefault(symbol, []).append((ts, snapshot, side, price, size))
    value = ("ts_recv", "is_snapshot", "side", "price", "size")
    written = {k[0]: rows for k, rows in written_book_rows(pipeline, ("symbol",), value).items()}
    assert written == expected
    assert any(p < Decimal("0.000001") for rows in written.values() for *_, p, _ in rows)


def test_trade_history_snapshots_are_not_stored(replayed) -> None:
    """The recording's only trade frames are the 7 subscription snapshots (30 trades
    each, up to hours old): history, not live trades, so no trade row is written.
    ``te`` decoding and sides are covered by the unit tests."""
    _, records, pipeline = replayed
    channels = _channels(records)
    snapshots = [
        (ts, f[1])
        for ts, f in _frames(records)
        if isinstance(f, list) and f[1] != "hb" and channels.get(int(f[0]), ("",))[0] == "trades"
    ]
    assert len(snapshots) == 7 and all(len(t) == 30 for _, t in snapshots)
    oldest_lag = max(ts - int(t[-1][1]) * 10**6 for ts, t in snapshots)
    assert oldest_lag > 3 * 3600 * 10**9  # > 3 h before receipt
    assert {t[2] > 0 for _, trades in snapshots for t in trades} == {True, False}  # both sides
    assert pipeline.sink.table("trades") is None
    assert sum(pipeline.trades_by_symbol.values()) == 0


def test_a_dropped_frame_invalidates_every_book_of_the_connection() -> None:
    """Fault injection: remove one book update; the SEQ_ALL jump must unsync every book
    subscribed on the connection at that point (not only the one that lost data)."""
    path = FILES[0]
    exchange, records = load_records(path)
    recv = [i for i, r in enumerate(records) if r.kind == "recv"]
    dropped = recv[300]  # before the tBFTUSD book is acknowledged (frame 562)
    assert re.fullmatch(r"\[\d+,\[[^\[\]]+\],\d+\]", records[dropped].data)  # a book update
    before = _channels(records[:dropped])
    books = {s for channel, s in before.values() if channel == "book"}
    pipeline = run_records(exchange, records[:dropped] + records[dropped + 1 :])
    assert (pipeline.adapter.seq_gaps, pipeline.adapter.seq_checked) == (1, 1669)
    summary = pipeline.summary()
    assert len(books) == 5 and not books & {"tBFTUSD", "tSNGUSD"}  # acknowledged later
    for symbol, sync in pipeline.engine.symbols.items():
        invalidated = symbol in books
        assert sync.stats.gaps == int(invalidated), symbol
        # Nothing resyncs it in a replay (the daemon reconnects); later books are unaffected.
        assert summary[symbol].synced is not invalidated, symbol
