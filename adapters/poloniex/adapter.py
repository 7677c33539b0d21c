"""Poloniex spot, websocket API v3 (``wss://ws.poloniex.com/ws/public``).

Sans-I/O; the wire contract is ``adapters.poloniex.wire``.

The recording (2022-08) is this same v3 public websocket: Poloniex retired its legacy
numbered-channel API in 2022 and the spot ``book_lv2`` and ``trades`` shapes have not
changed since (today's docs and a 2026 capture of the stream agree with the recording
field for field), so the plan is today's and one decoder serves both. (Poloniex
*futures* v3 moved to ``lid``/``s``/``cT`` names; that is another market, not this slug.)

Books: ``book_lv2`` sends a top-20 ``snapshot`` on subscribe, then ``update``s whose
``lastId`` must equal the previous message's ``id`` (ids skip values); the docs say
that an update whose ``lastId`` is not the last message's ``id`` means the client lost
data and must resubscribe. That is ``PreviousIdRule`` with
``first_id = last_id = id`` and ``prev_id = lastId``; resync is by reconnecting. The
venue keeps the book at 20 levels (``depth``).

Trades: ``trades`` rows with a string ``id``; ``takerSide`` is the taker's side.
Best bid/ask: the ``book`` channel (top 5 levels, a whole snapshot at most every 100 ms),
of which the first level per side is kept. No recording carries it: it is tested on the
documentation's shape.

Heartbeat: the client sends ``{"event":"ping"}`` (answer ``{"event":"pong"}``); the
server closes a connection idle for 30 s.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import msgspec

from adapters.poloniex import wire as w
from collector.adapter import (
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import PreviousIdRule, SequenceRule
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    Message,
    Trade,
    sample,
)

URL = "wss://ws.poloniex.com/ws/public"
MARKETS_URL = "https://api.poloniex.com/markets"
#: Levels ``book_lv2`` keeps per side (docs: "snapshot of the full 20 level order book").
BOOK_DEPTH = 20
#: The server drops a connection without a client ping for 30 s (websocket basics).
APP_PING_INTERVAL_S = 10.0
APP_PING = json.dumps({"event": "ping"}, separators=(",", ":"))
#: Poloniex states no symbols-per-connection cap that we rely on; this is our bound.
#: Subscriptions go in one request per channel, so a connection sends very few.
MAX_SYMBOLS_PER_CONNECTION = 50
MAX_MESSAGES_PER_SECOND = 10.0
LIFETIME_S = 24 * 3600.0
#: Our REST budget: the adapter fetches only the markets list (Poloniex's public
#: market-data limits are far above this; not re-checked here).
REST_WEIGHT_PER_MINUTE = 600
SYMBOLS = grammar(r"[A-Z0-9]+_[A-Z0-9]+", "BASE_QUOTE in upper case", "BTC_USDT", "ETH_BTC")
_CHANNELS = {"book": "book_lv2", "trades": "trades", "bbo": "book"}


class PoloniexAdapter:
    """Decoder and connection planner for Poloniex spot."""

    slug = "poloniex"
    sequence_rule: SequenceRule = PreviousIdRule()
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.listings = Listings()
        self._markets: dict[str, str] = {}

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is not None:
            return name
        base, sep, quote = symbol.partition("_")
        return f"{base}-{quote}" if sep and base and quote else symbol

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(MARKETS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # in-band snapshot on every (re)subscribe

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One ``subscribe`` per channel naming every symbol of the connection."""
        plans = []
        for chunk in symbols_per_connection(subscriptions, MAX_SYMBOLS_PER_CONNECTION, _CHANNELS):
            frames = []
            for channel, name in _CHANNELS.items():
                symbols = list(dict.fromkeys(s.symbol for s in chunk if s.channel == channel))
                if symbols:
                    request = {"event": "subscribe", "channel": [name], "symbols": symbols}
                    frames.append(json.dumps(request, separators=(",", ":")))
            plans.append(
                ConnectionPlan(
                    url=URL,
                    subscribe=frames,
                    subscriptions=chunk,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                    app_ping=APP_PING,
                    app_ping_interval_s=APP_PING_INTERVAL_S,
                )
            )
        return plans

    # -- decoding ---------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Poloniex sends no checksum; the id/lastId chain is the check

    def connected(self, conn: int, url: str) -> None:
        pass  # every row names its symbol

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.channel == "book_lv2" and env.data:
                if env.action is None:
                    raise ValueError("book_lv2 push without action")
                return [_book(b, env.action, ts_recv) for b in w.books.decode(env.data)]
            if env.channel == "book" and env.data:
                return [_top(t, ts_recv) for t in w.tops.decode(env.data)]
            if env.channel == "trades" and env.data:
                return [
                    Trade(
                        t.symbol, _ns(t.createTime), ts_recv, t.id, t.takerSide, t.price, t.quantity
                    )
                    for t in w.trades.decode(env.data)
                ]
            if env.event == "pong":
                return [Control("heartbeat", ts_recv, "pong")]
            if env.event in ("subscribe", "unsubscribe"):
                return [Control("ack", ts_recv, f"{env.event} {env.channel}: {env.symbols}")]
            if env.event == "error":
                return [Control("error", ts_recv, env.message or "error")]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path.rstrip("/")
        if not path.endswith("/markets"):
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            rows = w.markets.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        for m in rows:
            self._markets[m.symbol] = f"{m.baseCurrencyName}-{m.quoteCurrencyName}"
        self.listings.add(m.symbol for m in rows)
        return [Control("ignored", ts_recv, f"markets loaded: {len(rows)}")]


def _book(b: w.Book, action: str, ts_recv: int) -> BookSnapshot | BookDelta:
    """A snapshot is the book as of its push (``ts``): its ``createTime`` is the book's last
    change, hours old on a quiet market. An update's ``createTime`` is its change."""
    if action == "snapshot":
        ts = _ns(b.ts)
        return BookSnapshot(b.symbol, ts, ts_recv, b.id, b.bids, b.asks, True, depth=BOOK_DEPTH)
    ts = _ns(b.createTime)
    return BookDelta(b.symbol, ts, ts_recv, b.id, b.id, b.lastId, b.bids, b.asks, depth=BOOK_DEPTH)


def _top(t: w.BookTop, ts_recv: int) -> Message:
    if not t.bids or not t.asks:
        return Control("ignored", ts_recv, f"one-sided book of {t.symbol}", t.symbol)
    (bp, bs), (ap, as_) = t.bids[0], t.asks[0]
    return BestBidAsk(t.symbol, _ns(t.createTime), ts_recv, None, bp, bs, ap, as_)


def _ns(ms: int) -> int:
    return ms * 1_000_000
