"""Hyperliquid public websocket (``wss://api.hyperliquid.xyz/ws``).

Sans-I/O: describes connections and decodes frames; the wire contract is in
``adapters.hyperliquid.wire`` (the module docstring names the documentation pages).

Books: ``l2Book`` sends the whole book (20 aggregated levels a side) in every message,
with no update id: alignment case 3, each message one in-band ``BookSnapshot`` that
replaces the book. Nothing can go missing between two of them, so ``NoSequenceRule``
holds and a lost message costs only that state. ``time`` (ms) is no id: the book sent on
subscribe and the first push repeat it. The adapter numbers each coin's books per
connection instead (1, 2, ...; a new connection starts over, with a new full book), and
that number is the ``seq`` column.

Trades: ``trades`` rows carry ``tid`` (the trade id) and ``side``, the aggressor's:
``B`` (the taker bought) is ``buy``, ``A`` (sold) is ``sell``. The first push after
subscribing repeats recent trades (in the recording 30 trades from the 49 s before):
real trades, stored, but after a reconnect they would be stored twice. The adapter
remembers the last ``SEEN_TRADES`` (``tid``, ``time``) per coin (``tid`` is unique only
with its time) and drops repeats, so a resubscription adds no duplicate. ``bbo``
gives the best bid/offer; ``activeAssetCtx`` a perpetual's mark, oracle (index) price,
open interest and hourly funding rate, with no exchange time.

Symbols are Hyperliquid's coin names: ``BTC``, ``kPEPE`` (perpetuals, margined and
quoted in USDC: ``BTC-USDC-PERP``), ``PURR/USDC`` or ``@107`` (spot; the ``@`` names
need the spot metadata, which is only served by POST, so they keep their name), and
``xyz:HOOD`` (builder-deployed perpetuals, kept as named). Instrument lists come from
``POST /info``, which a ``RestRequest`` (GET) cannot express: there are none, and
``listed`` abstains.
"""

from __future__ import annotations

import json

import msgspec

from adapters.hyperliquid import wire as w
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
from collector.model import (
    BestBidAsk,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Message,
    Trade,
    sample,
)

URL = "wss://api.hyperliquid.xyz/ws"
#: ``BTC``, ``kPEPE``, ``@107``, ``PURR/USDC``, ``xyz:HOOD``.
SYMBOLS = grammar(
    r"k?[A-Z0-9]+|@[0-9]+|[A-Z0-9]+/[A-Z0-9]+|[a-z]+:[A-Z0-9]+",
    "a coin name in upper case (kPEPE, @107, PURR/USDC and xyz:HOOD forms too)",
    "BTC",
    "kPEPE",
)
#: "2000 messages sent to Hyperliquid per minute across all websocket connections";
#: each subscription is one message: stay well below (rate-limits-and-user-limits).
MAX_MESSAGES_PER_SECOND = 10.0
#: "1000 websocket subscriptions" per IP (same page); per connection our own bound.
MAX_SYMBOLS_PER_CONNECTION = 50
#: No documented connection lifetime: roll over daily like the other venues.
LIFETIME_S = 24 * 3600.0
#: The server closes a connection it has sent nothing on for 60 s (heartbeats page).
APP_PING = '{"method":"ping"}'
APP_PING_INTERVAL_S = 30.0
_TYPES = {
    "book": "l2Book",
    "trades": "trades",
    "bbo": "bbo",
    "derivative_ticker": "activeAssetCtx",
}
_SIDES = {"B": "buy", "A": "sell"}
#: Trades remembered per coin to recognise a resubscription's repeats (a few seconds' worth
#: on the busiest coins is more than the repeat, which is the venue's last trades).
SEEN_TRADES = 2000


class HyperliquidAdapter:
    """Decoder and connection planner for Hyperliquid."""

    slug = "hyperliquid"
    sequence_rule: SequenceRule = NoSequenceRule()
    rest_weight_per_minute: int | None = None  # no REST requests are made
    symbol_grammar = SYMBOLS
    derivative_channels = ("derivative_ticker",)

    def __init__(self) -> None:
        self.listings = Listings()  # stays empty: the lists are POST-only
        self._books = MessageCounts()
        self._seen: dict[str, dict[tuple[int, int], None]] = {}  # coin -> (tid, time), in order

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        if "/" in symbol:
            return symbol.replace("/", "-")
        if SYMBOLS.accepts(symbol) and symbol[0].isalnum() and ":" not in symbol:
            return f"{symbol}-USDC-PERP"
        return symbol

    def instrument_requests(self) -> list[RestRequest]:
        return []  # POST /info only; see the module docstring

    def listed(self, symbol: str) -> bool | None:
        return None

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # every l2Book message is a full book

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One ``subscribe`` message per (type, coin), ``{"method":"ping"}`` as app ping."""
        plans = []
        for chunk in symbols_per_connection(subscriptions, MAX_SYMBOLS_PER_CONNECTION, _TYPES):
            keys = dict.fromkeys((_TYPES[s.channel], s.symbol) for s in chunk)
            frames = [
                json.dumps(
                    {"method": "subscribe", "subscription": {"type": kind, "coin": coin}},
                    separators=(",", ":"),
                )
                for kind, coin in keys
            ]
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

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # full books: nothing to verify against

    def connected(self, conn: int, url: str) -> None:
        self._books.forget(conn)

    # -- decoding ---------------------------------------------------------------------

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.channel == "l2Book":
                b = w.book.decode(env.data)
                n = self._books.next(conn, b.coin)
                bids, asks = ([(x.px, x.sz) for x in side] for side in b.levels)
                return [BookSnapshot(b.coin, _ns(b.time), ts_recv, n, bids, asks, True)]
            if env.channel == "trades":
                return self._trades(w.trades.decode(env.data), ts_recv)
            return _push(env.channel, env.data, ts_recv, frame)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _trades(self, rows: list[w.TradeRow], ts: int) -> list[Message]:
        out: list[Message] = []
        repeated = 0
        for t in rows:
            seen = self._seen.setdefault(t.coin, {})
            if (t.tid, t.time) in seen:
                repeated += 1
                continue
            seen[t.tid, t.time] = None
            if len(seen) > SEEN_TRADES:
                del seen[next(iter(seen))]
            out.append(Trade(t.coin, _ns(t.time), ts, str(t.tid), _SIDES[t.side], t.px, t.sz))
        if repeated:
            out.append(Control("ignored", ts, f"{repeated} trades already received"))
        return out

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        return [DecodeFailed(f"unknown REST endpoint {url}", ts_recv, sample(body), True)]


def _push(channel: str, data: msgspec.Raw, ts: int, frame: str | bytes) -> list[Message]:
    if channel == "bbo":
        q = w.bbo.decode(data)
        bid, ask = q.bbo
        if bid is None or ask is None:
            return [Control("ignored", ts, "one-sided bbo", q.coin)]
        return [BestBidAsk(q.coin, _ns(q.time), ts, None, bid.px, bid.sz, ask.px, ask.sz)]
    if channel == "activeAssetCtx":
        a = w.asset_ctx.decode(data)
        c = a.ctx
        return [
            DerivativeTicker(
                a.coin,
                None,  # the push has no time
                ts,
                mark_price=c.markPx,
                index_price=c.oraclePx,
                open_interest=c.openInterest,
                funding_rate=c.funding,
            )
        ]
    if channel == "pong":
        return [Control("heartbeat", ts, "pong")]
    if channel == "subscriptionResponse":
        r = w.subscription_response.decode(data)
        sub = r.subscription
        return [Control("ack", ts, f"{r.method} {sub.get('type')} {sub.get('coin')}")]
    if channel == "error":
        return [Control("error", ts, w.error.decode(data))]
    return [DecodeFailed(f"unknown channel {channel!r}", ts, sample(frame), unknown=True)]


def _ns(ms: int) -> int:
    return ms * 1_000_000
