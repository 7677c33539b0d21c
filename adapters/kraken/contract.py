"""Kraken spot contract: WS v2 (what the adapter subscribes to live) and REST AssetPairs.

v1 array frames and v1 events are still decoded for old recordings but are not the live
contract; they are reported as unknown message types named ``v1:<channel>``.
"""

from __future__ import annotations

from typing import Any

from adapters.kraken.wire import (
    Envelope,
    RestAssetPairs,
    V2Book,
    V2Instruments,
    V2Result,
    V2Status,
    V2Ticker,
    V2Trade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_WS = "https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/"
_CHECKSUM_GUIDE = "https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2"
_V1 = ("event", "status", "pair", "channelName", "errorMessage", "Error")
_PUSH_OMIT = (*_V1, "method", "success", "result", "error", "symbol")
_NUMBER = "number"


def _push(name: str, payload: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(_WS + name, CHECKED),
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": payload},
        required=("channel", "type", "data"),
        **extra,
    )


BOOK = _push(
    "book",
    list[V2Book],
    enums={"type": ("snapshot", "update")},
    types={
        "data[].bids[].price": _NUMBER,
        "data[].bids[].qty": _NUMBER,
        "data[].asks[].price": _NUMBER,
        "data[].asks[].qty": _NUMBER,
    },
    units={"data[].timestamp": "rfc3339"},
)
TRADE = _push(
    "trade",
    list[V2Trade],
    enums={
        "type": ("snapshot", "update"),
        "data[].side": ("buy", "sell"),
        "data[].ord_type": ("market", "limit"),
    },
    types={"data[].price": _NUMBER, "data[].qty": _NUMBER},
    units={"data[].timestamp": "rfc3339"},
)
TICKER = _push(
    "ticker",
    list[V2Ticker],
    enums={"type": ("snapshot", "update")},
    types={f"data[].{k}": _NUMBER for k in ("bid", "bid_qty", "ask", "ask_qty")},
    units={"data[].timestamp": "rfc3339"},
    # the rest of the ticker (last, volume, vwap, low, high, change, change_pct)
    documented={
        f"data[].{k}": _NUMBER
        for k in ("last", "volume", "vwap", "low", "high", "change", "change_pct")
    },
)
INSTRUMENT = _push("instrument", V2Instruments, open=("data", "data.pairs[]"))
STATUS = _push("status", list[V2Status], documented={"data[].api_version": "string"})
HEARTBEAT = MessageContract(
    name="heartbeat",
    doc=Doc(_WS + "heartbeat", CHECKED),
    struct=Envelope,
    omit=(*_PUSH_OMIT, "type", "data"),
    required=("channel",),
)
METHOD = MessageContract(
    name="method",
    doc=Doc(_WS + "ping", CHECKED),
    struct=Envelope,
    omit=(*_V1, "channel", "type", "data"),
    payload={"result": V2Result},
    documented={"time_in": "string", "time_out": "string", "req_id": "int"},
    enums={"method": ("subscribe", "unsubscribe", "pong")},
    units={"time_in": "rfc3339", "time_out": "rfc3339"},
    required=("method",),
)
ASSET_PAIRS = MessageContract(
    name="rest:AssetPairs",
    doc=Doc("https://docs.kraken.com/api-reference/market-data/get-tradable-asset-pairs", CHECKED),
    struct=RestAssetPairs,
)
IGNORED = frozenset({"ohlc", "level3", "spread"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if isinstance(value.get("channel"), str):
                return value["channel"]
            if "method" in value:
                return "method"
            if isinstance(value.get("event"), str):
                return "v1:" + value["event"]
        if isinstance(value, list) and len(value) >= 4 and isinstance(value[-2], str):
            return "v1:" + value[-2].split("-")[0]  # [chanId, payload..., "book-10", pair]
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return ASSET_PAIRS.name if path.endswith("/AssetPairs") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="kraken",
    messages=(BOOK, TRADE, TICKER, INSTRUMENT, STATUS, HEARTBEAT, METHOD, ASSET_PAIRS),
    rules=Rules(
        sequence="none: snapshot in-band, integrity by checksum",
        checksum="CRC32 (unsigned) of top 10 asks then top 10 bids, price and qty with '.' "
        "and leading zeros removed, after truncating to the subscribed depth; on every "
        "snapshot and update",
        heartbeat="server heartbeat channel about once a second when idle; "
        'client may send {"method":"ping"}',
        connection_lifetime_s=None,
        subscribe_ack='{"method":"subscribe","success":true,"result":{...}} per symbol',
        # Reread 2026-12-07: book maintenance and checksum steps match the rule above.
        doc=Doc(_CHECKSUM_GUIDE, "2026-12-07"),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
