"""The Gate.io spot and USDT futures recordings replay to the facts their README sections state.

REST ``id`` bridged by ``U``/``u`` for every book the README says bridges (the others'
recordings end before an update newer than their snapshot), no gaps, the stated number
of updates per book, unique trade ids, futures sizes written as the integers of
contracts they were sent as, and the written rows rebuild the engine's books.
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

FILES = recordings(("gateio", "gateio-futures"))

replayed = replayed_fixture(FILES, ids=lambda p: p.name)


def test_every_gateio_recording_is_covered() -> None:
    assert {p.parent.name for p in FILES} == {"gateio", "gateio-futures"}
    covered = readme_recordings("gateio") | readme_recordings("gateio-futures")
    assert covered == {rel(p) for p in FILES}


def test_every_book_bridges_its_rest_id_as_stated(replayed) -> None:
    path, records, pipeline = replayed
    assert pipeline.exchange == path.parent.name
    assert assert_bridges_as_stated(path, records, pipeline) == 10
    assert_every_frame_understood(pipeline, records)
    assert_rows_rebuild_engine_books(pipeline, unwritten_empty=True)
    assert_never_crossed(pipeline.sink.table("book"))


def test_spot_trades_are_the_trade_frames_with_unique_ids(replayed) -> None:
    path, records, pipeline = replayed
    sent = [
        m["result"]
        for m in recv_json(records)
        if m.get("channel", "").endswith(".trades") and m["event"] == "update"
    ]
    trades = table_rows(pipeline, "trades", "trade_id", "side", "price", "size")
    assert len({t[0] for t in trades}) == len(trades) == len(sent)
    if path.parent.name == "gateio":
        assert len(trades) == 9
        for (trade_id, side, price, size), t in zip(trades, sent, strict=True):
            assert (trade_id, side) == (str(t["id"]), t["side"])
            assert (price, size) == (Decimal(t["price"]), Decimal(t["amount"]))


def test_futures_book_sizes_are_whole_contracts_and_tickers_are_bbo_rows(replayed) -> None:
    path, records, pipeline = replayed
    if path.parent.name != "gateio-futures":
        return
    sizes = [row[0] for row in table_rows(pipeline, "book", "size")]
    assert sizes and all(size == size.to_integral_value() for size in sizes)
    tickers = [
        m["result"]
        for m in recv_json(records)
        if m.get("channel") == "futures.book_ticker" and m["event"] == "update"
    ]
    rows = table_rows(pipeline, "bbo", "symbol", "bid_price", "bid_size", "ask_price", "ask_size")
    assert len(rows) == len(tickers) == 75
    stats = [s.stats for s in pipeline.engine.symbols.values()]  # u: the book's update id
    assert (sum(s.bbo_matched for s in stats), sum(s.bbo_mismatched for s in stats)) == (16, 0)
    for row, t in zip(rows, tickers, strict=True):
        expected = (t["s"], Decimal(t["b"]), Decimal(t["B"]), Decimal(t["a"]), Decimal(t["A"]))
        assert row == expected
