"""Trades, bbo and derivative rows in the compiled core's column buffers, and their tables.

The reference (``collector.tables``) keeps a ``(message, market)`` tuple per row and
builds each column from those tuples when it drains. With the compiled core, each
row's values go straight into C buffers as it arrives (``_core.RowColumns``), so a
drain is a few buffer copies instead of a Python walk over every row: for a bbo
row that walk cost more than decoding its frame, and in the daemon it ran on the
event loop. The rows, the values and the rows dropped for text that cannot be
stored exactly are the reference's; the differential tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from collector import decimal_text, schema

#: The trades table's fixed ``side`` dictionary: 0 is a taker buy, 1 a taker sell.
TRADE_SIDES = pa.array(["buy", "sell"], pa.string())

#: Called with (symbol, ts_recv, why) for each row dropped because a value cannot be stored.
DroppedRow = Callable[[str, int, str], None]


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


def row_columns(core: Any, table: str) -> Any:
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
            refused[row] = _reason(text, schema.is_signed(field), exc)
        else:
            patches.setdefault(column, []).append((row, value.buffers()[1].to_pybytes()[:16]))
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
    kept = built.filter(pa.array(keep))
    if not kept.num_rows:
        return None
    # The reference builds its label dictionaries from the kept rows alone.
    for c, field in enumerate(shape):
        if rows.kinds[c] == ord("L"):
            values = kept.column(c).to_pylist()
            kept = kept.set_column(c, field, pa.array(values, pa.string()).dictionary_encode())
    return kept


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
    valid = None if validity is None else pa.py_buffer(validity)
    if patches:
        cells = bytearray(data)  # type: ignore[arg-type]
        for row, value in patches:
            cells[16 * row : 16 * row + 16] = value
        data = bytes(cells)
    buffers = [valid, pa.py_buffer(data)]
    if kind == ord("L"):
        indices = pa.Array.from_buffers(pa.int32(), length, buffers)
        return pa.DictionaryArray.from_arrays(indices, pa.array(extra, pa.string()))
    if kind == ord("B"):
        return pa.DictionaryArray.from_arrays(
            pa.Array.from_buffers(pa.int32(), length, buffers), TRADE_SIDES
        )
    return pa.Array.from_buffers(field.type, length, buffers)


def _reason(text: Any, signed: bool, refusal: Exception) -> str:
    """Why a value was refused, in the words the reference's row check uses."""
    try:
        decimal_text.check(text, signed)
    except decimal_text.InvalidDecimalText as exc:
        return str(exc)
    return str(refusal)
