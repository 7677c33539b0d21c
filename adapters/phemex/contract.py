"""Phemex contract: public websocket (contracts, USDT-M, spot) and the product list."""

from __future__ import annotations

from typing import Any

from adapters.phemex.wire import (
    CONTRACT_DOC,
    HEDGED_DOC,
    SPOT_DOC,
    Envelope,
    Products,
    ReplyError,
    Sides,
    TradeRow,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_PUSH = ("symbol", "type", "sequence")
_FIELDS = ("id", "result", "error", *_PUSH, "book", "orderbook_p", "trades", "trades_p")
_FIELDS += ("kline", "kline_p", "depth", "timestamp", "dts", "mts")


def _omit(*keep: str) -> tuple[str, ...]:
    return tuple(f for f in _FIELDS if f not in keep)


BOOK = MessageContract(
    name="book",
    doc=Doc(CONTRACT_DOC + "#subscribe-orderbook", CHECKED),
    struct=Envelope,
    omit=_omit(*_PUSH, "book", "depth", "timestamp"),
    payload={"book": Sides},
    enums={"type": ("snapshot", "incremental")},
    units={"timestamp": "ns", "book.asks[][0]": "priceEp", "book.bids[][0]": "priceEp"},
    required=(*_PUSH, "book", "depth", "timestamp"),
)
BOOK_P = MessageContract(
    name="orderbook_p",
    doc=Doc(HEDGED_DOC + "#subscribe-orderbook", CHECKED),
    struct=Envelope,
    omit=_omit(*_PUSH, "orderbook_p", "depth", "timestamp", "dts", "mts"),
    payload={"orderbook_p": Sides},
    enums={"type": ("snapshot", "incremental")},
    units={"timestamp": "ns", "dts": "ns", "mts": "ns"},
    required=(*_PUSH, "orderbook_p", "depth", "timestamp"),
)
TRADES = MessageContract(
    name="trades",
    doc=Doc(CONTRACT_DOC + "#subscribe-trade", CHECKED),
    struct=Envelope,
    omit=_omit(*_PUSH, "trades"),
    payload={"trades": list[TradeRow]},
    enums={"type": ("snapshot", "incremental"), "trades[][1]": ("Buy", "Sell")},
    units={"trades[][0]": "ns"},
    required=(*_PUSH, "trades"),
    historic=("trades[][0]",),
)
TRADES_P = MessageContract(
    name="trades_p",
    doc=Doc(HEDGED_DOC + "#subscribe-trade", CHECKED),
    struct=Envelope,
    omit=_omit(*_PUSH, "trades_p"),
    payload={"trades_p": list[TradeRow]},
    enums={"type": ("snapshot", "incremental"), "trades_p[][1]": ("Buy", "Sell")},
    units={"trades_p[][0]": "ns"},
    required=(*_PUSH, "trades_p"),
    historic=("trades_p[][0]",),
)
REPLY = MessageContract(
    name="reply",
    doc=Doc(SPOT_DOC + "#websocket-api-standards", CHECKED),
    struct=Envelope,
    omit=_omit("id", "result", "error"),
    payload={"error": ReplyError | None},
    types={"result": "object|string|null"},
    required=("id", "error", "result"),
)
PRODUCTS = MessageContract(
    name="rest:products",
    doc=Doc(CONTRACT_DOC + "#query-product-information", CHECKED),
    struct=Products,
    open=("data", "data.products[]", "data.currencies[]", "data.perpProductsV2[]"),
)
IGNORED = frozenset({"kline", "kline_p"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if "id" in value and "result" in value:
                return "reply"
            for name in ("book", "orderbook_p", "trades", "trades_p", "kline", "kline_p"):
                if name in value:
                    return name
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url).rstrip("/")
    return PRODUCTS.name if path.endswith("/products") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="phemex",
    messages=(BOOK, BOOK_P, TRADES, TRADES_P, REPLY, PRODUCTS),
    rules=Rules(
        sequence="increasing: `sequence` is engine-wide and skips values; in-band snapshots",
        checksum=None,
        heartbeat='client sends {"method":"server.ping"} every 5 s; reply result "pong"',
        connection_lifetime_s=None,
        subscribe_ack='{"error":null,"id":N,"result":{"status":"success"}} per request',
        doc=Doc(CONTRACT_DOC + "#heartbeat", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
