"""Gate.io v4 spot and USDT futures: ``order_book_update`` deltas bridged to REST by ``id``.

Sans-I/O. Written from the documents listed in ``adapters.gateio.wire``. Protocol, as
implemented (spot and futures alike, names prefixed ``spot.`` or ``futures.``):

* One subscribe frame per book (``payload [symbol, "100ms"]``), one for all trades and
  one for all book tickers (``payload [symbols..]``), each
  ``{"time":..,"channel":..,"event":"subscribe","payload":..}``. ``time`` is documented as
  the request's time in seconds; an adapter reads no clock, so it is left out. Whether
  the venue refuses a public subscription without it could not be checked from here
  (no network): ``collector contract-check gateio`` shows it as an ``error`` answer.
* ``order_book_update``: changes ``U``..``u``, sizes absolute, 0 deletes. The docs'
  "maintain a local order book": fetch ``order_book?with_id=true``, drop updates with
  ``u < id + 1``, the first kept has ``U <= id + 1 <= u``, then each ``U`` is the
  previous ``u + 1``: exactly ``FirstLastRule``. The REST book asked is the top 100 a
  side (``limit=100``, as the recordings asked); levels deeper than its 100th price
  are known only from the changes since (a known limit, see the README).
* Trades: spot ``side`` is the taker's; futures ``size`` is signed, negative when the
  taker sold. Futures sizes (book, trades, tickers) are integers of contracts, stored
  as sent: the schema keeps the venue's size unit, so no quanto multiplier is applied.
* ``book_ticker``: best bid/ask with sizes (``bbo``); its ``u`` is the order book update
  id, so the engine checks it against the rebuilt book at that id (the futures
  recording: 16 agree, none differ). The spot ``tickers`` channel of the 2021
  recording has no sizes and is not stored.
* Market names come from the instrument lists (``base``/``quote``; futures contracts
  ``BASE_USDT`` are perpetual swaps: ``BASE-USDT-PERP``).
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import msgspec

from adapters.gateio.wire import (
    Contract,
    CurrencyPair,
    Envelope,
    FuturesBook,
    FuturesBookTicker,
    FuturesBookUpdate,
    FuturesLevel,
    FuturesTrade,
    RestError,
    SpotBook,
    SpotBookTicker,
    SpotBookUpdate,
    SpotTrade,
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
from collector.book.sequence import FirstLastRule, SequenceRule
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

REST = "https://api.gateio.ws/api/v4"
#: Per market: websocket URL, channel prefix, REST book path and its symbol parameter,
#: instrument list.
MARKETS = {
    "gateio": ("wss://api.gateio.ws/ws/v4/", "spot", "/spot/order_book", "currency_pair"),
    "gateio-futures": (
        "wss://fx-ws.gateio.ws/v4/ws/usdt",
        "futures",
        "/futures/usdt/order_book",
        "contract",
    ),
}
INSTRUMENTS = {"gateio": "/spot/currency_pairs", "gateio-futures": "/futures/usdt/contracts"}
BOOK_LIMIT = 100
#: Symbols per connection: not documented; a project choice that bounds how many books
#: one lost connection puts out of sync.
SYMBOLS_PER_CONNECTION = 50
#: Client messages per second: not documented for public channels; kept modest.
MESSAGES_PER_SECOND = 10.0
#: Public REST: 200 requests per 10 s per endpoint (spot and futures market data).
REST_PER_MINUTE = 1200
_TAKER = {"buy", "sell"}

_envelope = msgspec.json.Decoder(Envelope)
_spot_update = msgspec.json.Decoder(SpotBookUpdate)
_futures_update = msgspec.json.Decoder(FuturesBookUpdate)
_spot_trade = msgspec.json.Decoder(SpotTrade)
_futures_trades = msgspec.json.Decoder(list[FuturesTrade])
_spot_ticker = msgspec.json.Decoder(SpotBookTicker)
_futures_ticker = msgspec.json.Decoder(FuturesBookTicker)
_error = msgspec.json.Decoder(RestError)
_spot_book = msgspec.json.Decoder(SpotBook)
_futures_book = msgspec.json.Decoder(FuturesBook)
_pairs = msgspec.json.Decoder(list[CurrencyPair])
_contracts = msgspec.json.Decoder(list[Contract])

SYMBOLS = grammar(
    r"[A-Z0-9]+_[A-Z0-9]+", "upper-case BASE_QUOTE (underscore)", "BTC_USDT", "ETH_BTC"
)


class GateioAdapter:
    """Decoder and connection planner for one Gate.io market (spot or USDT futures)."""

    symbol_grammar = SYMBOLS

    def __init__(self, slug: str) -> None:
        if slug not in MARKETS:
            raise ValueError(f"not a Gate.io market: {slug!r}")
        self.slug = slug
        self._ws, self._prefix, self._book_path, self._param = MARKETS[slug]
        self.futures = slug == "gateio-futures"
        self.sequence_rule: SequenceRule = FirstLastRule()
        self.rest_weight_per_minute: int | None = REST_PER_MINUTE
        self.listings = Listings()
        self._markets: dict[str, str] = {}
        self._channels = {
            f"{self._prefix}.order_book_update": self._book,
            f"{self._prefix}.trades": self._trades,
            f"{self._prefix}.book_ticker": self._ticker,
        }

    def market(self, symbol: str) -> str:
        known = self._markets.get(symbol)
        if known is not None:
            return known
        base, _, quote = symbol.partition("_")
        return f"{base}-{quote}-PERP" if self.futures else f"{base}-{quote}"

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(REST + INSTRUMENTS[self.slug])]

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        query = f"{self._param}={symbol}&limit={BOOK_LIMIT}&with_id=true"
        return RestRequest(f"{REST}{self._book_path}?{query}")

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        channels = {"book": "order_book_update", "trades": "trades", "bbo": "book_ticker"}
        plans = []
        for subs in symbols_per_connection(subscriptions, SYMBOLS_PER_CONNECTION, channels):
            frames = []
            for channel, name in channels.items():
                symbols = [s.symbol for s in subs if s.channel == channel]
                if not symbols:
                    continue
                payloads = [[s, "100ms"] for s in symbols] if channel == "book" else [symbols]
                for payload in payloads:
                    msg = {"channel": f"{self._prefix}.{name}", "event": "subscribe"}
                    frames.append(msgspec.json.encode({**msg, "payload": payload}).decode())
            plans.append(
                ConnectionPlan(
                    url=self._ws,
                    subscribe=frames,
                    subscriptions=subs,
                    max_messages_per_second=MESSAGES_PER_SECOND,
                    lifetime_s=math.inf,  # none documented
                )
            )
        return plans

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None

    def connected(self, conn: int, url: str) -> None:
        pass  # ids are per symbol, not per connection

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = _envelope.decode(frame)
            return self._decode(env, frame, ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _decode(self, env: Envelope, frame: str | bytes, ts_recv: int) -> list[Message]:
        if env.error is not None:
            return [
                Control("error", ts_recv, f"{env.channel}: {env.error.code} {env.error.message}")
            ]
        if env.event in ("subscribe", "unsubscribe"):
            return [Control("ack", ts_recv, f"{env.event} {env.channel}")]
        if env.channel.endswith(".pong"):
            return [Control("heartbeat", ts_recv, env.channel)]
        if env.event not in ("update", "all"):
            return [DecodeFailed(f"unknown event {env.event!r}", ts_recv, sample(frame), True)]
        handler = self._channels.get(env.channel)
        if handler is not None and env.result:
            return handler(env.result, ts_recv)
        if env.channel.endswith((".candlesticks", ".tickers")):
            return [Control("ignored", ts_recv, env.channel)]
        return [DecodeFailed(f"unknown channel {env.channel!r}", ts_recv, sample(frame), True)]

    def _book(self, raw: msgspec.Raw, ts_recv: int) -> list[Message]:
        if self.futures:
            f = _futures_update.decode(raw)
            bids, asks = _levels(f.b), _levels(f.a)
            return [BookDelta(f.s, f.t * 1_000_000, ts_recv, f.U, f.u, None, bids, asks)]
        u = _spot_update.decode(raw)
        bids = [(plain(p), plain(s)) for p, s in u.b]
        asks = [(plain(p), plain(s)) for p, s in u.a]
        return [BookDelta(u.s, u.t * 1_000_000, ts_recv, u.U, u.u, None, bids, asks)]

    def _trades(self, raw: msgspec.Raw, ts_recv: int) -> list[Message]:
        if not self.futures:
            t = _spot_trade.decode(raw)
            if t.side not in _TAKER:
                return [DecodeFailed(f"trade side {t.side!r}", ts_recv, sample(raw))]
            ts = _fraction_ns(t.create_time_ms, 6)
            trade = Trade(
                t.currency_pair, ts, ts_recv, str(t.id), t.side, plain(t.price), plain(t.amount)
            )
            return [trade]
        out: list[Message] = []
        for f in _futures_trades.decode(raw):
            size = bytes(f.size).decode()
            side = "sell" if size.startswith("-") else "buy"
            ms = f.create_time_ms if f.create_time_ms is not None else f.create_time * 1000
            price, amount = plain(f.price), plain(size.lstrip("-"))
            out.append(Trade(f.contract, ms * 1_000_000, ts_recv, str(f.id), side, price, amount))
        return out

    def _ticker(self, raw: msgspec.Raw, ts_recv: int) -> list[Message]:
        if self.futures:
            f = _futures_ticker.decode(raw)
            quote = (plain(f.b), _text(f.B), plain(f.a), _text(f.A))
            return [BestBidAsk(f.s, f.t * 1_000_000, ts_recv, f.u, *quote)]
        t = _spot_ticker.decode(raw)
        quote = (plain(t.b), plain(t.B), plain(t.a), plain(t.A))
        return [BestBidAsk(t.s, t.t * 1_000_000, ts_recv, t.u, *quote)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        parts = urlsplit(url)
        path = parts.path
        try:
            if path.endswith(INSTRUMENTS[self.slug]):
                return self._instruments(body, ts_recv)
            if not path.endswith(self._book_path):
                reason = f"unknown REST endpoint {path}"
                return [DecodeFailed(reason, ts_recv, sample(body), unknown=True)]
            symbol = parse_qs(parts.query).get(self._param, [""])[0]
            if not symbol:
                return [DecodeFailed("order book URL without symbol", ts_recv, url)]
            return self._snapshot(symbol, body, ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]

    def _snapshot(self, symbol: str, body: str | bytes, ts_recv: int) -> list[Message]:
        try:
            if self.futures:
                f = _futures_book.decode(body)
                book_id, bids, asks = f.id, _levels(f.bids), _levels(f.asks)
                ts = _fraction_ns(bytes(f.update).decode(), 9) if f.update else None
            else:
                s = _spot_book.decode(body)
                book_id = s.id
                bids = [(plain(p), plain(q)) for p, q in s.bids]
                asks = [(plain(p), plain(q)) for p, q in s.asks]
                ts = s.update * 1_000_000 if s.update is not None else None
        except msgspec.ValidationError:
            err = _error.decode(body)
            return [Control("error", ts_recv, f"{symbol}: {err.label}: {err.message}", symbol)]
        if book_id is None:
            return [Control("error", ts_recv, f"{symbol}: order book without id", symbol)]
        return [BookSnapshot(symbol, ts, ts_recv, book_id, bids, asks)]

    def _instruments(self, body: str | bytes, ts_recv: int) -> list[Message]:
        if self.futures:
            contracts = _contracts.decode(body)
            for c in contracts:
                base, _, quote = c.name.partition("_")
                self._markets[c.name] = f"{base}-{quote}-PERP"
            self.listings.add(c.name for c in contracts)
            return [Control("ignored", ts_recv, f"{len(contracts)} contracts loaded")]
        pairs = _pairs.decode(body)
        for p in pairs:
            self._markets[p.id] = f"{p.base}-{p.quote}".upper()
        self.listings.add(p.id for p in pairs)
        return [Control("ignored", ts_recv, f"{len(pairs)} currency pairs loaded")]


def _text(raw: msgspec.Raw) -> str:
    """A JSON number's exact text (futures sizes are integers of contracts)."""
    return plain(bytes(raw).decode())


def _levels(levels: list[FuturesLevel]) -> list[tuple[str, str]]:
    return [(plain(level.p), _text(level.s)) for level in levels]


def _fraction_ns(text: str, digits: int) -> int | None:
    """A time with a decimal fraction -> ns, exactly (no float): ``digits`` is 6 for ms
    (``"1619093543708.2642"``), 9 for seconds (``1684930166.35``); None if not one."""
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    return int(whole) * 10**digits + int((frac + "0" * digits)[:digits])
