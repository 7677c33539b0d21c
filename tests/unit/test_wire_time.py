"""``collector.wire_time.rfc3339_ns`` agrees with a slow reference built on ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.wire_time import rfc3339_ns

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference_ns(moment: datetime, nanos: int) -> int:
    """Whole microseconds from ``datetime`` (exact integer arithmetic), plus the rest."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000 + nanos


def render(moment: datetime, digits: int, nanos: int, zone: str) -> str:
    fraction = f"{moment.microsecond:06d}{nanos:03d}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("." + fraction if digits else "") + zone


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.integers(0, 999),
    st.integers(0, 9),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+0100"]),
)
def test_agrees_with_datetime_reference(moment: datetime, nanos: int, digits: int, zone: str):
    text = render(moment, digits, nanos, zone)
    # What the text says, read back by the reference: truncate to the digits written.
    fraction_ns = int(f"{moment.microsecond:06d}{nanos:03d}"[:digits].ljust(9, "0") or 0)
    offset = timedelta(0)
    if zone not in ("Z", "z"):
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
        offset = offset if zone[0] == "+" else -offset
    local = moment.replace(microsecond=0, tzinfo=UTC) - offset
    assert rfc3339_ns(text) == reference_ns(local, 0) + fraction_ns


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2023-10-06T17:35:55.440295Z", 1_696_613_755_440_295_000),
        ("2023-10-06T17:35:55.440295123Z", 1_696_613_755_440_295_123),
        ("2023-10-06T19:35:55.4+02:00", 1_696_613_755_400_000_000),
        ("2016-12-31T23:59:60Z", 1_483_228_800_000_000_000),  # leap second
    ],
)
def test_known_times(text: str, ns: int) -> None:
    assert rfc3339_ns(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2023-10-06T17:35:55",  # no zone
        "2023-10-06T17:35:55.Z",
        "2023-02-29T00:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-10-06T24:00:00Z",
        "2023-10-06T17:35:55+25:00",
        "2023-10-06T17:35:55.1234567891Z",  # finer than ns, not truncated
        "2023-10-06T17:35:55Z trailing",
        "1696613755",
    ],
)
def test_rejects_garbage_with_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        rfc3339_ns(text)


def test_truncate_cuts_past_nanoseconds() -> None:
    assert rfc3339_ns("1970-01-01T00:00:01.1234567899Z", truncate=True) == 1_123_456_789
