"""Hyperliquid websocket wire contract, as msgspec structs.

Written from (checked 2026-12-07 against stored copies of the Hyperliquid docs):

* subscriptions: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions
  (``{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}``; pushes are
  ``{"channel": ..., "data": ...}``; ``WsBook``, ``WsTrade``, ``WsBbo``, ``WsActiveAssetCtx``);
* heartbeats: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/heartbeats
  (``{"method":"ping"}`` answered by ``{"channel":"pong"}``; idle connections closed after 60 s);
* limits: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits

Prices and sizes are JSON strings (``"105055.0"``): kept as they are.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Raw


class Envelope(msgspec.Struct, gc=False):
    """Every frame: ``channel`` names what ``data`` holds."""

    channel: str
    data: Raw = Raw()


class Level(msgspec.Struct, gc=False):
    """``WsLevel``: an aggregated price level."""

    px: str
    sz: str
    n: int  # number of orders at the level


class Book(msgspec.Struct, gc=False):
    """``WsBook`` (``l2Book``): the whole book to 20 levels a side, every message."""

    coin: str
    levels: tuple[list[Level], list[Level]]  # [bids best first, asks best first]
    time: int  # ms


class TradeRow(msgspec.Struct, gc=False):
    """``WsTrade``: one element of a ``trades`` push."""

    coin: str
    side: Literal["A", "B"]  # the aggressor's: B bought (bid side), A sold (ask side)
    px: str
    sz: str
    time: int  # ms
    hash: str  # L1 transaction hash (all zeros for a TWAP slice)
    tid: int  # trade id (a hash of the two order ids)
    users: list[str] = []  # [buyer, seller]


class Bbo(msgspec.Struct, gc=False):
    """``WsBbo`` (``bbo``): best bid and offer, null for an empty side."""

    coin: str
    time: int  # ms
    bbo: tuple[Level | None, Level | None]


class PerpContext(msgspec.Struct, gc=False):
    """``PerpsAssetCtx``: a perpetual's state (every number a decimal string)."""

    markPx: str | None = None
    oraclePx: str | None = None
    openInterest: str | None = None
    funding: str | None = None  # the hourly funding rate
    midPx: str | None = None
    prevDayPx: str | None = None
    dayNtlVlm: str | None = None
    premium: str | None = None
    impactPxs: list[str] | None = None
    dayBaseVlm: str | None = None


class ActiveAssetCtx(msgspec.Struct, gc=False):
    """``WsActiveAssetCtx`` (``activeAssetCtx``) of a perpetual."""

    coin: str
    ctx: PerpContext


class SubscriptionResponse(msgspec.Struct, gc=False):
    """``subscriptionResponse``: the subscribe request echoed back."""

    method: str
    subscription: dict[str, str | int | bool | None]


envelope = msgspec.json.Decoder(Envelope)
book = msgspec.json.Decoder(Book)
trades = msgspec.json.Decoder(list[TradeRow])
bbo = msgspec.json.Decoder(Bbo)
asset_ctx = msgspec.json.Decoder(ActiveAssetCtx)
subscription_response = msgspec.json.Decoder(SubscriptionResponse)
error = msgspec.json.Decoder(str)
