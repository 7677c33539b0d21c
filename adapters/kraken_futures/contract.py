"""Kraken Futures contract: the public v1 feeds (book, trade, ticker, ticker_lite, heartbeat),
their events, and ``GET /derivatives/api/v3/instruments``."""

from __future__ import annotations

from typing import Any

from adapters.kraken_futures.wire import (
    BookSnapshot,
    BookUpdate,
    Envelope,
    Instruments,
    Ticker,
    TickerLite,
    TradeRow,
    TradeSnapshot,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_WS = "https://docs.kraken.com/exchange/api-reference/futures-websocket/"
_NUMBER = "number"
_MS = "ms"


def _feed(name: str, page: str, struct: Any, **extra: Any) -> MessageContract:
    return MessageContract(name=name, doc=Doc(_WS + page, CHECKED), struct=struct, **extra)


BOOK_SNAPSHOT = _feed(
    "book_snapshot",
    "book",
    BookSnapshot,
    types={f"{s}[].{k}": _NUMBER for s in ("bids", "asks") for k in ("price", "qty")},
    units={"timestamp": _MS},
)
BOOK = _feed(
    "book",
    "book",
    BookUpdate,
    types={"price": _NUMBER, "qty": _NUMBER},
    units={"timestamp": _MS},
)
TRADE = _feed(
    "trade",
    "trade",
    TradeRow,
    types={"price": _NUMBER, "qty": _NUMBER},
    enums={"type": ("fill", "liquidation", "termination", "block")},
    units={"time": _MS},
    required=("feed",),
)
TRADE_SNAPSHOT = _feed(
    "trade_snapshot",
    "trade",
    TradeSnapshot,
    types={"trades[].price": _NUMBER, "trades[].qty": _NUMBER},
    enums={"trades[].type": ("fill", "liquidation", "termination", "block")},
    units={"trades[].time": _MS},
    historic=("trades[].time",),
)
_TICKER_NUMBERS = (
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "last",
    "index",
    "markPrice",
    "openInterest",
)
TICKER = _feed(
    "ticker",
    "ticker",
    Ticker,
    types={k: _NUMBER for k in _TICKER_NUMBERS},
    units={"time": _MS, "next_funding_rate_time": _MS},
    documented={
        "volume": _NUMBER,
        "volumeQuote": _NUMBER,
        "dtm": "int",
        "leverage": "string",
        "premium": _NUMBER,
        "change": _NUMBER,
        "funding_rate": _NUMBER,
        "funding_rate_prediction": _NUMBER,
        "suspended": "bool",
        "tag": "string",
        "pair": "string",
        "maturityTime": "int",
        "post_only": "bool",
    },
)
TICKER_LITE = _feed(
    "ticker_lite",
    "ticker-lite",
    TickerLite,
    types={"bid": _NUMBER, "ask": _NUMBER},
    documented={
        "change": _NUMBER,
        "premium": _NUMBER,
        "volume": _NUMBER,
        "volumeQuote": _NUMBER,
        "tag": "string",
        "pair": "string",
        "dtm": "int",
        "maturityTime": "int",
        "post_only": "bool",
        "suspended": "bool",
    },
)
HEARTBEAT = _feed(
    "heartbeat",
    "heartbeat",
    Envelope,
    omit=("event", "product_id", "product_ids", "message", "version"),
    documented={"time": "int"},
    units={"time": _MS},
    required=("feed",),
)
EVENT = MessageContract(
    name="event",
    doc=Doc("https://docs.kraken.com/exchange/guides/futures-websocket", CHECKED),
    struct=Envelope,
    omit=("product_id",),
    enums={
        "event": (
            "info",
            "subscribed",
            "subscribed_failed",
            "unsubscribed",
            "unsubscribed_failed",
            "error",
            "alert",
        )
    },
    required=("event",),
)
INSTRUMENTS = MessageContract(
    name="rest:instruments",
    doc=Doc("https://docs.kraken.com/api-reference/instrument-details/get-instruments", CHECKED),
    struct=Instruments,
    documented={"serverTime": "string"},
    open=("instruments[]",),  # margin levels, contract sizes, ISINs...: we read five fields
)
IGNORED = frozenset()


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if isinstance(value.get("event"), str):
                return "event"
            if isinstance(value.get("feed"), str):
                return value["feed"]
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    return INSTRUMENTS.name if path.endswith("/instruments") else f"rest:{path}"


CONTRACT = VenueContract(
    venue="kraken-futures",
    messages=(
        BOOK_SNAPSHOT,
        BOOK,
        TRADE,
        TRADE_SNAPSHOT,
        TICKER,
        TICKER_LITE,
        HEARTBEAT,
        EVENT,
        INSTRUMENTS,
    ),
    rules=Rules(
        sequence="book: book_snapshot then book messages whose seq is the product's previous "
        "seq + 1; else resubscribe",
        checksum=None,
        heartbeat="optional heartbeat feed; send a ping at least every 60 s",
        connection_lifetime_s=None,
        subscribe_ack='{"event":"subscribed","feed":...,"product_ids":[...]} per product',
        doc=Doc(_WS + "book", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
