"""Every Bybit recording replays to exact, gap-free, never-crossed books.

Facts come from the captures README: the per-(connection, topic) ``u`` continuity line
of the v5 recording and the per-channel frame counts of every recording. The instruments
sidecar is fed first, as ``collector replay`` does, so markets come from it.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from support import (
    CAPTURES,
    MemorySink,
    book_states,
    load_records,
    needs_captures,
    pylist,
    rebuild_books,
    recordings,
)

import adapters
from collector.pipeline import Pipeline
from collector.replay import load_instruments

pytestmark = needs_captures

FILES = recordings(("bybit",))
_CONTINUITY = re.compile(
    r"conn (\d+) orderbook\.(\d+)\.(\w+): (\d+) snapshot, (\d+) delta, (\d+) gaps"
)


def _section(path: Path) -> str:
    readme = (CAPTURES / "README.md").read_text()
    rel = path.relative_to(CAPTURES).as_posix()
    return readme.split(f"### `{rel}`", 1)[1].split("\n### ", 1)[0]


def _categories(records) -> dict[int, str]:
    """conn -> category, from the recording's own ``open`` URLs."""
    legacy = {"/realtime_public": "linear", "/realtime": "inverse"}
    out = {}
    for rec in records:
        if rec.kind == "open":
            path = rec.url.split("bybit.com", 1)[1]
            out[rec.conn] = legacy.get(path) or path.rsplit("/", 1)[1]
    return out


@functools.cache
def _replay(path: Path):
    """Records and the finished pipeline of one recording (instruments sidecar first)."""
    exchange, records = load_records(path)
    assert exchange == "bybit"
    adapter = adapters.create(exchange)
    load_instruments(adapter, path)
    assert adapter.market("linear:ETHUSDT") == "ETH-USDT-PERP"
    pipeline = Pipeline(adapter, MemorySink())
    for rec in records:
        pipeline.on_record(rec)
    pipeline.finish()
    return records, pipeline


@pytest.fixture(params=FILES, ids=lambda p: p.name)
def replayed(request: pytest.FixtureRequest):
    path: Path = request.param
    return (path, *_replay(path))


def test_every_bybit_recording_is_covered() -> None:
    readme = (CAPTURES / "README.md").read_text()
    listed = set(re.findall(r"^### `(bybit/[^`]+(?<!\.instruments)\.jsonl\.gz)`", readme, re.M))
    assert listed == {p.relative_to(CAPTURES).as_posix() for p in FILES}
    assert len(FILES) == 2


def test_u_continuity_facts_per_book() -> None:
    """BYBIT_2026: each (conn, topic) of the README is one book with exactly its counts."""
    path = CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"
    records, pipeline = _replay(path)
    facts = _CONTINUITY.findall(_section(path))
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
    channels = re.search(r"\*\*Channels \(recv frames\)\*\*: (.*)", _section(path))[1]
    counts = Counter()
    for name, kind, n in re.findall(r"(\w+(?:\.\d+)?) (snapshot|delta) (\d+)", channels):
        if name.startswith(("orderbook", "orderBookL2")):
            counts[kind] += int(n)
    instruments = re.search(r"\*\*Instruments \((\d+)\)\*\*", _section(path))[1]
    stats = [s.stats for s in pipeline.engine.symbols.values()]
    assert sum(s.deltas_applied for s in stats) == counts["delta"] > 0
    assert sum(s.snapshots_applied for s in stats) == counts["snapshot"] > 0
    assert sum(s.gaps + s.resyncs + s.crossed + s.duplicates for s in stats) == 0
    assert all(v.synced for v in pipeline.summary().values())
    native = {s.partition(":")[2] for s in pipeline.engine.symbols}
    assert len(native) == int(instruments)


def test_no_problems_and_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert dict(pipeline.problems) == {}
    assert pipeline.frames == sum(r.kind == "recv" for r in records)
    assert "error" not in pipeline.controls
    assert pipeline.controls["ack"] == sum(r.kind == "send" for r in records)


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    rows = pylist(pipeline.sink.table("book").sort_by("apply_seq"))
    by_symbol = defaultdict(list)
    for row in rows:
        by_symbol[row["symbol"]].append(row)
    states = 0
    for symbol, symbol_rows in by_symbol.items():
        for seq, sides in book_states(symbol_rows):
            states += 1
            assert sides["bid"] and sides["ask"], (symbol, seq)
            assert max(sides["bid"]) < min(sides["ask"]), (symbol, seq)
    assert states == sum(
        s.stats.deltas_applied + s.stats.snapshots_applied for s in pipeline.engine.symbols.values()
    )


def test_parquet_rows_rebuild_the_engine_book(replayed) -> None:
    _, _, pipeline = replayed
    rebuilt = rebuild_books(pipeline.sink.table("book"))
    assert set(rebuilt) == set(pipeline.engine.symbols)
    for symbol, sync in pipeline.engine.symbols.items():
        exact = sync.book.as_dict()
        assert rebuilt[symbol]["bid"] == exact["bids"], symbol
        assert rebuilt[symbol]["ask"] == exact["asks"], symbol


def _sent_books(records) -> dict[tuple[str, int, bool], tuple[int, list]]:
    """(symbol, seq, is_snapshot) -> (ts_exchange, levels) exactly as the frames carry them."""
    conns = _categories(records)
    sent = {}
    for rec in records:
        if rec.kind != "recv":
            continue
        frame = json.loads(rec.data, parse_float=Decimal)
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
    written: dict[tuple[str, int, bool], list] = defaultdict(list)
    book = pipeline.sink.table("book").sort_by("apply_seq")
    for row in pylist(book):
        key = (row["symbol"], row["seq"], row["is_snapshot"])
        written[key].append((row["side"], row["price"], row["size"], row["ts_exchange"]))
    assert len(written) == len(sent)
    for key, rows in written.items():
        ts, levels = sent[key]
        exact = Counter((side, Decimal(str(p)), Decimal(str(s)), ts) for side, p, s in levels)
        assert Counter(rows) == exact, key
    assert sum(map(len, written.values())) == book.num_rows


def test_trades_are_exact_with_taker_side(replayed) -> None:
    _, records, pipeline = replayed
    conns = _categories(records)
    sent = []
    for rec in records:
        if rec.kind != "recv":
            continue
        frame = json.loads(rec.data, parse_float=str, parse_int=str)
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
    got = [
        (r["symbol"], r["trade_id"], r["side"], r["price"], r["size"], r["ts_exchange"])
        for r in pylist(pipeline.sink.table("trades"))
    ]
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
