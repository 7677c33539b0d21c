"""Bitstamp contract: websocket v2 (diff book, trades, top-100 book, session events) and REST."""

from __future__ import annotations

from typing import Any

from adapters.bitstamp.wire import (
    API_DOC,
    WS_DOC,
    Book,
    Envelope,
    ErrorData,
    Pair,
    RestBook,
    Trade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_BOOK_UNITS = {"data.timestamp": "epoch_s_text", "data.microtimestamp": "us"}


def _push(name: str, payload: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(WS_DOC, CHECKED),
        struct=Envelope,
        payload={"data": payload},
        required=("event", "channel", "data"),
        **extra,
    )


DIFF_BOOK = _push("diff_order_book", Book, enums={"event": ("data",)}, units=_BOOK_UNITS)
ORDER_BOOK = _push("order_book", Book, enums={"event": ("data",)}, units=_BOOK_UNITS)
TRADES = _push(
    "live_trades",
    Trade,
    enums={"event": ("trade",), "data.type": (0, 1)},
    types={"data.price": "number", "data.amount": "number"},
    units={"data.timestamp": "epoch_s_text", "data.microtimestamp": "us"},
)
SESSION = MessageContract(
    name="session",
    doc=Doc(WS_DOC, CHECKED),
    struct=Envelope,
    enums={
        "event": (
            "bts:subscription_succeeded",
            "bts:unsubscription_succeeded",
            "bts:heartbeat",
            "bts:request_reconnect",
        )
    },
    types={"data": "object|string"},
    required=("event",),
)
ERROR = _push("error", ErrorData, enums={"event": ("bts:error",)})
REST_BOOK = MessageContract(
    name="rest:order_book",
    doc=Doc(API_DOC + "#tag/Order-book", CHECKED),
    struct=RestBook,
    units={"timestamp": "epoch_s_text", "microtimestamp": "us"},
)
PAIRS = MessageContract(
    name="rest:trading-pairs-info",
    doc=Doc(API_DOC + "#tag/Market-info", CHECKED),
    struct=list[Pair],
)


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict) and isinstance(value.get("event"), str):
            event, channel = value["event"], str(value.get("channel", ""))
            if event == "bts:error":
                return ERROR.name
            if event.startswith("bts:"):
                return SESSION.name
            for name in ("diff_order_book", "live_trades", "order_book"):
                if channel.startswith(name + "_"):
                    return name
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url).rstrip("/")
    if path.rpartition("/")[0].endswith("/api/v2/order_book"):
        return REST_BOOK.name
    return PAIRS.name if path.endswith("/trading-pairs-info") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="bitstamp",
    messages=(DIFF_BOOK, ORDER_BOOK, TRADES, SESSION, ERROR, REST_BOOK, PAIRS),
    rules=Rules(
        sequence="increasing: diff_order_book microtimestamp only; REST snapshot bridged by "
        "discarding events with microtimestamp <= the snapshot's",
        checksum=None,
        heartbeat='client may send {"event":"bts:heartbeat"}; reply event bts:heartbeat',
        connection_lifetime_s=None,
        subscribe_ack='{"event":"bts:subscription_succeeded","channel":"<channel>","data":{}}',
        doc=Doc(WS_DOC, CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
)
