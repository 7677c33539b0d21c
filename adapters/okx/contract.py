"""OKX contract: v5 public websocket ``books``/``books5``/``bbo-tbt``/``trades``, REST books
and instruments.

The live API sends ``seqId``/``prevSeqId`` on every book push (documented since 2022);
recordings from before that lack them and drift with ``missing_field``. ``checksum`` is
optional: deprecated (0) since 2026-06 and announced to disappear with the in-band
snapshot (changelog "Delist initial snapshot and checksum field in order book
channels", 2026-02-12), after which books are seeded from REST ``/api/v5/market/books``.
"""

from __future__ import annotations

from typing import Any

from adapters.okx.wire import (
    OkxBook,
    OkxBooksReply,
    OkxEnvelope,
    OkxFundingRate,
    OkxIndexTicker,
    OkxInstruments,
    OkxLiquidation,
    OkxMarkPrice,
    OkxOpenInterest,
    OkxOptionSummary,
    OkxTicker,
    OkxTrade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_DOCS = "https://www.okx.com/docs-v5/en/"
_BOOK_DOC = Doc(_DOCS + "#order-book-trading-market-data-ws-order-book-channel", CHECKED)
_PUSH_OMIT = ("event", "code", "msg", "connId")
_ARG_ENUMS = {"arg.instType": ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")}


def _book(name: str, action: bool) -> MessageContract:
    return MessageContract(
        name=name,
        doc=_BOOK_DOC,
        struct=OkxEnvelope,
        omit=_PUSH_OMIT if action else (*_PUSH_OMIT, "action"),
        payload={"data": list[OkxBook]},
        enums={"action": ("snapshot", "update")} if action else {},
        units={"data[].ts": "ms"},
        required=("arg", "data", "data[].seqId", "data[].prevSeqId")
        + (("action",) if action else ()),
    )


BOOKS = _book("books", action=True)
BOOKS5 = MessageContract(
    name="books5",
    doc=_BOOK_DOC,
    struct=OkxEnvelope,
    omit=(*_PUSH_OMIT, "action"),
    payload={"data": list[OkxBook]},
    units={"data[].ts": "ms"},
    required=("arg", "data", "data[].instId", "data[].seqId", "data[].prevSeqId"),
)
BBO = MessageContract(
    name="bbo-tbt",
    doc=_BOOK_DOC,
    struct=OkxEnvelope,
    omit=(*_PUSH_OMIT, "action"),
    payload={"data": list[OkxBook]},
    units={"data[].ts": "ms"},
    required=("arg", "data", "data[].seqId"),
)
TRADES = MessageContract(
    name="trades",
    doc=Doc(_DOCS + "#order-book-trading-market-data-ws-trades-channel", CHECKED),
    struct=OkxEnvelope,
    omit=(*_PUSH_OMIT, "action"),
    payload={"data": list[OkxTrade]},
    enums={"data[].side": ("buy", "sell")},
    units={"data[].ts": "ms"},
    required=("arg", "data"),
)
EVENT = MessageContract(
    name="event",
    doc=Doc(_DOCS + "#overview-websocket-subscribe", CHECKED),
    struct=OkxEnvelope,
    omit=("action", "data"),
    enums={
        "event": (
            "subscribe",
            "unsubscribe",
            "error",
            "notice",
            "login",
            "channel-conn-count",
            "channel-conn-count-error",
        ),
        **_ARG_ENUMS,
    },
    required=("event",),
)
REST_BOOKS = MessageContract(
    name="rest:books",
    # Reread 2026-12-07: the changelog's "How to manage a local order book correctly".
    doc=Doc("https://www.okx.com/docs-v5/log_en", "2026-12-07"),
    struct=OkxBooksReply,
    units={"data[].ts": "ms"},
    required=("data[].seqId",),  # what the bridge needs (changelog 2026-02-12)
)
INSTRUMENTS = MessageContract(
    name="rest:instruments",
    doc=Doc(_DOCS + "#public-data-rest-api-get-instruments", CHECKED),
    struct=OkxInstruments,
    enums={"data[].instType": ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")},
    open=("data[]",),  # ~40 documented fields per instrument; we read eleven
)


def _public(name: str, anchor: str, row: Any, units: dict[str, str]) -> MessageContract:
    """A derivative channel push: ``arg`` + ``data`` rows of ``row``; the rows carry
    documented fields the adapter does not store (24 h statistics, USD values...)."""
    return MessageContract(
        name=name,
        doc=Doc(_DOCS + anchor, CHECKED),
        struct=OkxEnvelope,
        omit=(*_PUSH_OMIT, "action"),
        payload={"data": list[row]},
        units={f"data[].{k}": v for k, v in units.items()},
        required=("arg", "data"),
        open=("data[]",),
    )


TICKERS = _public(
    "tickers", "#order-book-trading-market-data-ws-tickers-channel", OkxTicker, {"ts": "ms"}
)
MARK_PRICE = _public(
    "mark-price", "#public-data-websocket-mark-price-channel", OkxMarkPrice, {"ts": "ms"}
)
INDEX_TICKERS = _public(
    "index-tickers",
    "#public-data-websocket-index-tickers-channel",
    OkxIndexTicker,
    {"ts": "ms"},
)
FUNDING_RATE = _public(
    "funding-rate",
    "#public-data-websocket-funding-rate-channel",
    OkxFundingRate,
    {"ts": "ms", "fundingTime": "ms", "nextFundingTime": "ms"},
)
OPEN_INTEREST = _public(
    "open-interest",
    "#public-data-websocket-open-interest-channel",
    OkxOpenInterest,
    {"ts": "ms"},
)
LIQUIDATION_ORDERS = _public(
    "liquidation-orders",
    "#public-data-websocket-liquidation-orders-channel",
    OkxLiquidation,
    {"details[].ts": "ms"},
)
OPT_SUMMARY = _public(
    "opt-summary",
    "#public-data-websocket-option-summary-channel",
    OkxOptionSummary,
    {"ts": "ms"},
)
_BOOK_CHANNELS = {"books": "books", "books-l2-tbt": "books", "books50-l2-tbt": "books"}
#: Channels the adapter understands but does not store, and the text heartbeat reply.
IGNORED = frozenset({"pong"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if value == "pong":
            return "pong"
        if isinstance(value, dict):
            if "event" in value:
                return "event"
            arg = value.get("arg")
            if isinstance(arg, dict) and isinstance(arg.get("channel"), str):
                channel = arg["channel"]
                return _BOOK_CHANNELS.get(channel, channel)
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    if path == "/api/v5/market/books":
        return REST_BOOKS.name
    return INSTRUMENTS.name if path == "/api/v5/public/instruments" else f"rest:{path}"


CONTRACT = VenueContract(
    venue="okx",
    messages=(
        BOOKS,
        BOOKS5,
        BBO,
        TRADES,
        TICKERS,
        MARK_PRICE,
        INDEX_TICKERS,
        FUNDING_RATE,
        OPEN_INTEREST,
        LIQUIDATION_ORDERS,
        OPT_SUMMARY,
        EVENT,
        REST_BOOKS,
        INSTRUMENTS,
    ),
    rules=Rules(
        sequence="books: snapshot has prevSeqId -1; each update's prevSeqId equals the last "
        "seqId (ids are not +1; a documented reset may lower them); a REST books snapshot "
        "is bridged by the first update with prevSeqId <= snapshot seqId < seqId",
        checksum="books: signed CRC32 of 25+25 interleaved price:size wire strings; "
        "deprecated: 0 or an absent key means not sent",
        heartbeat="client sends text 'ping' when idle < 30 s; server answers 'pong'",
        connection_lifetime_s=None,
        subscribe_ack='{"event":"subscribe","arg":{...}} per channel',
        doc=Doc(_DOCS + "#overview-websocket-connect", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
