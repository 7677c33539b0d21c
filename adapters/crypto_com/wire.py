"""Crypto.com Exchange wire contract: market data frames and instrument lists, both APIs.

Today's API is Exchange API v1 (https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html,
read 2026-12-07), sections:

* ``#websocket-root-endpoints``: market data on ``wss://stream.crypto.com/exchange/v1/market``;
* ``#websocket-heartbeats``: ``{"id":N,"method":"public/heartbeat"}`` every 30 s, to be
  answered with ``{"id":N,"method":"public/respond-heartbeat"}`` within 5 s;
* ``#book-instrument_name-depth``: ``book`` snapshots, then (``book_subscription_type``
  ``SNAPSHOT_AND_UPDATE``) ``book.update`` deltas with ``u``/``pu``; levels
  ``[price, size, order count]`` as strings, size absolute, ``"0"`` deletes;
* ``#trade-instrument_name``: ``d`` (id), ``t``, ``p``, ``q``, ``s`` (the taker's side);
* ``#ticker-instrument_name``: ``b``/``bs`` and ``k``/``ks``, the best bid and ask;
* ``#public-get-instruments``: ``result.data[]`` with ``symbol``, ``inst_type``...

The recording (2021-11) is the retired Exchange API v2 (``wss://stream.crypto.com/v2/market``,
``/v2/public/get-instruments``): the same envelope, but ``book`` pushes are full
snapshots without ``u``, prices and sizes are JSON numbers (kept as their raw text),
trade ids are numbers, tickers carry no sizes, and the instruments list is
``result.instruments[]``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from collector.decimal_text import check, plain
from collector.json_numbers import json_decimal


class Result(msgspec.Struct, gc=False, frozen=True):
    """``result`` of a subscription push: which channel and instrument, and its ``data``."""

    channel: str  # book, book.update, trade, ticker, candlestick
    subscription: str | None = None  # book.BTC_USDT.50, trade.BTC_USDT...
    instrument_name: str | None = None
    depth: int | None = None  # book: the subscribed depth
    interval: str | None = None  # candlestick
    data: msgspec.Raw = msgspec.Raw()  # decoded once the channel is known


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """Every frame: a push (``result``), a request's answer, or ``public/heartbeat``."""

    method: str  # subscribe (pushes and acks), public/heartbeat, unsubscribe...
    id: int | None = None  # request id; -1 on pushes; the heartbeat's id to answer with
    code: int | None = None  # 0 = success
    message: str | None = None  # error text
    result: Result | None = None


class Snapshot(msgspec.Struct, gc=False, frozen=True):
    """A ``book`` element: the whole book at ``depth`` (v2: numbers; v1: strings, ``u``).

    Levels are ``[price, size, order count]``, best first. They are decoded with
    ``float_hook=str``: a v2 number arrives as its exact JSON text (an integer as an int),
    a v1 string as itself; ``level_text`` makes both the stored text.
    """

    bids: list[list[Any]]
    asks: list[list[Any]]
    t: int  # ms, message publish time
    tt: int | None = None  # ms, last book update (v1)
    u: int | None = None  # update sequence (v1)


class Levels(msgspec.Struct, gc=False, frozen=True):
    bids: list[list[Any]]  # as in ``Snapshot``
    asks: list[list[Any]]


class Update(msgspec.Struct, gc=False, frozen=True):
    """A ``book.update`` element (v1 delta subscription)."""

    update: Levels
    t: int  # ms, publish
    u: int  # this update's sequence
    pu: int  # the sequence of the previous update: must be the last one applied
    tt: int | None = None  # ms, last book update


class TradeRow(msgspec.Struct, gc=False, frozen=True):
    """A ``trade`` element; ``s`` is the taker's side, ``BUY`` or ``SELL``."""

    d: int | str  # trade id (v2: number, v1: string of a number)
    t: int  # ms, trade time
    p: msgspec.Raw  # price
    q: msgspec.Raw  # quantity
    s: str
    i: str | None = None  # instrument name


class Ticker(msgspec.Struct, gc=False, frozen=True):
    """A ``ticker`` element: the best bid ``b``/``bs`` and ask ``k``/``ks`` (null when none;
    the v2 recording's tickers have no sizes)."""

    t: int  # ms
    b: msgspec.Raw = msgspec.Raw()  # absent or null: no bid
    k: msgspec.Raw = msgspec.Raw()
    bs: msgspec.Raw = msgspec.Raw()
    ks: msgspec.Raw = msgspec.Raw()


class V1Instrument(msgspec.Struct, gc=False, frozen=True):
    """A row of v1 ``public/get-instruments``."""

    symbol: str  # BTC_USDT, BTCUSD-PERP, BTCUSD-261225
    inst_type: str  # CCY_PAIR, PERPETUAL_SWAP, FUTURE
    base_ccy: str
    quote_ccy: str
    expiry_timestamp_ms: int = 0


class V2Instrument(msgspec.Struct, gc=False, frozen=True):
    """A row of the retired v2 ``public/get-instruments`` (spot pairs)."""

    instrument_name: str  # BTC_USDT
    base_currency: str
    quote_currency: str


class V1Instruments(msgspec.Struct, gc=False, frozen=True):
    data: list[V1Instrument]


class V2Instruments(msgspec.Struct, gc=False, frozen=True):
    instruments: list[V2Instrument]


class InstrumentsReply(msgspec.Struct, gc=False, frozen=True):
    code: int
    result: msgspec.Raw = msgspec.Raw()
    message: str | None = None
    id: int | None = None
    method: str | None = None


def given(raw: msgspec.Raw) -> bool:
    """The field was sent with a value (not absent, not ``null``)."""
    return bytes(raw) not in (b"", b"null")


def text(raw: msgspec.Raw) -> str:
    """Exact text of a price or size: v1 sends strings, v2 JSON numbers (kept as written)."""
    data = bytes(raw)
    if data.startswith(b'"'):
        value = msgspec.json.decode(data, type=str)
        check(value)
        return plain(value)
    return json_decimal(data)


def level_text(value: Any) -> str:
    """A book level's price or size as stored text: the hot path (300 a v2 snapshot).

    ``value`` is what the ``float_hook=str`` decoders give: text, or an int. Exponents
    are written out, nothing else is checked: the book engine checks every level and
    drops (and reports) one that is not a number.
    """
    return plain(value) if value.__class__ is str else str(value)


envelope = msgspec.json.Decoder(Envelope)
snapshots = msgspec.json.Decoder(list[Snapshot], float_hook=str)
updates = msgspec.json.Decoder(list[Update], float_hook=str)
trades = msgspec.json.Decoder(list[TradeRow])
tickers = msgspec.json.Decoder(list[Ticker])
instruments_reply = msgspec.json.Decoder(InstrumentsReply)
v1_instruments = msgspec.json.Decoder(V1Instruments)
v2_instruments = msgspec.json.Decoder(V2Instruments)
