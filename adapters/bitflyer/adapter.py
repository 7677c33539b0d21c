"""bitFlyer Lightning Realtime API (``wss://ws.lightstream.bitflyer.com/json-rpc``).

Sans-I/O: describes connections and decodes frames; the wire contract is in
``adapters.bitflyer.wire`` (the module docstring names the documentation pages).

Books: ``lightning_board_snapshot_{product}`` is the whole book, in-band, and comes
again every few seconds (about every 5 s per product in the recording);
``lightning_board_{product}`` sends changed levels with absolute sizes. Neither
carries an id, so nothing can prove a diff was not lost in between: ``NoSequenceRule``
applies, the crossed-book check is the only check on the book, and each periodic
snapshot replaces the book, which bounds the damage of a lost diff to those seconds.
The adapter numbers each product's board messages per connection (snapshots and diffs
alike, 1, 2, ... from the first snapshot), which orders them in the ``seq`` column; a new
connection starts over. The two channels are separate subscriptions, so diffs may come
before a connection's first snapshot: that snapshot covers them, and they are reported as
ignored rather than handed to the engine (where they would only ask for a resync, and
after a reconnect would land on the previous connection's book).

Trades: ``lightning_executions_{product}`` rows carry ``id`` and the taker's ``side``
(``BUY``/``SELL``). Itayose (auction) fills have no taker (``side`` empty): they are not
trades in the taker-side sense of the ``trades`` table and are reported as ignored,
with their id. ``lightning_ticker_{product}`` gives the best bid/ask with sizes.

Markets: ``BTC_JPY`` -> ``BTC-JPY``; ``FX_BTC_JPY`` (Lightning FX, a margin product with
no expiry) -> ``BTC-JPY-PERP``; futures ``BTCJPY24DEC2021`` -> ``BTC-JPY-20211224``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import msgspec

from adapters.bitflyer import wire as w
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
from collector.json_numbers import json_decimal, json_number
from collector.markets import MONTHS, split_quote
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
from collector.wire_time import rfc3339_ns

URL = "wss://ws.lightstream.bitflyer.com/json-rpc"
#: Market lists per region, current paths (the recording also fetched the old
#: ``/v1/getmarkets`` aliases of the same lists).
MARKETS_URLS = {
    "": "https://api.bitflyer.com/v1/markets",
    "usa": "https://api.bitflyer.com/v1/markets/usa",
    "eu": "https://api.bitflyer.com/v1/markets/eu",
}
#: ``BTC_JPY``, ``FX_BTC_JPY``, ``BTCJPY24DEC2021``.
SYMBOLS = grammar(
    r"[A-Z0-9]+(?:_[A-Z0-9]+)+|[A-Z]{6,8}[0-9]{2}[A-Z]{3}[0-9]{4}",
    "upper-case BASE_QUOTE, FX_BASE_QUOTE or BASEQUOTEddMMMyyyy",
    "BTC_JPY",
    "FX_BTC_JPY",
)
#: bitFlyer documents no subscription limit per connection; our bound.
MAX_SYMBOLS_PER_CONNECTION = 50
#: No documented client message rate: subscribe messages are paced below it.
MAX_MESSAGES_PER_SECOND = 5.0
#: No documented connection lifetime: roll over daily like the other venues.
LIFETIME_S = 24 * 3600.0
#: HTTP API: 500 requests per 5 minutes per IP (lightning.bitflyer.com/docs#api-limits).
REST_WEIGHT_PER_MINUTE = 100
QUOTES = ("JPY", "USD", "EUR", "BTC")
_CHANNELS = {
    "book": ("lightning_board_snapshot_", "lightning_board_"),
    "trades": ("lightning_executions_",),
    "bbo": ("lightning_ticker_",),
}
#: Every channel prefix, the longer ``board_snapshot`` before ``board``.
_PREFIXES = tuple(prefix for prefixes in _CHANNELS.values() for prefix in prefixes)
#: Market list paths -> region (``Listings`` scope); ``getmarkets`` is the old alias.
_REGIONS = {
    f"/v1/{name}{suffix}": region
    for name in ("markets", "getmarkets")
    for suffix, region in (("", ""), ("/usa", "usa"), ("/eu", "eu"))
}
_FUTURE = re.compile(r"([A-Z]+)(\d{2})([A-Z]{3})(\d{4})")


class BitflyerAdapter:
    """Decoder and connection planner for bitFlyer Lightning."""

    slug = "bitflyer"
    sequence_rule: SequenceRule = NoSequenceRule()
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.listings = Listings()  # by region: "" (Japan), "usa", "eu"
        self._boards = MessageCounts()

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        return _market(symbol)

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(url) for url in MARKETS_URLS.values()]

    def listed(self, symbol: str) -> bool | None:
        """Listed where any region's list names it; unknown until every list has loaded."""
        verdicts = [self.listings.listed(symbol, region) for region in MARKETS_URLS]
        if any(verdicts):
            return True
        return None if None in verdicts else False

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # board snapshots come in-band, on subscribe and periodically

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One JSON-RPC ``subscribe`` per channel; a book is its snapshot and its diffs."""
        plans = []
        for chunk in symbols_per_connection(subscriptions, MAX_SYMBOLS_PER_CONNECTION, _CHANNELS):
            channels = dict.fromkeys(
                prefix + sub.symbol for sub in chunk for prefix in _CHANNELS[sub.channel]
            )
            frames = [
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": "subscribe",
                        "params": {"channel": channel},
                        "id": i,
                    },
                    separators=(",", ":"),
                )
                for i, channel in enumerate(channels, 1)
            ]
            plans.append(
                ConnectionPlan(
                    url=URL,
                    subscribe=frames,
                    subscriptions=chunk,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                )
            )
        return plans

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # bitFlyer sends no checksum

    def connected(self, conn: int, url: str) -> None:
        self._boards.forget(conn)

    # -- decoding ---------------------------------------------------------------------

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.method == "channelMessage":
                msg = w.channel_message.decode(env.params)
                return self._channel(msg.channel, msg.message, ts_recv, conn, frame)
            if env.method is None and env.error:
                err = w.rpc_error.decode(env.error)
                return [Control("error", ts_recv, f"id={env.id} {err.code}: {err.message}")]
            if env.method is None and env.result:
                return [Control("ack", ts_recv, f"id={env.id}: {bytes(env.result).decode()}")]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _channel(
        self, channel: str, data: msgspec.Raw, ts: int, conn: int, frame: str | bytes
    ) -> list[Message]:
        prefix = next((p for p in _PREFIXES if channel.startswith(p)), None)
        if prefix is None:
            return [DecodeFailed(f"unknown channel {channel!r}", ts, sample(frame), unknown=True)]
        product = channel[len(prefix) :]
        if prefix == "lightning_board_snapshot_" or prefix == "lightning_board_":
            b = w.board.decode(data)
            bids, asks = _levels(b.bids), _levels(b.asks)
            if prefix == "lightning_board_snapshot_":
                n = self._boards.next(conn, product)
                return [BookSnapshot(product, None, ts, n, bids, asks, True)]
            if not self._boards.started(conn, product):
                return [Control("ignored", ts, "board diff before the first snapshot", product)]
            n = self._boards.next(conn, product)
            return [BookDelta(product, None, ts, n, n, None, bids, asks)]
        if prefix == "lightning_executions_":
            return [_trade(product, e, ts) for e in w.executions.decode(data)]
        t = w.ticker.decode(data)
        quote = [json_number(r) for r in (t.best_bid, t.best_bid_size, t.best_ask, t.best_ask_size)]
        bp, bs, ap, as_ = quote
        if not (bp and bs and ap and as_ and bp.strip("0.") and ap.strip("0.")):
            return [Control("ignored", ts, "one-sided ticker", product)]
        return [BestBidAsk(product, rfc3339_ns(t.timestamp), ts, None, bp, bs, ap, as_)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path.rstrip("/")
        region = _REGIONS.get(path)
        if region is None:
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            rows = w.markets.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        self.listings.add((row.product_code for row in rows), region)
        return [Control("ignored", ts_recv, f"{path}: {len(rows)} markets")]


def _trade(product: str, e: w.Execution, ts: int) -> Message:
    if not e.side:
        return Control("ignored", ts, f"itayose execution {e.id} has no taker side", product)
    price, size = json_decimal(e.price), json_decimal(e.size)
    ts_ex = rfc3339_ns(e.exec_date)
    return Trade(product, ts_ex, ts, str(e.id), e.side.lower(), price, size)


def _levels(levels: list[w.Level]) -> list[tuple[str, str]]:
    return [(json_decimal(x.price), json_decimal(x.size)) for x in levels]


def _market(symbol: str) -> str:
    """Normalized market (module docstring); unknown shapes keep the native name."""
    parts = symbol.split("_")
    if len(parts) == 2:
        return f"{parts[0]}-{parts[1]}"
    if len(parts) == 3 and parts[0] == "FX":
        return f"{parts[1]}-{parts[2]}-PERP"
    m = _FUTURE.fullmatch(symbol)
    if m and m[3] in MONTHS and (pair := split_quote(m[1], QUOTES)):
        return f"{pair[0]}-{pair[1]}-{m[4]}{MONTHS[m[3]]:02d}{m[2]}"
    return symbol
