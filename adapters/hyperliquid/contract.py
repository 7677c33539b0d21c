"""Hyperliquid contract: ``l2Book``, ``trades``, ``bbo`` and ``activeAssetCtx`` pushes,
subscription responses, pongs and errors."""

from __future__ import annotations

from typing import Any

from adapters.hyperliquid.wire import (
    ActiveAssetCtx,
    Bbo,
    Book,
    Envelope,
    SubscriptionResponse,
    TradeRow,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_DOCS = "https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/"
_SUBSCRIPTIONS = Doc(_DOCS + "subscriptions", CHECKED)


def _push(name: str, data: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=extra.pop("doc", _SUBSCRIPTIONS),
        struct=Envelope,
        payload={"data": data} if data is not None else {},
        required=("channel", "data") if data is not None else ("channel",),
        **extra,
    )


L2_BOOK = _push("l2Book", Book, units={"data.time": "ms"})
TRADES = _push("trades", list[TradeRow], units={"data[].time": "ms"})
BBO = _push("bbo", Bbo, units={"data.time": "ms"})
ACTIVE_ASSET_CTX = _push("activeAssetCtx", ActiveAssetCtx, open=("data.ctx",))
SUBSCRIPTION_RESPONSE = _push("subscriptionResponse", SubscriptionResponse)
ERROR = _push("error", str)
PONG = _push("pong", None, doc=Doc(_DOCS + "heartbeats", CHECKED))
IGNORED = frozenset()


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict) and isinstance(value.get("channel"), str):
            return value["channel"]
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    return f"rest:{rest_path(url)}"


CONTRACT = VenueContract(
    venue="hyperliquid",
    messages=(L2_BOOK, TRADES, BBO, ACTIVE_ASSET_CTX, SUBSCRIPTION_RESPONSE, ERROR, PONG),
    rules=Rules(
        sequence="none: every l2Book message is the whole book (20 levels a side)",
        checksum=None,
        heartbeat='{"method":"ping"} answered by {"channel":"pong"}; idle connections are '
        "closed after 60 s",
        connection_lifetime_s=None,
        subscribe_ack='{"channel":"subscriptionResponse","data":{"method":"subscribe",...}}',
        doc=_SUBSCRIPTIONS,
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
