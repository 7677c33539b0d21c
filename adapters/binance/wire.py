"""Binance wire structs: websocket events and REST responses, verbatim field names.

Documentation URLs per message are in ``adapters/binance/adapter.py``'s docstring and in
``contract.py``. Prices and quantities are decimal text, never floats. The adapter builds
its decoders from them once, at import.
"""

from __future__ import annotations

import msgspec

PriceLevel = tuple[str, str]  # [price, quantity], both decimal text


# --- WebSocket messages ---------------------------------------------------------


class Envelope(msgspec.Struct, gc=False):
    """Combined-stream wrapper ``{"stream": "btcusdt@depth", "data": {...}}``, or a reply."""

    stream: str | None = None  # "<symbol>@<channel>", lowercase symbol
    data: msgspec.Raw = msgspec.Raw()  # the payload, decoded once the channel is known
    e: str | None = None  # event type of a raw (non-combined) frame
    u: int | None = None  # bookTicker update id on a raw frame (spot has no "e")
    id: int | str | None = None  # request id of a reply to SUBSCRIBE
    result: msgspec.Raw = msgspec.Raw()  # reply payload (null on success)
    error: msgspec.Raw = msgspec.Raw()  # {"code","msg"} of a failed request
    code: int | None = None  # error code of a close/error notice
    msg: str | None = None  # error text


class BinanceDepthUpdate(msgspec.Struct, gc=False):
    """``<symbol>@depth[@100ms|@0ms]`` diff-depth event (``e == "depthUpdate"``)."""

    E: int  # event time, ms
    s: str  # symbol
    U: int  # first update id in event
    u: int  # final update id in event
    b: list[PriceLevel]  # bids to update (absolute quantity, 0 removes)
    a: list[PriceLevel]  # asks to update
    T: int | None = None  # futures only: matching-engine transaction time, ms
    pu: int | None = None  # futures only: final update id of the previous event


class BinanceTrade(msgspec.Struct, gc=False):
    """``<symbol>@trade`` (``e == "trade"``)."""

    s: str  # symbol
    t: int  # trade id
    p: str  # price
    q: str  # quantity
    T: int  # trade time, ms
    m: bool  # buyer is the maker: the taker sold
    X: str | None = None  # futures only: order type, MARKET for regular fills


class BinanceAggTrade(msgspec.Struct, gc=False):
    """``<symbol>@aggTrade`` (``e == "aggTrade"``): fills of one taker order at one price."""

    s: str  # symbol
    a: int  # aggregate trade id
    p: str  # price
    q: str  # quantity
    T: int  # trade time, ms
    m: bool  # buyer is the maker: the taker sold


class BinanceBookTicker(msgspec.Struct, gc=False):
    """``<symbol>@bookTicker``: best bid/ask at book update ``u``.

    Spot sends no ``e``, ``E`` or ``T``.
    """

    u: int  # order book update id
    s: str  # symbol
    b: str  # best bid price
    B: str  # best bid quantity
    a: str  # best ask price
    A: str  # best ask quantity
    T: int | None = None  # futures only: transaction time, ms


# The hot channels again, tagged by their ``e``, so that one decoder pass reads a whole
# combined-stream frame (see ``StreamFrame``).


class BookTickerEvent(BinanceBookTicker, tag_field="e", tag="bookTicker"):
    """A futures ``bookTicker`` (spot's has no ``e`` and takes the two-pass route)."""


class TradeEvent(BinanceTrade, tag_field="e", tag="trade"):
    pass


class AggTradeEvent(BinanceAggTrade, tag_field="e", tag="aggTrade"):
    pass


class DepthUpdateEvent(msgspec.Struct, tag_field="e", tag="depthUpdate", gc=False):
    """``BinanceDepthUpdate`` with its level arrays left as JSON text.

    The pipeline reads them (``collector.levels``): into spans of the frame on the
    native path, with no ``str`` or tuple per level.
    """

    E: int
    s: str
    U: int
    u: int
    b: msgspec.Raw
    a: msgspec.Raw
    T: int | None = None
    pu: int | None = None


class StreamFrame(msgspec.Struct, gc=False):
    """A combined-stream frame of a hot channel, decoded in one pass.

    Nine frames in ten are quotes, trades and depth updates: decoding the envelope with
    the payload as ``Raw`` and then the payload costs a second parse per frame. Frames
    this does not fit (replies, other events, spot quotes) fail it and go the general way.
    """

    stream: str
    data: BookTickerEvent | TradeEvent | AggTradeEvent | DepthUpdateEvent


class BinanceMarkPrice(msgspec.Struct, gc=False):
    """``<symbol>@markPrice[@1s]`` (``e == "markPriceUpdate"``), futures only."""

    E: int  # event time, ms
    s: str  # symbol
    p: str  # mark price
    i: str  # index price
    r: str  # funding rate; "" for delivery contracts
    T: int  # next funding time, ms; 0 for delivery contracts
    P: str | None = None  # estimated settle price (last hour before settlement only)


class BinanceForceOrderDetail(msgspec.Struct, gc=False):
    """The liquidation order of a ``forceOrder`` event."""

    s: str  # symbol
    S: str  # side of the liquidation order: BUY or SELL
    q: str  # original quantity
    p: str  # price
    T: int  # order trade time, ms
    ap: str | None = None  # average price
    z: str | None = None  # filled accumulated quantity


class BinanceForceOrder(msgspec.Struct, gc=False):
    """``<symbol>@forceOrder`` (``e == "forceOrder"``): the latest liquidation of each second."""

    E: int  # event time, ms
    o: BinanceForceOrderDetail


# --- REST responses ---------------------------------------------------------------


class BinanceOpenInterest(msgspec.Struct, gc=False):
    """``GET /fapi/v1/openInterest`` / ``/dapi/v1/openInterest``: one symbol's open interest."""

    symbol: str
    openInterest: str  # USD-M: base asset; COIN-M: contracts
    time: int  # ms


class BinanceDepthSnapshot(msgspec.Struct, gc=False):
    """``GET /api/v3/depth`` (spot), ``/fapi/v1/depth``, ``/dapi/v1/depth``."""

    lastUpdateId: int  # book update id the snapshot is valid at
    bids: list[PriceLevel]
    asks: list[PriceLevel]
    T: int | None = None  # futures only: transaction time, ms
    E: int | None = None  # futures only: message output time, ms


class BinanceError(msgspec.Struct, gc=False):
    code: int
    msg: str


# --- Instrument lists ------------------------------------------------------------


class ExchangeSymbol(msgspec.Struct, gc=False):
    """One market of ``GET /api/v3/exchangeInfo`` (``/fapi/v1``, ``/dapi/v1``)."""

    symbol: str
    baseAsset: str
    quoteAsset: str
    contractType: str | None = None


class ExchangeInfo(msgspec.Struct, gc=False):
    """``GET /api/v3/exchangeInfo``: only the symbol list is read."""

    symbols: list[ExchangeSymbol]
