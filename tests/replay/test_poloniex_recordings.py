"""The Poloniex recording replays to the facts of its README section.

``book_lv2``: one snapshot per book, then updates whose ``lastId`` is the previous
``id``; the chain is checked here from the records with plain ``json`` (every link
holds), and the engine must agree: every update applied, no gap.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_no_decode_failed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    readme_channels,
    readme_instruments,
    readme_recordings,
    readme_section,
    recordings,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

from adapters.poloniex.adapter import PoloniexAdapter

pytestmark = needs_captures

FILES = recordings(("poloniex",))

replayed = replayed_fixture(FILES, exchange="poloniex", ids=lambda p: p.name)


def _books(records) -> list[tuple[str, dict]]:
    frames = (json.loads(r.data) for r in records if r.kind == "recv")
    return [
        (f["action"], row)
        for f in frames
        if f.get("channel") == "book_lv2" and "data" in f
        for row in f["data"]
    ]


def test_every_poloniex_recording_is_covered() -> None:
    assert FILES, "no Poloniex recordings found"
    assert readme_recordings("poloniex") == {rel(p) for p in FILES}


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(PoloniexAdapter(), records)


def test_id_chain_holds_and_every_book_syncs(replayed) -> None:
    path, records, pipeline = replayed
    section = readme_section(path)
    channels = readme_channels(section)
    assert re.search(r"book_lv2 update 283\b", channels)
    assert re.search(r"book_lv2 snapshot 11\b", channels)
    n, instruments = readme_instruments(section)
    last: dict[str, int] = {}
    links = 0
    for action, row in _books(records):
        if action == "update":
            assert row["lastId"] == last[row["symbol"]], row  # the documented chain
            links += 1
        last[row["symbol"]] = row["id"]
    assert links == 283 and sorted(last) == sorted(instruments) and n == 11
    summary = pipeline.summary()
    for symbol in instruments:
        st = pipeline.engine.symbols[symbol].stats
        assert summary[symbol].synced, symbol
        assert st.snapshots_applied == 1 and st.gaps == st.resyncs == st.duplicates == 0
    assert sum(pipeline.engine.symbols[s].stats.deltas_applied for s in instruments) == 283


def test_rows_equal_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent = {
        (row["symbol"], row["id"], action == "snapshot"): [
            (side, Decimal(p), Decimal(q))
            for side, key in (("bid", "bids"), ("ask", "asks"))
            for p, q in row[key]
        ]
        for action, row in _books(records)
    }
    written = written_book_rows(pipeline)
    assert written
    for key, rows in written.items():
        assert rows == sent[key], key  # no level beyond the venue's 20 had to be cut
    assert {k for k, v in sent.items() if v} == set(written)


def test_trades_have_unique_ids_and_the_takers_side(replayed) -> None:
    path, records, pipeline = replayed
    assert re.search(r"trades 6\b", readme_channels(readme_section(path)))
    sent = [
        (t["symbol"], t["id"], t["takerSide"], Decimal(t["price"]), Decimal(t["quantity"]))
        for f in (json.loads(r.data) for r in records if r.kind == "recv")
        if f.get("channel") == "trades" and "data" in f
        for t in f["data"]
    ]
    got = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert got == sent and len({t[1] for t in got}) == len(got) == 6


def test_never_crossed_and_rows_rebuild_the_books(replayed) -> None:
    _, _, pipeline = replayed
    assert assert_never_crossed(pipeline.sink.table("book")) > 200
    assert_rows_rebuild_engine_books(pipeline)
    markets = set(table_rows(pipeline, "book", "symbol", "market"))
    assert {("BTC_USDT", "BTC-USDT"), ("MDT_BTC", "MDT-BTC")} <= markets
