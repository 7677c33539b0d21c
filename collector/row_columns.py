"""Rows in the compiled core's column buffers, and their Arrow tables.

The reference (``collector.tables``) keeps a ``(message, market)`` tuple per trade,
quote or derivative row, and each book message's level lists, and builds every
column from them when it drains. With the compiled core, each row's values go
straight into C buffers as it arrives (``_core.RowColumns``, ``_core.BookRows``), so
a drain is a few buffer copies instead of a Python walk over every row: for a bbo
row that walk cost more than decoding its frame, and in the daemon it ran on the
event loop. The rows, the values and the rows dropped for text that cannot be
stored exactly are the reference's; the differential tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from collector import decimal_text, schema

#: The trades table's fixed ``side`` dictionary: 0 is a taker buy, 1 a taker sell.
TRADE_SIDES = pa.array(["buy", "sell"], pa.string())

#: The book table's fixed ``side`` dictionary.
BOOK_SIDES = pa.array(["bid", "ask"], pa.string())

#: Called with (symbol, ts_recv, why) for each row dropped because a value cannot be stored.
DroppedRow = Callable[[str, int, str], None]
#: Called with (symbol, ts_recv, seq, why, rows dropped) for each symbol whose book rows
#: were dropped from a message with a value that cannot be stored (``tables.BadBookHandler``).
DroppedBook = Callable[[str, int, int, str, int], None]


def kinds(table: str) -> bytes:
    """``RowColumns``' column kinds for one of ``schema.TABLES``, column by column."""
    out = []
    for field in schema.TABLES[table]:
        if table == "trades" and field.name == "side":
            out.append("B")
        elif field.type == schema.LABEL:
            out.append("L")
        elif field.type in (schema.TIMESTAMP, pa.int64()):
            out.append("I")
        elif field.type == schema.DECIMAL:
            out.append("d" if schema.is_signed(field) else "D")
        else:
            out.append("O")
    return "".join(out).encode()


def buffers(core: Any, table: str) -> Any:
    """Empty column buffers for ``table``'s rows."""
    return core.RowColumns(tuple(schema.TABLES[table].names), kinds(table))


def table(name: str, rows: Any, dropped: DroppedRow) -> pa.Table | None:
    """The Arrow table of buffered ``rows`` (None when no row is left).

    A decimal text the buffers did not take as plain is converted by
    ``schema.exact_decimals``, as the reference converts it; a row with one it
    refuses is dropped and reported to ``dropped`` with ``decimal_text.check``'s
    reason for its first such value, in row order.
    """
    if not len(rows):
        return None
    shape: pa.Schema = schema.TABLES[name]
    patches: dict[int, list[tuple[int, bytes]]] = {}
    refused: dict[int, str] = {}
    for row, column, text in rows.odd:  # in row order, then column order
        if row in refused:
            continue
        field = shape.field(column)
        try:
            value = schema.exact_decimals(field.name, [text], schema.is_signed(field))
        except (schema.ValueDoesNotFit, pa.ArrowInvalid) as exc:
            refused[row] = _reason([text], exc, schema.is_signed(field))
        else:
            patches.setdefault(column, []).append((row, _cells(value)))
    arrays = [
        _array(field, rows.kinds[c], rows.rows, *rows.column(c), patches.get(c, ()))
        for c, field in enumerate(shape)
    ]
    built = pa.Table.from_arrays(arrays, schema=shape)
    if not refused:
        return built
    symbols = built.column("symbol")
    times = built.column("ts_recv").cast(pa.int64())
    for row, why in sorted(refused.items()):
        dropped(symbols[row].as_py(), times[row].as_py(), why)
    keep = np.ones(rows.rows, dtype=bool)
    keep[list(refused)] = False
    labels = tuple(field.name for c, field in enumerate(shape) if rows.kinds[c] == ord("L"))
    return _relabelled(built.filter(pa.array(keep)), labels)


def _array(
    field: pa.Field,
    kind: int,
    length: int,
    data: bytes | None,
    validity: bytes | None,
    extra: list[Any] | None,
    patches: Any,
) -> pa.Array:
    if kind == ord("O"):
        return pa.array(extra, field.type)
    if patches:
        cells = bytearray(data)  # type: ignore[arg-type]
        for row, value in patches:
            cells[16 * row : 16 * row + 16] = value
        data = cells
    if kind == ord("L"):
        indices = buffer_array(pa.int32(), length, data, validity)  # type: ignore[arg-type]
        return pa.DictionaryArray.from_arrays(indices, pa.array(extra, pa.string()))
    if kind == ord("B"):
        indices = buffer_array(pa.int32(), length, data, validity)  # type: ignore[arg-type]
        return pa.DictionaryArray.from_arrays(indices, TRADE_SIDES)
    return buffer_array(field.type, length, data, validity)  # type: ignore[arg-type]


def _reason(texts: Iterable[Any], refusal: Exception, signed: bool = False) -> str:
    """Why values were refused, in the words of the reference's check: the first of
    ``texts`` it refuses, or ``refusal`` itself if it takes them all."""
    try:
        for text in texts:
            decimal_text.check(text, signed)
    except decimal_text.InvalidDecimalText as exc:
        return str(exc)
    return str(refusal)


def _cells(decimals: pa.Array) -> bytes:
    """The decimal128 bytes of a fresh ``exact_decimals`` array, 16 a value."""
    return decimals.buffers()[1].to_pybytes()[: 16 * len(decimals)]


def book_table(rows: Any, dropped: DroppedBook) -> pa.Table | None:
    """The book table of buffered ``BookRows`` (None when no row is left).

    As the reference's ``drop_invalid``: a message with a price or size that
    ``schema.exact_decimals`` refuses is dropped with every later row of its symbol
    (its book is wrong from there on), reported once per symbol with
    ``decimal_text.check``'s reason for its first such text.
    """
    n = rows.rows
    if not n:
        return None
    columns = rows.columns()
    price, size = columns["price"][0], columns["size"][0]
    bad: dict[str, tuple[int, int, int, str]] = {}  # symbol -> (first row, ts_recv, seq, why)
    if rows.odd:
        price, size = bytearray(price), bytearray(size)
        for first, symbol, ts_recv, seq, bids, asks in rows.odd:
            if symbol in bad:
                continue
            levels = [*bids, *asks]
            try:
                prices = schema.exact_decimals("price", [p for p, _ in levels])
                sizes = schema.exact_decimals("size", [s for _, s in levels])
            except (schema.ValueDoesNotFit, pa.ArrowInvalid) as exc:
                bad[symbol] = (first, ts_recv, seq, _reason(chain.from_iterable(levels), exc))
                continue
            cells = slice(16 * first, 16 * (first + len(levels)))
            price[cells], size[cells] = _cells(prices), _cells(sizes)
    arrays = {
        "price": buffer_array(schema.DECIMAL, n, price, None),
        "size": buffer_array(schema.DECIMAL, n, size, None),
    }
    for name, values in (("symbol", "symbol_values"), ("market", "market_values")):
        indices = buffer_array(pa.int32(), n, *columns[name])
        arrays[name] = pa.DictionaryArray.from_arrays(
            indices, pa.array(columns[values], pa.string())
        )
    sides = buffer_array(pa.int32(), n, *columns["side"])
    arrays["side"] = pa.DictionaryArray.from_arrays(sides, BOOK_SIDES)
    for name in ("ts_exchange", "ts_recv", "seq", "apply_seq", "is_snapshot"):
        arrays[name] = buffer_array(schema.BOOK.field(name).type, n, *columns[name])
    built = pa.Table.from_arrays([arrays[name] for name in schema.BOOK.names], schema=schema.BOOK)
    if not bad:
        return built
    symbol_of_row = np.frombuffer(columns["symbol"][0], np.int32)
    index_of = {symbol: i for i, symbol in enumerate(columns["symbol_values"])}
    keep = np.ones(n, dtype=bool)
    for symbol, (first, ts_recv, seq, why) in bad.items():
        drop = symbol_of_row == index_of[symbol]
        drop[:first] = False
        keep &= ~drop
        dropped(symbol, ts_recv, seq, why, int(drop.sum()))
    return _relabelled(built.filter(pa.array(keep)), ("symbol", "market"))


def buffer_array(
    type_: pa.DataType, length: int, data: bytes | bytearray, validity: bytes | None
) -> pa.Array:
    """An Arrow array over the core's bytes: ``data``, and a validity bitmap or None."""
    valid = None if validity is None else pa.py_buffer(validity)
    return pa.Array.from_buffers(type_, length, [valid, pa.py_buffer(data)])


def _relabelled(kept: pa.Table, labels: tuple[str, ...]) -> pa.Table | None:
    """``kept`` with its label dictionaries rebuilt from its own rows, in order of first
    appearance, as the reference builds them from the rows it keeps; None if empty."""
    if not kept.num_rows:
        return None
    for name in labels:
        i = kept.schema.get_field_index(name)
        values = kept.column(i).to_pylist()
        kept = kept.set_column(i, kept.schema.field(i), schema.labels(values))
    return kept
