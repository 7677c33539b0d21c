"""The bitFlyer recording replays to the facts its README section states.

bitFlyer sends no ids: what can be checked is that every board frame is accounted for
(snapshots applied, diffs applied or, before a product's first snapshot, covered by
it), that the written rows are the frames' levels, and that no book ever crosses.
Expected values come from the frames (``json`` and ``Decimal``).
"""

from __future__ import annotations

from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_no_decode_failed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    readme_channel_count,
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

from adapters.bitflyer.adapter import BitflyerAdapter

pytestmark = needs_captures

FILES = recordings(("bitflyer",))

replayed = replayed_fixture(FILES, exchange="bitflyer", ids=lambda p: p.name)
SNAPSHOT, BOARD = "lightning_board_snapshot_", "lightning_board_"


def _pushes(records) -> list[tuple[str, object]]:
    return [
        (m["params"]["channel"], m["params"]["message"])
        for m in recv_json(records, parse_float=Decimal, parse_int=Decimal)
    ]


def test_every_bitflyer_recording_is_covered() -> None:
    assert FILES, "no bitFlyer recordings found"
    assert readme_recordings("bitflyer") == {rel(p) for p in FILES}


def test_every_board_frame_is_accounted_for(replayed) -> None:
    """README "lightning_board_snapshot 60", "lightning_board 722": every snapshot is
    applied; every diff is applied, except those before its product's first snapshot."""
    path, records, pipeline = replayed
    section = readme_section(path)
    assert "**Sequence / checksum fields**: none" in section
    count, instruments = readme_instruments(section)
    assert set(pipeline.engine.symbols) == set(instruments) and count == 10
    synced: set[str] = set()
    early = 0
    for channel, _ in _pushes(records):
        if channel.startswith(SNAPSHOT):
            synced.add(channel[len(SNAPSHOT) :])
        elif channel.startswith(BOARD) and channel[len(BOARD) :] not in synced:
            early += 1
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    snapshots = readme_channel_count(section, "lightning_board_snapshot")
    diffs = readme_channel_count(section, "lightning_board")
    assert sum(st.snapshots_applied for st in stats.values()) == snapshots == 60
    assert sum(st.deltas_applied for st in stats.values()) == diffs - early
    assert 0 < early < 40  # diffs do come first on a fresh connection
    assert sum(st.gaps + st.resyncs + st.crossed for st in stats.values()) == 0
    assert all(s.synced for s in pipeline.summary().values())


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert_no_decode_failed(BitflyerAdapter(), records)


def test_rows_equal_the_wire_text(replayed) -> None:
    """Message n of a product (counted from its first snapshot) wrote that frame's levels."""
    _, records, pipeline = replayed
    n: dict[str, int] = {}
    sent = {}
    for channel, msg in _pushes(records):
        snapshot = channel.startswith(SNAPSHOT)
        if not snapshot and not channel.startswith(BOARD):
            continue
        product = channel[len(SNAPSHOT if snapshot else BOARD) :]
        if not snapshot and product not in n:
            continue
        i = n[product] = n.get(product, 0) + 1
        levels = [
            (side, lvl["price"], lvl["size"])
            for side, key in (("bid", "bids"), ("ask", "asks"))
            for lvl in msg[key]
        ]
        if levels:
            sent[(product, i, snapshot)] = levels
    assert written_book_rows(pipeline) == sent
    assert_never_crossed(pipeline.sink.table("book"))
    assert_rows_rebuild_engine_books(pipeline)


def test_executions_and_tickers(replayed) -> None:
    """README "lightning_executions 72" frames: every row a trade (ids unique, taker side
    lower-cased); "lightning_ticker 249": every ticker a best bid/ask."""
    path, records, pipeline = replayed
    section = readme_section(path)
    pushes = _pushes(records)
    executions = [(c, m) for c, m in pushes if c.startswith("lightning_executions_")]
    assert len(executions) == readme_channel_count(section, "lightning_executions")
    sent = [
        (str(e["id"]), e["side"].lower(), e["price"], e["size"]) for _, m in executions for e in m
    ]
    rows = table_rows(pipeline, "trades", "trade_id", "side", "price", "size")
    assert rows == sent and len({r[0] for r in rows}) == len(rows) == 162
    tickers = [m for c, m in pushes if c.startswith("lightning_ticker_")]
    assert len(tickers) == readme_channel_count(section, "lightning_ticker")
    quotes = table_rows(pipeline, "bbo", "symbol", "bid_price", "ask_size")
    expected = [(t["product_code"], t["best_bid"], t["best_ask_size"]) for t in tickers]
    assert quotes == expected


def test_markets(replayed) -> None:
    _, _, pipeline = replayed
    markets = dict(table_rows(pipeline, "book", "symbol", "market"))
    assert markets["FX_BTC_JPY"] == "BTC-JPY-PERP"
    assert markets["BTCJPY24DEC2021"] == "BTC-JPY-20211224"
    assert markets["BCH_BTC"] == "BCH-BTC"
    assert all(pipeline.adapter.listed(s) for s in markets)
