"""Coinbase Exchange (formerly Coinbase Pro / GDAX) legacy websocket feed.

Sans-I/O. Written from (stored copies):

* channels: https://docs.cdp.coinbase.com/exchange/websocket-feed/channels
* overview: https://docs.cdp.coinbase.com/exchange/websocket-feed/overview
* limits: https://docs.cdp.coinbase.com/exchange/websocket-feed/rate-limits

Protocol, as implemented:

* One subscribe frame ``{"type":"subscribe","product_ids":[..],"channels":[..]}``, sent
  within 5 s of connecting. Since 2023-08-01 ``level2`` needs authentication; the public
  equivalent with the same messages is ``level2_batch``, which the plan subscribes.
  Recordings made before that (``wss://ws-feed.pro.coinbase.com``, ``level2``) decode
  the same way.
* ``snapshot`` (whole book, in-band) then ``l2update`` with absolute sizes. Neither carries
  a sequence number, so gaps cannot be detected (``NoSequenceRule``; books numbered per
  product here). ``time`` ``0001-01-01T00:00:00.000000Z`` occurs in valid updates: no time.
* ``match``/``last_match``: ``side`` is the MAKER order's side (docs: "a sell side match
  is an up-tick"), so the taker side is the opposite. Checked on the 2021 recording against
  the rebuilt book at receipt: of 45 ``sell`` matches 36 printed at the best ask, 9 inside
  the spread, none at the bid; of 52 ``buy`` matches 24 at the bid, 28 inside, none at
  the ask. ``last_match`` is the latest trade
  before the subscription: history, emitted only when newer than a trade already seen.
* ``ticker`` carries best bid/ask, with sizes only on newer feeds; without sizes it is
  not a ``BestBidAsk`` (ignored).
"""

from __future__ import annotations

import math

import msgspec

from adapters.coinbase.wire import (
    ExMessage,
    ExProduct,
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

#: Product list (base and quote of every product). The corpus recorded it on the
#: retired ``api.pro.coinbase.com``; the same path is served by the Exchange host.
PRODUCTS_URL = "https://api.exchange.coinbase.com/products"
WS_URL = "wss://ws-feed.exchange.coinbase.com"
#: Messages a client may send: 100 per second per IP (rate-limits page), shared by a plan.
IP_MESSAGES_PER_SECOND = 100.0
#: Products per connection: not documented; a project choice that bounds how many books
#: one reconnect (the only resync this feed has) has to rebuild.
PRODUCTS_PER_CONNECTION = 50
LIFETIME_S = math.inf  # no documented lifetime
#: Public REST: 10 requests per second per IP, bursts to 15
#: (https://docs.cdp.coinbase.com/exchange/rest-api/rate-limits).
REST_PER_MINUTE = 600
CHANNELS = {"book": "level2_batch", "trades": "matches", "bbo": "ticker"}
_TAKER = {"buy": "sell", "sell": "buy"}  # match side is the maker's
#: Known messages not stored here (full/level3 order events, status).
_IGNORED = frozenset(
    ("status", "received", "open", "done", "change", "activate", "auction", "rfq_match")
)

_message = msgspec.json.Decoder(ExMessage)
_products = msgspec.json.Decoder(list[ExProduct])


SYMBOLS = grammar(r"[A-Z0-9]+-[A-Z0-9]+", "upper-case BASE-QUOTE product id", "BTC-USD", "ETH-EUR")


class CoinbaseExchangeAdapter:
    """Decoder and connection planner for the legacy Coinbase Exchange ws-feed."""

    slug = "coinbase-exchange"
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.sequence_rule: SequenceRule = NoSequenceRule()
        self.rest_weight_per_minute: int | None = REST_PER_MINUTE
        self._owner: dict[str, int] = {}  # product -> conn of its latest snapshot
        self._count: dict[str, int] = {}
        self._trades = TradeFilter()
        self._markets: dict[str, str] = {}
        self.listings = Listings()

    def market(self, symbol: str) -> str:
        return self._markets.get(symbol, symbol)  # product ids are already BASE-QUOTE

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(PRODUCTS_URL)]

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # the level2 REST book has no id to bridge to level2 updates

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        chunks = symbols_per_connection(subscriptions, PRODUCTS_PER_CONNECTION, CHANNELS)
        plans = []
        for subs in chunks:
            products = list(dict.fromkeys(s.symbol for s in subs))
            wanted = {s.channel for s in subs}
            channels = ["heartbeat", *(v for k, v in CHANNELS.items() if k in wanted)]
            msg = {"type": "subscribe", "product_ids": products, "channels": channels}
            plans.append(
                ConnectionPlan(
                    url=WS_URL,
                    subscribe=[msgspec.json.encode(msg).decode()],
                    subscriptions=subs,
                    max_messages_per_second=IP_MESSAGES_PER_SECOND / len(chunks),
                    lifetime_s=LIFETIME_S,
                )
            )
        return plans

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None

    def connected(self, conn: int, url: str) -> None:
        pass  # no per-connection sequence on this feed

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            m = _message.decode(frame)
            return self._message(m, frame, ts_recv, conn)
        except (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _message(self, m: ExMessage, frame: str | bytes, ts_recv: int, conn: int) -> list[Message]:
        kind = m.type
        p = m.product_id or ""
        if kind in ("snapshot", "l2update", "match", "last_match", "ticker") and not p:
            return [DecodeFailed(f"{kind} without product_id", ts_recv, sample(frame))]
        if kind == "l2update" and m.changes is not None:
            if self._owner.get(p, conn) != conn:
                return [Control("ignored", ts_recv, f"{p} update of a replaced connection", p)]
            bids = [(plain(pr), plain(sz)) for side, pr, sz in m.changes if side == "buy"]
            asks = [(plain(pr), plain(sz)) for side, pr, sz in m.changes if side == "sell"]
            n = self._count[p] = self._count.get(p, 0) + 1
            return [BookDelta(p, parse_rfc3339_ns(m.time), ts_recv, n, n, None, bids, asks)]
        if kind == "snapshot" and m.bids is not None and m.asks is not None:
            self._owner[p] = conn
            self._count[p] = 0
            ts = parse_rfc3339_ns(m.time)
            bids = [(plain(pr), plain(sz)) for pr, sz in m.bids]
            asks = [(plain(pr), plain(sz)) for pr, sz in m.asks]
            return [BookSnapshot(p, ts, ts_recv, 0, bids, asks, in_band=True)]
        if kind in ("match", "last_match"):
            if m.trade_id is None or m.side is None or m.price is None or m.size is None:
                return [DecodeFailed(f"{kind} missing fields", ts_recv, sample(frame))]
            tid = str(m.trade_id)
            (ok,) = self._trades.admit(p, [tid], replay=kind == "last_match")
            if not ok:
                return [Control("ignored", ts_recv, f"{kind} {p} {tid}: already seen", p)]
            ts = parse_rfc3339_ns(m.time)
            return [Trade(p, ts, ts_recv, tid, _TAKER[m.side], plain(m.price), plain(m.size))]
        if kind == "ticker":
            bb, bq, ba, aq = m.best_bid, m.best_bid_size, m.best_ask, m.best_ask_size
            if not (bb and bq and ba and aq):
                return [Control("ignored", ts_recv, "ticker without best bid/ask sizes", p)]
            ts = parse_rfc3339_ns(m.time)
            return [BestBidAsk(p, ts, ts_recv, None, plain(bb), plain(bq), plain(ba), plain(aq))]
        if kind == "subscriptions":
            return [Control("ack", ts_recv, sample(frame))]
        if kind == "heartbeat":
            return [Control("heartbeat", ts_recv, f"{p}")]
        if kind == "error":
            return [Control("error", ts_recv, f"{m.message}: {m.reason}")]
        if kind in _IGNORED:
            return [Control("ignored", ts_recv, kind)]
        if kind in ("snapshot", "l2update"):
            return [DecodeFailed(f"{kind} missing levels", ts_recv, sample(frame))]
        return [DecodeFailed(f"unknown type {kind!r}", ts_recv, sample(frame), unknown=True)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        if not url.split("?")[0].endswith("/products"):
            return [
                DecodeFailed(f"unknown REST endpoint {url}", ts_recv, sample(body), unknown=True)
            ]
        try:
            products = _products.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        for prod in products:
            if prod.base_currency and prod.quote_currency:
                self._markets[prod.id] = f"{prod.base_currency}-{prod.quote_currency}"
        self.listings.add(prod.id for prod in products)
        return [Control("ignored", ts_recv, f"{len(products)} products loaded")]
