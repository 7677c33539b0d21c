"""Upbit spot: ``orderbook`` (the whole book in every message) and ``trade``.

Sans-I/O. Written from Upbit's global docs (https://global-docs.upbit.com/reference/,
read 2026-12-07), wire structs in ``adapters/upbit/wire.py``:

* Connect to ``wss://api.upbit.com/websocket/v1`` and send one request, a JSON array:
  a ``ticket`` (any name of the client's), one object per data type with its ``codes``,
  and the ``format``. The plan asks for ``DEFAULT`` (full field names); the 2021
  recording asked for ``SIMPLE`` (abbreviations). Both are decoded.
* Every answer arrives in a **binary** websocket frame holding plain JSON: nothing to
  inflate (``frame_encoding`` is ``text``), the adapter decodes the bytes as they are.
* The server closes a connection idle for 120 s; a client keeps it up by sending the text
  ``PING`` (answered ``{"status":"UP"}``): the plan sends one every 60 s.
* ``orderbook``: the whole book, 15 level pairs (``orderbook_units``: ask and bid
  at each rank), in every message: engine case 3. No update id comes with it: ``seq``
  numbers a symbol's books on their connection (``collector.adapter.MessageCounts``).
* ``bbo``: Upbit has no best bid/offer stream; the first unit of each ``orderbook``
  message is the best bid and ask it states, so ``bbo`` subscribes the orderbook and
  every orderbook message also gives a ``BestBidAsk``.
* ``trade``: ``ask_bid`` is the taker's side (``BID`` bought, ``ASK`` sold);
  ``sequential_id`` is the trade's unique id (the docs warn it is not ordered). Trades
  are asked for ``is_only_realtime``: the ``SNAPSHOT`` trade a subscription otherwise
  starts with is the last one already published (a duplicate after every reconnect),
  and is ignored if it comes anyway.
* Limits ("WebSocket" rate limits): 5 connections a second and 5 requests a second
  (100 a minute) per IP; no cap on codes per request is documented: the 100 below is
  this project's choice, as is the day-long connection lifetime.
"""

from __future__ import annotations

import msgspec

from adapters.upbit import wire
from collector.adapter import (
    ConnectionPlan,
    Listings,
    MessageCounts,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import NoSequenceRule, SequenceRule
from collector.decimal_text import InvalidDecimalText
from collector.json_numbers import json_decimal
from collector.model import (
    BestBidAsk,
    BookSnapshot,
    Control,
    DecodeFailed,
    Message,
    Trade,
    sample,
)

WS_URL = "wss://api.upbit.com/websocket/v1"
MARKETS_URL = "https://api.upbit.com/v1/market/all"
TICKET = "collector"  # names the client's request; Upbit asks only that it be set
APP_PING = "PING"
APP_PING_INTERVAL_S = 60.0  # the server closes after 120 s idle
SYMBOLS_PER_CONNECTION = 100  # our choice: no documented cap
MAX_MESSAGES_PER_SECOND = 5.0  # docs: 5 websocket requests a second per IP
LIFETIME_S = 24 * 3600.0  # our choice: no documented lifetime
#: Quotation REST: 10 requests a second per IP (docs "Rate Limits"); we spend half.
REST_WEIGHT_PER_MINUTE = 300
#: ``KRW-BTC``, ``BTC-ETH``, ``USDT-BTC``: quote currency first.
SYMBOLS = grammar(r"[A-Z]+-[A-Z0-9]+", "QUOTE-BASE in capitals", "KRW-BTC", "BTC-ETH")
#: Upbit's data type for each channel: ``bbo`` rides on the orderbook (its first unit).
_TYPES = {"book": "orderbook", "bbo": "orderbook", "trades": "trade"}
_SIDES = {"BID": "buy", "ASK": "sell"}
#: Trades only as they happen: the ``SNAPSHOT`` trade is the last one already published.
_ONLY: dict[str, dict[str, object]] = {"trade": {"is_only_realtime": True}}
_errors = (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText)


class UpbitAdapter:
    """Planner and decoder for Upbit's public websocket."""

    slug = "upbit"
    frame_encoding = "text"  # binary frames of plain JSON
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.sequence_rule: SequenceRule = NoSequenceRule()
        self.listings = Listings()
        self._numbers = MessageCounts()

    def market(self, symbol: str) -> str:
        quote, _, base = symbol.partition("-")
        return f"{base}-{quote}" if base else symbol

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(MARKETS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # every orderbook message is the whole book

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        plans = []
        for chunk in symbols_per_connection(subscriptions, SYMBOLS_PER_CONNECTION, _TYPES):
            request: list[dict[str, object]] = [{"ticket": TICKET}]
            for kind in dict.fromkeys(_TYPES.values()):
                codes = list(dict.fromkeys(s.symbol for s in chunk if _TYPES[s.channel] == kind))
                if codes:
                    request.append({"type": kind, "codes": codes, **_ONLY.get(kind, {})})
            request.append({"format": "DEFAULT"})
            plans.append(
                ConnectionPlan(
                    url=WS_URL,
                    subscribe=[msgspec.json.encode(request).decode()],
                    subscriptions=chunk,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                    app_ping=APP_PING,
                    app_ping_interval_s=APP_PING_INTERVAL_S,
                )
            )
        return plans

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Upbit sends no checksum

    def connected(self, conn: int, url: str) -> None:
        pass  # every message names its market

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = wire.envelope.decode(frame)
            if env.type == "orderbook":
                return self._book(wire.orderbook.decode(frame), ts_recv, conn)
            if env.ty == "orderbook":
                return self._book(wire.simple_orderbook.decode(frame), ts_recv, conn)
            if env.type == "trade":
                return [_trade(wire.trade.decode(frame), ts_recv)]
            if env.ty == "trade":
                return [_trade(wire.simple_trade.decode(frame), ts_recv)]
            if env.status == "UP":
                return [Control("heartbeat", ts_recv, "UP")]
            if env.error:
                return [Control("error", ts_recv, bytes(env.error).decode())]
        except _errors as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message", ts_recv, sample(frame), unknown=True)]

    def _book(self, book: wire.Orderbook, ts_recv: int, conn: int) -> list[Message]:
        """The whole book, and its first unit as the best bid/offer Upbit states."""
        bids, asks = [], []
        for unit in book.orderbook_units:
            bids.append((json_decimal(unit.bid_price), json_decimal(unit.bid_size)))
            asks.append((json_decimal(unit.ask_price), json_decimal(unit.ask_size)))
        ts = book.timestamp * 1_000_000
        number = self._numbers.next(conn, book.code)
        out: list[Message] = [BookSnapshot(book.code, ts, ts_recv, number, bids, asks, True)]
        if bids and asks:
            (bid, bid_size), (ask, ask_size) = bids[0], asks[0]
            out.append(BestBidAsk(book.code, ts, ts_recv, None, bid, bid_size, ask, ask_size))
        return out

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        """``/v1/market/all``: which markets Upbit lists."""
        if not url.split("?")[0].endswith("/v1/market/all"):
            return [DecodeFailed(f"unknown REST endpoint {url}", ts_recv, sample(body), True)]
        try:
            markets = wire.markets.decode(body)
        except _errors as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        self.listings.add(m.market for m in markets)
        return [Control("ignored", ts_recv, f"markets: {len(markets)}")]


def _trade(t: wire.Trade, ts_recv: int) -> Message:
    if t.stream_type == "SNAPSHOT":  # the last trade again, sent on subscribe
        return Control("ignored", ts_recv, f"{t.code}: the last trade, repeated on subscribe")
    side = _SIDES.get(t.ask_bid)
    if side is None:
        raise msgspec.ValidationError(f"ask_bid {t.ask_bid!r}")
    price, size = json_decimal(t.trade_price), json_decimal(t.trade_volume)
    ts = t.trade_timestamp * 1_000_000
    return Trade(t.code, ts, ts_recv, str(t.sequential_id), side, price, size)
