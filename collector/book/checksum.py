"""Book checksums computed from the exact wire text of the top levels.

Two schemes cover the venues that send checksums: Kraken's (digits of price and
size with the point and leading zeros removed, asks then bids, unsigned CRC32)
and the interleaved ``price:size`` scheme of OKX, OKCoin, Bitget and Bitfinex
(signed CRC32). Both hash text, never numbers: re-rendering ``"0.00100000"`` as a
float or a normalized ``Decimal`` changes the digits and the checksum with them,
which is why the book keeps every price and size as the text it arrived as.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from zlib import crc32

from collector import native

Text = tuple[str, str] | list[str]


def _kraken_digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def kraken_crc32(bids: Iterable[Text], asks: Iterable[Text]) -> int:
    """Kraken spot (WS v1 ``c``, WS v2 ``checksum``): top 10 asks then top 10 bids, unsigned.

    ``bids``/``asks`` are best first, as ``BookSide.top_levels(10)`` returns them.
    Docs: https://docs.kraken.com/exchange/guides/websockets/book-checksum-v1
    """
    parts = [_kraken_digits(p) + _kraken_digits(s) for p, s in asks]
    parts += [_kraken_digits(p) + _kraken_digits(s) for p, s in bids]
    return crc32("".join(parts).encode())


def interleaved_crc32(bids: Sequence[Text], asks: Sequence[Text]) -> int:
    """OKX v5 / Bitfinex v2: ``bid0:ask0:bid1:ask1...`` as ``price:size``, signed 32-bit.

    When one side is shorter the other side's levels simply follow. Callers pass
    the first 25 levels of each side best first, in the text the venue hashes
    (Bitfinex hashes ask amounts negative, as it sends them).
    Docs: https://www.okx.com/docs-v5/en/#overview-websocket-checksum (OKX) and
    https://docs.bitfinex.com/docs/ws-websocket-checksum (Bitfinex).
    """
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    value = crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value


# The reference versions stay reachable (the native ones fall back to them for
# non-ASCII text, and the tests compare the two); the names adapters import are the
# native core's when the process runs on it. Quiet: the engine says which path runs.
kraken_crc32_reference = kraken_crc32
interleaved_crc32_reference = interleaved_crc32
_core = native.core(None, announce=False)
if _core is not None:
    kraken_crc32 = _core.kraken_crc32  # type: ignore[assignment]
    interleaved_crc32 = _core.interleaved_crc32  # type: ignore[assignment]
