"""OKX contract: v5 public websocket ``books``/``books5``/``bbo-tbt``/``trades`` and instruments.

The live API sends ``seqId``/``prevSeqId`` on every book push (documented since 2022);
recordings from before that lack them and drift with ``missing_field``.
"""

from __future__ import annotations

from typing import Any

from adapters.okx_wire import OkxBook, OkxEnvelope, OkxInstruments, OkxTrade
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
        required=("arg", "data", "data[].seqId", "data[].prevSeqId", "data[].checksum")
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
INSTRUMENTS = MessageContract(
    name="rest:instruments",
    doc=Doc(_DOCS + "#public-data-rest-api-get-instruments", CHECKED),
    struct=OkxInstruments,
    enums={"data[].instType": ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")},
    open=("data[]",),  # ~40 documented fields per instrument; we read eleven
)
_BOOK_CHANNELS = {"books": "books", "books-l2-tbt": "books", "books50-l2-tbt": "books"}
#: Channels the adapter understands but does not store, and the text heartbeat reply.
IGNORED = frozenset(
    {"tickers", "mark-price", "funding-rate", "open-interest", "index-tickers", "pong"}
)


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
    return INSTRUMENTS.name if path == "/api/v5/public/instruments" else f"rest:{path}"


CONTRACT = VenueContract(
    venue="okx",
    messages=(BOOKS, BOOKS5, BBO, TRADES, EVENT, INSTRUMENTS),
    rules=Rules(
        sequence="books: snapshot has prevSeqId -1; each update's prevSeqId equals the last "
        "seqId (ids are not +1; a documented reset may lower them)",
        checksum="books: signed CRC32 of 25+25 interleaved price:size wire strings; "
        "deprecated, 0 means not sent",
        heartbeat="client sends text 'ping' when idle < 30 s; server answers 'pong'",
        connection_lifetime_s=None,
        subscribe_ack='{"event":"subscribe","arg":{...}} per channel',
        doc=Doc(_DOCS + "#overview-websocket-connect", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
