"""Bybit's public order-book history files (``ob500``/``ob200`` daily ``.data`` files).

Each line is one websocket message exactly as the v5 public stream sends it,
``{"topic":"orderbook.500.BTCUSDT","type":"snapshot"|"delta","ts":…,
"data":{"s","b","a","u","seq"},"cts":…}``, so the lines go through the Bybit
adapter as received frames. The files hold no receive time: ``ts`` (when Bybit's
system sent the message, ms) is used as ``ts_recv``. They name no market
category either, and in v5 the category exists only in the connection URL
(``spot`` and ``linear`` both list ``BTCUSDT``, with different books), so a
replay needs ``--url wss://stream.bybit.com/v5/public/<category>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import msgspec

from collector.capture.records import CaptureFormatError, Record
from collector.formats.source import lines, text

EXCHANGE: Final = "bybit"
URL_HINT: Final = "wss://stream.bybit.com/v5/public/linear (or spot, inverse, option)"


class _Line(msgspec.Struct):
    topic: str
    ts: int


_line: Final = msgspec.json.Decoder(_Line)
_START: Final = re.compile(rb'\{\s*"topic"\s*:\s*"orderbook\.\d+\.')


def sniff(head: bytes) -> bool:
    """A file starting with a Bybit v5 ``orderbook.<depth>.`` push (``topic`` comes first).

    Matched on the prefix: a 500-level snapshot line is far longer than the head.
    """
    return _START.match(head) is not None


def read_bybit_history(path: Path) -> Iterator[Record]:
    """The lines of a history file as frames of connection 1 (``with_url`` opens it)."""
    for number, line in enumerate(lines(path), 1):
        if not line.strip():
            continue
        try:
            ts = _line.decode(line).ts * 1_000_000
        except msgspec.DecodeError as exc:
            raise CaptureFormatError(f"{path}:{number}: not a Bybit history line: {exc}") from exc
        yield Record("recv", ts, 1, text(line, path, number))
