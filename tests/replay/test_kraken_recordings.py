"""Every Kraken spot recording (WS v1) replays to the facts the captures README documents.

``KRAKEN.ws.50`` (book-1000 with checksums): every checksum verifies, per pair as
the README counts them, and the book table is exactly the wire. ``.48`` (trades)
and ``.49`` (tickers) check the trade and best bid/ask rows against the wire.
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
    readme_channels,
    readme_recordings,
    readme_section,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

from adapters.kraken.adapter import KrakenAdapter

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

replayed = replayed_fixture(FILES, exchange="kraken", ids=lambda p: p.name)


def test_every_kraken_recording_is_covered() -> None:
    assert len(FILES) == 3
    assert readme_recordings("kraken") == {rel(p) for p in FILES}


def test_checksums_match_the_readme(replayed) -> None:
    path, _, pipeline = replayed
    fact = _CHECKSUM_FACT.search(readme_section(path))
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
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(KrakenAdapter(), records)


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    if book is None:
        return
    states = assert_never_crossed(book, two_sided=True)
    assert set(book["symbol"].to_pylist()) == set(pipeline.engine.symbols)
    messages = set(zip(book["symbol"].to_pylist(), book["seq"].to_pylist(), strict=True))
    assert states == len(messages) == 1167 + 5


def _sent_books(records: list) -> dict[tuple[str, int, bool], list]:
    """Book levels as sent, keyed like the rows: (pair, message number, is snapshot)."""
    sent: dict[tuple[str, int, bool], list] = {}
    count: dict[str, int] = {}
    for frame in recv_json(records):
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
    written = written_book_rows(pipeline)
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
    assert_rows_rebuild_engine_books(pipeline)
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
    for frame in recv_json(records):
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
    trades = pipeline.sink.table("trades")
    got_trades = table_rows(
        pipeline, "trades", "symbol", "trade_id", "side", "price", "size", "ts_exchange"
    )
    got_quotes = table_rows(
        pipeline, "bbo", "symbol", "bid_price", "bid_size", "ask_price", "ask_size"
    )
    assert got_trades == trades_sent
    assert got_quotes == quotes_sent
    channels = readme_channels(readme_section(path))
    counts = {k: int(v) for k, v in re.findall(r"\b(trade|ticker) (\d+)", channels)}
    assert trade_frames == counts.get("trade", 0)
    assert len(quotes_sent) == counts.get("ticker", 0)
    if trades is not None:
        assert set(trades["market"].to_pylist()) == {"XMR-USD", "SC-EUR"}
