"""Coinbase Advanced Trade market data (``wss://advanced-trade-ws.coinbase.com``).

Sans-I/O: describes connections and decodes frames. Written from (stored copies, 2026):

* channels: https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
* overview / subscribe: https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-overview
* limits: https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-rate-limits
* AsyncAPI checked against production:
  https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/advanced-trade-asyncapi.json

Protocol, as implemented:

* One subscribe frame per channel, ``{"type":"subscribe","channel":..,"product_ids":[..]}``.
  ``level2``, ``market_trades``, ``ticker`` and ``heartbeats`` need no authentication (the
  docs recommend a CDP JWT "for the most reliable connection"; this plan sends none, so
  nothing has to be configured; a user who wants one would add ``"jwt"`` to each frame).
  ``heartbeats`` is always subscribed: most channels close after 60-90 s without updates.
* ``sequence_num`` counts every message of one connection, across channels. A gap means
  some message of that connection was lost, so every book that connection carries is
  invalid (``BookInvalid``); the next snapshot (the daemon reconnects) resyncs it.
* ``level2`` arrives as channel ``l2_data``: a ``snapshot`` event per product (the whole
  book: an in-band ``BookSnapshot``), then ``update`` events with absolute quantities.
  Updates carry no ids: each product's book messages are numbered here (snapshot 0, then
  1, 2, ...) and ``NoSequenceRule`` applies; continuity is what ``sequence_num`` checks.
* During a make-before-break switch-over both connections send the same events with
  different ``sequence_num``/``timestamp``, so the pipeline's frame-text dedupe cannot
  match them: a product's book (and ticker) is taken from the connection that sent its
  latest snapshot, and trades are deduplicated by trade id (``TradeFilter``).
* ``market_trades`` ``side`` is the MAKER side. Measured on COINBASE_2026 by replaying
  the book and comparing each live trade (79 in ``update`` events) with the best bid/ask
  as of the trade's ``time``: all 28 ``BUY`` trades printed at or below the best bid and
  49 of 50 ``SELL`` trades at or above the best ask (1 inside the spread, none at the
  bid; 1 trade preceded the book). Against the book at receipt: BUY 23 at bid, 5 inside,
  0 at ask; SELL 48 at ask, 2 inside, 0 at bid. A buy aggressor lifts the ask, so the
  taker side is the opposite of ``side`` (as Nautilus's ``coinbase_side_to_aggressor``).
"""

from __future__ import annotations

import math
import re

import msgspec

from adapters.coinbase.wire import (
    AtEnvelope,
    AtHeartbeat,
    AtL2Event,
    AtProduct,
    AtProducts,
    AtTickerEvent,
    AtTrade,
    AtTradesEvent,
    TradeFilter,
    parse_rfc3339_ns,
)
from collector.adapter import (
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import NoSequenceRule, SequenceRule
from collector.decimal_text import InvalidDecimalText, plain
from collector.markets import ddmmmyy
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
    Message,
    Trade,
    sample,
)

#: Public product list: futures' underlyings and expiries (``_product_market``).
PRODUCTS_URL = "https://api.coinbase.com/api/v3/brokerage/market/products"
WS_URL = "wss://advanced-trade-ws.coinbase.com"
#: Unauthenticated messages a client may send: 8 per second per IP (websocket-rate-limits).
#: The budget is per IP, so a plan shares it between its connections.
IP_MESSAGES_PER_SECOND = 8.0
#: ``level2`` products one connection may carry. Undocumented: Coinbase answers
#: ``{"type":"error","message":"too many L2 streams requested in a single session"}``;
#: 32 failed and 16 worked (JKorf/Coinbase.Net issue #19, 2026-01). A product's channels
#: stay on one connection, so this caps products per connection.
PRODUCTS_PER_CONNECTION = 16
#: No documented connection lifetime: no planned rollover.
LIFETIME_S = math.inf
#: Public REST: 10 requests per second per IP
#: (https://docs.cloud.coinbase.com/advanced-trade/docs/rest-api-rate-limits).
REST_PER_MINUTE = 600
#: Our channels -> subscription channel names.
CHANNELS = {"book": "level2", "trades": "market_trades", "bbo": "ticker"}
#: Known channels that carry nothing stored here.
_IGNORED = ("candles", "status", "user", "futures_balance_summary")
_TAKER = {"BUY": "sell", "SELL": "buy"}  # market_trades side is the maker's

_envelope = msgspec.json.Decoder(AtEnvelope)
_l2 = msgspec.json.Decoder(list[AtL2Event])
_trades = msgspec.json.Decoder(list[AtTradesEvent])
_tickers = msgspec.json.Decoder(list[AtTickerEvent])
_heartbeats = msgspec.json.Decoder(list[AtHeartbeat])
_products = msgspec.json.Decoder(AtProducts)
_DATED = re.compile(r"([A-Z0-9]+)-(\d\d[A-Z]{3}\d\d)-[A-Z]+")


#: Product ids: ``BTC-USD``, futures ``BIT-27DEC24-CDE``.
SYMBOLS = grammar(
    r"[A-Z0-9]+(?:-[A-Z0-9]+)+", "upper-case BASE-QUOTE product id", "BTC-USD", "ETH-USDC"
)


class CoinbaseAdapter:
    """Decoder and connection planner for Coinbase Advanced Trade market data."""

    slug = "coinbase"
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.sequence_rule: SequenceRule = NoSequenceRule()
        self.rest_weight_per_minute: int | None = REST_PER_MINUTE
        #: ``sequence_num`` gaps seen (each invalidates the books of its connection).
        self.sequence_gaps = 0
        self._last_seq: dict[int, int] = {}  # conn -> last sequence_num
        self._owner: dict[tuple[str, str], int] = {}  # (l2|ticker, product) -> conn
        self._count: dict[str, int] = {}  # product -> book messages since its snapshot
        self._trades = TradeFilter()
        self._markets: dict[str, str] = {}
        self.listings = Listings()

    # -- describing connections ---------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        return name if name is not None else _guess_market(symbol)

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(PRODUCTS_URL)]

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # snapshots come in-band on (re)subscription

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """Connections of at most ``PRODUCTS_PER_CONNECTION`` products, every channel of a
        product on the same connection, ``heartbeats`` first to keep them all open."""
        chunks = symbols_per_connection(subscriptions, PRODUCTS_PER_CONNECTION, CHANNELS)
        rate = IP_MESSAGES_PER_SECOND / max(1, len(chunks))
        plans = []
        for subs in chunks:
            frames = [msgspec.json.encode({"type": "subscribe", "channel": "heartbeats"})]
            for ours, theirs in CHANNELS.items():
                ids = [s.symbol for s in subs if s.channel == ours]
                if ids:
                    msg = {"type": "subscribe", "product_ids": ids, "channel": theirs}
                    frames.append(msgspec.json.encode(msg))
            plans.append(
                ConnectionPlan(
                    url=WS_URL,
                    subscribe=[f.decode() for f in frames],
                    subscriptions=subs,
                    max_messages_per_second=rate,
                    lifetime_s=LIFETIME_S,
                )
            )
        return plans

    # -- decoding -------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Advanced Trade sends no book checksum

    def connected(self, conn: int, url: str) -> None:
        self._last_seq.pop(conn, None)  # a new connection counts from 0 again

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = _envelope.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        out: list[Message] = []
        if env.sequence_num is not None:
            last = self._last_seq.get(conn)
            self._last_seq[conn] = env.sequence_num
            if last is not None and env.sequence_num != last + 1:
                self.sequence_gaps += 1
                why = f"sequence_num {env.sequence_num} after {last} on connection {conn}"
                out += self._invalidate(conn, ts_recv, why)
        channel = env.channel
        try:
            if env.type == "error":
                out.append(Control("error", ts_recv, env.message or sample(frame)))
            elif channel == "l2_data" or channel == "level2":
                out += self._l2(_l2.decode(env.events), env, ts_recv, conn)
            elif channel == "market_trades":
                out += self._market_trades(_trades.decode(env.events), ts_recv)
            elif channel == "ticker" or channel == "ticker_batch":
                out += self._ticker(_tickers.decode(env.events), env, ts_recv, conn)
            elif channel == "heartbeats":
                beats = _heartbeats.decode(env.events)
                count = beats[-1].heartbeat_counter if beats else None
                out.append(Control("heartbeat", ts_recv, f"heartbeat_counter={count}"))
            elif channel == "subscriptions":
                out.append(Control("ack", ts_recv, sample(bytes(env.events))))
            elif channel in _IGNORED:
                out.append(Control("ignored", ts_recv, channel))
            else:
                what = f"unknown channel {channel!r}" if channel else "unknown message type"
                out.append(DecodeFailed(what, ts_recv, sample(frame), unknown=True))
        except (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText) as exc:
            if channel in ("l2_data", "level2"):  # a lost book message: those books are wrong
                out += self._invalidate(conn, ts_recv, f"undecodable l2_data frame: {exc}")
            out.append(DecodeFailed(f"{channel}: {exc}", ts_recv, sample(frame)))
        return out

    def _invalidate(self, conn: int, ts_recv: int, why: str) -> list[Message]:
        return [
            BookInvalid(product, ts_recv, why)
            for (kind, product), owner in self._owner.items()
            if kind == "l2" and owner == conn
        ]

    def _l2(
        self, events: list[AtL2Event], env: AtEnvelope, ts_recv: int, conn: int
    ) -> list[Message]:
        out: list[Message] = []
        for ev in events:
            p = ev.product_id
            bids: list[tuple[str, str]] = []
            asks: list[tuple[str, str]] = []
            for u in ev.updates:
                (bids if u.side == "bid" else asks).append(
                    (plain(u.price_level), plain(u.new_quantity))
                )
            ts = parse_rfc3339_ns(ev.updates[-1].event_time if ev.updates else env.timestamp)
            if ev.type == "snapshot":
                self._owner[("l2", p)] = conn
                self._count[p] = 0
                out.append(BookSnapshot(p, ts, ts_recv, 0, bids, asks, in_band=True))
                continue
            if self._owner.get(("l2", p), conn) != conn:
                out.append(Control("ignored", ts_recv, f"{p} update of a replaced connection", p))
                continue
            n = self._count[p] = self._count.get(p, 0) + 1
            out.append(BookDelta(p, ts, ts_recv, n, n, None, bids, asks))
        return out

    def _market_trades(self, events: list[AtTradesEvent], ts_recv: int) -> list[Message]:
        out: list[Message] = []
        for ev in events:
            by_product: dict[str, list[AtTrade]] = {}
            for t in ev.trades:
                by_product.setdefault(t.product_id, []).append(t)
            for product, trades in by_product.items():
                admit = self._trades.admit(
                    product, [t.trade_id for t in trades], ev.type == "snapshot"
                )
                kept = [t for t, ok in zip(trades, admit, strict=True) if ok]
                kept.sort(key=lambda t: (len(t.trade_id), t.trade_id))  # batches come newest first
                out += [
                    Trade(
                        product,
                        parse_rfc3339_ns(t.time),
                        ts_recv,
                        t.trade_id,
                        _TAKER[t.side],
                        plain(t.price),
                        plain(t.size),
                    )
                    for t in kept
                ]
        if not out:
            out.append(
                Control(
                    "ignored",
                    ts_recv,
                    "market_trades: no new trade (pre-session history or repeats)",
                )
            )
        return out

    def _ticker(
        self, events: list[AtTickerEvent], env: AtEnvelope, ts_recv: int, conn: int
    ) -> list[Message]:
        out: list[Message] = []
        ts = parse_rfc3339_ns(env.timestamp)  # tickers carry no time of their own
        for ev in events:
            for t in ev.tickers:
                key = ("ticker", t.product_id)
                if ev.type == "snapshot":
                    self._owner[key] = conn
                elif self._owner.get(key, conn) != conn:
                    continue
                fields = (t.best_bid, t.best_bid_quantity, t.best_ask, t.best_ask_quantity)
                if all(fields):  # ticker_batch has no best bid/ask
                    out.append(BestBidAsk(t.product_id, ts, ts_recv, None, *map(plain, fields)))
        return out or [Control("ignored", ts_recv, f"{env.channel} without best bid/ask")]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        if not url.split("?")[0].endswith("/products"):
            return [
                DecodeFailed(f"unknown REST endpoint {url}", ts_recv, sample(body), unknown=True)
            ]
        try:
            products = _products.decode(body).products
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        for p in products:
            self._markets[p.product_id] = _product_market(p)
        self.listings.add(p.product_id for p in products)
        return [Control("ignored", ts_recv, f"{len(products)} products loaded")]


def _product_market(p: AtProduct) -> str:
    """Normalized market of one ``/market/products`` row (see ``_guess_market`` otherwise)."""
    quote = p.quote_currency_id or "USD"
    details = p.future_product_details
    if p.product_type != "FUTURE" or details is None:
        return (
            f"{p.base_currency_id}-{quote}" if p.base_currency_id else _guess_market(p.product_id)
        )
    root = details.contract_root_unit or p.base_currency_id
    if not root:
        return _guess_market(p.product_id)
    if details.contract_expiry_type == "PERPETUAL":
        return f"{root}-{quote}-PERP"
    expiry = details.contract_expiry[:10].replace("-", "")
    return f"{root}-{quote}-{expiry}" if expiry.isdigit() and len(expiry) == 8 else p.product_id


def _guess_market(symbol: str) -> str:
    """Best effort without the products sidecar; never raises.

    Spot ``BTC-USD`` stays as is; INTX perpetuals ``BTC-PERP-INTX`` settle in USDC ->
    ``BTC-USDC-PERP``; US futures ``BIT-31JAN25-CDE`` -> ``BIT-USD-20250131`` (the
    contract code is kept: only the sidecar's ``contract_root_unit`` names the underlying).
    Anything else keeps its native name.
    """
    parts = symbol.split("-")
    if len(parts) == 3 and parts[1] == "PERP" and parts[0]:
        return f"{parts[0]}-USDC-PERP"
    m = _DATED.fullmatch(symbol)
    expiry = ddmmmyy(m[2]) if m else None
    return f"{m[1]}-USD-{expiry}" if m and expiry else symbol
