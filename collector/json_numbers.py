"""``json_number`` and ``json_decimal`` on this process's path.

Venues that send prices as JSON numbers (BitMEX, Deribit, Bitfinex, Kraken...) have
each one read as text by ``collector.decimal_text``; on BitMEX that was a sixth of the
replay. The compiled core reads the common shape (no exponent) itself and hands every
other text to that reference, so values and errors are the same; which one runs
follows ``COLLECTOR_NATIVE`` like the rest of the core. Adapters import them from here.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from collector import decimal_text, native

_core = native.core(announce=False)

json_number: Callable[[msgspec.Raw | bytes | str], str | None] = (
    decimal_text.json_number if _core is None else _core.json_number
)
json_decimal: Callable[[msgspec.Raw | bytes | str], str] = (
    decimal_text.json_decimal if _core is None else _core.json_decimal
)

__all__ = ["json_decimal", "json_number"]
