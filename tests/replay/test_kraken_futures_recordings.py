"""The Kraken Futures recording replays to the facts its README section documents.

The instruments sidecar is fed first (as ``collector replay`` does). Facts are parsed
from the README itself, and expected rows are rebuilt from the frames with ``json`` and
``Decimal``, independently of the adapter.
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

from adapters.kraken_futures.adapter import KrakenFuturesAdapter

pytestmark = needs_captures

FILES = recordings(("kraken-futures",))

replayed = replayed_fixture(FILES, exchange="kraken-futures", ids=lambda p: p.name)


def test_every_kraken_futures_recording_is_covered() -> None:
    assert FILES, "no Kraken Futures recordings found"
    assert readme_recordings("kraken-futures") == {rel(p) for p in FILES}


def test_seq_chain_matches_readme(replayed) -> None:
    """The README's "Book `seq` per product (N products, M deltas): **0 gaps**": every
    product's book starts at its book_snapshot and every delta continues it."""
    path, _, pipeline = replayed
    section = readme_section(path)
    m = re.search(r"\((\d+) products, (\d+) deltas\): \*\*(\d+) gaps\*\*", section)
    assert m, "no seq fact in the README"
    products, deltas, gaps = map(int, m.groups())
    count, instruments = readme_instruments(section)
    assert set(pipeline.engine.symbols) == set(instruments) and count == products
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    assert sum(st.deltas_applied for st in stats.values()) == deltas
    assert sum(st.gaps for st in stats.values()) == gaps == 0
    summary = pipeline.summary()
    for symbol, st in stats.items():
        assert st.snapshots_applied == 1 and st.resyncs == 0 and st.crossed == 0, symbol
        assert summary[symbol].synced, symbol


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(KrakenFuturesAdapter(), records)


def test_rows_equal_the_wire_text(replayed) -> None:
    """Every written level is the frame's: snapshot levels, then each delta's one level."""
    _, records, pipeline = replayed
    sent: dict[tuple[str, int, bool], list] = {}
    for msg in recv_json(records, parse_float=Decimal, parse_int=Decimal):
        if msg.get("feed") == "book_snapshot":
            sent[(msg["product_id"], msg["seq"], True)] = [
                (side, lvl["price"], lvl["qty"])
                for side, key in (("bid", "bids"), ("ask", "asks"))
                for lvl in msg[key]
            ]
        elif msg.get("feed") == "book" and "event" not in msg:
            side = "bid" if msg["side"] == "buy" else "ask"
            sent[(msg["product_id"], msg["seq"], False)] = [(side, msg["price"], msg["qty"])]
    written = written_book_rows(pipeline)
    assert written == sent


def test_no_crossed_book_and_rows_rebuild_the_engine_books(replayed) -> None:
    _, _, pipeline = replayed
    states = assert_never_crossed(pipeline.sink.table("book"))
    assert states == 7014 + 10  # one state per snapshot and per delta
    assert_rows_rebuild_engine_books(pipeline)


def test_trades_are_the_live_trade_frames_with_unique_ids(replayed) -> None:
    """Only ``trade`` frames are stored (the README counts them); ``trade_snapshot``
    history is not. Ids are the ``uid``s, unique; prices and sizes the wire's."""
    path, records, pipeline = replayed
    live = re.search(r"(?<![_\w])trade (\d+)", readme_channels(readme_section(path)))
    assert live, "no trade count in the README"
    sent = [
        (m["product_id"], m["uid"], m["side"], m["price"], m["qty"])
        for m in recv_json(records, parse_float=Decimal, parse_int=Decimal)
        if m.get("feed") == "trade" and "event" not in m
    ]
    rows = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert rows == sent and len(rows) == int(live[1]) == 3
    assert len({r[1] for r in rows}) == len(rows)


def test_markets_come_from_the_product_ids(replayed) -> None:
    _, _, pipeline = replayed
    markets = dict(table_rows(pipeline, "book", "symbol", "market"))
    assert markets["PI_ETHUSD"] == "ETH-USD-PERP"
    assert markets["FI_XBTUSD_210924"] == "BTC-USD-20210924"
    assert all(pipeline.adapter.listed(s) for s in markets)
