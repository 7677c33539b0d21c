"""RFC 3339 / ISO 8601 timestamp text -> exact integer nanoseconds since the epoch.

Kraken v2, both Coinbase feeds and BitMEX send their event times as text such as
``2023-10-06T17:35:55.440295Z``. ``ts_exchange`` is stored in nanoseconds and must
be exactly what the venue said: ``datetime`` stops at microseconds and a float
cannot hold a nanosecond time, so the fields are read with integer arithmetic
only. One parser serves every adapter, so the venues agree on what a time means.
"""

from __future__ import annotations

import re
from calendar import monthrange, timegm

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):?(\d\d))"
)
_NS = 1_000_000_000


def rfc3339_ns(text: str, *, truncate: bool = False) -> int:
    """``YYYY-MM-DDTHH:MM:SS[.f]`` + ``Z`` or ``±HH:MM`` as ns since 1970 (UTC), exactly.

    The fraction may have 0 to 9 digits; with ``truncate`` longer fractions are cut
    to nanoseconds (Coinbase's Go clients may print more). Second 60 (a leap
    second) is accepted and counts as the next second's start, as ``timegm`` does.
    Raises ``ValueError`` for anything else: a missing zone, an impossible date,
    stray text.
    """
    m = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {str(text)[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if not 1 <= month <= 12 or not 1 <= day <= monthrange(year, month)[1]:
        raise ValueError(f"no such date: {text!r}")
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"no such time of day: {text!r}")
    fraction = m.group(7) or ""
    if len(fraction) > 9:
        if not truncate:
            raise ValueError(f"finer than a nanosecond: {text!r}")
        fraction = fraction[:9]
    seconds = timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        if int(m.group(10)) > 23 or int(m.group(11)) > 59:
            raise ValueError(f"no such UTC offset: {text!r}")
        seconds -= offset if m.group(9) == "+" else -offset
    return seconds * _NS + int(fraction.ljust(9, "0") or 0)
