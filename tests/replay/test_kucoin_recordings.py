"""The KuCoin recording replays to the facts its README section documents.

REST ``sequence`` bridged by ``sequenceStart``/``sequenceEnd`` for every book, no gaps,
unique trade ids, one best bid/ask row per ticker frame (each agreeing with the rebuilt
book at its sequence), and the written rows rebuild the engine's books.
"""

from __future__ import annotations

from decimal import Decimal

from support import (
    assert_bridges_as_stated,
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    needs_captures,
    readme_recordings,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
)

pytestmark = needs_captures

FILES = recordings(("kucoin",))

replayed = replayed_fixture(FILES, exchange="kucoin", ids=lambda p: p.name)


def test_every_kucoin_recording_is_covered() -> None:
    assert FILES, "no KuCoin recordings found"
    assert readme_recordings("kucoin") == {rel(p) for p in FILES}


def test_every_book_bridges_its_rest_sequence_without_gaps(replayed) -> None:
    path, records, pipeline = replayed
    assert assert_bridges_as_stated(path, records, pipeline) == 9
    assert_every_frame_understood(pipeline, records)
    assert_rows_rebuild_engine_books(pipeline)
    assert_never_crossed(pipeline.sink.table("book"))


def test_trades_are_the_match_frames_with_unique_ids(replayed) -> None:
    _, records, pipeline = replayed
    matches = [m["data"] for m in recv_json(records) if m.get("subject") == "trade.l3match"]
    trades = table_rows(pipeline, "trades", "trade_id", "side", "price", "size", "ts_exchange")
    assert len(trades) == len(matches) == 18
    assert len({t[0] for t in trades}) == len(trades)
    for (trade_id, side, price, size, ts), m in zip(trades, matches, strict=True):
        assert (trade_id, side, price, size) == (
            m["tradeId"],
            m["side"],
            Decimal(m["price"]),
            Decimal(m["size"]),
        )
        assert ts == int(m["time"])  # ns, exactly


def test_every_ticker_is_a_best_bid_ask_row_that_agrees_with_the_book(replayed) -> None:
    """The ticker's ``sequence`` is the book's: every ticker at a sequence the synced
    book reached has the rebuilt book's best bid and ask, with their sizes."""
    _, records, pipeline = replayed
    stats = [s.stats for s in pipeline.engine.symbols.values()]
    assert sum(s.bbo_matched for s in stats) == 810
    assert sum(s.bbo_mismatched for s in stats) == 0
    tickers = [m for m in recv_json(records) if m.get("subject") == "trade.ticker"]
    rows = table_rows(pipeline, "bbo", "symbol", "bid_price", "ask_price")
    assert len(rows) == len(tickers) == 830
    for (symbol, bid, ask), m in zip(rows, tickers, strict=True):
        assert symbol == m["topic"].split(":")[1]
        assert (bid, ask) == (Decimal(m["data"]["bestBid"]), Decimal(m["data"]["bestAsk"]))
