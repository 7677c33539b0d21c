"""The Hyperliquid recording (hftbacktest's) replays to the facts its README section states.

Every ``l2Book`` frame is a whole book: each is one snapshot, written level for level,
and the book after it is exactly that frame's. Expected rows come from the frames
(``json`` and ``Decimal``), independently of the adapter.
"""

from __future__ import annotations

from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_no_decode_failed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    readme_channel_count,
    readme_instruments,
    readme_recordings,
    readme_section,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

from adapters.hyperliquid.adapter import HyperliquidAdapter

pytestmark = needs_captures

FILES = recordings(("hyperliquid",))

replayed = replayed_fixture(FILES, exchange="hyperliquid", ids=lambda p: p.name)


def test_every_hyperliquid_recording_is_covered() -> None:
    assert FILES, "no Hyperliquid recordings found"
    assert readme_recordings("hyperliquid") == {rel(p) for p in FILES}


def test_every_l2book_frame_is_one_applied_snapshot(replayed) -> None:
    """README: "l2Book 46", "none (full snapshots)": 46 snapshots, no deltas, no gaps."""
    path, _, pipeline = replayed
    section = readme_section(path)
    assert "none (full snapshots)" in section
    _, instruments = readme_instruments(section)
    assert set(pipeline.engine.symbols) == set(instruments) == {"BTC"}
    st = pipeline.engine.symbols["BTC"].stats
    books = readme_channel_count(section, "l2Book")
    assert (st.snapshots_applied, st.deltas_applied, st.gaps, st.resyncs) == (books, 0, 0, 0)
    assert books == 46 and pipeline.summary()["BTC"].synced


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(HyperliquidAdapter(), records)


def test_rows_are_each_frames_whole_book(replayed) -> None:
    """Message n's rows are the n-th l2Book frame's levels, bids then asks, as sent."""
    _, records, pipeline = replayed
    frames = [m["data"] for m in recv_json(records) if m["channel"] == "l2Book"]
    expected = {
        ("BTC", n, True): [
            (side, Decimal(lvl["px"]), Decimal(lvl["sz"]))
            for side, levels in zip(("bid", "ask"), book["levels"], strict=True)
            for lvl in levels
        ]
        for n, book in enumerate(frames, 1)
    }
    assert written_book_rows(pipeline) == expected
    assert assert_never_crossed(pipeline.sink.table("book"), two_sided=True) == len(frames)
    assert_rows_rebuild_engine_books(pipeline)


def test_trades_are_every_trade_row_with_unique_ids(replayed) -> None:
    """README: "trades 9" frames; every row stored, ``side`` B -> buy, A -> sell."""
    path, records, pipeline = replayed
    frames = [m["data"] for m in recv_json(records) if m["channel"] == "trades"]
    assert len(frames) == readme_channel_count(readme_section(path), "trades") == 9
    sides = {"B": "buy", "A": "sell"}
    sent = [(str(t["tid"]), sides[t["side"]], t["px"], t["sz"]) for f in frames for t in f]
    rows = table_rows(pipeline, "trades", "trade_id", "side", "price", "size")
    assert [(i, s, Decimal(p), Decimal(z)) for i, s, p, z in sent] == rows
    assert len({r[0] for r in rows}) == len(rows) == 64
    assert {s for _, s, _, _ in rows} == {"buy", "sell"}
