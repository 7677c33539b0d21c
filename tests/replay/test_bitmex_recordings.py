"""Every BitMEX recording replays to the facts its README section documents.

BitMEX books have no sequence ids, so the checks are structural: every book syncs from
its ``partial``, every ``update``/``delete`` names a level id the table announced, no
crossed book is ever written, and every written value equals the wire text. The
expected rows are rebuilt here independently from the frames (own id -> price map).
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

from adapters.bitmex import BitmexAdapter
from collector.model import DecodeFailed

pytestmark = needs_captures

FILES = recordings(("bitmex",))


def _section(path: Path) -> str:
    readme = (CAPTURES / "README.md").read_text()
    rel = path.relative_to(CAPTURES).as_posix()
    return readme.split(f"### `{rel}`", 1)[1].split("\n### ", 1)[0]


def _sidecar(path: Path) -> list:
    sidecar = path.with_name(path.name[: -len(".jsonl.gz")] + ".instruments.jsonl.gz")
    return load_records(sidecar)[1] if sidecar.exists() else []


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name)
def replayed(request: pytest.FixtureRequest):
    path: Path = request.param
    exchange, records = load_records(path)
    assert exchange == "bitmex"
    return path, records, run_records(exchange, [*_sidecar(path), *records])


def _frames(records: list) -> list[dict]:
    return [
        json.loads(r.data, parse_float=Decimal)
        for r in records
        if r.kind == "recv" and r.data != "pong"
    ]


def test_every_bitmex_recording_is_covered() -> None:
    assert FILES, "no BitMEX recordings found"
    readme = (CAPTURES / "README.md").read_text()
    listed = set(re.findall(r"^### `(bitmex/[^`]+(?<!\.instruments)\.jsonl\.gz)`", readme, re.M))
    assert listed == {p.relative_to(CAPTURES).as_posix() for p in FILES}


def test_every_book_syncs_from_its_partial(replayed) -> None:
    path, records, pipeline = replayed
    section = _section(path)
    channels = dict(
        (name, int(n))
        for n, name in [m[::-1] for m in re.findall(r"(orderBookL2 \w+) (\d+)", section)]
    )
    instruments = re.search(r"\*\*Instruments \(\d+\)\*\*: (.+)", section)
    assert instruments
    symbols = set(instruments[1].split(", "))
    assert set(pipeline.engine.symbols) == symbols
    assert channels["orderBookL2 partial"] == len(symbols) == 10
    book_frames = [f for f in _frames(records) if f.get("table") == "orderBookL2"]
    assert all(len({row["symbol"] for row in f["data"]}) == 1 for f in book_frames)
    deltas = sum(channels[f"orderBookL2 {a}"] for a in ("insert", "update", "delete"))
    assert deltas == 1969
    summary = pipeline.summary()
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    assert sum(st.deltas_applied for st in stats.values()) == deltas
    for symbol, st in stats.items():
        assert st.snapshots_applied == 1, symbol
        assert st.resyncs == 0 and st.crossed == 0 and st.gaps == 0, symbol
        assert summary[symbol].synced, symbol


def test_level_ids_are_consistent(replayed) -> None:
    """No update or delete names a level id that no partial or insert announced."""
    _, _, pipeline = replayed
    assert isinstance(pipeline.adapter, BitmexAdapter)
    assert pipeline.adapter.unknown_ids == 0


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert dict(pipeline.problems) == {}
    assert pipeline.controls["ack"] == 31  # welcome + 30 subscription replies
    adapter = BitmexAdapter()
    for rec in records:
        if rec.kind == "recv":
            for msg in adapter.decode(rec.data, rec.ts, rec.conn):
                assert not isinstance(msg, DecodeFailed), (msg, rec.data[:200])


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    rows = pylist(pipeline.sink.table("book").sort_by("apply_seq"))
    states = 0
    for symbol in pipeline.engine.symbols:
        for _, sides in book_states([r for r in rows if r["symbol"] == symbol]):
            states += 1
            if sides["bid"] and sides["ask"]:
                assert max(sides["bid"]) < min(sides["ask"]), symbol
    assert states == 10 + 1969


def test_rows_equal_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent: dict[tuple[str, int, bool], list] = {}
    prices: dict[tuple[str, int, str], Decimal] = {}
    count: dict[str, int] = {}
    for frame in _frames(records):
        if frame.get("table") != "orderBookL2":
            continue
        action, rows = frame["action"], frame["data"]
        symbol = rows[0]["symbol"]
        if action == "partial":
            count[symbol] = 0
        else:
            count[symbol] += 1
        levels = []
        for row in rows:
            key = (symbol, row["id"], row["side"])
            if action in ("partial", "insert"):
                prices[key] = row["price"]
            side = "bid" if row["side"] == "Buy" else "ask"
            size = Decimal(0) if action == "delete" else Decimal(row["size"])
            levels.append((side, Decimal(row.get("price", prices[key])), size))
        sent[(symbol, count[symbol], action == "partial")] = levels
    written: dict[tuple[str, int, bool], list] = defaultdict(list)
    for row in pylist(pipeline.sink.table("book").sort_by("apply_seq")):
        written[(row["symbol"], row["seq"], row["is_snapshot"])].append(
            (row["side"], row["price"], row["size"])
        )
    # Rows come grouped bids first within a message; compare as multisets per message.
    assert {k: sorted(v) for k, v in written.items()} == {k: sorted(v) for k, v in sent.items()}


def test_trades_and_quotes_are_exact(replayed) -> None:
    _, records, pipeline = replayed
    trades, quotes = [], []
    for frame in _frames(records):
        if frame.get("table") == "trade" and frame["action"] == "insert":
            trades += [
                (t["symbol"], t["trdMatchID"], t["side"].lower(), t["price"], Decimal(t["size"]))
                for t in frame["data"]
            ]
        elif frame.get("table") == "quote":
            quotes += [
                (q["symbol"], q["bidPrice"], Decimal(q["bidSize"]), q["askPrice"], q["askSize"])
                for q in frame["data"]
            ]
    assert len(trades) == 17 and len(quotes) == 436
    got = [
        (r["symbol"], r["trade_id"], r["side"], r["price"], r["size"])
        for r in pylist(pipeline.sink.table("trades"))
    ]
    assert got == trades
    got_quotes = [
        (r["symbol"], r["bid_price"], r["bid_size"], r["ask_price"], r["ask_size"])
        for r in pylist(pipeline.sink.table("bbo"))
    ]
    assert got_quotes == quotes
    assert all(r["seq"] is None for r in pylist(pipeline.sink.table("bbo")))


def test_parquet_rows_rebuild_the_engine_book_and_markets(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    rebuilt = rebuild_books(book)
    for symbol, sync in pipeline.engine.symbols.items():
        exact = sync.book.as_dict()
        assert rebuilt[symbol] == {"bid": exact["bids"], "ask": exact["asks"]}, symbol
    markets = dict({(r["symbol"], r["market"]) for r in pylist(book.select(["symbol", "market"]))})
    assert markets["XBTUSD"] == "BTC-USD-PERP"
    assert markets["ADAUSDT"] == "ADA-USDT-PERP"
    assert markets["TRXU21"] == "TRX-BTC-20210924"
    assert markets["XRPU21"] == "XRP-BTC-20210924"
