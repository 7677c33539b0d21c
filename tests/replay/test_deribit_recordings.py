"""Every Deribit recording replays to the facts its README section documents.

The instruments sidecar is fed first (as ``collector replay`` does), so markets come
from ``public/get_instruments``. Facts are parsed from the README itself.
"""

from __future__ import annotations

import re
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_no_decode_failed,
    assert_rows_rebuild_engine_books,
    needs_captures,
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

from adapters.deribit.adapter import DeribitAdapter

pytestmark = needs_captures

FILES = recordings(("deribit",))

replayed = replayed_fixture(FILES, exchange="deribit", ids=lambda p: p.name)


def test_every_deribit_recording_is_covered() -> None:
    assert FILES, "no Deribit recordings found"
    assert readme_recordings("deribit") == {rel(p) for p in FILES}


def test_change_id_chain_matches_readme(replayed) -> None:
    path, _, pipeline = replayed
    section = readme_section(path)
    m = re.search(r"chain over (\d+) books \((\d+) changes\): \*\*(\d+) gaps\*\*", section)
    assert m, "no chain fact in the README"
    books, changes, gaps = map(int, m.groups())
    _, instruments = readme_instruments(section)
    assert set(pipeline.engine.symbols) == set(instruments)
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    assert len(stats) == books == 10
    assert sum(st.deltas_applied for st in stats.values()) == changes == 36
    assert sum(st.gaps for st in stats.values()) == gaps == 0
    summary = pipeline.summary()
    for symbol, st in stats.items():
        assert st.snapshots_applied == 1, symbol
        assert st.resyncs == 0 and st.crossed == 0 and st.duplicates == 0, symbol
        assert summary[symbol].synced, symbol


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(DeribitAdapter(), records)


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    states = assert_never_crossed(book)
    # One state per message that wrote rows (an empty snapshot or change writes none).
    assert set(book["symbol"].to_pylist()) <= set(pipeline.engine.symbols)
    messages = set(zip(book["symbol"].to_pylist(), book["seq"].to_pylist(), strict=True))
    assert states == len(messages) > 10


def test_rows_equal_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent: dict[tuple[str, int, bool], list] = {}
    for msg in recv_json(records, parse_float=Decimal):
        params = msg.get("params") or {}
        if not str(params.get("channel", "")).startswith("book."):
            continue
        d = params["data"]
        levels = [
            (side, Decimal(p), Decimal(0) if action == "delete" else Decimal(a))
            for side, key in (("bid", "bids"), ("ask", "asks"))
            for action, p, a in d[key]
        ]
        sent[(d["instrument_name"], d["change_id"], d["type"] == "snapshot")] = levels
    written = written_book_rows(pipeline)
    assert written
    for key, rows in written.items():
        assert rows == sent[key], key
    assert {k for k, v in sent.items() if v} == set(written)


def test_parquet_rows_rebuild_the_engine_book_and_markets(replayed) -> None:
    _, _, pipeline = replayed
    # A book that was always empty writes no rows: it rebuilds as empty.
    assert_rows_rebuild_engine_books(pipeline, unwritten_empty=True)
    markets = set(table_rows(pipeline, "book", "symbol", "market"))
    assert ("BTC-24SEP21-34000-P", "BTC-USD-20210924-34000-P") in markets
    assert ("ETH-23JUL21-2300-C", "ETH-USD-20210723-2300-C") in markets
