"""Every Bybit recording replays to exact, gap-free, never-crossed books.

Facts come from the captures README: the per-(connection, topic) ``u`` continuity line
of the v5 recording and the per-channel frame counts of every recording. The instruments
sidecar is fed first, as ``collector replay`` does, so markets come from it.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from support import (
    CAPTURES,
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    pylist,
    readme_channels,
    readme_instruments,
    readme_recordings,
    readme_section,
    recordings,
    recv_frames,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

pytestmark = needs_captures

FILES = recordings(("bybit",))
V5 = CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"
_CONTINUITY = re.compile(
    r"conn (\d+) orderbook\.(\d+)\.(\w+): (\d+) snapshot, (\d+) delta, (\d+) gaps"
)


def _categories(records) -> dict[int, str]:
    """conn -> category, from the recording's own ``open`` URLs."""
    legacy = {"/realtime_public": "linear", "/realtime": "inverse"}
    out = {}
    for rec in records:
        if rec.kind == "open":
            path = rec.url.split("bybit.com", 1)[1]
            out[rec.conn] = legacy.get(path) or path.rsplit("/", 1)[1]
    return out


replayed = replayed_fixture(FILES, exchange="bybit", ids=lambda p: p.name)


def test_every_bybit_recording_is_covered() -> None:
    assert readme_recordings("bybit") == {rel(p) for p in FILES}
    assert len(FILES) == 2 and V5 in FILES


def test_markets_come_from_the_instruments_sidecar(replayed) -> None:
    """The sidecar was loaded before the stream (as ``collector replay`` does)."""
    _, _, pipeline = replayed
    assert pipeline.adapter.market("linear:ETHUSDT") == "ETH-USDT-PERP"


def test_u_continuity_facts_per_book(replayed) -> None:
    """BYBIT_2026: each (conn, topic) of the README is one book with exactly its counts."""
    path, records, pipeline = replayed
    facts = _CONTINUITY.findall(readme_section(path))
    if path != V5:  # the legacy v2 recording states no u continuity
        assert facts == []
        return
    assert len(facts) == 6
    conns = _categories(records)
    assert conns == {1: "linear", 2: "spot"}
    expected = {}
    for conn, _depth, symbol, snaps, deltas, gaps in facts:
        expected[f"{conns[int(conn)]}:{symbol}"] = (int(snaps), int(deltas), int(gaps))
    got = {
        s: (v.stats.snapshots_applied, v.stats.deltas_applied, v.stats.gaps)
        for s, v in pipeline.engine.symbols.items()
    }
    assert got == expected
    summary = pipeline.summary()
    for symbol, sync in pipeline.engine.symbols.items():
        assert summary[symbol].synced, symbol
        assert sync.stats.resyncs == sync.stats.duplicates == sync.stats.stale_dropped == 0
        assert len(sync.book.bids) == len(sync.book.asks) == 200, symbol  # orderbook.200
    # Same native pair, two markets: spot and linear BTCUSDT are separate books.
    spot, linear = (pipeline.engine.symbols[f"{c}:BTCUSDT"] for c in ("spot", "linear"))
    assert spot.market == "BTC-USDT" and linear.market == "BTC-USDT-PERP"
    assert spot.book.bids.best() != linear.book.bids.best()


def test_frame_counts_match_readme_channels(replayed) -> None:
    """Every book frame the README counts was applied: snapshots and deltas, all books synced."""
    path, _, pipeline = replayed
    channels = readme_channels(readme_section(path))
    counts = Counter()
    for name, kind, n in re.findall(r"(\w+(?:\.\d+)?) (snapshot|delta) (\d+)", channels):
        if name.startswith(("orderbook", "orderBookL2")):
            counts[kind] += int(n)
    instruments, _ = readme_instruments(readme_section(path))
    stats = [s.stats for s in pipeline.engine.symbols.values()]
    assert sum(s.deltas_applied for s in stats) == counts["delta"] > 0
    assert sum(s.snapshots_applied for s in stats) == counts["snapshot"] > 0
    assert sum(s.gaps + s.resyncs + s.crossed + s.duplicates for s in stats) == 0
    assert all(v.synced for v in pipeline.summary().values())
    native = {s.partition(":")[2] for s in pipeline.engine.symbols}
    assert len(native) == int(instruments)


def test_no_problems_and_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert "error" not in pipeline.controls
    assert pipeline.controls["ack"] == sum(r.kind == "send" for r in records)


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    states = assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert states == sum(
        s.stats.deltas_applied + s.stats.snapshots_applied for s in pipeline.engine.symbols.values()
    )


def test_parquet_rows_rebuild_the_engine_book(replayed) -> None:
    _, _, pipeline = replayed
    assert_rows_rebuild_engine_books(pipeline)  # every engine book, and only those, written


def _sent_books(records) -> dict[tuple[str, int, bool], tuple[int, list]]:
    """(symbol, seq, is_snapshot) -> (ts_exchange, levels) exactly as the frames carry them."""
    conns = _categories(records)
    sent = {}
    for rec, frame in recv_frames(records, parse_float=Decimal):
        topic = frame.get("topic", "")
        if topic.startswith("orderbook."):
            d = frame["data"]
            key = (f"{conns[rec.conn]}:{d['s']}", d["u"], frame["type"] == "snapshot")
            levels = [("bid", p, s) for p, s in d["b"]] + [("ask", p, s) for p, s in d["a"]]
            sent[key] = (frame["cts"] * 1_000_000, levels)
        elif topic.startswith("orderBookL2_25."):
            symbol = f"{conns[rec.conn]}:{topic.split('.')[1]}"
            data = frame["data"]
            if frame["type"] == "snapshot":
                rows = data if isinstance(data, list) else data["order_book"]
                rows = [(r, r["size"]) for r in rows]
            else:
                rows = [(r, 0) for r in data["delete"]]
                rows += [(r, r["size"]) for r in data["update"] + data["insert"]]
            levels = [("bid" if r["side"] == "Buy" else "ask", r["price"], s) for r, s in rows]
            key = (symbol, int(frame["cross_seq"]), frame["type"] == "snapshot")
            sent[key] = (int(frame["timestamp_e6"]) * 1_000, levels)
    return sent


def test_every_level_is_exact_in_parquet(replayed) -> None:
    """Each written row equals, as a decimal, a level of the frame it came from (and its time)."""
    _, records, pipeline = replayed
    sent = _sent_books(records)
    # written_book_rows also checks every row of the table is in one of the groups.
    written = written_book_rows(pipeline, value=("side", "price", "size", "ts_exchange"))
    assert len(written) == len(sent)
    for key, rows in written.items():
        ts, levels = sent[key]
        exact = Counter((side, Decimal(str(p)), Decimal(str(s)), ts) for side, p, s in levels)
        assert Counter(rows) == exact, key


def test_trades_are_exact_with_taker_side(replayed) -> None:
    _, records, pipeline = replayed
    conns = _categories(records)
    sent = []
    for rec, frame in recv_frames(records, parse_float=str, parse_int=str):
        topic = frame.get("topic", "")
        if topic.startswith("publicTrade."):
            for t in frame["data"]:
                row = (t["i"], t["S"].lower(), t["p"], t["v"], int(t["T"]) * 1_000_000)
                sent.append((f"{conns[rec.conn]}:{t['s']}", *row))
        elif topic.startswith("trade."):
            for t in frame["data"]:
                ts = int(t["trade_time_ms"]) * 1_000_000
                row = (t["trade_id"], t["side"].lower(), t["price"], t["size"], ts)
                sent.append((f"{conns[rec.conn]}:{t['symbol']}", *row))
    got = table_rows(
        pipeline, "trades", "symbol", "trade_id", "side", "price", "size", "ts_exchange"
    )
    assert len(sent) > 0
    assert got == [(s, i, side, Decimal(p), Decimal(v), ts) for s, i, side, p, v, ts in sent]
    assert {side for _, _, side, *_ in got} == {"buy", "sell"}


def test_markets_come_from_the_instruments(replayed) -> None:
    _, _, pipeline = replayed
    markets = {r["symbol"]: r["market"] for r in pylist(pipeline.sink.table("book"))}
    for symbol, market in markets.items():
        category, _, native = symbol.partition(":")
        base = native.removesuffix("USDT").removesuffix("USD")
        quote = native[len(base) :]
        assert market == f"{base}-{quote}" + ("" if category == "spot" else "-PERP"), symbol
