"""Bitstamp spot, websocket API v2 (``wss://ws.bitstamp.net``) with REST book snapshots.

Sans-I/O; the wire contract is ``adapters.bitstamp.wire``.

Books (alignment case 1): ``diff_order_book_{pair}`` sends the changed levels of the
whole book, each message stamped with ``microtimestamp`` and nothing else: no update
id, no chain. The book is seeded from ``GET /api/v2/order_book/{pair}/``, and the
websocket docs give the bridge (paraphrased): buffer the events, fetch the REST
book, drop the buffered events whose ``microtimestamp`` is not after the book's, apply
the rest. That is ``IncreasingIdRule`` on ``first_id = last_id =
microtimestamp`` with the REST ``microtimestamp`` as the snapshot id (the REST body
sometimes lacks it; then ``timestamp`` in seconds, scaled to microseconds, stands in:
a bridge that is at most one second early rather than none). A lost event cannot be
seen; the crossed-book check is the guard, and a resync fetches a new snapshot.

Trades: ``live_trades_{pair}``, event ``trade``: ``id``, exact ``price_str`` and
``amount_str``; ``type`` 0 is a buy and 1 a sell, the taker's side (the order that
took liquidity). Best bid/ask: ``order_book_{pair}`` (top 100, on every change), of
which the first level per side is kept.

Session: ``bts:request_reconnect`` (the server's notice that it will close the
connection, documented as a request to reconnect) becomes
a ``shutdown`` control, so the transport reconnects at once; ``bts:heartbeat`` is the
client's liveness probe, sent as the application ping. A reconnect resyncs the books
that move to the new connection (``BookInvalid``, then a new REST snapshot): without
update ids, updates lost in between could not be seen otherwise.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import msgspec

from adapters.bitstamp import wire as w
from collector.adapter import (
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.sequence import IncreasingIdRule, SequenceRule
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

URL = "wss://ws.bitstamp.net"
ORDER_BOOK_URL = "https://www.bitstamp.net/api/v2/order_book/{}/"
PAIRS_URL = "https://www.bitstamp.net/api/v2/trading-pairs-info/"
#: The API page's default threshold: 10,000 requests per 10 minutes (and 400 a second).
REST_WEIGHT_PER_MINUTE = 1000
#: Bitstamp states no cap on channels per connection; this is our bound (three a symbol).
MAX_SYMBOLS_PER_CONNECTION = 30
MAX_MESSAGES_PER_SECOND = 10.0
LIFETIME_S = 24 * 3600.0
APP_PING = json.dumps({"event": "bts:heartbeat"}, separators=(",", ":"))
APP_PING_INTERVAL_S = 30.0
SYMBOLS = grammar(r"[a-z0-9]+", "lower-case pair as in URLs", "btcusd", "etheur")
_CHANNELS = {"book": "diff_order_book_", "trades": "live_trades_", "bbo": "order_book_"}
_SIDES = {0: "buy", 1: "sell"}


class BitstampAdapter:
    """Decoder and connection planner for Bitstamp."""

    slug = "bitstamp"
    sequence_rule: SequenceRule = IncreasingIdRule()
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.listings = Listings()
        self._markets: dict[str, str] = {}
        self._conn_of: dict[str, int] = {}  # pair -> newest connection its diff book came on

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        return self._markets.get(symbol, symbol.upper())

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(PAIRS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return RestRequest(ORDER_BOOK_URL.format(symbol))

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One ``bts:subscribe`` per channel; every channel of a symbol on one connection."""
        plans = []
        for chunk in symbols_per_connection(subscriptions, MAX_SYMBOLS_PER_CONNECTION, _CHANNELS):
            frames = [
                json.dumps(
                    {
                        "event": "bts:subscribe",
                        "data": {"channel": _CHANNELS[s.channel] + s.symbol},
                    },
                    separators=(",", ":"),
                )
                for s in chunk
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
        return None  # Bitstamp sends no checksum

    def connected(self, conn: int, url: str) -> None:
        pass  # every channel names its pair

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            event, channel = env.event, env.channel
            if event == "data" and channel.startswith("diff_order_book_"):
                b = w.book.decode(env.data)
                mts = int(b.microtimestamp)
                pair = channel[len("diff_order_book_") :]
                delta = BookDelta(pair, mts * 1000, ts_recv, mts, mts, None, b.bids, b.asks)
                return [*self._moved(pair, conn, ts_recv), delta]
            if event == "trade" and channel.startswith("live_trades_"):
                t = w.trade.decode(env.data)
                side = _SIDES.get(t.type)
                if side is None:
                    raise ValueError(f"trade type {t.type!r}")
                pair = channel[len("live_trades_") :]
                ts = int(t.microtimestamp) * 1000
                return [Trade(pair, ts, ts_recv, str(t.id), side, t.price_str, t.amount_str)]
            if event == "data" and channel.startswith("order_book_"):
                return [_top(channel[len("order_book_") :], w.book.decode(env.data), ts_recv)]
            if event == "bts:subscription_succeeded":
                return [Control("ack", ts_recv, channel)]
            if event == "bts:unsubscription_succeeded":
                return [Control("ack", ts_recv, f"unsubscribed {channel}")]
            if event == "bts:heartbeat":
                return [Control("heartbeat", ts_recv, "bts:heartbeat reply")]
            if event == "bts:request_reconnect":
                return [Control("shutdown", ts_recv, "bts:request_reconnect")]
            if event == "bts:error":
                err = w.error.decode(env.data)
                return [Control("error", ts_recv, f"{err.code}: {err.message}")]
            return [DecodeFailed(f"unknown event {event!r}", ts_recv, sample(frame), unknown=True)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _moved(self, pair: str, conn: int, ts_recv: int) -> list[BookInvalid]:
        """The pair's diff stream now arrives on a newer connection: resync its book.

        With no update ids, what was lost between two connections cannot be seen (the
        in-band venues get a snapshot on reconnect; Bitstamp does not), so the book is
        declared invalid and a REST snapshot bridges the new stream. Connection numbers
        only grow, so an older connection still draining during a switch-over is not a
        move (its frames are admitted once by the overlap filter).
        """
        last = self._conn_of.get(pair)
        if last is not None and conn <= last:
            return []
        self._conn_of[pair] = conn
        if last is None:
            return []
        reason = (
            f"diff_order_book_{pair} moved to connection {conn}: updates between "
            "connections cannot be checked (no update ids)"
        )
        return [BookInvalid(pair, ts_recv, reason)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path.rstrip("/")
        head, _, pair = path.rpartition("/")
        try:
            if head.endswith("/api/v2/order_book"):
                b = w.rest_book.decode(body)
                mts = int(b.microtimestamp) if b.microtimestamp else int(b.timestamp) * 1_000_000
                return [BookSnapshot(pair, mts * 1000, ts_recv, mts, b.bids, b.asks)]
            if path.endswith("/api/v2/trading-pairs-info"):
                rows = w.pairs.decode(body)
                for p in rows:
                    base, _, quote = p.name.partition("/")
                    self._markets[p.url_symbol] = f"{base}-{quote}" if quote else p.url_symbol
                self.listings.add(p.url_symbol for p in rows)
                return [Control("ignored", ts_recv, f"pairs loaded: {len(rows)}")]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]


def _top(pair: str, b: w.Book, ts_recv: int) -> Message:
    if not b.bids or not b.asks:
        return Control("ignored", ts_recv, f"one-sided order_book_{pair}")
    (bp, bs), (ap, as_) = b.bids[0], b.asks[0]
    return BestBidAsk(pair, int(b.microtimestamp) * 1000, ts_recv, None, bp, bs, ap, as_)
