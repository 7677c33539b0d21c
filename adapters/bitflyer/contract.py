"""bitFlyer contract: ``channelMessage`` notifications for board snapshots, board diffs,
executions and tickers, JSON-RPC replies, and the ``/v1/markets`` lists."""

from __future__ import annotations

from typing import Any

from adapters.bitflyer.wire import (
    Board,
    ChannelMessage,
    Envelope,
    Execution,
    Market,
    RpcError,
    Ticker,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_DOCS = "https://bf-lightning-api.readme.io/docs/"
_NUMBER = "number"
_BOARD_TYPES = {
    "params.message.mid_price": _NUMBER,
    **{f"params.message.{s}[].{k}": _NUMBER for s in ("bids", "asks") for k in ("price", "size")},
}


def _notification(name: str, page: str, message: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(_DOCS + page, CHECKED),
        struct=Envelope,
        omit=("id", "result", "error"),
        payload={"params": ChannelMessage, "params.message": message},
        enums={"jsonrpc": ("2.0",), "method": ("channelMessage",), **extra.pop("enums", {})},
        required=("jsonrpc", "method", "params"),
        **extra,
    )


BOARD_SNAPSHOT = _notification(
    "lightning_board_snapshot", "realtime-board-snapshot", Board, types=_BOARD_TYPES
)
BOARD = _notification("lightning_board", "realtime-board", Board, types=_BOARD_TYPES)
EXECUTIONS = _notification(
    "lightning_executions",
    "realtime-executions",
    list[Execution],
    types={"params.message[].price": _NUMBER, "params.message[].size": _NUMBER},
    units={"params.message[].exec_date": "rfc3339"},
)
TICKER = _notification(
    "lightning_ticker",
    "realtime-ticker",
    Ticker,
    types={
        f"params.message.{k}": _NUMBER
        for k in ("best_bid", "best_ask", "best_bid_size", "best_ask_size")
    },
    units={"params.message.timestamp": "rfc3339"},
    enums={
        "params.message.state": (
            "RUNNING",
            "CLOSED",
            "STARTING",
            "PREOPEN",
            "CIRCUIT BREAK",
            "AWAITING SQ",
            "MATURED",
        )
    },
    documented={
        f"params.message.{k}": _NUMBER
        for k in (
            "total_bid_depth",
            "total_ask_depth",
            "market_bid_size",
            "market_ask_size",
            "ltp",
            "volume",
            "volume_by_product",
        )
    },
)
REPLY = MessageContract(
    name="reply",
    doc=Doc(_DOCS + "realtime-api", CHECKED),
    struct=Envelope,
    omit=("method", "params"),
    payload={"error": RpcError},
    required=("jsonrpc", "id"),
)
MARKETS = MessageContract(
    name="rest:markets",
    doc=Doc("https://lightning.bitflyer.com/docs#market-list", CHECKED),
    struct=list[Market],
)
IGNORED = frozenset()


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            params = value.get("params")
            if value.get("method") == "channelMessage" and isinstance(params, dict):
                channel = str(params.get("channel", ""))
                for name in ("lightning_board_snapshot", "lightning_board"):
                    if channel.startswith(name + "_"):
                        return name
                return "_".join(channel.split("_")[:2])
            if "id" in value:
                return "reply"
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url).rstrip("/")
    markets = path.split("/")[-1] in ("markets", "getmarkets", "usa", "eu")
    return MARKETS.name if markets else f"rest:{path}"


CONTRACT = VenueContract(
    venue="bitflyer",
    messages=(BOARD_SNAPSHOT, BOARD, EXECUTIONS, TICKER, REPLY, MARKETS),
    rules=Rules(
        sequence="none: board snapshots in-band (on subscribe and every few seconds), "
        "board diffs without ids",
        checksum=None,
        heartbeat="none documented; websocket pings",
        connection_lifetime_s=None,
        subscribe_ack='JSON-RPC reply {"jsonrpc":"2.0","id":n,"result":true} when the '
        "request has an id",
        doc=Doc(_DOCS + "realtime-api", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
