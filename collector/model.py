"""Normalized messages: what every adapter's ``decode`` returns.

Rules that hold for every message here:

* Prices and sizes are the exchange's own decimal text, untouched. They become
  exact ``decimal128`` only when a table is written, so no float or re-rendered
  ``Decimal`` ever sits between the wire and Parquet.
* ``ts_recv`` is the local wall clock at frame receipt, ns since the Unix epoch
  (UTC). ``ts_exchange`` is the exchange's own event time in ns, or ``None`` when
  the message has none; it is never filled in from ``ts_recv``.
* ``symbol`` is the exchange's native symbol exactly as it writes it (``BTCUSDT``).

The structs are frozen and tagged so they round-trip through msgpack.
"""

from __future__ import annotations

import msgspec

#: One price level as received: ``(price_text, size_text)``. Size is absolute; a
#: size that is numerically zero deletes the level.
Level = tuple[str, str] | list[str]


class BookDelta(msgspec.Struct, frozen=True, tag=True, gc=False):
    """An incremental book update carrying the exchange's update-id range.

    ``first_id``/``last_id`` are the first and last update ids the message covers
    (Binance ``U``/``u``); ``prev_id`` is the last id of the previous message on
    venues that send it (Binance futures ``pu``), else ``None``. Venues without
    update ids number their book messages per symbol themselves (the adapter's
    ``sequence_rule`` then checks nothing).

    ``bids``/``asks`` may leave the adapter as ``msgspec.Raw``, a JSON array of
    ``[price, size]`` string pairs: the pipeline reads them before anything else
    sees the delta (``collector.levels``).

    ``checksum`` is the venue's checksum of the book after this update, when it
    sends one; ``depth`` is the depth the venue maintains the book at (levels
    pushed out of it are deleted without a message, Kraken), else ``None``.
    """

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    first_id: int
    last_id: int
    prev_id: int | None
    bids: list[Level]
    asks: list[Level]
    checksum: int | None = None
    depth: int | None = None


class BookSnapshot(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A full book (to the depth the venue returns) valid as of ``last_id``.

    ``in_band`` snapshots arrive on the stream itself (Kraken, OKX, Bybit, ...):
    each one replaces the book at once and needs no bridging delta, and a venue
    that only ever sends snapshots (``books5``, ``@depth20``) simply sends one per
    message. REST snapshots (``in_band=False``) must be bridged by a delta first.
    ``checksum`` and ``depth`` mean what they mean on ``BookDelta``.
    """

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    last_id: int
    bids: list[Level]
    asks: list[Level]
    in_band: bool = False
    checksum: int | None = None
    depth: int | None = None


class Trade(msgspec.Struct, frozen=True, tag=True, gc=False):
    """One trade. ``side`` is the taker's side, ``"buy"`` or ``"sell"``."""

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    trade_id: str
    side: str
    price: str
    size: str


class BestBidAsk(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Top of book as the exchange states it, optionally tied to a book update id.

    When ``seq`` names the book update it was produced at, the engine compares it
    with its own rebuilt book: an exchange-side oracle for book correctness.
    """

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    seq: int | None
    bid_price: str
    bid_size: str
    ask_price: str
    ask_size: str


class DerivativeTicker(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A derivative contract's state as one message states it: mark, index, funding...

    Every field the message does not carry is ``None``; nothing is carried over
    from an earlier message (the venue's deltas stay deltas, the reader can
    forward-fill). Numbers are the exchange's decimal text; ``funding_time`` (the
    next funding) is ns since the epoch.
    """

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    mark_price: str | None = None
    index_price: str | None = None
    last_price: str | None = None
    open_interest: str | None = None
    funding_rate: str | None = None
    predicted_funding_rate: str | None = None
    funding_time: int | None = None

    def has_data(self) -> bool:
        """Whether any value is set: a message with none of them gives no row."""
        return any(
            v is not None
            for v in (
                self.mark_price,
                self.index_price,
                self.last_price,
                self.open_interest,
                self.funding_rate,
                self.predicted_funding_rate,
                self.funding_time,
            )
        )


class Liquidation(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A forced order. ``side`` is that order's side: ``"buy"`` closes a short position."""

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    liquidation_id: str | None
    side: str
    price: str
    size: str


class OptionSummary(msgspec.Struct, frozen=True, tag=True, gc=False):
    """One option ticker message: quotes, implied volatilities and greeks as sent.

    ``option_type`` is ``"call"`` or ``"put"``; ``expiration`` is ns since the
    epoch; every number is the exchange's decimal text, ``None`` where the venue
    does not send it (implied volatilities in the venue's own unit, see the README).
    """

    symbol: str
    ts_exchange: int | None
    ts_recv: int
    option_type: str
    strike: str
    expiration: int
    best_bid_price: str | None = None
    best_bid_size: str | None = None
    best_bid_iv: str | None = None
    best_ask_price: str | None = None
    best_ask_size: str | None = None
    best_ask_iv: str | None = None
    mark_price: str | None = None
    mark_iv: str | None = None
    underlying_price: str | None = None
    underlying_index: str | None = None
    delta: str | None = None
    gamma: str | None = None
    vega: str | None = None
    theta: str | None = None
    rho: str | None = None
    open_interest: str | None = None


class BookInvalid(msgspec.Struct, frozen=True, tag=True, gc=False):
    """The adapter knows a symbol's book missed data the engine cannot see.

    For venues whose sequence numbers are per connection (Coinbase
    ``sequence_num``, Bitfinex ``SEQ_ALL``) a gap is found while decoding, not
    per symbol: the adapter names every symbol of that connection this way.
    """

    symbol: str
    ts_recv: int
    reason: str


class Control(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A frame that is understood but carries no market data.

    ``kind`` is one of ``ack`` (subscription confirmed), ``heartbeat``,
    ``ignored`` (a known channel this project does not store, e.g. klines),
    ``error`` (the venue reports an error), ``shutdown`` (the venue announces
    it will close the connection; reconnect now) or ``reply`` (the venue asked
    for an answer on the frame's own connection, e.g. a pong to its ping:
    ``detail`` is the text to send; see ``collector.pipeline``).
    """

    kind: str
    ts_recv: int
    detail: str = ""
    symbol: str | None = None  # when the frame concerns one symbol (e.g. a refused snapshot)


class DecodeFailed(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A frame the adapter could not decode: malformed, or an unknown shape.

    A peer's bad frame is data, not an exception: the pipeline counts it, logs
    the first of each ``reason`` with ``sample`` and writes a quality event.
    """

    reason: str
    ts_recv: int
    sample: str
    unknown: bool = False


#: Characters of peer-supplied text a quality ``detail`` or a log sample keeps.
TEXT_LIMIT = 300
#: Longest ``quality.detail``: room for the project's own words around a clipped quote.
DETAIL_LIMIT = 1000


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, stating the original length when it was cut.

    Details and samples quote what a peer sent, and a peer can send anything: a
    50 MB price must not become a 50 MB Parquet cell or log line. The stated
    length keeps the fact that the value was huge, which is often the finding.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text)} chars)"


def sample(frame: str | bytes | msgspec.Raw, limit: int = 200) -> str:
    """The start of a frame as text, for ``DecodeFailed.sample`` and error details.

    Frames arrive as ``str`` or ``bytes`` (and sub-frames as ``msgspec.Raw``); bytes
    that are not UTF-8 are shown with replacement characters rather than failing,
    because the frame being reported is by definition one that did not decode.
    Only the first ``4 * limit`` bytes of a long frame are decoded: a huge one is not copied.
    """
    if isinstance(frame, str):
        return clip(frame, limit)
    raw = memoryview(frame)
    if raw.nbytes <= 4 * limit:
        return clip(bytes(raw).decode("utf-8", "replace"), limit)
    head = bytes(raw[: 4 * limit]).decode("utf-8", "replace")
    return f"{head[:limit]}…({raw.nbytes} bytes)"


Message = (
    BookDelta
    | BookSnapshot
    | BookInvalid
    | Trade
    | BestBidAsk
    | DerivativeTicker
    | Liquidation
    | OptionSummary
    | Control
    | DecodeFailed
)


class QualityEvent(msgspec.Struct, frozen=True, gc=False):
    """A data-quality fact, written to the ``quality`` table.

    ``kind`` names what happened (see ``QualityKind``); ``detail`` says it in
    words a person can act on, including the ids involved.
    """

    symbol: str | None
    ts_recv: int
    kind: str
    detail: str
    seq: int | None = None

    def __post_init__(self) -> None:
        # The one place every detail passes: whatever a caller quoted, the cell stays small.
        if len(self.detail) > DETAIL_LIMIT:
            msgspec.structs.force_setattr(self, "detail", clip(self.detail, DETAIL_LIMIT))


#: The close reason of a connection the collector shut down itself (a stop, not a loss):
#: its ``disconnect`` quality event reads "connection N closed: stopped", which the quality
#: report counts as an orderly shutdown rather than an outage.
ORDERLY_CLOSE = "stopped"


class QualityKind:
    """The ``quality.kind`` vocabulary."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    GAP = "gap"
    RESYNC = "resync"
    SYNCED = "synced"
    SNAPSHOT_STALE = "snapshot_stale"
    DUPLICATE = "duplicate"
    CROSSED_BOOK = "crossed_book"
    BBO_MISMATCH = "bbo_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MALFORMED = "malformed"
    #: A recording ends inside its gzip stream / holds a bad record (replay stops there).
    TRUNCATED = "truncated"
    CORRUPT_RECORD = "corrupt_record"
    BUFFER_OVERFLOW = "buffer_overflow"
    UNSYNCED_AT_END = "unsynced_at_end"
    EXCHANGE_ERROR = "exchange_error"
    DRIFT = "drift"
    STALE = "stale"
    RATE_LIMITED = "rate_limited"
    #: A write failure episode of the daemon began or ended (target, path, errno).
    WRITE_ERROR = "write_error"
    #: Rows of a crashed run were rebuilt from its capture (``collector.recover``).
    RECOVERED = "recovered"
