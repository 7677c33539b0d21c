"""Bybit v5 public market data (spot, linear, inverse, option), plus legacy v2 decoding.

Sans-I/O. Wire contract and doc URLs: ``adapters/bybit/wire.py``.

**Native symbols name their category**: ``linear:BTCUSDT``, ``spot:BTCUSDT``,
``inverse:BTCUSD``, ``option:BTC-26DEC25-100000-C``. Bybit serves each category on its
own URL (``/v5/public/{category}``) with the same topics, and spot and linear both have a
``BTCUSDT`` with different books; one engine keys books by native symbol, so the symbol
must say which market it is. Frames do not say it: the category of a connection comes
from the URL it was opened to (``connected(conn, url)``, called by the pipeline for every
``open`` record, live and in replay). A frame from a connection whose URL is unknown
cannot be attributed and is reported as ``DecodeFailed`` rather than guessed.

Book (``orderbook.{depth}.{symbol}``): an in-band ``snapshot`` then ``delta`` messages
whose ``u`` grows by exactly 1 (``FirstLastRule`` with ``first = last = u``); a later
snapshot, or a delta with ``u == 1`` (service restart), replaces the book. The venue keeps
the book at the subscribed depth. ``bbo`` is ``orderbook.1`` (its own ``u`` series, so
quotes carry ``seq=None``): documented as snapshot-only, but in 2023 Bybit sent level-1
``delta`` messages too (linear and spot), which change the side they name; the adapter
keeps each symbol's top of book to apply them. Timestamps: ``cts`` (matching engine) for
books, ``T`` for trades.

Legacy v2 (2021, ``/realtime_public`` = USDT perpetual, ``/realtime`` = inverse):
``orderBookL2_25`` levels keyed by ``id`` and ``trade``; decoded for old recordings
only. Its ``cross_seq`` increases per symbol but not by 1, so a delta covers
``(previous cross_seq, cross_seq]``: only repeats or regressions are detectable.
"""

from __future__ import annotations

import json
from decimal import InvalidOperation
from urllib.parse import urlsplit

import msgspec

from adapters.bybit.wire import (
    CATEGORIES,
    Envelope,
    LegacyDelta,
    LegacyLevel,
    LegacySnapshotWrapped,
    LegacySymbols,
    LegacyTrade,
    V5Book,
    V5Instruments,
    V5LegacyLiquidation,
    V5Liquidation,
    V5OptionTicker,
    V5Ticker,
    V5Trade,
    guess_market,
    instrument_market,
    legacy_levels,
    liquidation_order_side,
    plain_levels,
    raw_text,
    taker_side,
)
from collector.adapter import ConnectionPlan, Listings, RestRequest, Subscription, grammar
from collector.book.book import OrderBook, price_key
from collector.book.sequence import FirstLastRule, SequenceRule
from collector.decimal_text import size_is_zero
from collector.markets import option_terms
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Level,
    Liquidation,
    Message,
    OptionSummary,
    Trade,
    sample,
)

#: v5 instruments of a category (dated futures' delivery times); written as recorded.
INSTRUMENTS_URL = (
    "https://api.bybit.com/v5/market/instruments-info?&category={}&status=Trading&limit=1000"
)
WS_BASE = "wss://stream.bybit.com/v5/public/"
#: Legacy v2 URL paths -> category (decode only).
LEGACY_PATHS = {"/realtime_public": "linear", "/realtime": "inverse"}
#: Documented depths per category (v5 orderbook page); ``book`` uses DEFAULT_DEPTH.
DEPTHS = {"spot": (1, 50, 200, 1000), "option": (25, 100)}
DEPTHS["linear"] = DEPTHS["inverse"] = DEPTHS["spot"]
DEFAULT_DEPTH = {"spot": 200, "linear": 200, "inverse": 200, "option": 100}
#: v5 connect page, "Public channel - Args limits": at most 21,000 characters of "args"
#: per connection; spot takes at most 10 args per subscribe request; options at most
#: 2000 args per connection; futures have no count limit.
MAX_ARGS_CHARS = 21_000
SPOT_ARGS_PER_REQUEST = 10
OPTION_ARGS_PER_CONNECTION = 2000
#: Our own cap: a resync reconnects a whole connection (every book on it re-snapshots).
TOPICS_PER_CONNECTION = 200
ARGS_PER_REQUEST = 100  # non-spot, our choice (no documented count limit)
#: Not documented for public streams; subscribe frames and pings stay well below it.
MAX_MESSAGES_PER_SECOND = 5.0
#: v5 connect page: send {"op":"ping"} every 20 s.
PING = '{"op":"ping"}'
PING_INTERVAL_S = 20.0
#: No documented lifetime for public connections; roll over daily anyway.
LIFETIME_S = 24 * 3600.0
#: REST: 600 requests per 5 s per IP (v5 rate-limit page).
REST_PER_MINUTE = 600 * 12
_IGNORED = frozenset(
    (
        "kline",
        "kline_lt",
        "tickers_lt",
        "lt",
        "insurance",
        "priceLimit",
        "adlAlert",
        "instrument_info",  # legacy v2
        "klineV2",  # legacy v2
        "candle",  # legacy v2
    )
)

_envelope = msgspec.json.Decoder(Envelope)
_book = msgspec.json.Decoder(V5Book)
_trades = msgspec.json.Decoder(list[V5Trade])
_legacy_delta = msgspec.json.Decoder(LegacyDelta)
_legacy_list = msgspec.json.Decoder(list[LegacyLevel])
_legacy_wrapped = msgspec.json.Decoder(LegacySnapshotWrapped)
_legacy_trades = msgspec.json.Decoder(list[LegacyTrade])
_instruments = msgspec.json.Decoder(V5Instruments)
_legacy_symbols = msgspec.json.Decoder(LegacySymbols)
_ticker = msgspec.json.Decoder(V5Ticker)
_option_ticker = msgspec.json.Decoder(V5OptionTicker)
_liquidations = msgspec.json.Decoder(list[V5Liquidation])
_legacy_liquidation = msgspec.json.Decoder(V5LegacyLiquidation)
#: Our derivatives channel -> (Bybit topic prefix, the categories that serve it).
DERIVATIVE_TOPICS = {
    "derivative_ticker": ("tickers", ("linear", "inverse")),
    "liquidations": ("allLiquidation", ("linear", "inverse")),
    "options": ("tickers", ("option",)),
}


#: ``category:SYMBOL``: ``linear:BTCUSDT``, ``linear:BTCUSDT-26DEC25``,
#: ``option:BTC-26DEC25-100000-C``.
SYMBOLS = grammar(
    rf"(?:{'|'.join(CATEGORIES)}):[A-Z0-9]+(?:-[A-Z0-9]+)*",
    f"a category ({', '.join(CATEGORIES)}), a colon, then the upper-case symbol",
    "linear:BTCUSDT",
    "spot:BTCUSDT",
)


class BybitAdapter:
    """Decoder and connection planner for Bybit public market data (all categories)."""

    slug = "bybit"
    symbol_grammar = SYMBOLS
    sequence_rule: SequenceRule = FirstLastRule()
    rest_weight_per_minute: int | None = REST_PER_MINUTE
    derivative_channels = tuple(DERIVATIVE_TOPICS)

    def __init__(self, book_depth: dict[str, int] | None = None) -> None:
        self.book_depth = {**DEFAULT_DEPTH, **(book_depth or {})}
        for category, depth in self.book_depth.items():
            if depth not in DEPTHS[category] or depth == 1:
                raise ValueError(f"Bybit {category} book depth {depth} not in {DEPTHS[category]}")
        self._conn_category: dict[int, str | None] = {}
        self._markets: dict[str, str] = {}  # native symbol -> market, from instruments
        self.listings = Listings()  # by category: each has its own instruments list
        # legacy v2 per native symbol: last cross_seq, and level id -> price text
        self._legacy_seq: dict[str, int] = {}
        self._legacy_prices: dict[str, dict[int | str, str]] = {}
        # orderbook.1 per native symbol: (u, best bid, best ask) its deltas apply to
        self._tops: dict[str, tuple[int, Level | None, Level | None]] = {}

    # -- describing connections ------------------------------------------------------

    def market(self, symbol: str) -> str:
        category, _, raw = symbol.partition(":")
        known = self._markets.get(symbol)
        if known is not None:
            return known
        return (guess_market(category, raw) if raw else None) or symbol

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(INSTRUMENTS_URL.format(category)) for category in ("linear", "spot")]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol, symbol.partition(":")[0])

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # snapshots come in-band; the daemon resyncs by reconnecting

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One or more connections per category, each within Bybit's args limits."""
        by_category: dict[str, list[tuple[str, Subscription]]] = {}
        seen: set[tuple[str, str]] = set()  # (category, topic): topics repeat across URLs
        for sub in subscriptions:
            category, _, raw = sub.symbol.partition(":")
            if category not in CATEGORIES or not raw:
                raise ValueError(
                    f"Bybit symbol {sub.symbol!r} must name its category: one of "
                    f"{', '.join(c + ':' for c in CATEGORIES)} e.g. 'linear:BTCUSDT'"
                )
            topic = self._topic(category, raw, sub)
            if (category, topic) not in seen:  # a repeat is refused ("already subscribed")
                seen.add((category, topic))
                by_category.setdefault(category, []).append((topic, sub))
        plans = []
        for category, items in by_category.items():
            limit = TOPICS_PER_CONNECTION
            if category == "option":
                limit = min(limit, OPTION_ARGS_PER_CONNECTION)
            chunk: list[tuple[str, Subscription]] = []
            for item in items:
                if chunk and (
                    len(chunk) == limit
                    or len(json.dumps([t for t, _ in [*chunk, item]])) > MAX_ARGS_CHARS
                ):
                    plans.append(self._connection(category, chunk))
                    chunk = []
                chunk.append(item)
            if chunk:
                plans.append(self._connection(category, chunk))
        return plans

    def _topic(self, category: str, raw: str, sub: Subscription) -> str:
        if sub.channel == "book":
            return f"orderbook.{self.book_depth[category]}.{raw}"
        if sub.channel == "bbo":
            if category == "option":
                raise ValueError("Bybit options have no level-1 book: no bbo channel")
            return f"orderbook.1.{raw}"
        if sub.channel == "trades":
            return f"publicTrade.{raw}"
        if sub.channel in DERIVATIVE_TOPICS:
            prefix, categories = DERIVATIVE_TOPICS[sub.channel]
            if category not in categories:
                raise ValueError(
                    f"Bybit {category} has no {sub.channel!r} channel "
                    f"(served for: {', '.join(categories)})"
                )
            return f"{prefix}.{raw}"
        raise ValueError(f"unknown channel {sub.channel!r}")

    def _connection(self, category: str, chunk: list[tuple[str, Subscription]]) -> ConnectionPlan:
        per_request = SPOT_ARGS_PER_REQUEST if category == "spot" else ARGS_PER_REQUEST
        topics = [t for t, _ in chunk]
        frames = [
            json.dumps(
                {"op": "subscribe", "req_id": str(n), "args": topics[i : i + per_request]},
                separators=(",", ":"),
            )
            for n, i in enumerate(range(0, len(topics), per_request), 1)
        ]
        return ConnectionPlan(
            url=WS_BASE + category,
            subscribe=frames,
            subscriptions=[s for _, s in chunk],
            max_messages_per_second=MAX_MESSAGES_PER_SECOND,
            lifetime_s=LIFETIME_S,
            app_ping=PING,
            app_ping_interval_s=PING_INTERVAL_S,
        )

    # -- decoding ----------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Bybit sends no book checksum

    def connected(self, conn: int, url: str) -> None:
        """Learn the category of ``conn`` from its URL's path (``.../v5/public/spot``).

        The last path segment decides, so a host rewrite (simulator, proxy) keeps working.
        """
        path = urlsplit(url).path.rstrip("/")
        category = LEGACY_PATHS.get(path) or path.rpartition("/")[2]
        self._conn_category[conn] = category if category in CATEGORIES else None

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = _envelope.decode(frame)
        except msgspec.ValidationError as exc:  # not an object (unknown), or a bad field type
            unknown = str(exc).startswith("Expected `object`")
            return [DecodeFailed(str(exc), ts_recv, sample(frame), unknown)]
        except msgspec.DecodeError as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        try:
            if env.topic is not None:
                return self._push(env, env.topic, ts_recv, conn, frame)
            return self._reply(env, ts_recv, conn, frame)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, InvalidOperation) as exc:
            return [DecodeFailed(str(exc) or type(exc).__name__, ts_recv, sample(frame))]

    def _push(
        self, env: Envelope, topic: str, ts_recv: int, conn: int, frame: str | bytes
    ) -> list[Message]:
        channel, _, rest = topic.partition(".")
        if channel in _IGNORED:
            return [Control("ignored", ts_recv, topic)]
        if channel in ("orderBookL2_25", "trade"):
            return self._legacy(env, channel, rest, ts_recv, conn)
        category = self._conn_category.get(conn)
        if category is None:
            reason = f"connection {conn} has no known Bybit category (unknown URL)"
            return [DecodeFailed(reason, ts_recv, sample(frame))]
        if channel == "publicTrade":
            return [
                Trade(f"{category}:{t.s}", t.T * 1_000_000, ts_recv, t.i, taker_side(t.S), t.p, t.v)
                for t in _trades.decode(env.data)
            ]
        if channel == "tickers":
            return self._ticker(env, category, ts_recv)
        if channel == "allLiquidation":
            rows = _liquidations.decode(env.data)
            if not rows:
                return [Control("ignored", ts_recv, f"{topic}: no liquidation")]
            return [
                Liquidation(
                    f"{category}:{x.s}",
                    x.T * 1_000_000,
                    ts_recv,
                    None,
                    liquidation_order_side(x.S),
                    x.p,
                    x.v,
                )
                for x in rows
            ]
        if channel == "liquidation":
            x = _legacy_liquidation.decode(env.data)
            side = liquidation_order_side(x.side)
            ts_ex = x.updatedTime * 1_000_000
            return [
                Liquidation(f"{category}:{x.symbol}", ts_ex, ts_recv, None, side, x.price, x.size)
            ]
        if channel != "orderbook":
            return [DecodeFailed(f"unknown topic {topic!r}", ts_recv, sample(frame), True)]
        depth, _, _ = rest.partition(".")
        if not depth.isdigit():  # orderbook.full (REST-seeded), orderbook.rpi, ...
            return [Control("ignored", ts_recv, f"book topic {topic} not supported")]
        book = _book.decode(env.data)
        symbol = f"{category}:{book.s}"
        ts = env.cts if env.cts is not None else env.ts
        ts_ex = ts * 1_000_000 if ts is not None else None
        bids, asks = plain_levels(book.b), plain_levels(book.a)
        if depth == "1":
            return [self._level_one(env, topic, symbol, book.u, bids, asks, ts_ex, ts_recv, frame)]
        n = int(depth)
        if env.type == "snapshot" or (env.type == "delta" and book.u == 1):
            return [BookSnapshot(symbol, ts_ex, ts_recv, book.u, bids, asks, True, depth=n)]
        if env.type == "delta":
            return [BookDelta(symbol, ts_ex, ts_recv, book.u, book.u, None, bids, asks, depth=n)]
        return [DecodeFailed(f"unknown book type {env.type!r}", ts_recv, sample(frame), True)]

    def _level_one(
        self,
        env: Envelope,
        topic: str,
        symbol: str,
        u: int,
        bids: list[Level],
        asks: list[Level],
        ts_ex: int | None,
        ts_recv: int,
        frame: str | bytes,
    ) -> Message:
        """``orderbook.1``: the quote after a snapshot, or after a delta applied to the last one.

        A delta only continues the quote it follows (``u`` one more than the held one);
        otherwise the quote is unknown until the next snapshot (re-sent every 3 s), and
        nothing is written meanwhile.
        """
        if env.type == "snapshot" or (env.type == "delta" and u == 1):
            bid, ask = (bids[0] if bids else None), (asks[0] if asks else None)
        elif env.type == "delta":
            held = self._tops.pop(symbol, None)
            if held is None or u != held[0] + 1:
                after = "no snapshot" if held is None else f"u={held[0]}"
                detail = f"{topic} delta u={u} after {after}: quote unknown until a snapshot"
                return Control("ignored", ts_recv, detail, symbol)
            bid, ask = _top_after(held[1], bids), _top_after(held[2], asks)
        else:
            return DecodeFailed(f"unknown book type {env.type!r}", ts_recv, sample(frame), True)
        self._tops[symbol] = (u, bid, ask)
        if bid is None or ask is None:
            return Control("ignored", ts_recv, f"{topic}: one-sided top of book", symbol)
        return BestBidAsk(symbol, ts_ex, ts_recv, None, bid[0], bid[1], ask[0], ask[1])

    def _ticker(self, env: Envelope, category: str, ts_recv: int) -> list[Message]:
        """``tickers``: option summaries on the option URL, derivative tickers on futures.

        Spot tickers carry no derivative field and are not stored. A futures delta
        that changed none of the stored fields (only the best bid/ask) gives no row.
        """
        ts_ex = env.ts * 1_000_000 if env.ts is not None else None
        if category == "spot":
            return [Control("ignored", ts_recv, "spot tickers")]
        if category == "option":
            o = _option_ticker.decode(env.data)
            terms = option_terms(o.symbol)
            if terms is None:
                raise ValueError(f"option symbol {o.symbol!r} names no type, strike and expiry")
            option_type, strike, expiration = terms
            return [
                OptionSummary(
                    f"option:{o.symbol}",
                    ts_ex,
                    ts_recv,
                    option_type,
                    strike,
                    expiration,
                    best_bid_price=_text(o.bidPrice),
                    best_bid_size=_text(o.bidSize),
                    best_bid_iv=_text(o.bidIv),
                    best_ask_price=_text(o.askPrice),
                    best_ask_size=_text(o.askSize),
                    best_ask_iv=_text(o.askIv),
                    mark_price=_text(o.markPrice),
                    mark_iv=_text(o.markPriceIv),
                    underlying_price=_text(o.underlyingPrice),
                    delta=_text(o.delta),
                    gamma=_text(o.gamma),
                    vega=_text(o.vega),
                    theta=_text(o.theta),
                    open_interest=_text(o.openInterest),
                )
            ]
        t = _ticker.decode(env.data)
        funding_time = _text(t.nextFundingTime)
        ticker = DerivativeTicker(
            f"{category}:{t.symbol}",
            ts_ex,
            ts_recv,
            mark_price=_text(t.markPrice),
            index_price=_text(t.indexPrice),
            last_price=_text(t.lastPrice),
            open_interest=_text(t.openInterest),
            funding_rate=_text(t.fundingRate),
            # "0" is what a dated future sends: it has no funding
            funding_time=int(funding_time) * 1_000_000 if funding_time not in (None, "0") else None,
        )
        if not ticker.has_data():
            return [Control("ignored", ts_recv, "tickers delta without derivative fields")]
        return [ticker]

    def _reply(self, env: Envelope, ts_recv: int, conn: int, frame: str | bytes) -> list[Message]:
        op = env.op if env.op is not None else env.request.op if env.request else None
        if op is None:
            return [DecodeFailed("unknown message type", ts_recv, sample(frame), True)]
        detail = f"{op} {env.ret_msg or ''}".strip()
        if env.success is False:
            symbol = None
            _, found, topic = (env.ret_msg or "").partition("topic:")
            category = self._conn_category.get(conn)
            if found and category:
                symbol = f"{category}:{topic.rpartition('.')[2]}"
            return [Control("error", ts_recv, detail, symbol)]
        if op in ("ping", "pong"):
            return [Control("heartbeat", ts_recv, detail)]
        if op in ("subscribe", "unsubscribe", "auth"):
            args = env.request.args if env.request and env.request.args else []
            return [Control("ack", ts_recv, " ".join([detail, env.req_id or "", *args]).strip())]
        return [DecodeFailed(f"unknown reply op {op!r}", ts_recv, sample(frame), True)]

    def _legacy(
        self, env: Envelope, channel: str, raw: str, ts_recv: int, conn: int
    ) -> list[Message]:
        category = self._conn_category.get(conn) or (
            "linear" if raw.endswith("USDT") else "inverse"
        )
        symbol = f"{category}:{raw}"
        if channel == "trade":
            out: list[Message] = []
            for t in _legacy_trades.decode(env.data):
                ms = t.trade_time_ms
                ts = int(ms) * 1_000_000 if ms is not None else None
                side = taker_side(t.side)
                out.append(
                    Trade(
                        symbol, ts, ts_recv, t.trade_id, side, raw_text(t.price), raw_text(t.size)
                    )
                )
            return out
        if env.cross_seq is None:
            raise ValueError("orderBookL2_25 without cross_seq")
        seq = int(env.cross_seq)
        ts_ex = int(env.timestamp_e6) * 1_000 if env.timestamp_e6 is not None else None
        if env.type == "snapshot":
            data = env.data
            rows = (
                _legacy_list.decode(data)
                if bytes(data).lstrip().startswith(b"[")
                else _legacy_wrapped.decode(data).order_book
            )
            prices: dict[int | str, str] = {}
            self._legacy_prices[symbol] = prices
            self._legacy_seq[symbol] = seq
            bids, asks = legacy_levels(prices, rows, False)
            return [BookSnapshot(symbol, ts_ex, ts_recv, seq, bids, asks, True, depth=25)]
        if env.type != "delta":
            raise ValueError(f"unknown orderBookL2_25 type {env.type!r}")
        d = _legacy_delta.decode(env.data)
        prices = self._legacy_prices.setdefault(symbol, {})
        prev = self._legacy_seq.get(symbol, seq - 1)
        self._legacy_seq[symbol] = max(prev, seq)
        bids, asks = legacy_levels(prices, d.delete, True)
        for rows in (d.update, d.insert):
            b, a = legacy_levels(prices, rows, False)
            bids += b
            asks += a
        return [BookDelta(symbol, ts_ex, ts_recv, prev + 1, seq, None, bids, asks, depth=25)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        try:
            if path.endswith("/v5/market/instruments-info"):
                doc = _instruments.decode(body)
                if doc.retCode != 0 or doc.result is None:
                    return [Control("error", ts_recv, f"{path}: {doc.retCode} {doc.retMsg}")]
                category = doc.result.category
                self.listings.add((f"{category}:{i.symbol}" for i in doc.result.items), category)
                for ins in doc.result.items:
                    market = instrument_market(category, ins)
                    if market is not None:
                        self._markets[f"{category}:{ins.symbol}"] = market
                return [Control("ignored", ts_recv, f"{category} instruments loaded")]
            if path.endswith("/v2/public/symbols"):
                for s in _legacy_symbols.decode(body).result:
                    category = "linear" if s.quote_currency == "USDT" else "inverse"
                    market = guess_market(category, s.name)
                    if market is not None:
                        self._markets[f"{category}:{s.name}"] = market
                return [Control("ignored", ts_recv, "legacy symbols loaded")]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]


def _top_after(level: Level | None, updates: list[Level]) -> Level | None:
    """One side of a depth-1 book after a delta: a size sets the level, a zero deletes it."""
    for price, size in updates:
        if not size_is_zero(size):
            level = (price, size)
        elif level is not None and price_key(level[0]) == price_key(price):
            level = None
    return level


def _text(value: str | None) -> str | None:
    """Bybit writes an absent value as ``""``: that is a null, not a number."""
    return value or None
