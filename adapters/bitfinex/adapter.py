"""Bitfinex WebSocket API v2: P0 books, trades and a top-of-book stream.

Sans-I/O; the wire contract and its documentation URLs are in
``adapters.bitfinex.wire``. What this module relies on:

* Channel ids are per connection: ``subscribed`` maps ``chanId`` to channel and
  symbol on the ``conn`` it arrived on (``connected`` forgets a reused ``conn``).
* ``conf`` flags SEQ_ALL (65536) + OB_CHECKSUM (131072): every channel message,
  heartbeats included, ends with a sequence number counted +1 per message over the
  whole connection, so a gap is found here and reported as ``BookInvalid`` for
  every book of that connection; books send ``[chanId, "cs", CRC32, seq]``.
* Books carry no update ids: ``NoSequenceRule``, ids counted per symbol (snapshot
  0, then 1, 2, ...). ``[PRICE, COUNT, AMOUNT]``: amount > 0 bid, < 0 ask; count 0
  deletes (amount 1 from the bids, -1 from the asks). Sizes are stored absolute.
* The checksum hashes the first 25 bids and asks as ``price:amount`` (asks
  negative) in JavaScript ``Number.toString`` form (``js_number``).
* Trades: ``te`` is stored, ``tu`` (the same trade again, later) is not, and a
  trade id already stored for the symbol is dropped. The snapshot sent on
  subscribe is history and is not stored, except after a reconnect the trades
  in it that are newer than the last one stored (missed meanwhile). Sign of
  AMOUNT = taker side.
* ``ticker`` sizes are sums of the top 25 levels, not a best bid/ask: ignored;
  ``bbo`` is served by a ``len: 1`` book (only for symbols without a full book).
* Funding symbols (``fUSD``) and books other than P0 are not supported: plan()
  leaves them out and their frames decode to ``Control("ignored")``.
"""

from __future__ import annotations

import math
from collections import deque

import msgspec

from adapters.bitfinex import wire as wire
from collector.adapter import ConnectionPlan, Listings, RestRequest, Subscription, grammar
from collector.book.book import OrderBook
from collector.book.checksum import interleaved_crc32
from collector.book.sequence import NoSequenceRule
from collector.json_numbers import json_decimal, json_number
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Liquidation,
    Message,
    Trade,
    sample,
)

URL = "wss://api-pub.bitfinex.com/ws/2"  # public channels (ws-general)
#: ws-public: "You can subscribe to 25 channels at the same time on the same connection".
MAX_CHANNELS_PER_CONNECTION = 25
#: Not documented for public channels; kept low (the daemon opens <= 20 connections/min).
MAX_MESSAGES_PER_SECOND = 5.0
#: ws-general ping/pong; not required (idle channels get "hb" every 15 s), keeps NATs open.
PING_INTERVAL_S = 30.0
#: REST: "between 10 and 90 requests per minute" per endpoint
#: (https://docs.bitfinex.com/v1/docs/rest-general); only the instrument lists are fetched.
REST_REQUESTS_PER_MINUTE = 10
#: Instrument lists ``decode_rest`` reads (symbol splitting, perpetuals, currency names).
INSTRUMENT_URLS = tuple(
    f"https://api-pub.bitfinex.com/v2/conf/pub:{name}"
    for name in ("list:pair:exchange", "list:pair:future", "list:currency", "map:currency:sym")
)
BOOK_LENGTHS = (25, 100, 250)
#: Trading pairs: ``tBTCUSD``, with a colon when a code is longer than 3 (``tBTCF0:USTF0``).
SYMBOLS = grammar(
    r"t[A-Z0-9]+(?::[A-Z0-9]+)?",
    "'t' then the upper-case pair, split by ':' when a code exceeds 3 letters",
    "tBTCUSD",
    "tBTCF0:USTF0",
)
CHECKSUM_LEVELS = 25
_RECENT_TRADES = 1000


class _Channel:
    __slots__ = ("ask", "bid", "kind", "snapshot_seen", "symbol")

    def __init__(self, kind: str, symbol: str) -> None:
        self.kind = kind  # book | bbo | trades | ignored
        self.symbol = symbol
        self.snapshot_seen = False  # the first message of a book channel is its snapshot
        self.bid: tuple[str, str] | None = None  # bbo only: best levels
        self.ask: tuple[str, str] | None = None


class _Conn:
    __slots__ = ("channels", "last_seq", "seq_all")

    def __init__(self) -> None:
        self.channels: dict[int, _Channel] = {}
        self.seq_all = False
        self.last_seq: int | None = None


class BitfinexAdapter:
    slug = "bitfinex"
    sequence_rule = NoSequenceRule()
    rest_weight_per_minute: int | None = REST_REQUESTS_PER_MINUTE
    derivative_channels = ("derivative_ticker", "liquidations")

    def __init__(self, book_len: int = 250) -> None:
        if book_len not in BOOK_LENGTHS:
            raise ValueError(f"book_len must be one of {BOOK_LENGTHS}")
        self.book_len = book_len
        self._conns: dict[int, _Conn] = {}
        self._book_ids: dict[str, int] = {}
        #: (kind, symbol) -> the connection whose snapshot the book/bbo currently follows.
        self._owner: dict[tuple[str, str], int] = {}
        self._trade_ids: dict[str, tuple[set[int], deque[int]]] = {}
        self._last_trade_mts: dict[str, int] = {}
        self._currencies: set[str] = set()
        self._futures: set[str] = set()
        self._aliases = dict(wire.ALIASES)
        self._markets: dict[str, str] = {}
        self.symbol_grammar = SYMBOLS
        #: Pairs by list: ``exchange`` (spot) and ``future`` (perpetuals, codes ending F0).
        self.listings = Listings()
        #: Frames that carried a SEQ_ALL number, and jumps found among them.
        self.seq_checked = 0
        self.seq_gaps = 0

    # -- symbols ---------------------------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = self._market(symbol)
        return name

    def _market(self, symbol: str) -> str:
        pair = symbol[1:]
        if not symbol.startswith("t") or len(pair) < 2:
            return symbol  # funding currencies and the unknown keep their native name
        if ":" in pair:
            base, _, quote = pair.partition(":")
        else:
            cuts = [i for i in range(1, len(pair)) if {pair[:i], pair[i:]} <= self._currencies]
            if len(cuts) != 1 and len(pair) != 6:
                return symbol
            cut = cuts[0] if len(cuts) == 1 else 3
            base, quote = pair[:cut], pair[cut:]
        perp = pair in self._futures or (base.endswith("F0") and quote.endswith("F0"))
        if perp:
            base, quote = base[:-2], quote[:-2]
        name = f"{self._aliases.get(base, base)}-{self._aliases.get(quote, quote)}"
        return f"{name}-PERP" if perp else name

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        """``conf/pub:list:pair:exchange|pair:future|currency`` and ``pub:map:currency:sym``."""
        try:
            if "pub:map:currency:sym" in url:
                pairs = wire.string_pairs.decode(body)[0]
                self._aliases.update((k, v.upper()) for k, v in pairs if v.isalnum())
            elif "pub:list:currency" in url:
                self._currencies.update(wire.string_lists.decode(body)[0])
            elif "pub:list:pair:future" in url:
                futures = wire.string_lists.decode(body)[0]
                self._futures.update(futures)
                self.listings.add((f"t{pair}" for pair in futures), "future")
            elif "pub:list:pair:exchange" in url:
                pairs = wire.string_lists.decode(body)[0]
                self.listings.add((f"t{pair}" for pair in pairs), "exchange")
            elif "pub:list:pair:" not in url:
                return [DecodeFailed(f"unknown REST endpoint {url}", ts_recv, sample(body), True)]
        except (msgspec.DecodeError, msgspec.ValidationError, IndexError) as exc:
            return [DecodeFailed(f"{url}: {exc}", ts_recv, sample(body))]
        self._markets.clear()
        return [Control("ignored", ts_recv, f"instruments loaded from {url}")]

    # -- connections -------------------------------------------------------------------

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(url) for url in INSTRUMENT_URLS]

    def listed(self, symbol: str) -> bool | None:
        return self.listings.listed(symbol, "future" if symbol.endswith("F0") else "exchange")

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # snapshots come in-band on (re)subscribe

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """A symbol's channels share a connection, at most 25 channels per connection."""
        books = {s.symbol for s in subscriptions if s.channel == "book"}
        per_symbol: dict[str, tuple[list[Subscription], list[dict]]] = {}
        liquidations = False  # one global liquidation feed, on the first connection asking
        for sub in subscriptions:
            if not sub.symbol.startswith("t"):
                continue  # funding books/trades have other shapes: not supported
            subs, frames = per_symbol.setdefault(sub.symbol, ([], []))
            subs.append(sub)
            if sub.channel == "derivative_ticker":
                frames.append(_status(f"deriv:{sub.symbol}"))
                continue
            if sub.channel == "liquidations":
                if not liquidations:
                    frames.append(_status(LIQUIDATION_KEY))
                liquidations = True
                continue
            frame: dict = {"event": "subscribe", "channel": sub.channel, "symbol": sub.symbol}
            if sub.channel == "bbo" and sub.symbol in books:
                continue  # the symbol's full book has its top of book
            if sub.channel in ("book", "bbo"):
                length = self.book_len if sub.channel == "book" else 1
                frame.update(channel="book", prec="P0", freq="F0", len=str(length))
            frames.append(frame)
        conf = msgspec.json.encode(
            {"event": "conf", "flags": wire.FLAG_SEQ_ALL + wire.FLAG_OB_CHECKSUM}
        ).decode()
        groups: list[tuple[list[Subscription], list[dict]]] = []
        for subs, frames in per_symbol.values():
            if not groups or len(groups[-1][1]) + len(frames) > MAX_CHANNELS_PER_CONNECTION:
                groups.append(([], []))
            groups[-1][0].extend(subs)
            groups[-1][1].extend(frames)
        return [
            ConnectionPlan(
                url=URL,
                subscribe=[conf, *(msgspec.json.encode(f).decode() for f in frames)],
                subscriptions=subs,
                max_messages_per_second=MAX_MESSAGES_PER_SECOND,
                lifetime_s=math.inf,  # no documented connection lifetime
                app_ping='{"event":"ping","cid":1}',
                app_ping_interval_s=PING_INTERVAL_S,
            )
            for subs, frames in groups
        ]

    def connected(self, conn: int, url: str) -> None:
        self._conns[conn] = _Conn()  # channel ids and sequence numbers start over

    # -- decoding ----------------------------------------------------------------------

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        js, top = wire.js_number, CHECKSUM_LEVELS
        bids = [(js(p), js(s)) for p, s in book.bids.top_levels(top)]
        asks = [(js(p), "-" + js(s)) for p, s in book.asks.top_levels(top)]
        return interleaved_crc32(bids, asks)

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        state = self._conns.get(conn) or self._conns.setdefault(conn, _Conn())
        try:
            head = (frame.encode() if isinstance(frame, str) else frame).lstrip()[:1]
            if head == b"{":
                return self._event(wire.event.decode(frame), state, ts_recv, frame)
            if head == b"[":
                items = wire.frame_elements.decode(frame)
                return self._channel(items, conn, state, ts_recv, frame)
            msgspec.json.decode(frame)  # not JSON at all: malformed rather than unknown
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, IndexError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _event(self, ev: wire.Event, state: _Conn, ts_recv: int, frame) -> list[Message]:
        name = ev.event
        if name == "info":
            if ev.code in wire.INFO_SHUTDOWN:
                return [Control("shutdown", ts_recv, f"info {ev.code}: {ev.msg}")]
            if ev.version is not None and ev.version != 2:
                return [Control("error", ts_recv, f"unsupported API version {ev.version}")]
            if ev.platform is not None and ev.platform.status != 1:
                return [Control("error", ts_recv, "platform in maintenance (status 0)")]
            return [Control("ignored", ts_recv, f"info version={ev.version} code={ev.code}")]
        if name == "conf":
            if ev.status != "OK" or ev.flags is None:
                return [Control("error", ts_recv, f"conf refused: {sample(frame)}")]
            state.seq_all = bool(ev.flags & wire.FLAG_SEQ_ALL)
            return [Control("ack", ts_recv, f"conf flags={ev.flags}")]
        if name == "subscribed" and ev.chanId is not None and ev.channel == "status" and ev.key:
            kind, _, symbol = ev.key.partition(":")
            kind = kind if kind in ("deriv", "liq") else "ignored"
            state.channels[ev.chanId] = _Channel(kind, symbol if kind == "deriv" else ev.key)
            return [Control("ack", ts_recv, f"status {ev.key} chanId={ev.chanId}")]
        if name == "subscribed" and ev.chanId is not None and ev.channel and ev.symbol:
            kind = ev.channel if ev.channel == "trades" else "ignored"
            if ev.channel == "book" and ev.prec == "P0":
                kind = "bbo" if str(ev.len) == "1" else "book"
            if not ev.symbol.startswith("t"):
                kind = "ignored"
            state.channels[ev.chanId] = _Channel(kind, ev.symbol)
            detail = f"{ev.channel} {ev.symbol} chanId={ev.chanId}"
            return [Control("ack", ts_recv, detail, ev.symbol)]
        if name == "unsubscribed" and ev.chanId is not None:
            gone = state.channels.pop(ev.chanId, None)
            symbol = gone.symbol if gone else None
            return [Control("ack", ts_recv, f"unsubscribed chanId={ev.chanId}", symbol)]
        if name in ("subscribed", "unsubscribed"):
            return [
                DecodeFailed(f"{name} without chanId, channel or symbol", ts_recv, sample(frame))
            ]
        if name == "error":
            return [Control("error", ts_recv, f"{ev.code}: {ev.msg}", ev.symbol)]
        if name == "pong":
            return [Control("heartbeat", ts_recv, f"pong cid={ev.cid}")]
        return [DecodeFailed(f"unknown event {name!r}", ts_recv, sample(frame), unknown=True)]

    def _channel(self, items: list, conn: int, state: _Conn, ts_recv: int, frame) -> list:
        chan_id = wire.integer.decode(items[0])
        out: list[Message] = []
        body = items[1:]
        if state.seq_all:
            seq = wire.integer.decode(body.pop())
            out += self._sequence(conn, state, seq, ts_recv)
        tag = wire.text.decode(body[0]) if wire.first_byte(body[0]) == b'"' else None
        payload = body[1:] if tag is not None else body
        channel = state.channels.get(chan_id)
        if tag == "hb":
            out.append(Control("heartbeat", ts_recv, f"chanId={chan_id}"))
        elif channel is None:
            reason = f"data on chanId {chan_id} with no subscription"
            out.append(DecodeFailed(reason, ts_recv, sample(frame)))
        elif channel.kind == "ignored" or (channel.kind == "trades" and tag == "tu"):
            out.append(Control("ignored", ts_recv, f"{channel.kind} {tag or ''}", channel.symbol))
        elif not self._follows(channel, conn, tag):
            detail = f"{channel.kind} also served by connection {self._owner[key(channel)]}"
            out.append(Control("ignored", ts_recv, detail, channel.symbol))
        elif channel.kind == "book" and tag in (None, "cs"):
            out.append(self._book(channel, tag, payload[0], ts_recv))
        elif channel.kind == "bbo" and tag is None:
            out.append(self._bbo(channel, payload[0], ts_recv))
        elif channel.kind == "trades" and tag in (None, "te"):
            out += self._trades(channel.symbol, tag, payload[0], ts_recv)
        elif channel.kind == "deriv" and tag is None:
            out.append(_deriv_status(channel.symbol, payload[0], ts_recv))
        elif channel.kind == "liq" and tag is None:
            out += _liquidations(payload[0], ts_recv)
        else:
            reason = f"unknown {channel.kind} message {tag!r}"
            out.append(DecodeFailed(reason, ts_recv, sample(frame), unknown=True))
        return out

    def _sequence(self, conn: int, state: _Conn, seq: int, ts_recv: int) -> list[Message]:
        self.seq_checked += 1
        last, state.last_seq = state.last_seq, seq
        if last is None or seq == last + 1:
            return []
        self.seq_gaps += 1
        reason = f"connection sequence jumped from {last} to {seq} (SEQ_ALL)"
        books = {c.symbol for c in state.channels.values() if c.kind == "book"}
        mine = sorted(s for s in books if self._owner.get(("book", s)) == conn)
        return [BookInvalid(symbol, ts_recv, reason) for symbol in mine]

    def _follows(self, channel: _Channel, conn: int, tag: str | None) -> bool:
        """Whether this connection's copy of a book/bbo is the one followed.

        During a make-before-break switch-over two connections carry the same
        symbol under different chanIds and sequence numbers (the pipeline's
        frame-text dedupe cannot pair them): the latest snapshot's connection wins.
        """
        if channel.kind not in ("book", "bbo"):
            return True
        if tag is None and not channel.snapshot_seen:
            self._owner[key(channel)] = conn
        return self._owner.get(key(channel), conn) == conn

    def _book(self, channel: _Channel, tag: str | None, raw: msgspec.Raw, ts_recv: int) -> Message:
        symbol = channel.symbol
        if tag == "cs":
            book_id = self._book_ids[symbol] = self._book_ids.get(symbol, 0) + 1
            checksum = wire.integer.decode(raw)
            return BookDelta(symbol, None, ts_recv, book_id, book_id, None, [], [], checksum)
        if not channel.snapshot_seen:  # a list of entries, empty for an empty book
            entries = wire.book_entries.decode(raw)
            channel.snapshot_seen = True
            self._book_ids[symbol] = 0
            bids, asks = wire.levels(entries)
            return BookSnapshot(symbol, None, ts_recv, 0, bids, asks, in_band=True)
        # One entry; a list of them only with the BULK_UPDATES flag (not asked for).
        entries = (
            wire.book_entries.decode(raw) if wire.is_list(raw) else [wire.book_entry.decode(raw)]
        )
        book_id = self._book_ids[symbol] = self._book_ids.get(symbol, 0) + 1
        bids, asks = wire.levels(entries)
        return BookDelta(symbol, None, ts_recv, book_id, book_id, None, bids, asks)

    def _bbo(self, channel: _Channel, raw: msgspec.Raw, ts_recv: int) -> Message:
        listed = wire.is_list(raw)
        entries = wire.book_entries.decode(raw) if listed else [wire.book_entry.decode(raw)]
        if not channel.snapshot_seen:
            channel.snapshot_seen = True
            channel.bid = channel.ask = None
        bids, asks = wire.levels(entries)
        for levels, side in ((bids, "bid"), (asks, "ask")):
            for price, size in levels:
                setattr(channel, side, None if size == "0" else (price, size))
        if channel.bid is None or channel.ask is None:
            return Control("ignored", ts_recv, "top of book has an empty side", channel.symbol)
        (bp, bs), (ap, as_) = channel.bid, channel.ask
        return BestBidAsk(channel.symbol, None, ts_recv, None, bp, bs, ap, as_)

    def _trades(self, symbol: str, tag: str | None, raw: msgspec.Raw, ts_recv: int) -> list:
        """``te`` trades, plus the snapshot's trades newer than the last one stored.

        A subscription's snapshot is history (hours old on quiet pairs): only after
        a reconnect do its newest trades fill the gap, never on a first subscription.
        """
        newest = self._last_trade_mts.get(symbol)
        if tag is None:  # snapshot: newest first
            history = reversed(wire.trade_entries.decode(raw))
            entries = [] if newest is None else [t for t in history if t.mts >= newest]
        else:
            entries = [wire.trade_entry.decode(raw)]
        seen, order = self._trade_ids.setdefault(symbol, (set(), deque()))
        out: list[Message] = []
        for t in entries:
            if t.id in seen:
                continue
            seen.add(t.id)
            order.append(t.id)
            if len(order) > _RECENT_TRADES:
                seen.discard(order.popleft())
            self._last_trade_mts[symbol] = max(t.mts, self._last_trade_mts.get(symbol, t.mts))
            amount = json_decimal(t.amount)
            side = "sell" if amount.startswith("-") else "buy"  # sign = taker direction
            price, size = json_decimal(t.price), amount.lstrip("-")
            out.append(Trade(symbol, t.mts * 1_000_000, ts_recv, str(t.id), side, price, size))
        return out or [Control("ignored", ts_recv, "no new trades", symbol)]


#: ``status`` positions (ws-public-status, "Derivative pair status"); placeholders skipped.
DERIV_TIME, DERIV_PRICE, SPOT_PRICE, NEXT_FUNDING_TIME = 0, 2, 3, 7
NEXT_FUNDING_ACCRUED, CURRENT_FUNDING, MARK_PRICE, OPEN_INTEREST = 8, 11, 14, 17
#: ``["pos", POS_ID, TIME_MS, _, SYMBOL, AMOUNT, BASE_PRICE, _, IS_MATCH, IS_MARKET_SOLD,
#: _, LIQUIDATION_PRICE]`` of a liquidation feed row.
LIQ_ID, LIQ_TIME, LIQ_SYMBOL, LIQ_AMOUNT, LIQ_IS_MATCH, LIQ_PRICE = 1, 2, 4, 5, 8, 11
LIQUIDATION_KEY = "liq:global"


def _status(key: str) -> dict:
    return {"event": "subscribe", "channel": "status", "key": key}


def _deriv_status(symbol: str, raw: msgspec.Raw, ts_recv: int) -> DerivativeTicker:
    """A derivative pair's status. ``DERIV_PRICE`` (the contract's own price) is the last
    price, ``SPOT_PRICE`` the index, ``NEXT_FUNDING_ACCRUED`` the funding accrued so far
    for the next period: the predicted rate (the reading tardis-node gives them too)."""
    v = wire.status_values.decode(raw)
    if len(v) <= OPEN_INTEREST:
        raise ValueError(f"deriv status of {symbol} with {len(v)} values")
    funding_ms = json_number(v[NEXT_FUNDING_TIME])
    return DerivativeTicker(
        symbol,
        wire.integer.decode(v[DERIV_TIME]) * 1_000_000,
        ts_recv,
        mark_price=json_number(v[MARK_PRICE]),
        index_price=json_number(v[SPOT_PRICE]),
        last_price=json_number(v[DERIV_PRICE]),
        open_interest=json_number(v[OPEN_INTEREST]),
        funding_rate=json_number(v[CURRENT_FUNDING]),
        predicted_funding_rate=json_number(v[NEXT_FUNDING_ACCRUED]),
        funding_time=int(funding_ms) * 1_000_000 if funding_ms else None,
    )


def _liquidations(raw: msgspec.Raw, ts_recv: int) -> list[Message]:
    """Liquidations of every symbol. Each is sent when triggered (``IS_MATCH`` 0) and
    again when matched (1): only the first is stored. A positive amount is a long
    position, closed by a sell."""
    out: list[Message] = []
    for row in wire.status_rows.decode(raw):
        if wire.text.decode(row[0]) != "pos" or wire.integer.decode(row[LIQ_IS_MATCH]) != 0:
            continue
        amount = json_decimal(row[LIQ_AMOUNT])
        side = "buy" if amount.startswith("-") else "sell"
        out.append(
            Liquidation(
                wire.text.decode(row[LIQ_SYMBOL]),
                wire.integer.decode(row[LIQ_TIME]) * 1_000_000,
                ts_recv,
                str(wire.integer.decode(row[LIQ_ID])),
                side,
                json_decimal(row[LIQ_PRICE]),
                amount.removeprefix("-"),
            )
        )
    return out or [Control("ignored", ts_recv, "liquidation feed: no new liquidation")]


def key(channel: _Channel) -> tuple[str, str]:
    return channel.kind, channel.symbol
