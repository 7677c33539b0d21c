"""Poloniex spot wire contract: public websocket v3 and the markets list.

Written from api-docs.poloniex.com (read 2026-12-07):

* websocket basics, ping: https://api-docs.poloniex.com/spot/websocket/
* ``book_lv2``, ``trades``: https://api-docs.poloniex.com/spot/websocket/market-data
* markets: https://api-docs.poloniex.com/spot/api/public/reference-data (``GET /markets``)

The 2022 recording and today's documentation (and a 2026 capture of the live stream
quoted in the unit tests) carry the same shapes, so one set of structs decodes both.
Prices and sizes are JSON strings, kept as text. Frozen structs, verbatim names.
"""

from __future__ import annotations

from typing import Literal

import msgspec

WS_DOC = "https://api-docs.poloniex.com/spot/websocket/"
MARKET_DATA_DOC = WS_DOC + "market-data"
MARKETS_DOC = "https://api-docs.poloniex.com/spot/api/public/reference-data"

Level = tuple[str, str]  # [price, quantity]; quantity "0" removes the level


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """Every frame: a push (``channel`` + ``data``) or an event (subscribe, pong, error)."""

    channel: str | None = None  # "book_lv2", "book", "trades"
    data: msgspec.Raw = msgspec.Raw()  # push payload: a list of rows
    action: Literal["snapshot", "update"] | None = None  # book_lv2 only
    event: str | None = None  # "subscribe", "unsubscribe", "pong", "error"
    symbols: list[str] | None = None  # subscribe echo
    message: str | None = None  # error text


class Book(msgspec.Struct, gc=False, frozen=True):
    """``book_lv2`` row: top-20 snapshot, then updates whose ``lastId`` is the previous ``id``."""

    symbol: str
    createTime: int  # ms, time of the book change
    asks: list[Level]
    bids: list[Level]
    lastId: int  # id of the previous message of this symbol
    id: int  # id of this message
    ts: int  # ms, push time


class BookTop(msgspec.Struct, gc=False, frozen=True):
    """``book`` row: the top 5 levels (``depth`` 5, 10 or 20), a whole snapshot each push."""

    symbol: str
    createTime: int  # ms, time of the book
    asks: list[Level]
    bids: list[Level]
    id: int  # id of this book version
    ts: int  # ms, push time


class Trade(msgspec.Struct, gc=False, frozen=True):
    """``trades`` row; ``takerSide`` is the taker's side."""

    symbol: str
    amount: str  # quote amount
    quantity: str  # base quantity
    takerSide: Literal["buy", "sell"]
    createTime: int  # ms, trade time
    price: str
    id: str  # trade id
    ts: int  # ms, push time


class SymbolTradeLimit(msgspec.Struct, gc=False, frozen=True):
    symbol: str
    priceScale: int
    quantityScale: int
    amountScale: int
    minQuantity: str
    minAmount: str
    highestBid: str | None = None
    lowestAsk: str | None = None


class Market(msgspec.Struct, gc=False, frozen=True):
    """``GET /markets`` row."""

    symbol: str  # "BTC_USDT"
    baseCurrencyName: str
    quoteCurrencyName: str
    displayName: str
    state: str  # "NORMAL", "PAUSE", "OFFLINE", ...
    visibleStartTime: int
    tradableStartTime: int
    symbolTradeLimit: SymbolTradeLimit
    crossMargin: msgspec.Raw = msgspec.Raw()  # today's list: margin terms (not read)


envelope = msgspec.json.Decoder(Envelope)
books = msgspec.json.Decoder(list[Book])
tops = msgspec.json.Decoder(list[BookTop])
trades = msgspec.json.Decoder(list[Trade])
markets = msgspec.json.Decoder(list[Market])
