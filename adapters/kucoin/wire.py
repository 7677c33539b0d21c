"""KuCoin spot wire structs: field names verbatim, prices and sizes kept as the wire's text.

Written from (classic spot docs, read 2026-12-07):

* token: https://www.kucoin.com/docs/websocket/basic-info/apply-connect-token/public-token-no-authentication-required-
* envelope, ping, ack, welcome, error: https://www.kucoin.com/docs/websocket/basic-info/create-connection
* level2: https://www.kucoin.com/docs/websocket/spot-trading/public-channels/level2-market-data
* match: https://www.kucoin.com/docs/websocket/spot-trading/public-channels/match-execution-data
* ticker: https://www.kucoin.com/docs/websocket/spot-trading/public-channels/ticker
* REST book: https://www.kucoin.com/docs/rest/spot-trading/market-data/get-part-order-book-aggregated-
  (``level2_20``/``level2_100``, public) and .../get-full-order-book-aggregated- (v3, signed)
* symbols: https://www.kucoin.com/docs/rest/spot-trading/market-data/get-symbols-list
"""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct, gc=False):
    """Every websocket frame: ``welcome``, ``ack``, ``pong``, ``error`` or ``message``."""

    type: str
    id: str | None = None
    topic: str | None = None
    subject: str | None = None
    #: A topic's payload; the reason text of an ``error``; empty when absent (``welcome``).
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    code: int | None = None  # ``error`` only


class Changes(msgspec.Struct, gc=False):
    asks: list[list[str]]  # [price, size, sequence]; price "0": sequence only, no level
    bids: list[list[str]]


class L2Update(msgspec.Struct, gc=False):
    """``trade.l2update`` on ``/market/level2:{symbol}``; sizes absolute, 0 deletes."""

    symbol: str
    sequenceStart: int
    sequenceEnd: int
    changes: Changes
    time: int | None = None  # ms; absent from older feeds (the 2021 recording)


class Match(msgspec.Struct, gc=False):
    """``trade.l3match`` on ``/market/match:{symbol}``; ``side`` is the taker's."""

    symbol: str
    sequence: str
    side: str
    price: str
    size: str
    tradeId: str
    time: str  # ns since the epoch, as text
    type: str = "match"
    takerOrderId: str | None = None
    makerOrderId: str | None = None


class Ticker(msgspec.Struct, gc=False):
    """``trade.ticker`` on ``/market/ticker:{symbol}``: best bid/ask and the last trade."""

    sequence: str
    time: int  # ms
    bestAsk: str | None = None  # null on an empty side
    bestAskSize: str | None = None
    bestBid: str | None = None
    bestBidSize: str | None = None
    price: str | None = None
    size: str | None = None


class RestEnvelope(msgspec.Struct, gc=False):
    """Every REST answer: ``code`` "200000" with ``data``, else ``msg``."""

    code: str
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty when absent
    msg: str | None = None


class Level2(msgspec.Struct, gc=False):
    """REST order book (``level2_20``, ``level2_100``, v3 full ``level2``): same shape."""

    sequence: str
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    time: int | None = None  # ms


class InstanceServer(msgspec.Struct, gc=False):
    endpoint: str
    pingInterval: int  # ms
    pingTimeout: int  # ms
    protocol: str = "websocket"
    encrypt: bool = True


class Bullet(msgspec.Struct, gc=False):
    """``POST /api/v1/bullet-public``: the token and the servers to connect to."""

    token: str
    instanceServers: list[InstanceServer]


class SymbolInfo(msgspec.Struct, gc=False):
    """One entry of ``GET /api/v2/symbols`` (``/api/v1/symbols`` in the recording)."""

    symbol: str
    baseCurrency: str
    quoteCurrency: str
    name: str | None = None
    enableTrading: bool = True
