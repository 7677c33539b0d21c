"""Gemini contract: market data v2 ``l2_updates``, ``trade``, ``heartbeat`` and errors, and
the ``/v1/symbols`` lists."""

from __future__ import annotations

from typing import Any

from adapters.gemini.wire import Envelope, Heartbeat, L2Updates, SymbolDetails, TradeEvent
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_V2 = Doc("https://docs.gemini.com/websocket-api/#market-data-version-2", CHECKED)

L2_UPDATES = MessageContract(
    name="l2_updates",
    doc=_V2,
    struct=L2Updates,
    units={"trades[].timestamp": "ms"},
    historic=("trades[].timestamp",),  # recent trades sent with the whole book
)
TRADE = MessageContract(name="trade", doc=_V2, struct=TradeEvent, units={"timestamp": "ms"})
HEARTBEAT = MessageContract(name="heartbeat", doc=_V2, struct=Heartbeat, units={"timestamp": "ms"})
ERROR = MessageContract(
    name="error",
    doc=_V2,
    struct=Envelope,
    omit=("type",),
    required=("result", "reason", "message"),
)
SYMBOLS = MessageContract(
    name="rest:symbols",
    doc=Doc("https://docs.gemini.com/rest-api/#symbols", CHECKED),
    struct=list[str],
)
DETAILS = MessageContract(
    name="rest:symbol_details",
    doc=Doc("https://docs.gemini.com/rest-api/#symbol-details", CHECKED),
    struct=SymbolDetails,
    documented={
        "tick_size": "number",
        "quote_increment": "number",
        "min_order_size": "string",
        "wrap_enabled": "bool",
        "contract_price_currency": "string",
    },
)
IGNORED = frozenset({"candles_1m_updates", "l2_updates_auction"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if value.get("result") == "error":
                return "error"
            if isinstance(value.get("type"), str):
                return value["type"]
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    if "/v1/symbols/details/" in path:
        return DETAILS.name
    return SYMBOLS.name if path.rstrip("/").endswith("/v1/symbols") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="gemini",
    messages=(L2_UPDATES, TRADE, HEARTBEAT, ERROR, SYMBOLS, DETAILS),
    rules=Rules(
        sequence="none: the first l2_updates of a symbol on a connection is its whole book, "
        "later ones changed levels; no ids",
        checksum=None,
        heartbeat="heartbeat message every 5 s",
        connection_lifetime_s=None,
        subscribe_ack="none: the first l2_updates of each symbol answers the subscription",
        doc=_V2,
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
