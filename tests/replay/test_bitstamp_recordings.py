"""The Bitstamp recording replays to the facts of its README section.

The REST snapshots in the stream seed each book; the diff events at or before a
snapshot's ``microtimestamp`` are dropped and the first newer one bridges it (the
websocket docs' rule). The expected counts are computed here from the records with
plain ``json``, independently of the adapter.
"""

from __future__ import annotations

import json
import re
from collections import Counter
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

from adapters.bitstamp.adapter import BitstampAdapter

pytestmark = needs_captures

FILES = recordings(("bitstamp",))

replayed = replayed_fixture(FILES, exchange="bitstamp", ids=lambda p: p.name)


def _snapshots(records) -> dict[str, int]:
    return {
        r.url.rstrip("/").rpartition("/")[2]: int(json.loads(r.data)["microtimestamp"])
        for r in records
        if r.kind == "http"
    }


def _diffs(records) -> list[tuple[str, dict]]:
    out = []
    for r in records:
        if r.kind == "recv":
            f = json.loads(r.data)
            if f["event"] == "data" and f["channel"].startswith("diff_order_book_"):
                out.append((f["channel"].rpartition("_")[2], f["data"]))
    return out


def test_every_bitstamp_recording_is_covered() -> None:
    assert FILES, "no Bitstamp recordings found"
    assert readme_recordings("bitstamp") == {rel(p) for p in FILES}


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(BitstampAdapter(), records)


def test_every_streamed_book_bridges_its_rest_snapshot(replayed) -> None:
    path, records, pipeline = replayed
    section = readme_section(path)
    assert re.search(r"diff_order_book \(data\) 717\b", readme_channels(section))
    _, instruments = readme_instruments(section)
    snapshots, diffs = _snapshots(records), _diffs(records)
    assert len(diffs) == 717 and {pair for pair, _ in diffs} == set(instruments)
    stale = Counter(pair for pair, d in diffs if int(d["microtimestamp"]) <= snapshots[pair])
    applied = Counter(pair for pair, d in diffs if int(d["microtimestamp"]) > snapshots[pair])
    summary = pipeline.summary()
    for pair in instruments:
        st = pipeline.engine.symbols[pair].stats
        assert summary[pair].synced, pair
        assert st.snapshots_applied == 1 and st.gaps == st.resyncs == st.crossed == 0, pair
        assert (st.stale_dropped, st.deltas_applied) == (stale[pair], applied[pair]), pair
    assert sum(stale.values()) == 102 and sum(applied.values()) == 615
    # sgbeur: its book was fetched, but its stream said nothing in 31 s: never bridged.
    assert "sgbeur" in snapshots and "sgbeur" not in instruments
    assert not summary["sgbeur"].synced and pipeline.engine.symbols["sgbeur"].stats.book_rows == 0


def test_rows_equal_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    snapshots = _snapshots(records)
    sent: dict[tuple, list] = {}
    for r in records:
        if r.kind == "http":
            pair = r.url.rstrip("/").rpartition("/")[2]
            d = json.loads(r.data)
            sent[(pair, snapshots[pair], True)] = _levels(d)
    for pair, d in _diffs(records):
        sent[(pair, int(d["microtimestamp"]), False)] = _levels(d)
    written = written_book_rows(pipeline)
    assert len(written) == 9 + 615
    for key, rows in written.items():
        assert rows == sent[key], key


def _levels(d: dict) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (side, Decimal(p), Decimal(a))
        for side, key in (("bid", "bids"), ("ask", "asks"))
        for p, a in d[key]
    ]


def test_trades_have_unique_ids_and_the_takers_side(replayed) -> None:
    path, records, pipeline = replayed
    assert re.search(r"live_trades \(trade\) 10\b", readme_channels(readme_section(path)))
    sent = [
        (
            f["channel"].rpartition("_")[2],
            str(f["data"]["id"]),
            ("buy", "sell")[f["data"]["type"]],
            Decimal(f["data"]["price_str"]),
            Decimal(f["data"]["amount_str"]),
        )
        for f in (json.loads(r.data) for r in records if r.kind == "recv")
        if f["event"] == "trade"
    ]
    got = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert got == sent and len({t[1] for t in got}) == len(got) == 10


def test_never_crossed_and_rows_rebuild_the_books(replayed) -> None:
    _, _, pipeline = replayed
    assert assert_never_crossed(pipeline.sink.table("book")) == 9 + 615
    assert_rows_rebuild_engine_books(pipeline, unwritten_empty=True)
    markets = set(table_rows(pipeline, "book", "symbol", "market"))
    assert {("ethusd", "ETH-USD"), ("batbtc", "BAT-BTC")} <= markets
