"""Crypto.com contract: Exchange API v1 ``book``/``book.update``/``trade``/``ticker`` pushes,
heartbeats, request answers and ``public/get-instruments``.

The retired API v2 of the recording (pushes without ``id``, numbers for prices) is
decoded by the adapter but is not the live contract: its pushes are classified
``v2:<channel>`` and pinned as unknown message types in ``expected_drift.toml``.
"""

from __future__ import annotations

from typing import Any

from adapters.crypto_com.wire import (
    Envelope,
    InstrumentsReply,
    Snapshot,
    Ticker,
    TradeRow,
    Update,
    V1Instruments,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_DOCS = "https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html"
_TEXT = "string"
#: Levels are ``[price, size, order count]``, all strings in v1.
_LEVELS = {f"result.data[].{s}[][]": _TEXT for s in ("bids", "asks")}


def _push(name: str, anchor: str, data: Any, **extra: Any) -> MessageContract:
    """A subscription push: ``id`` -1 (or the request's), ``code`` 0, ``result``."""
    return MessageContract(
        name=name,
        doc=Doc(f"{_DOCS}#{anchor}", CHECKED),
        struct=Envelope,
        omit=("message",),
        payload={"result.data": data},
        enums={"method": ("subscribe",), **extra.pop("enums", {})},
        required=(
            "id",
            "code",
            "result.subscription",
            "result.instrument_name",
            *extra.pop("required", ()),
        ),
        **extra,
    )


BOOK = _push(
    "book",
    "book-instrument_name-depth",
    list[Snapshot],
    types=_LEVELS,
    units={"result.data[].t": "ms", "result.data[].tt": "ms"},
    required=("result.depth", "result.data[].u", "result.data[].tt"),
)
BOOK_UPDATE = _push(
    "book.update",
    "book-instrument_name-depth",
    list[Update],
    types={k.replace("data[].", "data[].update."): v for k, v in _LEVELS.items()},
    units={"result.data[].t": "ms", "result.data[].tt": "ms"},
    required=("result.depth", "result.data[].tt"),
)
TRADE = _push(
    "trade",
    "trade-instrument_name",
    list[TradeRow],
    types={"result.data[].d": _TEXT, "result.data[].p": _TEXT, "result.data[].q": _TEXT},
    enums={"result.data[].s": ("BUY", "SELL")},
    units={"result.data[].t": "ms"},
    historic=("result.data[].t",),  # the subscription's snapshot of the last 50 trades
)
TICKER = _push(
    "ticker",
    "ticker-instrument_name",
    list[Ticker],
    types={f"result.data[].{k}": "string|null" for k in ("b", "bs", "k", "ks")},
    units={"result.data[].t": "ms"},
    documented={f"result.data[].{k}": "string|null" for k in ("h", "l", "a", "c", "v", "vv", "oi")}
    | {"result.data[].i": _TEXT},
)
ANSWER = MessageContract(
    name="answer",
    doc=Doc(f"{_DOCS}#websocket-subscriptions", CHECKED),
    struct=Envelope,
    omit=("result",),
    required=("id", "code"),
)
HEARTBEAT = MessageContract(
    name="heartbeat",
    doc=Doc(f"{_DOCS}#websocket-heartbeats", CHECKED),
    struct=Envelope,
    omit=("code", "message", "result"),
    enums={"method": ("public/heartbeat",)},
    required=("id",),
)
INSTRUMENTS = MessageContract(
    name="rest:get-instruments",
    doc=Doc(f"{_DOCS}#public-get-instruments", CHECKED),
    struct=InstrumentsReply,
    payload={"result": V1Instruments},
    enums={"result.data[].inst_type": ("CCY_PAIR", "PERPETUAL_SWAP", "FUTURE")},
    open=("result.data[]",),  # a dozen documented fields per instrument; we read five
)
#: Understood, not stored.
IGNORED = frozenset({"candlestick"})


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if value.get("method") == "public/heartbeat":
                return HEARTBEAT.name
            result = value.get("result")
            if isinstance(result, dict) and isinstance(result.get("channel"), str):
                # v1 pushes carry an id (-1, or the request's); the retired v2's none.
                prefix = "" if "id" in value else "v2:"
                return prefix + result["channel"]
            if "code" in value and "id" in value:
                return ANSWER.name
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    if path == "/exchange/v1/public/get-instruments":
        return INSTRUMENTS.name
    return f"rest:{path}"


CONTRACT = VenueContract(
    venue="crypto-com",
    messages=(BOOK, BOOK_UPDATE, TRADE, TICKER, ANSWER, HEARTBEAT, INSTRUMENTS),
    rules=Rules(
        sequence="book snapshot (u) per subscription, then book.update whose pu equals "
        "the last u applied; a mismatch means re-subscribe; empty deltas still chain",
        checksum=None,
        heartbeat="server sends public/heartbeat (id) every 30 s; the client must answer "
        "public/respond-heartbeat with the same id within 5 s or the connection closes",
        connection_lifetime_s=None,
        subscribe_ack='{"id":N,"code":0,"method":"subscribe"}, then the pushes',
        doc=Doc(f"{_DOCS}#websocket-heartbeats", CHECKED),
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
