"""Binance contracts: spot (binance-spot/us/tr), USD-M and COIN-M futures.

One family, three shapes: futures depth carries ``T``/``pu`` (and COIN-M ``ps``), futures
bookTicker carries ``e``/``E``/``T``; spot sends neither. Each slug gets the variant its
adapter decodes, so a spot field appearing on a futures stream (or vanishing) is drift.
"""

from __future__ import annotations

from typing import Any

from adapters.binance.wire import (
    BinanceAggTrade,
    BinanceBookTicker,
    BinanceDepthSnapshot,
    BinanceDepthUpdate,
    BinanceForceOrder,
    BinanceMarkPrice,
    BinanceOpenInterest,
    BinanceTrade,
    Envelope,
    ExchangeInfo,
)
from collector.contract.classify import rest_path, shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_SPOT = "https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams"
_USDM = (
    "https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams"
)
_COINM = (
    "https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams"
)
_REST_SPOT = "https://developers.binance.com/docs/binance-spot-api-docs/rest-api"
_PUSH_OMIT = ("e", "u", "id", "result", "error", "code", "msg")
#: Channels the adapter understands but does not store, as ``classify`` names them: by
#: stream (``btcusdt@ticker`` -> ``ticker``, ``@ticker_1h`` too), or by event type where a
#: known stream carries a new one.
IGNORED = frozenset(
    {
        "kline",
        "ticker",
        "miniTicker",
        "24hrTicker",
        "24hrMiniTicker",
        "depthN",
        "reply",
    }
)


def _messages(market: str) -> tuple[MessageContract, ...]:
    futures = market != "spot"
    doc = Doc({"spot": _SPOT, "usdm": _USDM, "coinm": _COINM}[market], CHECKED)
    pair = {"data.ps": "string"} if market == "coinm" else {}
    depth = MessageContract(
        name="depthUpdate",
        doc=doc,
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": BinanceDepthUpdate},
        documented={"data.e": "string", **pair},
        enums={"data.e": ("depthUpdate",)},
        units={"data.E": "ms", "data.T": "ms"},
        required=("stream", "data", "data.e") + (("data.T", "data.pu") if futures else ()),
    )
    trade = MessageContract(
        name="trade",
        doc=doc,
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": BinanceTrade},
        documented={"data.e": "string", "data.E": "int", "data.M": "bool"},
        enums={"data.e": ("trade",), "data.X": ("MARKET", "LIQUIDATION", "INSURANCE_FUND", "ADL")},
        units={"data.E": "ms", "data.T": "ms"},
        required=("stream", "data", "data.e", "data.E") + (("data.X",) if futures else ()),
    )
    agg = MessageContract(
        name="aggTrade",
        doc=doc,
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": BinanceAggTrade},
        documented={
            "data.e": "string",
            "data.E": "int",
            "data.f": "int",  # first trade id
            "data.l": "int",  # last trade id
            "data.M": "bool",  # spot: "ignore"
            "data.nq": "string",  # USD-M: quantity without RPI orders
        },
        enums={"data.e": ("aggTrade",)},
        units={"data.E": "ms", "data.T": "ms"},
        required=("stream", "data", "data.e", "data.E"),
    )
    ticker = MessageContract(
        name="bookTicker",
        doc=doc,
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": BinanceBookTicker},
        documented={"data.e": "string", "data.E": "int", **pair} if futures else {},
        enums={"data.e": ("bookTicker",)} if futures else {},
        units={"data.E": "ms", "data.T": "ms"} if futures else {},
        required=("stream", "data") + (("data.e", "data.E", "data.T") if futures else ()),
    )
    depth_rest = MessageContract(
        name="rest:depth",
        doc=Doc(_REST_SPOT if not futures else doc.url, CHECKED),
        struct=BinanceDepthSnapshot,
        documented={"symbol": "string", "pair": "string"} if market == "coinm" else {},
        units={"E": "ms", "T": "ms"},
        required=("E", "T") if futures else (),
    )
    info = MessageContract(
        name="rest:exchangeInfo",
        doc=Doc(_REST_SPOT if not futures else doc.url, CHECKED),
        struct=ExchangeInfo,
        open=("", "symbols[]"),  # dozens of documented filters and limits; we read four
    )
    if not futures:
        return (depth, trade, agg, ticker, depth_rest, info)
    return (depth, trade, agg, ticker, depth_rest, info, *_derivatives(market, doc.url))


def _derivatives(market: str, streams: str) -> tuple[MessageContract, ...]:
    """Futures only: mark price and funding, liquidations, and the polled open interest."""
    pair = {"data.o.ps": "string"} if market == "coinm" else {}
    mark = MessageContract(
        name="markPrice",
        doc=Doc(streams + "/Mark-Price-Stream", CHECKED),
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": BinanceMarkPrice},
        documented={"data.e": "string"},
        enums={"data.e": ("markPriceUpdate",)},
        units={"data.E": "ms"},  # data.T: next funding, hours ahead (0 for delivery)
        required=("stream", "data", "data.e"),
    )
    force = MessageContract(
        name="forceOrder",
        doc=Doc(streams + "/Liquidation-Order-Streams", CHECKED),
        struct=Envelope,
        omit=_PUSH_OMIT,
        payload={"data": BinanceForceOrder},
        documented={
            "data.e": "string",
            "data.o.o": "string",  # order type
            "data.o.f": "string",  # time in force
            "data.o.X": "string",  # order status
            "data.o.l": "string",  # last filled quantity
            **pair,
        },
        enums={"data.e": ("forceOrder",), "data.o.S": ("BUY", "SELL")},
        units={"data.E": "ms", "data.o.T": "ms"},
        required=("stream", "data", "data.e"),
    )
    rest = "usds-margined-futures" if market == "usdm" else "coin-margined-futures"
    open_interest = MessageContract(
        name="rest:openInterest",
        doc=Doc(
            f"https://developers.binance.com/docs/derivatives/{rest}/market-data/rest-api/"
            "Open-Interest",
            CHECKED,
        ),
        struct=BinanceOpenInterest,
        documented={"pair": "string", "contractType": "string"} if market == "coinm" else {},
        units={"time": "ms"},
    )
    return (mark, force, open_interest)


def _channel(stream: str) -> str:
    channel = stream.partition("@")[2]
    if channel.startswith("depth"):
        name = channel.partition("@")[0]
        return "depthUpdate" if name == "depth" else "depthN"
    return channel.partition("@")[0].partition("_")[0]  # kline_1m -> kline, markPrice@1s


#: Channel -> the event types (``data.e``) its stream carries, where it names one.
_EVENTS = {
    "depthUpdate": ("depthUpdate",),
    "trade": ("trade",),
    "aggTrade": ("aggTrade",),
    "bookTicker": ("bookTicker",),
    "markPrice": ("markPriceUpdate",),
    "forceOrder": ("forceOrder",),
}


def _classifier() -> Classifier:
    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            stream = value.get("stream")
            if isinstance(stream, str):
                channel = _channel(stream)
                data = value.get("data")
                event = data.get("e") if isinstance(data, dict) else None
                if isinstance(event, str) and event not in _EVENTS.get(channel, (event,)):
                    return event  # a new event type on a known stream: not a broken depthUpdate
                return channel
            if "result" in value and "id" in value:
                return "reply"
            if value.get("e") == "serverShutdown":
                return "serverShutdown"
        return shape_name(value)

    return classify


def _rest(url: str, value: Any) -> str:
    path = rest_path(url)
    for suffix in ("/depth", "/exchangeInfo", "/openInterest"):
        if path.endswith(suffix):
            return "rest:" + suffix[1:]
    return f"rest:{path}"


def contract(market: str) -> VenueContract:
    """The contract of one Binance market: ``spot``, ``usdm`` or ``coinm``."""
    futures = market != "spot"
    return VenueContract(
        venue=f"binance-{market}",
        messages=_messages(market),
        rules=Rules(
            sequence="REST lastUpdateId L; futures: drop u < L, first U <= L <= u, then pu == "
            "previous u; spot: drop u <= L, first U <= L+1 <= u, then U == previous u + 1",
            checksum=None,
            heartbeat="server ping frame every 3 min (futures) / 20 s (spot); pong in time",
            connection_lifetime_s=24 * 3600.0,
            subscribe_ack='{"result":null,"id":N} per SUBSCRIBE request',
            doc=Doc(_USDM if futures else _SPOT, CHECKED),
        ),
        classifier=_classifier,
        rest_classifier=_rest,
        ignored=IGNORED,
    )


SPOT = contract("spot")
USDM = contract("usdm")
COINM = contract("coinm")
