"""``collector.markets``: the expiry and quote helpers adapters share."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.markets import ddmmmyy, future_code_expiry, last_friday, ms_date, split_quote


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_ddmmmyy_round_trips_every_date(day: date) -> None:
    text = f"{day.day}{day.strftime('%b').upper()}{day:%y}"
    assert ddmmmyy(text) == day.strftime("%Y%m%d")
    assert ddmmmyy(f"{day.day:02d}{text[len(str(day.day)) :]}") == day.strftime("%Y%m%d")


@pytest.mark.parametrize("text", ["26DEK25", "26dec25", "126DEC25", "26DEC2025", "PERPETUAL", ""])
def test_ddmmmyy_refuses_other_shapes(text: str) -> None:
    assert ddmmmyy(text) is None


@given(st.integers(2000, 2099), st.integers(1, 12))
def test_last_friday_is_the_months_last_friday(year: int, month: int) -> None:
    got = datetime.strptime(last_friday(year, month), "%Y%m%d").date()
    assert (got.year, got.month, got.weekday()) == (year, month, calendar.FRIDAY)
    assert got.day + 7 > calendar.monthrange(year, month)[1]


def test_future_codes() -> None:
    assert future_code_expiry("H", "25") == "20250328"
    assert future_code_expiry("Z", "21") == "20211231"


@given(st.integers(0, 4_102_444_800_000))
def test_ms_date_agrees_with_datetime(ms: int) -> None:
    assert (
        ms_date(ms)
        == ms_date(str(ms))
        == datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y%m%d")
    )


def test_split_quote_takes_the_first_listed_suffix() -> None:
    quotes = ("USDT", "USD", "BTC")
    assert split_quote("BTCUSDT", quotes) == ("BTC", "USDT")
    assert split_quote("ETHBTC", quotes) == ("ETH", "BTC")
    assert split_quote("USDT", quotes) is None
    assert split_quote("BTCEUR", quotes) is None
