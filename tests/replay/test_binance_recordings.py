"""Every Binance-family recording replays to the book its README documents.

Facts come from the captures README itself (gaps, dropped frames, bookTicker
matches, final best bid/ask), so a new recording with a facts line is covered
with no new test code.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from support import (
    BINANCE_FAMILY,
    CAPTURES,
    binance_facts,
    load_records,
    needs_captures,
    pylist,
    rebuild_books,
    recordings,
    run_records,
)

pytestmark = needs_captures

FILES = recordings(BINANCE_FAMILY)


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.relative_to(p.parents[1]).as_posix())
def replayed(request: pytest.FixtureRequest):
    path: Path = request.param
    exchange, records = load_records(path)
    return path, records, run_records(exchange, records)


def test_every_binance_recording_is_covered() -> None:
    readme = (CAPTURES / "README.md").read_text()
    listed = set(
        re.findall(r"^### `((?:binance-[a-z]+)/[^`]+(?<!\.instruments)\.jsonl\.gz)`", readme, re.M)
    )
    assert listed == {p.relative_to(CAPTURES).as_posix() for p in FILES}


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
    assert dict(pipeline.problems) == {}
    assert pipeline.frames == sum(r.kind == "recv" for r in records)


def test_parquet_rows_rebuild_the_engine_book(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    rebuilt = rebuild_books(book)
    for symbol, sync in pipeline.engine.symbols.items():
        exact = sync.book.as_dict()
        assert rebuilt[symbol]["bid"] == exact["bids"], symbol
        assert rebuilt[symbol]["ask"] == exact["asks"], symbol


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
    written: dict[tuple[str, int, bool], list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    book = pipeline.sink.table("book").sort_by("apply_seq")
    for row in pylist(book):
        key = (row["symbol"], row["seq"], row["is_snapshot"])
        written[key].append((row["side"], row["price"], row["size"]))
    assert written, "no rows written"
    for key, rows in written.items():
        assert rows == sent[key], key
    assert sum(map(len, written.values())) == book.num_rows


def _levels(bids: list, asks: list) -> list[tuple[str, Decimal, Decimal]]:
    return [("bid", Decimal(p), Decimal(s)) for p, s in bids] + [
        ("ask", Decimal(p), Decimal(s)) for p, s in asks
    ]


def test_trades_and_quotes_are_exact(replayed) -> None:
    _, records, pipeline = replayed
    trades_sent = []
    quotes_sent = []
    for rec in records:
        if rec.kind != "recv":
            continue
        data = json.loads(rec.data).get("data")
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
    trades = pipeline.sink.table("trades")
    got_trades = _trade_rows(trades)
    assert got_trades == trades_sent
    quotes = pipeline.sink.table("bbo")
    got_quotes = [
        (r["symbol"], r["seq"], r["bid_price"], r["bid_size"], r["ask_price"], r["ask_size"])
        for r in pylist(quotes)
    ]
    assert got_quotes == quotes_sent


def _trade_rows(trades: pa.Table | None) -> list:
    if trades is None:
        return []
    return [
        (r["symbol"], r["trade_id"], r["side"], r["price"], r["size"], r["ts_exchange"])
        for r in pylist(trades)
    ]
