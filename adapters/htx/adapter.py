"""HTX (formerly Huobi): spot (``htx``) and USDT-M / coin-M perpetual swaps (``htx-swap``).

Sans-I/O. Written from the HTX docs (spot https://huobiapi.github.io/docs/spot/v1/en/,
USDT-M https://huobiapi.github.io/docs/usdt_swap/v1/en/, coin-M
https://huobiapi.github.io/docs/coin_margined_swap/v1/en/; read 2026-12-07), wire structs
in ``adapters/htx/wire.py``:

* **Every frame is gzip** in a binary websocket frame (``frame_encoding = "gzip"``): the
  pipeline inflates it before ``decode`` (``collector.frames``); the capture keeps the
  gzip bytes as they came.
* **Server pings.** The server sends ``{"ping": N}`` every 5 s and closes the connection
  after two unanswered ones; the answer is ``{"pong": N}`` on the same connection. The
  adapter decodes a ping to ``Control("reply")`` carrying the pong, which the daemon sends
  back on that connection (and a replay only counts).
* **Topics** are subscribed one frame each, ``{"sub": "market.btcusdt.depth.step0",
  "id": "1"}``, answered by ``{"id": .., "status": "ok", "subbed": ..}``. Spot market data
  lives on ``wss://api.huobi.pro/ws``; swaps on ``wss://api.hbdm.com/linear-swap-ws``
  (``BTC-USDT``) and ``wss://api.hbdm.com/swap-ws`` (``BTC-USD``).
* **Books, by default** ``market.$symbol.depth.step0``: the full book (150 levels per side)
  in every push (engine case 3: every message a snapshot). No update id comes with it
  (``version`` is opaque): ``seq`` numbers a symbol's books on their connection
  (``collector.adapter.MessageCounts``).
* **Books, incremental** (spot, ``HtxAdapter("htx", book_channel="mbp")``):
  ``market.$symbol.mbp.150`` on ``wss://api.huobi.pro/feed`` (the docs serve MBP
  incremental only there), every 100 ms, each push naming the previous push's ``seqNum``
  in ``prevSeqNum`` (ids are not consecutive); size 0 deletes a level. The docs' recipe:
  subscribe, buffer, ``{"req": "market.$symbol.mbp.150"}`` on the *same* connection for
  the full book, and bridge where a push's ``prevSeqNum`` equals its ``seqNum``
  (``PreviousIdRule``). The plan sends each symbol's ``sub`` and then its ``req``; the
  answer (``rep``) is a snapshot the engine bridges. HTX has no REST book on that
  sequence, so a resync is a reconnect (``snapshot_request`` is None), which sends the
  ``req`` again.
* **Best bid/offer** ``market.$symbol.bbo``: spot sends ``bid``/``bidSize``/``ask``/
  ``askSize`` numbers and ``quoteTime``, swaps ``[price, size]`` pairs and ``ts``.
* **Trades** ``market.$symbol.trade.detail``: ``direction`` is the taker's side; the
  unique id is ``tradeId`` on spot and ``id`` on swaps. The first push of a symbol on a
  connection repeats the last trade HTX already published (tardis-node's mapper drops it
  for that reason; the swap recording shows one 39 minutes old): it is ignored.
* **Limits**: HTX documents no subscriptions-per-connection cap for public market data and
  no connection lifetime; the values below are this project's choices.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

from adapters.htx import wire
from collector.adapter import (
    ConnectionPlan,
    Listings,
    MessageCounts,
    RestRequest,
    Subscription,
    grammar,
)
from collector.book.book import OrderBook
from collector.book.sequence import NoSequenceRule, PreviousIdRule, SequenceRule
from collector.decimal_text import InvalidDecimalText
from collector.json_numbers import json_decimal
from collector.markets import split_quote
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

SPOT_WS = "wss://api.huobi.pro/ws"
SPOT_FEED = "wss://api.huobi.pro/feed"  # MBP incremental only
LINEAR_WS = "wss://api.hbdm.com/linear-swap-ws"
INVERSE_WS = "wss://api.hbdm.com/swap-ws"
SPOT_SYMBOLS_URL = "https://api.huobi.pro/v1/common/symbols"
LINEAR_CONTRACTS_URL = "https://api.hbdm.com/linear-swap-api/v1/swap_contract_info"
INVERSE_CONTRACTS_URL = "https://api.hbdm.com/swap-api/v1/swap_contract_info"
MBP_LEVELS = 150
TOPICS_PER_CONNECTION = 100  # our choice: HTX documents no cap for public topics
MAX_MESSAGES_PER_SECOND = 20.0  # our pacing of sub/req frames (HTX states none for public)
LIFETIME_S = 24 * 3600.0  # our choice: HTX documents no connection lifetime
#: REST serves only the start-up instrument lists here (books come on the stream): a
#: modest budget of our choice, well inside any of HTX's per-IP market-data limits.
REST_WEIGHT_PER_MINUTE = 300
#: Spot quote currencies, longest first (for market names before the symbol list loads).
SPOT_QUOTES = ("usdt", "usdc", "usdd", "husd", "btc", "eth", "trx", "ht", "eur", "brl")
SPOT_SYMBOLS = grammar(r"[a-z0-9]+", "lower-case letters and digits", "btcusdt", "ethbtc")
SWAP_SYMBOLS = grammar(
    r"[A-Z0-9]+-USDT?", "BASE-USDT (USDT-M) or BASE-USD (coin-M)", "BTC-USDT", "BTC-USD"
)
BOOK_CHANNELS = ("depth", "mbp")

_decode_errors = (msgspec.DecodeError, msgspec.ValidationError, InvalidDecimalText)


class HtxAdapter:
    """Planner and decoder for one HTX market family (``htx`` spot or ``htx-swap``)."""

    frame_encoding = "gzip"
    rest_weight_per_minute: int | None = REST_WEIGHT_PER_MINUTE

    def __init__(self, slug: str = "htx", *, book_channel: str = "depth") -> None:
        if slug not in ("htx", "htx-swap"):
            raise ValueError(f"HtxAdapter serves htx and htx-swap, not {slug!r}")
        if book_channel not in BOOK_CHANNELS or (book_channel == "mbp" and slug != "htx"):
            raise ValueError("book_channel is 'depth', or 'mbp' on spot (htx)")
        self.slug = slug
        self.spot = slug == "htx"
        self.book_channel = book_channel
        self.sequence_rule: SequenceRule = (
            PreviousIdRule() if book_channel == "mbp" else NoSequenceRule()
        )
        self.symbol_grammar = SPOT_SYMBOLS if self.spot else SWAP_SYMBOLS
        self.listings = Listings()
        self._markets: dict[str, str] = {}
        self._numbers = MessageCounts()
        self._traded: set[tuple[int, str]] = set()  # (conn, symbol) with a trade push seen

    # -- describing connections --------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is not None:
            return name
        if not self.spot:
            return f"{symbol}-PERP"
        pair = split_quote(symbol, SPOT_QUOTES)
        return f"{pair[0]}-{pair[1]}".upper() if pair else symbol.upper()

    def instrument_requests(self) -> list[RestRequest]:
        if self.spot:
            return [RestRequest(SPOT_SYMBOLS_URL)]
        return [RestRequest(INVERSE_CONTRACTS_URL), RestRequest(LINEAR_CONTRACTS_URL)]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol, _scope(symbol, self.spot))

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # in-band full books, or the ``req`` answer on the stream: reconnect

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """One connection per ``TOPICS_PER_CONNECTION`` topics and endpoint."""
        by_url: dict[str, list[tuple[Subscription, list[dict[str, str]]]]] = {}
        for sub in subscriptions:
            url, frames = self._topic(sub)
            by_url.setdefault(url, []).append((sub, frames))
        plans = []
        for url, items in by_url.items():
            for i in range(0, len(items), TOPICS_PER_CONNECTION):
                chunk = items[i : i + TOPICS_PER_CONNECTION]
                frames = [frame for _, fs in chunk for frame in fs]
                for n, frame in enumerate(frames, 1):
                    frame["id"] = str(n)
                plans.append(
                    ConnectionPlan(
                        url=url,
                        subscribe=[msgspec.json.encode(f).decode() for f in frames],
                        subscriptions=[sub for sub, _ in chunk],
                        max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                        lifetime_s=LIFETIME_S,
                    )
                )
        return plans

    def _topic(self, sub: Subscription) -> tuple[str, list[dict[str, str]]]:
        """The endpoint and the frames (``sub``, and ``req`` for MBP) of one subscription."""
        symbol = sub.symbol
        url = SPOT_WS if self.spot else (LINEAR_WS if symbol.endswith("-USDT") else INVERSE_WS)
        if sub.channel == "trades":
            return url, [{"sub": f"market.{symbol}.trade.detail"}]
        if sub.channel == "bbo":
            return url, [{"sub": f"market.{symbol}.bbo"}]
        if sub.channel == "book" and self.book_channel == "mbp":
            topic = f"market.{symbol}.mbp.{MBP_LEVELS}"
            return SPOT_FEED, [{"sub": topic}, {"req": topic}]
        if sub.channel == "book":
            return url, [{"sub": f"market.{symbol}.depth.step0"}]
        raise ValueError(f"{self.slug} has no channel {sub.channel!r}")

    # -- decoding -------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        return None  # HTX sends no checksum

    def connected(self, conn: int, url: str) -> None:
        pass  # every push names its topic; the ids are per symbol

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = wire.envelope.decode(frame)
            if env.ping is not None:
                return [Control("reply", ts_recv, f'{{"pong":{env.ping}}}')]
            if env.ch is not None and env.tick:
                return self._push(env.ch, env.tick, env.ts, ts_recv, conn, frame)
            if env.rep is not None and env.status == "ok" and env.data:
                return self._rep(env.rep, env.data, env.ts, ts_recv, frame)
            if env.status == "error":
                detail = f"{env.err_code}: {env.err_msg}"
                return [Control("error", ts_recv, detail, _topic_symbol(env.rep))]
            if env.status == "ok" and (env.subbed or env.unsubbed):
                return [Control("ack", ts_recv, env.subbed or env.unsubbed or "")]
        except _decode_errors as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message", ts_recv, sample(frame), unknown=True)]

    def _push(
        self, ch: str, tick: msgspec.Raw, ts: int | None, ts_recv: int, conn: int, frame: object
    ) -> list[Message]:
        parts = ch.split(".")
        kind = parts[2] if len(parts) >= 3 and parts[0] == "market" else ""
        symbol = parts[1] if kind else ""
        if kind == "depth":
            book = wire.depth_tick.decode(tick)
            return [
                BookSnapshot(
                    symbol,
                    _ns(book.ts or ts),
                    ts_recv,
                    self._numbers.next(conn, symbol),
                    _levels(book.bids),
                    _levels(book.asks),
                    in_band=True,
                )
            ]
        if kind == "mbp":
            mbp = wire.mbp_tick.decode(tick)
            if mbp.prevSeqNum is None:
                raise msgspec.ValidationError("an mbp push without `prevSeqNum`")
            return [
                BookDelta(
                    symbol,
                    _ns(ts),
                    ts_recv,
                    mbp.prevSeqNum + 1,
                    mbp.seqNum,
                    mbp.prevSeqNum,
                    _levels(mbp.bids),
                    _levels(mbp.asks),
                )
            ]
        if kind == "trade":
            return self._trades(symbol, wire.trade_tick.decode(tick), ts_recv, conn)
        if kind == "bbo":
            return [_bbo(symbol, wire.bbo.decode(tick), ts, ts_recv)]
        return [DecodeFailed(f"unknown topic {ch}", ts_recv, sample(frame), unknown=True)]

    def _rep(
        self, rep: str, data: msgspec.Raw, ts: int | None, ts_recv: int, frame: object
    ) -> list[Message]:
        """The answer to a ``req``: the full MBP book, bridged by the engine."""
        parts = rep.split(".")
        if len(parts) != 4 or parts[2] != "mbp":
            return [DecodeFailed(f"unknown req answer {rep}", ts_recv, sample(frame), True)]
        book = wire.mbp_tick.decode(data)
        return [
            BookSnapshot(
                parts[1], _ns(ts), ts_recv, book.seqNum, _levels(book.bids), _levels(book.asks)
            )
        ]

    def _trades(self, symbol: str, tick: wire.TradeTick, ts_recv: int, conn: int) -> list[Message]:
        key = (conn, symbol)
        if key not in self._traded:
            self._traded.add(key)
            return [Control("ignored", ts_recv, f"{symbol}: the last trade, repeated on subscribe")]
        out: list[Message] = []
        for t in tick.data:
            if t.direction not in ("buy", "sell"):
                raise msgspec.ValidationError(f"trade direction {t.direction!r}")
            if t.tradeId is not None:
                trade_id = str(t.tradeId)
            elif t.id:
                trade_id = bytes(t.id).decode()
            else:
                raise msgspec.ValidationError("a trade without `tradeId` or `id`")
            price, size = json_decimal(t.price), json_decimal(t.amount)
            out.append(Trade(symbol, _ns(t.ts), ts_recv, trade_id, t.direction, price, size))
        return out

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        """The instrument lists: market names (spot) and which symbols are listed."""
        path = urlsplit(url).path
        try:
            if path.endswith("/v1/common/symbols"):
                symbols = wire.spot_symbols.decode(body)
                for s in symbols.data:
                    self._markets[s.symbol] = f"{s.base_currency}-{s.quote_currency}".upper()
                self.listings.add((s.symbol for s in symbols.data), "spot")
                return [Control("ignored", ts_recv, f"symbols: {len(symbols.data)}")]
            if path.endswith("/swap_contract_info"):
                contracts = wire.contracts.decode(body)
                scope = "linear" if "linear-swap" in path else "inverse"
                self.listings.add((c.contract_code for c in contracts.data), scope)
                return [Control("ignored", ts_recv, f"contracts: {len(contracts.data)}")]
        except _decode_errors as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]


def _bbo(symbol: str, tick: wire.Bbo, ts: int | None, ts_recv: int) -> Message:
    """Spot: ``bid``/``bidSize`` numbers; swaps: ``bid: [price, size]``. A side without a
    quote (an empty book side) gives no row."""
    if bytes(tick.bidSize) != b"null" or bytes(tick.askSize) != b"null":  # spot
        sides = [(tick.bid, tick.bidSize), (tick.ask, tick.askSize)]
    else:
        pairs = [wire.pair.decode(tick.bid), wire.pair.decode(tick.ask)]
        if any(p is None for p in pairs):
            return Control("ignored", ts_recv, f"{symbol}: bbo with an empty side", symbol)
        if any(len(p) != 2 for p in pairs):  # type: ignore[arg-type]
            raise msgspec.ValidationError("a bbo side that is not [price, size]")
        sides = [(p[0], p[1]) for p in pairs]  # type: ignore[index]
    (bid, bid_size), (ask, ask_size) = [(json_decimal(p), json_decimal(q)) for p, q in sides]
    ts_exchange = _ns(tick.quoteTime or tick.ts or ts)
    return BestBidAsk(symbol, ts_exchange, ts_recv, None, bid, bid_size, ask, ask_size)


def _scope(symbol: str, spot: bool) -> str:
    if spot:
        return "spot"
    return "linear" if symbol.endswith("-USDT") else "inverse"


def _topic_symbol(topic: str | None) -> str | None:
    parts = (topic or "").split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "market" else None


def _ns(ms: int | None) -> int | None:
    return None if ms is None else ms * 1_000_000


def _levels(rows: list[wire.Level]) -> list[tuple[str, str]]:
    """``[price, size]`` JSON numbers as exact plain decimal text."""
    out = []
    for row in rows:
        if len(row) != 2:
            raise msgspec.ValidationError(f"a level of {len(row)} values, not [price, size]")
        out.append((json_decimal(row[0]), json_decimal(row[1])))
    return out
