"""Phemex (contracts and spot): scaled-integer prices and sizes, in-band books.

Sans-I/O; the wire contract is ``adapters.phemex.wire`` (docs at
github.com/phemex/phemex-api-docs, read 2026-12-07).

Numbers: COIN-M contracts and spot send **scaled integers**. A contract's ``priceEp``
is the price times ``10**priceScale`` and its size is whole contracts; a spot
``priceEp`` is scaled by the quote currency's ``valueScale`` and its size (``Ev``)
by the base currency's. The scales come from the product lists
(``instrument_requests``) and are applied by ``collector.decimal_text.scaled_text``:
integer arithmetic, never a float. USDT-M perpetuals (``orderbook_p``/``trades_p``,
the ``perpProductsV2`` list) send real-valued text and need no scale.

Before the product list has loaded a scaled frame cannot be read. The daemon fetches
the list before connecting, so live this is the exception (the REST host failed);
then the adapter **holds** such frames (up to ``HOLD_LIMIT``, oldest dropped first,
each drop a counted ``malformed`` decode failure) and decodes them, in order, when a
list arrives. ``poll_requests`` (asked once the start-up fetch is over) then refetches
the lists every ``PRODUCTS_POLL_S``, and only then: a failed start is retried, a good
one costs nothing more. Each fetched body is recorded. A replay feeds the recording's
instrument sidecar first, and a daemon capture holds the polled bodies where they
arrived, so a replay decodes every frame exactly as the live run did.

Books: ``orderbook.subscribe`` sends a 30-level ``snapshot`` then ``incremental``
updates (absolute sizes, 0 deletes), each with ``sequence``: one engine-wide counter
that increases but skips values (``IncreasingIdRule``), so only the in-band snapshot
and the crossed-book check guard the book; Phemex re-sends a snapshot every 60 s.
``depth`` (30) is the depth the venue keeps. Resync is by reconnecting.

Trades: ``trade.subscribe`` sends the recent history first (``snapshot``: not stored,
as elsewhere, it repeats trades a previous connection stored) then ``incremental``
rows ``[timestamp ns, side, price, size]``; ``side`` is the taker's. Phemex sends no
trade id: ``trade_id`` stays empty. Phemex has no best-bid/ask channel (its tickers
carry no sizes): ``market_channels`` leaves ``bbo`` out, so the config refuses it (and
``plan`` raises for it) rather than subscribing nothing in silence.

Markets: ``sBTCUSDT`` -> ``BTC-USDT`` (spot), ``BTCUSD`` -> ``BTC-USD-PERP``,
``BTCUSDT`` (USDT-M) -> ``BTC-USDT-PERP``; from the product list, else from the
symbol's shape.
"""

from __future__ import annotations

import json
from collections import deque
from urllib.parse import urlsplit

import msgspec

from adapters.phemex import wire as w
from collector.adapter import (
    ConnectionPlan,
    Listings,
    PollRequest,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import IncreasingIdRule, SequenceRule
from collector.decimal_text import scaled_text
from collector.markets import split_quote
from collector.model import BookDelta, BookSnapshot, Control, DecodeFailed, Message, Trade, sample

#: Today's documented endpoint, one socket for every family (the channel picks it); the
#: 2021 recording used ``wss://phemex.com/ws``.
URL = "wss://ws.phemex.com"
#: The product lists: today's documented one (contracts, spot, ``perpProductsV2``;
#: Public-Contract-API-en.md "Query Product Information") and the configuration list the
#: 2021 recording (and cryptofeed) fetched, same ``products``/``currencies``. Both are
#: asked for, so that either one answering gives the scales.
PRODUCTS_URLS = (
    "https://api.phemex.com/public/products",
    "https://api.phemex.com/exchange/public/cfg/v2/products",
)
PRODUCTS_PATHS = tuple(urlsplit(u).path for u in PRODUCTS_URLS)
#: Refetch of the product lists after a failed start-up fetch (module docstring).
PRODUCTS_POLL_S = 60.0
#: Frames held while no product list has loaded (about a minute of a busy symbol set).
HOLD_LIMIT = 10_000
#: Heartbeat (all three pages): a client ping at intervals under 30 s, every 5 s
#: recommended; the server closes a connection without one for 30 s.
APP_PING_INTERVAL_S = 5.0
APP_PING = json.dumps({"id": 0, "method": "server.ping", "params": []}, separators=(",", ":"))
#: "API Rate Limits": 20 subscriptions per connection, 20 requests per second.
MAX_SYMBOLS_PER_CONNECTION = 10  # two subscriptions (book, trades) per symbol
MAX_MESSAGES_PER_SECOND = 20.0
LIFETIME_S = 24 * 3600.0
#: Our REST budget: the adapter fetches only the product lists (the venue's public limits
#: are far above this; not re-checked here).
REST_WEIGHT_PER_MINUTE = 100
#: Spot ``sBTCUSDT``; contracts ``BTCUSD``, ``BTCUSDT``, ``u1000PEPEUSDT``, ``cETHUSD``.
SYMBOLS = grammar(
    r"[scu]?[A-Z0-9]+",
    "upper-case letters and digits; spot prefixed 's', some contracts 'u' or 'c'",
    "BTCUSD",
    "sBTCUSDT",
)
_QUOTES = ("USDT", "USDC", "USD", "BTC", "ETH")


class PhemexAdapter:
    """Decoder and connection planner for Phemex."""

    slug = "phemex"
    sequence_rule: SequenceRule = IncreasingIdRule()
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
    symbol_grammar = SYMBOLS
    #: No best-bid/ask stream (module docstring): the config refuses ``bbo`` here.
    market_channels = ("book", "trades")

    def __init__(self) -> None:
        self.listings = Listings()
        self._scales: dict[str, tuple[int, int]] = {}  # symbol -> (price, size) scale
        self._markets: dict[str, str] = {}
        self._real: set[str] = set()  # USDT-M symbols (text channels)
        self._held: deque[tuple[str | bytes, int, int]] = deque()

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is not None:
            return name
        if symbol[:1] == "s" and symbol[1:2].isupper():
            pair = split_quote(symbol[1:], _QUOTES)
            return f"{pair[0]}-{pair[1]}" if pair else symbol
        pair = split_quote(symbol, _QUOTES)
        return f"{pair[0]}-{pair[1]}-PERP" if pair else symbol

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(url) for url in PRODUCTS_URLS]

    def poll_requests(self, subscriptions: list[Subscription]) -> list[PollRequest]:
        """The product lists every ``PRODUCTS_POLL_S`` while none has loaded, else nothing.

        The daemon asks after its start-up fetch: a list that arrived then needs no poll.
        """
        if self._scales or self._real:
            return []
        return [PollRequest(r, PRODUCTS_POLL_S) for r in self.instrument_requests()]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # in-band snapshot on every (re)subscribe

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One request per symbol and channel (the API takes one symbol per request)."""
        refused = sorted({s.channel for s in subscriptions} - {"book", "trades"})
        if refused:
            raise ValueError(f"Phemex has no {', '.join(refused)} channel (book and trades only)")
        plans = []
        for chunk in symbols_per_connection(
            subscriptions, MAX_SYMBOLS_PER_CONNECTION, ("book", "trades")
        ):
            frames = []
            for i, sub in enumerate(chunk, start=1):
                method = "orderbook" if sub.channel == "book" else "trade"
                if self._is_real(sub.symbol):
                    method += "_p"
                request = {"id": i, "method": f"{method}.subscribe", "params": [sub.symbol]}
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

    def _is_real(self, symbol: str) -> bool:
        """USDT-M perpetuals speak the ``_p`` channels (text numbers)."""
        if self._real or self._scales:
            return symbol in self._real
        return symbol.endswith("USDT") and not symbol.startswith("s")

    # -- decoding ---------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # Phemex sends no checksum

    def connected(self, conn: int, url: str) -> None:
        pass  # every push names its symbol

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.type is None:
                return [_reply(env, ts_recv, frame)]
            symbol, seq = env.symbol, env.sequence
            if symbol is None or seq is None:
                raise ValueError("push without symbol or sequence")
            if env.kline or env.kline_p:
                return [Control("ignored", ts_recv, f"kline {symbol}")]
            if env.orderbook_p:
                return [
                    self._book(env, symbol, seq, w.sides.decode(env.orderbook_p), None, ts_recv)
                ]
            if env.trades_p:
                return self._trades(env, symbol, env.trades_p, None, ts_recv)
            if not env.book and not env.trades:
                return [DecodeFailed("unknown push", ts_recv, sample(frame), unknown=True)]
            scales = self._scales.get(symbol)
            if scales is None:
                return self._hold(frame, ts_recv, conn, symbol)
            if env.book:
                return [self._book(env, symbol, seq, w.sides.decode(env.book), scales, ts_recv)]
            return self._trades(env, symbol, env.trades, scales, ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _book(
        self,
        env: w.Envelope,
        symbol: str,
        seq: int,
        book: w.Sides,
        scales: tuple[int, int] | None,
        ts_recv: int,
    ) -> BookSnapshot | BookDelta:
        bids, asks = _levels(book.bids, scales), _levels(book.asks, scales)
        depth = env.depth or None  # 0: the full book ("true" subscriptions), nothing to cut
        if env.type == "snapshot":
            return BookSnapshot(symbol, env.timestamp, ts_recv, seq, bids, asks, True, depth=depth)
        return BookDelta(symbol, env.timestamp, ts_recv, seq, seq, None, bids, asks, depth=depth)

    def _trades(
        self,
        env: w.Envelope,
        symbol: str,
        raw: msgspec.Raw,
        scales: tuple[int, int] | None,
        ts_recv: int,
    ) -> list[Message]:
        rows = w.trade_rows.decode(raw)
        if env.type == "snapshot":
            # Recent history sent on subscribe: partly stored already by an earlier connection.
            return [Control("ignored", ts_recv, f"trade snapshot: {len(rows)} historical trades")]
        out: list[Message] = []
        for ts, side, price, size in rows:
            if side not in ("Buy", "Sell"):
                raise ValueError(f"trade side {side!r}")
            # ``side`` is the taker's (the aggressor that traded at the maker's price).
            p, s = _number(price, scales, 0), _number(size, scales, 1)
            out.append(Trade(symbol, ts, ts_recv, "", side.lower(), p, s))
        return out

    def _hold(self, frame: str | bytes, ts_recv: int, conn: int, symbol: str) -> list[Message]:
        """Keep a frame that needs the product list; see the module docstring."""
        self._held.append((frame, ts_recv, conn))
        if len(self._held) <= HOLD_LIMIT:
            return []
        dropped, dropped_ts, _ = self._held.popleft()
        reason = (
            f"no price/size scale for {symbol}: the product list has not loaded; "
            f"{HOLD_LIMIT} frames held, the oldest dropped"
        )
        return [DecodeFailed(reason, dropped_ts, sample(dropped))]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path.rstrip("/")
        if not path.endswith(PRODUCTS_PATHS):
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            reply = w.products.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        if reply.code != 0 or reply.data is None:
            return [Control("error", ts_recv, f"{path}: {reply.code} {reply.msg}")]
        self._load(reply.data)
        out: list[Message] = [
            Control("ignored", ts_recv, f"products loaded: {len(self._scales)} scaled")
        ]
        held, self._held = self._held, deque()
        for frame, ts, conn in held:  # in arrival order; still unknown symbols are held again
            out.extend(self.decode(frame, ts, conn))
        return out

    def _load(self, data: w.ProductData) -> None:
        value_scale = {c.currency: c.valueScale for c in data.currencies}
        for p in data.products:
            if p.type == "Spot":
                if p.quoteCurrency in value_scale and p.baseCurrency in value_scale:
                    self._scales[p.symbol] = (
                        value_scale[p.quoteCurrency],
                        value_scale[p.baseCurrency],
                    )
                    self._markets[p.symbol] = f"{p.baseCurrency}-{p.quoteCurrency}"
            elif p.priceScale is not None:
                self._scales[p.symbol] = (p.priceScale, 0)  # sizes: whole contracts
                self._markets[p.symbol] = _perp(p.symbol, p.quoteCurrency, p.type)
        for v2 in data.perpProductsV2:
            self._real.add(v2.symbol)
            self._markets[v2.symbol] = _perp(v2.symbol, v2.quoteCurrency, v2.type)
        self.listings.add(
            [p.symbol for p in data.products] + [p.symbol for p in data.perpProductsV2]
        )


def _reply(env: w.Envelope, ts_recv: int, frame: str | bytes) -> Message:
    if env.error and bytes(env.error) != b"null":
        err = w.reply_error.decode(env.error)
        return Control("error", ts_recv, f"id={env.id} {err.code}: {err.message}")
    if not env.result:
        return DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)
    if bytes(env.result) == b'"pong"':
        return Control("heartbeat", ts_recv, "server.ping reply")
    return Control(
        "ack", ts_recv, f"id={env.id}: {bytes(env.result)[:80].decode(errors='replace')}"
    )


def _perp(symbol: str, quote: str | None, kind: str) -> str:
    if kind not in ("Perpetual", "PerpetualV2") or not quote or not symbol.endswith(quote):
        return symbol  # dated futures and odd names keep the native name
    base = symbol[: -len(quote)]
    return f"{base}-{quote}-PERP" if base else symbol


def _number(value: int | str, scales: tuple[int, int] | None, which: int) -> str:
    """A level's or trade's price (``which`` 0) or size (1) as exact text."""
    if scales is None:
        if not isinstance(value, str):
            raise ValueError(f"USDT-M number {value!r} is not text")
        return value
    if not isinstance(value, int):
        raise ValueError(f"scaled number {value!r} is not an integer")
    return scaled_text(value, scales[which])


def _levels(levels: list[w.Level], scales: tuple[int, int] | None) -> list[tuple[str, str]]:
    return [(_number(p, scales, 0), _number(s, scales, 1)) for p, s in levels]
