"""Kraken Futures (Derivatives WebSocket v1, ``wss://futures.kraken.com/ws/v1``).

Sans-I/O: describes connections and decodes frames; the wire contract is in
``adapters.kraken_futures.wire`` (each struct names the documentation page it follows).

Books: ``book`` starts with an in-band ``book_snapshot`` and then sends one ``book``
message per changed level, each with the product's ``seq``: the first one after the
snapshot has the snapshot's ``seq`` + 1, and every later one the previous + 1
(docs.kraken.com/exchange/api-reference/futures-websocket/book). That is
``FirstLastRule`` with ``first_id = last_id = seq``. Resync is by resubscribing
(``snapshot_request`` is ``None``): a new connection starts with snapshots.

Trades: ``trade_snapshot`` (recent trades, sent on subscribe, partly before the
connection) is history and is not mixed into the live tape; ``trade`` rows are stored
with ``uid`` as the trade id and ``side`` the taker's. A trade of type
``liquidation`` is also a ``Liquidation``: the liquidated position's order is the
taker, so the liquidation order's side is the trade's ``side``.

``ticker`` serves both ``bbo`` (bid/ask with sizes) and ``derivative_ticker`` (mark,
index, last, open interest; on perpetuals the relative funding rate, its prediction
and the next funding time). ``ticker_lite`` (no sizes, no mark) is understood and not
stored. Markets: ``PI_XBTUSD`` / ``PF_XBTUSD`` -> ``BTC-USD-PERP``, ``FI_XBTUSD_210730``
/ ``FF_XBTUSD_210730`` -> ``BTC-USD-20210730`` (``XBT`` is Kraken's BTC).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import msgspec

from adapters.kraken_futures import wire as w
from collector.adapter import (
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import FirstLastRule, SequenceRule
from collector.json_numbers import json_decimal, json_number
from collector.markets import split_quote
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Liquidation,
    Message,
    Trade,
    sample,
)

URL = "wss://futures.kraken.com/ws/v1"
INSTRUMENTS_URL = "https://futures.kraken.com/derivatives/api/v3/instruments"
#: ``PI_XBTUSD``, ``PF_ETHUSD``, ``FI_XBTUSD_210730``, ``FF_XBTUSD_260925``: upper case as
#: the feeds write ``product_id`` (the 2021 instrument list wrote them lower case).
SYMBOLS = grammar(
    r"[A-Z]{2}_[A-Z0-9]+(?:_[0-9]{6})?",
    "upper-case PREFIX_PAIR or PREFIX_PAIR_YYMMDD",
    "PI_XBTUSD",
    "FI_XBTUSD_210730",
)
#: No documented subscription limit per connection; this bounds one connection's
#: traffic (a full book per product). Our choice, not Kraken's.
MAX_SYMBOLS_PER_CONNECTION = 50
#: No published client message rate; stay well below the spot API's.
MAX_MESSAGES_PER_SECOND = 2.0
#: No documented connection lifetime: roll over daily like the other venues.
LIFETIME_S = 24 * 3600.0
#: Asset codes Kraken spells differently from the rest of the world.
ALIASES = {"XBT": "BTC"}
QUOTES = ("USDC", "USDT", "USD", "EUR", "GBP")
_PERPETUAL = ("PI", "PF")
_DATED = ("FI", "FF")
_FEEDS = {
    "book": "book",
    "trades": "trade",
    "bbo": "ticker",
    "derivative_ticker": "ticker",
    "liquidations": "trade",
}


class KrakenFuturesAdapter:
    """Decoder and connection planner for Kraken Futures."""

    slug = "kraken-futures"
    sequence_rule: SequenceRule = FirstLastRule()
    #: Public REST has no published budget; only the instrument list is fetched.
    rest_weight_per_minute: int | None = None
    symbol_grammar = SYMBOLS
    derivative_channels = ("derivative_ticker", "liquidations")

    def __init__(self) -> None:
        self.listings = Listings()
        self._markets: dict[str, str] = {}

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = _market(symbol)
        return name

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(INSTRUMENTS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # in-band snapshot on every (re)subscribe

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One ``subscribe`` per feed listing its products, plus the ``heartbeat`` feed.

        The heartbeat feed keeps an idle connection's silence distinguishable from a
        dead one; websocket-level pings (sent by the transport) keep it open.
        """
        plans = []
        for subs in symbols_per_connection(subscriptions, MAX_SYMBOLS_PER_CONNECTION, _FEEDS):
            by_feed: dict[str, list[str]] = {}
            for sub in subs:
                products = by_feed.setdefault(_FEEDS[sub.channel], [])
                if sub.symbol not in products:
                    products.append(sub.symbol)
            frames = [_frame({"event": "subscribe", "feed": "heartbeat"})]
            frames += [
                _frame({"event": "subscribe", "feed": feed, "product_ids": products})
                for feed, products in by_feed.items()
            ]
            plans.append(
                ConnectionPlan(
                    url=URL,
                    subscribe=frames,
                    subscriptions=subs,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                )
            )
        return plans

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # no checksum: the seq chain is the check

    def connected(self, conn: int, url: str) -> None:
        pass  # every message names its product

    # -- decoding ---------------------------------------------------------------------

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.event is not None:
                return _event(env, ts_recv, frame)
            if env.feed is not None:
                return self._feed(env.feed, frame, ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _feed(self, feed: str, frame: str | bytes, ts: int) -> list[Message]:
        if feed == "book":
            u = w.book.decode(frame)
            level = [(json_decimal(u.price), json_decimal(u.qty))]
            bids, asks = (level, []) if u.side == "buy" else ([], level)
            return [BookDelta(u.product_id, _ns(u.timestamp), ts, u.seq, u.seq, None, bids, asks)]
        if feed == "book_snapshot":
            s = w.book_snapshot.decode(frame)
            bids, asks = _levels(s.bids), _levels(s.asks)
            return [BookSnapshot(s.product_id, _ns(s.timestamp), ts, s.seq, bids, asks, True)]
        if feed == "trade":
            return _trade(w.trade.decode(frame), ts)
        if feed == "trade_snapshot":
            # History sent on subscribe, partly from before this connection and partly
            # stored by the previous one: never mixed into the live tape.
            s = w.trade_snapshot.decode(frame)
            return [Control("ignored", ts, f"trade snapshot: {len(s.trades)} trades", s.product_id)]
        if feed == "ticker":
            return _ticker(w.ticker.decode(frame), ts)
        if feed == "ticker_lite":
            t = w.ticker_lite.decode(frame)
            return [Control("ignored", ts, "ticker_lite (no sizes)", t.product_id)]
        if feed == "heartbeat":
            return [Control("heartbeat", ts, feed)]
        return [DecodeFailed(f"unknown feed {feed!r}", ts, sample(frame), unknown=True)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        if not path.endswith("/instruments"):
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            reply = w.instruments.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        if reply.result != "success":
            return [Control("error", ts_recv, f"{path}: {reply.error}")]
        # The feeds write product ids upper case; the 2021 list wrote them lower case.
        self.listings.add(row.symbol.upper() for row in reply.instruments if row.tradeable)
        return [Control("ignored", ts_recv, f"instruments loaded: {len(reply.instruments)}")]


def _event(env: w.Envelope, ts: int, frame: str | bytes) -> list[Message]:
    event = env.event
    products = ",".join(env.product_ids or ())
    if event in ("subscribed", "unsubscribed"):
        return [Control("ack", ts, f"{event} {env.feed} {products}")]
    if event in ("subscribed_failed", "unsubscribed_failed", "error"):
        return [Control("error", ts, f"{event} {env.feed or ''} {products} {env.message or ''}")]
    if event == "info":
        return [Control("ignored", ts, f"info version {env.version}")]
    if event == "alert":
        return [Control("error", ts, f"alert: {env.message}")]
    return [DecodeFailed(f"unknown event {event!r}", ts, sample(frame), unknown=True)]


def _trade(t: w.TradeRow, ts: int) -> list[Message]:
    price, qty, ts_ex = json_decimal(t.price), json_decimal(t.qty), _ns(t.time)
    out: list[Message] = [Trade(t.product_id, ts_ex, ts, t.uid, t.side, price, qty)]
    if t.type == "liquidation":
        out.append(Liquidation(t.product_id, ts_ex, ts, t.uid, t.side, price, qty))
    return out


def _ticker(t: w.Ticker, ts: int) -> list[Message]:
    ts_ex = _ns(t.time)
    out: list[Message] = []
    quote = [json_number(r) for r in (t.bid, t.bid_size, t.ask, t.ask_size)]
    bp, bs, ap, as_ = quote
    if bp and bs and ap and as_ and bp.strip("0.") and ap.strip("0."):
        out.append(BestBidAsk(t.product_id, ts_ex, ts, None, bp, bs, ap, as_))
    funding_time = t.next_funding_rate_time
    out.append(
        DerivativeTicker(
            t.product_id,
            ts_ex,
            ts,
            mark_price=json_number(t.markPrice),
            index_price=json_number(t.index),
            last_price=json_number(t.last),
            open_interest=json_number(t.openInterest),
            funding_rate=json_number(t.relative_funding_rate),
            predicted_funding_rate=json_number(t.relative_funding_rate_prediction),
            funding_time=_ns(funding_time) if funding_time else None,
        )
    )
    return out


def _levels(levels: list[w.Level]) -> list[tuple[str, str]]:
    return [(json_decimal(x.price), json_decimal(x.qty)) for x in levels]


def _market(symbol: str) -> str:
    """Normalized market (module docstring); unknown shapes keep the native name."""
    prefix, _, rest = symbol.partition("_")
    pair, _, expiry = rest.partition("_")
    split = split_quote(pair, QUOTES)
    if split is None:
        return symbol
    base, quote = (ALIASES.get(code, code) for code in split)
    if prefix in _PERPETUAL and not expiry:
        return f"{base}-{quote}-PERP"
    if prefix in _DATED and len(expiry) == 6 and expiry.isdigit():
        return f"{base}-{quote}-20{expiry}"
    return symbol


def _frame(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


def _ns(ms: int) -> int:
    return ms * 1_000_000
