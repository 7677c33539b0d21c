"""Decimal text checks agree with exact decimal arithmetic and with Arrow's decimal128 cast."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector import decimal_text, schema
from collector.decimal_text import InvalidDecimalText

plain_text = st.from_regex(r"\A[0-9]{1,12}(\.[0-9]{0,10})?\Z")
any_text = st.one_of(
    plain_text,
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.text(alphabet="0123456789.eE-+x _٣", max_size=12),
)


@given(plain_text)
def test_size_is_zero_agrees_with_decimal(text: str) -> None:
    assert decimal_text.size_is_zero(text) == (Decimal(text) == 0)


@given(any_text)
def test_check_accepts_exactly_what_arrow_stores_exactly(text: str) -> None:
    try:
        decimal_text.check(text)
    except InvalidDecimalText:
        accepted = False
    else:
        accepted = True
    if accepted:
        stored = schema.exact_decimals("x", [text])[0].as_py()
        assert stored == Decimal(text)


@pytest.mark.parametrize(
    "text", ["0.0000000000000000001", "123456789012345678901", "-1", "nan", "inf", "1.2.3", ""]
)
def test_rejected(text: str) -> None:
    with pytest.raises(InvalidDecimalText):
        decimal_text.check(text)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.000",
        "61800.20",
        "1e-8",
        "0E-8",
        "12345678901234567890.123456789012345678",
        "1.000000000000000000000",
    ],
)
def test_accepted(text: str) -> None:
    decimal_text.check(text)
    assert schema.exact_decimals("x", [text])[0].as_py() == Decimal(text)


@pytest.mark.parametrize(
    "text,zero",
    [
        ("0E-8", True),
        ("0.0e5", True),
        ("1e-8", False),
        ("00100", False),
        (".5", False),
        ("0", True),
    ],
)
def test_zero_in_every_notation(text: str, zero: bool) -> None:
    assert decimal_text.size_is_zero(text) is zero


def test_schema_refuses_to_round_and_names_the_value() -> None:
    with pytest.raises(schema.ValueDoesNotFit, match=r"'price'.*'0\.0000000000000000001'"):
        schema.exact_decimals("price", ["1.5", "0.0000000000000000001"])
    with pytest.raises(schema.ValueDoesNotFit):
        schema.exact_decimals("size", pa.array(["1" * 21]))


@pytest.mark.parametrize("text", ["1" * 25, "1e25", "99999999999999999999999999.5"])
def test_integer_overflow_arrow_would_wrap_is_refused(text: str) -> None:
    """pyarrow's string->decimal128 cast wraps these silently; we must not."""
    with pytest.raises(schema.ValueDoesNotFit, match="does not fit"):
        schema.exact_decimals("price", ["1", text])
