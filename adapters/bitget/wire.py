"""Bitget wire contract: public websocket frames and instrument lists, API v2 and v1.

Today's API is v2, written from the docs (read 2026-12-07):

* https://www.bitget.com/api-doc/common/websocket-intro: ``wss://ws.bitget.com/v2/ws/public``,
  ``{"op":"subscribe","args":[{"instType","channel","instId"}]}``, the text ``ping``
  answered by ``pong``, ``{"event":"subscribe"|"error",...}``;
* https://www.bitget.com/api-doc/spot/websocket/public/Depth-Channel and
  https://www.bitget.com/api-doc/contract/websocket/public/Order-Book-Channel: ``books``
  (a ``snapshot``, then ``update`` pushes), ``books1``/``books5``/``books15`` (snapshots),
  data ``asks``/``bids``/``checksum``/``seq``/``ts``;
* https://www.bitget.com/api-doc/spot/websocket/public/Trades-Channel and the contract
  trades channel: a ``snapshot`` of recent trades, then ``update`` rows
  ``ts``/``price``/``size``/``side``/``tradeId``;
* https://www.bitget.com/api-doc/spot/market/Get-Symbols and
  https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts.

The recording (2022-04) is API v1 (https://bitgetlimited.github.io/apidoc/en/spot/ and
https://bitgetlimited.github.io/apidoc/en/mix/, sections "WebSocketAPI"): the same
envelope with ``instType`` ``sp``/``mc`` (``SP``/``MC`` in requests), ``books`` data
without ``seq``, trades as ``[ts, price, size, side]`` rows without an id, and the v1
lists ``/api/spot/v1/public/products`` and ``/api/mix/v1/market/contracts``.

Every price and size is a JSON string on both versions, kept as text.
"""

from __future__ import annotations

import msgspec


class Arg(msgspec.Struct, gc=False, frozen=True):
    """``arg`` of a push or an event: the subscription it concerns."""

    instType: str  # v2: SPOT, USDT-FUTURES, COIN-FUTURES, USDC-FUTURES; v1: sp, mc
    channel: str  # books, books1, books5, books15, trade, ticker, candle1m...
    instId: str | None = None  # BTCUSDT (v1 and v2 alike: no suffix on the websocket)


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """Every JSON frame: a push (``action`` + ``arg`` + ``data``) or an ``event``."""

    event: str | None = None  # subscribe, unsubscribe, error
    arg: Arg | None = None
    action: str | None = None  # snapshot or update
    data: msgspec.Raw = msgspec.Raw()  # decoded once the channel is known
    code: int | str | None = None  # error code (v2: a number, e.g. 30001)
    msg: str | None = None  # error text
    op: str | None = None  # error events echo the request's op
    ts: int | None = None  # v2: push time, ms


class Book(msgspec.Struct, gc=False, frozen=True):
    """One element of ``data`` of a ``books*`` push: ``[price, size]`` text rows.

    Sizes are absolute; ``"0"`` deletes the level. ``checksum``: signed CRC32 of the
    best 25 bids and asks interleaved as ``price:size`` (0 on the snapshot-only
    channels of the v2 examples: not sent). ``seq``: v2 only, "increases when the
    order book is updated" (not by exactly 1; it may restart at symbol maintenance).
    """

    asks: list[list[str]]  # best (lowest) first
    bids: list[list[str]]  # best (highest) first
    ts: str  # matching engine time, ms
    checksum: int | None = None
    seq: int | None = None  # v2


class Trade(msgspec.Struct, gc=False, frozen=True):
    """v2 ``trade`` row; ``side`` is the taker's (``buy``/``sell``)."""

    ts: str  # ms
    price: str
    size: str
    side: str
    tradeId: str


class V2Symbol(msgspec.Struct, gc=False, frozen=True):
    """A row of ``GET /api/v2/spot/public/symbols``."""

    symbol: str  # BTCUSDT: the websocket instId
    baseCoin: str
    quoteCoin: str


class V2Contract(msgspec.Struct, gc=False, frozen=True):
    """A row of ``GET /api/v2/mix/market/contracts?productType=...``."""

    symbol: str  # BTCUSDT, BTCUSD, BTCPERP: the websocket instId
    baseCoin: str
    quoteCoin: str
    symbolType: str = "perpetual"  # perpetual or delivery
    deliveryTime: str = ""  # ms, delivery contracts only


class V1Product(msgspec.Struct, gc=False, frozen=True):
    """A row of v1 ``GET /api/spot/v1/public/products``: ``symbol`` carries ``_SPBL``."""

    symbol: str  # EOSUSDT_SPBL
    symbolName: str  # EOSUSDT: the websocket instId
    baseCoin: str
    quoteCoin: str


class V1Contract(msgspec.Struct, gc=False, frozen=True):
    """A row of v1 ``GET /api/mix/v1/market/contracts``: ``symbol`` carries its line."""

    symbol: str  # BTCUSDT_UMCBL, BTCUSD_DMCBL
    baseCoin: str
    quoteCoin: str


class Listing(msgspec.Struct, gc=False, frozen=True):
    """The envelope of every list: ``code`` ``"00000"`` is success."""

    code: str
    data: msgspec.Raw
    msg: str = ""


envelope = msgspec.json.Decoder(Envelope)
books = msgspec.json.Decoder(list[Book])
trades = msgspec.json.Decoder(list[Trade])
v1_trades = msgspec.json.Decoder(list[tuple[str, str, str, str]])  # [ts, price, size, side]
listing = msgspec.json.Decoder(Listing)
v2_symbols = msgspec.json.Decoder(list[V2Symbol])
v2_contracts = msgspec.json.Decoder(list[V2Contract])
v1_products = msgspec.json.Decoder(list[V1Product])
v1_contracts = msgspec.json.Decoder(list[V1Contract])
