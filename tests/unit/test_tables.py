"""Row buffers build exact Arrow tables and drop, with a quality event, what cannot be exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collector import schema
from collector.model import BestBidAsk, DerivativeTicker, OptionSummary, QualityEvent, Trade
from collector.tables import TableBuffers

#: Every test here runs on the reference path and on the native core.
pytestmark = pytest.mark.usefixtures("book_path")


def test_book_rows_expand_per_level_in_order() -> None:
    out = TableBuffers()
    out.add_book("X", "X-Y", None, 5, 9, 100, False, [("1.5", "2")], [("2", "0"), ("3", "1e-8")])
    out.add_book("X", "X-Y", 7, 6, 10, 103, True, [], [("4", "4")])
    book = out.drain()["book"]
    assert book.schema == schema.BOOK
    assert book["apply_seq"].to_pylist() == [100, 101, 102, 103]
    assert book["side"].to_pylist() == ["bid", "ask", "ask", "ask"]
    assert book["price"].to_pylist() == [Decimal("1.5"), Decimal(2), Decimal(3), Decimal(4)]
    assert book["size"].to_pylist()[2] == Decimal("1E-8")
    assert book["is_snapshot"].to_pylist() == [False, False, False, True]
    assert book["ts_exchange"].is_null().to_pylist() == [True, True, True, False]
    assert out.pending_rows == 0


def test_unstorable_trade_and_quote_rows_are_dropped_and_reported() -> None:
    out = TableBuffers()
    out.add_trade(Trade("X", 1, 2, "a", "buy", "1.25", "3"), "X-Y")
    out.add_trade(Trade("X", 1, 3, "b", "sell", "1" * 25, "3"), "X-Y")
    out.add_bbo(BestBidAsk("X", None, 4, 1, "1", "1", "2", "x"), "X-Y")
    out.add_quality(QualityEvent("X", 1, "gap", "first"))
    tables = out.drain()
    assert tables["trades"]["trade_id"].to_pylist() == ["a"]
    assert "bbo" not in tables
    quality = tables["quality"]
    assert quality["kind"].to_pylist() == ["gap", "malformed", "malformed"]
    assert "1111111111111111111111111" in quality["detail"][1].as_py()


def test_derivative_rows_keep_signs_only_where_a_sign_means_something() -> None:
    """Funding rates and greeks may be negative; prices and sizes may not. A row that
    cannot be stored exactly is dropped with a ``malformed`` event, its neighbours kept."""
    out = TableBuffers()
    out.add_derivative(DerivativeTicker("A", None, 1, funding_rate="-0.000125"), "A-PERP")
    out.add_derivative(DerivativeTicker("A", None, 2, mark_price="-1"), "A-PERP")
    out.add_derivative(DerivativeTicker("A", 3, 3, mark_price="1e-19"), "A-PERP")
    out.add_derivative(
        OptionSummary("O", None, 4, "put", "100", 5, theta="-33.70089006", delta="-1e-5"), "O"
    )
    tables = out.drain()
    tickers = tables["derivative_ticker"]
    assert tickers["funding_rate"].to_pylist() == [Decimal("-0.000125")]
    assert tickers["ts_exchange"].null_count == 1  # never filled from ts_recv
    option = tables["option_summary"]
    assert option["theta"].to_pylist() == [Decimal("-33.70089006")]
    assert option["delta"].to_pylist() == [Decimal("-0.00001")]
    assert option["best_bid_price"].to_pylist() == [None]
    assert tables["quality"]["detail"].to_pylist() == [
        "dropped derivative_ticker row: '-1' is not a storable decimal: negative",
        "dropped derivative_ticker row: '1e-19' is not a storable decimal: "
        "more than 18 fractional digits",
    ]
