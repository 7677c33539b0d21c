"""Pieces of normalized market names that several venues spell the same way.

Market names (``BTC-USD-20251226``) must agree across venues so users can join
them; the expiry in them is always ``YYYYMMDD``. Venues write expiries as
``26DEC25`` (Deribit, Bybit, Coinbase), as futures month codes with a two-digit
year (``H25``, BitMEX and Bybit quarterlies, expiring on the month's last Friday)
or as epoch milliseconds (OKX, Bybit instrument lists). These helpers turn each
form into the one date text, so no adapter reinvents (and subtly varies) them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

#: Month abbreviations as the venues write them in ``DDMMMYY``.
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
#: Futures month codes (CME convention): F = January ... Z = December.
FUTURE_MONTH_CODES = {c: i for i, c in enumerate("FGHJKMNQUVXZ", 1)}
_DDMMMYY = re.compile(r"(\d{1,2})([A-Z]{3})(\d{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ddmmmyy(text: str) -> str | None:
    """``26DEC25`` (or ``5MAR21``) -> ``20251226``; None when ``text`` is not that shape.

    The day is not checked against the month: venues only list real dates, and a
    name is better kept than refused.
    """
    m = _DDMMMYY.fullmatch(text)
    if m is None or m[2] not in MONTHS:
        return None
    return f"20{m[3]}{MONTHS[m[2]]:02d}{int(m[1]):02d}"


def last_friday(year: int, month: int) -> str:
    """``YYYYMMDD`` of the month's last Friday: when quarterly futures expire."""
    last = calendar.monthrange(year, month)[1]
    day = last - (calendar.weekday(year, month, last) - calendar.FRIDAY) % 7
    return f"{year}{month:02d}{day:02d}"


def future_code_expiry(code: str, yy: str) -> str:
    """Month code and two-digit year (``H``, ``25``) -> last Friday, ``20250328``."""
    return last_friday(2000 + int(yy), FUTURE_MONTH_CODES[code])


def ms_date(ms: int | str) -> str:
    """Epoch milliseconds -> ``YYYYMMDD`` (UTC), with integer arithmetic."""
    return (_EPOCH + timedelta(milliseconds=int(ms))).strftime("%Y%m%d")


def split_quote(pair: str, quotes: Iterable[str]) -> tuple[str, str] | None:
    """``BTCUSDT`` -> (``BTC``, ``USDT``) by the first of ``quotes`` the pair ends with.

    ``quotes`` must list longer codes before their suffixes (``USDT`` before
    ``USD``); a pair that is only a quote code has no base and gives None.
    """
    for quote in quotes:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    return None
