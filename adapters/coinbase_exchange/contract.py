"""Coinbase Exchange (legacy ws-feed) contract: ``level2_batch``, ``matches``, ``ticker``.

Every frame is one flat object tagged by ``type``; ``ExMessage`` decodes them all, so each
message type here keeps only the fields its documentation lists.
"""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.coinbase.wire import ExMessage, ExProduct
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_CHANNELS = Doc("https://docs.cdp.coinbase.com/exchange/websocket-feed/channels", CHECKED)
_ALL = tuple(f.encode_name for f in msgspec.structs.fields(ExMessage))
_SIDE = ("buy", "sell")


def _message(name: str, keep: tuple[str, ...], **extra: Any) -> MessageContract:
    """A ``type`` of ExMessage restricted to the fields its documentation lists."""
    kept = ("type", *keep)
    required = tuple(extra.pop("required", keep))
    return MessageContract(
        name=name,
        doc=_CHANNELS,
        struct=ExMessage,
        omit=tuple(f for f in _ALL if f not in kept),
        enums={"type": (name,), **extra.pop("enums", {})},
        required=required,
        **extra,
    )


SNAPSHOT = _message("snapshot", ("product_id", "bids", "asks"))
L2UPDATE = _message("l2update", ("product_id", "changes", "time"), units={"time": "rfc3339"})
_MATCH = ("trade_id", "side", "price", "size", "product_id", "time")
_MATCH_DOCUMENTED = {"maker_order_id": "string", "taker_order_id": "string", "sequence": "int"}
MATCH = _message(
    "match",
    _MATCH,
    types={"trade_id": "int"},
    documented=_MATCH_DOCUMENTED,
    units={"time": "rfc3339"},
)
LAST_MATCH = _message(
    "last_match",
    _MATCH,
    types={"trade_id": "int"},
    documented=_MATCH_DOCUMENTED,
    units={"time": "rfc3339"},
)
TICKER = _message(
    "ticker",
    (
        "product_id",
        "price",
        "best_bid",
        "best_bid_size",
        "best_ask",
        "best_ask_size",
        "side",
        "time",
        "trade_id",
        "size",
    ),
    required=("product_id", "best_bid", "best_bid_size", "best_ask", "best_ask_size", "time"),
    types={"trade_id": "int"},
    documented={
        "sequence": "int",
        "open_24h": "string",
        "volume_24h": "string",
        "low_24h": "string",
        "high_24h": "string",
        "volume_30d": "string",
        "last_size": "string",
    },
    optional=("size",),
    units={"time": "rfc3339"},
)
SUBSCRIPTIONS = _message("subscriptions", (), documented={"channels": "array"})
HEARTBEAT = _message(
    "heartbeat",
    ("product_id", "time"),
    documented={"sequence": "int", "last_trade_id": "int"},
    units={"time": "rfc3339"},
)
ERROR = _message("error", ("message", "reason"), required=("message",))
PRODUCTS = MessageContract(
    name="rest:products",
    doc=Doc(
        "https://docs.cdp.coinbase.com/exchange/reference/exchangerestapi_getproducts", CHECKED
    ),
    struct=list[ExProduct],
    open=("[]",),  # ~20 documented fields per product; we read three
)
IGNORED = frozenset(
    ("status", "received", "open", "done", "change", "activate", "auction", "rfq_match")
)


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            return value["type"]
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return PRODUCTS.name if path.endswith("/products") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="coinbase-exchange",
    messages=(
        SNAPSHOT,
        L2UPDATE,
        MATCH,
        LAST_MATCH,
        TICKER,
        SUBSCRIPTIONS,
        HEARTBEAT,
        ERROR,
        PRODUCTS,
    ),
    rules=Rules(
        sequence="level2_batch has no sequence (gaps undetectable); snapshot then l2update "
        "with absolute sizes",
        checksum=None,
        heartbeat="optional 'heartbeat' channel, one per second per product",
        connection_lifetime_s=None,
        subscribe_ack="'subscriptions' message; subscribe within 5 s of connecting",
        doc=Doc("https://docs.cdp.coinbase.com/exchange/websocket-feed/overview", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
