"""Every Kraken spot recording (WS v1) replays to the facts the captures README documents.

``KRAKEN.ws.50`` (book-1000 with checksums): every checksum verifies, per pair as
the README counts them, and the book table is exactly the wire. ``.48`` (trades)
and ``.49`` (tickers) check the trade and best bid/ask rows against the wire.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from support import (
    CAPTURES,
    book_states,
    load_records,
    needs_captures,
    pylist,
    rebuild_books,
    recordings,
    run_records,
)

from adapters.kraken import KrakenAdapter
from collector.model import DecodeFailed

pytestmark = needs_captures

FILES = recordings(("kraken",))
#: The README's ``KRAKEN.ws.50`` line, restated so a README reworded beyond the parser fails.
WS50_CHECKSUMS = {
    "ADA/XBT": 347,
    "OCEAN/XBT": 148,
    "ETH/CHF": 317,
    "GRT/ETH": 20,
    "KSM/XBT": 335,
}
_CHECKSUM_FACT = re.compile(
    r"Kraken book checksums: \*\*(?P<ok>\d+)/(?P<all>\d+) verify\*\* \(all\); "
    r"per pair: (?P<pairs>.*)"
)
_PAIR_FACT = re.compile(r"(?P<pair>[A-Z]+/[A-Z]+) (?P<ok>\d+)/(?P<all>\d+)")


def _section(path: Path) -> str:
    readme = (CAPTURES / "README.md").read_text()
    return readme.split(f"### `{path.relative_to(CAPTURES).as_posix()}`", 1)[1].split("\n### ")[0]


def _sidecar(path: Path) -> list:
    sidecar = path.with_name("KRAKEN.instruments.jsonl.gz")
    return load_records(sidecar)[1] if sidecar.exists() else []


def _frames(records: list) -> list:
    return [json.loads(r.data) for r in records if r.kind == "recv"]


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name)
def replayed(request: pytest.FixtureRequest):
    path: Path = request.param
    exchange, records = load_records(path)
    assert exchange == "kraken"
    return path, records, run_records(exchange, [*_sidecar(path), *records])


def test_every_kraken_recording_is_covered() -> None:
    assert len(FILES) == 3
    readme = (CAPTURES / "README.md").read_text()
    listed = set(re.findall(r"^### `(kraken/[^`]+(?<!\.instruments)\.jsonl\.gz)`", readme, re.M))
    assert listed == {p.relative_to(CAPTURES).as_posix() for p in FILES}


def test_checksums_match_the_readme(replayed) -> None:
    path, _, pipeline = replayed
    fact = _CHECKSUM_FACT.search(_section(path))
    symbols = pipeline.engine.symbols
    if fact is None:  # the trade and ticker recordings carry no book
        assert path.name != "KRAKEN.ws.50.jsonl.gz"
        assert symbols == {} and pipeline.sink.table("book") is None
        return
    pairs = list(_PAIR_FACT.finditer(fact["pairs"]))
    assert all(m["ok"] == m["all"] for m in pairs)
    per_pair = {m["pair"]: int(m["ok"]) for m in pairs}
    assert per_pair == WS50_CHECKSUMS
    assert int(fact["ok"]) == int(fact["all"]) == sum(per_pair.values()) == 1167
    assert set(symbols) == set(per_pair)
    summary = pipeline.summary()
    for pair, count in per_pair.items():
        stats = symbols[pair].stats
        assert stats.checksums_verified == count, pair
        assert stats.checksums_failed == 0, pair
        assert stats.deltas_applied == count and stats.snapshots_applied == 1, pair
        assert stats.resyncs == stats.gaps == stats.crossed == stats.malformed_levels == 0, pair
        assert summary[pair].synced, pair
    assert sum(s.synced for s in summary.values()) == 5


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert dict(pipeline.problems) == {}
    assert pipeline.frames == sum(r.kind == "recv" for r in records)
    adapter = KrakenAdapter()
    for rec in records:
        if rec.kind == "recv":
            for msg in adapter.decode(rec.data, rec.ts, rec.conn):
                assert not isinstance(msg, DecodeFailed), (msg, rec.data[:200])


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    if book is None:
        return
    rows = pylist(book.sort_by("apply_seq"))
    states = 0
    for symbol in pipeline.engine.symbols:
        for _, sides in book_states([r for r in rows if r["symbol"] == symbol]):
            states += 1
            assert sides["bid"] and sides["ask"], symbol
            assert max(sides["bid"]) < min(sides["ask"]), symbol
    assert states == len({(r["symbol"], r["seq"]) for r in rows}) == 1167 + 5


def _sent_books(records: list) -> dict[tuple[str, int, bool], list]:
    """Book levels as sent, keyed like the rows: (pair, message number, is snapshot)."""
    sent: dict[tuple[str, int, bool], list] = {}
    count: dict[str, int] = {}
    for frame in _frames(records):
        if not isinstance(frame, list) or not frame[-2].startswith("book-"):
            continue
        pair, parts = frame[-1], frame[1:-2]
        snapshot = "as" in parts[0] or "bs" in parts[0]
        n = count[pair] = 0 if snapshot else count[pair] + 1
        keys = (("bid", "bs"), ("ask", "as")) if snapshot else (("bid", "b"), ("ask", "a"))
        sent[(pair, n, snapshot)] = [
            (side, Decimal(level[0]), Decimal(level[1]))
            for side, key in keys
            for part in parts
            for level in part.get(key, [])
        ]
    return sent


def test_book_rows_equal_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    book = pipeline.sink.table("book")
    if book is None:
        return
    written: dict[tuple[str, int, bool], list] = defaultdict(list)
    for row in pylist(book.sort_by("apply_seq")):
        key = (row["symbol"], row["seq"], row["is_snapshot"])
        written[key].append((row["side"], row["price"], row["size"]))
    sent = _sent_books(records)
    assert set(written) == set(sent)
    for key, rows in written.items():
        # Rows past the wire's are the venue's silent cut to depth 1000: deletions only.
        assert rows[: len(sent[key])] == sent[key], key
        assert all(size == 0 for _, _, size in rows[len(sent[key]) :]), key


def test_parquet_rows_rebuild_the_engine_book_and_markets(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    if book is None:
        return
    rebuilt = rebuild_books(book)
    for symbol, sync in pipeline.engine.symbols.items():
        exact = sync.book.as_dict()
        assert rebuilt[symbol] == {"bid": exact["bids"], "ask": exact["asks"]}, symbol
    markets = dict(zip(book["symbol"].to_pylist(), book["market"].to_pylist(), strict=True))
    assert markets == {
        "ADA/XBT": "ADA-BTC",
        "OCEAN/XBT": "OCEAN-BTC",
        "ETH/CHF": "ETH-CHF",
        "GRT/ETH": "GRT-ETH",
        "KSM/XBT": "KSM-BTC",
    }


def test_trades_and_quotes_equal_the_wire(replayed) -> None:
    path, records, pipeline = replayed
    trades_sent, quotes_sent = [], []
    trade_frames = 0
    for frame in _frames(records):
        if not isinstance(frame, list):
            continue
        if frame[-2] == "trade":
            trade_frames += 1
            for price, size, t, side, _, _ in frame[1]:
                ts = int(Decimal(t) * 10**9)
                side = {"b": "buy", "s": "sell"}[side]
                trades_sent.append((frame[-1], "", side, Decimal(price), Decimal(size), ts))
        elif frame[-2] == "ticker":
            a, b = frame[1]["a"], frame[1]["b"]
            quotes_sent.append(
                (frame[-1], Decimal(b[0]), Decimal(b[2]), Decimal(a[0]), Decimal(a[2]))
            )
    trades, quotes = pipeline.sink.table("trades"), pipeline.sink.table("bbo")
    got_trades = [
        (r["symbol"], r["trade_id"], r["side"], r["price"], r["size"], r["ts_exchange"])
        for r in (pylist(trades) if trades is not None else [])
    ]
    got_quotes = [
        (r["symbol"], r["bid_price"], r["bid_size"], r["ask_price"], r["ask_size"])
        for r in (pylist(quotes) if quotes is not None else [])
    ]
    assert got_trades == trades_sent
    assert got_quotes == quotes_sent
    channels = re.search(r"\*\*Channels \(recv frames\)\*\*: (.*)", _section(path))
    assert channels is not None
    counts = {k: int(v) for k, v in re.findall(r"\b(trade|ticker) (\d+)", channels[1])}
    assert trade_frames == counts.get("trade", 0)
    assert len(quotes_sent) == counts.get("ticker", 0)
    if trades is not None:
        assert set(trades["market"].to_pylist()) == {"XMR-USD", "SC-EUR"}
