"""Recordings made by other tools, read into the same records as our own captures.

Users hold data we did not record: tardis.dev raw files, Bybit's order-book
history files, Binance's public data CSVs. Each reader here yields
:class:`~collector.capture.records.Record` objects, so replay maps them through
the adapters exactly as it does our captures. :func:`sniff` tells them apart by
content (``collector.capture.reader.open_recording`` asks it first);
``--format`` forces one.

A recording without a connection record cannot tell the adapter where it was
recorded from; :func:`with_url` supplies that (``--url``) for any format.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from collector.capture.records import CaptureFormatError, Record
from collector.formats import binance_vision, bybit_history, tardis
from collector.formats.source import head

__all__ = ["FOREIGN_FORMATS", "open_foreign", "sniff", "with_url"]

TARDIS: Final = "tardis"
BYBIT_HISTORY: Final = "bybit-history"
BINANCE_VISION: Final = "binance-vision"
#: Formats read here, in the order :func:`sniff` tries them.
FOREIGN_FORMATS: Final = (TARDIS, BYBIT_HISTORY, BINANCE_VISION)

_log = logging.getLogger(__name__)


def sniff(path: Path) -> str | None:
    """The foreign format of ``path`` by its first bytes, or ``None`` (ours, or unknown)."""
    start = head(path)
    if tardis.sniff(start):
        return TARDIS
    if bybit_history.sniff(start):
        return BYBIT_HISTORY
    if binance_vision.sniff(start):
        return BINANCE_VISION
    return None


def open_foreign(
    path: Path, fmt: str, *, exchange: str | None, url: str | None
) -> tuple[str | None, Iterator[Record]]:
    """The adapter slug and the records of a foreign file (read lazily).

    Raises :class:`CaptureFormatError` now for what is knowable before reading:
    a tardis file without a mapped ``exchange``, a Bybit file without ``url``, a
    Binance file kind we do not read.
    """
    if fmt == TARDIS:
        venue = tardis.venue(exchange, path)
        return venue.slug, tardis.read_tardis(path, venue, url)
    if fmt == BYBIT_HISTORY:
        if exchange not in (None, bybit_history.EXCHANGE):
            raise CaptureFormatError(f"{path}: a Bybit history file, not {exchange!r}")
        if url is None:
            raise CaptureFormatError(
                f"{path}: a Bybit history file does not say its market category; "
                f"pass --url {bybit_history.URL_HINT}"
            )
        return bybit_history.EXCHANGE, with_url(bybit_history.read_bybit_history(path), url)
    if fmt == BINANCE_VISION:
        records = binance_vision.read_binance_vision(path)
        first = next(records, None)  # a refused kind raises here, not mid-replay
        rows = records if first is None else _chain(first, records)
        return exchange, with_url(rows, url) if url else rows
    raise CaptureFormatError(f"{path}: unknown format {fmt!r}; known: {', '.join(FOREIGN_FORMATS)}")


def with_url(records: Iterator[Record], url: str) -> Iterator[Record]:
    """``records`` with an ``open`` to ``url`` before each connection that has none.

    A connection the recording opens itself keeps its own URL: the recording is
    the better witness. A contradicting ``url`` is said once in the log.
    """
    seen: set[int] = set()
    for record in records:
        if record.kind in ("recv", "send", "close", "open") and record.conn not in seen:
            seen.add(record.conn)
            if record.kind != "open":
                yield Record("open", record.ts, record.conn, "", url)
            elif record.url != url:
                _log.warning(
                    "connection %d was opened to %s in the recording; --url %s not used for it",
                    record.conn,
                    record.url,
                    url,
                )
        yield record


def _chain(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest
