"""Deribit contract: JSON-RPC notifications for ``book``, ``trades`` and ``quote``,
heartbeats, request replies, and ``public/get_instruments``."""

from __future__ import annotations

from typing import Any

from adapters.deribit.wire import (
    Book,
    Envelope,
    GroupedBook,
    Heartbeat,
    Instruments,
    Quote,
    RpcError,
    Subscription,
    Ticker,
    TradeRow,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_DOCS = "https://docs.deribit.com/"
_NOTE_OMIT = ("id", "result", "error")
_RPC_DOCUMENTED = {"usIn": "int", "usOut": "int", "usDiff": "int", "testnet": "bool"}
_RPC_UNITS = {"usIn": "us", "usOut": "us"}


def _notification(name: str, doc: str, data: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(_DOCS + doc, CHECKED),
        struct=Envelope,
        omit=_NOTE_OMIT,
        payload={"params": Subscription, "params.data": data},
        enums={"jsonrpc": ("2.0",), "method": ("subscription",), **extra.pop("enums", {})},
        required=("jsonrpc", "method", "params", *extra.pop("required", ())),
        **extra,
    )


_NUMBERS = "number"
BOOK = _notification(
    "book",
    "subscriptions/orderbook/bookinstrument_nameinterval",
    Book,
    types={
        "params.data.bids[][1]": _NUMBERS,
        "params.data.bids[][2]": _NUMBERS,
        "params.data.asks[][1]": _NUMBERS,
        "params.data.asks[][2]": _NUMBERS,
    },
    units={"params.data.timestamp": "ms"},
    required=("params.data.type",),
)
GROUPED_BOOK = _notification(
    "book.grouped",
    "subscriptions/orderbook/bookinstrument_namegroupdepthinterval",
    GroupedBook,
    types={f"params.data.{s}[][{i}]": _NUMBERS for s in ("bids", "asks") for i in (0, 1)},
    units={"params.data.timestamp": "ms"},
)
TRADES = _notification(
    "trades",
    "subscriptions/trades/tradesinstrument_nameinterval",
    list[TradeRow],
    types={"params.data[].price": _NUMBERS, "params.data[].amount": _NUMBERS},
    enums={"params.data[].liquidation": ("M", "T", "MT")},
    units={"params.data[].timestamp": "ms"},
    documented={
        "params.data[].tick_direction": "int",
        "params.data[].index_price": _NUMBERS,
        "params.data[].mark_price": _NUMBERS,
        "params.data[].iv": _NUMBERS,
        "params.data[].contracts": _NUMBERS,
        "params.data[].combo_id": "string",
        "params.data[].combo_trade_id": _NUMBERS,
        "params.data[].block_trade_leg_count": "int",
        "params.data[].block_rfq_id": "int",
    },
)
QUOTE = _notification(
    "quote",
    "subscriptions/market-data/quoteinstrument_name",
    Quote,
    types={
        f"params.data.best_{s}_{k}": "number|null"
        for s in ("bid", "ask")
        for k in ("price", "amount")
    },
    units={"params.data.timestamp": "ms"},
)
_TICKER_NUMBERS = (
    "mark_price",
    "index_price",
    "open_interest",
    "best_bid_price",
    "best_bid_amount",
    "best_ask_price",
    "best_ask_amount",
)
TICKER = _notification(
    "ticker",
    "subscriptions/market-data/tickerinstrument_nameinterval",
    Ticker,
    types={
        **{f"params.data.{k}": _NUMBERS for k in _TICKER_NUMBERS},
        **{
            f"params.data.{k}": "number|null"
            for k in (
                "last_price",
                "funding_8h",
                "current_funding",
                "bid_iv",
                "ask_iv",
                "mark_iv",
                "underlying_price",
            )
        },
        **{f"params.data.greeks.{k}": _NUMBERS for k in ("delta", "gamma", "vega", "theta", "rho")},
    },
    units={"params.data.timestamp": "ms"},
    documented={
        "params.data.stats": "object",
        "params.data.state": "string",
        "params.data.settlement_price": _NUMBERS,
        "params.data.delivery_price": _NUMBERS,
        "params.data.min_price": _NUMBERS,
        "params.data.max_price": _NUMBERS,
        "params.data.interest_rate": _NUMBERS,
        "params.data.interest_value": _NUMBERS,
        "params.data.estimated_delivery_price": _NUMBERS,
    },
)
HEARTBEAT = MessageContract(
    name="heartbeat",
    doc=Doc(_DOCS + "api-reference/session-management/public-set_heartbeat", CHECKED),
    struct=Envelope,
    omit=_NOTE_OMIT,
    payload={"params": Heartbeat},
    enums={"method": ("heartbeat",)},
    required=("jsonrpc", "method", "params"),
)
REPLY = MessageContract(
    name="reply",
    doc=Doc(_DOCS + "articles/json-rpc", CHECKED),
    struct=Envelope,
    omit=("method", "params"),
    payload={"error": RpcError},
    documented=_RPC_DOCUMENTED,
    units=_RPC_UNITS,
    required=("jsonrpc", "id"),
)
INSTRUMENTS = MessageContract(
    name="rest:get_instruments",
    doc=Doc(_DOCS + "api-reference/market-data/public-get_instruments", CHECKED),
    struct=Instruments,
    documented={**_RPC_DOCUMENTED, "jsonrpc": "string"},
    open=("result[]",),  # ~25 documented fields per instrument; we read seven
)
IGNORED = frozenset(
    {
        "incremental_ticker",
        "deribit_price_index",
        "deribit_price_ranking",
        "markprice",
        "perpetual",
        "platform_state",
    }
)


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            method = value.get("method")
            params = value.get("params")
            if method == "subscription" and isinstance(params, dict):
                channel = str(params.get("channel", ""))
                kind, _, rest = channel.partition(".")
                return "book.grouped" if kind == "book" and rest.count(".") == 3 else kind
            if method == "heartbeat":
                return "heartbeat"
            if "id" in value:
                return "reply"
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return INSTRUMENTS.name if path.endswith("/get_instruments") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="deribit",
    messages=(BOOK, GROUPED_BOOK, TRADES, QUOTE, TICKER, HEARTBEAT, REPLY, INSTRUMENTS),
    rules=Rules(
        sequence="book: snapshot first, then each change's prev_change_id equals the "
        "previous change_id; else resubscribe",
        checksum=None,
        heartbeat="public/set_heartbeat interval >= 10 s; answer every test_request with "
        "public/test or be disconnected",
        connection_lifetime_s=None,
        subscribe_ack="reply whose result lists the channels subscribed (raw intervals "
        "refused to unauthenticated clients since 2022-01-15, error 13778)",
        doc=Doc(_DOCS + "articles/notifications", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
