"""Upbit wire structs: websocket ``orderbook`` and ``trade`` in both formats, and markets.

Verbatim field names, one doc URL each. Upbit answers in binary websocket frames that
hold plain JSON (no compression: ``frame_encoding`` stays ``text``). A subscription
picks the ``DEFAULT`` format (full field names) or ``SIMPLE`` (abbreviated names: the
2021 recording); the ``SIMPLE`` structs below are the ``DEFAULT`` ones with the
documented abbreviations (``simple``), so both formats decode into the same fields.
Prices and sizes are JSON numbers: ``msgspec.Raw`` (their exact text), never floats.

Docs: https://global-docs.upbit.com/reference/websocket-orderbook,
https://global-docs.upbit.com/reference/websocket-trade,
https://global-docs.upbit.com/reference/list-trading-pairs (read 2026-12-07).
"""

from __future__ import annotations

from typing import Any

import msgspec

DOCS = "https://global-docs.upbit.com/reference/"


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """What tells Upbit's messages apart: ``type`` (``DEFAULT``), ``ty`` (``SIMPLE``),
    ``status`` (the answer to a ``PING``) or ``error``. Doc: DOCS + "websocket-error"
    """

    type: str | None = None
    ty: str | None = None
    status: str | None = None
    error: msgspec.Raw = msgspec.Raw()  # {"name": .., "message": ..}; empty when absent


class Unit(msgspec.Struct, gc=False, frozen=True):
    """One level pair of ``orderbook_units``. Doc: DOCS + "websocket-orderbook" """

    ask_price: msgspec.Raw
    bid_price: msgspec.Raw
    ask_size: msgspec.Raw
    bid_size: msgspec.Raw


class Orderbook(msgspec.Struct, gc=False, frozen=True):
    """``orderbook``: the whole book (15 level pairs by default) in every message.

    Doc: DOCS + "websocket-orderbook"
    """

    type: str
    code: str  # "KRW-BTC": quote-base
    timestamp: int  # ms
    orderbook_units: list[Unit]
    total_ask_size: msgspec.Raw = msgspec.Raw()
    total_bid_size: msgspec.Raw = msgspec.Raw()
    stream_type: str | None = None  # "SNAPSHOT" | "REALTIME"
    level: msgspec.Raw = msgspec.Raw()  # price grouping unit (KRW markets)


class Trade(msgspec.Struct, gc=False, frozen=True):
    """``trade``: one trade. ``ask_bid`` is the taker's side (``ASK`` sold, ``BID``
    bought); ``sequential_id`` the trade's unique id. Doc: DOCS + "websocket-trade" """

    type: str
    code: str
    trade_timestamp: int  # ms
    trade_price: msgspec.Raw
    trade_volume: msgspec.Raw
    ask_bid: str
    sequential_id: int
    timestamp: int | None = None  # ms: when the message was sent
    trade_date: str | None = None
    trade_time: str | None = None
    prev_closing_price: msgspec.Raw = msgspec.Raw()
    change: str | None = None
    change_price: msgspec.Raw = msgspec.Raw()
    stream_type: str | None = None


#: The ``SIMPLE`` format's abbreviations (DOCS + "websocket-request-format", "SIMPLE").
SIMPLE_NAMES = {
    "type": "ty",
    "code": "cd",
    "timestamp": "tms",
    "total_ask_size": "tas",
    "total_bid_size": "tbs",
    "orderbook_units": "obu",
    "ask_price": "ap",
    "bid_price": "bp",
    "ask_size": "as",
    "bid_size": "bs",
    "stream_type": "st",
    "level": "lv",
    "trade_date": "td",
    "trade_time": "ttm",
    "trade_timestamp": "ttms",
    "trade_price": "tp",
    "trade_volume": "tv",
    "ask_bid": "ab",
    "prev_closing_price": "pcp",
    "change": "c",
    "change_price": "cp",
    "sequential_id": "sid",
}


def simple(cls: type, types: dict[str, Any] | None = None) -> Any:
    """``cls`` under the ``SIMPLE`` names (same fields, same defaults, ``types`` swapped)."""
    fields: list[Any] = []
    for f in msgspec.structs.fields(cls):
        kind = (types or {}).get(f.name, f.type)
        fields.append((f.name, kind) if f.required else (f.name, kind, f.default))
    names = {f.name: SIMPLE_NAMES[f.name] for f in msgspec.structs.fields(cls)}
    return msgspec.defstruct(f"Simple{cls.__name__}", fields, frozen=True, gc=False, rename=names)


SimpleUnit = simple(Unit)
SimpleOrderbook = simple(Orderbook, {"orderbook_units": list[SimpleUnit]})
SimpleTrade = simple(Trade)


class Market(msgspec.Struct, gc=False, frozen=True):
    """One entry of ``GET /v1/market/all``. Doc: DOCS + "list-trading-pairs" """

    market: str
    english_name: str | None = None
    korean_name: str | None = None


envelope = msgspec.json.Decoder(Envelope)
orderbook = msgspec.json.Decoder(Orderbook)
trade = msgspec.json.Decoder(Trade)
simple_orderbook = msgspec.json.Decoder(SimpleOrderbook)
simple_trade = msgspec.json.Decoder(SimpleTrade)
markets = msgspec.json.Decoder(list[Market])
