"""Decimal text as exchanges send it: validation and zero tests without rounding.

Prices and sizes travel as the exchange's own text all the way to Parquet, where
they become ``decimal128(38, 18)``. These helpers answer the two questions the
book engine must ask of that text on its hot path (is it a storable decimal? is
it zero?) without building a ``Decimal`` for the common case: plain ASCII digits
with at most one point, which is what every venue sends almost all the time.
Anything else (exponents, signs, long values) takes the exact ``Decimal`` path.

Signs: prices and sizes are unsigned. Text with a minus sign is refused even
when its value is zero (``-0``, ``-0.0``): a negative-zero price is no price at
all, and no venue this project decodes sends a signed size (Bitfinex's signed
amounts are made unsigned by its adapter), so a sign means the field is not what
the adapter believes it is. Storing it as ``0`` would hide that; refusing it
routes it through the usual bad-value path instead: a book message with it is
dropped and its symbol resynced, a trade or quote row dropped, each with a
``malformed`` quality event. A ``-0`` size is therefore not taken as a delete.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from collector.model import clip

#: decimal128(38, 18): at most 20 digits before the point and 18 after.
MAX_INTEGER_DIGITS = 20
MAX_FRACTION_DIGITS = 18
# Text this short cannot exceed either limit, whatever its shape: 19 characters
# hold at most 19 integer digits, or 18 fraction digits after a leading point.
_FAST_MAX_LEN = 19
#: RFC 8259 number grammar.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


class InvalidDecimalText(ValueError):
    """Text that is not a finite, non-negative decimal storable without rounding."""

    def __init__(self, text: str, why: str) -> None:
        # The message is quoted in quality details and logs: a huge value is clipped.
        super().__init__(f"{clip(repr(text))} is not a storable decimal: {why}")
        self.text = text
        self.why = why


def parse_exact(text: str, signed: bool = False) -> Decimal:
    """Parse and check ``text``; raise ``InvalidDecimalText`` if it cannot be stored exactly.

    Prices and sizes are never negative, so a sign is an error unless ``signed``
    (funding rates, greeks).
    """
    if not isinstance(text, str) or not text.isascii() or "_" in text or text != text.strip():
        # Decimal() tolerates spaces, underscores and non-ASCII digits; Arrow does not.
        raise InvalidDecimalText(str(text), "not plain decimal text")
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidDecimalText(str(text), "not a number") from None
    if not value.is_finite():
        raise InvalidDecimalText(text, "not finite")
    if value.is_signed() and not signed:  # -0 and -0.0 too: see the module docstring
        raise InvalidDecimalText(text, "negative" if value else "negative zero")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    fraction_digits = max(0, -exponent)
    integer_digits = max(0, len(digits) + exponent)
    # Digits past the 18th fractional place must all be zero (trailing zeros are exact).
    beyond = max(0, len(digits) - (fraction_digits - MAX_FRACTION_DIGITS))
    if fraction_digits > MAX_FRACTION_DIGITS and any(digits[beyond:]):
        raise InvalidDecimalText(text, f"more than {MAX_FRACTION_DIGITS} fractional digits")
    if integer_digits > MAX_INTEGER_DIGITS and value.copy_abs() >= 10**MAX_INTEGER_DIGITS:
        raise InvalidDecimalText(text, f"more than {MAX_INTEGER_DIGITS} integer digits")
    return value


def is_plain(text: str) -> bool:
    """True for short ASCII digits with at most one point: storable as is, no parse needed."""
    return len(text) <= _FAST_MAX_LEN and text.isascii() and text.replace(".", "", 1).isdigit()


def size_is_zero(text: str) -> bool:
    """Whether a size deletes its level; raises ``InvalidDecimalText`` for bad text."""
    if is_plain(text):
        return not text.strip("0.")
    return parse_exact(text) == 0


def check(text: str, signed: bool = False) -> None:
    """Raise ``InvalidDecimalText`` unless ``text`` is storable exactly."""
    if not is_plain(text):
        parse_exact(text, signed)


def plain(text: str) -> str:
    """``text`` without an exponent, same exact value: ``1e-05`` -> ``0.00001``.

    Several venues write numbers as JSON numbers, which a serializer may print in
    exponent form; Arrow's decimal parser and the venues' checksums want plain
    digits. Text without ``e``/``E`` is returned as is (the hot path); the rest goes
    through ``Decimal``, never a float. Signs are kept (a sign is the caller's
    business: Bitfinex amounts carry the side in it). Raises ``InvalidDecimalText``
    for exponent text that is not a finite number.
    """
    if "e" not in text and "E" not in text:
        return text
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidDecimalText(text, "not a number") from None
    if not value.is_finite() or not text.isascii() or text != text.strip():
        raise InvalidDecimalText(text, "not a finite number")
    return format(value, "f")


def json_number(raw: bytes | str) -> str | None:
    """Plain decimal text of one raw JSON value that is a number; ``None`` for ``null``.

    Venues that send prices as JSON numbers (Deribit, BitMEX, Kraken v2, Bitfinex)
    are decoded into ``msgspec.Raw`` so the exact digits survive; this turns such a
    value into stored text. Anything else (a string, ``true``, an empty value)
    raises ``InvalidDecimalText``, a ``ValueError`` the adapters report as a bad frame.
    """
    text = (raw if isinstance(raw, str) else bytes(raw).decode()).strip()
    if text == "null":
        return None
    if not _JSON_NUMBER.fullmatch(text):
        raise InvalidDecimalText(text[:40], "not a JSON number")
    return plain(text)


def json_decimal(raw: bytes | str) -> str:
    """``json_number`` for a value that must be present: ``null`` raises too."""
    text = json_number(raw)
    if text is None:
        raise InvalidDecimalText("null", "null where a number is required")
    return text


def scaled_text(value: int, scale: int) -> str:
    """Exact decimal text of ``value / 10**scale``, by integer arithmetic only.

    Venues that send prices and sizes as scaled integers (Phemex ``priceEp`` with the
    product's ``priceScale``, ``baseQtyEv`` with the currency's ``valueScale``) state
    the exact value in two integers; a float division would round it. The text has no
    exponent and no trailing fractional zeros (``329915000, 4`` -> ``32991.5``,
    ``30000, 4`` -> ``3``); a negative ``value`` keeps its sign (funding rates).
    Raises ``ValueError`` for a negative ``scale`` or a non-integer (``bool`` included).
    """
    if type(value) is not int or type(scale) is not int or scale < 0:
        raise ValueError(f"scaled integer {value!r} with scale {scale!r}: not integers")
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**scale)
    if not fraction:
        return f"{sign}{whole}"
    digits = str(fraction).rjust(scale, "0").rstrip("0")
    return f"{sign}{whole}.{digits}"
