"""tardis.dev raw data files: one ``<localTimestamp> <message>`` line per received message.

The local timestamp is always 28 characters, ISO 8601 UTC with 7 fractional
digits (``2024-08-08T00:00:00.0491700Z``), i.e. 100 ns resolution; it becomes the
record's ``ts`` (our ``ts_recv``) exactly. Messages are the exchange's websocket
payloads verbatim, so they go through the adapters as ``recv`` records, as if
they had arrived live. An empty line is where tardis lost its connection: the
open connections close there and the next message opens new ones.

Where an exchange needs a REST snapshot, tardis fetches it and inserts it as a
*generated* message, e.g. Binance's
``{"stream":"btcusdt@depthSnapshot","generated":true,"data":{...lastUpdateId...}}``.
Such a snapshot becomes the ``http`` record our adapter would have fetched: the
venue's depth URL for that symbol and the ``data`` object verbatim as the body.
Other generated messages (open interest, liquidations polled over REST) carry
nothing we normalize and are skipped, with one log line counting them.

Only exchanges whose tardis messages have the live shape are mapped (see
:data:`VENUES`); a tardis id that is not there is refused rather than guessed.
Bitfinex is not: tardis appends the channel name and symbol to every array
message, which the live feed never sends.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from collector.capture.records import CaptureFormatError, Record
from collector.formats.source import lines, text

_log = logging.getLogger(__name__)

#: A tardis line starts like this (the fraction has 7 digits in every file seen; any is read).
LINE_START: Final = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z [\[{]")


def _bybit_category(message: bytes) -> str | None:
    """``linear`` or ``inverse`` for a message of tardis's ``bybit`` (all derivatives) feed.

    tardis records Bybit's linear and inverse connections into one file; the
    topic's symbol tells them apart the way Bybit names contracts: USDT and USDC
    margined ones (``BTCUSDT``, ``BTCPERP``, ``ETH-26DEC25`` are USDC/USDT) are
    linear, coin margined ones (``BTCUSD``, ``BTCUSDH25``) inverse.
    """
    try:
        topic = _topic.decode(message).topic
    except msgspec.DecodeError:
        return None  # malformed: the adapter reports it, on the connection before
    if topic is None:
        return None  # a reply (subscribe ack, pong): it belongs to the connection before
    symbol = topic.rpartition(".")[2]
    if "USDT" in symbol or "USDC" in symbol or symbol.endswith("PERP") or "-" in symbol:
        return "linear"
    return "inverse"


class _Topic(msgspec.Struct):
    topic: str | None = None


class _Generated(msgspec.Struct):
    stream: str = ""
    generated: bool = False
    data: msgspec.Raw = msgspec.Raw()


_topic: Final = msgspec.json.Decoder(_Topic)
_generated: Final = msgspec.json.Decoder(_Generated)


@dataclass(frozen=True)
class TardisVenue:
    """How one tardis exchange id maps onto our adapters."""

    slug: str
    """Our adapter slug."""
    url: str
    """Websocket URL tardis connects to (what ``connected(conn, url)`` is told)."""
    depth_url: str | None = None
    """REST depth endpoint behind generated ``<symbol>@depthSnapshot`` messages (Binance)."""
    category: Callable[[bytes], str | None] | None = None
    """For a feed tardis records from several URLs into one file: the URL path's last
    segment for one message (Bybit derivatives: ``linear`` or ``inverse``), ``None``
    when the message does not say."""

    def url_of(self, message: bytes, previous: str | None) -> str:
        """The connection ``message`` came in on; ``previous``: the last message's."""
        if self.category is None:
            return self.url
        category = self.category(message)
        if category is None:
            return previous or self.url
        return self.url.rpartition("/")[0] + "/" + category


_BYBIT = "wss://stream.bybit.com/v5/public/"
_OKX = "wss://ws.okx.com:8443/ws/v5/public"

#: tardis exchange id -> our adapter and the URLs tardis uses. Documented in the
#: README's replay section; keep the two in step.
VENUES: Final[dict[str, TardisVenue]] = {
    "binance": TardisVenue(
        "binance-spot",
        "wss://stream.binance.com:9443/stream",
        "https://api.binance.com/api/v3/depth",
    ),
    "binance-us": TardisVenue(
        "binance-us", "wss://stream.binance.us:9443/stream", "https://api.binance.us/api/v3/depth"
    ),
    "binance-futures": TardisVenue(
        "binance-usdm", "wss://fstream.binance.com/stream", "https://fapi.binance.com/fapi/v1/depth"
    ),
    "binance-delivery": TardisVenue(
        "binance-coinm",
        "wss://dstream.binance.com/stream",
        "https://dapi.binance.com/dapi/v1/depth",
    ),
    "okex": TardisVenue("okx", _OKX),
    "okex-swap": TardisVenue("okx", _OKX),
    "okex-futures": TardisVenue("okx", _OKX),
    "okex-options": TardisVenue("okx", _OKX),
    "bybit": TardisVenue("bybit", _BYBIT + "linear", category=_bybit_category),
    "bybit-spot": TardisVenue("bybit", _BYBIT + "spot"),
    "bybit-options": TardisVenue("bybit", _BYBIT + "option"),
    "coinbase": TardisVenue("coinbase-exchange", "wss://ws-feed.exchange.coinbase.com"),
    "kraken": TardisVenue("kraken", "wss://ws.kraken.com"),
    "deribit": TardisVenue("deribit", "wss://www.deribit.com/ws/api/v2"),
    "bitmex": TardisVenue("bitmex", "wss://ws.bitmex.com/realtime"),
}

#: Our slug -> the tardis id meaning the same market, for ``--exchange <slug>``.
_BY_SLUG: Final = {
    "binance-spot": "binance",
    "binance-us": "binance-us",
    "binance-usdm": "binance-futures",
    "binance-coinm": "binance-delivery",
    "okx": "okex",
    "bybit": "bybit",
    "coinbase-exchange": "coinbase",
    "kraken": "kraken",
    "deribit": "deribit",
    "bitmex": "bitmex",
}


def venue(exchange: str | None, path: Path) -> TardisVenue:
    """The venue for ``--exchange``: a tardis id first (``coinbase`` is Coinbase Exchange
    there), else one of our slugs."""
    if exchange is None:
        raise CaptureFormatError(
            f"{path}: a tardis file does not name its exchange; pass --exchange "
            f"(a tardis id: {', '.join(VENUES)})"
        )
    key = exchange if exchange in VENUES else _BY_SLUG.get(exchange)
    if key is None:
        raise CaptureFormatError(
            f"{path}: no mapping from tardis exchange {exchange!r} to one of our adapters; "
            f"mapped: {', '.join(VENUES)}"
        )
    return VENUES[key]


def sniff(head: bytes) -> bool:
    return LINE_START.match(head) is not None


def read_tardis(path: Path, where: TardisVenue, url: str | None = None) -> Iterator[Record]:
    """The records of a tardis raw file; ``url`` (``--url``) replaces the venue's URLs."""
    conns: dict[str, int] = {}  # open connections by URL
    opened = 0
    target: str | None = None
    last_ts = 0
    skipped: dict[str, int] = {}
    clock = _Clock()
    for number, line in enumerate(lines(path), 1):
        if not line:
            for conn in conns.values():
                yield Record("close", last_ts, conn, "tardis: connection lost (empty line)")
            conns.clear()
            continue
        stamp, space, message = line.partition(b" ")
        if not space or not message:
            raise CaptureFormatError(f"{path}:{number}: not a tardis line: {line[:80]!r}")
        last_ts = ts = clock.ns(stamp, path, number)
        if b'"generated":true' in message:
            http = _rest_record(message, ts, where, path, number)
            if isinstance(http, str):
                skipped[http] = skipped.get(http, 0) + 1
            else:
                yield http
            continue
        target = url or where.url_of(message, target)
        conn = conns.get(target)
        if conn is None:
            opened += 1
            conn = conns[target] = opened
            yield Record("open", ts, conn, "", target)
        yield Record("recv", ts, conn, text(message, path, number))
    if skipped:
        _log.info("%s: generated messages skipped (no normalized table): %s", path, skipped)


def _rest_record(
    message: bytes, ts: int, where: TardisVenue, path: Path, number: int
) -> Record | str:
    """The ``http`` record behind a generated snapshot message, else what it generated."""
    try:
        gen = _generated.decode(message)
    except msgspec.DecodeError as exc:
        raise CaptureFormatError(f"{path}:{number}: bad generated message: {exc}") from exc
    symbol, _, channel = gen.stream.partition("@")
    if channel != "depthSnapshot" or where.depth_url is None or not gen.data:
        return channel or "other"
    url = f"{where.depth_url}?symbol={symbol.upper()}&limit=1000"
    return Record("http", ts, 0, text(bytes(gen.data), path, number), url, 200)


class _Clock:
    """Turns the 28-character local timestamps into ns, exactly.

    The date and time of day are converted once per distinct second (consecutive
    lines share it), the fraction is read as digits: no float is involved.
    """

    def __init__(self) -> None:
        self._second = b""
        self._epoch = 0

    def ns(self, stamp: bytes, path: Path, number: int) -> int:
        second, fraction = stamp[:19], stamp[19:-1]  # fraction: b"" or b".0491700"
        if (
            stamp[-1:] != b"Z"
            or len(second) != 19
            or (fraction and (fraction[:1] != b"." or not fraction[1:10].isdigit()))
            or len(fraction) > 10
        ):
            raise CaptureFormatError(f"{path}:{number}: bad tardis timestamp {stamp[:40]!r}")
        if second != self._second:
            try:
                parsed = time.strptime(second.decode(), "%Y-%m-%dT%H:%M:%S")
            except ValueError as exc:
                raise CaptureFormatError(
                    f"{path}:{number}: bad tardis timestamp {stamp[:40]!r}"
                ) from exc
            self._second, self._epoch = second, calendar.timegm(parsed) * 1_000_000_000
        return self._epoch + int(fraction[1:].ljust(9, b"0"))
