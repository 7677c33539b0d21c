"""Bitfinex v2 contract: ``book`` (P0), ``trades`` and the JSON events, with SEQ_ALL on.

Channel frames are positional arrays whose meaning depends on the channel id named by an
earlier ``subscribed`` event, so the classifier keeps a per-connection id -> channel map.
The adapter enables SEQ_ALL and OB_CHECKSUM (``conf``), so every channel frame ends in a
sequence number and books carry ``cs`` frames.
"""

from __future__ import annotations

from typing import Any

from adapters.bitfinex.wire import (
    BookSnapshotFrame,
    BookUpdateFrame,
    ChecksumFrame,
    DerivStatusFrame,
    Event,
    HeartbeatFrame,
    LiquidationFeedFrame,
    TradeSnapshotFrame,
    TradeTaggedFrame,
)
from collector.contract.classify import shape_name
from collector.contract.model import Classifier, Doc, MessageContract, Rules, VenueContract

CHECKED = "2026-11-28"
_DOCS = "https://docs.bitfinex.com/reference-link/"
_BOOK = Doc(_DOCS + "ws-public-books", CHECKED)
_TRADES = Doc(_DOCS + "ws-public-trades", CHECKED)
_GENERAL = Doc("https://docs.bitfinex.com/docs/ws-general", CHECKED)


_LEVEL = {"price": "number", "amount": "number"}
BOOK_UPDATE = MessageContract(
    name="book.update",
    doc=_BOOK,
    struct=BookUpdateFrame,
    types={"[1][0]": "number", "[1][2]": "number"},
)
BOOK_SNAPSHOT = MessageContract(
    name="book.snapshot",
    doc=_BOOK,
    struct=BookSnapshotFrame,
    types={"[1][][0]": "number", "[1][][2]": "number"},
)
TRADES_SNAPSHOT = MessageContract(
    name="trades.snapshot",
    doc=_TRADES,
    struct=TradeSnapshotFrame,
    types={"[1][][2]": "number", "[1][][3]": "number"},
    units={"[1][][1]": "ms"},
    historic=("[1][][1]",),  # the last trades, hours old on quiet pairs
)
TRADES_TE = MessageContract(
    name="trades.te",
    doc=_TRADES,
    struct=TradeTaggedFrame,
    enums={"[1]": ("te",)},
    types={"[2][2]": "number", "[2][3]": "number"},
    units={"[2][1]": "ms"},
)
_STATUS = Doc(_DOCS + "ws-public-status", CHECKED)
DERIV_STATUS = MessageContract(
    name="status.deriv",
    doc=_STATUS,
    struct=DerivStatusFrame,  # positional values, appended to over time: checked by the adapter
)
LIQUIDATION_FEED = MessageContract(
    name="status.liq",
    doc=_STATUS,
    struct=LiquidationFeedFrame,
)
CHECKSUM = MessageContract(name="book.cs", doc=_BOOK, struct=ChecksumFrame, enums={"[1]": ("cs",)})
HEARTBEAT = MessageContract(name="hb", doc=_GENERAL, struct=HeartbeatFrame, enums={"[1]": ("hb",)})
EVENT = MessageContract(
    name="event",
    doc=_GENERAL,
    struct=Event,
    enums={
        "event": ("info", "conf", "subscribed", "unsubscribed", "error", "pong"),
        "channel": ("book", "trades", "ticker", "candles", "status"),
        "prec": ("P0", "P1", "P2", "P3", "P4", "R0"),
        "freq": ("F0", "F1"),
    },
    documented={
        "serverId": "string",  # info
        "pair": "string",  # subscribed: symbol without the t prefix
        "currency": "string",  # subscribed (funding)
        "ts": "int",  # pong
    },
    units={"ts": "ms"},
    required=("event",),
)
#: Channels and tags the adapter understands but does not store.
IGNORED = frozenset({"ticker", "candles", "trades.tu"})


def _classifier() -> Classifier:
    channels: dict[tuple[int, int], str] = {}

    def classify(value: Any, conn: int) -> str:
        if isinstance(value, dict):
            if value.get("event") == "subscribed" and isinstance(value.get("chanId"), int):
                channel = str(value.get("channel"))
                if channel == "status":  # one channel, two payloads: deriv: or liq: keys
                    channel += "." + str(value.get("key", "")).partition(":")[0]
                channels[conn, value["chanId"]] = channel
            return "event"
        if not isinstance(value, list) or len(value) < 2 or not isinstance(value[0], int):
            return shape_name(value)
        channel = channels.get((conn, value[0]), "unsubscribed-channel")
        second = value[1]
        if isinstance(second, str):
            return "hb" if second == "hb" else f"{channel}.{second}"
        if channel in ("book", "trades") and isinstance(second, list):
            many = bool(second) and isinstance(second[0], list)
            return f"{channel}.snapshot" if many or not second else f"{channel}.update"
        return channel

    return classify


def _rest(url: str, value: Any) -> str:
    # instrument lists (conf/pub:list:pair:exchange, ...) are open-ended arrays of names
    return "rest:conf" if "/conf/" in url else f"rest:{url}"


REST_CONF = MessageContract(
    name="rest:conf",
    doc=Doc("https://docs.bitfinex.com/reference/rest-public-conf", CHECKED),
    struct=list[list[Any]],
)

CONTRACT = VenueContract(
    venue="bitfinex",
    messages=(
        BOOK_UPDATE,
        BOOK_SNAPSHOT,
        TRADES_SNAPSHOT,
        TRADES_TE,
        DERIV_STATUS,
        LIQUIDATION_FEED,
        CHECKSUM,
        HEARTBEAT,
        EVENT,
        REST_CONF,
    ),
    rules=Rules(
        sequence="SEQ_ALL: the last element of every channel frame is +1 per frame on the "
        "connection (heartbeats included)",
        checksum="OB_CHECKSUM: [chanId,'cs',int32] = signed CRC32 of the top 25 levels per "
        "side, interleaved bid/ask 'price:amount' with JavaScript number text",
        heartbeat="[chanId,'hb'] every 15 s per idle channel",
        connection_lifetime_s=None,
        subscribe_ack="{'event':'subscribed','chanId':N,...} per channel",
        doc=_GENERAL,
    ),
    classifier=_classifier,
    rest_classifier=_rest,
    ignored=IGNORED,
)
