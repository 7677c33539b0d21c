"""The Bitget recording (API v1, 2022-04-07) replays to verified books and exact trades.

The captures README states **637/637** book checksums verify (OKX scheme, 25+25 levels,
signed CRC32), per book: sp:CULTUSDT 52/52, mc:DASHUSDT 98/98, mc:UNIUSDT 96/96,
sp:EOSUSDT 56/56, sp:VVSUSDT 55/55, sp:GOGUSDT 57/57, sp:AVAXUSDT 56/56, sp:STGUSDT 56/56,
sp:HOTUSDT 55/55, sp:SUNUSDT 56/56. Every ``books`` push carries one, the snapshot
included, and the adapter must reproduce each from the wire text of its own book.
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

FILES = recordings(("bitget",))
#: README per-book checksum counts, by the adapter's symbol (v1 sp -> SPOT, mc -> futures).
CHECKSUMS = {
    "SPOT:CULTUSDT": 52,
    "USDT-FUTURES:DASHUSDT": 98,
    "USDT-FUTURES:UNIUSDT": 96,
    "SPOT:EOSUSDT": 56,
    "SPOT:VVSUSDT": 55,
    "SPOT:GOGUSDT": 57,
    "SPOT:AVAXUSDT": 56,
    "SPOT:STGUSDT": 56,
    "SPOT:HOTUSDT": 55,
    "SPOT:SUNUSDT": 56,
}
LINE = {"sp": "SPOT", "mc": "USDT-FUTURES"}

replayed = replayed_fixture(FILES, exchange="bitget")


def pushes(records, channel: str, action: str | None = None) -> list[dict]:
    return [
        f
        for f in recv_json(records)
        if "data" in f and f["arg"]["channel"] == channel and action in (None, f["action"])
    ]


def symbol(frame: dict) -> str:
    return f"{LINE[frame['arg']['instType']]}:{frame['arg']['instId']}"


def test_the_recording_is_there() -> None:
    assert [rel(p) for p in FILES] == ["bitget/BITGET.jsonl.gz"]


def test_every_checksum_verifies_and_every_book_stays_synced(replayed) -> None:
    _, records, pipeline = replayed
    assert Counter(symbol(f) for f in pushes(records, "books")) == CHECKSUMS  # the wire's
    for name, n in CHECKSUMS.items():
        stats = pipeline.engine.symbols[name].stats
        assert (stats.checksums_verified, stats.checksums_failed) == (n, 0), name
        assert (stats.gaps, stats.resyncs, stats.crossed) == (0, 0, 0), name
        assert (stats.snapshots_applied, stats.deltas_applied) == (1, n - 1), name
    assert sum(CHECKSUMS.values()) == 637


def test_every_frame_understood_and_no_book_crossed(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert_rows_rebuild_engine_books(pipeline)


def test_trade_updates_are_stored_exactly_and_snapshots_are_not(replayed) -> None:
    """v1 trade rows ``[ts, price, size, side]`` carry no id: ``trade_id`` is empty."""
    _, records, pipeline = replayed
    sent = [
        (symbol(f), "", side, Decimal(p), Decimal(s), int(ts) * 1_000_000)
        for f in pushes(records, "trade", "update")
        for ts, p, s, side in f["data"]
    ]
    got = table_rows(
        pipeline, "trades", "symbol", "trade_id", "side", "price", "size", "ts_exchange"
    )
    assert got == sent and len(got) >= 55
    assert len(pushes(records, "trade", "snapshot")) == 10  # history: not written


def test_markets_come_from_the_v1_lists(replayed) -> None:
    _, _, pipeline = replayed
    markets = {s: pipeline.adapter.market(s) for s in CHECKSUMS}
    assert markets["SPOT:EOSUSDT"] == "EOS-USDT"
    assert markets["USDT-FUTURES:DASHUSDT"] == "DASH-USDT-PERP"
    assert pipeline.adapter.listed("USDT-FUTURES:UNIUSDT") is True
    assert pipeline.adapter.listed("SPOT:UNIUSDT") is True  # both lines list UNIUSDT
