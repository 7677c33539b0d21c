"""Arrow schemas of the normalized tables: the single source of truth.

Every table is written under a Hive layout ``table=<name>/exchange=<slug>/date=<YYYY-MM-DD>/``;
``exchange`` and ``date`` (UTC date of ``ts_recv``) live in the path, not in the
files, which is what pyarrow, DuckDB and Polars expect of Hive partitions.

Each field's ``doc`` metadata is the column's documentation; the README's schema
section is generated from it (``python -m collector.schema``).
"""

from __future__ import annotations

import pyarrow as pa

#: Exact decimal for every price and size: 20 integer digits, 18 fractional.
#: A value that does not fit is an error, never a rounding.
DECIMAL = pa.decimal128(38, 18)
#: Nanoseconds since the Unix epoch, UTC.
TIMESTAMP = pa.timestamp("ns", tz="UTC")
#: Low-cardinality text (symbols, sides, kinds) stored dictionary-encoded.
LABEL = pa.dictionary(pa.int32(), pa.string())

PARTITION_KEYS = ("exchange", "date")


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


_SYMBOL = _field("symbol", LABEL, "Native symbol exactly as the exchange writes it, e.g. BTCUSDT.")
_MARKET = _field(
    "market",
    LABEL,
    "Normalized market: BASE-QUOTE for spot, BASE-QUOTE-PERP for perpetuals, "
    "BASE-QUOTE-YYYYMMDD for dated futures.",
)
_TS_EXCHANGE = _field(
    "ts_exchange",
    TIMESTAMP,
    "Exchange event time (matching-engine time when the venue sends one); "
    "null when the message carries none. Never filled from ts_recv.",
    nullable=True,
)
_TS_RECV = _field("ts_recv", TIMESTAMP, "Local wall-clock time the frame was received, ns UTC.")

BOOK = pa.schema(
    [
        _SYMBOL,
        _MARKET,
        _TS_EXCHANGE,
        _TS_RECV,
        _field(
            "seq",
            pa.int64(),
            "Exchange update id of the message that produced the row "
            "(Binance: depth u, snapshot lastUpdateId).",
        ),
        _field(
            "apply_seq",
            pa.int64(),
            "Engine application order; strictly increasing per exchange and symbol "
            "across files and restarts. Rows of one message are consecutive.",
        ),
        _field(
            "is_snapshot",
            pa.bool_(),
            "True for the rows of a full snapshot: that group of rows replaces the book.",
        ),
        _field("side", LABEL, "bid or ask."),
        _field("price", DECIMAL, "Level price, exact as sent."),
        _field("size", DECIMAL, "New absolute size at that price, exact as sent; 0 deletes."),
    ]
)

TRADES = pa.schema(
    [
        _SYMBOL,
        _MARKET,
        _TS_EXCHANGE,
        _TS_RECV,
        _field("trade_id", pa.string(), "Exchange trade id (aggregate id for aggTrade)."),
        _field("side", LABEL, "Taker side: buy or sell."),
        _field("price", DECIMAL, "Trade price, exact as sent."),
        _field("size", DECIMAL, "Trade quantity in the venue's size unit, exact as sent."),
    ]
)

BBO = pa.schema(
    [
        _SYMBOL,
        _MARKET,
        _TS_EXCHANGE,
        _TS_RECV,
        _field(
            "seq",
            pa.int64(),
            "Book update id the quote was produced at, when the venue states one.",
            nullable=True,
        ),
        _field("bid_price", DECIMAL, "Best bid price as the exchange states it."),
        _field("bid_size", DECIMAL, "Size at the best bid."),
        _field("ask_price", DECIMAL, "Best ask price as the exchange states it."),
        _field("ask_size", DECIMAL, "Size at the best ask."),
    ]
)

QUALITY = pa.schema(
    [
        _field("symbol", LABEL, "Native symbol, null for connection-wide events.", nullable=True),
        _TS_RECV,
        _field(
            "kind",
            LABEL,
            "What happened: connect, disconnect, gap, resync, synced, snapshot_stale, "
            "duplicate, crossed_book, bbo_mismatch, checksum_mismatch, malformed, "
            "buffer_overflow, unsynced_at_end, exchange_error, drift, stale, rate_limited.",
        ),
        _field("detail", pa.string(), "Human-readable detail with the ids involved."),
        _field(
            "seq", pa.int64(), "Update id the event concerns, when there is one.", nullable=True
        ),
    ]
)

TABLES: dict[str, pa.Schema] = {"book": BOOK, "trades": TRADES, "bbo": BBO, "quality": QUALITY}


class ValueDoesNotFit(ValueError):
    """A price or size cannot be stored exactly as ``decimal128(38, 18)``."""

    def __init__(self, column: str, value: str) -> None:
        super().__init__(
            f"column {column!r}: value {value!r} does not fit decimal128(38, 18) exactly "
            "(at most 20 integer and 18 fractional digits); refusing to round it"
        )
        self.column = column
        self.value = value


def exact_decimals(column: str, texts: pa.Array | list[str]) -> pa.Array:
    """Convert decimal text to ``decimal128(38, 18)`` with no rounding.

    Arrow's cast refuses values that would lose digits; this turns its error into
    one that names the column and the offending value.
    """
    strings = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
    try:
        return strings.cast(DECIMAL)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for text in strings.to_pylist():
            try:
                pa.array([text], pa.string()).cast(DECIMAL)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ValueDoesNotFit(column, text) from None
        raise


def markdown_reference() -> str:
    """The schema as Markdown tables, for the README."""
    out: list[str] = []
    for name, schema in TABLES.items():
        out.append(f"#### `{name}`\n\n| column | type | meaning |\n|---|---|---|")
        for f in schema:
            doc = f.metadata[b"doc"].decode() if f.metadata else ""
            type_ = "string" if f.type == LABEL else str(f.type)
            null = " (nullable)" if f.nullable else ""
            out.append(f"| `{f.name}` | {type_}{null} | {doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown_reference())
