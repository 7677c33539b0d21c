"""Poloniex spot contract: public websocket v3 (``book_lv2``, ``trades``) and ``GET /markets``."""

from __future__ import annotations

from typing import Any

from adapters.poloniex.wire import (
    MARKET_DATA_DOC,
    MARKETS_DOC,
    WS_DOC,
    Book,
    BookTop,
    Envelope,
    Market,
    Trade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_EVENT = ("event", "symbols", "message")

BOOK = MessageContract(
    name="book_lv2",
    doc=Doc(MARKET_DATA_DOC + "#book-level-2", CHECKED),
    struct=Envelope,
    omit=_EVENT,
    payload={"data": list[Book]},
    enums={"action": ("snapshot", "update")},
    units={"data[].createTime": "ms", "data[].ts": "ms"},
    required=("channel", "data", "action"),
    historic=("data[].createTime",),
)
BOOK_TOP = MessageContract(
    name="book",
    doc=Doc(MARKET_DATA_DOC + "#book", CHECKED),
    struct=Envelope,
    omit=(*_EVENT, "action"),
    payload={"data": list[BookTop]},
    units={"data[].createTime": "ms", "data[].ts": "ms"},
    required=("channel", "data"),
)
TRADES = MessageContract(
    name="trades",
    doc=Doc(MARKET_DATA_DOC + "#trades", CHECKED),
    struct=Envelope,
    omit=(*_EVENT, "action"),
    payload={"data": list[Trade]},
    units={"data[].createTime": "ms", "data[].ts": "ms"},
    required=("channel", "data"),
)
EVENT = MessageContract(
    name="event",
    doc=Doc(WS_DOC, CHECKED),
    struct=Envelope,
    omit=("data", "action"),
    enums={"event": ("subscribe", "unsubscribe", "pong", "error")},
    required=("event",),
)
MARKETS = MessageContract(
    name="rest:markets",
    doc=Doc(MARKETS_DOC, CHECKED),
    struct=list[Market],
)


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if value.get("channel") in ("book_lv2", "book", "trades") and "data" in value:
                return value["channel"]
            if isinstance(value.get("event"), str):
                return "event"
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url).rstrip("/")
    return MARKETS.name if path.endswith("/markets") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="poloniex",
    messages=(BOOK, BOOK_TOP, TRADES, EVENT, MARKETS),
    rules=Rules(
        sequence="previous-id: each book_lv2 update's lastId equals the previous id",
        checksum=None,
        heartbeat='client sends {"event":"ping"} within 30 s; answer {"event":"pong"}',
        connection_lifetime_s=None,
        subscribe_ack='{"event":"subscribe","channel":"<name>","symbols":[...]} per channel',
        doc=Doc(MARKET_DATA_DOC + "#book-level-2", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
)
