"""Both Gemini recordings (2021 and 2026 shapes) replay to the facts their README
sections state. Expected rows come from the frames (``json`` and ``Decimal``)."""

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

from adapters.gemini.adapter import GeminiAdapter

pytestmark = needs_captures

FILES = recordings(("gemini",))

replayed = replayed_fixture(FILES, exchange="gemini", ids=lambda p: p.name)


def test_every_gemini_recording_is_covered() -> None:
    assert len(FILES) == 2, "expected the 2021 and 2026 Gemini recordings"
    assert readme_recordings("gemini") == {rel(p) for p in FILES}


def test_each_symbol_syncs_on_its_first_update_and_applies_the_rest(replayed) -> None:
    """README "l2_updates N" over "Instruments (10)": one snapshot per symbol, the other
    N - 10 updates applied as changes, no resync, never crossed."""
    path, _, pipeline = replayed
    section = readme_section(path)
    count, instruments = readme_instruments(section)
    assert set(pipeline.engine.symbols) == set(instruments) and count == 10
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    assert all(st.snapshots_applied == 1 for st in stats.values())
    updates = readme_channel_count(section, "l2_updates")
    assert sum(st.deltas_applied for st in stats.values()) == updates - count
    assert sum(st.gaps + st.resyncs + st.crossed for st in stats.values()) == 0
    assert all(s.synced for s in pipeline.summary().values())
    assert_never_crossed(pipeline.sink.table("book"))
    assert_rows_rebuild_engine_books(pipeline)


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(GeminiAdapter(), records)


def test_rows_equal_the_wire_text(replayed) -> None:
    """Each l2_updates frame's changes, in order, are its written rows (bids first)."""
    _, records, pipeline = replayed
    seen: dict[str, int] = {}
    sent = {}
    for msg in recv_json(records):
        if msg["type"] != "l2_updates":
            continue
        n = seen[msg["symbol"]] = seen.get(msg["symbol"], 0) + 1
        levels = [
            (side, Decimal(p), Decimal(q))
            for side, wire in (("bid", "buy"), ("ask", "sell"))
            for s, p, q in msg["changes"]
            if s == wire
        ]
        if levels:
            sent[(msg["symbol"], n, n == 1)] = levels
    assert written_book_rows(pipeline) == sent


def test_trades_are_the_trade_events_with_unique_ids(replayed) -> None:
    """README "trade M": M trades stored (none of those sent with the first book);
    ids are ``tid`` where sent (2026), else ``event_id``."""
    path, records, pipeline = replayed
    events = [m for m in recv_json(records) if m["type"] == "trade"]
    assert len(events) == readme_channel_count(readme_section(path), "trade")
    sent = [
        (m["symbol"], str(m.get("tid", m["event_id"])), m["side"], Decimal(m["price"]))
        for m in events
    ]
    rows = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price")
    assert rows == sent and len({r[1] for r in rows}) == len(rows)


def test_markets(replayed) -> None:
    _, _, pipeline = replayed
    markets = dict(table_rows(pipeline, "book", "symbol", "market"))
    expected = {"BTCGBP": "BTC-GBP", "ZECLTC": "ZEC-LTC", "BTCUSDCPERP": "BTC-USDC-PERP"}
    assert {s: m for s, m in markets.items() if s in expected} == {
        s: m for s, m in expected.items() if s in markets
    }
    assert all(pipeline.adapter.listed(s) for s in markets)
