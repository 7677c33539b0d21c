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


#: Deribit, Bybit and OKX options all expire at 08:00 UTC of their expiry date.
OPTION_EXPIRY_HOUR_UTC = 8
_OPTION = re.compile(
    r"[A-Z0-9_]+-(?:(?P<dmy>\d{1,2}[A-Z]{3}\d{2})|[A-Z]+-(?P<ymd>\d{6}))"
    r"-(?P<strike>[0-9]+(?:[.d][0-9]+)?)-(?P<kind>[CP])(?:-[A-Z]+)?"
)


def option_terms(symbol: str) -> tuple[str, str, int] | None:
    """``(option_type, strike text, expiration ns)`` of an option's native symbol.

    Deribit and Bybit write ``BTC-26DEC25-100000-C`` (Bybit may add ``-USDT``;
    Deribit writes a decimal strike with ``d``: ``XRP_USDC-30JUN23-0d625-C``), OKX
    ``BTC-USD-251226-100000-C``. None for anything else (the adapter then reports
    the frame rather than guess).
    """
    m = _OPTION.fullmatch(symbol)
    if m is None:
        return None
    date = ddmmmyy(m["dmy"]) if m["dmy"] else f"20{m['ymd']}"
    if date is None:
        return None
    try:
        day = datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    expiry = day + timedelta(hours=OPTION_EXPIRY_HOUR_UTC) - _EPOCH
    ns = (expiry.days * 86_400 + expiry.seconds) * 1_000_000_000
    return ("call" if m["kind"] == "C" else "put"), m["strike"].replace("d", "."), ns


def split_quote(pair: str, quotes: Iterable[str]) -> tuple[str, str] | None:
    """``BTCUSDT`` -> (``BTC``, ``USDT``) by the first of ``quotes`` the pair ends with.

    ``quotes`` must list longer codes before their suffixes (``USDT`` before
    ``USD``); a pair that is only a quote code has no base and gives None.
    """
    for quote in quotes:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    return None
