"""Bybit wire contract (v5 public websocket + instruments, legacy v2) and symbol -> market.

Written from (stored copies checked 2026-11-28):

* v5 connect, limits, heartbeat: https://bybit-exchange.github.io/docs/v5/ws/connect
* v5 order book: https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook
* v5 trades: https://bybit-exchange.github.io/docs/v5/websocket/public/trade
* v5 instruments: https://bybit-exchange.github.io/docs/v5/market/instrument
* v5 tickers: https://bybit-exchange.github.io/docs/v5/websocket/public/ticker
* v5 all liquidation: https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation
* v5 liquidation (deprecated 2025, carried by 2023 recordings):
  https://bybit-exchange.github.io/docs/v5/websocket/public/liquidation
* legacy v2 (retired; decode only): https://bybit-exchange.github.io/docs/inverse/#t-websocket
  and https://bybit-exchange.github.io/docs/linear/#t-websocket (``orderBookL2_25``, ``trade``),
  ``GET /v2/public/symbols``.

Field names stay verbatim; each carries a comment with its meaning.
"""

from __future__ import annotations

import re

import msgspec

from collector.decimal_text import plain
from collector.markets import ddmmmyy, future_code_expiry, ms_date, split_quote

Level = tuple[str, str]  # [price, size], decimal text; size is absolute, "0" deletes


class LegacyRequest(msgspec.Struct, gc=False):
    """The request a legacy v2 reply answers."""

    op: str  # "subscribe", "ping", ...
    args: list[str] | None = None


class Envelope(msgspec.Struct, gc=False):
    """Every public frame, v5 and legacy v2: a push (``topic``) or a reply (``op``/``request``).

    v5 push: ``{"topic","type","ts","data"[,"cts"]}``. v5 reply: ``{"success","ret_msg",
    "conn_id","req_id"?,"op"}`` (pong: ``op == "ping"``, ``ret_msg == "pong"``; options and
    private streams answer ``op == "pong"``). v2 push adds ``cross_seq``/``timestamp_e6``;
    a v2 reply names its ``request``.
    """

    topic: str | None = None  # "<channel>.[<depth>.]<symbol>"
    type: str | None = None  # "snapshot" | "delta"
    ts: int | None = None  # v5: ms the push was generated
    cts: int | None = None  # v5 order book: matching-engine time of the book, ms
    data: msgspec.Raw = msgspec.Raw()  # payload, decoded once the channel is known
    cross_seq: int | str | None = None  # v2 book: engine sequence, increasing, not +1
    timestamp_e6: int | str | None = None  # v2 book: push time, µs
    success: bool | None = None  # reply: request accepted
    ret_msg: str | None = None  # reply: "" / "subscribe" / "pong" / error text
    op: str | None = None  # v5 reply: op answered ("subscribe", "ping", "pong")
    req_id: str | None = None  # v5 reply: echo of the request's req_id
    conn_id: str | None = None  # reply: server-side connection id
    request: LegacyRequest | None = None  # v2 reply: the request answered


class V5Book(msgspec.Struct, gc=False):
    """``orderbook.{depth}.{symbol}`` payload (snapshot or delta)."""

    s: str  # symbol
    b: list[Level]  # bids (snapshot: best first)
    a: list[Level]  # asks (snapshot: best first)
    u: int  # update id, +1 per message; 1 = service restart (overwrite the book)
    seq: int | None = None  # cross sequence (not continuous)


class V5Trade(msgspec.Struct, gc=False):
    """One ``publicTrade.{symbol}`` row (the payload is a list of them)."""

    T: int  # trade time, ms
    s: str  # symbol
    S: str  # taker side, "Buy" | "Sell"
    v: str  # size
    p: str  # price
    i: str  # trade id (UUID on derivatives, digits on spot)
    BT: bool = False  # block trade
    seq: int | None = None  # cross sequence


class V5Ticker(msgspec.Struct, gc=False):
    """``tickers.{symbol}`` on linear and inverse: a snapshot, then deltas of changed fields.

    Only the derivative fields are declared; a delta omits every field that did not change.
    """

    symbol: str
    lastPrice: str | None = None  # last traded price
    markPrice: str | None = None  # mark price
    indexPrice: str | None = None  # index price
    openInterest: str | None = None  # open interest, contracts (linear: base coin)
    fundingRate: str | None = None  # funding rate of the current period
    nextFundingTime: str | None = None  # next funding time, ms as text
    bid1Price: str | None = None  # best bid (the bbo channel's business, not stored here)
    ask1Price: str | None = None  # best ask


class V5OptionTicker(msgspec.Struct, gc=False):
    """``tickers.{symbol}`` on the option URL: always a full snapshot."""

    symbol: str
    bidPrice: str | None = None  # best bid price
    bidSize: str | None = None  # best bid size
    bidIv: str | None = None  # best bid implied volatility (fraction)
    askPrice: str | None = None  # best ask price
    askSize: str | None = None  # best ask size
    askIv: str | None = None  # best ask implied volatility (fraction)
    markPrice: str | None = None  # mark price
    markPriceIv: str | None = None  # mark price implied volatility (fraction)
    underlyingPrice: str | None = None  # price of the underlying
    openInterest: str | None = None  # open interest, contracts
    delta: str | None = None
    gamma: str | None = None
    vega: str | None = None
    theta: str | None = None
    indexPrice: str | None = None  # index price
    lastPrice: str | None = None  # last traded price


class V5Liquidation(msgspec.Struct, gc=False):
    """One ``allLiquidation.{symbol}`` row (the payload is a list of them)."""

    T: int  # liquidation time, ms
    s: str  # symbol
    S: str  # side of the liquidated *position*: "Buy" = a long was liquidated
    v: str  # size
    p: str  # bankruptcy price


class V5LegacyLiquidation(msgspec.Struct, gc=False):
    """``liquidation.{symbol}`` payload (one object), the topic before ``allLiquidation``."""

    updatedTime: int  # ms
    symbol: str
    side: str  # side of the liquidated position, as in ``allLiquidation``
    size: str
    price: str  # bankruptcy price


class LegacyLevel(msgspec.Struct, gc=False):
    """v2 ``orderBookL2_25`` row: an order-book level keyed by ``id``.

    USDT perpetual sends ``id`` as text and ``size`` as a JSON number; inverse sends
    both as numbers. Numbers are kept as raw JSON text (never a float).
    """

    id: int | str  # level id (unique per symbol and side)
    side: str  # "Buy" (bid) | "Sell" (ask)
    price: msgspec.Raw = msgspec.Raw()  # price text (omitted on some deletes in old docs)
    size: msgspec.Raw = msgspec.Raw()  # absolute size; absent on delete
    symbol: str | None = None


class LegacyDelta(msgspec.Struct, gc=False):
    """v2 ``orderBookL2_25`` delta payload."""

    delete: list[LegacyLevel] = []
    update: list[LegacyLevel] = []
    insert: list[LegacyLevel] = []
    transactTimeE6: int | None = None  # inverse only; 0 when absent


class LegacySnapshotWrapped(msgspec.Struct, gc=False):
    """v2 USDT-perpetual snapshot payload ``{"order_book": [...]}`` (inverse sends the list)."""

    order_book: list[LegacyLevel]


class LegacyTrade(msgspec.Struct, gc=False):
    """One v2 ``trade.{symbol}`` row."""

    symbol: str
    side: str  # taker side, "Buy" | "Sell"
    size: msgspec.Raw  # number
    price: msgspec.Raw  # text (USDT perpetual) or number (inverse)
    trade_id: str
    trade_time_ms: int | str | None = None  # ms, text on USDT perpetual


class V5Instrument(msgspec.Struct, gc=False):
    """One row of ``GET /v5/market/instruments-info``."""

    symbol: str
    baseCoin: str
    quoteCoin: str
    contractType: str | None = None  # LinearPerpetual/LinearFutures/InversePerpetual/...
    settleCoin: str | None = None  # derivatives and options
    deliveryTime: str | None = None  # ms; "0" for perpetuals
    optionsType: str | None = None  # options: "Call" | "Put"


class V5InstrumentsResult(msgspec.Struct, gc=False):
    category: str = ""  # "spot" | "linear" | "inverse" | "option"
    items: list[V5Instrument] = msgspec.field(default_factory=list, name="list")


class V5Instruments(msgspec.Struct, gc=False):
    retCode: int  # 0 = OK
    retMsg: str
    result: V5InstrumentsResult | None = None  # {} on errors


class LegacySymbol(msgspec.Struct, gc=False):
    """One row of legacy ``GET /v2/public/symbols``."""

    name: str  # e.g. BTCUSD, BTCUSDT, BTCUSDM21
    base_currency: str
    quote_currency: str
    alias: str | None = None  # futures: BTCUSD0625


class LegacySymbols(msgspec.Struct, gc=False):
    ret_code: int
    ret_msg: str
    result: list[LegacySymbol] = []


# --- wire text -> normalized values ----------------------------------------------------


def taker_side(side: str) -> str:
    """``S`` (v5) / ``side`` (v2) of a trade is the taker's side."""
    if side == "Buy":
        return "buy"
    if side == "Sell":
        return "sell"
    raise ValueError(f"unknown taker side {side!r}")


def liquidation_order_side(position_side: str) -> str:
    """The side of the order that liquidated a position Bybit names by the position's side.

    Bybit's ``S``/``side`` is the liquidated position's ("Buy" = a long was closed, as
    the docs say after their correction; protocols.md quirk 19, tardis-node's mapper), so
    the liquidation order sold it.
    """
    if position_side == "Buy":
        return "sell"
    if position_side == "Sell":
        return "buy"
    raise ValueError(f"unknown liquidation side {position_side!r}")


def raw_text(raw: msgspec.Raw) -> str:
    """Exact text of a JSON string or number; exponents written out as plain decimals."""
    text = bytes(raw).decode()
    return plain(msgspec.json.decode(text) if text.startswith('"') else text)


def plain_levels(levels: list[Level]) -> list[Level]:
    """Levels as sent, unless one uses an exponent (then all are written out plainly)."""
    for p, s in levels:
        if "e" in p or "E" in p or "e" in s or "E" in s:
            return [(plain(p), plain(s)) for p, s in levels]
    return levels


def legacy_levels(
    prices: dict[int | str, str], rows: list[LegacyLevel], delete: bool
) -> tuple[list[Level], list[Level]]:
    """(bids, asks) of v2 rows; ``prices`` (id -> price text) fills a row sent without price."""
    bids: list[Level] = []
    asks: list[Level] = []
    for row in rows:
        price = raw_text(row.price) if row.price else prices.get(row.id)
        if price is None:
            raise ValueError(f"level id {row.id} has no price and was never seen")
        if delete:
            prices.pop(row.id, None)
            size = "0"
        else:
            prices[row.id] = price
            size = raw_text(row.size)
        if row.side == "Buy":
            bids.append((price, size))
        elif row.side == "Sell":
            asks.append((price, size))
        else:
            raise ValueError(f"unknown side {row.side!r}")
    return bids, asks


# --- native symbol -> normalized market ------------------------------------------------

CATEGORIES = ("spot", "linear", "inverse", "option")
_QUOTES = sorted(
    (
        "USDT",
        "USDC",
        "USDE",
        "USD1",
        "RLUSD",
        "XUSD",
        "USD",
        "EUR",
        "GBP",
        "BRL",
        "PLN",
        "TRY",
        "AED",
        "BTC",
        "ETH",
        "SOL",
        "DAI",
        "MNT",
    ),
    key=len,
    reverse=True,
)
_DATED = re.compile(r"^(?P<base>[A-Z0-9]+)-(?P<date>\d{1,2}[A-Z]{3}\d{2})$")
_OPTION = re.compile(
    r"^(?P<base>[A-Z0-9]+)-(?P<date>\d{1,2}[A-Z]{3}\d{2})-(?P<strike>[0-9.]+)-(?P<cp>[CP])"
    r"(?:-(?P<settle>[A-Z0-9]+))?$"
)
_INVERSE_FUTURE = re.compile(r"^(?P<pair>[A-Z0-9]+USD)(?P<code>[FGHJKMNQUVXZ])(?P<yy>\d{2})$")


def _delivery(ms: str | None) -> str | None:
    return ms_date(ms) if ms and ms != "0" else None


def instrument_market(category: str, ins: V5Instrument) -> str | None:
    """Exact market of an instruments-info row, or None when its shape is unknown."""
    base, quote = ins.baseCoin, ins.quoteCoin
    if category == "spot":
        return f"{base}-{quote}"
    if category == "option":
        m = _OPTION.match(ins.symbol)
        date = _delivery(ins.deliveryTime)
        if m is None or date is None:
            return None
        return f"{base}-{ins.settleCoin or quote}-{date}-{m['strike']}-{m['cp']}"
    kind = ins.contractType or ""
    if kind.endswith("Perpetual"):
        return f"{base}-{quote}-PERP"
    date = _delivery(ins.deliveryTime)
    return f"{base}-{quote}-{date}" if kind.endswith("Futures") and date else None


def guess_market(category: str, symbol: str) -> str | None:
    """Best-effort market of a symbol with no instruments row (documented shapes only).

    * spot ``BTCUSDT`` -> ``BTC-USDT``
    * linear ``BTCUSDT`` -> ``BTC-USDT-PERP``, ``BTCPERP`` -> ``BTC-USDC-PERP``,
      ``BTCUSDT-26DEC25`` -> ``BTC-USDT-20251226``, ``BTC-26DEC25`` (USDC) -> ``BTC-USDC-20251226``
    * inverse ``BTCUSD`` -> ``BTC-USD-PERP``, ``BTCUSDH25`` -> ``BTC-USD-20250328`` (quarterlies
      expire on the month's last Friday)
    * option ``BTC-26DEC25-100000-C`` -> ``BTC-USDC-20251226-100000-C`` (USDC-settled unless
      the symbol ends in its settle coin, ``...-C-USDT``)
    """
    if category == "option":
        m = _OPTION.match(symbol)
        date = ddmmmyy(m["date"]) if m else None
        if m is None or date is None:
            return None
        return f"{m['base']}-{m['settle'] or 'USDC'}-{date}-{m['strike']}-{m['cp']}"
    if category == "inverse":
        m = _INVERSE_FUTURE.match(symbol)
        if m is not None:
            expiry = future_code_expiry(m["code"], m["yy"])
            return f"{m['pair'][:-3]}-USD-{expiry}"
    dated = _DATED.match(symbol) if category == "linear" else None
    if dated is not None:
        date = ddmmmyy(dated["date"])
        pair = split_quote(dated["base"], _QUOTES) or (dated["base"], "USDC")
        return f"{pair[0]}-{pair[1]}-{date}" if date else None
    if category == "linear" and symbol.endswith("PERP") and len(symbol) > 4:
        return f"{symbol[:-4]}-USDC-PERP"
    split = split_quote(symbol, _QUOTES)
    if split is None:
        return None
    return f"{split[0]}-{split[1]}" + ("" if category == "spot" else "-PERP")
