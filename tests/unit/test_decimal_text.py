"""Decimal text checks agree with exact decimal arithmetic and with Arrow's decimal128 cast."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pyarrow as pa
import pytest
from hypothesis import example, given
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
@example("0E40")  # zero, exactly; Arrow's own parser refuses the text (found by hypothesis)
@example("0.0E25")
@example("0E-9850105475")  # zero, exactly; its "f" text would be 9.8 GB (found by hypothesis)
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
    "text",
    [
        *("0.0000000000000000001", "123456789012345678901", "-1", "nan", "inf", "1.2.3", ""),
        *("-0", "-0.0", "-0E-8", "-0.00000000"),  # negative zero: not silently stored as 0
    ],
)
def test_rejected(text: str) -> None:
    with pytest.raises(InvalidDecimalText):
        decimal_text.check(text)
    with pytest.raises(InvalidDecimalText):
        decimal_text.size_is_zero(text)


def test_a_huge_value_is_quoted_clipped_with_its_length() -> None:
    with pytest.raises(InvalidDecimalText) as info:
        decimal_text.check("9" * 5_000_000)
    assert len(str(info.value)) < 400 and "…(5000002 chars)" in str(info.value)
    with pytest.raises(schema.ValueDoesNotFit) as fit:
        schema.exact_decimals("price", ["9" * 5_000_000])
    assert len(str(fit.value)) < 500 and "…(5000002 chars)" in str(fit.value)


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


@pytest.mark.parametrize("text", ["-1e20", "-123456789012345678901", "-1E+25"])
def test_signed_values_are_bounded_below_too(text: str) -> None:
    """decimal128(38, 18) ends at -1e20 as at 1e20: a check that lets these through
    leaves a row that neither the cast nor the per-row fallback can store."""
    with pytest.raises(InvalidDecimalText, match="more than 20 integer digits"):
        decimal_text.parse_exact(text, signed=True)
    with pytest.raises(schema.ValueDoesNotFit):
        schema.exact_decimals("funding_rate", [text], signed=True)


# -- plain / json_number: what adapters store for JSON-number prices ------------------

finite = st.decimals(allow_nan=False, allow_infinity=False)


@given(finite)
def test_plain_keeps_the_exact_value_of_any_decimal_text(value: Decimal) -> None:
    for text in (str(value), f"{value:e}", f"{value:E}"):
        out = decimal_text.plain(text)
        assert "e" not in out.lower()
        assert Decimal(out) == Decimal(text)  # exact: no float, no rounding


@given(plain_text)
def test_plain_text_is_returned_unchanged(text: str) -> None:
    assert decimal_text.plain(text) is text  # the hot path does not even copy


@pytest.mark.parametrize(
    ("text", "out"),
    [("1e-05", "0.00001"), ("1E+3", "1000"), ("-1e-7", "-0.0000001"), ("4.2e1", "42")],
)
def test_plain_writes_out_exponents(text: str, out: str) -> None:
    assert decimal_text.plain(text) == out


@pytest.mark.parametrize("text", ["e", "1e", "1e5x", "Infinite", "1e-5 ", "1e٣"])
def test_plain_rejects_exponent_text_that_is_no_number(text: str) -> None:
    with pytest.raises(InvalidDecimalText):
        decimal_text.plain(text)


@given(finite)
def test_json_number_reads_what_a_json_encoder_wrote(value: Decimal) -> None:
    import json

    raw = json.dumps(float(value)) if abs(value) < 10**15 else str(int(value))
    if raw in ("NaN", "Infinity", "-Infinity"):
        return
    assert Decimal(decimal_text.json_number(raw.encode()) or "nan") == Decimal(raw)


@pytest.mark.parametrize(
    ("raw", "out"),
    [(b"0.0015", "0.0015"), (b"4714.0", "4714.0"), (b"1e-05", "0.00001"), (b" 7 ", "7")],
)
def test_json_number_is_exact_and_plain(raw: bytes, out: str) -> None:
    assert decimal_text.json_number(raw) == out == decimal_text.json_decimal(raw)


def test_json_number_null_and_non_numbers() -> None:
    assert decimal_text.json_number(b"null") is None
    with pytest.raises(InvalidDecimalText):
        decimal_text.json_decimal(b"null")
    for raw in (b'"1.5"', b"true", b"", b"[1]", b"01", b"1.", b".5", b"NaN"):
        with pytest.raises(ValueError):
            decimal_text.json_number(raw)


@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(min_value=0, max_value=30))
def test_scaled_text_is_the_exact_quotient(value: int, scale: int) -> None:
    text = decimal_text.scaled_text(value, scale)
    with localcontext(Context(prec=100)):  # wide enough that Decimal itself cannot round
        assert Decimal(text) == Decimal(value).scaleb(-scale)
        assert int(Decimal(text).scaleb(scale)) == value  # and back, exactly
    assert "e" not in text.lower() and not ("." in text and text.endswith("0"))


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [
        (329915000, 4, "32991.5"),
        (30000, 4, "3"),
        (0, 8, "0"),
        (1, 8, "0.00000001"),
        (-5, 1, "-0.5"),
    ],
)
def test_scaled_text_examples(value: int, scale: int, text: str) -> None:
    assert decimal_text.scaled_text(value, scale) == text


@pytest.mark.parametrize(("value", "scale"), [(1.5, 2), (True, 2), (10, -1), ("10", 2)])
def test_scaled_text_refuses_what_is_not_two_integers(value: object, scale: object) -> None:
    with pytest.raises(ValueError):
        decimal_text.scaled_text(value, scale)  # type: ignore[arg-type]
