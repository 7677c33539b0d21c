"""Bybit contract: v5 public websocket (what the adapter subscribes to live).

Legacy v2 frames (``orderBookL2_25``, ``trade``, ``request`` replies) are decoded by the
adapter for old recordings but are not part of the live contract: they show up as
unknown message types, which is exactly what the v2 -> v5 migration looked like.
"""

from __future__ import annotations

from typing import Any

from adapters.bybit.wire import (
    Envelope,
    V5Book,
    V5Instruments,
    V5LegacyLiquidation,
    V5Liquidation,
    V5OptionTicker,
    V5Ticker,
    V5Trade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract
from collector.markets import option_terms

CHECKED = "2026-11-28"
_DOCS = "https://bybit-exchange.github.io/docs/v5"
_REPLY = ("success", "ret_msg", "op", "req_id", "conn_id")
_LEGACY = ("cross_seq", "timestamp_e6", "request")
_PUSH_OMIT = (*_REPLY, *_LEGACY)

ORDERBOOK = MessageContract(
    name="orderbook",
    doc=Doc(f"{_DOCS}/websocket/public/orderbook", CHECKED),
    struct=Envelope,
    omit=_PUSH_OMIT,
    payload={"data": V5Book},
    enums={"type": ("snapshot", "delta")},
    units={"ts": "ms", "cts": "ms"},
    required=("topic", "type", "ts", "cts", "data"),
)
PUBLIC_TRADE = MessageContract(
    name="publicTrade",
    doc=Doc(f"{_DOCS}/websocket/public/trade", CHECKED),
    struct=Envelope,
    omit=(*_PUSH_OMIT, "cts"),
    payload={"data": list[V5Trade]},
    enums={"type": ("snapshot",), "data[].S": ("Buy", "Sell")},
    units={"ts": "ms", "data[].T": "ms"},
    required=("topic", "type", "ts", "data"),
    documented={
        "data[].L": "string",  # tick direction
        "data[].RPI": "bool",  # retail price improvement fill (added 2025)
        "data[].mP": "string",  # options: mark price
        "data[].iP": "string",  # options: index price
        "data[].mIv": "string",  # options: mark IV
        "data[].iv": "string",  # options: trade IV
    },
)
TICKERS = MessageContract(
    name="tickers",
    doc=Doc(f"{_DOCS}/websocket/public/ticker", CHECKED),
    struct=Envelope,
    omit=_PUSH_OMIT,
    payload={"data": V5Ticker},
    enums={"type": ("snapshot", "delta")},
    units={"ts": "ms", "cts": "ms"},
    required=("topic", "type", "ts", "data"),
    documented={"cs": "int"},  # cross sequence
    # ~30 documented fields (24 h statistics, pre-listing state...); we store six
    open=("data",),
)
OPTION_TICKERS = MessageContract(
    name="tickers.option",
    doc=Doc(f"{_DOCS}/websocket/public/ticker", CHECKED),
    struct=Envelope,
    omit=(*_PUSH_OMIT, "cts"),
    payload={"data": V5OptionTicker},
    enums={"type": ("snapshot",)},
    units={"ts": "ms"},
    required=("topic", "type", "ts", "data"),
    documented={"id": "string"},
    open=("data",),  # 24 h statistics, predictedDeliveryPrice, change24h...
)
ALL_LIQUIDATION = MessageContract(
    name="allLiquidation",
    doc=Doc(f"{_DOCS}/websocket/public/all-liquidation", CHECKED),
    struct=Envelope,
    omit=(*_PUSH_OMIT, "cts"),
    payload={"data": list[V5Liquidation]},
    enums={"type": ("snapshot",), "data[].S": ("Buy", "Sell")},
    units={"ts": "ms", "data[].T": "ms"},
    required=("topic", "type", "ts", "data"),
)
LIQUIDATION = MessageContract(
    name="liquidation",
    doc=Doc(f"{_DOCS}/websocket/public/liquidation", CHECKED),
    struct=Envelope,
    omit=(*_PUSH_OMIT, "cts"),
    payload={"data": V5LegacyLiquidation},
    enums={"type": ("snapshot",), "data.side": ("Buy", "Sell")},
    units={"ts": "ms", "data.updatedTime": "ms"},
    required=("topic", "type", "ts", "data"),
)
REPLY = MessageContract(
    name="reply",
    doc=Doc(f"{_DOCS}/ws/connect", CHECKED),
    struct=Envelope,
    omit=("topic", "type", "ts", "cts", "data", *_LEGACY),
    enums={"op": ("subscribe", "unsubscribe", "ping", "pong")},
    required=("success", "op", "conn_id"),
)
INSTRUMENTS = MessageContract(
    name="rest:instruments-info",
    doc=Doc(f"{_DOCS}/market/instrument", CHECKED),
    struct=V5Instruments,
    enums={"result.category": ("spot", "linear", "inverse", "option")},
    # rows carry ~30 documented fields (filters, fees, ...); we read six
    open=("result.list[]", "result"),
    documented={"retExtInfo": "object", "time": "int"},
)
#: Topics documented on v5 that the adapter deliberately does not consume.
IGNORED = frozenset({"kline", "insurance"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            topic = value.get("topic")
            if isinstance(topic, str):
                channel, _, symbol = topic.partition(".")
                if channel == "tickers" and option_terms(symbol) is not None:
                    return OPTION_TICKERS.name  # same topic, another payload
                return channel
            if "op" in value:
                return "reply"
            if "request" in value:
                return "reply.v2"  # legacy v2 reply: names the request it answers
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return INSTRUMENTS.name if path == "/v5/market/instruments-info" else f"rest:{path}"


CONTRACT = VenueContract(
    venue="bybit",
    messages=(
        ORDERBOOK,
        PUBLIC_TRADE,
        TICKERS,
        OPTION_TICKERS,
        ALL_LIQUIDATION,
        LIQUIDATION,
        REPLY,
        INSTRUMENTS,
    ),
    rules=Rules(
        sequence="orderbook: snapshot then deltas whose u grows by exactly 1; "
        "a later snapshot or u == 1 resets the book",
        checksum=None,
        heartbeat='client sends {"op":"ping"} every 20 s; server answers op "ping"/"pong"',
        connection_lifetime_s=None,
        subscribe_ack='{"success":true,"op":"subscribe"} per subscribe request',
        doc=Doc(f"{_DOCS}/ws/connect", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
