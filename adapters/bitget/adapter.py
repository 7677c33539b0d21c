"""Bitget public market data: API v2 planned (today's), API v1 decoded (the recording's).

Sans-I/O. Wire structs and doc URLs: ``adapters/bitget/wire.py``.

**Native symbols name their product line**: ``SPOT:BTCUSDT``, ``USDT-FUTURES:BTCUSDT``,
``COIN-FUTURES:BTCUSD``, ``USDC-FUTURES:BTCPERP`` (v2 ``instType`` values). Bitget names
spot and USDT-futures ``BTCUSDT`` alike on the websocket, with different books; one
engine keys books by native symbol, so the symbol says which market it is. Every frame
names its ``instType``, so no connection state is needed to attribute it. API v1 frames
say ``sp`` (spot) or ``mc`` (all mix lines at once): a v1 mix ``instId`` ending in
``USDT`` is USDT-margined, in ``PERP`` USDC-margined, anything else coin-margined (the
v1 mix lines' symbol forms, ``BTCUSDT_UMCBL``, ``BTCPERP_CMCBL``, ``BTCUSD_DMCBL``).

Connections (https://www.bitget.com/api-doc/common/websocket-intro): one public URL,
``wss://ws.bitget.com/v2/ws/public``; at most 10 messages a second per connection;
fewer than 50 channels per connection is the docs' advice (1000 the hard cap); send
the text ``ping`` every 30 s (answered ``pong``) or the server closes the connection
after 2 minutes. Connections are planned per product line, so resyncing a book by
reconnecting renews only its own line's subscriptions.

Books (``books``): a ``snapshot`` push, then ``update`` pushes, both with the signed
CRC32 ``checksum`` of the best 25 bids and asks interleaved as ``price:size`` wire text
(``interleaved_crc32``; verified on every push of the v1 recording). The v2 ``seq``
"increases when the order book is updated", not by a known step, and restarts at
symbol maintenance: it orders the rows but proves nothing missing, so the rule is
``NoSequenceRule`` (v1 pushes get the adapter's own per-symbol count) and the checksum
is what detects a lost update. No REST book carries an id a push could be bridged by,
so a broken book is resynced by reconnecting (the new subscription starts with a
snapshot). ``bbo`` is ``books1``: a one-level snapshot every 10 ms.

Trades (``trade``): the first push of a subscription is a ``snapshot`` of recent
trades, from before it (ignored: it would repeat on every reconnect); ``update`` rows
are stored. v2 rows carry ``tradeId``; v1 rows ``[ts, price, size, side]`` carry no
id, so their ``trade_id`` is empty (as Kraken v1's). ``side`` is the taker's.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import msgspec

from adapters.bitget import wire
from collector.adapter import (
    ConnectionPlan,
    Listings,
    RestRequest,
    Subscription,
    grammar,
    symbols_per_connection,
)
from collector.book.book import OrderBook
from collector.book.checksum import interleaved_crc32
from collector.book.sequence import NoSequenceRule
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

PUBLIC_URL = "wss://ws.bitget.com/v2/ws/public"
#: Product lines (v2 ``instType``), each with its instrument list.
LINES = ("SPOT", "USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
SPOT_SYMBOLS_URL = "https://api.bitget.com/api/v2/spot/public/symbols"
CONTRACTS_URL = "https://api.bitget.com/api/v2/mix/market/contracts"
SYMBOLS = grammar(
    rf"(?:{'|'.join(LINES)}):[A-Z0-9]+(?:_[A-Z0-9]+)*",
    f"a product line ({', '.join(LINES)}), a colon, then the upper-case symbol",
    "SPOT:BTCUSDT",
    "USDT-FUTURES:BTCUSDT",
)
APP_PING_INTERVAL_S = 30.0  # docs: send "ping" every 30 s; closed after 2 min without
MAX_MESSAGES_PER_SECOND = 5.0  # our pacing; docs: at most 10 messages/s per connection
CHANNELS_PER_CONNECTION = 50  # docs: fewer than 50 channels per connection is advised
SYMBOLS_PER_CONNECTION = CHANNELS_PER_CONNECTION // 3  # book, trades and bbo each
ARGS_PER_FRAME = 10  # our choice: small subscribe frames
LIFETIME_S = 24 * 3600.0  # our choice: Bitget documents no connection lifetime
#: Instrument lists: 20 requests/s per IP each (docs); we spend 10 a second in all.
REST_WEIGHT_PER_MINUTE = 600
CHECKSUM_LEVELS = 25
CHANNELS = {"book": "books", "trades": "trade", "bbo": "books1"}
#: Fixed-depth snapshot channels (every push a full book of this depth).
SNAPSHOT_DEPTH = {"books5": 5, "books15": 15}
#: Public channels understood and not stored (``candle*`` too).
IGNORED_CHANNELS = frozenset(("ticker", "index-price", "auction"))
#: v1 ``instType`` of the recording's frames.
_V1_SPOT, _V1_MIX = "sp", "mc"
#: Quote currencies a symbol may end with, longest first (fallback market naming).
_QUOTES = ("USDT", "USDC", "USDE", "BTC", "ETH", "EUR", "BRL", "BGB", "USD")
#: v1 mix list suffixes -> product line.
_V1_LINES = {"UMCBL": "USDT-FUTURES", "DMCBL": "COIN-FUTURES", "CMCBL": "USDC-FUTURES"}


class BitgetAdapter:
    """Decoder and connection planner for Bitget public market data (v2; v1 decoded)."""

    def __init__(self) -> None:
        self.slug = "bitget"
        self.sequence_rule = NoSequenceRule()
        self.rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
        self.symbol_grammar = SYMBOLS
        self.listings = Listings()
        self._markets: dict[str, str] = {}
        #: Own per-symbol book message numbers, for v1 pushes (no ``seq``).
        self._numbers: dict[str, int] = {}

    # -- describing connections --------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = _guess_market(symbol)
        return name

    def instrument_requests(self) -> list[RestRequest]:
        futures = [RestRequest(f"{CONTRACTS_URL}?productType={line}") for line in LINES[1:]]
        return [RestRequest(SPOT_SYMBOLS_URL), *futures]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol, symbol.partition(":")[0])

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # snapshots come in-band on (re)subscribe

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """Per product line, connections of at most ``SYMBOLS_PER_CONNECTION`` symbols."""
        by_line: dict[str, list[Subscription]] = {}
        for sub in subscriptions:
            if sub.channel not in CHANNELS:
                raise ValueError(f"bitget has no channel {sub.channel!r} for {sub.symbol}")
            by_line.setdefault(sub.symbol.partition(":")[0], []).append(sub)
        plans = []
        for subs in by_line.values():
            for chunk in symbols_per_connection(subs, SYMBOLS_PER_CONNECTION, CHANNELS):
                args = [_arg(sub) for sub in chunk]
                frames = [
                    msgspec.json.encode({"op": "subscribe", "args": args[i : i + ARGS_PER_FRAME]})
                    for i in range(0, len(args), ARGS_PER_FRAME)
                ]
                plans.append(
                    ConnectionPlan(
                        url=PUBLIC_URL,
                        subscribe=[f.decode() for f in frames],
                        subscriptions=chunk,
                        max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                        lifetime_s=LIFETIME_S,
                        app_ping="ping",
                        app_ping_interval_s=APP_PING_INTERVAL_S,
                    )
                )
        return plans

    # -- decoding -------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return interleaved_crc32(
            book.bids.top_levels(CHECKSUM_LEVELS), book.asks.top_levels(CHECKSUM_LEVELS)
        )

    def connected(self, conn: int, url: str) -> None:
        pass  # every frame names its product line and instrument

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        if frame == "pong" or frame == b"pong":
            return [Control("heartbeat", ts_recv, "pong")]
        try:
            env = wire.envelope.decode(frame)
            if env.event is not None:
                return _event(env, frame, ts_recv)
            arg = env.arg
            if arg is None or arg.instId is None or env.action not in ("snapshot", "update"):
                return [DecodeFailed("unknown message type", ts_recv, sample(frame), True)]
            channel, symbol = arg.channel, f"{_line(arg.instType, arg.instId)}:{arg.instId}"
            if channel == "books" or channel in SNAPSHOT_DEPTH:
                return self._books(channel, env.action, symbol, env.data, ts_recv)
            if channel == "books1":
                return [_bbo(symbol, b, ts_recv) for b in wire.books.decode(env.data)]
            if channel == "trade":
                return _trades(arg.instType, env.action, symbol, env.data, ts_recv)
            if channel in IGNORED_CHANNELS or channel.startswith("candle"):
                return [Control("ignored", ts_recv, channel, symbol)]
            return [DecodeFailed(f"unknown channel {channel!r}", ts_recv, sample(frame), True)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _books(
        self, channel: str, action: str, symbol: str, raw: msgspec.Raw, ts_recv: int
    ) -> list[Message]:
        out: list[Message] = []
        depth = SNAPSHOT_DEPTH.get(channel)
        for b in wire.books.decode(raw):
            bids, asks, ts = _levels(b.bids), _levels(b.asks), _ms(b.ts)
            checksum = b.checksum or None  # 0: not sent (the v2 snapshot-only examples)
            if action == "snapshot" or depth is not None:
                seq = b.seq if b.seq is not None else self._number(symbol, restart=True)
                out.append(
                    BookSnapshot(symbol, ts, ts_recv, seq, bids, asks, True, checksum, depth)
                )
            else:
                seq = b.seq if b.seq is not None else self._number(symbol, restart=False)
                out.append(BookDelta(symbol, ts, ts_recv, seq, seq, None, bids, asks, checksum))
        return out

    def _number(self, symbol: str, *, restart: bool) -> int:
        n = 0 if restart else self._numbers.get(symbol, 0) + 1
        self._numbers[symbol] = n
        return n

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        parts = urlsplit(url)
        line = parse_qs(parts.query).get("productType", [""])[0]
        path = parts.path
        try:
            reply = wire.listing.decode(body)
            if reply.code != "00000":
                return [Control("error", ts_recv, f"{url}: {reply.code}: {reply.msg}")]
            if path.endswith("/api/v2/spot/public/symbols"):
                symbols = wire.v2_symbols.decode(reply.data)
                rows = [(s.symbol, f"{s.baseCoin}-{s.quoteCoin}") for s in symbols]
                line = "SPOT"
            elif path.endswith("/api/v2/mix/market/contracts") and line in LINES[1:]:
                contracts = wire.v2_contracts.decode(reply.data)
                rows = [(c.symbol, _contract_market(c)) for c in contracts]
            elif path.endswith("/api/spot/v1/public/products"):
                products = wire.v1_products.decode(reply.data)
                rows = [(p.symbolName, f"{p.baseCoin}-{p.quoteCoin}") for p in products]
                line = "SPOT"
            elif path.endswith("/api/mix/v1/market/contracts") and line.upper() in _V1_LINES:
                line = _V1_LINES[line.upper()]
                rows = [_v1_contract(c) for c in wire.v1_contracts.decode(reply.data)]
            else:
                return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        symbols = [(f"{line}:{inst}", market) for inst, market in rows]
        self._markets.update(symbols)
        self.listings.add((symbol for symbol, _ in symbols), line)
        return [Control("ignored", ts_recv, f"{len(rows)} {line} instruments loaded")]


def _arg(sub: Subscription) -> dict[str, str]:
    line, _, inst = sub.symbol.partition(":")
    return {"instType": line, "channel": CHANNELS[sub.channel], "instId": inst}


def _line(inst_type: str, inst_id: str) -> str:
    """The v2 product line of a frame's ``instType`` (v1 ``sp``/``mc`` included)."""
    if inst_type in LINES:
        return inst_type
    if inst_type == _V1_SPOT:
        return "SPOT"
    if inst_type == _V1_MIX:
        if inst_id.endswith("USDT"):
            return "USDT-FUTURES"
        return "USDC-FUTURES" if inst_id.endswith("PERP") else "COIN-FUTURES"
    raise ValueError(f"unknown instType {inst_type!r}")


def _event(env: wire.Envelope, frame: str | bytes, ts_recv: int) -> list[Message]:
    arg = env.arg
    symbol = f"{_line(arg.instType, arg.instId)}:{arg.instId}" if arg and arg.instId else None
    where = f" {arg.channel} {symbol or ''}".rstrip() if arg is not None else ""
    if env.event in ("subscribe", "unsubscribe", "login"):
        return [Control("ack", ts_recv, f"{env.event}{where}", symbol)]
    if env.event == "error":
        return [Control("error", ts_recv, f"{env.code}: {env.msg}{where}", symbol)]
    return [DecodeFailed(f"unknown event {env.event!r}", ts_recv, sample(frame), unknown=True)]


def _bbo(symbol: str, b: wire.Book, ts_recv: int) -> Message:
    if not b.bids or not b.asks:
        return Control("ignored", ts_recv, "one-sided books1", symbol)
    (bid, bid_size), (ask, ask_size) = _levels(b.bids[:1])[0], _levels(b.asks[:1])[0]
    return BestBidAsk(symbol, _ms(b.ts), ts_recv, None, bid, bid_size, ask, ask_size)


def _trades(
    inst_type: str, action: str, symbol: str, raw: msgspec.Raw, ts_recv: int
) -> list[Message]:
    if action == "snapshot":
        return [Control("ignored", ts_recv, "trade snapshot: trades before subscribing", symbol)]
    if inst_type in (_V1_SPOT, _V1_MIX):
        rows = [("", ts, p, s, side) for ts, p, s, side in wire.v1_trades.decode(raw)]
    else:
        rows = [(t.tradeId, t.ts, t.price, t.size, t.side) for t in wire.trades.decode(raw)]
    out: list[Message] = []
    for trade_id, ts, price, size, side in rows:
        if side not in ("buy", "sell"):
            raise ValueError(f"trade side {side!r}")
        out.append(Trade(symbol, _ms(ts), ts_recv, trade_id, side, price, size))
    return out


def _contract_market(c: wire.V2Contract) -> str:
    pair = f"{c.baseCoin}-{c.quoteCoin}"
    if c.symbolType == "delivery" and c.deliveryTime.isdigit():
        return f"{pair}-{ms_date(c.deliveryTime)}"
    return f"{pair}-PERP"


def _v1_contract(c: wire.V1Contract) -> tuple[str, str]:
    """``BTCUSDT_UMCBL`` -> (``BTCUSDT``, ``BTC-USDT-PERP``); a dated
    ``BTCUSD_DMCBL_221230`` -> (``BTCUSD_221230``, ``BTC-USD-20221230``)."""
    name, _, rest = c.symbol.partition("_")
    expiry = rest.partition("_")[2]
    pair = f"{c.baseCoin}-{c.quoteCoin}"
    if len(expiry) == 6 and expiry.isdigit():
        return f"{name}_{expiry}", f"{pair}-20{expiry}"
    return name, f"{pair}-PERP"


def _guess_market(symbol: str) -> str:
    """Best effort without the lists: ``SPOT:BTCUSDT`` -> ``BTC-USDT``, a futures line's
    ``BTCUSDT`` -> ``BTC-USDT-PERP``, ``USDC-FUTURES:BTCPERP`` -> ``BTC-USDC-PERP``."""
    line, _, inst = symbol.partition(":")
    if line == "USDC-FUTURES" and inst.endswith("PERP") and len(inst) > 4:
        return f"{inst[:-4]}-USDC-PERP"
    pair = split_quote(inst, _QUOTES)
    if pair is None:
        return symbol
    name = f"{pair[0]}-{pair[1]}"
    return name if line == "SPOT" else f"{name}-PERP"


def _levels(rows: list[list[str]]) -> list[tuple[str, str]]:
    """``[price, size]`` rows -> ``(price, size)`` text, as received."""
    if any(len(row) < 2 for row in rows):
        raise ValueError("book level with fewer than 2 fields")
    return [(row[0], row[1]) for row in rows]


def _ms(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"timestamp {text!r} is not milliseconds")
    return int(text) * 1_000_000
