"""Binance wire shapes the simulator speaks: stream names, frames and REST bodies.

Kept apart from the generator so the two dialects (spot and futures) are visible
side by side, field for field, as ``adapters/binance/adapter.py`` decodes them:

* spot (``binance-spot``, ``binance-us``, ``binance-tr``): ``depthUpdate`` with
  ``U``/``u`` and no ``pu``; ``bookTicker`` without ``e``/``E``/``T``; ``trade``
  with ``m`` and ``M``; REST snapshot without ``E``/``T``;
* futures (``binance-usdm``, ``binance-coinm``): ``depthUpdate`` with
  ``E``/``T``/``U``/``u``/``pu``; ``bookTicker`` with ``e``/``E``/``T``;
  ``trade`` with ``X: "MARKET"``; REST snapshot with ``E`` and ``T``; and the
  derivative streams ``markPrice`` (once a second), ``forceOrder`` (every
  ``LIQUIDATION_EVERY``-th trade is also a liquidation) and REST ``openInterest``.

Key order follows the live frames in the corpus recordings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from adapters.binance.adapter import VENUES
from collector.simulator.book import BookEvent, TradeEvent

_encode = msgspec.json.Encoder().encode

#: Stream kinds the generated source produces.
KINDS = ("depth", "bookTicker", "trade", "aggTrade", "markPrice", "forceOrder")
#: Funding every 8 hours (Binance's default interval), at 00:00, 08:00, 16:00 UTC.
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
FUNDING_RATE = "0.00010000"
#: Every n-th generated trade of a futures symbol is also reported as a liquidation.
LIQUIDATION_EVERY = 5

#: REST depth path (after the slug) per venue.
DEPTH_PATHS = {
    slug: "/" + venue.rest_depth.split("://", 1)[1].split("/", 1)[1]
    for slug, venue in VENUES.items()
}


def is_futures(slug: str) -> bool:
    return VENUES[slug].futures


def parse_stream(name: str) -> tuple[str, str] | None:
    """``"btcusdt@depth@100ms"`` -> ``("btcusdt", "depth")``; ``None`` for other streams.

    Every diff-depth speed (``@depth``, ``@depth@100ms``, ``@depth@0ms``…) maps to
    the one generated event stream; partial-book streams (``@depth20``) and any
    other channel are accepted by the server but never produce frames, as
    Binance does with stream names it does not serve.
    """
    symbol, _, channel = name.lower().partition("@")
    if channel == "depth" or (channel.startswith("depth@") and channel.endswith("ms")):
        return symbol, "depth"
    if channel in ("bookticker", "trade", "aggtrade"):
        return symbol, {"bookticker": "bookTicker", "trade": "trade"}.get(channel, "aggTrade")
    if channel in ("markprice", "markprice@1s"):
        return symbol, "markPrice"
    if channel == "forceorder":
        return symbol, "forceOrder"
    return None


#: ``moved_endpoint`` drift: the stream paths move under this prefix.
MOVED_PREFIX = "ws2/"

#: Websocket paths (after the slug) the moved endpoint answers on.
MOVED_PATHS = ("ws2/stream", "ws2/public/stream", "ws2/market/stream")


#: ``route_split`` drift: the one path that serves raw trades, per futures venue (issue 16:
#: USD-M's are silent on ``/market``, COIN-M's on ``/public`` and the unrouted path).
ROUTE_SPLIT_TRADES = {"binance-usdm": "public/stream", "binance-coinm": "market/stream"}


def served_on(slug: str, path: str, stream: str) -> bool:
    """Whether ``stream`` is delivered on websocket ``path`` of ``slug`` (no drift mode on).

    USD-M split its endpoints (announced 2026-03-06): ``/public`` carries depth
    and bookTicker, ``/market`` everything else, and the legacy ``/stream`` still
    completes the handshake but sends nothing. Raw trades are on both routed
    paths (reports of 2026-09 see them on ``/public``, libraries route them to
    ``/market``). COIN-M serves the same routed paths and, as documented,
    everything on its unrouted ``/stream``. Spot serves all on ``/stream``.
    The ``moved_endpoint`` drift's paths (``ws2/...``) follow the same split, and
    its ``ws2/stream`` serves every stream on every venue.
    """
    if path.startswith(MOVED_PREFIX):
        path = path.removeprefix(MOVED_PREFIX)
        if path == "stream":
            return True
    if not is_futures(slug) or (slug == "binance-coinm" and path == "stream"):
        return path == "stream"
    channel = stream.lower().partition("@")[2]
    if channel == "trade":
        return path in ("public/stream", "market/stream")
    public = channel.startswith("depth") or channel == "bookticker"
    return path == ("public/stream" if public else "market/stream")


def trade_path(slug: str, trade_route: str | None) -> str:
    """The one path serving ``slug``'s raw trades under ``route_split``; ``trade_route``
    (``public``, ``market``, ``stream``) overrides the venue's own."""
    if trade_route is None:
        return ROUTE_SPLIT_TRADES[slug]
    return "stream" if trade_route == "stream" else f"{trade_route}/stream"


def combined(stream: str, data: str) -> str:
    """Wrap a payload as a combined-stream frame."""
    return f'{{"stream":"{stream}","data":{data}}}'


def depth_data(slug: str, symbol: str, ev: BookEvent, now_ms: int, drift: str | None = None) -> str:
    """A depthUpdate payload; ``drift`` applies the shape drift modes (see ``faults``)."""
    if is_futures(slug):
        body: dict[str, Any] = {
            "e": "depthUpdate",
            "E": now_ms,
            "T": now_ms,
            "s": symbol,
            "U": ev.first_id,
            "u": ev.last_id,
            "pu": ev.prev_id,
            "b": ev.bids,
            "a": ev.asks,
        }
    else:
        body = {
            "e": "depthUpdate",
            "E": now_ms,
            "s": symbol,
            "U": ev.first_id,
            "u": ev.last_id,
            "b": ev.bids,
            "a": ev.asks,
        }
    if drift == "renamed_field":
        body = {{"b": "bids", "a": "asks"}.get(k, k): v for k, v in body.items()}
    elif drift == "number_as_string":
        body["E"] = str(body["E"])
    elif drift == "new_field":
        body["X"] = "new"
    return _encode(body).decode()


def unknown_data(symbol: str, ev: BookEvent, now_ms: int) -> str:
    """``unknown_message`` drift: an event type no client knows, on the depth stream."""
    body = {"e": "depthUpdateV2", "E": now_ms, "s": symbol, "seq": ev.last_id}
    return _encode(body).decode()


def _price(price: str, drift: str | None) -> Any:
    """``number_as_string`` drift sends the price string as a JSON number, digits unchanged."""
    return msgspec.Raw(price.encode()) if drift == "number_as_string" else price


def book_ticker_data(slug: str, symbol: str, ev: BookEvent, now_ms: int) -> str:
    (b, bq), (a, aq) = ev.best_bid, ev.best_ask
    body: dict[str, Any] = {"u": ev.last_id, "s": symbol, "b": b, "B": bq, "a": a, "A": aq}
    if is_futures(slug):
        body = {"e": "bookTicker", **body, "T": now_ms, "E": now_ms}
    return _encode(body).decode()


def trade_data(slug: str, symbol: str, t: TradeEvent, now_ms: int, drift: str | None = None) -> str:
    if is_futures(slug):
        body: dict[str, Any] = {
            "e": "trade",
            "E": now_ms,
            "T": now_ms,
            "s": symbol,
            "t": t.trade_id,
            "p": _price(t.price, drift),
            "q": t.size,
            "X": "MARKET",
            "m": t.buyer_is_maker,
        }
    else:
        body = {
            "e": "trade",
            "E": now_ms,
            "s": symbol,
            "t": t.trade_id,
            "p": _price(t.price, drift),
            "q": t.size,
            "T": now_ms,
            "m": t.buyer_is_maker,
            "M": True,
        }
    return _encode(body).decode()


def agg_trade_data(
    slug: str, symbol: str, t: TradeEvent, now_ms: int, drift: str | None = None
) -> str:
    """One fill is one aggregate: ``a`` reuses the trade id, ``f == l``."""
    body: dict[str, Any] = {
        "e": "aggTrade",
        "E": now_ms,
        "a": t.trade_id,
        "s": symbol,
        "p": _price(t.price, drift),
        "q": t.size,
        "f": t.trade_id,
        "l": t.trade_id,
        "T": now_ms,
        "m": t.buyer_is_maker,
    }
    if not is_futures(slug):
        body["M"] = True
    return _encode(body).decode()


def mark_price_data(symbol: str, ev: BookEvent, now_ms: int, drift: str | None = None) -> str:
    """``markPriceUpdate``: mark = the book's mid, index = the best bid (exact decimal text).

    ``renamed_field`` drift sends the mark price ``p`` as ``markPrice``, so a
    derivative frame can drift as the depth frames do."""
    mid = (Decimal(ev.best_bid[0]) + Decimal(ev.best_ask[0])) / 2
    next_funding = (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
    body = {
        "e": "markPriceUpdate",
        "E": now_ms,
        "s": symbol,
        "p": format(mid, "f"),
        "i": ev.best_bid[0],
        "P": ev.best_bid[0],
        "r": FUNDING_RATE,
        "T": next_funding,
    }
    if drift == "renamed_field":
        body = {("markPrice" if k == "p" else k): v for k, v in body.items()}
    return _encode(body).decode()


def force_order_data(symbol: str, t: TradeEvent, now_ms: int) -> str:
    """``forceOrder``: the trade as a filled liquidation order on the taker's side."""
    order = {
        "s": symbol,
        "S": "SELL" if t.buyer_is_maker else "BUY",
        "o": "LIMIT",
        "f": "IOC",
        "q": t.size,
        "p": t.price,
        "ap": t.price,
        "X": "FILLED",
        "l": t.size,
        "z": t.size,
        "T": now_ms,
    }
    return _encode({"e": "forceOrder", "E": now_ms, "o": order}).decode()


def open_interest_body(symbol: str, open_interest: str, now_ms: int) -> str:
    """``GET /fapi/v1/openInterest`` answer (COIN-M adds pair and contractType; not needed)."""
    return _encode({"openInterest": open_interest, "symbol": symbol, "time": now_ms}).decode()


def snapshot_body(
    slug: str, last_id: int, bids: list[list[str]], asks: list[list[str]], now_ms: int
) -> str:
    body: dict[str, Any] = {"lastUpdateId": last_id}
    if is_futures(slug):
        body |= {"E": now_ms, "T": now_ms}
    body |= {"bids": bids, "asks": asks}
    return _encode(body).decode()


def server_shutdown(now_ms: int) -> str:
    """Spot's ``serverShutdown`` notice (2026-05-08), sent as a raw event."""
    return _encode({"e": "serverShutdown", "E": now_ms}).decode()


def error_body(code: int, msg: str) -> str:
    return _encode({"code": code, "msg": msg}).decode()


def depth_weight(slug: str, limit: int) -> int:
    """Request weight of one depth call, per the venues' published tables."""
    if is_futures(slug):
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
