"""HTX contract: spot ``/ws`` + ``/feed`` and perpetual swaps, and their instrument lists.

The frames are gzip on the wire; the validator sees them inflated, as the adapter does
(``collector.frames``). One contract serves both slugs: spot and swaps share the envelope
and the topics, and differ only in fields the structs make optional.
"""

from __future__ import annotations

from typing import Any

from adapters.htx.wire import (
    INVERSE_DOCS,
    LINEAR_DOCS,
    SPOT_DOCS,
    Bbo,
    Contracts,
    DepthTick,
    Envelope,
    MbpTick,
    SpotSymbols,
    TradeTick,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_NUMBER = "number"
_LEVELS = {
    "tick.bids[][]": _NUMBER,
    "tick.asks[][]": _NUMBER,
}
_PUSH = ("ping", "id", "status", "subbed", "unsubbed", "rep", "data", "err-code", "err-msg")


def _push(name: str, anchor: str, tick: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(SPOT_DOCS + anchor, CHECKED),
        struct=Envelope,
        omit=_PUSH,
        payload={"tick": tick},
        required=("ch", "ts", "tick"),
        units={"ts": "ms", **extra.pop("units", {})},
        **extra,
    )


DEPTH = _push(
    "depth",
    "#market-depth",
    DepthTick,
    types=_LEVELS,
    units={"tick.ts": "ms"},
)
MBP = _push("mbp", "#market-by-price-incremental-update", MbpTick, types=_LEVELS)
TRADE = _push(
    "trade.detail",
    "#trade-detail",
    TradeTick,
    types={
        "tick.data[].price": _NUMBER,
        "tick.data[].amount": _NUMBER,
        "tick.data[].id": _NUMBER,
        "tick.data[].quantity": _NUMBER,
        "tick.data[].trade_turnover": _NUMBER,
    },
    enums={"tick.data[].direction": ("buy", "sell")},
    units={"tick.ts": "ms", "tick.data[].ts": "ms"},
    historic=("tick.ts", "tick.data[].ts"),  # the first push repeats the last trade
)
BBO = _push(
    "bbo",
    "#best-bid-offer",
    Bbo,
    # spot: numbers; swaps (LINEAR_DOCS#subscribe-market-bbo-data-push): [price, size]
    types={f"tick.{k}": "number|array|null" for k in ("bid", "ask", "bidSize", "askSize")},
    units={"tick.quoteTime": "ms", "tick.ts": "ms"},
)
PING = MessageContract(
    name="ping",
    doc=Doc(SPOT_DOCS + "#heartbeat-and-connection", CHECKED),
    struct=Envelope,
    omit=tuple(f for f in (*_PUSH, "ch", "ts", "tick") if f != "ping"),
    required=("ping",),
)
SUBBED = MessageContract(
    name="subbed",
    doc=Doc(SPOT_DOCS + "#subscribe-to-a-topic", CHECKED),
    struct=Envelope,
    omit=("ch", "tick", "ping", "rep", "data", "err-code", "err-msg", "unsubbed"),
    types={"id": "number|string"},
    enums={"status": ("ok",)},
    units={"ts": "ms"},
    required=("status", "subbed", "ts"),
)
REP = MessageContract(
    name="rep",
    doc=Doc(SPOT_DOCS + "#market-by-price-incremental-update", CHECKED),
    struct=Envelope,
    omit=("ch", "tick", "ping", "subbed", "unsubbed", "err-code", "err-msg"),
    payload={"data": MbpTick},
    types={"id": "number|string", "data.bids[][]": _NUMBER, "data.asks[][]": _NUMBER},
    enums={"status": ("ok",)},
    required=("rep", "status", "data"),
)
ERROR = MessageContract(
    name="error",
    doc=Doc(SPOT_DOCS + "#subscribe-to-a-topic", CHECKED),
    struct=Envelope,
    omit=("ch", "tick", "ping", "subbed", "unsubbed", "data"),
    types={"id": "number|string"},
    enums={"status": ("error",)},
    units={"ts": "ms"},
    required=("status", "err-code", "err-msg"),
)
SPOT_SYMBOLS = MessageContract(
    name="rest:symbols",
    doc=Doc(SPOT_DOCS + "#get-all-supported-trading-symbol", CHECKED),
    struct=SpotSymbols,
    open=("data[]",),  # ~20 documented fields per symbol; we read four
)
SWAP_CONTRACTS = MessageContract(
    name="rest:swap_contract_info",
    doc=Doc(LINEAR_DOCS + "#query-swap-info", CHECKED),
    struct=Contracts,
    types={"data[].contract_size": _NUMBER, "data[].price_tick": _NUMBER},
    open=("data[]",),  # coin-M (INVERSE_DOCS) and USDT-M lists differ in fields we skip
    documented={"ts": "int"},
)
_TOPIC_KINDS = {"depth": DEPTH.name, "mbp": MBP.name, "trade": TRADE.name, "bbo": BBO.name}


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if "ping" in value:
                return PING.name
            ch = value.get("ch")
            if isinstance(ch, str):
                parts = ch.split(".")
                kind = parts[2] if len(parts) >= 3 else ""
                return _TOPIC_KINDS.get(kind, f"topic:{kind or ch}")
            if value.get("status") == "error":
                return ERROR.name
            if "subbed" in value:
                return SUBBED.name
            if "rep" in value:
                return REP.name
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    if path.endswith("/v1/common/symbols"):
        return SPOT_SYMBOLS.name
    if path.endswith("/swap_contract_info"):
        return SWAP_CONTRACTS.name
    return f"rest:{path}"


CONTRACT = VenueContract(
    venue="htx",
    messages=(DEPTH, MBP, TRADE, BBO, PING, SUBBED, REP, ERROR, SPOT_SYMBOLS, SWAP_CONTRACTS),
    rules=Rules(
        sequence="depth.step0: none, every push the full book; mbp: prevSeqNum = the "
        "previous push's seqNum, bridged to the req answer's seqNum",
        checksum=None,
        heartbeat='server {"ping": N} every 5 s, answered {"pong": N}; two unanswered '
        "pings close the connection",
        connection_lifetime_s=None,
        subscribe_ack='{"id": .., "status": "ok", "subbed": "<topic>", "ts": ..} per topic',
        doc=Doc(INVERSE_DOCS + "#websocket-heartbeat-and-authentication-interface", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
)
