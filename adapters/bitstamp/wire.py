"""Bitstamp wire contract: websocket API v2 and the REST order book and pairs list.

Written from (read 2026-12-07):

* websocket v2 (channels, events, ``bts:request_reconnect``, the diff-book bridge
  rule): https://www.bitstamp.net/websocket/v2/
* REST order book and trading pairs: https://www.bitstamp.net/api/ (``GET
  /api/v2/order_book/{pair}/``, ``GET /api/v2/trading-pairs-info/``)

Prices and sizes are decimal strings (a trade also sends them as JSON numbers; the
``_str`` twins are what is read). Times are decimal strings of epoch seconds
(``timestamp``) and microseconds (``microtimestamp``). Frozen structs, verbatim names.
"""

from __future__ import annotations

import msgspec

WS_DOC = "https://www.bitstamp.net/websocket/v2/"
API_DOC = "https://www.bitstamp.net/api/"

Level = tuple[str, str]  # [price, amount]; amount "0.00000000" removes the level


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """Every frame: ``{"event", "channel", "data"}``."""

    event: str  # "data", "trade", "bts:subscription_succeeded", "bts:request_reconnect", ...
    channel: str = ""  # "diff_order_book_btcusd", "live_trades_btcusd", "" for session events
    data: msgspec.Raw = msgspec.Raw()  # payload, decoded once the channel is known


class Book(msgspec.Struct, gc=False, frozen=True):
    """``diff_order_book_{pair}`` (changed levels) and ``order_book_{pair}`` (top 100)."""

    timestamp: str  # epoch seconds
    microtimestamp: str  # epoch microseconds: the only order the diff book has
    bids: list[Level]
    asks: list[Level]


class Trade(msgspec.Struct, gc=False, frozen=True):
    """``live_trades_{pair}``, event ``trade``; ``type`` 0 is a buy, 1 a sell (the taker's)."""

    id: int  # trade id
    timestamp: str  # epoch seconds
    amount: msgspec.Raw  # JSON number (the exact text is amount_str)
    amount_str: str
    price: msgspec.Raw  # JSON number (the exact text is price_str)
    price_str: str
    type: int  # 0 buy, 1 sell
    microtimestamp: str  # epoch microseconds
    buy_order_id: int
    sell_order_id: int


class ErrorData(msgspec.Struct, gc=False, frozen=True):
    """``bts:error`` payload."""

    message: str
    code: int | None = None


class RestBook(msgspec.Struct, gc=False, frozen=True):
    """``GET /api/v2/order_book/{pair}/``: the whole book (``microtimestamp`` sometimes absent)."""

    timestamp: str  # epoch seconds
    bids: list[Level]
    asks: list[Level]
    microtimestamp: str | None = None  # epoch microseconds


class Pair(msgspec.Struct, gc=False, frozen=True):
    """``GET /api/v2/trading-pairs-info/`` row."""

    name: str  # "BTC/USD"
    url_symbol: str  # "btcusd": the symbol of channels and REST paths
    base_decimals: int
    counter_decimals: int
    minimum_order: str
    trading: str  # "Enabled" / "Disabled"
    description: str
    instant_and_market_orders: str | None = None


envelope = msgspec.json.Decoder(Envelope)
book = msgspec.json.Decoder(Book)
trade = msgspec.json.Decoder(Trade)
error = msgspec.json.Decoder(ErrorData)
rest_book = msgspec.json.Decoder(RestBook)
pairs = msgspec.json.Decoder(list[Pair])
