"""Arrow schemas of the normalized tables: the single source of truth.

Every table is written under a Hive layout ``table=<name>/exchange=<slug>/date=<YYYY-MM-DD>/``;
``exchange`` and ``date`` (UTC date of ``ts_recv``) live in the path, not in the
files, which is what pyarrow, DuckDB and Polars expect of Hive partitions.

Each field's ``doc`` metadata is the column's documentation; the README's schema
section is generated from it (``python -m collector.schema``).
"""

from __future__ import annotations

import re
from decimal import Context, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector import decimal_text
from collector.model import clip

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


def _number(name: str, doc: str, signed: bool = False) -> pa.Field:
    """A nullable exact decimal; ``signed`` ones (rates, greeks) may be negative."""
    field = _field(name, DECIMAL, doc + (" May be negative." if signed else ""), nullable=True)
    return field.with_metadata({**field.metadata, b"signed": b"1"}) if signed else field


def is_signed(field: pa.Field) -> bool:
    """Whether a decimal column accepts negative values (``_number(..., signed=True)``)."""
    return bool(field.metadata) and field.metadata.get(b"signed") == b"1"


_SYMBOL = _field(
    "symbol",
    LABEL,
    "Native symbol as the exchange writes it, e.g. BTCUSDT (Bybit: category:symbol).",
)
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
            "buffer_overflow, unsynced_at_end, exchange_error, drift, stale, rate_limited, "
            "truncated, corrupt_record (a damaged recording, in replay), write_error (a "
            "write failure episode began or ended), recovered (rows rebuilt by crash "
            "recovery).",
        ),
        _field("detail", pa.string(), "Human-readable detail with the ids involved."),
        _field(
            "seq", pa.int64(), "Update id the event concerns, when there is one.", nullable=True
        ),
    ]
)

_AS_SENT = "exact as sent; null when the message does not carry it (no merging across messages)."

DERIVATIVE_TICKER = pa.schema(
    [
        _SYMBOL,
        _MARKET,
        _TS_EXCHANGE,
        _TS_RECV,
        _number("mark_price", "Mark price, " + _AS_SENT),
        _number("index_price", "Index (spot reference) price, " + _AS_SENT),
        _number("last_price", "Last traded price, " + _AS_SENT),
        _number(
            "open_interest",
            "Open interest in the venue's unit (contracts or base currency, see the README), "
            + _AS_SENT,
        ),
        _number(
            "funding_rate",
            "Funding rate of the current period (paid at funding_time) as a fraction, " + _AS_SENT,
            signed=True,
        ),
        _number(
            "predicted_funding_rate",
            "The venue's estimate of the following period's rate, " + _AS_SENT,
            signed=True,
        ),
        _field(
            "funding_time",
            TIMESTAMP,
            "Time of the next funding, UTC; null when the message does not carry it.",
            nullable=True,
        ),
    ]
)

LIQUIDATIONS = pa.schema(
    [
        _SYMBOL,
        _MARKET,
        _TS_EXCHANGE,
        _TS_RECV,
        _field(
            "liquidation_id",
            pa.string(),
            "Exchange id of the liquidation (order or trade id), null where the venue has none.",
            nullable=True,
        ),
        _field(
            "side",
            LABEL,
            "Side of the liquidation order: buy closes a short position, sell a long one.",
        ),
        _field("price", DECIMAL, "Price of the liquidation order, exact as sent."),
        _field("size", DECIMAL, "Quantity in the venue's size unit, exact as sent."),
    ]
)

_IV = "implied volatility in the venue's unit (Deribit: percent; Bybit, OKX: fraction), "
OPTION_SUMMARY = pa.schema(
    [
        _SYMBOL,
        _MARKET,
        _TS_EXCHANGE,
        _TS_RECV,
        _field("option_type", LABEL, "call or put."),
        _field("strike", DECIMAL, "Strike price, exact as the venue states it."),
        _field("expiration", TIMESTAMP, "Expiry time of the option, UTC."),
        _number("best_bid_price", "Best bid price, " + _AS_SENT),
        _number("best_bid_size", "Size at the best bid, " + _AS_SENT),
        _number("best_bid_iv", "Best bid " + _IV + _AS_SENT),
        _number("best_ask_price", "Best ask price, " + _AS_SENT),
        _number("best_ask_size", "Size at the best ask, " + _AS_SENT),
        _number("best_ask_iv", "Best ask " + _IV + _AS_SENT),
        _number("mark_price", "Mark price (in the venue's premium currency), " + _AS_SENT),
        _number("mark_iv", "Mark " + _IV + _AS_SENT),
        _number("underlying_price", "Price of the underlying, " + _AS_SENT),
        _field(
            "underlying_index",
            LABEL,
            "Name of the underlying (index or future), null when not sent.",
            nullable=True,
        ),
        _number("delta", "Delta, " + _AS_SENT, signed=True),
        _number("gamma", "Gamma, " + _AS_SENT, signed=True),
        _number("vega", "Vega, " + _AS_SENT, signed=True),
        _number("theta", "Theta, " + _AS_SENT, signed=True),
        _number("rho", "Rho, " + _AS_SENT, signed=True),
        _number("open_interest", "Open interest in contracts, " + _AS_SENT),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "book": BOOK,
    "trades": TRADES,
    "bbo": BBO,
    "quality": QUALITY,
    "derivative_ticker": DERIVATIVE_TICKER,
    "liquidations": LIQUIDATIONS,
    "option_summary": OPTION_SUMMARY,
}

_SNAPSHOT_TABLE = re.compile(r"book_snapshots_(\d+)x(\d+)ms")


def snapshot_table(depth: int, interval_ms: int) -> str:
    """Name of the fixed-interval top-``depth`` sample table, e.g. ``book_snapshots_25x100ms``."""
    return f"book_snapshots_{depth}x{interval_ms}ms"


def book_snapshots(depth: int) -> pa.Schema:
    """Top-``depth`` book samples: the same fixed shape for every exchange.

    Each side is a fixed-size list of ``depth`` exact decimals, best first, null
    where the book has fewer levels: ``column.flatten()`` reshapes to a
    (rows, depth) matrix directly.
    """
    levels = pa.list_(DECIMAL, depth)
    side_doc = f"{depth} levels, best first; null where the book is shallower or unverified."
    return pa.schema(
        [
            _SYMBOL,
            _MARKET,
            _field(
                "ts_recv", TIMESTAMP, "Sample instant (local clock, ns UTC), on the interval grid."
            ),
            _field(
                "ts_exchange",
                TIMESTAMP,
                "Exchange time of the last update applied by then.",
                nullable=True,
            ),
            _field(
                "seq", pa.int64(), "Update id of the last update applied by then.", nullable=True
            ),
            _field(
                "verified",
                pa.bool_(),
                "True when the book was in sync (and checksum-verified where the venue has one).",
            ),
            _field("bid_price", levels, "Bid prices. " + side_doc),
            _field("bid_size", levels, "Bid sizes. " + side_doc),
            _field("ask_price", levels, "Ask prices. " + side_doc),
            _field("ask_size", levels, "Ask sizes. " + side_doc),
            _number(
                "mark_price",
                "The symbol's latest derivative_ticker mark price received at or before the "
                "instant, when [[book_snapshots]] with names it; else null.",
            ),
            _number(
                "funding_rate",
                "The symbol's latest funding rate received at or before the instant, when "
                "[[book_snapshots]] with names it; else null.",
                signed=True,
            ),
        ]
    )


def table_schema(name: str) -> pa.Schema:
    """The schema of table ``name``, including the ``book_snapshots_<N>x<I>ms`` family."""
    schema = TABLES.get(name)
    if schema is not None:
        return schema
    match = _SNAPSHOT_TABLE.fullmatch(name)
    if match is None:
        raise KeyError(name)
    return book_snapshots(int(match[1]))


class ValueDoesNotFit(ValueError):
    """A price or size cannot be stored exactly as ``decimal128(38, 18)``."""

    def __init__(self, column: str, value: str) -> None:
        super().__init__(
            f"column {column!r}: value {clip(repr(value))} does not fit decimal128(38, 18) exactly "
            "(at most 20 integer and 18 fractional digits); refusing to round it"
        )
        self.column = column
        self.value = value


#: Text Arrow's cast handles exactly: ASCII digits within decimal128(38, 18)'s range.
_PLAIN_DECIMAL = r"^(?:[0-9]{1,20}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})$"
_PLAIN_SIGNED = r"^-?(?:[0-9]{1,20}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})$"


#: Enough digits for any storable value (20 integer + 18 fractional), so quantizing is exact.
_STORABLE = Context(prec=40)
_ATTO = Decimal("1E-18")


def _plain_text(value: Decimal) -> str:
    """A value ``decimal_text.parse_exact`` accepted, as plain digits of bounded length."""
    return format(value.quantize(_ATTO, context=_STORABLE), "f")


def labels(values: list[str] | list[str | None]) -> pa.DictionaryArray:
    """A ``LABEL`` column: its dictionary holds the values in order of first appearance."""
    return pa.array(values, pa.string()).dictionary_encode()


def exact_decimals(
    column: str, texts: pa.Array | list[str | None], signed: bool = False
) -> pa.Array:
    """Convert decimal text to ``decimal128(38, 18)`` with no rounding and no overflow.

    Arrow's string cast refuses values that lose fractional digits, but silently
    wraps integers that overflow 128 bits (``"1" * 25`` becomes 8.9e19 in
    pyarrow 26). So every value is first matched, vectorised, against a pattern
    that is always in range; the rare others (exponents, long zero tails) are
    checked exactly in Python and their cast result compared with the exact value.
    """
    strings = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
    plain = pc.match_substring_regex(strings, _PLAIN_SIGNED if signed else _PLAIN_DECIMAL)
    others = pc.indices_nonzero(pc.invert(plain.fill_null(True))).to_pylist()  # nulls stay null
    expected = {}
    for i in others:
        text = strings[i].as_py()
        try:
            expected[i] = decimal_text.parse_exact(text, signed)
        except decimal_text.InvalidDecimalText:
            raise ValueDoesNotFit(column, text) from None
    if expected:
        # The rare rows go to Arrow as plain digits of their exact value: its parser
        # refuses some exact text it could store ("0E40" is zero).
        mask = np.zeros(len(strings), dtype=bool)
        mask[others] = True
        # Quantized first: "0E-9850105475" is an exact zero whose "f" text is 9.8 GB.
        values = pa.array([_plain_text(expected[i]) for i in others], pa.string())
        strings = pc.replace_with_mask(strings, pa.array(mask), values)
    try:
        result = strings.cast(DECIMAL)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueDoesNotFit(column, strings[others[0]].as_py() if others else "?") from None
    for i, value in expected.items():
        if result[i].as_py() != value:
            raise ValueDoesNotFit(column, strings[i].as_py())
    return result


def markdown_reference() -> str:
    """The schema as Markdown tables, for the README."""
    out: list[str] = []
    for name, schema in TABLES.items():
        out.append(f"#### `{name}`\n\n| column | type | meaning |\n|---|---|---|")
        for f in schema:
            doc = f.metadata[b"doc"].decode() if f.metadata else ""
            type_ = "dictionary<int32, string>" if f.type == LABEL else str(f.type)
            null = " (nullable)" if f.nullable else ""
            out.append(f"| `{f.name}` | {type_}{null} | {doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown_reference())
