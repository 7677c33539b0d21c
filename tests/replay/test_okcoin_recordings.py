"""The OKCoin recording replays through the OKX-family adapter to verified books.

``okcoin/OKCOIN.jsonl.gz`` (cryptofeed, 2023-05-27, OKCoin spot v5): the captures
README states **6/6** book checksums verify (USDC-USDT 2, USDT-USD 2, BTC-USD 1,
ETH-USD 1); two of them are on updates with empty ``bids``/``asks``, which still carry
the checksum of the unchanged book. The books carry no ``seqId``, so the checksums are
the only check, and each must be reproduced from the wire text.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
)

pytestmark = needs_captures

FILES = recordings(("okcoin",))
#: symbol -> book pushes carrying a checksum (the README's per-symbol counts).
CHECKSUMS = {"USDC-USDT": 2, "USDT-USD": 2, "BTC-USD": 1, "ETH-USD": 1}

replayed = replayed_fixture(FILES, exchange="okcoin")


def pushes(records, channel: str) -> list[dict]:
    return [f for f in recv_json(records) if "data" in f and f["arg"]["channel"] == channel]


def test_the_recording_is_there() -> None:
    assert [rel(p) for p in FILES] == ["okcoin/OKCOIN.jsonl.gz"]


def test_every_checksum_verifies_and_every_book_syncs(replayed) -> None:
    _, records, pipeline = replayed
    wire = Counter(f["arg"]["instId"] for f in pushes(records, "books"))
    assert wire == CHECKSUMS  # every push carries one: the fact is the wire's own
    for symbol, n in CHECKSUMS.items():
        stats = pipeline.engine.symbols[symbol].stats
        assert (stats.checksums_verified, stats.checksums_failed) == (n, 0), symbol
        assert (stats.gaps, stats.resyncs, stats.crossed) == (0, 0, 0), symbol
        assert stats.snapshots_applied == 1, symbol
    empty = [f for f in pushes(records, "books") if not f["data"][0]["bids"] + f["data"][0]["asks"]]
    assert len(empty) == 2  # verified on the unchanged book, as the README says


def test_every_frame_understood_and_no_book_crossed(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert_rows_rebuild_engine_books(pipeline)


def test_snapshot_rows_are_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent = {
        (f["arg"]["instId"], side[:-1], Decimal(p), Decimal(s))
        for f in pushes(records, "books")
        if f["action"] == "snapshot"
        for side in ("bids", "asks")
        for p, s, *_ in f["data"][0][side]
    }
    written = {
        (sym, side, price, size)
        for sym, side, price, size, snap in table_rows(
            pipeline, "book", "symbol", "side", "price", "size", "is_snapshot"
        )
        if snap
    }
    assert written == sent and written


def test_the_trades_push_on_subscribe_is_not_stored(replayed) -> None:
    """Each instrument's only trades push is the one sent on subscribing: the last trade
    before it, 15 minutes to 10 hours old. None is written as a trade of the session."""
    _, records, pipeline = replayed
    first = pushes(records, "trades")
    assert sorted(f["arg"]["instId"] for f in first) == sorted(CHECKSUMS)
    opened = next(r.ts for r in records if r.kind == "open")
    assert all(int(f["data"][0]["ts"]) * 10**6 < opened for f in first)  # before connecting
    assert table_rows(pipeline, "trades", "trade_id") == []
    assert pipeline.controls["ignored"] >= len(first)
