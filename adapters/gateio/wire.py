"""Gate.io v4 wire structs: field names verbatim, prices and sizes kept as the wire's text.

Written from (read 2026-12-07):

* spot websocket: https://www.gate.io/docs/developers/apiv4/ws/en/
  (``spot.order_book_update``, ``spot.trades``, ``spot.book_ticker``, envelopes)
* futures websocket: https://www.gate.io/docs/developers/futures/ws/en/
  (``futures.order_book_update``, ``futures.trades``, ``futures.book_ticker``)
* REST: https://www.gate.io/docs/developers/apiv4/en/ (``/spot/order_book``,
  ``/futures/{settle}/order_book`` with ``with_id=true``, ``/spot/currency_pairs``,
  ``/futures/{settle}/contracts``)

Futures sizes are integers of contracts (JSON numbers), kept as their text: a book
level's ``s`` is its size, a trade's ``size`` is signed (negative: the taker sold).
"""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct, gc=False):
    """Every websocket frame: ``event`` ``subscribe``/``update``/``all``, ``result`` raw."""

    channel: str = ""
    event: str = ""
    time: int | None = None  # s
    time_ms: int | None = None  # futures
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty when absent
    error: Error | None = None


class Error(msgspec.Struct, gc=False):
    code: int
    message: str


class SpotBookUpdate(msgspec.Struct, gc=False):
    """``spot.order_book_update`` ``result``: changes ``U``..``u``, sizes absolute, 0 deletes."""

    t: int  # ms
    s: str
    U: int
    u: int
    b: list[tuple[str, str]] = []
    a: list[tuple[str, str]] = []
    e: str | None = None
    E: int | None = None  # s


class SpotTrade(msgspec.Struct, gc=False):
    """``spot.trades`` ``result``; ``side`` is the taker's."""

    id: int
    currency_pair: str
    side: str
    amount: str
    price: str
    create_time: int  # s
    create_time_ms: str  # ms with a fraction, as text


class SpotBookTicker(msgspec.Struct, gc=False):
    """``spot.book_ticker`` ``result``: best bid/ask and sizes."""

    t: int  # ms
    u: int  # order book update id
    s: str
    b: str
    B: str
    a: str
    A: str


class SpotTickers(msgspec.Struct, gc=False):
    """``spot.tickers`` (in the 2021 recording): no sizes, so no best bid/ask row."""

    currency_pair: str
    highest_bid: str | None = None
    lowest_ask: str | None = None


class FuturesLevel(msgspec.Struct, gc=False):
    p: str
    s: msgspec.Raw  # contracts, an integer


class FuturesBookUpdate(msgspec.Struct, gc=False):
    """``futures.order_book_update`` ``result``."""

    t: int  # ms
    s: str
    U: int
    u: int
    b: list[FuturesLevel] = []
    a: list[FuturesLevel] = []


class FuturesTrade(msgspec.Struct, gc=False):
    """One element of ``futures.trades`` ``result``; ``size`` < 0: the taker sold."""

    id: int
    contract: str
    size: msgspec.Raw  # signed integer of contracts
    price: str
    create_time: int  # s
    create_time_ms: int | None = None


class FuturesBookTicker(msgspec.Struct, gc=False):
    """``futures.book_ticker`` ``result``."""

    t: int  # ms
    u: int
    s: str
    b: str
    B: msgspec.Raw  # contracts
    a: str
    A: msgspec.Raw


class SpotBook(msgspec.Struct, gc=False):
    """``GET /spot/order_book?with_id=true``."""

    asks: list[tuple[str, str]]
    bids: list[tuple[str, str]]
    id: int | None = None  # only with ``with_id=true``
    current: int | None = None  # ms
    update: int | None = None  # ms


class FuturesBook(msgspec.Struct, gc=False):
    """``GET /futures/{settle}/order_book?with_id=true``."""

    asks: list[FuturesLevel]
    bids: list[FuturesLevel]
    id: int | None = None
    #: s with an ms fraction, JSON numbers (kept as text: no float); empty when absent.
    current: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    update: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class RestError(msgspec.Struct, gc=False):
    label: str
    message: str = ""


class CurrencyPair(msgspec.Struct, gc=False):
    """One of ``GET /spot/currency_pairs``."""

    id: str
    base: str
    quote: str
    trade_status: str | None = None


class Contract(msgspec.Struct, gc=False):
    """One of ``GET /futures/{settle}/contracts``; ``quanto_multiplier``: base per contract."""

    name: str
    type: str | None = None  # "direct" (USDT-settled) or "inverse"
    quanto_multiplier: str | None = None
    in_delisting: bool = False
