"""Phemex wire contract: public websocket market data and the product list.

Written from the Phemex API documentation (github.com/phemex/phemex-api-docs, read
2026-12-07), one page per product family:

* contracts (COIN-M, scaled ``Ep`` integers): ``Public-Contract-API-en.md``,
  sections "Subscribe OrderBook", "Subscribe Trade", "Query Product Information";
* USDT-M perpetuals (real-valued ``Rp``/``Rq`` text, ``orderbook_p``/``trades_p``):
  ``Public-Hedged-Perpetual-API.md``, same sections;
* spot (``s``-prefixed symbols, ``Ep`` prices and ``Ev`` sizes): ``Public-Spot-API-en.md``,
  sections "Subscribe orderbook", "Subscribe trade".

Numbers stay exact: scaled integers are decoded as ``int`` (JSON integers, never
float) and turned into text by ``collector.decimal_text.scaled_text``; the ``_p``
channels send text already. Frozen structs with verbatim field names.
"""

from __future__ import annotations

from typing import Literal

import msgspec

DOCS = "https://github.com/phemex/phemex-api-docs/blob/master/"
CONTRACT_DOC = DOCS + "Public-Contract-API-en.md"
HEDGED_DOC = DOCS + "Public-Hedged-Perpetual-API.md"
SPOT_DOC = DOCS + "Public-Spot-API-en.md"

#: [priceEp, size] (scaled integers) or, on ``orderbook_p``, [priceRp, sizeRq] (text).
Level = tuple[int | str, int | str]
#: [timestamp ns, side "Buy"/"Sell", priceEp | priceRp, size | sizeRq]
TradeRow = tuple[int, str, int | str, int | str]


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """Every public frame: a reply (``id``/``result``/``error``) or a push (``type``)."""

    id: int | None = None  # reply: echo of the request id
    result: msgspec.Raw = msgspec.Raw()  # reply: {"status":"success"} or "pong"
    error: msgspec.Raw = msgspec.Raw()  # reply: null, or {"code","message"}
    symbol: str | None = None  # push: the symbol
    type: Literal["snapshot", "incremental"] | None = None  # push kind
    sequence: int | None = None  # push: engine sequence, increasing, shared by symbols
    book: msgspec.Raw = msgspec.Raw()  # orderbook push (Ep / Ev integers)
    orderbook_p: msgspec.Raw = msgspec.Raw()  # USDT-M orderbook push (Rp / Rq text)
    trades: msgspec.Raw = msgspec.Raw()  # trade push (Ep integers)
    trades_p: msgspec.Raw = msgspec.Raw()  # USDT-M trade push (text)
    kline: msgspec.Raw = msgspec.Raw()  # kline push (not stored)
    kline_p: msgspec.Raw = msgspec.Raw()  # USDT-M kline push (not stored)
    depth: int | None = None  # orderbook push: levels the venue maintains (30)
    timestamp: int | None = None  # orderbook push: ns, the book's last change
    dts: int | None = None  # today's pushes: ns, gateway send time (not in 2021)
    mts: int | None = None  # today's pushes: ns, matching-engine time (not in 2021)


class Sides(msgspec.Struct, gc=False, frozen=True):
    """``book`` / ``orderbook_p``: levels of both sides; size 0 deletes (incremental)."""

    asks: list[Level]
    bids: list[Level]


class ReplyError(msgspec.Struct, gc=False, frozen=True):
    """A refused request: ``{"code": 6001, "message": "invalid argument"}``."""

    code: int
    message: str


class Currency(msgspec.Struct, gc=False, frozen=True):
    """Product list ``currencies[]``: ``valueScale`` scales a spot size (``Ev``) in it."""

    currency: str
    valueScale: int  # Ev = value * 10**valueScale
    name: str | None = None
    minValueEv: int | None = None
    maxValueEv: int | None = None
    needAddrTag: int | None = None


class Product(msgspec.Struct, gc=False, frozen=True):
    """Product list ``products[]`` (contracts and spot; ``type`` tells which).

    Contracts: prices scale by ``priceScale``, sizes are whole contracts. Spot: prices
    scale by the quote currency's ``valueScale`` (``priceEp``), sizes by the base
    currency's (``baseQtyEv``). USDT-M perpetuals (``PerpetualV2``) send text.
    """

    symbol: str
    type: str  # "Perpetual", "PerpetualV2", "Future", "Spot"
    quoteCurrency: str | None = None
    baseCurrency: str | None = None  # spot
    settleCurrency: str | None = None  # contracts
    contractUnderlyingAssets: str | None = None  # contracts: base asset (or "USD" inverse)
    priceScale: int | None = None  # contracts: priceEp = price * 10**priceScale
    status: str | None = None


class PerpV2(msgspec.Struct, gc=False, frozen=True):
    """Product list ``perpProductsV2[]`` (today's list only): USDT-M, real-valued."""

    symbol: str
    type: str  # "PerpetualV2"
    quoteCurrency: str | None = None
    settleCurrency: str | None = None
    contractUnderlyingAssets: str | None = None
    status: str | None = None


class ProductData(msgspec.Struct, gc=False, frozen=True):
    currencies: list[Currency]
    products: list[Product]
    perpProductsV2: list[PerpV2] = []
    ratioScale: int | None = None


class Products(msgspec.Struct, gc=False, frozen=True):
    """``GET /public/products`` (today) or ``/exchange/public/cfg/v2/products`` (2021)."""

    code: int  # 0: success
    msg: str
    data: ProductData | None = None  # null when refused


envelope = msgspec.json.Decoder(Envelope)
sides = msgspec.json.Decoder(Sides)
trade_rows = msgspec.json.Decoder(list[TradeRow])
reply_error = msgspec.json.Decoder(ReplyError)
products = msgspec.json.Decoder(Products)
