"""Every BitMEX recording replays to the facts its README section documents.

BitMEX books have no sequence ids, so the checks are structural: every book syncs from
its ``partial``, every ``update``/``delete`` names a level id the table announced, no
crossed book is ever written, and every written value equals the wire text. The
expected rows are rebuilt here independently from the frames (own id -> price map).
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
    pylist,
    readme_instruments,
    readme_recordings,
    readme_section,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

from adapters.bitmex.adapter import BitmexAdapter

pytestmark = needs_captures

FILES = recordings(("bitmex",))

replayed = replayed_fixture(FILES, exchange="bitmex", ids=lambda p: p.name)


def _frames(records: list) -> list[dict]:
    return recv_json(records, parse_float=Decimal)


def test_every_bitmex_recording_is_covered() -> None:
    assert FILES, "no BitMEX recordings found"
    assert readme_recordings("bitmex") == {rel(p) for p in FILES}


def test_every_book_syncs_from_its_partial(replayed) -> None:
    path, records, pipeline = replayed
    section = readme_section(path)
    channels = dict(
        (name, int(n))
        for n, name in [m[::-1] for m in re.findall(r"(orderBookL2 \w+) (\d+)", section)]
    )
    _, instruments = readme_instruments(section)
    symbols = set(instruments)
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
    assert_every_frame_understood(pipeline, records)
    assert pipeline.controls["ack"] == 31  # welcome + 30 subscription replies
    assert_no_decode_failed(BitmexAdapter(), records)


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    assert assert_never_crossed(pipeline.sink.table("book")) == 10 + 1969


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
    written = written_book_rows(pipeline)
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
    got = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert got == trades
    fields = ("symbol", "bid_price", "bid_size", "ask_price", "ask_size")
    assert table_rows(pipeline, "bbo", *fields) == quotes
    assert all(r["seq"] is None for r in pylist(pipeline.sink.table("bbo")))


def test_parquet_rows_rebuild_the_engine_book_and_markets(replayed) -> None:
    _, _, pipeline = replayed
    assert_rows_rebuild_engine_books(pipeline)
    markets = dict(set(table_rows(pipeline, "book", "symbol", "market")))
    assert markets["XBTUSD"] == "BTC-USD-PERP"
    assert markets["ADAUSDT"] == "ADA-USDT-PERP"
    assert markets["TRXU21"] == "TRX-BTC-20210924"
    assert markets["XRPU21"] == "XRP-BTC-20210924"
