"""bitFlyer Lightning Realtime API (JSON-RPC 2.0 over websocket) wire contract.

Written from (checked 2026-12-07 against stored copies of bf-lightning-api.readme.io):

* realtime API: https://bf-lightning-api.readme.io/docs/realtime-api
  (``wss://ws.lightstream.bitflyer.com/json-rpc``; ``subscribe`` with ``{"channel": ...}``;
  pushes are ``channelMessage`` notifications);
* board snapshot: https://bf-lightning-api.readme.io/docs/realtime-board-snapshot
* board diffs: https://bf-lightning-api.readme.io/docs/realtime-board
  (``size`` is the level's new size, 0 deletes it; no ids);
* executions: https://bf-lightning-api.readme.io/docs/realtime-executions
  (``side`` is the taker's, ``BUY``/``SELL``, empty for itayose auction fills);
* ticker: https://bf-lightning-api.readme.io/docs/realtime-ticker
* markets: https://lightning.bitflyer.com/docs#market-list (``GET /v1/markets``,
  ``/v1/markets/usa``, ``/v1/markets/eu``; ``/v1/getmarkets`` is the old alias).

Prices and sizes are JSON numbers (``0.00921``, ``2103.78``): typed ``msgspec.Raw`` so
the exact text survives.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Raw

_NULL = Raw(b"null")


class Envelope(msgspec.Struct, gc=False):
    """Every frame: a ``channelMessage`` notification or a reply to our request (``id``)."""

    jsonrpc: str | None = None
    method: str | None = None
    params: Raw = Raw()
    id: int | str | None = None
    result: Raw = Raw()
    error: Raw = Raw()


class ChannelMessage(msgspec.Struct, gc=False):
    """``params`` of a ``channelMessage``."""

    channel: str  # lightning_{board_snapshot,board,executions,ticker}_{product_code}
    message: Raw


class Level(msgspec.Struct, gc=False):
    price: Raw
    size: Raw


class Board(msgspec.Struct, gc=False):
    """``lightning_board_snapshot_*`` (whole book) and ``lightning_board_*`` (changes)."""

    mid_price: Raw
    bids: list[Level]
    asks: list[Level]


class Execution(msgspec.Struct, gc=False):
    """One element of a ``lightning_executions_*`` message."""

    id: int
    side: Literal["BUY", "SELL", ""]  # the taker's; "" for itayose (auction) fills
    price: Raw
    size: Raw
    exec_date: str  # ISO 8601 UTC, up to 7 fraction digits
    buy_child_order_acceptance_id: str
    sell_child_order_acceptance_id: str


class Ticker(msgspec.Struct, gc=False):
    """``lightning_ticker_*``: best bid/ask with sizes (and daily figures, not stored)."""

    product_code: str
    timestamp: str  # ISO 8601 UTC
    tick_id: int
    best_bid: Raw = _NULL
    best_ask: Raw = _NULL
    best_bid_size: Raw = _NULL
    best_ask_size: Raw = _NULL
    state: str | None = None


class RpcError(msgspec.Struct, gc=False):
    code: int
    message: str
    data: Raw = Raw()


class Market(msgspec.Struct, gc=False):
    """One row of ``GET /v1/markets``."""

    product_code: str
    market_type: str  # Spot | FX | Futures
    alias: str | None = None


envelope = msgspec.json.Decoder(Envelope)
channel_message = msgspec.json.Decoder(ChannelMessage)
board = msgspec.json.Decoder(Board)
executions = msgspec.json.Decoder(list[Execution])
ticker = msgspec.json.Decoder(Ticker)
rpc_error = msgspec.json.Decoder(RpcError)
markets = msgspec.json.Decoder(list[Market])
