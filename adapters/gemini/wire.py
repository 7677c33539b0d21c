"""Gemini market data v2 wire contract, as msgspec structs.

Written from (checked 2026-12-07 against stored copies of docs.gemini.com):

* market data v2: https://docs.gemini.com/websocket-api/#market-data-version-2
  (``wss://api.gemini.com/v2/marketdata``; subscribe ``l2`` with symbols; the first
  ``l2_updates`` of a symbol holds its whole book and recent ``trades``, later ones the
  changed levels, each ``[side, price, quantity]`` with the absolute quantity, 0 deleting;
  ``trade`` events with the taker's ``side``; ``heartbeat`` every 5 s);
* symbols: https://docs.gemini.com/rest-api/#symbols and ``#symbol-details``.

Both recordings follow it: the 2021 one and the 2026 one, whose ``trade`` events add
``tid`` (the trade id; ``event_id`` is the id of the event carrying it).
Prices and quantities are JSON strings: kept as they are.
"""

from __future__ import annotations

from typing import Literal

import msgspec

#: ``[side, price, quantity]``: side ``buy`` (bid) or ``sell`` (ask).
Change = tuple[Literal["buy", "sell"], str, str]


class Envelope(msgspec.Struct, gc=False):
    """Every frame: ``type`` names it; a refused request has ``result: "error"`` instead."""

    type: str | None = None
    result: str | None = None
    reason: str | None = None
    message: str | None = None


class TradeEvent(msgspec.Struct, gc=False):
    """``trade``, and each element of the first ``l2_updates``' ``trades``."""

    type: Literal["trade"]
    symbol: str
    event_id: int
    timestamp: int  # ms
    price: str
    quantity: str
    side: Literal["buy", "sell"]  # the taker's side
    tid: int | None = None  # trade id (2026 recording; absent in 2021)


class L2Updates(msgspec.Struct, gc=False):
    """``l2_updates``: the whole book the first time for a symbol, then changed levels."""

    type: Literal["l2_updates"]
    symbol: str
    changes: list[Change]
    trades: list[TradeEvent] | None = None  # recent trades, first message only
    auction_events: list[msgspec.Raw] | None = None  # first message only


class Heartbeat(msgspec.Struct, gc=False):
    type: Literal["heartbeat"]
    timestamp: int  # ms


class SymbolDetails(msgspec.Struct, gc=False):
    """``GET /v1/symbols/details/{symbol}``."""

    symbol: str
    base_currency: str
    quote_currency: str
    status: str
    product_type: str | None = None  # spot | swap (absent in 2021)
    contract_type: str | None = None  # vanilla | linear


envelope = msgspec.json.Decoder(Envelope)
l2_updates = msgspec.json.Decoder(L2Updates)
trade = msgspec.json.Decoder(TradeEvent)
heartbeat = msgspec.json.Decoder(Heartbeat)
symbols = msgspec.json.Decoder(list[str])
details = msgspec.json.Decoder(SymbolDetails)
