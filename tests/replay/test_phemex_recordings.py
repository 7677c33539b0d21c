"""The Phemex recording replays to the facts of its README section, scaled exactly.

Prices and sizes arrive as scaled integers; the expected rows here are computed from
the wire integers and the sidecar's scales with ``Decimal`` (``scaleb``), independently
of the adapter's integer-text conversion. The sidecar is fed first, as ``collector
replay`` does; a second replay feeds it only midway, to show that frames which arrive
before the product list are held and lose nothing.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from support import (
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    load_records,
    needs_captures,
    readme_channels,
    readme_instruments,
    readme_recordings,
    readme_section,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    run_records,
    table_rows,
    written_book_rows,
)

from collector.capture.reader import open_recording
from collector.replay import instruments_sidecar

pytestmark = needs_captures

FILES = recordings(("phemex",))

replayed = replayed_fixture(FILES, exchange="phemex", ids=lambda p: p.name)


def _scales(path) -> dict[str, tuple[int, int]]:
    """symbol -> (price scale, size scale), read from the sidecar with plain ``json``."""
    (record,) = [r for r in open_recording(instruments_sidecar(path))[1] if r.kind == "http"]
    data = json.loads(record.data)["data"]
    value = {c["currency"]: c["valueScale"] for c in data["currencies"]}
    out = {}
    for p in data["products"]:
        if p["type"] == "Spot":
            out[p["symbol"]] = (value[p["quoteCurrency"]], value[p["baseCurrency"]])
        else:
            out[p["symbol"]] = (p["priceScale"], 0)
    return out


def test_every_phemex_recording_is_covered() -> None:
    assert FILES, "no Phemex recordings found"
    assert readme_recordings("phemex") == {rel(p) for p in FILES}


def test_books_and_trades_match_readme(replayed) -> None:
    path, records, pipeline = replayed
    section = readme_section(path)
    # Both connections went to one URL, so the replay's switch-over filter (exactly-once
    # frames) admits the 30 identical subscribe acks once: 29 dropped, nothing else.
    assert dict(pipeline.problems) == {}
    acks = sum(r.kind == "recv" and '"result":{"status":"success"}' in r.data for r in records)
    assert pipeline.overlap.dropped == acks - 1 == 29
    assert pipeline.frames + pipeline.overlap.dropped == sum(r.kind == "recv" for r in records)
    channels = readme_channels(section)
    counts = {m[0]: int(m[1]) for m in re.findall(r"(book \w+|trades \w+) (\d+)", channels)}
    assert counts == {
        "book incremental": 1324,
        "book snapshot": 13,
        "trades incremental": 25,
        "trades snapshot": 10,
    }
    n, instruments = readme_instruments(section)
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    assert sorted(stats) == sorted(instruments) and n == 10
    assert sum(st.snapshots_applied for st in stats.values()) == counts["book snapshot"]
    assert sum(st.deltas_applied for st in stats.values()) == counts["book incremental"]
    assert sum(st.gaps + st.resyncs + st.crossed + st.duplicates for st in stats.values()) == 0
    assert all(summary.synced for summary in pipeline.summary().values())
    # Trade snapshots (history sent on subscribe) are not stored; incremental rows are.
    rows = sum(
        len(f["trades"])
        for f in recv_json(records)
        if f.get("type") == "incremental" and "trades" in f
    )
    assert len(table_rows(pipeline, "trades", "symbol")) == rows > 0


def test_rows_are_the_wire_integers_scaled(replayed) -> None:
    path, records, pipeline = replayed
    scales = _scales(path)
    sent: dict[tuple, list] = {}
    for f in recv_json(records):
        if "book" not in f:
            continue
        ps, ss = scales[f["symbol"]]
        sent[(f["symbol"], f["sequence"], f["type"] == "snapshot")] = [
            (side, Decimal(p).scaleb(-ps), Decimal(s).scaleb(-ss))
            for side, key in (("bid", "bids"), ("ask", "asks"))
            for p, s in f["book"][key]
        ]
    written = written_book_rows(pipeline)
    assert written
    for key, rows in written.items():
        assert rows == sent[key], key
    trades = [
        (
            f["symbol"],
            ts,
            side.lower(),
            Decimal(p).scaleb(-scales[f["symbol"]][0]),
            Decimal(q).scaleb(-scales[f["symbol"]][1]),
        )
        for f in recv_json(records)
        if "trades" in f and f["type"] == "incremental"
        for ts, side, p, q in f["trades"]
    ]
    got = table_rows(pipeline, "trades", "symbol", "ts_exchange", "side", "price", "size")
    assert got == trades


def test_never_crossed_and_rows_rebuild_the_books(replayed) -> None:
    _, _, pipeline = replayed
    assert assert_never_crossed(pipeline.sink.table("book")) > 1000
    assert_rows_rebuild_engine_books(pipeline)
    markets = set(table_rows(pipeline, "book", "symbol", "market"))
    assert {("YFIUSD", "YFI-USD-PERP"), ("sLINKUSDT", "LINK-USDT")} <= markets


def test_frames_before_the_product_list_are_held_and_lose_nothing(replayed) -> None:
    """The list arriving after 300 frames (a failed start-up fetch, then the poll) gives
    exactly the rows of a replay that had it first: nothing dropped, nothing reordered."""
    path, _, pipeline = replayed
    _, records = load_records(path)
    (products,) = [r for r in open_recording(instruments_sidecar(path))[1] if r.kind == "http"]
    recv = [i for i, r in enumerate(records) if r.kind == "recv"]
    late = [*records[: recv[300]], products, *records[recv[300] :]]
    again = run_records("phemex", late)
    assert dict(again.problems) == {}
    for table in ("book", "trades"):
        columns = (
            ["symbol", "market", "seq", "side", "price", "size"]
            if table == "book"
            else ["symbol", "market", "ts_exchange", "side", "price", "size"]
        )
        assert table_rows(again, table, *columns) == table_rows(pipeline, table, *columns)
