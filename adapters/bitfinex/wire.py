"""Bitfinex WebSocket v2 wire contract: the messages ``adapters.bitfinex`` consumes.

Written from (checked 2026-11-28 against stored copies):

* https://docs.bitfinex.com/docs/ws-general (events ``info``/``conf``/``error``/
  ``pong``, info codes 20051/20060/20061, conf flags, "new fields may be appended
  at the end of a message": entries are decoded as arrays with extra trailing
  fields ignored);
* https://docs.bitfinex.com/docs/ws-public (``subscribed``/``unsubscribed``,
  25 channels per connection, 20 connections a minute on api-pub);
* https://docs.bitfinex.com/reference-link/ws-public-books (``[PRICE, COUNT, AMOUNT]``);
* https://docs.bitfinex.com/reference-link/ws-public-trades (``[ID, MTS, AMOUNT, PRICE]``,
  ``te``/``tu``);
* https://docs.bitfinex.com/docs/ws-websocket-checksum (``[CHAN_ID, "cs", CHECKSUM]``).

Channel frames are JSON arrays ``[CHAN_ID, payload | tag, ..., SEQ?]``; they are
split into raw elements first and each payload is decoded once its channel is
known. Numbers stay ``msgspec.Raw``: their exact JSON text, never a float. Text
with an exponent (``1e-7``, seen in BITFINEX.jsonl.gz) is stored as plain decimal
(``collector.decimal_text.json_decimal``) and rendered back JavaScript-style
(``js_number``) for the checksum, which the docs build from JS numbers
(``Number.prototype.toString``).
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

import msgspec

from collector.json_numbers import json_decimal

#: conf flags (ws-general "Configuration").
FLAG_TIMESTAMP = 32768
FLAG_SEQ_ALL = 65536
FLAG_OB_CHECKSUM = 131072

#: info codes (ws-general "Info Messages").
INFO_RECONNECT = 20051  # Stop/Restart Websocket Server (please reconnect)
INFO_MAINTENANCE_START = 20060  # Entering maintenance mode: pause until 20061
INFO_MAINTENANCE_END = 20061  # Maintenance ended: unsubscribe/subscribe all channels again
#: Info codes answered by reconnecting (a new connection resubscribes everything).
INFO_SHUTDOWN = (INFO_RECONNECT, INFO_MAINTENANCE_START, INFO_MAINTENANCE_END)

_EXACT = Context(prec=100)


class Platform(msgspec.Struct, gc=False):
    status: int  # 1 = operative, 0 = maintenance


class Event(msgspec.Struct, gc=False):
    """Any ``{"event": ...}`` object: info, conf, subscribed, unsubscribed, error, pong."""

    event: str
    channel: str | None = None  # subscribed: "book", "trades", "ticker", ...
    chanId: int | None = None  # subscribed/unsubscribed: id of the channel on this connection
    symbol: str | None = None  # "tBTCUSD", "fUSD"
    prec: str | None = None  # book precision: P0..P4, R0 (raw)
    freq: str | None = None  # book frequency: F0 realtime, F1 every 2 s
    len: str | int | None = None  # book length: "1", "25", "100", "250"
    version: int | None = None  # info: API version (2)
    platform: Platform | None = None  # info: platform status
    code: int | None = None  # info/error code
    msg: str | None = None  # info/error text
    flags: int | None = None  # conf: flags in effect
    status: str | None = None  # conf/unsubscribed: "OK" or "FAILED"
    cid: int | None = None  # pong: the client id of the ping
    key: str | None = None  # status channel: "deriv:tBTCF0:USTF0" or "liq:global"


class BookEntry(msgspec.Struct, gc=False, array_like=True):
    """P0..P4 book entry (ws-public-books)."""

    price: msgspec.Raw  # price level
    count: int  # orders at the level; 0 deletes it
    amount: msgspec.Raw  # total amount: > 0 bid, < 0 ask; +-1 names the side of a delete


class TradeEntry(msgspec.Struct, gc=False, array_like=True):
    """Trading-pair trade (ws-public-trades)."""

    id: int  # trade id
    mts: int  # millisecond time of the trade
    amount: msgspec.Raw  # > 0 the taker bought, < 0 the taker sold
    price: msgspec.Raw


# --- Whole channel frames -------------------------------------------------------
# With SEQ_ALL on, every channel frame is ``[CHAN_ID, ..., SEQ]``. The adapter reads
# frames element by element (``frame_elements``); these whole-frame shapes are what the
# contract validates a frame against.


class BookUpdateFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    entry: BookEntry
    seq: int  # SEQ_ALL: +1 per frame on the connection


class BookSnapshotFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    entries: list[BookEntry]
    seq: int


class TradeSnapshotFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    trades: list[TradeEntry]
    seq: int


class TradeTaggedFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    tag: str  # "te" (fast, trade sequence) or "tu" (database id, 1-2 s later)
    trade: TradeEntry
    seq: int


class ChecksumFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    tag: str  # "cs"
    checksum: int  # signed CRC32 of the top 25 levels per side
    seq: int


class DerivStatusFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    values: list[Any]  # TIME_MS, _, DERIV_PRICE, SPOT_PRICE, ... (ws-public-status)
    seq: int


class LiquidationFeedFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    rows: list[list[Any]]  # ["pos", POS_ID, TIME_MS, _, SYMBOL, AMOUNT, ...]
    seq: int


class HeartbeatFrame(msgspec.Struct, gc=False, array_like=True):
    chan_id: int
    tag: str  # "hb"
    seq: int


frame_elements = msgspec.json.Decoder(list[msgspec.Raw])
#: ``status`` channel (https://docs.bitfinex.com/reference/ws-public-status): a deriv
#: update is an array of ~23 positions, a liq update a list of ``["pos", ...]`` arrays;
#: positions are decoded raw so number text stays exact (see the adapter for indexes).
status_values = msgspec.json.Decoder(list[msgspec.Raw])
status_rows = msgspec.json.Decoder(list[list[msgspec.Raw]])
event = msgspec.json.Decoder(Event)
book_entry = msgspec.json.Decoder(BookEntry)
book_entries = msgspec.json.Decoder(list[BookEntry])
trade_entry = msgspec.json.Decoder(TradeEntry)
trade_entries = msgspec.json.Decoder(list[TradeEntry])
integer = msgspec.json.Decoder(int)
text = msgspec.json.Decoder(str)
string_lists = msgspec.json.Decoder(list[list[str]])
string_pairs = msgspec.json.Decoder(list[list[tuple[str, str]]])

#: Bitfinex currency codes -> common names (subset of ``conf/pub:map:currency:sym``).
ALIASES = {
    "UST": "USDT", "UDC": "USDC", "TSD": "TUSD", "EUT": "EURT", "EUS": "EURS",
    "DSH": "DASH", "IOT": "IOTA", "QTM": "QTUM", "MNA": "MANA", "DAT": "DATA",
    "ALG": "ALGO", "ATO": "ATOM", "YYW": "YOYOW", "XCH": "XCHF", "WBT": "WBTC",
    "STJ": "STORJ", "IOS": "IOST", "AMP": "AMPL",
}  # fmt: skip


def first_byte(raw: msgspec.Raw) -> bytes:
    """The first non-blank byte of a raw JSON value (tells strings, arrays, numbers apart)."""
    data = bytes(raw).lstrip()
    return data[:1]


def js_number(text: str) -> str:
    """``text`` as JavaScript's ``Number.prototype.toString`` prints that value.

    Exact for the shortest round-trip digits a JSON encoder writes (ECMA-262
    Number::toString: plain from 1e-6 up to 1e21, else ``d.ddde-7``), no float involved.
    """
    value = Decimal(text)
    if not value:
        return "0"
    sign, digits_t, exponent = _EXACT.normalize(value).as_tuple()
    digits = "".join(map(str, digits_t))
    k, n = len(digits), len(digits) + int(exponent)  # value = 0.digits * 10**n
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        out = f"{mantissa}e{'+' if n > 0 else '-'}{abs(n - 1)}"
    return "-" + out if sign else out


def levels(entries: list[BookEntry]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(bids, asks) as (price, absolute size) text; COUNT 0 gives size ``"0"`` (delete)."""
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []
    for e in entries:
        price, amount = json_decimal(e.price), json_decimal(e.amount)
        side = asks if amount.startswith("-") else bids
        side.append((price, "0" if e.count == 0 else amount.lstrip("-")))
    return bids, asks


def is_list(raw: msgspec.Raw) -> bool:
    """``[[...], ...]`` or ``[]`` (entries), as opposed to ``[PRICE, COUNT, AMOUNT]``."""
    return bytes(raw).lstrip()[1:].lstrip()[:1] in (b"[", b"]")
