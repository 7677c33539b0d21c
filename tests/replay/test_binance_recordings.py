"""Every Binance-family recording replays to the book its README documents.

Facts come from the captures README itself (gaps, dropped frames, bookTicker
matches, final best bid/ask), so a new recording with a facts line is covered
with no new test code.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pyarrow as pa
from support import (
    BINANCE_FAMILY,
    assert_every_frame_understood,
    assert_rows_rebuild_engine_books,
    binance_facts,
    needs_captures,
    readme_recordings,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

pytestmark = needs_captures

FILES = recordings(BINANCE_FAMILY)

replayed = replayed_fixture(FILES)


def test_every_binance_recording_is_covered() -> None:
    assert readme_recordings("binance-[a-z]+") == {rel(p) for p in FILES}


def test_books_match_documented_facts(replayed) -> None:
    path, _, pipeline = replayed
    facts = binance_facts(path)
    assert facts, f"no facts parsed for {path}"
    summary = pipeline.summary()
    for symbol, fact in facts.items():
        sync = pipeline.engine.symbols[symbol]
        stats = sync.stats
        assert stats.gaps == fact.gaps == 0, symbol
        assert stats.resyncs == 0, symbol
        assert stats.stale_dropped == fact.dropped, symbol
        assert stats.deltas_applied == fact.applied, symbol
        assert summary[symbol].synced, symbol
        assert sync.last_id == fact.final_id, symbol
        # bookTicker oracle: every quote at an applied update id agrees, and all are counted.
        assert stats.bbo_matched == fact.bbo_matched == fact.bbo_after_bridge, symbol
        assert stats.bbo_mismatched == 0, symbol
        best_bid, best_ask = sync.book.bids.best(), sync.book.asks.best()
        assert (best_bid[0], Decimal(best_bid[1])) == fact.bid, symbol
        assert (best_ask[0], Decimal(best_ask[1])) == fact.ask, symbol


def test_no_problems_and_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)


def test_parquet_rows_rebuild_the_engine_book(replayed) -> None:
    _, _, pipeline = replayed
    assert_rows_rebuild_engine_books(pipeline)


def test_apply_seq_strictly_increases_per_symbol(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    for symbol in pipeline.engine.symbols:
        seqs = book.filter(pa.compute.equal(book["symbol"], symbol))["apply_seq"].to_pylist()
        assert all(a < b for a, b in itertools.pairwise(seqs)), symbol


def test_every_level_is_exact_in_parquet(replayed) -> None:
    """Each written row equals, as a decimal, the text of the level in the frame it came from."""
    _, records, pipeline = replayed
    sent: dict[tuple[str, int, bool], list[tuple[str, Decimal, Decimal]]] = {}
    for rec in records:
        if rec.kind == "http" and "/depth" in rec.url:
            body = json.loads(rec.data)
            symbol = rec.url.split("symbol=")[1].split("&")[0]
            sent[(symbol, body["lastUpdateId"], True)] = _levels(body["bids"], body["asks"])
        elif rec.kind == "recv":
            frame = json.loads(rec.data)
            data = frame.get("data", frame)
            if data.get("e") == "depthUpdate":
                sent[(data["s"], data["u"], False)] = _levels(data["b"], data["a"])
    written = written_book_rows(pipeline)  # also: every row of the table is in a group
    assert written, "no rows written"
    for key, rows in written.items():
        assert rows == sent[key], key


def _levels(bids: list, asks: list) -> list[tuple[str, Decimal, Decimal]]:
    return [("bid", Decimal(p), Decimal(s)) for p, s in bids] + [
        ("ask", Decimal(p), Decimal(s)) for p, s in asks
    ]


def test_trades_and_quotes_are_exact(replayed) -> None:
    _, records, pipeline = replayed
    trades_sent = []
    quotes_sent = []
    for frame in recv_json(records):
        data = frame.get("data")
        if data is None:
            continue
        if data.get("e") in ("trade", "aggTrade"):
            tid = str(data["t"] if data["e"] == "trade" else data["a"])
            side = "sell" if data["m"] else "buy"
            trades_sent.append(
                (
                    data["s"],
                    tid,
                    side,
                    Decimal(data["p"]),
                    Decimal(data["q"]),
                    data["T"] * 1_000_000,
                )
            )
        elif "B" in data and "A" in data:
            quotes_sent.append(
                (
                    data["s"],
                    data["u"],
                    Decimal(data["b"]),
                    Decimal(data["B"]),
                    Decimal(data["a"]),
                    Decimal(data["A"]),
                )
            )
    got_trades = table_rows(
        pipeline, "trades", "symbol", "trade_id", "side", "price", "size", "ts_exchange"
    )
    assert got_trades == trades_sent
    fields = ("symbol", "seq", "bid_price", "bid_size", "ask_price", "ask_size")
    assert pipeline.sink.table("bbo") is not None
    assert table_rows(pipeline, "bbo", *fields) == quotes_sent
