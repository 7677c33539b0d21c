"""Crypto.com Exchange market data: API v1 deltas planned (today's), v2 snapshots decoded.

Sans-I/O. Wire structs and doc URLs: ``adapters/crypto_com/wire.py``.

Plan (Exchange API v1): ``wss://stream.crypto.com/exchange/v1/market``, one
``subscribe`` request for the books with ``book_subscription_type``
``SNAPSHOT_AND_UPDATE`` at ``book_update_frequency`` 10 ms and depth 50, one for
``trade`` and ``ticker`` (the ``bbo``: best bid and ask with sizes). Market data allows
100 requests a second per connection; we send a few. The docs advise waiting a second
after connecting before sending: rate limits are pro-rated from the connection's
calendar second. (The transport sends subscriptions at once; a subscription refused
for the rate arrives as an ``error`` control.)

Books: a ``book`` snapshot (``u``) per subscription, then ``book.update`` deltas whose
``pu`` must equal the ``u`` last applied (``PreviousIdRule``, first = last = ``u``,
prev = ``pu``); an empty delta is a heartbeat or "sequence housekeeping" and is applied
like any other. On a mismatch the docs say to re-subscribe for a new snapshot: the
daemon's in-band resync (reconnect) does that. The venue keeps each book at the
subscribed depth, so every message carries ``depth`` and the engine cuts the book there.
The v2 recording's ``book`` pushes are full snapshots with no ``u``: each is a
``BookSnapshot`` numbered by the adapter.

Trades: "a snapshot of the last 50 trades after the initial subscription", then new
trades. The first ``trade`` push of each instrument on a connection is that snapshot
(from before subscribing: not stored, it would repeat on every reconnect).

Heartbeats: the venue sends ``public/heartbeat`` every 30 s and closes the connection
unless ``public/respond-heartbeat`` with the same id comes back within 5 s. The adapter
answers with a ``Control("reply")``, which the daemon sends on the heartbeat's own
connection (``collector.pipeline``); the venue documents no client-initiated ping, so
no ``app_ping`` is planned.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from adapters.crypto_com import wire
from collector.adapter import (
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import PreviousIdRule
from collector.markets import ms_date, split_quote
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

MARKET_URL = "wss://stream.crypto.com/exchange/v1/market"
INSTRUMENTS_URL = "https://api.crypto.com/exchange/v1/public/get-instruments"
#: ``BTC_USDT`` spot, ``BTCUSD-PERP`` perpetual, ``BTCUSD-261225`` future.
SYMBOLS = grammar(
    r"[A-Z0-9]+(?:_[A-Z0-9]+|-[A-Z0-9]+)",
    "upper-case BASE_QUOTE (spot) or a contract name with one dash",
    "BTC_USDT",
    "BTCUSD-PERP",
)
BOOK_DEPTH = 50  # docs: depth 10 or 50
BOOK_UPDATE_FREQUENCY_MS = 10  # docs: 10 (default) or 100 for the delta subscription
SYMBOLS_PER_CONNECTION = 50  # our choice: the docs give no per-connection cap
MAX_MESSAGES_PER_SECOND = 5.0  # our pacing; docs: 100 requests/s per market data connection
LIFETIME_S = 24 * 3600.0  # our choice: no documented connection lifetime
#: REST: public market data endpoints allow 100 requests/s per IP; we spend 10.
REST_WEIGHT_PER_MINUTE = 600
#: Channels understood and not stored.
IGNORED_CHANNELS = frozenset(("candlestick", "index", "mark", "settlement", "funding"))
_QUOTES = ("USDT", "USDC", "USD")


class CryptoComAdapter:
    """Decoder and connection planner for Crypto.com Exchange market data."""

    def __init__(self) -> None:
        self.slug = "crypto-com"
        self.sequence_rule = PreviousIdRule()
        self.rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
        self.symbol_grammar = SYMBOLS
        self.listings = Listings()
        self._markets: dict[str, str] = {}
        #: Own numbers of the v2 snapshots (no ``u``), per connection and instrument: a
        #: new connection starts again at 1, as its venue stream starts over.
        self._numbers: dict[tuple[int, str], int] = {}
        #: (connection, instrument) pairs whose subscription trade snapshot has come.
        self._trades_started: set[tuple[int, str]] = set()

    # -- describing connections --------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = _guess_market(symbol)
        return name

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(INSTRUMENTS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # a re-subscription starts with a snapshot (the daemon reconnects)

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        for sub in subscriptions:
            if sub.channel not in ("book", "trades", "bbo"):
                raise ValueError(f"crypto-com has no channel {sub.channel!r} for {sub.symbol}")
        plans = []
        for chunk in symbols_per_connection(subscriptions, SYMBOLS_PER_CONNECTION, _CHANNELS):
            books = [f"book.{s.symbol}.{BOOK_DEPTH}" for s in chunk if s.channel == "book"]
            others = [f"{_CHANNELS[s.channel]}.{s.symbol}" for s in chunk if s.channel != "book"]
            frames = []
            if books:
                params = {
                    "channels": books,
                    "book_subscription_type": "SNAPSHOT_AND_UPDATE",
                    "book_update_frequency": BOOK_UPDATE_FREQUENCY_MS,
                }
                frames.append({"id": 1, "method": "subscribe", "params": params})
            if others:
                frames.append({"id": 2, "method": "subscribe", "params": {"channels": others}})
            plans.append(
                ConnectionPlan(
                    url=MARKET_URL,
                    subscribe=[msgspec.json.encode(f).decode() for f in frames],
                    subscriptions=chunk,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                )
            )
        return plans

    # -- decoding -------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # no documented checksum

    def connected(self, conn: int, url: str) -> None:
        pass  # every push names its instrument; ids are per instrument

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = wire.envelope.decode(frame)
            if env.method == "public/heartbeat":
                answer = {"id": env.id, "method": "public/respond-heartbeat"}
                return [Control("reply", ts_recv, msgspec.json.encode(answer).decode())]
            if env.code:
                return [Control("error", ts_recv, f"{env.method} {env.code}: {env.message}")]
            result = env.result
            if result is None:
                if env.method in ("subscribe", "unsubscribe"):
                    return [Control("ack", ts_recv, f"{env.method} id {env.id}")]
                return [DecodeFailed("unknown message type", ts_recv, sample(frame), True)]
            symbol, channel = result.instrument_name, result.channel
            if not symbol:
                raise ValueError(f"{channel} push without instrument_name")
            if channel == "book":
                return self._snapshots(symbol, result, ts_recv, conn)
            if channel == "book.update":
                updates = wire.updates.decode(result.data)
                return [_delta(symbol, u, result.depth, ts_recv) for u in updates]
            if channel == "trade":
                return self._trades(symbol, result.data, ts_recv, conn)
            if channel == "ticker":
                return [_bbo(symbol, t, ts_recv) for t in wire.tickers.decode(result.data)]
            if channel in IGNORED_CHANNELS:
                return [Control("ignored", ts_recv, channel, symbol)]
            return [DecodeFailed(f"unknown channel {channel!r}", ts_recv, sample(frame), True)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _snapshots(
        self, symbol: str, result: wire.Result, ts_recv: int, conn: int
    ) -> list[Message]:
        out: list[Message] = []
        for s in wire.snapshots.decode(result.data):
            if s.u is not None:
                seq = s.u
            else:
                key = (conn, symbol)
                seq = self._numbers[key] = self._numbers.get(key, 0) + 1
            out.append(
                BookSnapshot(
                    symbol,
                    _ms(s.tt or s.t),
                    ts_recv,
                    seq,
                    _levels(s.bids),
                    _levels(s.asks),
                    True,
                    None,
                    result.depth,
                )
            )
        return out

    def _trades(self, symbol: str, raw: msgspec.Raw, ts_recv: int, conn: int) -> list[Message]:
        key = (conn, symbol)
        if key not in self._trades_started:
            self._trades_started.add(key)
            return [Control("ignored", ts_recv, "trade snapshot: before subscribing", symbol)]
        out: list[Message] = []
        for t in wire.trades.decode(raw):
            side = t.s.lower()
            if side not in ("buy", "sell"):
                raise ValueError(f"trade side {t.s!r}")
            price, size = wire.text(t.p), wire.text(t.q)
            out.append(Trade(symbol, _ms(t.t), ts_recv, str(t.d), side, price, size))
        return out

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        try:
            reply = wire.instruments_reply.decode(body)
            if reply.code != 0:
                return [Control("error", ts_recv, f"{url}: {reply.code}: {reply.message}")]
            if path.endswith("/exchange/v1/public/get-instruments"):
                v1 = wire.v1_instruments.decode(reply.result).data
                rows = [(i.symbol, _v1_market(i)) for i in v1]
            elif path.endswith("/v2/public/get-instruments"):
                v2 = wire.v2_instruments.decode(reply.result).instruments
                rows = [(i.instrument_name, f"{i.base_currency}-{i.quote_currency}") for i in v2]
            else:
                return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        self._markets.update(rows)
        self.listings.add(symbol for symbol, _ in rows)
        return [Control("ignored", ts_recv, f"{len(rows)} instruments loaded")]


_CHANNELS = {"book": "book", "trades": "trade", "bbo": "ticker"}


def _delta(symbol: str, u: wire.Update, depth: int | None, ts_recv: int) -> BookDelta:
    bids, asks = _levels(u.update.bids), _levels(u.update.asks)
    return BookDelta(symbol, _ms(u.tt or u.t), ts_recv, u.u, u.u, u.pu, bids, asks, None, depth)


def _bbo(symbol: str, t: wire.Ticker, ts_recv: int) -> Message:
    if not all(wire.given(v) for v in (t.b, t.bs, t.k, t.ks)):
        return Control("ignored", ts_recv, "ticker without best bid and ask sizes", symbol)
    bid, bid_size, ask, ask_size = (wire.text(v) for v in (t.b, t.bs, t.k, t.ks))
    return BestBidAsk(symbol, _ms(t.t), ts_recv, None, bid, bid_size, ask, ask_size)


def _levels(rows: list[list[Any]]) -> list[tuple[str, str]]:
    """``[price, size, order count]`` rows -> ``(price, size)`` exact text."""
    if any(len(row) < 2 for row in rows):
        raise ValueError("book level with fewer than 2 fields")
    text = wire.level_text
    return [(text(row[0]), text(row[1])) for row in rows]


def _v1_market(i: wire.V1Instrument) -> str:
    pair = f"{i.base_ccy}-{i.quote_ccy}"
    if i.inst_type == "PERPETUAL_SWAP":
        return f"{pair}-PERP"
    if i.inst_type == "FUTURE" and i.expiry_timestamp_ms:
        return f"{pair}-{ms_date(i.expiry_timestamp_ms)}"
    return pair


def _guess_market(symbol: str) -> str:
    """Without the list: ``BTC_USDT`` -> ``BTC-USDT``, ``BTCUSD-PERP`` -> ``BTC-USD-PERP``,
    ``BTCUSD-261225`` -> ``BTC-USD-20261225``; anything else keeps its name."""
    if "_" in symbol:
        return symbol.replace("_", "-")
    name, _, kind = symbol.partition("-")
    pair = split_quote(name, _QUOTES)
    if pair is None:
        return symbol
    if kind == "PERP":
        return f"{pair[0]}-{pair[1]}-PERP"
    if len(kind) == 6 and kind.isdigit():
        return f"{pair[0]}-{pair[1]}-20{kind}"
    return symbol


def _ms(value: int) -> int:
    if value <= 0:
        raise ValueError(f"timestamp {value!r} is not milliseconds")
    return value * 1_000_000
