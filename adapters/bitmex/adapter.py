"""BitMEX derivatives (and spot): the ``/realtime`` websocket's table-diff protocol.

Sans-I/O: describes connections and decodes frames; the wire contract is in
``adapters.bitmex.wire`` (each struct names the documentation it follows).

Books: ``orderBookL2`` sends a ``partial`` (the in-band snapshot) and then
``insert``/``update``/``delete`` rows keyed by (symbol, id, side) with absolute
sizes. There are no sequence ids: ``NoSequenceRule``, with the adapter numbering each
symbol's book messages itself (partial 0, then 1, 2, ...; reset by every partial).
Rows without a price (``update``/``delete`` before mid-2023) take it from an id -> price
map built from ``partial``/``insert``; the map is reset by each partial. A row whose id
is unknown and that carries no price cannot be applied: the symbol's book is then
declared invalid (``BookInvalid``) and resynced, and ``unknown_ids`` counts it.
``orderBookL2_25`` frames decode the same way with no ``depth``: the docs describe it
as the same table diffing, i.e. levels leaving the top 25 are deleted by a ``delete``
row; neither the docs nor any recording we hold show otherwise, so nothing is
truncated silently. The live plan subscribes the full ``orderBookL2``.

Trades: ``side`` is the aggressor's. ``trade`` partials hold trades from before the
subscription and are not stored (a reconnect would repeat them); only inserts are.
Quotes (``quote``) become ``BestBidAsk`` without a book id. Snapshots are in-band on
every subscribe, so ``snapshot_request`` is ``None``.

Markets (instrument sidecar ``/api/v1/instrument/active`` when loaded): XBT -> BTC;
``XBTUSD`` -> ``BTC-USD-PERP``, ``ETHUSDT`` -> ``ETH-USDT-PERP``, ``XBTU21`` ->
``BTC-USD-20210924``, ``TRXU21`` -> ``TRX-BTC-20210924`` (alt futures were quoted in XBT),
spot ``XBT_USDT`` -> ``BTC-USDT``. Without the sidecar, a future's expiry is taken as
the last Friday of its month (BitMEX's schedule), indices and unknown shapes keep the
native symbol.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import urlsplit

import msgspec

from adapters.bitmex import wire as w
from collector.adapter import ConnectionPlan, Listings, RestRequest, Subscription, grammar
from collector.book.book import OrderBook
from collector.book.sequence import NoSequenceRule, SequenceRule
from collector.json_numbers import json_decimal, json_number
from collector.markets import future_code_expiry, split_quote
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Liquidation,
    Message,
    Trade,
    sample,
)
from collector.wire_time import rfc3339_ns

#: Listed instruments (types, underlyings, expiries): markets without guessing.
INSTRUMENTS_URL = "https://www.bitmex.com/api/v1/instrument/active"
URL = "wss://ws.bitmex.com/realtime"
#: wsAPI "Heartbeats": send the text ``ping`` when nothing arrived for 5 s; ``pong`` answers.
APP_PING = "ping"
APP_PING_INTERVAL_S = 5.0
#: Subscriptions are "not rate-limited once connected" (wsAPI); no cap on topics per
#: request or connection is documented. These bounds are ours.
TOPICS_PER_REQUEST = 20
TOPICS_PER_CONNECTION = 200
MAX_MESSAGES_PER_SECOND = 5.0
#: No documented lifetime: roll over daily like the other venues.
LIFETIME_S = 24 * 3600.0
#: REST: "Unauthenticated limit remains 30 requests per minute"; websocket connections
#: 60 per hour (blog.bitmex.com/api_announcement/updates-to-rate-limits/).
REST_PER_MINUTE = 30

_BOOK_TABLES = frozenset({"orderBookL2", "orderBookL2_25"})
_IGNORED_TABLES = frozenset(
    {
        "funding",
        "settlement",
        "insurance",
        "orderBook10",
        "announcement",
        "publicNotifications",
        "connected",
        "chat",
        "tradeBin1m",
        "tradeBin5m",
        "tradeBin1h",
        "tradeBin1d",
        "quoteBin1m",
        "quoteBin5m",
        "quoteBin1h",
        "quoteBin1d",
    }
)
_QUOTES = ("USDT", "USDC", "USD", "EUR", "XBT")
_FUTURE = re.compile(r"([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{2})")


#: ``XBTUSD``, ``XBTUSDT``, ``XBTZ26``.
SYMBOLS = grammar(r"[A-Z0-9]+(?:_[A-Z0-9]+)?", "upper-case letters and digits", "XBTUSD", "XBTZ26")


class BitmexAdapter:
    """Decoder and connection planner for BitMEX."""

    slug = "bitmex"
    symbol_grammar = SYMBOLS
    sequence_rule: SequenceRule = NoSequenceRule()
    rest_weight_per_minute: int | None = REST_PER_MINUTE

    derivative_channels = ("derivative_ticker", "liquidations")

    def __init__(self) -> None:
        #: per symbol: (level id, side) -> price text, from partial/insert rows
        self._prices: dict[str, dict[tuple[int, str], str]] = {}
        #: per symbol: number of the last book message (partial = 0)
        self._count: dict[str, int] = {}
        #: update/delete rows naming an id no partial or insert announced
        self.unknown_ids = 0
        self._instruments: dict[str, w.Instrument] = {}
        self._markets: dict[str, str] = {}
        self.listings = Listings()

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = _market(symbol, self._instruments.get(symbol))
        return name

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(INSTRUMENTS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)  # ``instrument/active``: every open market

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # the partial on (re)subscribe is the snapshot

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        topics = {
            "book": "orderBookL2",
            "trades": "trade",
            "bbo": "quote",
            "derivative_ticker": "instrument",
            "liquidations": "liquidation",
        }
        plans = []
        for i in range(0, len(subscriptions), TOPICS_PER_CONNECTION):
            chunk = subscriptions[i : i + TOPICS_PER_CONNECTION]
            args = [f"{topics[s.channel]}:{s.symbol}" for s in chunk]
            frames = [
                json.dumps({"op": "subscribe", "args": args[j : j + TOPICS_PER_REQUEST]})
                for j in range(0, len(args), TOPICS_PER_REQUEST)
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

    # -- decoding ---------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # BitMEX sends no checksum

    def connected(self, conn: int, url: str) -> None:
        pass  # every row names its symbol

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        if frame in ("pong", b"pong"):
            return [Control("heartbeat", ts_recv, "pong")]
        try:
            env = w.envelope.decode(frame)
            if env.table is not None:
                return self._table(env, ts_recv, frame)
            if env.error is not None:
                return [Control("error", ts_recv, f"{env.status}: {env.error}")]
            if env.success is not None:
                topic = env.subscribe or env.unsubscribe
                kind = "ack" if env.success else "error"
                return [Control(kind, ts_recv, f"subscribe {topic}: success={env.success}")]
            if env.info is not None:
                return [Control("ack", ts_recv, f"welcome: {env.info} {env.version}")]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _table(self, env: w.Envelope, ts_recv: int, frame: str | bytes) -> list[Message]:
        table, action = env.table, env.action
        if table in _BOOK_TABLES:
            return self._book(env, ts_recv, frame)
        if table == "trade":
            if action == "partial":
                return [Control("ignored", ts_recv, "trade partial: trades before subscribing")]
            return [
                Trade(
                    t.symbol,
                    rfc3339_ns(t.timestamp),
                    ts_recv,
                    t.trdMatchID,
                    t.side.lower(),  # the aggressor's side
                    json_decimal(t.price),
                    json_decimal(t.size),
                )
                for t in w.trade_rows.decode(env.data)
            ]
        if table == "quote":
            out: list[Message] = []
            for q in w.quote_rows.decode(env.data):
                texts = [json_number(r) for r in (q.bidPrice, q.bidSize, q.askPrice, q.askSize)]
                if all(t is not None and Decimal(t) != 0 for t in texts):
                    bp, bs, ap, as_ = texts
                    assert bp and bs and ap and as_
                    ts = rfc3339_ns(q.timestamp)
                    out.append(BestBidAsk(q.symbol, ts, ts_recv, None, bp, bs, ap, as_))
            return out or [Control("ignored", ts_recv, "one-sided quote")]
        if table == "instrument":
            return self._instrument(env, ts_recv)
        if table == "liquidation":
            return _liquidations(env, ts_recv)
        if table in _IGNORED_TABLES:
            return [Control("ignored", ts_recv, f"{table} {action}")]
        return [DecodeFailed(f"unknown table {table!r}", ts_recv, sample(frame), unknown=True)]

    def _instrument(self, env: w.Envelope, ts_recv: int) -> list[Message]:
        """``instrument`` rows as derivative tickers: an update gives only what changed.

        ``indicativeSettlePrice`` is the index the mark follows (tardis names it the
        index price too); ``indicativeFundingRate`` is the next period's predicted rate.
        """
        out: list[Message] = []
        for r in w.instrument_states.decode(env.data):
            ts = rfc3339_ns(r.timestamp) if r.timestamp else None
            funding = rfc3339_ns(r.fundingTimestamp) if r.fundingTimestamp else None
            ticker = DerivativeTicker(
                r.symbol,
                ts,
                ts_recv,
                mark_price=json_number(r.markPrice),
                index_price=json_number(r.indicativeSettlePrice),
                last_price=json_number(r.lastPrice),
                open_interest=json_number(r.openInterest),
                funding_rate=json_number(r.fundingRate),
                predicted_funding_rate=json_number(r.indicativeFundingRate),
                funding_time=funding,
            )
            if ticker.has_data():
                out.append(ticker)
        return out or [Control("ignored", ts_recv, f"instrument {env.action}: no stored field")]

    def _book(self, env: w.Envelope, ts_recv: int, frame: str | bytes) -> list[Message]:
        action = env.action
        if action not in ("partial", "insert", "update", "delete"):
            return [DecodeFailed(f"unknown action {action!r}", ts_recv, sample(frame), True)]
        rows = w.book_rows.decode(env.data)
        by_symbol: dict[str, list[w.BookRow]] = {}
        for row in rows:
            by_symbol.setdefault(row.symbol, []).append(row)
        if action == "partial" and not rows and env.filter and env.filter.symbol:
            by_symbol[env.filter.symbol] = []  # an empty book is still a snapshot
        out: list[Message] = []
        for symbol, symbol_rows in by_symbol.items():
            stamps = [r.timestamp for r in symbol_rows if r.timestamp]
            ts = rfc3339_ns(max(stamps)) if stamps else None
            if action == "partial":
                prices = self._prices[symbol] = {}
                self._count[symbol] = 0
                bids, asks = self._levels(symbol_rows, prices, action)
                out.append(BookSnapshot(symbol, ts, ts_recv, 0, bids, asks, in_band=True))
                continue
            prices = self._prices.setdefault(symbol, {})
            try:
                bids, asks = self._levels(symbol_rows, prices, action)
            except KeyError as exc:
                out.append(BookInvalid(symbol, ts_recv, f"{action} of unknown level {exc}"))
                continue
            n = self._count[symbol] = self._count.get(symbol, 0) + 1
            out.append(BookDelta(symbol, ts, ts_recv, n, n, n - 1, bids, asks))
        return out

    def _levels(
        self, rows: list[w.BookRow], prices: dict[tuple[int, str], str], action: str
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Rows as (price, absolute size) per side; keeps ``prices`` in step with the table."""
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        for row in rows:
            key = (row.id, row.side)
            price = json_number(row.price)
            if action in ("update", "delete") and key not in prices:
                self.unknown_ids += 1
                if price is None:
                    raise KeyError(f"id={row.id} side={row.side}")
            if price is None:
                price = prices[key]
            if action == "delete":
                prices.pop(key, None)
                size = "0"
            else:
                size = json_decimal(row.size)
                prices[key] = price
            (bids if row.side == "Buy" else asks).append((price, size))
        return bids, asks

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        if "/api/v1/instrument" not in path:  # under any proxy prefix, as recorded
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            rows = w.instruments.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            try:
                err = msgspec.json.decode(body, type=dict[str, dict[str, str]])["error"]
                return [Control("error", ts_recv, f"{path}: {err.get('message')}")]
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
                return [DecodeFailed(str(exc), ts_recv, sample(body))]
        for row in rows:
            self._instruments[row.symbol] = row
        self.listings.add(row.symbol for row in rows)
        self._markets.clear()
        return [Control("ignored", ts_recv, f"instruments loaded: {len(rows)}")]


def _liquidations(env: w.Envelope, ts_recv: int) -> list[Message]:
    """New liquidation orders (``insert``); the rows carry no time, so ``ts_exchange`` is
    null. A partial lists orders entered before subscribing and updates/deletes follow
    their fills: none is a new liquidation."""
    if env.action != "insert":
        return [Control("ignored", ts_recv, f"liquidation {env.action}")]
    out: list[Message] = []
    for r in w.liquidation_rows.decode(env.data):
        if r.side is None:
            raise ValueError(f"liquidation insert {r.orderID} without side")
        price, size = json_decimal(r.price), json_decimal(r.leavesQty)
        out.append(Liquidation(r.symbol, None, ts_recv, r.orderID, r.side.lower(), price, size))
    return out


def _asset(code: str) -> str:
    return "BTC" if code == "XBT" else code


def _market(symbol: str, info: w.Instrument | None) -> str:
    """Normalized market (module docstring); unknown shapes keep the native name."""
    if info is not None and info.underlying and info.quoteCurrency:
        base, quote = _asset(info.underlying), _asset(info.quoteCurrency)
        if info.typ == "FFWCSX":
            return f"{base}-{quote}-PERP"
        if info.typ == "FFCCSX" and info.expiry:
            return f"{base}-{quote}-{info.expiry[:10].replace('-', '')}"
        if info.typ == "IFXXXP":
            return f"{base}-{quote}"
        return symbol
    if symbol.startswith("."):
        return symbol  # index
    if "_" in symbol:
        base, _, quote = symbol.partition("_")
        return f"{_asset(base)}-{_asset(quote)}"
    m = _FUTURE.fullmatch(symbol)
    if m is not None:
        pair = split_quote(m[1], _QUOTES)
        base, quote = pair if pair else (m[1], "USD" if m[1] == "XBT" else "XBT")
        return f"{_asset(base)}-{_asset(quote)}-{future_code_expiry(m[2], m[3])}"
    pair = split_quote(symbol, _QUOTES)
    if pair is None:
        return symbol
    return f"{_asset(pair[0])}-{_asset(pair[1])}-PERP"
