"""Kraken Futures WebSocket v1 wire contract, as msgspec structs.

Written from (checked 2026-12-07 against stored copies of docs.kraken.com):

* feeds: https://docs.kraken.com/exchange/api-reference/futures-websocket (endpoint
  ``wss://futures.kraken.com/ws/v1``; public feeds book, ticker, ticker_lite, trade, heartbeat);
* book: https://docs.kraken.com/exchange/api-reference/futures-websocket/book
  (``book_snapshot`` on subscribe, then one ``book`` message per changed level; ``seq``
  per product, +1 per message; ``qty`` absolute, 0 deletes);
* trade: https://docs.kraken.com/exchange/api-reference/futures-websocket/trade
  (``trade_snapshot`` of recent trades on subscribe, then ``trade``; ``side`` the taker's);
* ticker: https://docs.kraken.com/exchange/api-reference/futures-websocket/ticker
  (best bid/ask with sizes, mark, index, open interest, funding on perpetuals);
* ticker_lite: https://docs.kraken.com/exchange/api-reference/futures-websocket/ticker-lite
* heartbeat: https://docs.kraken.com/exchange/api-reference/futures-websocket/heartbeat
* instruments: https://docs.kraken.com/api-reference/instrument-details/get-instruments
  (``GET /derivatives/api/v3/instruments``).

Kraken Futures writes prices and quantities as JSON numbers (``439.3``, ``20108.0``). They
are typed ``msgspec.Raw`` so the exact text survives; ``collector.decimal_text`` turns
one into plain decimal text, never a float.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Raw

_NULL = Raw(b"null")


class Envelope(msgspec.Struct, gc=False):
    """Every frame: an ``event`` (info, subscribed, error, alert...) or a ``feed`` message."""

    event: str | None = None
    feed: str | None = None
    product_id: str | None = None
    product_ids: list[str] | None = None  # on subscribed / subscribed_failed
    message: str | None = None  # error and alert text
    version: int | None = None  # on info


class Level(msgspec.Struct, gc=False):
    """One level of a ``book_snapshot``."""

    price: Raw
    qty: Raw


class BookSnapshot(msgspec.Struct, gc=False):
    """``book_snapshot``: the whole book of one product, sent on subscribe."""

    feed: Literal["book_snapshot"]
    product_id: str
    timestamp: int  # ms
    seq: int  # the first ``book`` message after it has seq + 1
    bids: list[Level]
    asks: list[Level]
    tickSize: Raw = _NULL  # documented, always null in the recording


class BookUpdate(msgspec.Struct, gc=False):
    """``book``: one changed level; ``qty`` is the level's new absolute size."""

    feed: Literal["book"]
    product_id: str
    side: Literal["buy", "sell"]
    seq: int
    price: Raw
    qty: Raw
    timestamp: int  # ms


class TradeRow(msgspec.Struct, gc=False):
    """``trade``, and each element of a ``trade_snapshot``'s ``trades``."""

    product_id: str
    uid: str  # unique trade id
    side: Literal["buy", "sell"]  # the taker's side
    type: str  # fill | liquidation | termination | block
    seq: int  # per-product trade sequence
    time: int  # ms
    qty: Raw
    price: Raw
    feed: str | None = None


class TradeSnapshot(msgspec.Struct, gc=False):
    """``trade_snapshot``: recent trades (from before the connection), newest first."""

    feed: Literal["trade_snapshot"]
    product_id: str
    trades: list[TradeRow]


class Ticker(msgspec.Struct, gc=False):
    """``ticker``: one product's state, published at most once a second.

    Funding fields are only on perpetuals; ``relative_funding_rate`` is the rate as a
    fraction of the position (``funding_rate`` is in the quote currency per contract).
    """

    feed: Literal["ticker"]
    product_id: str
    time: int  # ms
    bid: Raw = _NULL
    ask: Raw = _NULL
    bid_size: Raw = _NULL
    ask_size: Raw = _NULL
    last: Raw = _NULL
    index: Raw = _NULL
    markPrice: Raw = _NULL
    openInterest: Raw = _NULL
    relative_funding_rate: Raw = _NULL
    relative_funding_rate_prediction: Raw = _NULL
    next_funding_rate_time: int | None = None  # ms


class TickerLite(msgspec.Struct, gc=False):
    """``ticker_lite``: bid, ask and daily figures, without sizes (not stored)."""

    feed: Literal["ticker_lite"]
    product_id: str
    bid: Raw = _NULL
    ask: Raw = _NULL


class Instrument(msgspec.Struct, gc=False):
    """One row of ``GET /derivatives/api/v3/instruments`` (symbols lower case before 2022)."""

    symbol: str
    type: str  # futures_inverse | futures_vanilla | flexible_futures | spot index ...
    tradeable: bool = True
    underlying: str | None = None
    lastTradingTime: str | None = None  # ISO 8601, dated futures only


class Instruments(msgspec.Struct, gc=False):
    result: str  # "success" or "error"
    instruments: list[Instrument] = []
    error: str | None = None


envelope = msgspec.json.Decoder(Envelope)
book_snapshot = msgspec.json.Decoder(BookSnapshot)
book = msgspec.json.Decoder(BookUpdate)
trade = msgspec.json.Decoder(TradeRow)
trade_snapshot = msgspec.json.Decoder(TradeSnapshot)
ticker = msgspec.json.Decoder(Ticker)
ticker_lite = msgspec.json.Decoder(TickerLite)
instruments = msgspec.json.Decoder(Instruments)
