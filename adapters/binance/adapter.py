"""Binance spot (and Binance.US, Binance TR), USD-M futures and COIN-M futures.

Sans-I/O: describes connections and REST snapshot requests, and decodes frames.
Written from (checked 2026-11-28 against stored copies):

* spot: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
  and ``rest-api`` ("How to manage a local order book correctly"), CHANGELOG
  to 2026-09-18 (``serverShutdown`` event, ``@trade`` lost ``b``/``a`` 2024-06-18);
* USD-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
  and its "Important WebSocket Change Notice" (same folder, page
  ``Important-WebSocket-Change-Notice``, stored copy reread 2026-12-07): ``/public``
  (high-frequency: ``@depth…``, ``@bookTicker``) and ``/market`` (``@aggTrade``,
  ``@markPrice``, ``@kline…``), each as ``/<route>/stream?streams=a/b`` or
  ``/<route>/ws/a/b``; the unrouted paths were retired 2026-04-23 and since receive
  ``/public`` data only. ``@trade`` is on neither list: public reports
  (bmoscon/cryptofeed#1128 2026-09-03, BYTEX-TRADE/bytex#7 2026-09-18) see raw
  trades on ``/public``, ccxt (ccxt/ccxt#28091, 2026-03-07) routes them to
  ``/market``; so trades try ``/public`` first, then ``/market`` (``BinanceVenue``);
* COIN-M: https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
  still shows the unrouted ``wss://dstream.binance.com/stream``, but a public report
  (Tucsky/aggr#444, 2026-05-03) says it acknowledges subscriptions and no longer
  forwards trades, and that ``/market/ws`` restores them: COIN-M tries the routed paths
  as USD-M splits them first and the unrouted path last.
* derivatives (futures only): ``<symbol>@markPrice@1s`` ("Mark Price Stream"),
  ``<symbol>@forceOrder`` ("Liquidation Order Streams"), both on the ``/market`` path,
  and open interest, which has no stream, by polling ``GET /fapi/v1/openInterest`` or
  ``/dapi/v1/openInterest`` ("Open Interest", weight 1) every ``OPEN_INTEREST_INTERVAL_S``.

Field names stay verbatim; each carries a comment with its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import msgspec

from adapters.binance.symbols import BinanceSymbols
from adapters.binance.wire import (
    BinanceAggTrade,
    BinanceBookTicker,
    BinanceDepthSnapshot,
    BinanceDepthUpdate,
    BinanceError,
    BinanceForceOrder,
    BinanceMarkPrice,
    BinanceOpenInterest,
    BinanceTrade,
    BookTickerEvent,
    DepthUpdateEvent,
    Envelope,
    ExchangeInfo,
    StreamFrame,
    TradeEvent,
)
from collector.adapter import (
    ConnectionPlan,
    Listings,
    PollRequest,
    RestRequest,
    Subscription,
    grammar,
)
from collector.book.book import OrderBook
from collector.book.sequence import FirstLastRule, PreviousIdRule, SequenceRule
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

# Binance times are milliseconds, or microseconds on connections opened with
# timeUnit=MICROSECOND (2025); ours are nanoseconds. A millisecond epoch stays
# below 1e14 until the year 5138, a microsecond one is above it since 1973.
_MICROSECOND_EPOCH = 10**14
URL_STREAMS = 200  # streams per combined-stream URL (see BinanceAdapter.plan)
#: Open interest poll per symbol: weight 1 each, so 100 symbols cost 100 of the
#: 2400 weight a minute at this interval.
OPEN_INTEREST_INTERVAL_S = 60.0
#: ``BTCUSDT``, ``BTCUSDT_261225``, ``BTCUSD_PERP``; USD-M lists some non-ASCII symbols,
#: so "upper-case" means "no a-z" rather than A-Z only.
SYMBOLS = grammar(
    r"[^\W_a-z]+(?:_[A-Z0-9]+)?",
    "upper-case letters and digits, futures with a _PERP or _YYMMDD suffix",
    "BTCUSDT",
    "BTCUSD_PERP",
)


_envelope = msgspec.json.Decoder(Envelope)
_stream_frame = msgspec.json.Decoder(StreamFrame)
_depth = msgspec.json.Decoder(BinanceDepthUpdate)
_trade = msgspec.json.Decoder(BinanceTrade)
_agg_trade = msgspec.json.Decoder(BinanceAggTrade)
_book_ticker = msgspec.json.Decoder(BinanceBookTicker)
_snapshot = msgspec.json.Decoder(BinanceDepthSnapshot)
_error = msgspec.json.Decoder(BinanceError)
_mark_price = msgspec.json.Decoder(BinanceMarkPrice)
_force_order = msgspec.json.Decoder(BinanceForceOrder)
_open_interest = msgspec.json.Decoder(BinanceOpenInterest)
_exchange_info = msgspec.json.Decoder(ExchangeInfo)

#: Channels that are understood but not stored, matched as prefixes. A combined-stream
#: frame names its channel by the *stream* (``btcusdt@ticker``, ``@miniTicker``,
#: ``@ticker_1h``), a raw frame by its *event* (``24hrTicker``): both spellings are listed.
_IGNORED_EVENTS = (
    "kline",
    "ticker",
    "miniTicker",
    "24hrTicker",
    "24hrMiniTicker",
    "indexPrice",
    "continuous_kline",
    "contractInfo",
    "compositeIndex",
)


@dataclass(frozen=True)
class BinanceVenue:
    """One Binance market: endpoints, sequence rule and limits.

    ``ws_book`` and ``ws_trades`` are the base URLs (``<base>/stream?streams=``)
    of depth/bookTicker and of trade streams, newest documented route first: a
    connection plan tries the others in order when one stays silent.
    """

    slug: str
    ws_book: tuple[str, ...]  # routes for depth and bookTicker streams
    ws_trades: tuple[str, ...]  # routes for trade streams
    rest_depth: str
    futures: bool
    depth_limit: int
    depth_weight: int
    max_messages_per_second: float
    rest_weight_per_minute: int = 6000  # REST budget per IP (exchangeInfo rateLimits)
    max_streams: int = 1024
    lifetime_s: float = 24 * 3600.0
    #: Routes for mark price and liquidation streams (futures; the ``/market`` path).
    ws_market: tuple[str, ...] = ()


VENUES = {
    v.slug: v
    for v in (
        BinanceVenue(
            "binance-spot",
            ("wss://stream.binance.com:9443",),
            ("wss://stream.binance.com:9443",),
            "https://api.binance.com/api/v3/depth",
            False,
            5000,
            250,
            5,
        ),
        BinanceVenue(
            "binance-us",
            ("wss://stream.binance.us:9443",),
            ("wss://stream.binance.us:9443",),
            "https://api.binance.us/api/v3/depth",
            False,
            5000,
            250,
            5,
            1200,  # not published as 6000: stay conservative
        ),
        BinanceVenue(
            "binance-tr",
            ("wss://stream-cloud.trbinance.com",),
            ("wss://stream-cloud.trbinance.com",),
            "https://api.binance.me/api/v3/depth",
            False,
            5000,
            250,
            5,
            1200,  # not published as 6000: stay conservative
        ),
        BinanceVenue(
            "binance-usdm",
            ("wss://fstream.binance.com/public",),
            ("wss://fstream.binance.com/public", "wss://fstream.binance.com/market"),
            "https://fapi.binance.com/fapi/v1/depth",
            True,
            1000,
            20,
            10,
            2400,
            ws_market=("wss://fstream.binance.com/market",),
        ),
        BinanceVenue(
            "binance-coinm",
            ("wss://dstream.binance.com/public", "wss://dstream.binance.com"),
            (
                "wss://dstream.binance.com/public",
                "wss://dstream.binance.com/market",
                "wss://dstream.binance.com",
            ),
            "https://dapi.binance.com/dapi/v1/depth",
            True,
            1000,
            20,
            10,
            2400,
            ws_market=("wss://dstream.binance.com/market", "wss://dstream.binance.com"),
        ),
    )
}


class BinanceAdapter:
    """Decoder and connection planner for one ``BinanceVenue``."""

    def __init__(self, venue: BinanceVenue | str, *, book_stream: str = "depth@100ms") -> None:
        self.venue = VENUES[venue] if isinstance(venue, str) else venue
        self.slug = self.venue.slug
        self.sequence_rule: SequenceRule = (
            PreviousIdRule() if self.venue.futures else FirstLastRule()
        )
        self.rest_weight_per_minute: int | None = self.venue.rest_weight_per_minute
        self.symbols = BinanceSymbols(futures=self.venue.futures)
        self.symbol_grammar = SYMBOLS
        self.listings = Listings()
        self.book_stream = book_stream
        #: Futures serve mark price, funding and liquidations; open interest is polled.
        self.derivative_channels = (
            ("derivative_ticker", "liquidations") if self.venue.futures else ()
        )
        self.open_interest_interval_s = OPEN_INTEREST_INTERVAL_S

    # -- describing connections --------------------------------------------------

    def market(self, symbol: str) -> str:
        return self.symbols.market(symbol)

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)  # one exchangeInfo lists them all

    def instrument_requests(self) -> list[RestRequest]:
        """``exchangeInfo`` beside the depth endpoint (spot weight 20, futures 1)."""
        url = self.venue.rest_depth.removesuffix("/depth") + "/exchangeInfo"
        return [RestRequest(url, 1 if self.venue.futures else 20)]

    def snapshot_request(self, symbol: str) -> RestRequest:
        limit = self.venue.depth_limit
        return RestRequest(
            f"{self.venue.rest_depth}?symbol={symbol}&limit={limit}", self.venue.depth_weight
        )

    def poll_requests(self, subscriptions: list[Subscription]) -> list[PollRequest]:
        """Open interest of each ``derivative_ticker`` symbol: Binance has no stream for it."""
        url = self.venue.rest_depth.removesuffix("/depth") + "/openInterest"
        return [
            PollRequest(RestRequest(f"{url}?symbol={s.symbol}", 1), self.open_interest_interval_s)
            for s in subscriptions
            if s.channel == "derivative_ticker" and self.venue.futures
        ]

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """Combined-stream connections, one set per list of routes.

        Streams go in the URL (``/stream?streams=a/b``), which needs no subscribe
        round trip and makes each connection's URL name exactly what it carries
        (the pipeline relies on that to dedupe a planned switch-over). A venue
        allows 1024 streams a connection, but URLs that long are refused by some
        proxies, so a connection carries at most ``URL_STREAMS`` of them.

        Channels with the same routes share connections (spot: all of them);
        trades with routes of their own get connections of their own, so that
        moving them to a fallback route leaves the books where they are.
        """
        names = {
            "book": self.book_stream,
            "bbo": "bookTicker",
            "trades": "trade",
            "derivative_ticker": "markPrice@1s",
            "liquidations": "forceOrder",
        }
        by_routes: dict[tuple[str, ...], list[Subscription]] = {}
        for sub in subscriptions:
            if sub.channel not in names or (
                sub.channel not in ("book", "bbo", "trades") and not self.venue.futures
            ):
                raise ValueError(f"{self.slug} has no {sub.channel!r} channel")
            if sub.channel == "trades":
                routes = self.venue.ws_trades
            elif sub.channel in ("book", "bbo"):
                routes = self.venue.ws_book
            else:  # mark price and liquidations: the /market path (see the module doc)
                routes = self.venue.ws_market
            by_routes.setdefault(routes, []).append(sub)
        plans = []
        per_connection = min(self.venue.max_streams, URL_STREAMS)
        for routes, subs in by_routes.items():
            for i in range(0, len(subs), per_connection):
                chunk = subs[i : i + per_connection]
                streams = "/".join(f"{s.symbol.lower()}@{names[s.channel]}" for s in chunk)
                first, *others = (
                    ConnectionPlan(
                        url=f"{base}/stream?streams={streams}",
                        subscribe=[],
                        subscriptions=chunk,
                        max_messages_per_second=self.venue.max_messages_per_second,
                        lifetime_s=self.venue.lifetime_s,
                    )
                    for base in routes
                )
                plans.append(msgspec.structs.replace(first, fallbacks=others))
        return plans

    # -- decoding -------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Binance books carry no checksum; bookTicker is the oracle

    def connected(self, conn: int, url: str) -> None:
        pass  # every Binance frame names its symbol and market

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            hot = _stream_frame.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass  # not a hot channel's frame, or a bad one: the general way says which
        else:
            messages = _hot_messages(hot.stream.partition("@")[2], hot.data, ts_recv)
            if messages is not None:
                return messages
        try:
            env = _envelope.decode(frame)
            if env.stream is not None and env.data:
                return self._payload(env.stream.partition("@")[2], env.data, ts_recv)
            if env.e is not None:
                return self._payload(env.e, frame, ts_recv)
            if env.u is not None:
                return self._payload("bookTicker", frame, ts_recv)
            if env.id is not None:
                if env.error:
                    return [Control("error", ts_recv, bytes(env.error).decode())]
                return [Control("ack", ts_recv, f"id={env.id}")]
            if env.code is not None:
                return [Control("error", ts_recv, f"{env.code}: {env.msg}")]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, _sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, _sample(frame), unknown=True)]

    def _payload(self, channel: str, raw: bytes | str | msgspec.Raw, ts_recv: int) -> list[Message]:
        if channel == "bookTicker":
            return _quote(_book_ticker.decode(raw), ts_recv)
        if channel.startswith("depth"):
            if not _full_depth(channel):
                return [Control("ignored", ts_recv, f"partial book channel {channel}")]
            return _delta(_depth.decode(raw), ts_recv)
        if channel == "trade":
            return _trade_message(_trade.decode(raw), ts_recv)
        if channel == "aggTrade":
            return _agg_trade_message(_agg_trade.decode(raw), ts_recv)
        if channel.startswith("markPrice"):
            m = _mark_price.decode(raw)
            # Delivery contracts have no funding: "r": "" and "T": 0 mean "none".
            return [
                DerivativeTicker(
                    m.s,
                    _ns(m.E),
                    ts_recv,
                    mark_price=m.p,
                    index_price=m.i,
                    funding_rate=m.r or None,
                    funding_time=_ns(m.T) if m.T else None,
                )
            ]
        if channel == "forceOrder":
            o = _force_order.decode(raw).o
            return [Liquidation(o.s, _ns(o.T), ts_recv, None, o.S.lower(), o.p, o.q)]
        if channel == "serverShutdown":
            return [Control("shutdown", ts_recv, "serverShutdown: reconnect now")]
        if channel.startswith(_IGNORED_EVENTS):
            return [Control("ignored", ts_recv, channel)]
        return [DecodeFailed(f"unknown channel {channel!r}", ts_recv, _sample(raw), unknown=True)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        try:
            if path.endswith("/exchangeInfo"):
                self.listings.add(self.symbols.load_exchange_info(body))
                return [Control("ignored", ts_recv, "exchangeInfo loaded")]
            if path.endswith("/openInterest"):
                try:
                    oi = _open_interest.decode(body)
                except msgspec.ValidationError:
                    err = _error.decode(body)
                    return [Control("error", ts_recv, f"{path}: {err.code}: {err.msg}")]
                return [
                    DerivativeTicker(
                        oi.symbol, _ns(oi.time), ts_recv, open_interest=oi.openInterest
                    )
                ]
            if not path.endswith("/depth"):
                return [
                    DecodeFailed(
                        f"unknown REST endpoint {path}", ts_recv, _sample(body), unknown=True
                    )
                ]
            symbol = parse_qs(urlsplit(url).query).get("symbol", [""])[0]
            if not symbol:
                return [DecodeFailed("depth URL without symbol", ts_recv, url)]
            try:
                s = _snapshot.decode(body)
            except msgspec.ValidationError:
                err = _error.decode(body)
                return [Control("error", ts_recv, f"{symbol}: {err.code}: {err.msg}", symbol)]
            ts = s.T if s.T is not None else s.E
            return [
                BookSnapshot(
                    symbol,
                    _ns(ts) if ts is not None else None,
                    ts_recv,
                    s.lastUpdateId,
                    s.bids,
                    s.asks,
                )
            ]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, _sample(body))]


def _hot_messages(
    channel: str,
    data: BinanceBookTicker | BinanceTrade | BinanceDepthUpdate | BinanceAggTrade,
    ts_recv: int,
) -> list[Message] | None:
    """The messages of a one-pass ``StreamFrame``, or None when its stream names
    another channel than its event (the general way then decides, as for any frame)."""
    cls = type(data)
    if cls is BookTickerEvent:
        return _quote(data, ts_recv) if channel == "bookTicker" else None  # type: ignore[arg-type]
    if cls is DepthUpdateEvent:
        return _delta(data, ts_recv) if _full_depth(channel) else None  # type: ignore[arg-type]
    if cls is TradeEvent:
        return _trade_message(data, ts_recv) if channel == "trade" else None  # type: ignore[arg-type]
    return _agg_trade_message(data, ts_recv) if channel == "aggTrade" else None  # type: ignore[arg-type]


def _full_depth(channel: str) -> bool:
    """A diff-depth stream (``depth``, ``depth@100ms``), not a partial book (``depth20``)."""
    return channel in ("depth", "depthUpdate") or channel.startswith("depth@")


def _quote(q: BinanceBookTicker, ts_recv: int) -> list[Message]:
    ts_ex = _ns(q.T) if q.T is not None else None
    return [BestBidAsk(q.s, ts_ex, ts_recv, q.u, q.b, q.B, q.a, q.A)]


def _delta(d: BinanceDepthUpdate | DepthUpdateEvent, ts_recv: int) -> list[Message]:
    ts = _ns(d.T if d.T is not None else d.E)
    return [BookDelta(d.s, ts, ts_recv, d.U, d.u, d.pu, d.b, d.a)]


def _trade_message(t: BinanceTrade, ts_recv: int) -> list[Message]:
    if t.X is not None and t.X != "MARKET":
        # Futures insurance-fund and ADL fills are not market trades.
        return [Control("ignored", ts_recv, f"non-market fill X={t.X}")]
    return [Trade(t.s, _ns(t.T), ts_recv, str(t.t), "sell" if t.m else "buy", t.p, t.q)]


def _agg_trade_message(g: BinanceAggTrade, ts_recv: int) -> list[Message]:
    return [Trade(g.s, _ns(g.T), ts_recv, str(g.a), "sell" if g.m else "buy", g.p, g.q)]


def _ns(t: int) -> int:
    """Exchange time in ns, whichever unit the connection was opened with."""
    return t * 1_000_000 if t < _MICROSECOND_EPOCH else t * 1_000


def _sample(frame: str | bytes | msgspec.Raw) -> str:
    return sample(frame, 300)  # Binance errors quote long stream names: keep more
