"""The Upbit recording replays to the facts the captures README documents.

``upbit/UPBIT.jsonl.gz`` (``SIMPLE`` format, 2021): every frame binary and understood;
the README's channel counts and instruments; every book synced from its 15-level
messages with no gap to find; written rows equal to the wire text; trades with unique
``sequential_id``s and the taker side of ``ab``. Expected values come from the frames
with ``json`` and ``Decimal``, independently of the adapter.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    readme_channels,
    readme_instruments,
    readme_recordings,
    readme_section,
    rel,
    replayed_fixture,
    slug_recordings,
    table_rows,
    written_book_rows,
)

pytestmark = needs_captures

FILES = slug_recordings("upbit")
replayed = replayed_fixture(FILES, exchange="upbit")


def _frames(records):  # type: ignore[no-untyped-def]
    return [
        (r, json.loads(r.data, parse_float=Decimal, parse_int=Decimal))
        for r in records
        if r.kind == "recv"
    ]


def test_every_upbit_recording_is_covered() -> None:
    assert readme_recordings("upbit") == {rel(p) for p in FILES} and FILES


def test_every_frame_is_binary_json_and_understood(replayed) -> None:
    path, records, pipeline = replayed
    recv = [r for r in records if r.kind == "recv"]
    stated = re.search(r"\((\d+) binary frames as `b64`\)", readme_section(path))
    assert stated and len(recv) == int(stated[1])
    assert all(isinstance(r.data, bytes) and r.data[:1] == b"{" for r in recv)  # no gzip
    assert_every_frame_understood(pipeline, records)


def test_channel_counts_and_instruments_are_the_readmes(replayed) -> None:
    path, records, pipeline = replayed
    section = readme_section(path)
    stated = {m[1]: int(m[2]) for m in re.finditer(r"(\w+) (\d+)", readme_channels(section))}
    assert Counter(m["ty"] for _, m in _frames(records)) == stated
    _, names = readme_instruments(section)
    assert set(names) == set(pipeline.frames_by_symbol)


def test_every_book_is_synced_from_fifteen_level_messages(replayed) -> None:
    _, records, pipeline = replayed
    books = [m for _, m in _frames(records) if m["ty"] == "orderbook"]
    assert {len(m["obu"]) for m in books} == {15}
    stats = {s: sym.stats for s, sym in pipeline.engine.symbols.items()}
    assert {s: st.snapshots_applied for s, st in stats.items()} == Counter(m["cd"] for m in books)
    assert sum(st.gaps for st in stats.values()) == 0
    assert all(sym.state.value == "synced" for sym in pipeline.engine.symbols.values())
    assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert_rows_rebuild_engine_books(pipeline)


def test_written_book_rows_are_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent: dict[tuple, list[tuple]] = defaultdict(list)
    numbers: Counter[tuple[int, str]] = Counter()
    for record, m in _frames(records):
        if m["ty"] != "orderbook":
            continue
        numbers[(record.conn, m["cd"])] += 1
        key = (m["cd"], numbers[(record.conn, m["cd"])], True, record.ts)
        sent[key] += [("bid", u["bp"], u["bs"]) for u in m["obu"]]
        sent[key] += [("ask", u["ap"], u["as"]) for u in m["obu"]]
    written = written_book_rows(pipeline, key=("symbol", "seq", "is_snapshot", "ts_recv"))
    assert {k: sorted(v) for k, v in written.items()} == {k: sorted(v) for k, v in sent.items()}


def test_each_orderbooks_first_unit_is_written_as_the_best_bid_and_ask(replayed) -> None:
    _, records, pipeline = replayed
    expected = sorted(
        (m["cd"], r.ts, m["obu"][0]["bp"], m["obu"][0]["bs"], m["obu"][0]["ap"], m["obu"][0]["as"])
        for r, m in _frames(records)
        if m["ty"] == "orderbook"
    )
    fields = ("symbol", "ts_recv", "bid_price", "bid_size", "ask_price", "ask_size")
    assert sorted(table_rows(pipeline, "bbo", *fields)) == expected


def test_trades_have_unique_sequential_ids_and_the_takers_side(replayed) -> None:
    _, records, pipeline = replayed
    expected = sorted(
        (m["cd"], str(m["sid"]), {"BID": "buy", "ASK": "sell"}[m["ab"]], m["tp"], m["tv"])
        for _, m in _frames(records)
        if m["ty"] == "trade"
    )
    written = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert sorted(written) == expected
    ids = [(s, i) for s, i, *_ in written]
    assert len(ids) == len(set(ids)), "sequential_id repeats"
