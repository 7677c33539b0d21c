"""Coinbase recordings replay to the facts the captures README documents.

Advanced Trade (``coinbase/``): ``sequence_num`` continuity, books synced from their
in-band snapshots, the measured maker-side trade semantics. Legacy Exchange feed
(``coinbase-exchange/``): every message understood, every book synced from its
``snapshot``, taker side derived from the maker side. For both: no crossed book is ever
written, and every written value equals the wire text as a decimal. Expected rows are
derived here from the frames with ``json`` and ``Decimal``, independently of the adapter.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
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

from adapters.coinbase_wire import parse_rfc3339_ns

pytestmark = needs_captures

AT_FILES = recordings(("coinbase",))
EX_FILES = recordings(("coinbase-exchange",))


def _replay(path: Path):
    exchange, records = load_records(path)
    sidecar = path.with_name(path.name.replace(".jsonl.gz", ".instruments.jsonl.gz"))
    if sidecar.exists():
        records = load_records(sidecar)[1] + records
    return records, run_records(exchange, records)


def _ids(p: Path) -> str:
    return p.relative_to(p.parents[1]).as_posix()


@pytest.fixture(scope="module", params=AT_FILES, ids=_ids)
def at(request: pytest.FixtureRequest):
    return (request.param, *_replay(request.param))


@pytest.fixture(scope="module", params=EX_FILES, ids=_ids)
def ex(request: pytest.FixtureRequest):
    return (request.param, *_replay(request.param))


def _section(path: Path) -> str:
    readme = (CAPTURES / "README.md").read_text()
    rel = path.relative_to(CAPTURES).as_posix()
    return readme.split(f"### `{rel}`", 1)[1].split("\n### ", 1)[0]


def _channel_counts(path: Path) -> Counter[str]:
    """The README's "Channels (recv frames)" line: ``{"l2_data update": 773, ...}``."""
    line = re.search(r"\*\*Channels \(recv frames\)\*\*: (.*)", _section(path))
    assert line, path
    return Counter(
        {m[1].strip(): int(m[2]) for m in re.finditer(r"([^,]+?) (\d+)(?:,|$)", line[1])}
    )


def _frames(records) -> list[dict]:
    return [json.loads(r.data) for r in records if r.kind == "recv"]


def test_every_coinbase_recording_is_covered() -> None:
    readme = (CAPTURES / "README.md").read_text()
    listed = set(
        re.findall(
            r"^### `(coinbase(?:-exchange)?/[^`]+(?<!\.instruments)\.jsonl\.gz)`", readme, re.M
        )
    )
    assert listed == {p.relative_to(CAPTURES).as_posix() for p in AT_FILES + EX_FILES}
    assert AT_FILES and EX_FILES


# -- shared checks ---------------------------------------------------------------------


def _assert_no_crossed_book_written(pipeline) -> int:
    rows = pylist(pipeline.sink.table("book").sort_by("apply_seq"))
    states = 0
    for symbol in pipeline.engine.symbols:
        for seq, sides in book_states([r for r in rows if r["symbol"] == symbol]):
            states += 1
            if sides["bid"] and sides["ask"]:
                assert max(sides["bid"]) < min(sides["ask"]), (symbol, seq)
    return states


def _assert_rows_rebuild_engine_books(pipeline) -> None:
    rebuilt = rebuild_books(pipeline.sink.table("book"))
    for symbol, sync in pipeline.engine.symbols.items():
        exact = sync.book.as_dict()
        assert rebuilt[symbol]["bid"] == exact["bids"], symbol
        assert rebuilt[symbol]["ask"] == exact["asks"], symbol


def _assert_written_rows_equal(pipeline, sent: dict) -> None:
    written: dict[tuple, list] = defaultdict(list)
    book = pipeline.sink.table("book").sort_by("apply_seq")
    for row in pylist(book):
        key = (row["symbol"], row["seq"], row["is_snapshot"], row["ts_recv"])
        written[key].append((row["side"], row["price"], row["size"], row["ts_exchange"]))
    assert written and sum(map(len, written.values())) == book.num_rows
    assert written == sent


def _trade_rows(pipeline) -> list[tuple]:
    return [
        (
            r["symbol"],
            r["trade_id"],
            r["side"],
            r["price"],
            r["size"],
            r["ts_exchange"],
            r["ts_recv"],
        )
        for r in pylist(pipeline.sink.table("trades"))
    ]


# -- Advanced Trade ------------------------------------------------------------------------


def test_at_sequence_num_has_the_documented_gaps(at) -> None:
    path, records, pipeline = at
    m = re.search(r"`sequence_num` over (\d+) messages: \*\*(\d+) gaps\*\*", _section(path))
    assert m, path
    frames = _frames(records)
    assert sum("sequence_num" in f for f in frames) == int(m[1]) == 1030
    assert pipeline.adapter.sequence_gaps == int(m[2]) == 0


def test_at_books_synced_from_their_snapshots(at) -> None:
    path, _, pipeline = at
    counts = _channel_counts(path)
    assert sorted(pipeline.engine.symbols) == ["BTC-USD", "ETH-USD"]
    summary = pipeline.summary()
    applied = 0
    for symbol, sync in pipeline.engine.symbols.items():
        stats = sync.stats
        assert summary[symbol].synced, symbol
        assert (stats.snapshots_applied, stats.gaps, stats.resyncs, stats.crossed) == (1, 0, 0, 0)
        assert stats.stale_dropped == stats.buffer_dropped == stats.malformed_levels == 0
        applied += stats.deltas_applied
    assert applied == counts["l2_data update"] == 773
    assert counts["l2_data snapshot"] == 2
    assert pipeline.engine.symbols["BTC-USD"].stats.deltas_applied == 399
    assert pipeline.engine.symbols["ETH-USD"].stats.deltas_applied == 374


def test_at_every_frame_understood_and_no_crossed_book(at) -> None:
    _, records, pipeline = at
    assert dict(pipeline.problems) == {}
    assert pipeline.frames == sum(r.kind == "recv" for r in records)
    assert _assert_no_crossed_book_written(pipeline) == 2 + 773
    _assert_rows_rebuild_engine_books(pipeline)


def test_at_written_levels_are_the_wire_text(at) -> None:
    _, records, pipeline = at
    sent: dict[tuple, list] = {}
    count: dict[str, int] = {}
    for rec in records:
        if rec.kind != "recv":
            continue
        msg = json.loads(rec.data)
        if msg["channel"] != "l2_data":
            continue
        for ev in msg["events"]:
            p = ev["product_id"]
            count[p] = 0 if ev["type"] == "snapshot" else count[p] + 1
            ts = parse_rfc3339_ns(ev["updates"][-1]["event_time"])
            rows = [
                (
                    "bid" if u["side"] == "bid" else "ask",
                    Decimal(u["price_level"]),
                    Decimal(u["new_quantity"]),
                    ts,
                )
                for u in ev["updates"]
            ]
            # Rows are written bids first, then asks, each in wire order.
            rows.sort(key=lambda r: r[0] != "bid")
            sent[(p, count[p], ev["type"] == "snapshot", rec.ts)] = rows
    _assert_written_rows_equal(pipeline, sent)


def test_at_trades_and_quotes_are_exact(at) -> None:
    _, records, pipeline = at
    expected = []
    quotes = []
    for rec in records:
        if rec.kind != "recv":
            continue
        msg = json.loads(rec.data)
        for ev in msg["events"]:
            if msg["channel"] == "market_trades" and ev["type"] == "update":
                for t in sorted(ev["trades"], key=lambda t: int(t["trade_id"])):
                    taker = {"BUY": "sell", "SELL": "buy"}[t["side"]]
                    expected.append(
                        (
                            t["product_id"],
                            t["trade_id"],
                            taker,
                            Decimal(t["price"]),
                            Decimal(t["size"]),
                            parse_rfc3339_ns(t["time"]),
                            rec.ts,
                        )
                    )
            elif msg["channel"] == "ticker":
                for t in ev["tickers"]:
                    quotes.append(
                        (
                            t["product_id"],
                            Decimal(t["best_bid"]),
                            Decimal(t["best_bid_quantity"]),
                            Decimal(t["best_ask"]),
                            Decimal(t["best_ask_quantity"]),
                        )
                    )
    got = _trade_rows(pipeline)
    assert got == expected and len(got) == 79
    # Snapshot events (recent trades before the subscription) are history: not written.
    assert len({g[1] for g in got}) == len(got)
    bbo = [
        (r["symbol"], r["bid_price"], r["bid_size"], r["ask_price"], r["ask_size"])
        for r in pylist(pipeline.sink.table("bbo"))
    ]
    assert bbo == quotes and len(bbo) == 160


def test_at_trade_side_is_maker_side_measured_against_the_book(at) -> None:
    """A taker buy lifts the ask, a taker sell hits the bid: check every live trade against
    the book (rebuilt here from the frames) as of the trade's own time."""
    _, records, _ = at
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    history: dict[str, list[tuple[int, Decimal, Decimal]]] = defaultdict(list)
    live = []
    for msg in _frames(records):
        for ev in msg["events"]:
            if msg["channel"] == "l2_data":
                p = ev["product_id"]
                if ev["type"] == "snapshot":
                    books[p] = {"bid": {}, "offer": {}}
                for u in ev["updates"]:
                    side, price, qty = (
                        books[p][u["side"]],
                        Decimal(u["price_level"]),
                        Decimal(u["new_quantity"]),
                    )
                    if qty:
                        side[price] = qty
                    else:
                        side.pop(price, None)
                t = parse_rfc3339_ns(ev["updates"][-1]["event_time"])
                history[p].append((t, max(books[p]["bid"]), min(books[p]["offer"])))
            elif msg["channel"] == "market_trades" and ev["type"] == "update":
                live += ev["trades"]
    where: Counter[tuple[str, str]] = Counter()
    for t in live:
        ts = parse_rfc3339_ns(t["time"])
        before = [h for h in history[t["product_id"]] if h[0] < ts]
        if not before:
            where[(t["side"], "no book yet")] += 1
            continue
        _, bid, ask = before[-1]
        price = Decimal(t["price"])
        where[(t["side"], "ask" if price >= ask else "bid" if price <= bid else "inside")] += 1
    assert where == {
        ("BUY", "bid"): 28,
        ("SELL", "ask"): 49,
        ("SELL", "inside"): 1,
        ("SELL", "no book yet"): 1,
    }


# -- legacy Coinbase Exchange ------------------------------------------------------------------


def test_ex_every_message_understood_and_books_synced(ex) -> None:
    path, records, pipeline = ex
    counts = _channel_counts(path)
    assert dict(pipeline.problems) == {}
    assert pipeline.frames == sum(r.kind == "recv" for r in records)
    assert len(pipeline.engine.symbols) == counts["snapshot"] == 10
    summary = pipeline.summary()
    applied = 0
    for symbol, sync in pipeline.engine.symbols.items():
        stats = sync.stats
        assert summary[symbol].synced, symbol
        assert (stats.snapshots_applied, stats.gaps, stats.resyncs, stats.crossed) == (1, 0, 0, 0)
        applied += stats.deltas_applied
    assert applied == counts["l2update"] == 9719
    assert _assert_no_crossed_book_written(pipeline) == 10 + 9719
    _assert_rows_rebuild_engine_books(pipeline)


def test_ex_written_levels_are_the_wire_text(ex) -> None:
    _, records, pipeline = ex
    sent: dict[tuple, list] = {}
    count: dict[str, int] = {}
    for rec in records:
        if rec.kind != "recv":
            continue
        m = json.loads(rec.data)
        p = m.get("product_id")
        if m["type"] == "snapshot":
            count[p] = 0
            rows = [("bid", Decimal(a), Decimal(b), None) for a, b in m["bids"]]
            rows += [("ask", Decimal(a), Decimal(b), None) for a, b in m["asks"]]
        elif m["type"] == "l2update":
            count[p] += 1
            ts = parse_rfc3339_ns(m["time"])
            rows = [("bid", Decimal(a), Decimal(b), ts) for s, a, b in m["changes"] if s == "buy"]
            rows += [("ask", Decimal(a), Decimal(b), ts) for s, a, b in m["changes"] if s == "sell"]
        else:
            continue
        sent[(p, count[p], m["type"] == "snapshot", rec.ts)] = rows
    _assert_written_rows_equal(pipeline, sent)


def test_ex_taker_side_is_opposite_of_maker_side(ex) -> None:
    path, records, pipeline = ex
    expected = [
        (
            m["product_id"],
            str(m["trade_id"]),
            {"buy": "sell", "sell": "buy"}[m["side"]],
            Decimal(m["price"]),
            Decimal(m["size"]),
            parse_rfc3339_ns(m["time"]),
            rec.ts,
        )
        for rec in records
        if rec.kind == "recv" and (m := json.loads(rec.data))["type"] == "match"
    ]
    got = _trade_rows(pipeline)
    assert got == expected
    assert len(got) == _channel_counts(path)["match"] == 97
    # last_match frames (one trade per product from before the subscription) are history.
    history = {
        str(m["trade_id"])
        for rec in records
        if rec.kind == "recv" and (m := json.loads(rec.data))["type"] == "last_match"
    }
    assert len(history) == _channel_counts(path)["last_match"] == 10
    assert not history & {g[1] for g in got}
