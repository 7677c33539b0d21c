"""KuCoin spot contract: ``/market/level2``, ``/market/match``, ``/market/ticker`` and REST.

Every websocket frame is one ``Envelope`` (``type``, ``topic``, ``subject``, ``data``);
a pushed message is named by its topic without the symbols (``/market/level2``), the
others by their ``type``.
"""

from __future__ import annotations

from typing import Any

from adapters.kucoin.wire import (
    Bullet,
    Envelope,
    L2Update,
    Level2,
    Match,
    RestEnvelope,
    SymbolInfo,
    Ticker,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_WS = "https://www.kucoin.com/docs/websocket/"
_REST = "https://www.kucoin.com/docs/rest/spot-trading/market-data/"
_PUSHED = ("topic", "subject", "data")


def _push(name: str, page: str, payload: Any, subject: str, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(_WS + "spot-trading/public-channels/" + page, CHECKED),
        struct=Envelope,
        omit=("id", "code"),
        payload={"data": payload},
        enums={"type": ("message",), "subject": (subject,), **extra.pop("enums", {})},
        required=extra.pop("required", _PUSHED),
        **extra,
    )


LEVEL2 = _push(
    "/market/level2",
    "level2-market-data",
    L2Update,
    "trade.l2update",
    units={"data.time": "ms"},
)
MATCH = _push(
    "/market/match",
    "match-execution-data",
    Match,
    "trade.l3match",
    enums={"data.side": ("buy", "sell"), "data.type": ("match",)},
    units={"data.time": "ns"},
)
TICKER = _push(
    "/market/ticker",
    "ticker",
    Ticker,
    "trade.ticker",
    units={"data.time": "ms"},
    required=(*_PUSHED, "data.bestAsk", "data.bestAskSize", "data.bestBid", "data.bestBidSize"),
)
_CONNECTION = Doc(_WS + "basic-info/create-connection", CHECKED)
WELCOME = MessageContract(
    name="welcome", doc=_CONNECTION, struct=Envelope, omit=(*_PUSHED, "code"), required=("id",)
)
ACK = MessageContract(
    name="ack", doc=_CONNECTION, struct=Envelope, omit=(*_PUSHED, "code"), required=("id",)
)
PONG = MessageContract(
    name="pong", doc=_CONNECTION, struct=Envelope, omit=(*_PUSHED, "code"), required=("id",)
)
ERROR = MessageContract(
    name="error",
    doc=_CONNECTION,
    struct=Envelope,
    omit=("topic", "subject"),
    types={"data": "string"},
    required=("code", "data"),
)
BOOK = MessageContract(
    name="rest:level2",
    doc=Doc(_REST + "get-part-order-book-aggregated-", CHECKED),
    struct=RestEnvelope,
    payload={"data": Level2},
    enums={"code": ("200000",)},
    units={"data.time": "ms"},
    required=("data",),
    optional=("msg",),
)
SYMBOLS = MessageContract(
    name="rest:symbols",
    doc=Doc(_REST + "get-symbols-list", CHECKED),
    struct=RestEnvelope,
    payload={"data": list[SymbolInfo]},
    enums={"code": ("200000",)},
    open=("data[]",),  # ~15 documented fields per symbol (sizes, increments); we read four
    required=("data",),
    optional=("msg",),
)
TOKEN = MessageContract(
    name="rest:bullet-public",
    doc=Doc(
        _WS + "basic-info/apply-connect-token/public-token-no-authentication-required-", CHECKED
    ),
    struct=RestEnvelope,
    payload={"data": Bullet},
    enums={"code": ("200000",)},
    units={"data.instanceServers[].pingInterval": "ms duration"},
    required=("data",),
    optional=("msg",),
)
#: Documented topics the adapter does not store.
IGNORED = frozenset(("/market/candles", "/market/snapshot", "/spotMarket/level2Depth50"))


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            topic = value.get("topic")
            if value["type"] == "message" and isinstance(topic, str):
                return topic.split(":", 1)[0]
            return value["type"]
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    if "/market/orderbook/level2" in path:
        return BOOK.name
    if path.endswith("/symbols"):
        return SYMBOLS.name
    if path.endswith("/bullet-public"):
        return TOKEN.name
    return f"rest:{path}"


CONTRACT = VenueContract(
    venue="kucoin",
    messages=(LEVEL2, MATCH, TICKER, WELCOME, ACK, PONG, ERROR, BOOK, SYMBOLS, TOKEN),
    rules=Rules(
        sequence="REST book 'sequence' S: drop l2update with sequenceEnd <= S; the first kept "
        "has sequenceStart <= S+1 <= sequenceEnd; then sequenceStart = previous sequenceEnd + 1",
        checksum=None,
        heartbeat='client {"type":"ping"} every pingInterval (18 s) from the token call, '
        "answered pong; no server heartbeat",
        connection_lifetime_s=None,
        subscribe_ack='{"id":..,"type":"ack"} per subscribe sent with "response":true, '
        'after a {"type":"welcome"} on connect',
        doc=Doc(_WS + "spot-trading/public-channels/level2-market-data", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
