"""Gate.io v4 contracts: spot and USDT futures ``order_book_update``, ``trades``, ``book_ticker``.

Every websocket frame is one ``Envelope`` (``channel``, ``event``, ``result``); a data
push is named by its channel, a subscription answer ``<channel>:subscribe``.
"""

from __future__ import annotations

from typing import Any

from adapters.gateio.wire import (
    Contract,
    CurrencyPair,
    Envelope,
    FuturesBook,
    FuturesBookTicker,
    FuturesBookUpdate,
    FuturesTrade,
    SpotBook,
    SpotBookTicker,
    SpotBookUpdate,
    SpotTickers,
    SpotTrade,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-12-07"
_SPOT_WS = "https://www.gate.io/docs/developers/apiv4/ws/en/"
_FUTURES_WS = "https://www.gate.io/docs/developers/futures/ws/en/"
_REST = "https://www.gate.io/docs/developers/apiv4/en/"
_INT = "int"


def _push(name: str, doc: str, payload: Any, **extra: Any) -> MessageContract:
    return MessageContract(
        name=name,
        doc=Doc(doc, CHECKED),
        struct=Envelope,
        omit=("error",),
        payload={"result": payload},
        enums={"event": ("update", "all"), **extra.pop("enums", {})},
        required=("channel", "event", "result"),
        documented={"time_ms": _INT, "id": _INT, **extra.pop("documented", {})},
        **extra,
    )


def _ack(doc: str) -> MessageContract:
    return MessageContract(
        name="subscribe",
        doc=Doc(doc, CHECKED),
        struct=Envelope,
        enums={"event": ("subscribe", "unsubscribe")},
        open=("result",),  # {"status": "success"}
        documented={"time_ms": _INT, "id": _INT},
        required=("channel", "event"),
    )


def _rest_classifier(book: str, instruments: str) -> Any:
    def classify(url: str, value: Any) -> str:
        path = rest_path(url)
        if path.endswith(book):
            return "rest:order_book"
        if path.endswith(instruments):
            return "rest:instruments"
        return f"rest:{path}"

    return classify


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict) and isinstance(value.get("channel"), str):
            if value.get("event") in ("subscribe", "unsubscribe"):
                return "subscribe"
            return value["channel"]
        return shape_name(value)

    return classify


def _rules(market: str, book: str, doc: str) -> Rules:
    return Rules(
        sequence=f"REST {book}?with_id=true 'id': drop updates with u < id+1; the first kept "
        "has U <= id+1 <= u; then U = previous u + 1",
        checksum=None,
        heartbeat=f"websocket protocol pings; optional {market}.ping answered {market}.pong",
        connection_lifetime_s=None,
        subscribe_ack='{"event":"subscribe","result":{"status":"success"}} per subscribe',
        doc=Doc(doc, CHECKED),
    )


SPOT = VenueContract(
    venue="gateio",
    messages=(
        _push(
            "spot.order_book_update",
            _SPOT_WS + "#changed-order-book-levels",
            SpotBookUpdate,
            units={"result.t": "ms", "result.E": "s"},
            documented={"result.l": "string"},
        ),
        _push(
            "spot.trades",
            _SPOT_WS + "#public-trades-channel",
            SpotTrade,
            enums={"event": ("update",), "result.side": ("buy", "sell")},
            units={"result.create_time": "s", "result.create_time_ms": "ms"},
            documented={"result.range": "string"},
        ),
        _push(
            "spot.book_ticker",
            _SPOT_WS + "#best-bid-or-ask-price",
            SpotBookTicker,
            units={"result.t": "ms"},
        ),
        _push(
            "spot.tickers",
            _SPOT_WS + "#tickers-channel",
            SpotTickers,
            open=("result",),  # last, change_percentage, volumes, highs and lows: not read
        ),
        _ack(_SPOT_WS + "#subscribe-request"),
        MessageContract(
            name="rest:order_book",
            doc=Doc(_REST + "#retrieve-order-book", CHECKED),
            struct=SpotBook,
            units={"current": "ms", "update": "ms"},
            required=("id",),
        ),
        MessageContract(
            name="rest:instruments",
            doc=Doc(_REST + "#list-all-currency-pairs-supported", CHECKED),
            struct=list[CurrencyPair],
            open=("[]",),  # fee, precisions, minimum amounts, trading times: not read
        ),
    ),
    rules=_rules("spot", "/spot/order_book", _SPOT_WS + "#changed-order-book-levels"),
    classifier=_classifier,
    rest_classifier=_rest_classifier("/spot/order_book", "/spot/currency_pairs"),
    ignored=frozenset(("spot.candlesticks", "spot.pong")),
)

FUTURES = VenueContract(
    venue="gateio-futures",
    messages=(
        _push(
            "futures.order_book_update",
            _FUTURES_WS + "#order-book-update-subscription",
            FuturesBookUpdate,
            types={"result.b[].s": _INT, "result.a[].s": _INT},
            units={"result.t": "ms", "result.b[].s": "contracts", "result.a[].s": "contracts"},
            documented={"result.l": "string"},
        ),
        _push(
            "futures.trades",
            _FUTURES_WS + "#trades-subscription",
            list[FuturesTrade],
            types={"result[].size": _INT},
            units={
                "result[].create_time": "s",
                "result[].create_time_ms": "ms",
                "result[].size": "contracts",
            },
            documented={"time_ms": _INT, "id": _INT, "result[].is_internal": "bool"},
        ),
        _push(
            "futures.book_ticker",
            _FUTURES_WS + "#best-ask-bid-subscription",
            FuturesBookTicker,
            types={"result.B": _INT, "result.A": _INT},
            units={"result.t": "ms", "result.B": "contracts", "result.A": "contracts"},
        ),
        _ack(_FUTURES_WS + "#subscribe-request"),
        MessageContract(
            name="rest:order_book",
            doc=Doc(_REST + "#futures-order-book", CHECKED),
            struct=FuturesBook,
            types={"bids[].s": _INT, "asks[].s": _INT},
            units={"current": "s", "update": "s"},
            required=("id",),
        ),
        MessageContract(
            name="rest:instruments",
            doc=Doc(_REST + "#list-all-futures-contracts", CHECKED),
            struct=list[Contract],
            open=("[]",),  # ~40 documented fields per contract: not read
        ),
    ),
    rules=_rules(
        "futures", "/futures/usdt/order_book", _FUTURES_WS + "#order-book-update-subscription"
    ),
    classifier=_classifier,
    rest_classifier=_rest_classifier("/futures/usdt/order_book", "/futures/usdt/contracts"),
    ignored=frozenset(("futures.candlesticks", "futures.pong")),
)
