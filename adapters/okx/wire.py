"""OKX v5 wire contract: the public websocket messages and REST bodies the adapter reads.

Written from the OKX v5 API docs (https://www.okx.com/docs-v5/en/), sections
"WebSocket / Overview" (connect, ping/pong, limits, ``notice``), "Order book
channel" (``books``, ``books5``, ``bbo-tbt``, ``books50-l2-tbt``,
``books-l2-tbt``: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel),
"Trades channel" (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel),
the derivative channels of "Public data / WebSocket" (each struct names its anchor)
and "Get instruments" (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments),
cross-checked against the 2022-05 capture in ``captures/okx`` and the checksum
deprecation notice of 21 May 2026 (see ``shared/reference/checksums.md``).

Every price and size is a JSON string on OKX, so the exact text needs no raw-number
handling. Field names stay verbatim; each carries a comment with its meaning. The
last section reads instrument names: normalized markets from an instruments row
(exact) or from the instId alone (best effort).
"""

from __future__ import annotations

import msgspec

from collector.markets import ms_date


class OkxArg(msgspec.Struct, gc=False):
    """``arg`` of a push or an event: which channel (and instrument) it concerns."""

    channel: str
    instId: str | None = None  # instrument id, e.g. BTC-USDT, BTC-USD-220527
    instType: str | None = None  # SPOT, MARGIN, SWAP, FUTURES, OPTION (some channels)
    instFamily: str | None = None  # e.g. BTC-USD (option summaries and the like)


class OkxEnvelope(msgspec.Struct, gc=False):
    """Every JSON frame: a push (``arg`` + ``data``) or an event (``event``).

    Events: ``subscribe``/``unsubscribe`` (ack, echoes ``arg``), ``error``
    (``code``/``msg``), ``notice`` (``code`` 64008: "The connection will soon be
    closed for a service upgrade. Please reconnect."), ``login``,
    ``channel-conn-count``/``channel-conn-count-error`` (private channels).
    """

    event: str | None = None
    arg: OkxArg | None = None
    action: str | None = None  # book pushes of books/l2-tbt: "snapshot" or "update"
    data: msgspec.Raw = msgspec.Raw()  # push payload, decoded once the channel is known
    code: str | None = None  # error/notice code, "0" = success
    msg: str | None = None  # error/notice text
    connId: str | None = None  # connection id (events)


class OkxBook(msgspec.Struct, gc=False):
    """One element of ``data`` of ``books``/``books5``/``bbo-tbt``/``*-l2-tbt`` pushes.

    Levels are ``[price, size, "0" (deprecated liquidated orders), order count]``;
    sizes are absolute, ``"0"`` deletes the level.
    """

    asks: list[list[str]]  # best (lowest) first
    bids: list[list[str]]  # best (highest) first
    ts: str  # book generation time, ms since epoch, as text
    # signed CRC32 of 25+25 levels; 0 since 2026-06 (deprecated), announced to disappear
    checksum: int | None = None
    seqId: int | None = None  # sequence id of this push (absent before 2022-07)
    prevSeqId: int | None = None  # seqId of the previous push; -1 on snapshots (books, tbt)
    instId: str | None = None  # books5 and bbo-tbt repeat the instrument here


class OkxBooksReply(msgspec.Struct, gc=False):
    """``GET /api/v5/market/books?instId=..&sz=..``: ``{"code":"0","msg":"","data":[book]}``.

    The one book has ``asks``/``bids``/``ts`` and ``seqId`` (on the pushes' scale, so a
    push can bridge it), no ``prevSeqId`` or ``checksum``; an error has ``code`` != "0"
    and no data.
    """

    code: str
    msg: str = ""
    data: list[OkxBook] = []


class OkxTrade(msgspec.Struct, gc=False):
    """One element of ``data`` of a ``trades`` push. ``side`` is the taker's side."""

    instId: str
    tradeId: str
    px: str  # price
    sz: str  # quantity (contracts for derivatives)
    side: str  # "buy" or "sell": the taker's direction
    ts: str  # trade time, ms, as text
    count: str | None = None  # number of fills aggregated into this push (newer API)
    seqId: int | None = None  # trade sequence id (newer API)


# --- derivative channels ("Public data" WebSocket section of the v5 docs) -----------


class OkxTicker(msgspec.Struct, gc=False):
    """``tickers`` (#order-book-trading-market-data-ws-tickers-channel): 24 h ticker."""

    instType: str  # SPOT, SWAP, FUTURES, OPTION...
    instId: str
    last: str  # last traded price ("" before the first trade)
    ts: str  # ms, as text


class OkxMarkPrice(msgspec.Struct, gc=False):
    """``mark-price`` (#public-data-websocket-mark-price-channel)."""

    instId: str
    markPx: str  # mark price
    ts: str  # ms, as text


class OkxIndexTicker(msgspec.Struct, gc=False):
    """``index-tickers`` (#public-data-websocket-index-tickers-channel); instId is the index."""

    instId: str  # the index, e.g. BTC-USDT
    idxPx: str  # index price
    ts: str  # ms, as text


class OkxFundingRate(msgspec.Struct, gc=False):
    """``funding-rate`` (#public-data-websocket-funding-rate-channel), perpetual swaps."""

    instId: str
    fundingRate: str  # rate of the current period, settled at fundingTime
    fundingTime: str  # settlement time of the current period, ms as text
    ts: str  # ms, as text ("" in recordings before the field was added)
    nextFundingRate: str | None = None  # forecast of the following period ("" if none)
    nextFundingTime: str | None = None  # settlement time of the following period


class OkxOpenInterest(msgspec.Struct, gc=False):
    """``open-interest`` (#public-data-websocket-open-interest-channel)."""

    instId: str
    oi: str  # open interest, contracts
    ts: str  # ms, as text
    oiCcy: str | None = None  # in coin


class OkxLiquidationDetail(msgspec.Struct, gc=False):
    """One liquidation of a ``liquidation-orders`` row."""

    side: str  # side of the liquidation order: "buy" closes a short
    sz: str  # size, contracts
    bkPx: str  # bankruptcy price
    ts: str  # ms, as text
    posSide: str | None = None  # side of the liquidated position


class OkxLiquidation(msgspec.Struct, gc=False):
    """``liquidation-orders`` (#public-data-websocket-liquidation-orders-channel), per instType."""

    instId: str
    details: list[OkxLiquidationDetail]


class OkxOptionSummary(msgspec.Struct, gc=False):
    """``opt-summary`` (#public-data-websocket-option-summary-channel), per instFamily.

    No quotes and no mark price: volatilities, Black-Scholes greeks and the forward.
    """

    instId: str
    uly: str  # underlying, e.g. BTC-USD
    ts: str  # ms, as text
    markVol: str | None = None  # mark volatility (fraction)
    bidVol: str | None = None  # bid volatility ("" when no bid)
    askVol: str | None = None  # ask volatility
    deltaBS: str | None = None  # Black-Scholes greeks, in the underlying's terms
    gammaBS: str | None = None
    vegaBS: str | None = None
    thetaBS: str | None = None
    fwdPx: str | None = None  # forward price of the underlying


class OkxInstrument(msgspec.Struct, gc=False):
    """One instrument of ``GET /api/v5/public/instruments?instType=...``."""

    instId: str
    instType: str  # SPOT, MARGIN, SWAP, FUTURES, OPTION
    baseCcy: str = ""  # spot/margin only
    quoteCcy: str = ""  # spot/margin only
    settleCcy: str = ""  # derivatives: settlement currency (USDT linear, BTC inverse)
    ctType: str = ""  # derivatives: "linear" or "inverse"
    uly: str = ""  # derivatives: underlying, e.g. BTC-USD
    instFamily: str = ""  # derivatives: instrument family (newer API), e.g. BTC-USD
    expTime: str = ""  # futures/options: expiry, ms since epoch, as text
    stk: str = ""  # options: strike price
    optType: str = ""  # options: "C" or "P"


class OkxInstruments(msgspec.Struct, gc=False):
    """REST envelope ``{"code":"0","msg":"","data":[...]}``."""

    code: str
    msg: str = ""
    data: list[OkxInstrument] = []


envelope = msgspec.json.Decoder(OkxEnvelope)
books = msgspec.json.Decoder(list[OkxBook])
books_reply = msgspec.json.Decoder(OkxBooksReply)
trades = msgspec.json.Decoder(list[OkxTrade])
instruments = msgspec.json.Decoder(OkxInstruments)
tickers = msgspec.json.Decoder(list[OkxTicker])
mark_price = msgspec.json.Decoder(list[OkxMarkPrice])
index_tickers = msgspec.json.Decoder(list[OkxIndexTicker])
funding_rate = msgspec.json.Decoder(list[OkxFundingRate])
open_interest = msgspec.json.Decoder(list[OkxOpenInterest])
liquidations = msgspec.json.Decoder(list[OkxLiquidation])
option_summaries = msgspec.json.Decoder(list[OkxOptionSummary])


# --- instrument names -------------------------------------------------------------


def market_of(inst: OkxInstrument) -> str:
    """Normalized market of a listed instrument (``/api/v5/public/instruments`` row).

    Derivatives are named after their family (``uly``/``instFamily``: ``BTC-USD``
    for coin-margined, ``BTC-USDT`` for USDT-margined), with the settlement
    currency as quote for linear contracts; expiries are the UTC date of ``expTime``.
    """
    if inst.instType in ("SPOT", "MARGIN"):
        if inst.baseCcy and inst.quoteCcy:
            return f"{inst.baseCcy}-{inst.quoteCcy}"
        return market_from_inst_id(inst.instId)
    family = (inst.instFamily or inst.uly).split("-")
    if len(family) != 2 or not all(family):
        return market_from_inst_id(inst.instId)
    base, quote = family
    if inst.ctType == "linear" and inst.settleCcy:
        quote = inst.settleCcy
    if inst.instType == "SWAP":
        return f"{base}-{quote}-PERP"
    date = ms_date(inst.expTime) if inst.expTime.isdigit() else None
    if date is None:
        return market_from_inst_id(inst.instId)
    if inst.instType == "FUTURES":
        return f"{base}-{quote}-{date}"
    if inst.instType == "OPTION" and inst.stk and inst.optType in ("C", "P"):
        return f"{base}-{quote}-{date}-{inst.stk}-{inst.optType}"
    return market_from_inst_id(inst.instId)


def market_from_inst_id(inst_id: str) -> str:
    """Best-effort market from the instId alone (no instruments list loaded).

    ``BTC-USDT`` -> ``BTC-USDT``; ``BTC-USDT-SWAP`` -> ``BTC-USDT-PERP``;
    ``BTC-USD-220527`` -> ``BTC-USD-20220527``; ``BTC-USD-220527-30000-C`` ->
    ``BTC-USD-20220527-30000-C``. Anything else keeps its native name.
    """
    parts = inst_id.split("-")
    if len(parts) < 2 or not all(parts):
        return inst_id
    pair = f"{parts[0]}-{parts[1]}"
    if len(parts) == 2:
        return pair
    if len(parts) == 3 and parts[2] == "SWAP":
        return f"{pair}-PERP"
    expiry = parts[2]
    if len(expiry) != 6 or not expiry.isdigit():
        return inst_id
    if len(parts) == 3:
        return f"{pair}-20{expiry}"
    if len(parts) == 5 and parts[4] in ("C", "P"):
        return f"{pair}-20{expiry}-{parts[3]}-{parts[4]}"
    return inst_id
