"""Kraken spot WebSocket (v1 and v2) and REST ``AssetPairs``: the wire contract.

Field names stay verbatim. v1 public data frames are JSON arrays
``[channelID, payload..., channelName, pair]`` whose payloads are decoded with
the structs below once the channel name (second to last element) is known; v1
events and every v2 message are JSON objects, read through ``Envelope``.

v2 sends prices and quantities as JSON numbers "with full precision"; they are
typed ``msgspec.Raw`` so the exact number text is kept (never a float).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from collector import wire_time
from collector.json_numbers import json_decimal

# --- objects: v1 events, v2 channel messages and method responses -----------------


class Envelope(msgspec.Struct, gc=False):
    """Any JSON object Kraken sends on ws.kraken.com (v1) or ws.kraken.com/v2.

    v1 events (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/heartbeat,
    ``systemStatus``, ``subscriptionStatus``, ``pong``, ``error``) carry ``event``;
    v2 channel messages (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book,
    ``trade``, ``ticker``, ``instrument``, ``status``, ``heartbeat``) carry
    ``channel``; v2 method responses (``subscribe``, ``unsubscribe``, ``pong``;
    https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/ping) carry ``method``.
    """

    # v1
    event: str | None = None  # heartbeat | systemStatus | subscriptionStatus | pong | error
    status: str | None = None  # systemStatus: online/maintenance/...; subscriptionStatus: ...
    pair: str | None = None  # subscriptionStatus: the pair, v1 spelling (XBT/USD)
    channelName: str | None = None  # subscriptionStatus: e.g. book-1000, trade, ticker
    errorMessage: str | None = None  # subscriptionStatus/error: why it failed
    # v2
    channel: str | None = None  # book | trade | ticker | instrument | status | heartbeat | ...
    type: str | None = None  # snapshot | update
    data: msgspec.Raw = msgspec.Raw()  # channel payload, decoded once the channel is known
    method: str | None = None  # subscribe | unsubscribe | pong | ...
    success: bool | None = None  # method response: processed or not
    result: msgspec.Raw = msgspec.Raw()  # method response: what was subscribed
    error: str | None = None  # method response: why it failed (success false)
    symbol: str | None = None  # method response: the symbol an error concerns
    # "Exceeded msg rate" notices (https://docs.kraken.com/exchange/guides/general/ratelimits)
    Error: str | None = None


class V2Result(msgspec.Struct, gc=False):
    """``result`` of a v2 subscribe/unsubscribe ack (one per symbol).

    https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book#subscribe-request
    """

    channel: str | None = None
    symbol: str | None = None
    depth: int | None = None  # book: levels per side the venue keeps the book at
    snapshot: bool | None = None
    warnings: list[str] | None = None  # deprecations announced by the venue


class V2Level(msgspec.Struct, gc=False):
    """One book level: JSON numbers at full precision.

    https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book
    """

    price: msgspec.Raw
    qty: msgspec.Raw  # absolute; 0 deletes the level


class V2Book(msgspec.Struct, gc=False):
    """``book`` snapshot/update element:
    https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book.

    ``checksum``: CRC32 of the top 10 levels after this message, on snapshots and
    updates (https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2).
    """

    symbol: str  # BTC/USD
    checksum: int
    bids: list[V2Level] = []
    asks: list[V2Level] = []
    timestamp: str | None = None  # RFC3339, microseconds


class V2Trade(msgspec.Struct, gc=False):
    """``trade`` element: https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade."""

    symbol: str
    side: str  # taker side: buy | sell
    price: msgspec.Raw
    qty: msgspec.Raw
    ord_type: str  # taker order type: market | limit
    trade_id: int  # per book, sequential
    timestamp: str  # RFC3339


class V2Ticker(msgspec.Struct, gc=False):
    """``ticker`` element (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/ticker).

    Subscribed with ``event_trigger: "bbo"`` it is published on every change of
    the best bid/offer; other fields (last, volume, vwap, ...) are not stored.
    """

    symbol: str
    bid: msgspec.Raw
    bid_qty: msgspec.Raw
    ask: msgspec.Raw
    ask_qty: msgspec.Raw
    timestamp: str | None = None  # RFC3339 (added 2025; absent on older servers)


class V2Pair(msgspec.Struct, gc=False):
    """``instrument`` pair.

    https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/instrument
    """

    symbol: str  # BTC/USD
    base: str
    quote: str
    price_precision: int  # decimals the book checksum renders prices with
    qty_precision: int  # decimals the book checksum renders quantities with


class V2Instruments(msgspec.Struct, gc=False):
    """``instrument`` ``data``: one object with the asset and pair catalogues."""

    pairs: list[V2Pair] = []


class V2Status(msgspec.Struct, gc=False):
    """``status`` element:
    https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/status."""

    system: str  # online | maintenance | cancel_only | post_only
    version: str | None = None
    connection_id: int | None = None


# --- v1 array payloads -----------------------------------------------------------


class V1Book(msgspec.Struct, gc=False):
    """v1 ``book-N`` payload: https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/book.

    Levels are ``[price, volume, timestamp]`` strings at the pair's fixed
    decimals, plus a 4th element ``"r"`` on a level re-published to refill the
    subscribed depth. An update may be split in an ``a`` dict and a ``b`` dict;
    ``c`` (CRC32 as a decimal string) sits in the last one and is never sent on
    snapshots (https://docs.kraken.com/exchange/guides/websockets/book-checksum-v1).
    A payload may also be ``null``, carrying nothing: 2019 servers sent snapshots as
    ``[channelID, {"as": ..., "bs": ...}, null, "book-1000", pair]``.
    """

    as_: list[list[str]] | None = msgspec.field(default=None, name="as")  # snapshot asks
    bs: list[list[str]] | None = None  # snapshot bids
    a: list[list[str]] | None = None  # ask updates
    b: list[list[str]] | None = None  # bid updates
    c: str | None = None  # checksum


#: v1 ``trade``: ``[price, volume, time, side b/s (taker), orderType m/l, misc]``
#: (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/trade). No trade id is sent.
V1Trades = list[tuple[str, str, str, str, str, str]]


class V1Ticker(msgspec.Struct, gc=False):
    """v1 ``ticker`` (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/ticker).

    ``a``/``b``: ``[price, wholeLotVolume, lotVolume]``; published on trades, so
    the best bid/ask it states may be older than the book.
    """

    a: tuple[str, int | str, str]
    b: tuple[str, int | str, str]


#: v1 ``spread``: ``[bid, ask, timestamp, bidVolume, askVolume]``
#: (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/spread).
V1Spread = tuple[str, str, str, str, str]


# --- REST ---------------------------------------------------------------------------


class RestPair(msgspec.Struct, gc=False):
    """One ``GET /0/public/AssetPairs`` entry.

    https://docs.kraken.com/api-reference/market-data/get-tradable-asset-pairs
    """

    altname: str  # XBTUSD
    wsname: str | None = None  # XBT/USD: the v1 WebSocket name
    pair_decimals: int | None = None  # price decimals
    lot_decimals: int | None = None  # volume decimals


class RestAssetPairs(msgspec.Struct, gc=False):
    error: list[str]
    result: dict[str, RestPair] = {}


# --- wire text -> exact values ------------------------------------------------------


class Malformed(ValueError):
    """A known message whose content breaks the contract (bad number, level, checksum)."""


_V1_SIDES = {"b": "buy", "s": "sell"}  # v1 trade side: the taker's (b = buy, s = sell)


def v1_side(side: str) -> str:
    try:
        return _V1_SIDES[side]
    except KeyError:
        raise Malformed(f"trade side {side!r}") from None


def v1_level(level: list[str]) -> list[str]:
    """``[price, volume, timestamp]`` or ``[..., "r"]`` (re-published): checked, unchanged."""
    if len(level) not in (3, 4) or (len(level) == 4 and level[3] != "r"):
        raise Malformed(f"book level {level!r}")
    return level


def v2_level(level: V2Level) -> tuple[str, str]:
    return json_decimal(level.price), json_decimal(level.qty)


def at_precision(text: str, decimals: int) -> str:
    """``text`` with exactly ``decimals`` decimals, as the venue renders it for checksums."""
    value = Decimal(text)
    fixed = value.quantize(Decimal(1).scaleb(-decimals))
    if fixed != value:
        raise Malformed(f"{text} has more than {decimals} decimals")
    return format(fixed, "f")


def seconds_ns(text: str) -> int:
    """v1 time ``"1618678133.537477"`` (seconds) in ns, exactly."""
    try:
        return int(Decimal(text).scaleb(9))
    except (InvalidOperation, ValueError):
        raise Malformed(f"time {text!r}") from None


def rfc3339_ns(text: str | None) -> int | None:
    """v2 time ``"2023-10-06T17:35:55.440295Z"`` in ns, exactly; None when absent."""
    return None if text is None else wire_time.rfc3339_ns(text)
