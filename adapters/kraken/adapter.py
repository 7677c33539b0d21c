"""Kraken spot: WebSocket v2 (live protocol) and v1 (frozen; our recordings).

Sans-I/O: plans v2 connections and decodes frames of either protocol, chosen per
frame (v1 data frames are JSON arrays, v1 events objects with ``event``; v2
messages are objects with ``channel`` or ``method``). Wire structs, with their
documentation links, are in ``adapters.kraken.wire``. Written from (2026-11-28):

* https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book, ``trade``, ``ticker``,
  ``instrument``, ``status``, ``heartbeat``, ``ping``;
* https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2 and ``book-checksum-v1``
  (book maintenance: apply the whole message, truncate to the subscribed depth,
  CRC32 over the top 10 levels; v2 re-renders numbers at the pair's precision);
* https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/book, ``trade``, ``ticker``.

Books have no update ids: snapshots come in-band and the adapter numbers each
symbol's book messages itself (snapshot 0, then 1, 2, ...), so ``NoSequenceRule``
applies and the checksums are what proves the book right. Trade ``side`` is the
taker's in both versions (v1 ``b``/``s``, v2 ``buy``/``sell``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

from adapters.kraken import wire as w
from collector.adapter import (
    CHANNELS,
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
)
from collector.book.book import OrderBook
from collector.book.checksum import kraken_crc32
from collector.book.sequence import NoSequenceRule, SequenceRule
from collector.decimal_text import plain
from collector.json_numbers import json_decimal
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

#: Pairs with their v1 names and decimals (markets; v2 checksum precision fallback).
ASSET_PAIRS_URL = "https://api.kraken.com/0/public/AssetPairs"
URL_V2 = "wss://ws.kraken.com/v2"  # https://docs.kraken.com/exchange/api-reference/spot-websocket
#: https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_LEVELS = 10  # top levels per side the book checksum covers (both versions)
#: The client message rate limit is dynamic ("Exceeded msg rate") and unpublished
#: (https://docs.kraken.com/exchange/guides/general/ratelimits): stay well below it.
MAX_MESSAGES_PER_SECOND = 2.0
#: No per-connection subscription limit is documented; this bounds the traffic
#: (a depth-1000 book per symbol) one connection carries. Our choice, not Kraken's.
MAX_SYMBOLS_PER_CONNECTION = 50
#: No connection lifetime is documented: roll over daily anyway.
LIFETIME_S = 24 * 3600.0
#: Optional application ping
#: (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/ping);
#: heartbeats already arrive each second without traffic, the pong proves the path.
APP_PING = '{"method":"ping"}'
APP_PING_INTERVAL_S = 30.0
#: Public REST: about 1 request/s per IP
#: (https://docs.kraken.com/exchange/guides/rest/ratelimits).
REST_WEIGHT_PER_MINUTE = 60
#: Asset codes Kraken's v1/REST names spell differently from the rest of the world.
ALIASES = {"XBT": "BTC", "XDG": "DOGE"}
_IGNORED_CHANNELS = ("ohlc", "level3", "spread")

_envelope = msgspec.json.Decoder(w.Envelope)
_v1_frame = msgspec.json.Decoder(list[msgspec.Raw])
_v1_book = msgspec.json.Decoder(w.V1Book | None)
_v1_trades = msgspec.json.Decoder(w.V1Trades)
_v1_ticker = msgspec.json.Decoder(w.V1Ticker)
_v1_spread = msgspec.json.Decoder(w.V1Spread)
_v2_result = msgspec.json.Decoder(w.V2Result)
_v2_books = msgspec.json.Decoder(list[w.V2Book])
_v2_trades = msgspec.json.Decoder(list[w.V2Trade])
_v2_tickers = msgspec.json.Decoder(list[w.V2Ticker])
_v2_instruments = msgspec.json.Decoder(w.V2Instruments)
_v2_status = msgspec.json.Decoder(list[w.V2Status])
_asset_pairs = msgspec.json.Decoder(w.RestAssetPairs)


#: ``BASE/QUOTE``: v2 ``BTC/USD`` (planned), v1 ``XBT/USD`` (recordings); ``ETH2.S/ETH``.
SYMBOLS = grammar(
    r"[A-Z0-9]+(?:\.[A-Z])?/[A-Z0-9]+(?:\.[A-Z])?",
    "upper-case BASE/QUOTE",
    "BTC/USD",
    "ETH/EUR",
)


class KrakenAdapter:
    """Decoder (v1 and v2) and v2 connection planner for Kraken spot."""

    slug = "kraken"
    symbol_grammar = SYMBOLS
    sequence_rule: SequenceRule = NoSequenceRule()
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE

    def __init__(self, book_depth: int = 1000) -> None:
        if book_depth not in BOOK_DEPTHS:
            raise ValueError(f"Kraken book depth must be one of {BOOK_DEPTHS}")
        self.book_depth = book_depth
        self._markets: dict[str, str] = {}
        self.listings = Listings()  # stays empty: see ``listed``
        #: (price decimals, qty decimals) per v2 symbol: instrument channel, else REST.
        self._precision: dict[str, tuple[int, int]] = {}
        self._rest_precision: dict[str, tuple[int, int]] = {}
        self._depth: dict[str, int] = {}  # v2 symbol -> depth its subscribe ack stated
        self._count: dict[str, int] = {}  # book messages since the last snapshot, per symbol
        self._version: dict[str, int] = {}  # protocol of each symbol's last book message

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            base, sep, quote = symbol.partition("/")
            name = _market(base, quote) if sep and base and quote else symbol
            self._markets[symbol] = name
        return name

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(ASSET_PAIRS_URL)]

    def listed(self, symbol: str) -> bool | None:
        """Unknown: ``AssetPairs`` names pairs the v1 way (``XBT/USD``, not v2's ``BTC/USD``),
        and v2's own ``instrument`` list only arrives on a connection, after planning."""
        return None

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # snapshots come in-band: a resync is a reconnect

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """v2 connections of at most ``MAX_SYMBOLS_PER_CONNECTION`` symbols.

        Each connection subscribes ``instrument`` first when it carries books (the
        v2 checksum needs each pair's price/qty precision), then one message per
        channel listing its symbols: ``book`` at ``book_depth``, ``trade`` without
        the 50-trade history snapshot, and ``ticker`` triggered on best bid/offer
        changes for ``bbo``.
        """
        symbols = list(dict.fromkeys(s.symbol for s in subscriptions))
        plans = []
        for i in range(0, len(symbols), MAX_SYMBOLS_PER_CONNECTION):
            chunk = set(symbols[i : i + MAX_SYMBOLS_PER_CONNECTION])
            subs = [s for s in subscriptions if s.symbol in chunk]
            frames = []
            by_channel = {c: [s.symbol for s in subs if s.channel == c] for c in CHANNELS}
            if by_channel["book"]:
                frames.append(_subscribe({"channel": "instrument", "snapshot": True}))
                params = {"channel": "book", "symbol": by_channel["book"]}
                frames.append(_subscribe(params | {"depth": self.book_depth, "snapshot": True}))
            if by_channel["trades"]:
                frames.append(
                    _subscribe(
                        {"channel": "trade", "symbol": by_channel["trades"], "snapshot": False}
                    )
                )
            if by_channel["bbo"]:
                params = {"channel": "ticker", "symbol": by_channel["bbo"], "event_trigger": "bbo"}
                frames.append(_subscribe(params | {"snapshot": True}))
            plans.append(
                ConnectionPlan(
                    url=URL_V2,
                    subscribe=frames,
                    subscriptions=subs,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                    app_ping=APP_PING,
                    app_ping_interval_s=APP_PING_INTERVAL_S,
                )
            )
        return plans

    def connected(self, conn: int, url: str) -> None:
        pass  # every Kraken frame names its pair; nothing is per connection

    # -- checksums -----------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        """CRC32 of the top 10 levels: v1 over the exact received text, v2 re-rendered.

        v2 numbers arrive without trailing zeros (``0.566``) and the venue hashes
        them padded to the pair's precision (``0.5660``); an unknown precision, or
        a level with more decimals than it, means the value cannot be known: None.
        """
        bids = book.bids.top_levels(CHECKSUM_LEVELS)
        asks = book.asks.top_levels(CHECKSUM_LEVELS)
        if self._version.get(symbol) != 2:
            return kraken_crc32(bids, asks)
        precision = self._precision.get(symbol) or self._rest_precision.get(symbol)
        if precision is None:
            return None
        try:
            return kraken_crc32(_rendered(bids, *precision), _rendered(asks, *precision))
        except w.Malformed:
            return None

    # -- decoding --------------------------------------------------------------------

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            head = frame.lstrip()[:1]
            if head in ("[", b"["):
                return self._v1_data(_v1_frame.decode(frame), frame, ts_recv)
            if head in ("{", b"{"):
                env = _envelope.decode(frame)
                if env.event is not None:
                    return self._v1_event(env, frame, ts_recv)
                if env.channel is not None:
                    return self._v2_channel(env, frame, ts_recv)
                return self._v2_response(env, frame, ts_recv)
            _envelope.decode(frame)  # raises for what is not JSON at all
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _v1_data(self, items: list[msgspec.Raw], frame: str | bytes, ts: int) -> list[Message]:
        if len(items) < 4:
            raise w.Malformed(f"v1 array of {len(items)} elements")
        name = msgspec.json.decode(items[-2], type=str)
        pair = msgspec.json.decode(items[-1], type=str)
        payloads = items[1:-2]
        if name.startswith("book-"):
            return self._v1_book(pair, int(name[5:]), payloads, ts)
        if name == "trade":  # v1 trades carry no id: trade_id stays empty
            return [
                Trade(pair, w.seconds_ns(t), ts, "", w.v1_side(side), plain(p), plain(v))
                for p, v, t, side, _, _ in _v1_trades.decode(payloads[0])
            ]
        if name == "ticker":
            q = _v1_ticker.decode(payloads[0])
            return [_quote(pair, None, ts, q.b[0], q.b[2], q.a[0], q.a[2])]
        if name == "spread":
            bid, ask, t, bid_size, ask_size = _v1_spread.decode(payloads[0])
            return [_quote(pair, w.seconds_ns(t), ts, bid, bid_size, ask, ask_size)]
        if name.startswith("ohlc"):
            return [Control("ignored", ts, name, pair)]
        return [DecodeFailed(f"unknown v1 channel {name!r}", ts, sample(frame), unknown=True)]

    def _v1_book(self, pair: str, depth: int, payloads: list, ts: int) -> list[Message]:
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        checksum = None
        snapshot = False
        for raw in payloads:
            part = _v1_book.decode(raw)
            if part is None:  # 2019 snapshots: [id, {"as": ..., "bs": ...}, null, name, pair]
                continue
            snapshot = snapshot or part.as_ is not None or part.bs is not None
            for side, levels in ((asks, part.as_), (bids, part.bs), (asks, part.a), (bids, part.b)):
                side.extend(w.v1_level(level) for level in levels or ())
            if part.c is not None:
                if not part.c.isdigit():
                    raise w.Malformed(f"checksum {part.c!r}")
                checksum = int(part.c)
        # The latest level time is the message's: levels carry the time they changed.
        ts_ex = max((w.seconds_ns(level[2]) for level in (*bids, *asks)), default=None)
        return [self._book(1, pair, ts_ex, ts, snapshot, bids, asks, checksum, depth)]

    def _book(
        self,
        version: int,
        symbol: str,
        ts_exchange: int | None,
        ts: int,
        snapshot: bool,
        bids: list,
        asks: list,
        checksum: int | None,
        depth: int,
    ) -> Message:
        self._version[symbol] = version
        bids = [(p, s) for p, s, *_ in bids]
        asks = [(p, s) for p, s, *_ in asks]
        if snapshot:
            self._count[symbol] = 0
            return BookSnapshot(symbol, ts_exchange, ts, 0, bids, asks, True, checksum, depth)
        n = self._count[symbol] = self._count.get(symbol, 0) + 1
        return BookDelta(symbol, ts_exchange, ts, n, n, None, bids, asks, checksum, depth)

    def _v1_event(self, env: w.Envelope, frame: str | bytes, ts: int) -> list[Message]:
        event = env.event
        if event in ("heartbeat", "pong"):
            return [Control("heartbeat", ts, event)]
        if event == "systemStatus":
            kind = "shutdown" if env.status == "maintenance" else "ignored"
            return [Control(kind, ts, f"systemStatus {env.status}")]
        if event == "subscriptionStatus":
            if env.status == "error":
                return [Control("error", ts, f"{env.pair}: {env.errorMessage}", env.pair)]
            return [Control("ack", ts, f"{env.status} {env.channelName} {env.pair}", env.pair)]
        if event == "error":
            return [Control("error", ts, str(env.errorMessage))]
        return [DecodeFailed(f"unknown v1 event {event!r}", ts, sample(frame), unknown=True)]

    def _v2_channel(self, env: w.Envelope, frame: str | bytes, ts: int) -> list[Message]:
        channel = env.channel
        if channel == "heartbeat":
            return [Control("heartbeat", ts, channel)]
        if channel == "book":
            if env.type not in ("snapshot", "update"):
                raise w.Malformed(f"book message type {env.type!r}")
            snapshot = env.type == "snapshot"
            return [
                self._book(
                    2,
                    b.symbol,
                    w.rfc3339_ns(b.timestamp),
                    ts,
                    snapshot,
                    [w.v2_level(x) for x in b.bids],
                    [w.v2_level(x) for x in b.asks],
                    b.checksum,
                    self._depth.get(b.symbol, self.book_depth),
                )
                for b in _v2_books.decode(env.data)
            ]
        if channel == "trade":
            if env.type == "snapshot":
                # History sent on subscribe (``snapshot`` not false, as in some recordings):
                # trades from before the connection, some already stored by the previous
                # one. Never mixed into the live tape; the plan asks for none.
                n = len(_v2_trades.decode(env.data))
                return [Control("ignored", ts, f"trade snapshot: {n} historical trades")]
            out: list[Message] = []
            for t in _v2_trades.decode(env.data):
                if t.side not in ("buy", "sell"):
                    raise w.Malformed(f"trade side {t.side!r}")
                price, qty = json_decimal(t.price), json_decimal(t.qty)
                out.append(
                    Trade(
                        t.symbol, w.rfc3339_ns(t.timestamp), ts, str(t.trade_id), t.side, price, qty
                    )
                )
            return out
        if channel == "ticker":
            return [
                _quote(
                    q.symbol,
                    w.rfc3339_ns(q.timestamp),
                    ts,
                    json_decimal(q.bid),
                    json_decimal(q.bid_qty),
                    json_decimal(q.ask),
                    json_decimal(q.ask_qty),
                )
                for q in _v2_tickers.decode(env.data)
            ]
        if channel == "instrument":
            pairs = _v2_instruments.decode(env.data).pairs
            for p in pairs:
                self._precision[p.symbol] = (p.price_precision, p.qty_precision)
                self._markets[p.symbol] = _market(p.base, p.quote)
            return [Control("ignored", ts, f"instrument {env.type}: {len(pairs)} pairs")]
        if channel == "status":
            systems = [s.system for s in _v2_status.decode(env.data)]
            kind = "shutdown" if "maintenance" in systems else "ignored"
            return [Control(kind, ts, f"status {','.join(systems)}")]
        if channel in _IGNORED_CHANNELS:
            return [Control("ignored", ts, channel)]
        return [DecodeFailed(f"unknown v2 channel {channel!r}", ts, sample(frame), unknown=True)]

    def _v2_response(self, env: w.Envelope, frame: str | bytes, ts: int) -> list[Message]:
        if env.Error is not None:  # e.g. {"Error": "Exceeded msg rate"}
            return [Control("error", ts, env.Error)]
        if env.success is False or env.error is not None:
            return [Control("error", ts, f"{env.method} {env.symbol}: {env.error}", env.symbol)]
        if env.method == "pong":
            return [Control("heartbeat", ts, "pong")]
        if env.method in ("subscribe", "unsubscribe"):
            r = _v2_result.decode(env.result) if env.result else w.V2Result()
            if r.channel == "book" and r.symbol is not None and r.depth is not None:
                self._depth[r.symbol] = r.depth
            warnings = f" warnings: {'; '.join(r.warnings)}" if r.warnings else ""
            detail = f"{env.method} {r.channel} {r.symbol or ''}{warnings}"
            return [Control("ack", ts, detail, r.symbol)]
        return [DecodeFailed("unknown message type", ts, sample(frame), unknown=True)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        """``AssetPairs`` (the instruments sidecar): markets and fallback v2 precisions."""
        path = urlsplit(url).path
        if not path.endswith("/AssetPairs"):
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            reply = _asset_pairs.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        if reply.error:
            return [Control("error", ts_recv, f"AssetPairs: {'; '.join(reply.error)}")]
        for pair in reply.result.values():
            base, sep, quote = (pair.wsname or "").partition("/")
            if not sep:
                continue
            v2_name = f"{ALIASES.get(base, base)}/{ALIASES.get(quote, quote)}"
            for name in {f"{base}/{quote}", v2_name}:
                self._markets[name] = _market(base, quote)
                if pair.pair_decimals is not None and pair.lot_decimals is not None:
                    self._rest_precision[name] = (pair.pair_decimals, pair.lot_decimals)
        return [Control("ignored", ts_recv, f"AssetPairs: {len(reply.result)} pairs")]


def _quote(
    symbol: str, ts_ex: int | None, ts: int, bid: str, bid_size: str, ask: str, ask_size: str
) -> Message:
    """A best bid/ask; or, when a price is zero, an ``ignored`` control that counts it.

    A pair with no book (new, halted) is published as all zeros: bid 0, ask 0, time 0
    (1970). That is no quote, and a 0/0 ``bbo`` row would read as one.
    """
    if not bid.strip("0.") or not ask.strip("0."):
        return Control("ignored", ts, f"no quote: bid {bid} / ask {ask}", symbol)
    return BestBidAsk(symbol, ts_ex, ts, None, bid, bid_size, ask, ask_size)


def _market(base: str, quote: str) -> str:
    return f"{ALIASES.get(base, base)}-{ALIASES.get(quote, quote)}"


def _subscribe(params: dict) -> str:
    return msgspec.json.encode({"method": "subscribe", "params": params}).decode()


def _rendered(levels: list[tuple[str, str]], price_dp: int, qty_dp: int) -> list[tuple[str, str]]:
    return [(w.at_precision(p, price_dp), w.at_precision(q, qty_dp)) for p, q in levels]
