"""KuCoin spot: full-depth ``level2`` deltas bridged to a REST book by ``sequence``.

Sans-I/O. Written from the documents listed in ``adapters.kucoin.wire``. Protocol, as
implemented:

* The websocket address is not fixed: ``POST /api/v1/bullet-public`` answers a token and
  ``instanceServers`` (``endpoint``, ``pingInterval``); a connection goes to
  ``{endpoint}?token=..&connectId=..``. Each plan carries that call as its ``bootstrap``
  and ``endpoint`` reads the answer; the daemon makes the call before every connect.
* One subscribe frame per channel with up to 100 comma-separated symbols
  (``/market/level2:A,B``); at most 100 topics (a symbol on a channel) per connection,
  error 509 past it; 100 client messages per 10 s.
* Client ping ``{"type":"ping"}`` every ``pingInterval`` (18 s), answered ``pong``.
* ``trade.l2update``: changes ``[price, size, sequence]`` covering
  ``sequenceStart..sequenceEnd``; sizes absolute, 0 deletes, price "0" only moves the
  sequence. Docs' calibration: fetch the REST book, drop updates with ``sequenceEnd <=
  sequence``, then require ``sequenceStart <= previous sequenceEnd + 1``: exactly
  ``FirstLastRule``. The docs skip a bridging message's changes at or below the REST
  sequence; applying them is as exact, because a message names each price once, with
  its last change up to ``sequenceEnd``, which the REST book already shows when it is
  that old (the docs' calibration example is a unit test).
* REST book: the full book (``/api/v3/market/orderbook/level2``, what the 2021 recording
  fetched) needs a signed request today; the daemon signs nothing, so the plan uses the
  public ``level2_100`` (top 100 a side, same shape, same ``sequence``). The
  ``/spotMarket/level2Depth50`` push (top 50 snapshots every 100 ms) was the other public
  choice; it was not taken because it has no sequence to detect a lost message and caps
  the book at 50 levels. Known limit of ``level2_100``: levels deeper than the snapshot's
  100th price are known only from the changes since the snapshot.
* ``trade.l3match``: ``side`` is the taker's; ``time`` in ns. ``trade.ticker``: best
  bid/ask with sizes (``bbo``). Its ``sequence`` is the book's: the engine checks the
  quote against the rebuilt book at that sequence (the recording: 810 agree, none differ).
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import msgspec

from adapters.kucoin.wire import (
    Bullet,
    Envelope,
    L2Update,
    Level2,
    Match,
    RestEnvelope,
    SymbolInfo,
    Ticker,
)
from collector.adapter import (
    ConnectionPlan,
    Endpoint,
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

REST = "https://api.kucoin.com"
TOKEN_URL = f"{REST}/api/v1/bullet-public"
#: What the token call answers today; dialled only through the answer, named for rewrites.
WS_URL = "wss://ws-api-spot.kucoin.com/"
SYMBOLS_URL = f"{REST}/api/v2/symbols"
BOOK_PATH = "/api/v1/market/orderbook/level2_100"
#: Topics per connection (a symbol on one channel counts one); error 509 past it.
TOPICS_PER_CONNECTION = 100
#: Symbols per subscribe frame.
SYMBOLS_PER_FRAME = 100
#: Client messages: 100 per 10 s per connection.
MESSAGES_PER_SECOND = 10.0
#: Default ping interval when the token answer is not at hand (it says 18000 ms).
PING_INTERVAL_S = 18.0
PING = '{"id":"ping","type":"ping"}'
#: Public REST pool: 2000 weight per 30 s (rate-limit page, VIP 0); level2_100 weighs 4.
REST_WEIGHT_PER_MINUTE = 4000
BOOK_WEIGHT = 4
TOPICS = {"book": "/market/level2", "trades": "/market/match", "bbo": "/market/ticker"}
_IGNORED_TOPICS = ("/market/candles", "/market/snapshot", "/spotMarket/")

_envelope = msgspec.json.Decoder(Envelope)
_l2 = msgspec.json.Decoder(L2Update)
_match = msgspec.json.Decoder(Match)
_ticker = msgspec.json.Decoder(Ticker)
_rest = msgspec.json.Decoder(RestEnvelope)
_level2 = msgspec.json.Decoder(Level2)
_bullet = msgspec.json.Decoder(Bullet)
_symbols = msgspec.json.Decoder(list[SymbolInfo])

SYMBOLS = grammar(r"[A-Z0-9]+-[A-Z0-9]+", "upper-case BASE-QUOTE symbol", "BTC-USDT", "ETH-BTC")


class KucoinAdapter:
    """Decoder and connection planner for KuCoin spot market data."""

    slug = "kucoin"
    symbol_grammar = SYMBOLS

    def __init__(self) -> None:
        self.sequence_rule: SequenceRule = FirstLastRule()
        self.rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE
        self.listings = Listings()
        self._markets: dict[str, str] = {}

    def market(self, symbol: str) -> str:
        return self._markets.get(symbol, symbol)  # BCHSV-USDT is BSV-USDT: from the list

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol)

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(SYMBOLS_URL)]

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return RestRequest(f"{REST}{BOOK_PATH}?symbol={symbol}", BOOK_WEIGHT)

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        channels = {s.channel for s in subscriptions if s.channel in TOPICS}
        per_conn = max(1, TOPICS_PER_CONNECTION // max(1, len(channels)))
        plans = []
        for subs in symbols_per_connection(subscriptions, per_conn, TOPICS):
            frames = []
            for channel, topic in TOPICS.items():
                symbols = [s.symbol for s in subs if s.channel == channel]
                for i in range(0, len(symbols), SYMBOLS_PER_FRAME):
                    chunk = ",".join(symbols[i : i + SYMBOLS_PER_FRAME])
                    msg = {
                        "id": str(len(frames) + 1),
                        "type": "subscribe",
                        "topic": f"{topic}:{chunk}",
                        "privateChannel": False,
                        "response": True,
                    }
                    frames.append(msgspec.json.encode(msg).decode())
            plans.append(
                ConnectionPlan(
                    url=WS_URL,
                    subscribe=frames,
                    subscriptions=subs,
                    max_messages_per_second=MESSAGES_PER_SECOND,
                    lifetime_s=math.inf,  # none documented (a token is good for 24 h to connect)
                    app_ping=PING,
                    app_ping_interval_s=PING_INTERVAL_S,
                    bootstrap=RestRequest(TOKEN_URL, method="POST"),
                )
            )
        return plans

    def endpoint(self, body: str | bytes, connect_id: str) -> Endpoint:
        """``{endpoint}?token=..&connectId=..`` of the first server the token call names."""
        try:
            answer = _rest.decode(body)
            if answer.code != "200000" or not answer.data:
                raise ValueError(f"token call refused: {answer.code} {answer.msg or ''}".strip())
            bullet = _bullet.decode(answer.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"token answer not understood: {exc}") from None
        if not bullet.instanceServers:
            raise ValueError("token answer names no server")
        server = bullet.instanceServers[0]
        url = f"{server.endpoint}?token={bullet.token}&connectId={connect_id}"
        return Endpoint(url, server.pingInterval / 1000 if server.pingInterval > 0 else None)

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None

    def connected(self, conn: int, url: str) -> None:
        pass  # sequences are per symbol, not per connection

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = _envelope.decode(frame)
            return self._decode(env, frame, ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]

    def _decode(self, env: Envelope, frame: str | bytes, ts_recv: int) -> list[Message]:
        kind = env.type
        if kind == "message" and env.topic and env.data:
            topic = env.topic.split(":", 1)[0]
            if topic == TOPICS["book"]:
                return self._l2update(_l2.decode(env.data), ts_recv)
            if topic == TOPICS["trades"]:
                m = _match.decode(env.data)
                if m.side not in ("buy", "sell"):
                    return [DecodeFailed(f"match side {m.side!r}", ts_recv, sample(frame))]
                ts = int(m.time) if m.time.isdigit() else None
                price, size = plain(m.price), plain(m.size)
                return [Trade(m.symbol, ts, ts_recv, m.tradeId, m.side, price, size)]
            if topic == TOPICS["bbo"]:
                t = _ticker.decode(env.data)
                symbol = env.topic.split(":", 1)[1]
                bid, bid_size, ask, ask_size = t.bestBid, t.bestBidSize, t.bestAsk, t.bestAskSize
                if not (bid and bid_size and ask and ask_size):
                    return [Control("ignored", ts_recv, "ticker without a bid and an ask", symbol)]
                ts = t.time * 1_000_000
                quote = (plain(bid), plain(bid_size), plain(ask), plain(ask_size))
                seq = int(t.sequence) if t.sequence.isdigit() else None
                return [BestBidAsk(symbol, ts, ts_recv, seq, *quote)]
            if topic.startswith(_IGNORED_TOPICS):
                return [Control("ignored", ts_recv, topic)]
            return [DecodeFailed(f"unknown topic {topic!r}", ts_recv, sample(frame), unknown=True)]
        if kind in ("welcome", "ack"):
            return [Control("ack", ts_recv, f"{kind} {env.id}")]
        if kind == "pong":
            return [Control("heartbeat", ts_recv, "pong")]
        if kind == "error":
            reason = _reason(env.data)
            return [Control("error", ts_recv, f"{env.code}: {reason}")]
        if kind == "message":
            return [DecodeFailed("message without topic or data", ts_recv, sample(frame))]
        return [DecodeFailed(f"unknown type {kind!r}", ts_recv, sample(frame), unknown=True)]

    @staticmethod
    def _l2update(u: L2Update, ts_recv: int) -> list[Message]:
        # Price "0" carries a sequence number and no level (docs: "ignore, update sequence").
        bids = [(plain(c[0]), plain(c[1])) for c in u.changes.bids if c[0] != "0"]
        asks = [(plain(c[0]), plain(c[1])) for c in u.changes.asks if c[0] != "0"]
        ts = u.time * 1_000_000 if u.time is not None else None
        return [BookDelta(u.symbol, ts, ts_recv, u.sequenceStart, u.sequenceEnd, None, bids, asks)]

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        parts = urlsplit(url)
        path = parts.path
        try:
            if path.endswith("/bullet-public"):
                return [Control("ignored", ts_recv, "websocket token")]
            answer = _rest.decode(body)
            if path.endswith("/symbols"):
                if answer.code != "200000" or not answer.data:
                    return [Control("error", ts_recv, f"{path}: {answer.code}: {answer.msg}")]
                infos = _symbols.decode(answer.data)
                for info in infos:
                    market = f"{info.baseCurrency}-{info.quoteCurrency}".upper()
                    self._markets[info.symbol] = market
                self.listings.add(info.symbol for info in infos)
                return [Control("ignored", ts_recv, f"{len(infos)} symbols loaded")]
            if "/market/orderbook/level2" not in path:
                reason = f"unknown REST endpoint {path}"
                return [DecodeFailed(reason, ts_recv, sample(body), unknown=True)]
            symbol = parse_qs(parts.query).get("symbol", [""])[0]
            if not symbol:
                return [DecodeFailed("order book URL without symbol", ts_recv, url)]
            if answer.code != "200000" or not answer.data:
                detail = f"{symbol}: {answer.code}: {answer.msg}"
                return [Control("error", ts_recv, detail, symbol)]
            book = _level2.decode(answer.data)
            ts = book.time * 1_000_000 if book.time is not None else None
            bids = [(plain(p), plain(s)) for p, s in book.bids]
            asks = [(plain(p), plain(s)) for p, s in book.asks]
            return [BookSnapshot(symbol, ts, ts_recv, int(book.sequence), bids, asks)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]  # ValueError: int(sequence)


def _reason(data: msgspec.Raw) -> str:
    """An ``error`` frame's ``data``: a JSON string (its text), else the raw JSON."""
    try:
        return msgspec.json.decode(data, type=str)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return bytes(data).decode(errors="replace")
