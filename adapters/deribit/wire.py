"""Deribit JSON-RPC 2.0 wire contract (API v2), as msgspec structs.

Written from (checked 2026-11-28 against stored copies of docs.deribit.com):

* notifications: https://docs.deribit.com/articles/notifications
* book: https://docs.deribit.com/subscriptions/orderbook/bookinstrument_nameinterval
  (first message a full book, then ``[action, price, amount]`` changes; "If
  ``prev_change_id`` is equal to the ``change_id`` of the previous message, this means
  that no messages have been missed"; amounts are absolute, USD for futures and
  perpetuals, coin contracts for options);
* grouped book: ``book.{instrument}.{group}.{depth}.{interval}`` (full top-N each message,
  ``[price, amount]``, no ``type``);
* ticker: https://docs.deribit.com/subscriptions/market-data/tickerinstrument_nameinterval
  (futures, perpetuals and options; options add implied volatilities and greeks);
* heartbeat: https://docs.deribit.com/api-reference/session-management/public-set_heartbeat
* instruments: ``public/get_instruments`` (docs.deribit.com API reference; fields checked
  against the recorded 2021 responses and the 2022 SOL/USDC ones in the sidecar).

Deribit writes prices and amounts as JSON numbers (``0.0015``, ``4714.0``, possibly
``1e-05``). They are typed ``msgspec.Raw`` here so the exact text survives;
``collector.decimal_text.json_number`` turns one into plain decimal text, never a float.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Raw


class Envelope(msgspec.Struct, gc=False):
    """Every frame: a notification (``method``) or a reply to our request (``id``)."""

    jsonrpc: str | None = None  # always "2.0"
    method: str | None = None  # "subscription" or "heartbeat" for notifications
    params: Raw = Raw()  # notification payload
    id: int | str | None = None  # request id echoed by a reply
    result: Raw = Raw()  # reply payload: channel list, "ok", {"version": ...}
    error: Raw = Raw()  # {"code", "message", "data"?} of a failed request


class Subscription(msgspec.Struct, gc=False):
    """``params`` of a ``subscription`` notification."""

    channel: str  # e.g. "book.BTC-PERPETUAL.100ms"
    data: Raw  # channel-specific payload


class Heartbeat(msgspec.Struct, gc=False):
    """``params`` of a ``heartbeat`` notification."""

    type: Literal["heartbeat", "test_request"]  # test_request must be answered by public/test


class RpcError(msgspec.Struct, gc=False):
    code: int
    message: str
    data: Raw = Raw()


#: ``[action, price, amount]``; action is new | change | delete (delete has amount 0).
Change = tuple[Literal["new", "change", "delete"], Raw, Raw]


class Book(msgspec.Struct, gc=False):
    """``book.{instrument}.{interval}`` (``raw``, ``100ms``, ``agg2``)."""

    timestamp: int  # ms, time of the last change
    instrument_name: str
    change_id: int  # id of this message
    bids: list[Change]
    asks: list[Change]
    type: Literal["snapshot", "change"] | None = None
    prev_change_id: int | None = None  # change_id of the previous message (absent on snapshot)


class GroupedBook(msgspec.Struct, gc=False):
    """``book.{instrument}.{group}.{depth}.{interval}``: a full top-``depth`` book every time."""

    timestamp: int  # ms
    instrument_name: str
    change_id: int
    bids: list[tuple[Raw, Raw]]  # [price, amount]
    asks: list[tuple[Raw, Raw]]


class TradeRow(msgspec.Struct, gc=False):
    """One element of a ``trades.{instrument}.{interval}`` notification's list."""

    trade_id: str
    timestamp: int  # ms
    price: Raw
    amount: Raw  # USD for futures/perpetuals, coin contracts for options
    direction: Literal["buy", "sell"]  # the taker's direction
    instrument_name: str
    trade_seq: int | None = None  # per-instrument trade sequence
    liquidation: str | None = None  # "M", "T" or "MT" when a side was liquidated
    block_trade_id: str | None = None


class Quote(msgspec.Struct, gc=False):
    """``quote.{instrument}``: best bid/ask.

    An empty side: the recorded 2021 ``ticker`` frames send it as price 0 / amount 0;
    ``null`` is accepted too. Either makes the quote one-sided (not stored).
    """

    timestamp: int  # ms
    instrument_name: str
    best_bid_price: Raw = Raw(b"null")
    best_bid_amount: Raw = Raw(b"null")
    best_ask_price: Raw = Raw(b"null")
    best_ask_amount: Raw = Raw(b"null")


_NULL = Raw(b"null")


class Greeks(msgspec.Struct, gc=False):
    """``greeks`` of an option ticker (JSON numbers)."""

    delta: Raw = _NULL
    gamma: Raw = _NULL
    vega: Raw = _NULL
    theta: Raw = _NULL
    rho: Raw = _NULL


class Ticker(msgspec.Struct, gc=False):
    """``ticker.{instrument}.{interval}``: one instrument's state (numbers are JSON numbers).

    Only the stored fields are declared; ``stats``, ``min_price``, ``state`` and the rest
    are documented and not read.
    """

    timestamp: int  # ms
    instrument_name: str
    mark_price: Raw = _NULL
    index_price: Raw = _NULL
    last_price: Raw = _NULL  # null before the first trade
    open_interest: Raw = _NULL  # USD for futures and perpetuals, contracts for options
    best_bid_price: Raw = _NULL  # 0 with amount 0 when the side is empty
    best_bid_amount: Raw = _NULL
    best_ask_price: Raw = _NULL
    best_ask_amount: Raw = _NULL
    funding_8h: Raw = _NULL  # perpetual only: funding over the last 8 hours
    current_funding: Raw = _NULL  # perpetual only: the current funding
    bid_iv: Raw = _NULL  # options: implied volatility of the best bid, percent
    ask_iv: Raw = _NULL  # options: of the best ask, percent
    mark_iv: Raw = _NULL  # options: of the mark price, percent
    underlying_price: Raw = _NULL  # options: price of the underlying
    underlying_index: str | None = None  # options: the underlying future or index
    greeks: Greeks | None = None  # options only


class Instrument(msgspec.Struct, gc=False):
    """One row of ``public/get_instruments``."""

    instrument_name: str
    kind: str  # future | option | spot | future_combo | option_combo
    base_currency: str
    quote_currency: str  # premium currency: BTC for BTC options (inverse)
    settlement_currency: str | None = None  # absent in 2021 responses
    counter_currency: str | None = None  # strike/index currency (USD) on newer responses
    expiration_timestamp: int | None = None  # ms


class Instruments(msgspec.Struct, gc=False):
    result: list[Instrument]


envelope = msgspec.json.Decoder(Envelope)
subscription = msgspec.json.Decoder(Subscription)
heartbeat = msgspec.json.Decoder(Heartbeat)
rpc_error = msgspec.json.Decoder(RpcError)
book = msgspec.json.Decoder(Book)
grouped_book = msgspec.json.Decoder(GroupedBook)
trades = msgspec.json.Decoder(list[TradeRow])
quote = msgspec.json.Decoder(Quote)
instruments = msgspec.json.Decoder(Instruments)
ticker = msgspec.json.Decoder(Ticker)
