"""OKX v5 public market data: ``books`` (or ``books5``), ``bbo-tbt`` and ``trades``.

Sans-I/O: describes connections and decodes frames. Written from the OKX v5 docs
(https://www.okx.com/docs-v5/en/, wire structs in ``adapters/okx/wire.py``):

* Connect to ``wss://ws.okx.com:8443/ws/v5/public`` and send
  ``{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}``. The
  connection is cut after 30 s without traffic: send the text ``ping`` (answer
  ``pong``) when nothing arrived for N < 30 s (``APP_PING_INTERVAL_S``).
* Limits (https://www.okx.com/docs-v5/en/#overview-websocket-connect): 3 connection
  requests per second per IP; 480 ``subscribe``/``unsubscribe``/``login`` requests
  per connection per hour; the ``args`` of one request may not exceed 64 KB. No
  per-connection subscription cap is documented for public channels, and no
  connection lifetime: the ones below are this project's choices.
* ``{"event":"notice","code":"64008",...}`` announces a service upgrade: reconnect.
* Books: ``books`` sends a 400-level ``snapshot`` and then ``update`` pushes every
  100 ms; ``books5`` (5 levels, 100 ms) and ``bbo-tbt`` (1 level, 10 ms) send full
  snapshots only. Sequence ids (since 2022): a snapshot has ``prevSeqId = -1``;
  each update's ``prevSeqId`` equals the previous push's ``seqId``; a push with no
  change (sent after a long silence, empty ``asks``/``bids``) has ``seqId ==
  prevSeqId``; after maintenance the sequence may restart lower (``seqId <
  prevSeqId``) and continue from there. ``SeqIdRule`` (``collector/book/sequence``)
  implements that, and falls back to no checks for recordings made before the ids.
* Checksum: signed CRC32 of the first 25 bids and asks interleaved as
  ``price:size`` text (``interleaved_crc32``), on snapshots and updates of
  ``books``/``*-l2-tbt``. Deprecated from 2026-06-23: the field reads 0 (treated as
  absent) and is announced to disappear (an absent key is equally "not sent").
* Trades: ``side`` is the taker's side, as stored.

Channel choice for ``book``: ``OkxAdapter(book_channel="books5")`` subscribes to
top-5 snapshots instead of the 400-level ``books`` stream (the default).
``books50-l2-tbt``/``books-l2-tbt`` need a login (VIP) and are decoded but not planned.

Snapshots from REST. OKX's changelog (2026-02-12, "Delist initial snapshot and checksum
field in order book channels"; production "early August 2026", not confirmed since)
stops the in-band ``snapshot`` of ``books``/``books-l2-tbt``/``books50-l2-tbt``:
clients seed from ``GET /api/v5/market/books?instId=..&sz=..`` (400 levels at most,
the ``books`` depth; its body carries ``seqId``) and bridge with ``prevSeqId <=
seqId_snapshot < seqId``. Both regimes work without configuration:

* a snapshot push, whenever one comes, replaces the book at once (in-band, as before);
* an update for a book that is not in sync (the first push after subscribing was
  an update, or a push broke the chain) is buffered by the engine, which asks for a
  snapshot; ``snapshot_request`` then names the REST book, and ``decode_rest`` turns
  its body into a snapshot the engine bridges with ``SeqIdRule``.

REST is used for a gap after sync too, rather than reconnecting: once the in-band
snapshot is gone a reconnect no longer resyncs anything, and even while it exists,
one REST request resyncs one symbol where a reconnect renews every subscription of
the connection (up to 200). A book that gets no update at all needs no snapshot
(nothing could bridge it); the daemon's silent-book report covers it. Reconnects
stay for connection failures (the transport's own). REST budget: ``books`` allows
20 requests per 2 s per IP (40 in some copies of the docs); the adapter's budget of
``REST_WEIGHT_PER_MINUTE`` (10 a second, weight 1 each) stays under both and is
shared with the start-up instrument lists.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec

from adapters.okx import wire as wire
from collector.adapter import ConnectionPlan, Listings, RestRequest, Subscription, grammar
from collector.book.book import OrderBook
from collector.book.checksum import interleaved_crc32
from collector.book.sequence import SeqIdRule
from collector.markets import option_terms
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Liquidation,
    Message,
    OptionSummary,
    Trade,
    sample,
)

#: Listed instruments per type (expiries, strikes, settle currencies).
INSTRUMENTS_URL = "https://www.okx.com/api/v5/public/instruments"
INSTRUMENT_TYPES = ("SPOT", "SWAP", "FUTURES", "OPTION&uly=BTC-USD", "OPTION&uly=ETH-USD")
#: ``BTC-USDT`` spot, ``BTC-USDT-SWAP``, ``BTC-USD-261225`` futures, ``BTC-USD-261225-100000-C``.
SYMBOLS = grammar(
    r"[A-Z0-9]+(?:-[A-Z0-9]+)+",
    "upper-case letters and digits in dash-separated parts",
    "BTC-USDT",
    "BTC-USDT-SWAP",
)
PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"
APP_PING_INTERVAL_S = 25.0  # docs: send "ping" if nothing was received for N < 30 s
CONNECTIONS_PER_SECOND = 3  # per IP (docs); the transport paces reconnects itself
SUBSCRIBE_OPS_PER_HOUR = 480  # per connection (docs)
MAX_ARGS_BYTES = 64 * 1024  # per request (docs)
ARGS_PER_FRAME = 100  # ~5 KB a frame: far below MAX_ARGS_BYTES
SUBSCRIPTIONS_PER_CONNECTION = 200  # our choice: OKX documents no public cap
MAX_MESSAGES_PER_SECOND = 3.0  # our pacing of subscribe frames (docs give 3/s per IP)
LIFETIME_S = 24 * 3600.0  # our choice: OKX documents no connection lifetime
#: Market books and instruments: 20 requests / 2 s per IP each; we spend 10 / s in all.
REST_WEIGHT_PER_MINUTE = 600
BOOKS_URL = "https://www.okx.com/api/v5/market/books"
CHECKSUM_LEVELS = 25

#: Depth the venue maintains each book channel at (levels pushed out are dropped).
BOOK_DEPTH = {"books": 400, "books-l2-tbt": 400, "books50-l2-tbt": 50, "books5": 5}
PLANNED_BOOK_CHANNELS = ("books", "books5")
#: Public channels that are understood but not stored.
IGNORED_CHANNELS = frozenset(
    [
        "price-limit",
        "estimated-price",
        "instruments",
        "status",
        "call-auction-details",
    ]
)
_CANDLE_PREFIXES = ("candle", "mark-price-candle", "index-candle")
#: Instrument types whose channels feed ``derivative_ticker`` and ``liquidations``.
_CONTRACT_TYPES = ("SWAP", "FUTURES")
_ACK_EVENTS = frozenset(("subscribe", "unsubscribe", "login"))


class OkxAdapter:
    """Decoder and connection planner for OKX v5 public market data.

    The endpoints are class attributes so that a venue of the same protocol family
    (OKCoin, ``adapters/okcoin``) is this class with its own hosts, not a copy.
    """

    public_url = PUBLIC_URL
    instruments_url = INSTRUMENTS_URL
    instrument_types: tuple[str, ...] = INSTRUMENT_TYPES
    books_url = BOOKS_URL

    def __init__(
        self, slug: str = "okx", *, book_channel: str = "books", bbo_seq: bool = True
    ) -> None:
        if book_channel not in PLANNED_BOOK_CHANNELS:
            raise ValueError(f"book_channel must be one of {PLANNED_BOOK_CHANNELS}")
        self.slug = slug
        self.book_channel = book_channel
        #: Tie bbo-tbt quotes to the book by seqId (docs: one id set per instrument).
        self.bbo_seq = bbo_seq
        self.sequence_rule = SeqIdRule()
        self.rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
        self._markets: dict[str, str] = {}
        self.symbol_grammar = SYMBOLS
        self.derivative_channels = ("derivative_ticker", "liquidations", "options")
        #: Instruments by the ``instType`` query of the list naming them.
        self.listings = Listings()
        #: Own per-symbol book message numbers, for pushes without seqId (pre-2022).
        self._numbers: dict[str, int] = {}

    # -- describing connections --------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = wire.market_from_inst_id(symbol)
        return name

    def instrument_requests(self) -> list[RestRequest]:
        return [
            RestRequest(f"{self.instruments_url}?instType={kind}") for kind in self.instrument_types
        ]

    def listed(self, symbol: str) -> bool | None:
        """Judged by the list of the symbol's type (options: of its underlying)."""
        parts = symbol.split("-")
        if parts[-1] == "SWAP":
            kind = "SWAP"
        elif len(parts) == 5:
            kind = f"OPTION&uly={parts[0]}-{parts[1]}"
        else:
            kind = "FUTURES" if len(parts) == 3 else "SPOT"
        return self.listings.listed(symbol, kind)

    def snapshot_request(self, symbol: str) -> RestRequest:
        """The REST book at the planned channel's depth (``books``: 400, the REST maximum)."""
        sz = BOOK_DEPTH[self.book_channel]
        return RestRequest(f"{self.books_url}?{urlencode({'instId': symbol, 'sz': sz})}")

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """Public-endpoint connections of at most ``SUBSCRIPTIONS_PER_CONNECTION`` channels.

        Each connection subscribes with ceil(n / ``ARGS_PER_FRAME``) requests, a
        tiny share of the 480 an hour a connection may send.
        """
        # Some channels are per instrument type or family, so one arg can serve several
        # subscriptions: each arg is sent once, on the connection of the first to ask.
        args: dict[bytes, dict[str, str]] = {}
        owners: dict[bytes, list[Subscription]] = {}
        for sub in subscriptions:
            keys = []
            for arg in self._args(sub):
                key = msgspec.json.encode(arg)
                args.setdefault(key, arg)
                keys.append(key)
            owners.setdefault(keys[0], []).append(sub)
        unique = list(args)
        plans = []
        for i in range(0, len(unique), SUBSCRIPTIONS_PER_CONNECTION):
            keys = unique[i : i + SUBSCRIPTIONS_PER_CONNECTION]
            chunk = [sub for key in keys for sub in owners.get(key, ())]
            args_ = [args[key] for key in keys]
            frames = [
                msgspec.json.encode({"op": "subscribe", "args": args_[j : j + ARGS_PER_FRAME]})
                for j in range(0, len(args_), ARGS_PER_FRAME)
            ]
            plans.append(
                ConnectionPlan(
                    url=self.public_url,
                    subscribe=[f.decode() for f in frames],
                    subscriptions=chunk,
                    max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                    lifetime_s=LIFETIME_S,
                    app_ping="ping",
                    app_ping_interval_s=APP_PING_INTERVAL_S,
                )
            )
        return plans

    def _args(self, sub: Subscription) -> list[dict[str, str]]:
        """The subscribe args one subscription needs (derivatives: several channels)."""
        names = {"book": self.book_channel, "bbo": "bbo-tbt", "trades": "trades"}
        if sub.channel in names:
            return [{"channel": names[sub.channel], "instId": sub.symbol}]
        parts = sub.symbol.split("-")
        kind = "SWAP" if parts[-1] == "SWAP" else {3: "FUTURES", 5: "OPTION"}.get(len(parts))
        family = "-".join(parts[:2])  # BTC-USD-SWAP -> BTC-USD: the index and family
        if sub.channel == "derivative_ticker" and kind in _CONTRACT_TYPES:
            channels = ["tickers", "mark-price", "open-interest"]
            if kind == "SWAP":
                channels.append("funding-rate")
            args = [{"channel": c, "instId": sub.symbol} for c in channels]
            return [*args, {"channel": "index-tickers", "instId": family}]
        if sub.channel == "liquidations" and kind in _CONTRACT_TYPES:
            return [{"channel": "liquidation-orders", "instType": kind}]
        if sub.channel == "options" and kind == "OPTION":
            return [{"channel": "opt-summary", "instFamily": family}]
        raise ValueError(f"{self.slug} has no channel {sub.channel!r} for {sub.symbol}")

    # -- decoding -------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return interleaved_crc32(
            book.bids.top_levels(CHECKSUM_LEVELS), book.asks.top_levels(CHECKSUM_LEVELS)
        )

    def connected(self, conn: int, url: str) -> None:
        pass  # every OKX push names its channel and instrument; ids are per instrument

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        if frame == "pong" or frame == b"pong":
            return [Control("heartbeat", ts_recv, "pong")]
        try:
            env = wire.envelope.decode(frame)
            if env.event is not None:
                return self._event(env, frame, ts_recv)
            if env.arg is not None and env.data:
                channel = env.arg.channel
                if channel in BOOK_DEPTH:
                    return self._book(channel, env.action, env.arg.instId, env.data, ts_recv)
                if channel == "bbo-tbt":
                    return self._bbo(env.arg.instId, env.data, ts_recv)
                if channel == "trades":
                    return self._trades(env.data, ts_recv, conn)
                if channel in _DERIVATIVE_DECODERS:
                    return _DERIVATIVE_DECODERS[channel](env.data, ts_recv)
                if channel in IGNORED_CHANNELS or channel.startswith(_CANDLE_PREFIXES):
                    return [Control("ignored", ts_recv, channel, env.arg.instId)]
                return [DecodeFailed(f"unknown channel {channel!r}", ts_recv, sample(frame), True)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _event(self, env: wire.OkxEnvelope, frame: str | bytes, ts_recv: int) -> list[Message]:
        event = env.event
        arg = env.arg
        where = f" {arg.channel} {arg.instId or ''}".rstrip() if arg is not None else ""
        symbol = arg.instId if arg is not None else None
        if event in _ACK_EVENTS:
            return [Control("ack", ts_recv, f"{event}{where}", symbol)]
        if event in ("error", "channel-conn-count-error"):
            return [Control("error", ts_recv, f"{env.code}: {env.msg}{where}", symbol)]
        if event == "notice":  # 64008: service upgrade, the connection closes soon
            return [Control("shutdown", ts_recv, f"notice {env.code}: {env.msg}")]
        if event == "channel-conn-count":
            return [Control("ignored", ts_recv, f"channel-conn-count{where}")]
        return [DecodeFailed(f"unknown event {event!r}", ts_recv, sample(frame), unknown=True)]

    def _book(
        self, channel: str, action: str | None, inst_id: str | None, raw: msgspec.Raw, ts_recv: int
    ) -> list[Message]:
        out: list[Message] = []
        depth = BOOK_DEPTH[channel]
        for b in wire.books.decode(raw):
            symbol = inst_id or b.instId
            if not symbol:
                raise ValueError("book push without instId")
            bids, asks, ts = _levels(b.bids), _levels(b.asks), _ms(b.ts)
            checksum = b.checksum or None  # 0 (deprecated 2026-06) or no key: not sent
            if channel == "books5" or action == "snapshot" or b.prevSeqId == -1:
                last = b.seqId if b.seqId is not None else self._number(symbol, restart=True)
                out.append(
                    BookSnapshot(symbol, ts, ts_recv, last, bids, asks, True, checksum, depth)
                )
            elif action == "update":
                if b.seqId is None:
                    first = last = self._number(symbol, restart=False)
                    prev = None
                else:
                    first = last = b.seqId
                    prev = b.prevSeqId
                out.append(
                    BookDelta(symbol, ts, ts_recv, first, last, prev, bids, asks, checksum, depth)
                )
            else:
                raise ValueError(f"{channel} push with action {action!r}")
        return out

    def _trades(self, raw: msgspec.Raw, ts_recv: int, conn: int) -> list[Message]:
        """Every trade of a ``trades`` push (one push may hold several)."""
        return [_trade(t, ts_recv) for t in wire.trades.decode(raw)]

    def _number(self, symbol: str, *, restart: bool) -> int:
        n = 0 if restart else self._numbers.get(symbol, 0) + 1
        self._numbers[symbol] = n
        return n

    def _bbo(self, inst_id: str | None, raw: msgspec.Raw, ts_recv: int) -> list[Message]:
        out: list[Message] = []
        for b in wire.books.decode(raw):
            symbol = inst_id or b.instId
            if not symbol:
                raise ValueError("bbo-tbt push without instId")
            if not b.bids or not b.asks:
                out.append(Control("ignored", ts_recv, "one-sided bbo-tbt", symbol))
                continue
            (bid, bid_size), (ask, ask_size) = _levels(b.bids[:1])[0], _levels(b.asks[:1])[0]
            # seqId is the instrument's book sequence id: the engine checks the quote
            # against its book at that id.
            seq = b.seqId if self.bbo_seq else None
            out.append(BestBidAsk(symbol, _ms(b.ts), ts_recv, seq, bid, bid_size, ask, ask_size))
        return out

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        if path.endswith("/api/v5/market/books"):
            return self._rest_book(url, body, ts_recv)
        if not path.endswith("/api/v5/public/instruments"):
            return [
                DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), unknown=True)
            ]
        try:
            reply = wire.instruments.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        if reply.code != "0":
            return [Control("error", ts_recv, f"{url}: {reply.code}: {reply.msg}")]
        for inst in reply.data:
            self._markets[inst.instId] = wire.market_of(inst)
        kind = url.partition("instType=")[2]
        self.listings.add((inst.instId for inst in reply.data), kind)
        return [Control("ignored", ts_recv, f"{len(reply.data)} instruments loaded")]

    def _rest_book(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        """``GET /api/v5/market/books``: a snapshot at ``seqId``, bridged like Binance's."""
        query = parse_qs(urlsplit(url).query)
        symbol = query.get("instId", [""])[0]
        if not symbol:
            return [DecodeFailed("books URL without instId", ts_recv, url)]
        try:
            reply = wire.books_reply.decode(body)
            if reply.code != "0":
                return [Control("error", ts_recv, f"{symbol}: {reply.code}: {reply.msg}", symbol)]
            if len(reply.data) != 1:
                raise ValueError(f"books reply with {len(reply.data)} books, expected 1")
            (b,) = reply.data
            if b.seqId is None:  # a pre-2026 body: nothing to bridge it by
                raise ValueError("books reply without seqId")
            bids, asks = _levels(b.bids), _levels(b.asks)
            snapshot = BookSnapshot(symbol, _ms(b.ts), ts_recv, b.seqId, bids, asks)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(f"{symbol}: {exc}", ts_recv, sample(body))]
        return [snapshot]


def _trade(t: wire.OkxTrade, ts_recv: int) -> Trade:
    if t.side not in ("buy", "sell"):
        raise ValueError(f"trade side {t.side!r}")
    return Trade(t.instId, _ms(t.ts), ts_recv, t.tradeId, t.side, t.px, t.sz)


def _ts(text: str) -> int | None:
    """An exchange time that may be absent (``""``): None, never a made-up instant."""
    return _ms(text) if text else None


def _tickers(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    """Swap and futures tickers give their last price; spot and option tickers nothing."""
    out: list[Message] = []
    for t in wire.tickers.decode(raw):
        if t.instType in _CONTRACT_TYPES and t.last:
            out.append(DerivativeTicker(t.instId, _ts(t.ts), ts_recv, last_price=t.last))
    return out or [Control("ignored", ts_recv, "tickers without a contract's last price")]


def _mark_price(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    return [
        DerivativeTicker(m.instId, _ts(m.ts), ts_recv, mark_price=m.markPx)
        for m in wire.mark_price.decode(raw)
    ]


def _index_tickers(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    """Rows of the index itself (symbol ``BTC-USDT``): OKX prices indexes, not contracts."""
    return [
        DerivativeTicker(i.instId, _ts(i.ts), ts_recv, index_price=i.idxPx)
        for i in wire.index_tickers.decode(raw)
    ]


def _funding_rate(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    return [
        DerivativeTicker(
            f.instId,
            _ts(f.ts),
            ts_recv,
            funding_rate=f.fundingRate or None,
            predicted_funding_rate=f.nextFundingRate or None,
            funding_time=_ts(f.fundingTime),
        )
        for f in wire.funding_rate.decode(raw)
    ]


def _open_interest(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    return [
        DerivativeTicker(o.instId, _ts(o.ts), ts_recv, open_interest=o.oi)
        for o in wire.open_interest.decode(raw)
    ]


def _liquidations(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    """Every liquidation of the instrument type, not only the configured symbols'."""
    out: list[Message] = []
    for row in wire.liquidations.decode(raw):
        for d in row.details:
            if d.side not in ("buy", "sell"):
                raise ValueError(f"liquidation side {d.side!r}")
            out.append(Liquidation(row.instId, _ts(d.ts), ts_recv, None, d.side, d.bkPx, d.sz))
    return out


def _option_summaries(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    """Every option of the family. Greeks are OKX's Black-Scholes ones (``deltaBS``...),
    the convention Deribit and Bybit publish; OKX sends no quotes or mark price here."""
    out: list[Message] = []
    for o in wire.option_summaries.decode(raw):
        terms = option_terms(o.instId)
        if terms is None:
            raise ValueError(f"option {o.instId!r}: no type, strike and expiry in its name")
        option_type, strike, expiration = terms
        out.append(
            OptionSummary(
                o.instId,
                _ts(o.ts),
                ts_recv,
                option_type,
                strike,
                expiration,
                best_bid_iv=o.bidVol or None,
                best_ask_iv=o.askVol or None,
                mark_iv=o.markVol or None,
                underlying_price=o.fwdPx or None,
                underlying_index=o.uly,
                delta=o.deltaBS or None,
                gamma=o.gammaBS or None,
                vega=o.vegaBS or None,
                theta=o.thetaBS or None,
            )
        )
    return out


_DERIVATIVE_DECODERS = {
    "tickers": _tickers,
    "mark-price": _mark_price,
    "index-tickers": _index_tickers,
    "funding-rate": _funding_rate,
    "open-interest": _open_interest,
    "liquidation-orders": _liquidations,
    "opt-summary": _option_summaries,
}


def _levels(rows: list[list[str]]) -> list[tuple[str, str]]:
    """``[price, size, liquidated, orders]`` rows -> ``(price, size)`` text, as received."""
    if any(len(row) < 2 for row in rows):
        raise ValueError("book level with fewer than 2 fields")
    return [(row[0], row[1]) for row in rows]


def _ms(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"timestamp {text!r} is not milliseconds")
    return int(text) * 1_000_000
