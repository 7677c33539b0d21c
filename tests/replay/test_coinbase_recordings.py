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

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    readme_channels,
    readme_recordings,
    readme_section,
    recordings,
    recv_frames,
    recv_json,
    rel,
    replayed_fixture,
    run_records,
    table_rows,
    written_book_rows,
)

from adapters.coinbase.wire import parse_rfc3339_ns
from collector.capture.records import Record

pytestmark = needs_captures

AT_FILES = recordings(("coinbase",))
EX_FILES = recordings(("coinbase-exchange",))

at = replayed_fixture(AT_FILES, exchange="coinbase")
ex = replayed_fixture(EX_FILES, exchange="coinbase-exchange")


def _channel_counts(path: Path) -> Counter[str]:
    """The README's "Channels (recv frames)" line: ``{"l2_data update": 773, ...}``."""
    line = readme_channels(readme_section(path))
    return Counter({m[1].strip(): int(m[2]) for m in re.finditer(r"([^,]+?) (\d+)(?:,|$)", line)})


def test_every_coinbase_recording_is_covered() -> None:
    assert readme_recordings("coinbase(?:-exchange)?") == {rel(p) for p in AT_FILES + EX_FILES}
    assert AT_FILES and EX_FILES


# -- shared checks ---------------------------------------------------------------------


def _assert_written_rows_equal(pipeline, sent: dict) -> None:
    """Rows keyed by message and its receipt time, each level with its exchange time."""
    written = written_book_rows(
        pipeline,
        key=("symbol", "seq", "is_snapshot", "ts_recv"),
        value=("side", "price", "size", "ts_exchange"),
    )
    assert written and written == sent


def _trade_rows(pipeline) -> list[tuple]:
    fields = ("symbol", "trade_id", "side", "price", "size", "ts_exchange", "ts_recv")
    return table_rows(pipeline, "trades", *fields)


# -- Advanced Trade ------------------------------------------------------------------------


def test_at_sequence_num_has_the_documented_gaps(at) -> None:
    path, records, pipeline = at
    m = re.search(r"`sequence_num` over (\d+) messages: \*\*(\d+) gaps\*\*", readme_section(path))
    assert m, path
    frames = recv_json(records)
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
    assert_every_frame_understood(pipeline, records)
    assert assert_never_crossed(pipeline.sink.table("book")) == 2 + 773
    assert_rows_rebuild_engine_books(pipeline)


def test_at_written_levels_are_the_wire_text(at) -> None:
    _, records, pipeline = at
    sent: dict[tuple, list] = {}
    count: dict[str, int] = {}
    for rec, msg in recv_frames(records):
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
    for rec, msg in recv_frames(records):
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
    bbo = table_rows(pipeline, "bbo", "symbol", "bid_price", "bid_size", "ask_price", "ask_size")
    assert bbo == quotes and len(bbo) == 160


def test_at_trade_side_is_maker_side_measured_against_the_book(at) -> None:
    """A taker buy lifts the ask, a taker sell hits the bid: check every live trade against
    the book (rebuilt here from the frames) as of the trade's own time."""
    _, records, _ = at
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    history: dict[str, list[tuple[int, Decimal, Decimal]]] = defaultdict(list)
    live = []
    for msg in recv_json(records):
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
    assert_every_frame_understood(pipeline, records)
    assert len(pipeline.engine.symbols) == counts["snapshot"] == 10
    summary = pipeline.summary()
    applied = 0
    for symbol, sync in pipeline.engine.symbols.items():
        stats = sync.stats
        assert summary[symbol].synced, symbol
        assert (stats.snapshots_applied, stats.gaps, stats.resyncs, stats.crossed) == (1, 0, 0, 0)
        applied += stats.deltas_applied
    assert applied == counts["l2update"] == 9719
    assert assert_never_crossed(pipeline.sink.table("book")) == 10 + 9719
    assert_rows_rebuild_engine_books(pipeline)


def test_ex_written_levels_are_the_wire_text(ex) -> None:
    _, records, pipeline = ex
    sent: dict[tuple, list] = {}
    count: dict[str, int] = {}
    for rec, m in recv_frames(records):
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
        for rec, m in recv_frames(records)
        if m["type"] == "match"
    ]
    got = _trade_rows(pipeline)
    assert got == expected
    assert len(got) == _channel_counts(path)["match"] == 97
    # last_match frames (one trade per product from before the subscription) are history.
    history = {str(m["trade_id"]) for m in recv_json(records) if m["type"] == "last_match"}
    assert len(history) == _channel_counts(path)["last_match"] == 10
    assert not history & {g[1] for g in got}


def test_ex_bad_snapshot_level_costs_that_level_not_the_book(ex) -> None:
    """A real Coinbase Exchange snapshot carried the level ``["40531.19", "0.-10000"]``
    (issue 13). Put into this recording's NMR-EUR snapshot, it is dropped with a
    ``malformed`` event and the book syncs and stays synced; before, the engine discarded
    the whole book and every resync (a new snapshot with the same level) failed again.
    Everything written equals the clean replay's, and the rows rebuild the engine's book.
    """
    _, records, clean = ex
    edited = []
    for rec in records:
        if rec.kind == "recv" and rec.data.startswith('{"type":"snapshot","product_id":"NMR-EUR"'):
            m = json.loads(rec.data)
            m["asks"].append(["40531.19", "0.-10000"])
            rec = Record("recv", rec.ts, rec.conn, json.dumps(m))
        edited.append(rec)
    assert edited != records
    pipeline = run_records("coinbase-exchange", edited)
    assert_every_frame_understood(pipeline, edited)
    quality = [q for q in pipeline.sink.table("quality").to_pylist() if q["symbol"] == "NMR-EUR"]
    assert [q["kind"] for q in quality] == ["malformed", "synced"]
    assert "ask ['40531.19', '0.-10000']: not a number" in quality[0]["detail"]
    stats = pipeline.engine.symbols["NMR-EUR"].stats
    assert (stats.snapshots_applied, stats.malformed_levels, stats.resyncs) == (1, 1, 0)
    assert written_book_rows(pipeline) == written_book_rows(clean)
    for symbol, sync in clean.engine.symbols.items():
        assert pipeline.engine.symbols[symbol].book.as_dict() == sync.book.as_dict(), symbol
    assert_rows_rebuild_engine_books(pipeline)
