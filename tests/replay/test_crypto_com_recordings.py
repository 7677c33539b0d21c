"""The Crypto.com recording (retired Exchange API v2, 2021-11-23) replays exactly.

The captures README: 10 instruments; recv frames book 1525, ticker 1484, trade 139,
candlestick 10, control/other 5; sequence and checksum fields: none (full book
snapshots). So every ``book`` push is a whole book at depth 150: each must replace the
book, and the rows written must be its levels' exact text (prices arrive as JSON
numbers, ``45.330`` with its trailing zero).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    load_records,
    needs_captures,
    readme_instruments,
    readme_section,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
)

pytestmark = needs_captures

FILES = recordings(("crypto-com",))
#: recv frames per channel, as the README counts them.
CHANNELS = {"book": 1525, "ticker": 1484, "trade": 139, "candlestick": 10}

replayed = replayed_fixture(FILES, exchange="crypto-com")


def pushes(records, channel: str) -> list[dict]:
    """Pushes of one channel, every number read as its exact decimal."""
    frames = recv_json(records, parse_float=Decimal, parse_int=Decimal)
    return [f["result"] for f in frames if f.get("result", {}).get("channel") == channel]


def test_the_recording_and_its_readme_counts() -> None:
    assert [rel(p) for p in FILES] == ["crypto-com/CRYPTO.COM.jsonl.gz"]
    (path,) = FILES
    _, records = load_records(path)
    counts = Counter(f.get("result", {}).get("channel", "control") for f in recv_json(records))
    assert counts == {**CHANNELS, "control": 5}
    assert readme_instruments(readme_section(path))[0] == 10


def test_every_book_push_is_a_snapshot_and_every_book_syncs(replayed) -> None:
    _, records, pipeline = replayed
    per_symbol = Counter(r["instrument_name"] for r in pushes(records, "book"))
    assert len(per_symbol) == 10
    for symbol, n in per_symbol.items():
        stats = pipeline.engine.symbols[symbol].stats
        assert (stats.snapshots_applied, stats.deltas_applied) == (n, 0), symbol
        assert (stats.gaps, stats.crossed, stats.checksums_verified) == (0, 0, 0), symbol
        assert pipeline.summary()[symbol].synced, symbol


def test_every_frame_understood_and_no_book_crossed(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert_rows_rebuild_engine_books(pipeline)


def test_book_rows_are_the_wire_text_of_each_snapshot(replayed) -> None:
    _, records, pipeline = replayed
    sent = Counter()
    for r in pushes(records, "book"):
        (data,) = r["data"]
        for side in ("bids", "asks"):
            for price, size, _ in data[side]:
                sent[(r["instrument_name"], side[:-1], price, size)] += 1
    rows = table_rows(pipeline, "book", "symbol", "side", "price", "size", "is_snapshot")
    assert all(snapshot for *_, snapshot in rows)
    assert Counter(row[:4] for row in rows) == sent


def test_trade_snapshots_are_history_and_live_trades_are_exact_and_unique(replayed) -> None:
    """The first trade push of each instrument is the subscription's snapshot of recent
    trades (not stored); every later trade is stored once, with the taker's side."""
    _, records, pipeline = replayed
    seen: set[str] = set()
    sent = []
    for r in pushes(records, "trade"):
        if r["instrument_name"] not in seen:
            seen.add(r["instrument_name"])
            continue
        sent += [(t["i"], str(t["d"]), t["s"].lower(), t["p"], t["q"]) for t in r["data"]]
    got = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert got == sent and len(got) > 100
    assert len({t[1] for t in got}) == len(got)  # unique trade ids


def test_the_heartbeat_is_answered(replayed) -> None:
    """The recording's one ``public/heartbeat`` gets a reply (a replay only counts it;
    the answer's text is checked against the recorder's in the unit tests)."""
    _, _, pipeline = replayed
    assert pipeline.controls["reply"] == 1
