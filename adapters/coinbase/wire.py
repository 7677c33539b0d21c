"""Coinbase wire contracts (Advanced Trade and the legacy Exchange feed) and shared helpers.

Both Coinbase adapters (``adapters.coinbase`` for Advanced Trade, ``adapters.coinbase_exchange``
for the legacy Exchange / Pro feed) decode into these structs; decoding *is* validation.
Every price and size stays the exact text Coinbase sent (both feeds send decimal strings).

Helpers here are shared by the two Coinbase adapters only: ``parse_rfc3339_ns`` (what
a Coinbase time means, on top of ``collector.wire_time``) and ``TradeFilter`` (trade-id
dedupe across reconnects).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.wire_time import rfc3339_ns

# --- Advanced Trade --------------------------------------------------------------------
# Written from https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
# and the hand-maintained AsyncAPI checked against production,
# https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/advanced-trade-asyncapi.json
# (no ``client_id``; ``heartbeat_counter`` is an integer; ``ticker_batch`` omits best bid/ask).


class AtEnvelope(msgspec.Struct, gc=False):
    """Every Advanced Trade frame: ``{channel, timestamp, sequence_num, events[]}``, or an error.

    Docs: https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-overview
    ``sequence_num`` counts every message of the connection across channels, from 0.
    Errors come as ``{"type":"error","message":"..."}`` without ``channel``.
    """

    channel: str | None = None  # l2_data, market_trades, ticker, heartbeats, subscriptions...
    timestamp: str | None = None  # RFC3339 send time, ns fraction
    sequence_num: int | None = None  # per connection, +1 per message
    events: msgspec.Raw = msgspec.Raw()  # decoded per channel
    type: str | None = None  # "error" on error frames
    message: str | None = None  # error text


class AtL2Update(msgspec.Struct, gc=False):
    """One level of an ``l2_data`` event (docs: websocket-channels#level2-channel)."""

    side: Literal["bid", "offer"]
    event_time: str  # RFC3339, µs fraction (trailing zeros trimmed)
    price_level: str
    new_quantity: str  # absolute; "0" deletes the level


class AtL2Event(msgspec.Struct, gc=False):
    """``level2`` subscription, delivered on channel ``l2_data``: a snapshot, then updates."""

    type: Literal["snapshot", "update"]
    product_id: str
    updates: list[AtL2Update]


class AtTrade(msgspec.Struct, gc=False):
    """One ``market_trades`` trade (docs: websocket-channels#market-trades-channel).

    ``side`` is the MAKER's side, measured on the 2026 recording (see ``adapters.coinbase``).
    """

    trade_id: str
    product_id: str
    price: str
    size: str
    side: Literal["BUY", "SELL"]
    time: str  # RFC3339 trade time


class AtTradesEvent(msgspec.Struct, gc=False):
    type: Literal["snapshot", "update"]  # snapshot = recent trades sent on subscribe
    trades: list[AtTrade]


class AtTicker(msgspec.Struct, gc=False):
    """``ticker``/``ticker_batch`` entry (docs: websocket-channels#ticker-channel).

    ``best_*`` are absent on ``ticker_batch`` in production (AsyncAPI note).
    """

    product_id: str
    best_bid: str = ""
    best_bid_quantity: str = ""
    best_ask: str = ""
    best_ask_quantity: str = ""


class AtTickerEvent(msgspec.Struct, gc=False):
    type: Literal["snapshot", "update"]
    tickers: list[AtTicker]


class AtHeartbeat(msgspec.Struct, gc=False):
    """``heartbeats``: one a second, ``current_time`` is Go's ``time.String()`` text."""

    heartbeat_counter: int | str  # an integer in production, a string in the prose docs
    current_time: str = ""


# --- Advanced Trade REST (instrument sidecar) ---------------------------------------------


class AtFutureDetails(msgspec.Struct, gc=False):
    """``future_product_details`` of ``GET /api/v3/brokerage/market/products``.

    Docs: https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/public/list-public-products
    """

    contract_root_unit: str = ""  # underlying, e.g. BTC
    contract_expiry: str = ""  # RFC3339 expiry
    contract_expiry_type: str = ""  # EXPIRING | PERPETUAL | UNKNOWN_CONTRACT_EXPIRY_TYPE


class AtProduct(msgspec.Struct, gc=False):
    product_id: str
    base_currency_id: str = ""
    quote_currency_id: str = ""
    product_type: str = ""  # SPOT | FUTURE
    future_product_details: AtFutureDetails | None = None


class AtProducts(msgspec.Struct, gc=False):
    products: list[AtProduct]


# --- Coinbase Exchange (legacy ws-feed) --------------------------------------------------
# Written from https://docs.cdp.coinbase.com/exchange/websocket-feed/channels and
# https://docs.cdp.coinbase.com/exchange/websocket-feed/overview


class ExMessage(msgspec.Struct, gc=False):
    """Every legacy frame is one flat object tagged by ``type``; fields depend on it.

    ``snapshot``: ``bids``/``asks`` ``[[price, size]]``; ``l2update``: ``changes``
    ``[[side, price, size]]`` with side ``buy``/``sell`` and absolute size, and ``time``;
    ``match``/``last_match``: ``trade_id``, ``side`` (the MAKER order's side), ``price``,
    ``size``, ``time``; ``ticker``: ``best_bid``/``best_ask`` (sizes only on newer feeds).
    """

    type: str
    product_id: str | None = None
    time: str | None = None
    bids: list[tuple[str, str]] | None = None
    asks: list[tuple[str, str]] | None = None
    changes: list[tuple[Literal["buy", "sell"], str, str]] | None = None
    trade_id: int | str | None = None
    side: Literal["buy", "sell"] | None = None
    price: str | None = None
    size: str | None = None
    best_bid: str | None = None
    best_bid_size: str | None = None
    best_ask: str | None = None
    best_ask_size: str | None = None
    message: str | None = None  # error text
    reason: str | None = None  # error detail


class ExProduct(msgspec.Struct, gc=False):
    """``GET /products`` row (https://docs.cdp.coinbase.com/exchange/reference/exchangerestapi_getproducts)."""

    id: str
    base_currency: str = ""
    quote_currency: str = ""


# --- shared helpers -------------------------------------------------------------------------


def parse_rfc3339_ns(text: str | None) -> int | None:
    """Coinbase time -> exact ns (``collector.wire_time``); None for absent or unusable text.

    Fractions longer than 9 digits are truncated to ns. Year 1 (``0001-01-01T00:00:00Z``,
    which the legacy feed sometimes sends in an otherwise valid ``l2update``) and anything
    before 1970 mean "no time": None.
    """
    if not text:
        return None
    try:
        ns = rfc3339_ns(text, truncate=True)
    except ValueError:
        return None
    return ns if ns >= 0 else None


class TradeFilter:
    """Admits each trade once per product, by numeric trade id, across reconnects.

    Both feeds replay recent trades on subscribe (Advanced Trade: a ``snapshot`` event
    of up to 100 trades; Exchange: one ``last_match``). Those that happened before the
    first subscription of a product are history from before this session and are not
    emitted (a restarted collector would write them twice); after a reconnect, the
    replayed trades newer than the last one seen fill the gap, and older ones are
    dropped, as are the second copies of a make-before-break switch-over. Trade ids
    that are not integers cannot be ordered and are always admitted from live updates.
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def admit(self, product: str, trade_ids: list[str], replay: bool) -> list[bool]:
        """Which of one batch's trades (all of ``product``) to emit; updates the high mark."""
        last = self._last.get(product)
        ids = [int(t) if t.isdigit() else None for t in trade_ids]
        known = [i for i in ids if i is not None]
        if known:
            self._last[product] = max(known) if last is None else max(last, *known)
        if replay and last is None:
            return [False] * len(ids)
        return [
            (i is None and not replay) or (i is not None and (last is None or i > last))
            for i in ids
        ]
