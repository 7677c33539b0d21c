"""Gemini market data v2 (``wss://api.gemini.com/v2/marketdata``).

Sans-I/O: describes connections and decodes frames; the wire contract is in
``adapters.gemini.wire`` (the module docstring names the documentation pages).

Books: one ``l2`` subscription per connection lists its symbols. The first
``l2_updates`` of a symbol on a connection is its whole book (alignment case 2, an
in-band snapshot), every later one the changed levels. Nothing carries an id, so the
adapter tells the two apart by counting per (connection, symbol), numbers the book
messages itself (snapshot 1, then 2, 3, ...) and ``NoSequenceRule`` applies: the
crossed-book check is the only check Gemini allows, and a reconnect (the resync) starts
over with a new whole book.

Trades: ``trade`` events carry the taker's ``side``; the id is ``tid`` where sent (2026)
and ``event_id`` before. The ``trades`` inside a symbol's first ``l2_updates`` are
history (days old in the 2026 recording, partly stored by the previous connection):
never mixed into the live tape. Gemini v2 has no best bid/offer stream.

Markets come from ``/v1/symbols/details`` where loaded (``BTCUSDCPERP`` is a ``swap``:
``BTC-USDC-PERP``), else from the symbol: a ``PERP`` suffix, then the quote codes.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import msgspec

from adapters.gemini import wire as w
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
from collector.markets import split_quote
from collector.model import (
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    Message,
    Trade,
    sample,
)

URL = "wss://api.gemini.com/v2/marketdata"
SYMBOLS_URL = "https://api.gemini.com/v1/symbols"
DETAILS_PATH = "/v1/symbols/details/"
#: ``BTCUSD``, ``ETHUSDCPERP``, ``2ZGUSD``: upper case as the feed writes them.
SYMBOLS = grammar(r"[A-Z0-9]+", "upper-case BASEQUOTE", "BTCUSD", "BTCUSDCPERP")
#: Gemini documents no per-connection symbol limit; this bounds one connection's books.
MAX_SYMBOLS_PER_CONNECTION = 50
#: One subscribe message per connection; no client message rate is published.
MAX_MESSAGES_PER_SECOND = 1.0
#: No documented connection lifetime: roll over daily like the other venues.
LIFETIME_S = 24 * 3600.0
#: Public REST: 120 requests per minute (docs.gemini.com/rest-api/#rate-limits).
REST_WEIGHT_PER_MINUTE = 120
#: Quote codes, longer ones before their suffixes.
QUOTES = ("RLUSD", "GUSD", "USDC", "USDT", "USD", "EUR", "GBP", "SGD", "DAI", "BTC", "ETH")
QUOTES += ("BCH", "LTC", "SOL", "FIL")
_SERVED = ("book", "trades")


class GeminiAdapter:
    """Decoder and connection planner for Gemini market data v2."""

    slug = "gemini"
    sequence_rule: SequenceRule = NoSequenceRule()
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
    symbol_grammar = SYMBOLS
    #: Market data v2 has no best bid/offer stream (v1's top-of-book feed is another
    #: protocol): the config refuses ``bbo`` here rather than watch a silent stream.
    market_channels = ("book", "trades")

    def __init__(self) -> None:
        self.listings = Listings()
        self._markets: dict[str, str] = {}
        self._books = MessageCounts()

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = _market(symbol)
        return name

    def instrument_requests(self) -> list[RestRequest]:
        """The symbol list; per-symbol details (one request each) only refine market names,
        which the symbol itself gives: they are decoded when present, never fetched."""
        return [RestRequest(SYMBOLS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # the first l2_updates on a connection is the whole book

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One ``l2`` subscription per connection: it carries books and trades alike."""
        plans = []
        for chunk in symbols_per_connection(subscriptions, MAX_SYMBOLS_PER_CONNECTION, _SERVED):
            symbols = list(dict.fromkeys(s.symbol for s in chunk))
            request = {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": symbols}]}
            plans.append(
                ConnectionPlan(
                    url=URL,
                    subscribe=[json.dumps(request, separators=(",", ":"))],
                    subscriptions=chunk,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                )
            )
        return plans

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Gemini sends no checksum

    def connected(self, conn: int, url: str) -> None:
        self._books.forget(conn)

    # -- decoding ---------------------------------------------------------------------

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.type == "l2_updates":
                return [self._book(w.l2_updates.decode(frame), ts_recv, conn)]
            if env.type == "trade":
                t = w.trade.decode(frame)
                trade_id = str(t.tid if t.tid is not None else t.event_id)
                ts_ex = _ns(t.timestamp)
                return [Trade(t.symbol, ts_ex, ts_recv, trade_id, t.side, t.price, t.quantity)]
            if env.type == "heartbeat":
                w.heartbeat.decode(frame)
                return [Control("heartbeat", ts_recv, "heartbeat")]
            if env.result == "error":
                return [Control("error", ts_recv, f"{env.reason}: {env.message}")]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _book(self, u: w.L2Updates, ts: int, conn: int) -> Message:
        bids = [(p, q) for side, p, q in u.changes if side == "buy"]
        asks = [(p, q) for side, p, q in u.changes if side == "sell"]
        n = self._books.next(conn, u.symbol)
        if n == 1:  # the first on this connection: the whole book (no exchange time)
            return BookSnapshot(u.symbol, None, ts, n, bids, asks, True)
        return BookDelta(u.symbol, None, ts, n, n, None, bids, asks)

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path.rstrip("/")
        try:
            if path.endswith("/v1/symbols"):
                names = w.symbols.decode(body)
                self.listings.add(name.upper() for name in names)
                return [Control("ignored", ts_recv, f"symbols: {len(names)}")]
            if DETAILS_PATH in path:
                d = w.details.decode(body)
                base, quote = d.base_currency, d.quote_currency
                perp = d.product_type == "swap"
                self._markets[d.symbol] = f"{base}-{quote}-PERP" if perp else f"{base}-{quote}"
                return [Control("ignored", ts_recv, f"details of {d.symbol}")]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]


def _market(symbol: str) -> str:
    """The market a symbol's own letters give (module docstring); else the symbol."""
    perp = symbol.endswith("PERP")
    split = split_quote(symbol[:-4] if perp else symbol, QUOTES)
    if split is None:
        return symbol
    base, quote = split
    return f"{base}-{quote}-PERP" if perp else f"{base}-{quote}"


def _ns(ms: int) -> int:
    return ms * 1_000_000
