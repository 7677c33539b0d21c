"""Row buffers that turn engine output into Arrow tables of ``collector.schema``.

On the reference path the hot path appends one entry per *message*, never per
level: a book message is kept as its level lists plus the values shared by its
rows, and the per-level columns are built in bulk (numpy repeats, one Arrow cast
for all prices) when the buffers are drained. Prices and sizes stay text until
that cast, which refuses anything it would have to round. With the compiled core,
rows go into C column buffers as they come (``collector.row_columns``), with the
same values, the same refusals and the same tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector import decimal_text, row_columns, schema
from collector.model import (
    BestBidAsk,
    DerivativeTicker,
    Level,
    Liquidation,
    OptionSummary,
    QualityEvent,
    QualityKind,
    Trade,
)
from collector.native import core as native_core

log = logging.getLogger(__name__)

#: Called with (symbol, ts_recv, seq, reason, rows dropped) when a symbol's book rows had
#: to be dropped.
BadBookHandler = Callable[[str, int, int, str, int], None]

_LEVEL_LISTS = pa.list_(pa.list_(pa.string(), 2))

#: Message type -> the table whose columns are named like its fields.
DERIVATIVE_TABLES: dict[type, str] = {
    DerivativeTicker: "derivative_ticker",
    Liquidation: "liquidations",
    OptionSummary: "option_summary",
}


def _timestamps(values: list[int | None]) -> pa.Array:
    return pa.array(values, pa.int64()).cast(schema.TIMESTAMP)


#: Buffered ``(message, market)`` rows of one table: a list (the reference) or the
#: compiled core's ``RowColumns``, which takes the same ``append``.
MessageRows = Any

#: ``(column, texts, signed) -> decimal128 array``: ``decimal_array`` bound to a core.
Decimals = Callable[..., pa.Array]


def decimal_array(
    core: Any, column: str, texts: list[str | None], signed: bool = False
) -> pa.Array:
    """``schema.exact_decimals`` of one column of text (``None`` is null).

    The compiled core writes plain text straight into the decimal128 buffer; any other
    text (and every column on the reference path) goes through ``exact_decimals``,
    which converts or refuses it by its own rules.
    """
    if core is not None:
        built = core.decimal_column(texts, signed)
        if built is not None:
            return row_columns.buffer_array(schema.DECIMAL, len(texts), *built)
    return schema.exact_decimals(column, texts, signed)


class _BookBuffer:
    """Book rows, one entry per message that has rows: the reference path's."""

    __slots__ = (
        "apply_seq",
        "asks",
        "bids",
        "is_snapshot",
        "markets",
        "rows",
        "seq",
        "symbols",
        "ts_exchange",
        "ts_recv",
    )

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self.markets: list[str] = []
        self.ts_exchange: list[int | None] = []
        self.ts_recv: list[int] = []
        self.seq: list[int] = []
        self.apply_seq: list[int] = []
        self.is_snapshot: list[bool] = []
        self.bids: list[list[Level]] = []
        self.asks: list[list[Level]] = []
        self.rows = 0

    def append(
        self,
        symbol: str,
        market: str,
        ts_exchange: int | None,
        ts_recv: int,
        seq: int,
        apply_seq: int,
        is_snapshot: bool,
        bids: list[Level],
        asks: list[Level],
    ) -> None:
        """One message; without levels it has no row, and its labels no dictionary entry."""
        if not bids and not asks:
            return
        self.symbols.append(symbol)
        self.markets.append(market)
        self.ts_exchange.append(ts_exchange)
        self.ts_recv.append(ts_recv)
        self.seq.append(seq)
        self.apply_seq.append(apply_seq)
        self.is_snapshot.append(is_snapshot)
        self.bids.append(bids)
        self.asks.append(asks)
        self.rows += len(bids) + len(asks)

    def table(self) -> pa.Table:
        n_bids = np.fromiter(map(len, self.bids), np.int64, len(self.bids))
        n_asks = np.fromiter(map(len, self.asks), np.int64, len(self.asks))
        counts = n_bids + n_asks
        side_counts = np.column_stack((n_bids, n_asks)).ravel()
        message_of_row = np.repeat(np.arange(len(counts)), counts)
        first_row = np.cumsum(counts) - counts
        offset = np.arange(len(message_of_row)) - first_row[message_of_row]
        side_index = np.repeat(np.tile(np.array([0, 1], np.int32), len(counts)), side_counts)
        take = pa.array(message_of_row)
        # One list per (message, side), bids first: converted by Arrow in one C call.
        per_side = list(chain.from_iterable(zip(self.bids, self.asks, strict=True)))
        pairs = pa.array(per_side, _LEVEL_LISTS).flatten()
        columns = {
            "symbol": schema.labels(self.symbols).take(take),
            "market": schema.labels(self.markets).take(take),
            "ts_exchange": _timestamps(self.ts_exchange).take(take),
            "ts_recv": _timestamps(self.ts_recv).take(take),
            "seq": pa.array(np.asarray(self.seq, np.int64)[message_of_row]),
            "apply_seq": pa.array(np.asarray(self.apply_seq, np.int64)[message_of_row] + offset),
            "is_snapshot": pa.array(np.asarray(self.is_snapshot, np.bool_)[message_of_row]),
            "side": pa.DictionaryArray.from_arrays(pa.array(side_index), row_columns.BOOK_SIDES),
            "price": schema.exact_decimals("price", pc.list_element(pairs, 0)),
            "size": schema.exact_decimals("size", pc.list_element(pairs, 1)),
        }
        return pa.Table.from_pydict(columns, schema=schema.BOOK)

    def drop_invalid(self) -> list[tuple[str, int, int, str, int]]:
        """Remove messages with text that cannot be stored, and every later one of their symbol.

        The engine applies sizes without validating them (that costs a third of
        its time per level); validation happens here, in bulk, before any row
        reaches a sink. A symbol with a bad level has had a wrong book since that
        message, so its rows from there on are dropped and the caller resyncs it.
        (Snapshots arrive checked: the engine drops their bad levels alone.)
        Returns ``(symbol, ts_recv, seq, reason, rows dropped)`` for each such symbol.
        """
        bad: dict[str, tuple[str, int, int, str]] = {}
        dropped: dict[str, int] = {}
        keep = []
        for i, symbol in enumerate(self.symbols):
            rows = len(self.bids[i]) + len(self.asks[i])
            if symbol in bad:
                dropped[symbol] += rows
                continue
            try:
                for price, size in chain(self.bids[i], self.asks[i]):
                    decimal_text.check(price)
                    decimal_text.check(size)
            except decimal_text.InvalidDecimalText as exc:
                bad[symbol] = (symbol, self.ts_recv[i], self.seq[i], str(exc))
                dropped[symbol] = rows
                continue
            keep.append(i)
        for name in self.__slots__:
            if name != "rows":
                column = getattr(self, name)
                setattr(self, name, [column[i] for i in keep])
        self.rows = sum(map(len, self.bids)) + sum(map(len, self.asks))
        return [(*found, dropped[symbol]) for symbol, found in bad.items()]


class TableBuffers:
    """Everything one exchange's pipeline has produced and not yet handed to a sink."""

    def __init__(self, native: bool | None = None) -> None:
        """``native``: build book columns with the compiled core (True), the reference
        (False), or as ``COLLECTOR_NATIVE`` says (None); see ``collector.native``."""
        self._native = native
        core = self._core = native_core(native)
        # Book rows: the compiled core's column buffers (``collector.row_columns``) or
        # the reference's per-message lists; both take ``append`` and count ``rows``.
        self._book = _BookBuffer() if core is None else core.BookRows()
        #: ``add_book(symbol, market, ts_exchange, ts_recv, seq, apply_seq, is_snapshot,
        #: bids, asks)``: buffer one book message's rows, ``apply_seq`` being that of its
        #: first. The buffer's own ``append``, so a message costs no extra call.
        self.add_book: Callable[..., None] = self._book.append
        self._decimals: Decimals = partial(decimal_array, core)
        # (message, market) rows: a list on the reference path, the compiled core's
        # column buffers (``collector.row_columns``) otherwise; both take ``append``.
        self._trades: MessageRows = self._rows("trades")
        self._bbo: MessageRows = self._rows("bbo")
        self._quality: list[QualityEvent] = []
        #: derivative_ticker, liquidations, option_summary -> (message, market) rows
        self._derivatives: dict[str, MessageRows] = {}
        #: book_snapshots table name -> (depth, rows)
        self._samples: dict[str, tuple[int, list[tuple[Any, ...]]]] = {}

    @property
    def pending_rows(self) -> int:
        samples = sum(len(rows) for _, rows in self._samples.values())
        derived = sum(map(len, self._derivatives.values()))
        return (
            self._book.rows
            + len(self._trades)
            + len(self._bbo)
            + len(self._quality)
            + samples
            + derived
        )

    def add_trade(self, trade: Trade, market: str) -> None:
        self._trades.append((trade, market))

    def add_bbo(self, quote: BestBidAsk, market: str) -> None:
        self._bbo.append((quote, market))

    def add_derivative(
        self, message: DerivativeTicker | Liquidation | OptionSummary, market: str
    ) -> None:
        """One row of the table ``DERIVATIVE_TABLES`` names for the message's type."""
        table = DERIVATIVE_TABLES[type(message)]
        rows = self._derivatives.get(table)
        if rows is None:
            rows = self._derivatives[table] = self._rows(table)
        rows.append((message, market))

    def _rows(self, table: str) -> MessageRows:
        return [] if self._core is None else row_columns.buffers(self._core, table)

    def add_quality(self, event: QualityEvent) -> None:
        self._quality.append(event)

    def add_sample(
        self,
        table: str,
        depth: int,
        symbol: str,
        market: str,
        ts: int,
        ts_exchange: int | None,
        seq: int | None,
        verified: bool,
        bids: list[tuple[str, str]],
        asks: list[tuple[str, str]],
        mark_price: str | None = None,
        funding_rate: str | None = None,
    ) -> None:
        """One book_snapshots row; ``bids``/``asks`` hold at most ``depth`` levels, best first.

        ``mark_price``/``funding_rate``: the symbol's latest, when the sampling asks for them.
        """
        entry = self._samples.get(table)
        if entry is None:
            entry = self._samples[table] = (depth, [])
        row = (symbol, market, ts, ts_exchange, seq, verified, bids, asks, mark_price, funding_rate)
        entry[1].append(row)

    def drain(self, on_bad_book: BadBookHandler | None = None) -> dict[str, pa.Table]:
        """Build the buffered tables (only non-empty ones) and start empty again.

        Decimal text is validated here, in bulk by the decimal cast, rather than
        per level on the hot path. A trade or quote row that cannot be stored
        exactly is dropped and replaced by a ``malformed`` quality event; a book
        message is dropped with every later message of its symbol, and
        ``on_bad_book`` (the engine) is told so it can resync that symbol. Its
        quality events land in this same drain.
        """
        out: dict[str, pa.Table] = {}
        book = self._book_table(on_bad_book)
        if book is not None:
            out["book"] = book
        decimals = self._decimals
        trades = self._valid_rows(
            "trades", partial(_trades_table, decimals), self._trades, _check_trade
        )
        if trades is not None:
            out["trades"] = trades
        bbo = self._valid_rows("bbo", partial(_bbo_table, decimals), self._bbo, _check_quote)
        if bbo is not None:
            out["bbo"] = bbo
        for name, rows in self._derivatives.items():
            shape = schema.TABLES[name]
            build = partial(_message_table, decimals, shape)
            check = partial(_check_message, shape)
            built = self._valid_rows(name, build, rows, check)
            if built is not None:
                out[name] = built
        for table, (depth, rows) in self._samples.items():
            out[table] = _samples_table(decimals, depth, rows)
        if self._quality:
            out["quality"] = _quality_table(self._quality)
        self.__init__(self._native)  # type: ignore[misc]
        return out

    def _book_table(self, on_bad_book: BadBookHandler | None) -> pa.Table | None:
        """The book table, less (and reporting) each symbol's rows from a message on
        whose text cannot be stored."""

        def dropped(symbol: str, ts_recv: int, seq: int, why: str, rows: int) -> None:
            log.warning("dropped book rows of %s from update %s on: %s", symbol, seq, why)
            if on_bad_book is not None:
                on_bad_book(symbol, ts_recv, seq, why, rows)

        book = self._book
        if not book.rows:
            return None
        if type(book) is not _BookBuffer:
            return row_columns.book_table(book, dropped)
        try:
            return book.table()
        except (schema.ValueDoesNotFit, pa.ArrowInvalid):
            pass
        for bad in book.drop_invalid():
            dropped(*bad)
        return book.table() if book.rows else None

    def _valid_rows(
        self,
        name: str,
        build: Callable[[list[tuple[Any, str]]], pa.Table],
        rows: MessageRows,
        check: Callable[[Any], None],
    ) -> pa.Table | None:
        """The table of ``rows``, less (and reporting) those that cannot be stored."""
        dropped = partial(self._dropped_row, name)
        if type(rows) is not list:
            return row_columns.table(name, rows, dropped)
        if not rows:
            return None
        try:
            return build(rows)
        except (schema.ValueDoesNotFit, pa.ArrowInvalid):
            pass
        good = []
        for row in rows:
            msg = row[0]
            try:
                check(msg)
            except decimal_text.InvalidDecimalText as exc:
                dropped(msg.symbol, msg.ts_recv, str(exc))
            else:
                good.append(row)
        return build(good) if good else None

    def _dropped_row(self, name: str, symbol: str, ts_recv: int, why: str) -> None:
        log.warning("dropped a %s row of %s: %s", name, symbol, why)
        self._quality.append(
            QualityEvent(symbol, ts_recv, QualityKind.MALFORMED, f"dropped {name} row: {why}")
        )


def _check_trade(trade: Trade) -> None:
    for text in (trade.price, trade.size):
        decimal_text.check(text)


def _check_quote(quote: BestBidAsk) -> None:
    for text in (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size):
        decimal_text.check(text)


def _check_message(table_schema: pa.Schema, message: Any) -> None:
    """Raise ``InvalidDecimalText`` if a decimal field of ``message`` cannot be stored."""
    for field in table_schema:
        if field.type == schema.DECIMAL:
            text = getattr(message, field.name)
            if text is not None:
                decimal_text.check(text, schema.is_signed(field))


def _message_table(
    decimals: Decimals, table_schema: pa.Schema, rows: list[tuple[Any, str]]
) -> pa.Table:
    """A table whose columns are the like-named fields of the messages (plus ``market``).

    Used for the derivative tables, whose messages mirror their schema field for
    field: adding a column is a schema line and a message field, nothing here.
    """
    columns: dict[str, pa.Array] = {}
    for field in table_schema:
        if field.name == "market":
            values: list[Any] = [market for _, market in rows]
        else:
            values = [getattr(message, field.name) for message, _ in rows]
        if field.type == schema.LABEL:
            columns[field.name] = schema.labels(values)
        elif field.type == schema.TIMESTAMP:
            columns[field.name] = _timestamps(values)
        elif field.type == schema.DECIMAL:
            columns[field.name] = decimals(field.name, values, schema.is_signed(field))
        else:
            columns[field.name] = pa.array(values, field.type)
    return pa.Table.from_pydict(columns, schema=table_schema)


def _trades_table(decimals: Decimals, rows: list[tuple[Trade, str]]) -> pa.Table:
    trades = [t for t, _ in rows]
    return pa.Table.from_pydict(
        {
            "symbol": schema.labels([t.symbol for t in trades]),
            "market": schema.labels([m for _, m in rows]),
            "ts_exchange": _timestamps([t.ts_exchange for t in trades]),
            "ts_recv": _timestamps([t.ts_recv for t in trades]),
            "trade_id": pa.array([t.trade_id for t in trades], pa.string()),
            "side": pa.DictionaryArray.from_arrays(
                pa.array([0 if t.side == "buy" else 1 for t in trades], pa.int32()),
                row_columns.TRADE_SIDES,
            ),
            "price": decimals("price", [t.price for t in trades]),
            "size": decimals("size", [t.size for t in trades]),
        },
        schema=schema.TRADES,
    )


def _bbo_table(decimals: Decimals, rows: list[tuple[BestBidAsk, str]]) -> pa.Table:
    quotes = [q for q, _ in rows]
    return pa.Table.from_pydict(
        {
            "symbol": schema.labels([q.symbol for q in quotes]),
            "market": schema.labels([m for _, m in rows]),
            "ts_exchange": _timestamps([q.ts_exchange for q in quotes]),
            "ts_recv": _timestamps([q.ts_recv for q in quotes]),
            "seq": pa.array([q.seq for q in quotes], pa.int64()),
            "bid_price": decimals("bid_price", [q.bid_price for q in quotes]),
            "bid_size": decimals("bid_size", [q.bid_size for q in quotes]),
            "ask_price": decimals("ask_price", [q.ask_price for q in quotes]),
            "ask_size": decimals("ask_size", [q.ask_size for q in quotes]),
        },
        schema=schema.BBO,
    )


def _quality_table(events: list[QualityEvent]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "symbol": schema.labels([e.symbol for e in events]),  # type: ignore[misc]
            "ts_recv": _timestamps([e.ts_recv for e in events]),
            "kind": schema.labels([e.kind for e in events]),
            "detail": pa.array([e.detail for e in events], pa.string()),
            "seq": pa.array([e.seq for e in events], pa.int64()),
        },
        schema=schema.QUALITY,
    )


def _samples_table(decimals: Decimals, depth: int, rows: list[tuple[Any, ...]]) -> pa.Table:
    def side_column(name: str, index: int, field: int) -> pa.Array:
        texts: list[str | None] = []
        for row in rows:
            levels = row[index]
            texts.extend(level[field] for level in levels)
            texts.extend([None] * (depth - len(levels)))
        values = decimals(name, texts)
        return pa.FixedSizeListArray.from_arrays(values, depth)

    return pa.Table.from_pydict(
        {
            "symbol": schema.labels([r[0] for r in rows]),
            "market": schema.labels([r[1] for r in rows]),
            "ts_recv": _timestamps([r[2] for r in rows]),
            "ts_exchange": _timestamps([r[3] for r in rows]),
            "seq": pa.array([r[4] for r in rows], pa.int64()),
            "verified": pa.array([r[5] for r in rows], pa.bool_()),
            "bid_price": side_column("bid_price", 6, 0),
            "bid_size": side_column("bid_size", 6, 1),
            "ask_price": side_column("ask_price", 7, 0),
            "ask_size": side_column("ask_size", 7, 1),
            "mark_price": decimals("mark_price", [r[8] for r in rows]),
            "funding_rate": decimals("funding_rate", [r[9] for r in rows], True),
        },
        schema=schema.book_snapshots(depth),
    )
