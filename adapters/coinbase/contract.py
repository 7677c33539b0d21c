"""Coinbase Advanced Trade contract: ``level2`` (``l2_data``), ``market_trades``,
``ticker``, ``heartbeats``, ``subscriptions``, and the public products list."""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.coinbase.wire import (
    AtEnvelope,
    AtHeartbeat,
    AtL2Event,
    AtProducts,
    AtTickerEvent,
    AtTradesEvent,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_WS = "https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/"
_CHANNELS = Doc(_WS + "websocket-channels", CHECKED)
_PUSH_OMIT = ("type", "message")
_ENVELOPE_UNITS = {"timestamp": "rfc3339"}
_REQUIRED = ("channel", "timestamp", "sequence_num", "events")


class _SubscriptionsEvent(msgspec.Struct):
    subscriptions: dict[str, list[str]]  # channel -> product ids


def _push(name: str, payload: Any, **extra: Any) -> MessageContract:
    units = {**_ENVELOPE_UNITS, **extra.pop("units", {})}
    return MessageContract(
        name=name,
        doc=_CHANNELS,
        struct=AtEnvelope,
        omit=_PUSH_OMIT,
        payload={"events": payload},
        units=units,
        required=_REQUIRED,
        **extra,
    )


L2 = _push("l2_data", list[AtL2Event], units={"events[].updates[].event_time": "rfc3339"})
TRADES = _push(
    "market_trades",
    list[AtTradesEvent],
    units={"events[].trades[].time": "rfc3339"},
    historic=("events[].trades[].time",),  # the snapshot event replays recent trades
)
TICKER = _push(
    "ticker",
    list[AtTickerEvent],
    documented={
        f"events[].tickers[].{k}": "string"
        for k in (
            "type",
            "price",
            "volume_24_h",
            "low_24_h",
            "high_24_h",
            "low_52_w",
            "high_52_w",
            "price_percent_chg_24_h",
        )
    },
)
HEARTBEATS = _push("heartbeats", list[AtHeartbeat], types={"events[].heartbeat_counter": "int"})
SUBSCRIPTIONS = _push("subscriptions", list[_SubscriptionsEvent])
ERROR = MessageContract(
    name="error",
    doc=Doc(_WS + "websocket-overview", CHECKED),
    struct=AtEnvelope,
    omit=("channel", "timestamp", "sequence_num", "events"),
    enums={"type": ("error",)},
    required=("type", "message"),
)
PRODUCTS = MessageContract(
    name="rest:products",
    doc=Doc(
        "https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/public/"
        "list-public-products",
        CHECKED,
    ),
    struct=AtProducts,
    open=("", "products[]", "products[].future_product_details"),  # ~40 fields; we read 5
)
IGNORED = frozenset({"candles", "status", "ticker_batch"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if isinstance(value.get("channel"), str):
                return value["channel"]
            if value.get("type") == "error":
                return "error"
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return PRODUCTS.name if path.endswith("/products") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="coinbase",
    messages=(L2, TRADES, TICKER, HEARTBEATS, SUBSCRIPTIONS, ERROR, PRODUCTS),
    rules=Rules(
        sequence="sequence_num +1 per message on the connection (one counter for every "
        "channel); l2_data: snapshot event first, then updates",
        checksum=None,
        heartbeat="subscribe 'heartbeats': one per second, heartbeat_counter +1; channels "
        "without updates close after 60-90 s otherwise",
        connection_lifetime_s=None,
        subscribe_ack="'subscriptions' message listing every subscribed channel",
        doc=Doc(_WS + "websocket-overview", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
