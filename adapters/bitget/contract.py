"""Bitget contract: API v2 public websocket ``books``/``books1``/``trade`` and the v2 lists.

The live contract is v2. The recording's API v1 frames (``instType`` ``sp``/``mc``) are
still decoded by the adapter but are not the live contract: they are classified
``v1:<channel>`` and pinned as unknown message types in ``expected_drift.toml``, as are
the v1 instrument lists.
"""

from __future__ import annotations

from typing import Any

from adapters.bitget.adapter import LINES
from adapters.bitget.wire import Book, Envelope, Listing, Trade, V2Contract, V2Symbol
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_DOCS = "https://www.bitget.com/api-doc/"
_DEPTH = Doc(_DOCS + "spot/websocket/public/Depth-Channel", CHECKED)
_PUSH_OMIT = ("event", "code", "msg", "op")
_ARG = {"arg.instType": LINES}
_V1_TYPES = ("sp", "mc")


def _book(name: str) -> MessageContract:
    return MessageContract(
        name=name,
        doc=_DEPTH,
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": list[Book]},
        enums={"action": ("snapshot", "update"), **_ARG},
        units={"data[].ts": "ms", "ts": "ms"},
        required=("arg.instId", "action", "data", "data[].seq", "data[].checksum", "ts"),
    )


BOOKS = _book("books")
BOOKS1 = _book("books1")
TRADE = MessageContract(
    name="trade",
    doc=Doc(_DOCS + "spot/websocket/public/Trades-Channel", CHECKED),
    struct=Envelope,
    omit=_PUSH_OMIT,
    payload={"data": list[Trade]},
    enums={"action": ("snapshot", "update"), "data[].side": ("buy", "sell"), **_ARG},
    units={"data[].ts": "ms", "ts": "ms"},
    required=("arg.instId", "action", "data", "ts"),
    historic=("data[].ts",),  # the subscription's snapshot holds recent trades
)
EVENT = MessageContract(
    name="event",
    doc=Doc(_DOCS + "common/websocket-intro", CHECKED),
    struct=Envelope,
    omit=("action", "data", "ts"),
    enums={"event": ("subscribe", "unsubscribe", "error", "login"), **_ARG},
    required=("event",),
)
SYMBOLS = MessageContract(
    name="rest:symbols",
    doc=Doc(_DOCS + "spot/market/Get-Symbols", CHECKED),
    struct=Listing,
    payload={"data": list[V2Symbol]},
    documented={"requestTime": "int"},
    open=("data[]",),  # ~20 documented fields per symbol; we read three
)
CONTRACTS = MessageContract(
    name="rest:contracts",
    doc=Doc(_DOCS + "contract/market/Get-All-Symbols-Contracts", CHECKED),
    struct=Listing,
    payload={"data": list[V2Contract]},
    documented={"requestTime": "int"},
    enums={"data[].symbolType": ("perpetual", "delivery")},
    open=("data[]",),
)
#: Understood, not stored: the text heartbeat reply, tickers and candles.
IGNORED = frozenset({"pong", "ticker", "candle"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if value == "pong":
            return "pong"
        if isinstance(value, dict):
            arg = value.get("arg")
            arg = arg if isinstance(arg, dict) else {}
            prefix = "v1:" if arg.get("instType") in _V1_TYPES else ""
            if "event" in value:
                return prefix + "event"
            channel = arg.get("channel")
            if isinstance(channel, str):
                return prefix + ("candle" if channel.startswith("candle") else channel)
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    if path == "/api/v2/spot/public/symbols":
        return SYMBOLS.name
    return CONTRACTS.name if path == "/api/v2/mix/market/contracts" else f"rest:{path}"


CONTRACT = VenueContract(
    venue="bitget",
    messages=(BOOKS, BOOKS1, TRADE, EVENT, SYMBOLS, CONTRACTS),
    rules=Rules(
        sequence="books: a snapshot per subscription, then updates; v2 seq increases "
        "(not by 1, restarts at maintenance): ordering only, the checksum proves the book",
        checksum="books: signed CRC32 of the best 25 bids and asks interleaved as "
        "price:size wire text; on every push (0: not sent)",
        heartbeat="client sends text 'ping' every 30 s, server answers 'pong'; "
        "closed after 2 minutes without a ping",
        connection_lifetime_s=None,
        subscribe_ack='{"event":"subscribe","arg":{...}} per channel',
        doc=Doc(_DOCS + "common/websocket-intro", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
