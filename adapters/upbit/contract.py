"""Upbit contract: websocket ``orderbook``/``trade`` in both formats, and ``/v1/market/all``.

The plan asks for the ``DEFAULT`` format; the ``SIMPLE`` format (the recording's) is the
same messages under documented abbreviations, named ``simple:<type>`` here so a
recording in either format is checked field by field.
"""

from __future__ import annotations

from typing import Any

from adapters.upbit.wire import (
    DOCS,
    SIMPLE_NAMES,
    Envelope,
    Market,
    Orderbook,
    SimpleOrderbook,
    SimpleTrade,
    Trade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_NUMBER = "number"
_BOOK_NUMBERS = ("total_ask_size", "total_bid_size", "level")
_UNIT_NUMBERS = ("ask_price", "bid_price", "ask_size", "bid_size")
_TRADE_NUMBERS = ("trade_price", "trade_volume", "prev_closing_price", "change_price")


def _book(name: str, struct: Any, n: dict[str, str]) -> MessageContract:
    units = n["orderbook_units"]
    return MessageContract(
        name=name,
        doc=Doc(DOCS + "websocket-orderbook", CHECKED),
        struct=struct,
        types={
            **{n[k]: _NUMBER for k in _BOOK_NUMBERS},
            **{f"{units}[].{n[k]}": _NUMBER for k in _UNIT_NUMBERS},
        },
        enums={n["stream_type"]: ("SNAPSHOT", "REALTIME")},
        units={n["timestamp"]: "ms"},
    )


def _trade(name: str, struct: Any, n: dict[str, str]) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(DOCS + "websocket-trade", CHECKED),
        struct=struct,
        types={n[k]: _NUMBER for k in _TRADE_NUMBERS},
        enums={
            n["ask_bid"]: ("ASK", "BID"),
            n["change"]: ("RISE", "EVEN", "FALL"),
            n["stream_type"]: ("SNAPSHOT", "REALTIME"),
        },
        units={n["timestamp"]: "ms", n["trade_timestamp"]: "ms"},
        # fields added since the recording, not read: the best quote at the trade
        documented={
            k: _NUMBER
            for k in ("best_ask_price", "best_ask_size", "best_bid_price", "best_bid_size")
        },
    )


_SAME = {k: k for k in SIMPLE_NAMES}
ORDERBOOK = _book("orderbook", Orderbook, _SAME)
TRADE = _trade("trade", Trade, _SAME)
SIMPLE_ORDERBOOK = _book("simple:orderbook", SimpleOrderbook, SIMPLE_NAMES)
SIMPLE_TRADE = _trade("simple:trade", SimpleTrade, SIMPLE_NAMES)
STATUS = MessageContract(
    name="status",
    doc=Doc(DOCS + "websocket-guide", CHECKED),
    struct=Envelope,
    omit=("type", "ty", "error"),
    enums={"status": ("UP",)},
    required=("status",),
)
ERROR = MessageContract(
    name="error",
    doc=Doc(DOCS + "websocket-error", CHECKED),
    struct=Envelope,
    omit=("type", "ty", "status"),
    payload={"error": dict[str, str]},
    required=("error",),
)
MARKETS = MessageContract(
    name="rest:market/all",
    doc=Doc(DOCS + "list-trading-pairs", CHECKED),
    struct=list[Market],
    documented={"[].market_warning": "string", "[].market_event": "object"},
)


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if isinstance(value.get("type"), str):
                return value["type"]
            if isinstance(value.get("ty"), str):
                return "simple:" + value["ty"]
            if "status" in value:
                return STATUS.name
            if "error" in value:
                return ERROR.name
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return MARKETS.name if path.endswith("/v1/market/all") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="upbit",
    messages=(ORDERBOOK, TRADE, SIMPLE_ORDERBOOK, SIMPLE_TRADE, STATUS, ERROR, MARKETS),
    rules=Rules(
        sequence="none: every orderbook message is the whole book",
        checksum=None,
        heartbeat='client text "PING" (answered {"status":"UP"}); idle connections close '
        "after 120 s",
        connection_lifetime_s=None,
        subscribe_ack="none: data starts flowing",
        doc=Doc(DOCS + "websocket-guide", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=frozenset({"ticker", "myOrder", "myAsset", "simple:ticker"}),
)
