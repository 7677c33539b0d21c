"""Deribit (API v2, JSON-RPC 2.0 over websocket): options, futures, perpetuals, spot.

Sans-I/O: describes connections and decodes frames; the wire contract is in
``adapters.deribit.wire`` (each struct names the documentation page it follows).

Books: ``book.{instrument}.{interval}`` starts with an in-band ``snapshot`` and then
sends ``change`` messages whose ``prev_change_id`` must equal the previous
``change_id`` (docs.deribit.com/subscriptions/orderbook/bookinstrument_nameinterval).
That is ``PreviousIdRule`` with ``first_id = last_id = change_id`` and ``prev_id =
prev_change_id``; a ``change`` with ``prev_change_id`` 0 is a full book (some
instruments start that way) and is taken as the snapshot. ``raw`` intervals need an
authenticated connection since 2022-01-15 (error 13778); the live plan uses the public
``100ms`` interval, the 2021 recording used ``raw``; both decode the same. Resync is by
resubscribing (``snapshot_request`` is ``None``): REST ``public/get_order_book`` has a
``change_id`` too, but the ``100ms`` stream only carries the last ``change_id`` of each
interval, so a REST snapshot taken in between can never be bridged by id.

Heartbeats (docs .../session-management/public-set_heartbeat): after
``public/set_heartbeat`` the server sends ``test_request`` notifications and closes the
connection unless ``public/test`` follows. An adapter cannot answer a frame, so the
plan sends ``public/test`` as its application ping every ``APP_PING_INTERVAL_S``, a
third of the heartbeat interval: every ``test_request`` is followed by one in time.

Markets: ``BTC-PERPETUAL`` -> ``BTC-USD-PERP``, ``BTC_USDC-PERPETUAL`` ->
``BTC-USDC-PERP``, ``BTC-24SEP21`` -> ``BTC-USD-20210924``, options
``BTC-24SEP21-34000-P`` -> ``BTC-USD-20210924-34000-P``. The option QUOTE is the
currency the strike and underlying index are in (``counter_currency``; USD for the
inverse BTC/ETH options, whose premium is quoted and settled in BTC/ETH: their
``quote_currency``). That keeps strikes comparable across venues (OKX names its BTC-settled
options ``BTC-USD-...`` too). Futures use ``quote_currency`` (USD, or USDC for linear).
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import msgspec

from adapters.deribit import wire as w
from collector.adapter import ConnectionPlan, Listings, RestRequest, Subscription, grammar
from collector.book.book import OrderBook
from collector.book.sequence import PreviousIdRule, SequenceRule
from collector.json_numbers import json_decimal, json_number
from collector.markets import ddmmmyy, option_terms
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

#: Live instruments per currency (options' counter currency, combos, expiries).
INSTRUMENTS_URL = "https://www.deribit.com/api/v2/public/get_instruments?currency={}&expired=false"
INSTRUMENT_CURRENCIES = ("BTC", "ETH", "SOL", "USDC")
URL = "wss://www.deribit.com/ws/api/v2"
#: ``BTC-PERPETUAL``, ``BTC_USDC-PERPETUAL``, ``BTC-27DEC24``, ``BTC-27DEC24-60000-C``;
#: a decimal strike writes its point as ``d`` (``XRP_USDC-27DEC24-0d5-C``).
SYMBOLS = grammar(
    r"[A-Z0-9_]+(?:-[A-Z0-9_]+(?:d[0-9]+)?)+",
    "upper-case dash-separated parts (a decimal strike as 0d5)",
    "BTC-PERPETUAL",
    "BTC-27DEC24-60000-C",
)
#: ``public/set_heartbeat`` interval; the docs require at least 10 s.
HEARTBEAT_INTERVAL_S = 30
#: ``public/test`` app ping: three per heartbeat interval.
APP_PING_INTERVAL_S = 10.0
#: Subscribe methods cost 3000 of 30000 credits: "Sustained rate: ~3.3 requests/second"
#: (docs.deribit.com/api-reference/subscription-management/public-subscribe, rate-limits).
MAX_MESSAGES_PER_SECOND = 3.0
#: Deribit documents no cap on channels per request or per connection; these are our
#: bounds. It does cap connections at 32 per IP (articles/connection-management-best-practices).
CHANNELS_PER_REQUEST = 100
CHANNELS_PER_CONNECTION = 500
#: No documented connection lifetime: roll over daily like the other venues.
LIFETIME_S = 24 * 3600.0

_HEARTBEAT_ID = 1
_TEST_ID = 2
_FIRST_SUBSCRIBE_ID = 100
APP_PING = json.dumps(
    {"jsonrpc": "2.0", "id": _TEST_ID, "method": "public/test", "params": {}},
    separators=(",", ":"),
)
#: Channels understood but not stored.
_IGNORED = frozenset(
    {
        "incremental_ticker",
        "deribit_price_index",
        "deribit_price_ranking",
        "deribit_volatility_index",
        "estimated_expiration_price",
        "markprice",
        "perpetual",
        "chart",
        "instrument",
        "platform_state",
        "announcements",
    }
)


class DeribitAdapter:
    """Decoder and connection planner for Deribit."""

    slug = "deribit"
    sequence_rule: SequenceRule = PreviousIdRule()
    #: Public REST is limited per IP without a published number; only instruments are fetched.
    rest_weight_per_minute: int | None = None
    symbol_grammar = SYMBOLS
    derivative_channels = ("derivative_ticker", "liquidations", "options")

    def __init__(self, book_interval: str = "100ms") -> None:
        self.book_interval = book_interval
        self._instruments: dict[str, w.Instrument] = {}
        self.listings = Listings()  # by the currency whose list names the instrument
        self._markets: dict[str, str] = {}

    # -- describing connections ----------------------------------------------------

    def market(self, symbol: str) -> str:
        name = self._markets.get(symbol)
        if name is None:
            name = self._markets[symbol] = _market(symbol, self._instruments.get(symbol))
        return name

    def instrument_requests(self) -> list[RestRequest]:
        return [RestRequest(INSTRUMENTS_URL.format(c)) for c in INSTRUMENT_CURRENCIES]

    def listed(self, symbol: str) -> bool | None:
        """Judged by its currency's list: ``BTC-…`` by BTC's, ``BTC_USDC-…`` by USDC's."""
        return self.listings.listed(symbol, symbol.split("-")[0].rpartition("_")[2])

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        return None  # in-band snapshot on every (re)subscribe; see the module docstring

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """``set_heartbeat`` then ``public/subscribe`` batches, ``public/test`` as app ping."""
        names = {
            "book": f"book.{{}}.{self.book_interval}",
            "trades": "trades.{}.100ms",
            "bbo": "quote.{}",
            # one ticker serves both (options carry greeks); liquidations are flagged trades
            "derivative_ticker": "ticker.{}.100ms",
            "options": "ticker.{}.100ms",
            "liquidations": "trades.{}.100ms",
        }
        heartbeat = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": _HEARTBEAT_ID,
                "method": "public/set_heartbeat",
                "params": {"interval": HEARTBEAT_INTERVAL_S},
            },
            separators=(",", ":"),
        )
        plans = []
        by_channel: dict[str, list[Subscription]] = {}  # a channel is subscribed once
        for sub in subscriptions:
            by_channel.setdefault(names[sub.channel].format(sub.symbol), []).append(sub)
        unique = list(by_channel)
        for i in range(0, len(unique), CHANNELS_PER_CONNECTION):
            channels = unique[i : i + CHANNELS_PER_CONNECTION]
            chunk = [sub for c in channels for sub in by_channel[c]]
            frames = [heartbeat]
            for j in range(0, len(channels), CHANNELS_PER_REQUEST):
                request = {
                    "jsonrpc": "2.0",
                    "id": _FIRST_SUBSCRIBE_ID + j // CHANNELS_PER_REQUEST,
                    "method": "public/subscribe",
                    "params": {"channels": channels[j : j + CHANNELS_PER_REQUEST]},
                }
                frames.append(json.dumps(request, separators=(",", ":")))
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
        return None  # Deribit sends no checksum; the change_id chain is the check

    def connected(self, conn: int, url: str) -> None:
        pass  # every notification names its instrument

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        try:
            env = w.envelope.decode(frame)
            if env.method == "subscription":
                sub = w.subscription.decode(env.params)
                return self._notification(sub.channel, sub.data, ts_recv, frame)
            if env.method == "heartbeat":
                kind = w.heartbeat.decode(env.params).type
                detail = "heartbeat" if kind == "heartbeat" else "test_request (app ping answers)"
                return [Control("heartbeat", ts_recv, detail)]
            if env.method is None and env.error:
                err = w.rpc_error.decode(env.error)
                return [Control("error", ts_recv, f"id={env.id} {err.code}: {err.message}")]
            if env.method is None and env.result:
                return [_reply(env.id, bytes(env.result), ts_recv)]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(frame))]
        return [DecodeFailed("unknown message type", ts_recv, sample(frame), unknown=True)]

    def _notification(
        self, channel: str, data: msgspec.Raw, ts_recv: int, frame: str | bytes
    ) -> list[Message]:
        kind, _, rest = channel.partition(".")
        if kind == "book":
            if rest.count(".") == 3:  # {instrument}.{group}.{depth}.{interval}: full top-N
                g = w.grouped_book.decode(data)
                bids = [(json_decimal(p), json_decimal(a)) for p, a in g.bids]
                asks = [(json_decimal(p), json_decimal(a)) for p, a in g.asks]
                return [
                    BookSnapshot(
                        g.instrument_name, _ns(g.timestamp), ts_recv, g.change_id, bids, asks, True
                    )
                ]
            b = w.book.decode(data)
            bids, asks = _changes(b.bids), _changes(b.asks)
            ts = _ns(b.timestamp)
            # A ``change`` whose ``prev_change_id`` is 0 follows nothing: Deribit sends the
            # full book that way on some instruments, a snapshot in disguise.
            first = b.prev_change_id == 0 or (b.type is None and b.prev_change_id is None)
            if b.type == "snapshot" or first:
                return [BookSnapshot(b.instrument_name, ts, ts_recv, b.change_id, bids, asks, True)]
            if b.prev_change_id is None:
                raise ValueError("book change without prev_change_id")
            cid = b.change_id
            return [
                BookDelta(b.instrument_name, ts, ts_recv, cid, cid, b.prev_change_id, bids, asks)
            ]
        if kind == "trades":
            out: list[Message] = []
            for t in w.trades.decode(data):
                price, amount = json_decimal(t.price), json_decimal(t.amount)
                # ``direction`` is the taker's side (docs: trades.{instrument}.{interval}).
                ts = _ns(t.timestamp)
                out.append(
                    Trade(t.instrument_name, ts, ts_recv, t.trade_id, t.direction, price, amount)
                )
                out.extend(
                    Liquidation(t.instrument_name, ts, ts_recv, t.trade_id, side, price, amount)
                    for side in _liquidation_sides(t.liquidation, t.direction)
                )
            return out
        if kind == "ticker":
            return [self._ticker(w.ticker.decode(data), ts_recv)]
        if kind == "quote":
            q = w.quote.decode(data)
            texts = [
                json_number(r)
                for r in (q.best_bid_price, q.best_bid_amount, q.best_ask_price, q.best_ask_amount)
            ]
            if any(t is None or Decimal(t) == 0 for t in texts):
                return [Control("ignored", ts_recv, "one-sided quote (empty side sent as 0)")]
            bp, bs, ap, as_ = texts
            assert bp and bs and ap and as_
            return [BestBidAsk(q.instrument_name, _ns(q.timestamp), ts_recv, None, bp, bs, ap, as_)]
        if kind in _IGNORED:
            return [Control("ignored", ts_recv, channel)]
        return [DecodeFailed(f"unknown channel {channel!r}", ts_recv, sample(frame), unknown=True)]

    def _ticker(self, t: w.Ticker, ts_recv: int) -> DerivativeTicker | OptionSummary:
        """An option's ticker is an option summary; a future's or perpetual's a derivative ticker.

        Deribit funds perpetuals continuously, so there is no next funding time; the
        stored rate is ``funding_8h`` (funding over the last 8 hours, comparable with the
        8-hourly rates of other venues), ``current_funding`` is not stored.
        """
        name, ts = t.instrument_name, _ns(t.timestamp)
        if t.greeks is None:
            return DerivativeTicker(
                name,
                ts,
                ts_recv,
                mark_price=json_number(t.mark_price),
                index_price=json_number(t.index_price),
                last_price=json_number(t.last_price),
                open_interest=json_number(t.open_interest),
                funding_rate=json_number(t.funding_8h),
            )
        terms = option_terms(name)
        if terms is None:
            raise ValueError(f"option ticker {name!r}: no type, strike and expiry in its name")
        option_type, strike, expiration = terms
        info = self._instruments.get(name)
        if info is not None and info.expiration_timestamp is not None:
            expiration = _ns(info.expiration_timestamp)
        g = t.greeks
        return OptionSummary(
            name,
            ts,
            ts_recv,
            option_type,
            strike,
            expiration,
            best_bid_price=json_number(t.best_bid_price),
            best_bid_size=json_number(t.best_bid_amount),
            best_bid_iv=json_number(t.bid_iv),
            best_ask_price=json_number(t.best_ask_price),
            best_ask_size=json_number(t.best_ask_amount),
            best_ask_iv=json_number(t.ask_iv),
            mark_price=json_number(t.mark_price),
            mark_iv=json_number(t.mark_iv),
            underlying_price=json_number(t.underlying_price),
            underlying_index=t.underlying_index,
            delta=json_number(g.delta),
            gamma=json_number(g.gamma),
            vega=json_number(g.vega),
            theta=json_number(g.theta),
            rho=json_number(g.rho),
            open_interest=json_number(t.open_interest),
        )

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        path = urlsplit(url).path
        if not path.endswith("/public/get_instruments"):
            return [DecodeFailed(f"unknown REST endpoint {path}", ts_recv, sample(body), True)]
        try:
            env = w.envelope.decode(body)
            if env.error:
                err = w.rpc_error.decode(env.error)
                return [Control("error", ts_recv, f"{path}: {err.code}: {err.message}")]
            rows = w.instruments.decode(body).result
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return [DecodeFailed(str(exc), ts_recv, sample(body))]
        for row in rows:
            self._instruments[row.instrument_name] = row
        currency = parse_qs(urlsplit(url).query).get("currency", [""])[0]
        self.listings.add((row.instrument_name for row in rows), currency)
        self._markets.clear()
        return [Control("ignored", ts_recv, f"instruments loaded: {len(rows)}")]


def _reply(request_id: int | str | None, result: bytes, ts_recv: int) -> Control:
    if request_id == _TEST_ID or result.startswith(b'{"version"'):
        return Control("heartbeat", ts_recv, "public/test reply")
    if result.startswith(b"["):
        channels = msgspec.json.decode(result, type=list[str])
        return Control("ack", ts_recv, f"id={request_id}: {len(channels)} channels subscribed")
    return Control("ack", ts_recv, f"id={request_id}: {result[:80].decode(errors='replace')}")


def _liquidation_sides(flag: str | None, taker: str) -> list[str]:
    """Sides of the liquidation orders in a trade flagged ``liquidation``.

    ``T``: the taker was liquidated, so the liquidation order is the taker's; ``M``: the
    maker's, on the other side; ``MT``: both (two liquidation orders, one trade).
    """
    if not flag:
        return []
    maker = "sell" if taker == "buy" else "buy"
    sides = {"T": [taker], "M": [maker], "MT": [maker, taker]}.get(flag)
    if sides is None:
        raise ValueError(f"unknown liquidation flag {flag!r}")
    return sides


def _changes(levels: list[w.Change]) -> list[tuple[str, str]]:
    return [(json_decimal(p), "0" if act == "delete" else json_decimal(a)) for act, p, a in levels]


def _market(symbol: str, info: w.Instrument | None) -> str:
    """Normalized market (module docstring); unknown shapes keep the native name."""
    parts = symbol.split("-")
    pair = parts[0].split("_")
    base = pair[0]
    quote = pair[1] if len(pair) == 2 else "USD"
    if info is not None:
        if info.kind in ("future_combo", "option_combo"):
            return symbol
        base = info.base_currency
        if info.kind == "option":
            quote = info.counter_currency or (
                "USD" if info.quote_currency == info.base_currency else info.quote_currency
            )
        else:
            quote = info.quote_currency
    if len(parts) == 1:
        return f"{base}-{quote}" if len(pair) == 2 else symbol  # spot BTC_USDC
    if len(parts) == 2 and parts[1] == "PERPETUAL":
        return f"{base}-{quote}-PERP"
    expiry = ddmmmyy(parts[1])
    if expiry is None:
        return symbol
    if len(parts) == 2:
        return f"{base}-{quote}-{expiry}"
    if len(parts) == 4 and parts[3] in ("C", "P"):
        strike = parts[2].replace("d", ".")  # linear options write 0.625 as 0d625
        return f"{base}-{quote}-{expiry}-{strike}-{parts[3]}"
    return symbol


def _ns(ms: int) -> int:
    return ms * 1_000_000
