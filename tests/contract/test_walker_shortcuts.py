"""The walker's shortcuts report exactly what the plain walker reports.

``Validator.walk`` skips arrays that convert to their strict type with no time off,
and judges each distinct row of an array of flat objects once. ``check_slow`` visits
every value. Each frame below holds the drifts a shortcut could lose or misplace (an
enum value, an undeclared member quoted in the detail, a late or unreadable time, a
bool where an int belongs, an unhashable value), and the two must agree on every
drift, its detail and its place in the order.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_validator import BOOK as BOOK_TEXT
from test_validator import TRADE as TRADE_TEXT
from test_validator import TS_BOOK as BYBIT_TS

from adapters.bitmex.contract import CONTRACT as BITMEX
from adapters.bybit import contract as bybit_contract
from collector.contract.model import (
    ENUM_VALUE,
    MISSING_FIELD,
    NEW_FIELD,
    RULE_VIOLATION,
    TYPE_CHANGE,
)
from collector.contract.validate import Validator

TS = 1_795_860_000_123_000_000  # receive time: 2026-11-28T10:00:00.123Z
ROW = {
    "symbol": "XBTUSD",
    "id": 8799046500,
    "side": "Sell",
    "size": 1200,
    "price": 95350.5,
    "timestamp": "2026-11-28T10:00:00.120Z",
}


def _row(**edits: Any) -> Callable[[int], dict[str, Any]]:
    """A row maker: ``ROW`` with ``edits`` (None deletes), a distinct id and price each."""

    def make(n: int) -> dict[str, Any]:
        row = dict(ROW, id=ROW["id"] + n, price=ROW["price"] + n)
        for key, value in edits.items():
            if value is None:
                del row[key]
            else:
                row[key] = value
        return row

    return make


ROWS: dict[str, Callable[[int], Any]] = {
    "clean": _row(),
    "buy": _row(side="Buy"),
    "enum": _row(side="Hold"),
    "no_time": _row(timestamp=None),
    "no_price": _row(price=None),
    "late": _row(timestamp="2026-12-01T10:00:00.120Z"),
    "unreadable_time": _row(timestamp="yesterday"),
    "new_1": _row(x=1),
    "new_2": _row(x=2),
    "new_true": _row(x=True),
    "new_list": _row(y=[1, 2]),  # an unhashable value the drift quotes
    "size_bool": _row(size=True),
    "size_text": _row(size="12"),
    "size_list": _row(size=[1]),
    "price_int": _row(price=95350),
    "reordered": lambda n: dict(reversed(list(_row()(n).items()))),
    "not_an_object": lambda n: n,
    "null": lambda n: None,
}


def _book(kinds: list[str]) -> dict[str, Any]:
    return {
        "table": "orderBookL2",
        "action": "update",
        "data": [ROWS[kind](n) for n, kind in enumerate(kinds)],
    }


def _agree(validator: Validator, name: str, frame: Any) -> list:
    slow = validator.check_slow(name, copy.deepcopy(frame), TS)
    assert validator.walk(name, frame, TS) == slow
    return slow


def test_rows_of_one_book_report_each_drift_in_place() -> None:
    kinds = ["clean", "enum", "clean", "no_time", "late", "new_1", "new_2", "new_list", "enum"]
    drifts = _agree(Validator(BITMEX), "orderBookL2", _book(kinds))
    assert [(d.kind, d.field, d.detail) for d in drifts] == [
        (ENUM_VALUE, "data[].side", "'Hold' not in ['Buy', 'Sell']"),
        (MISSING_FIELD, "data[].timestamp", "absent"),
        (RULE_VIOLATION, "data[].timestamp", drifts[2].detail),
        (NEW_FIELD, "data[].x", "undocumented: 1"),
        (NEW_FIELD, "data[].x", "undocumented: 2"),
        (NEW_FIELD, "data[].y", "undocumented: [1, 2]"),
        (ENUM_VALUE, "data[].side", "'Hold' not in ['Buy', 'Sell']"),
    ]
    assert "+259200 s off receipt" in drifts[2].detail


def test_types_are_told_apart_where_values_are_equal() -> None:
    """``True == 1`` and ``1 == 1.0`` in Python; the contract says otherwise."""
    kinds = ["size_bool", "clean", "size_text", "size_list", "price_int", "not_an_object", "null"]
    drifts = _agree(Validator(BITMEX), "orderBookL2", _book(kinds))
    assert [(d.kind, d.field) for d in drifts] == [
        (TYPE_CHANGE, "data[].size"),
        (TYPE_CHANGE, "data[].size"),
        (TYPE_CHANGE, "data[].size"),
        (TYPE_CHANGE, "data[]"),
        (TYPE_CHANGE, "data[]"),
    ]
    assert drifts[0].detail.startswith("bool,")


@given(st.lists(st.sampled_from(sorted(ROWS)), max_size=40))
def test_any_mix_of_rows_agrees_with_the_walker(kinds: list[str]) -> None:
    _agree(Validator(BITMEX), "orderBookL2", _book(kinds))


TRADE = json.loads(TRADE_TEXT)  # verbatim Bybit v5 frames (2026)
BOOK = json.loads(BOOK_TEXT)


def test_a_clean_array_is_skipped_but_its_late_time_is_not() -> None:
    """The frame fails its fast path on a new top-level member, so it is walked; its
    trades array converts to its strict type, yet one trade is three days late."""
    validator = Validator(bybit_contract.CONTRACT)
    frame = copy.deepcopy(TRADE)
    frame["zz"] = 1
    trade = frame["data"][0]
    frame["data"] = [dict(trade, i=str(n)) for n in range(5)]
    frame["data"][3]["T"] = trade["T"] + 3 * 86_400_000
    slow = validator.check_slow("publicTrade", copy.deepcopy(frame), BYBIT_TS)
    assert validator.walk("publicTrade", frame, BYBIT_TS) == slow
    assert [(d.kind, d.field) for d in slow] == [
        (RULE_VIOLATION, "data[].T"),
        (NEW_FIELD, "zz"),
    ]


def test_levels_are_walked_only_when_their_array_fails() -> None:
    validator = Validator(bybit_contract.CONTRACT)
    frame = copy.deepcopy(BOOK)
    frame["data"]["zz"] = 1  # drift outside the levels: they are skipped, unchanged
    assert [(d.kind, d.field) for d in _walk_both(validator, frame)] == [(NEW_FIELD, "data.zz")]
    frame["data"]["a"].append(["65300.0"])  # and one level too short: they are walked
    assert [(d.kind, d.field) for d in _walk_both(validator, frame)] == [
        (MISSING_FIELD, "data.a[][1]"),
        (NEW_FIELD, "data.zz"),
    ]


def _walk_both(validator: Validator, frame: dict[str, Any]) -> list:
    slow = validator.check_slow("orderbook", copy.deepcopy(frame), BYBIT_TS)
    assert validator.walk("orderbook", frame, BYBIT_TS) == slow
    return slow
