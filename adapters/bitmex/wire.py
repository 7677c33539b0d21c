"""BitMEX realtime websocket and instrument REST wire contract, as msgspec structs.

Written from (checked 2026-11-28 against stored copies):

* https://www.bitmex.com/app/wsAPI ("pub/sub API with table diffing": ``partial``
  snapshot with ``keys``, then ``insert``/``update``/``delete`` rows matched by those
  keys; subscriptions ``{"op": "subscribe", "args": [...]}``; answered by
  ``{"success": true, "subscribe": ...}`` or ``{"status", "error", "request"}``;
  heartbeating with the text ``ping``, answered by ``pong``);
* topic list ``https://www.bitmex.com/api/v1/schema/websocketHelp`` (``orderBookL2``
  full book, ``orderBookL2_25`` top 25, ``quote`` top of book, ``trade`` live trades);
* blog.bitmex.com "Important Update: WebSocket OrderBook Throttling" (2023-09-19):
  book rows are conflated at 50 ms. The row fields changed earlier: a ``timestamp``
  on every L2 row since 2022-02-14, ``price`` on every action (not only
  partial/insert) since mid-2023; before that ``update``/``delete`` rows carried no
  price (the 2021 recording), so the adapter remembers each level id's price;
* ``GET /api/v1/instrument/active`` (REST explorer, fields as recorded in 2021);
* ``instrument`` and ``liquidation`` topics (websocketHelp; field meanings from the
  REST explorer's Instrument and Liquidation models, https://www.bitmex.com/api/explorer/).

BitMEX writes prices and sizes as JSON numbers (``0.00001814``, ``1e-8``); they are
typed ``msgspec.Raw`` so the exact text survives (``collector.decimal_text.json_number``
makes it plain text).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Raw


class Filter(msgspec.Struct, gc=False):
    symbol: str | None = None


class Envelope(msgspec.Struct, gc=False):
    """Every JSON frame: table data, a subscription reply, an error or the welcome."""

    table: str | None = None  # "orderBookL2", "trade", "quote", ...
    action: str | None = None  # partial | insert | update | delete
    data: Raw = Raw()  # list of rows of ``table``
    filter: Filter | None = None  # partial only: the subscription's symbol
    success: bool | None = None  # subscription reply
    subscribe: str | None = None  # the topic subscribed
    unsubscribe: str | None = None
    status: int | None = None  # error reply: HTTP-like status (400, 429, ...)
    error: str | None = None  # error text
    info: str | None = None  # welcome: "Welcome to the BitMEX Realtime API."
    version: str | None = None  # welcome: server build time


class BookRow(msgspec.Struct, gc=False):
    """One ``orderBookL2``/``orderBookL2_25`` row; keys are (symbol, id, side)."""

    symbol: str
    id: int  # level id: one price level of one symbol
    side: Literal["Buy", "Sell"]
    size: Raw = Raw(b"null")  # absolute size in contracts; absent on delete
    price: Raw = Raw(b"null")  # on partial/insert; on every action since mid-2023
    timestamp: str | None = None  # ISO ms, server send time; on every row since 2022-02-14


class TradeRow(msgspec.Struct, gc=False):
    """One ``trade`` row."""

    timestamp: str  # ISO 8601 ms, UTC
    symbol: str
    side: Literal["Buy", "Sell"]  # the aggressor (taker) side
    size: Raw  # contracts
    price: Raw
    trdMatchID: str  # trade id (uuid)


class QuoteRow(msgspec.Struct, gc=False):
    """One ``quote`` row: top of book. A missing side comes as null."""

    timestamp: str
    symbol: str
    bidSize: Raw = Raw(b"null")
    bidPrice: Raw = Raw(b"null")
    askPrice: Raw = Raw(b"null")
    askSize: Raw = Raw(b"null")


class InstrumentState(msgspec.Struct, gc=False):
    """One ``instrument`` topic row: a partial has every field, an update the changed ones."""

    symbol: str
    timestamp: str | None = None  # ISO ms of this state
    markPrice: Raw = Raw(b"null")  # mark price
    indicativeSettlePrice: Raw = Raw(b"null")  # the index the mark follows
    lastPrice: Raw = Raw(b"null")
    openInterest: Raw = Raw(b"null")  # contracts
    fundingRate: Raw = Raw(b"null")  # rate of the current period (perpetuals)
    indicativeFundingRate: Raw = Raw(b"null")  # predicted rate of the next period
    fundingTimestamp: str | None = None  # ISO time of the next funding


class LiquidationRow(msgspec.Struct, gc=False):
    """One ``liquidation`` row: a liquidation order as it enters the book."""

    orderID: str
    symbol: str
    side: Literal["Buy", "Sell"] | None = None  # the liquidation order's side (insert)
    price: Raw = Raw(b"null")
    leavesQty: Raw = Raw(b"null")  # contracts left to fill


class Instrument(msgspec.Struct, gc=False):
    """One row of ``/api/v1/instrument`` (``/active``)."""

    symbol: str
    typ: str  # FFWCSX perpetual, FFCCSX future, IFXXXP spot, MRCXXX index, ...
    underlying: str | None = None  # base asset, "XBT" for bitcoin
    quoteCurrency: str | None = None  # price currency
    settlCurrency: str | None = None  # "XBt" (satoshi), "USDt", ...
    expiry: str | None = None  # ISO time of expiry, futures only


envelope = msgspec.json.Decoder(Envelope)
book_rows = msgspec.json.Decoder(list[BookRow])
trade_rows = msgspec.json.Decoder(list[TradeRow])
quote_rows = msgspec.json.Decoder(list[QuoteRow])
instruments = msgspec.json.Decoder(list[Instrument])
instrument_states = msgspec.json.Decoder(list[InstrumentState])
liquidation_rows = msgspec.json.Decoder(list[LiquidationRow])
