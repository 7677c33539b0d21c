"""BitMEX contract: ``orderBookL2``/``orderBookL2_25``, ``trade``, ``quote`` tables,
subscribe replies, the welcome frame, and ``GET /api/v1/instrument``.

Every book row carries ``timestamp`` (server send time) since 2022-02-14, and ``price``
on ``update``/``delete`` rows too since mid-2023 (2023-09-19 is the date of the later
50 ms throttling change, not of these fields). Older recordings send ``price`` only on
partial/insert and no ``timestamp``, and drift with ``missing_field``.
"""

from __future__ import annotations

from typing import Any

from adapters.bitmex.wire import (
    BookRow,
    Envelope,
    Instrument,
    InstrumentState,
    LiquidationRow,
    QuoteRow,
    TradeRow,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_WS = Doc("https://www.bitmex.com/app/wsAPI", CHECKED)
_REPLY = ("success", "subscribe", "unsubscribe", "status", "error", "info", "version")
_PARTIAL = {
    "keys": "array",
    "types": "object",
    "foreignKeys": "object",
    "attributes": "object",
}
_ACTIONS = ("partial", "insert", "update", "delete")


def _table(name: str, rows: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=_WS,
        struct=Envelope,
        omit=_REPLY,
        payload={"data": list[rows]},
        documented={**_PARTIAL, **extra.pop("documented", {})},
        enums={"action": _ACTIONS, **extra.pop("enums", {})},
        required=("table", "action", "data"),
        **extra,
    )


BOOK = MessageContract(
    name="orderBookL2",
    doc=_WS,
    struct=Envelope,
    omit=_REPLY,
    payload={"data": list[BookRow]},
    documented=_PARTIAL,
    enums={"action": _ACTIONS},
    types={"data[].size": "int", "data[].price": "number"},
    units={"data[].timestamp": "rfc3339"},
    # timestamp on every row since 2022-02-14; price on every action since mid-2023
    required=("table", "action", "data", "data[].price", "data[].timestamp"),
)
TRADE = _table(
    "trade",
    TradeRow,
    types={"data[].size": "int", "data[].price": "number"},
    units={"data[].timestamp": "rfc3339"},
    documented={
        "data[].tickDirection": "string",
        "data[].grossValue": "int",
        "data[].homeNotional": "number",
        "data[].foreignNotional": "number",
        "data[].trdType": "string",
    },
)
QUOTE = _table(
    "quote",
    QuoteRow,
    types={
        "data[].bidSize": "int|null",
        "data[].askSize": "int|null",
        "data[].bidPrice": "number|null",
        "data[].askPrice": "number|null",
    },
    units={"data[].timestamp": "rfc3339"},
)
_INSTRUMENT_NUMBERS = (
    "markPrice",
    "indicativeSettlePrice",
    "lastPrice",
    "openInterest",
    "fundingRate",
    "indicativeFundingRate",
)
INSTRUMENT_TOPIC = MessageContract(
    name="instrument",
    doc=Doc("https://www.bitmex.com/api/explorer/#!/Instrument/Instrument_get", CHECKED),
    struct=Envelope,
    omit=_REPLY,
    payload={"data": list[InstrumentState]},
    documented=_PARTIAL,
    enums={"action": _ACTIONS},
    types={f"data[].{k}": "number|null" for k in _INSTRUMENT_NUMBERS},
    units={"data[].timestamp": "rfc3339", "data[].fundingTimestamp": "rfc3339"},
    required=("table", "action", "data"),
    open=("data[]",),  # ~90 documented fields per instrument; we store seven
)
LIQUIDATION = _table(
    "liquidation",
    LiquidationRow,
    types={"data[].price": "number|null", "data[].leavesQty": "int|null"},
    enums={"data[].side": ("Buy", "Sell")},
)
SUBSCRIBE = MessageContract(
    name="subscribe",
    doc=_WS,
    struct=Envelope,
    omit=("table", "action", "data", "filter", "info", "version", "status", "error"),
    documented={"request": "object"},
    required=("success",),
)
WELCOME = MessageContract(
    name="welcome",
    doc=_WS,
    struct=Envelope,
    omit=(
        "table",
        "action",
        "data",
        "filter",
        "success",
        "subscribe",
        "unsubscribe",
        "status",
        "error",
    ),
    documented={"timestamp": "string", "docs": "string", "limit": "object", "appName": "string"},
    units={"timestamp": "rfc3339"},
    required=("info", "version"),
)
ERROR = MessageContract(
    name="error",
    doc=_WS,
    struct=Envelope,
    omit=(
        "table",
        "action",
        "data",
        "filter",
        "success",
        "subscribe",
        "unsubscribe",
        "info",
        "version",
    ),
    documented={"request": "object", "meta": "object"},
    required=("error",),
)
INSTRUMENTS = MessageContract(
    name="rest:instrument",
    doc=Doc("https://www.bitmex.com/api/explorer/#!/Instrument/Instrument_get", CHECKED),
    struct=list[Instrument],
    open=("[]",),  # ~90 documented fields per instrument; we read six
)
IGNORED = frozenset({"funding", "settlement", "orderBook10"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            table = value.get("table")
            if isinstance(table, str):
                return "orderBookL2" if table.startswith("orderBookL2") else table
            if "success" in value:
                return "subscribe"
            if "info" in value:
                return "welcome"
            if "error" in value:
                return "error"
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return INSTRUMENTS.name if path.startswith("/api/v1/instrument") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="bitmex",
    messages=(
        BOOK,
        TRADE,
        QUOTE,
        INSTRUMENT_TOPIC,
        LIQUIDATION,
        SUBSCRIBE,
        WELCOME,
        ERROR,
        INSTRUMENTS,
    ),
    rules=Rules(
        sequence="orderBookL2: 'partial' first, then insert/update/delete keyed by "
        "(symbol, id, side); no sequence numbers (gaps undetectable)",
        checksum=None,
        heartbeat="client sends text 'ping' after 5 s idle; server answers 'pong'",
        connection_lifetime_s=None,
        subscribe_ack="{'success':true,'subscribe':TOPIC} per topic",
        doc=_WS,
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
