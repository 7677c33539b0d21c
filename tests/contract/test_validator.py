"""The validator catches each drift kind when it is injected into a copy of a real frame.

Frames are verbatim from shared recordings (Bybit v5 2026, Binance USD-M 2024); each test
edits one thing in a copy and asserts the exact drift, so none of them can pass by
reporting nothing.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

import msgspec
import pytest

from adapters.binance.contract import USDM
from adapters.bitfinex import contract as bitfinex_contract
from adapters.bybit import contract as bybit_contract
from adapters.contracts import CONTRACTS
from collector.contract.model import (
    ENUM_VALUE,
    MISSING_FIELD,
    NEW_FIELD,
    RULE_VIOLATION,
    TYPE_CHANGE,
    UNKNOWN_MESSAGE_TYPE,
    Doc,
    MessageContract,
)
from collector.contract.schema import ContractError, compile_message, from_type
from collector.contract.validate import Validator

BOOK = (
    '{"topic":"orderbook.200.BTCUSDT","ts":1786310816618,"type":"delta","data":{"s":"BTCUSDT",'
    '"b":[["65140.4","0.875077"]],"a":[["65154.6","0.09948"],["65239.1","0"]],'
    '"u":62505425,"seq":112488545865},"cts":1786310816585}'
)
TRADE = (
    '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,"data":[{"T":'
    '1786310819680,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick","i":'
    '"a9188a0a-82bc-50de-be60-03eedbe3cdd7","BT":false,"RPI":false,"seq":753843954913}]}'
)
DEPTH = (
    '{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":'
    '1723161256298,"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,'
    '"b":[["58710.20","0.014"]],"a":[["61800.30","1.000"]]}}'
)


class _Row(msgspec.Struct):
    side: Literal["buy", "sell"]
    n: int | None = None


TS_BOOK = 1786310816618 * 10**6  # receive time near the exchange's own
TS_DEPTH = 1723161256299 * 10**6


def _check(frame: dict[str, Any] | str, ts: int = TS_BOOK, contract=bybit_contract.CONTRACT):
    text = frame if isinstance(frame, str) else json.dumps(frame)
    validator = Validator(contract)
    name, drifts = validator.frame(text, ts)
    found = {(d.kind, d.message_type, d.field) for d in drifts}
    slow = validator.check_slow(name, json.loads(text) if text != "hello" else text, ts)
    assert {(d.kind, d.message_type, d.field) for d in slow} == found, "fast path disagrees"
    return name, found


def _edit(text: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(text))


def test_clean_frames_pass() -> None:
    assert _check(BOOK) == ("orderbook", set())
    assert _check(TRADE) == ("publicTrade", set())  # L and RPI are documented, not consumed
    assert _check(DEPTH, TS_DEPTH, USDM) == ("depthUpdate", set())


def test_renamed_field_is_missing_plus_new() -> None:
    frame = _edit(BOOK)
    frame["data"]["update_id"] = frame["data"].pop("u")
    assert _check(frame)[1] == {
        (MISSING_FIELD, "orderbook", "data.u"),
        (NEW_FIELD, "orderbook", "data.update_id"),
    }


def test_number_to_string_and_string_to_number() -> None:
    frame = _edit(BOOK)
    frame["data"]["u"] = str(frame["data"]["u"])
    frame["data"]["b"][0][0] = 65140.4
    assert _check(frame)[1] == {
        (TYPE_CHANGE, "orderbook", "data.u"),
        (TYPE_CHANGE, "orderbook", "data.b[][0]"),
    }


def test_new_field() -> None:
    frame = _edit(DEPTH)
    frame["data"]["x"] = 1
    assert _check(frame, TS_DEPTH, USDM)[1] == {(NEW_FIELD, "depthUpdate", "data.x")}


def test_futures_field_removed_is_missing() -> None:
    frame = _edit(DEPTH)
    del frame["data"]["pu"]
    assert _check(frame, TS_DEPTH, USDM)[1] == {(MISSING_FIELD, "depthUpdate", "data.pu")}


def test_extra_array_element_is_a_new_field() -> None:
    frame = _edit(BOOK)
    frame["data"]["a"][0].append("3")  # a level gains an order count
    assert _check(frame)[1] == {(NEW_FIELD, "orderbook", "data.a[][2]")}


def test_unknown_message_type() -> None:
    frame = _edit(BOOK)
    frame["topic"] = "orderbook_v6.200.BTCUSDT"
    assert _check(frame) == ("orderbook_v6", {(UNKNOWN_MESSAGE_TYPE, "orderbook_v6", "")})


def test_ignored_documented_type_is_not_drift() -> None:
    frame = {"topic": "kline.1.BTCUSDT", "type": "snapshot", "ts": 1, "data": []}
    assert _check(frame) == ("kline", set())


def test_enum_values() -> None:
    frame = _edit(TRADE)
    frame["data"][0]["S"] = "BUY"
    frame["type"] = "delta"
    assert _check(frame)[1] == {
        (ENUM_VALUE, "publicTrade", "data[].S"),
        (ENUM_VALUE, "publicTrade", "type"),
    }


def test_timestamp_in_the_wrong_unit_is_a_rule_violation() -> None:
    frame = _edit(BOOK)
    frame["ts"] *= 1000  # microseconds where the contract says milliseconds
    assert _check(frame)[1] == {(RULE_VIOLATION, "orderbook", "ts")}


def test_not_json_is_an_unknown_type() -> None:
    name, drifts = _check("hello")
    assert drifts == {(UNKNOWN_MESSAGE_TYPE, name, "")}


def test_stateful_classifier_needs_the_subscription() -> None:
    v = Validator(bitfinex_contract.CONTRACT)
    assert v.frame("[17,[60000.1,2,0.5],3]", 0)[0] == "unsubscribed-channel"
    ack = '{"event":"subscribed","channel":"book","chanId":17,"symbol":"tBTCUSD","prec":"P0"}'
    assert v.frame(ack, 0)[1] == []
    assert v.frame("[17,[60000.1,2,0.5],4]", 0) == ("book.update", [])
    _, drifts = v.frame('[17,["60000.1",2,0.5],5]', 0)  # price turned into a string
    assert [(d.kind, d.field) for d in drifts] == [(TYPE_CHANGE, "[1][0]")]


def test_schema_comes_from_the_struct() -> None:
    node = from_type(_Row)
    assert node.fields is not None
    assert {k: f.required for k, f in node.fields.items()} == {"side": True, "n": False}
    assert node.fields["side"].node.enum == {"buy", "sell"}
    assert node.fields["n"].node.kinds == {"int", "null"}


@pytest.mark.parametrize("slug", sorted(CONTRACTS))
def test_every_contract_compiles_and_documents_its_messages(slug: str) -> None:
    contract = CONTRACTS[slug]
    Validator(contract)  # raises ContractError on a path the struct does not have
    for m in contract.messages:
        assert m.doc.url.startswith("https://") and len(m.doc.checked) == 10


def test_contract_path_typos_are_caught() -> None:
    bad = MessageContract(
        "x", Doc("https://x", "2026-11-28"), bybit_contract.Envelope, enums={"data.nope": ("a",)}
    )
    with pytest.raises(ContractError):
        compile_message(bad)


def test_repeated_times_are_judged_as_each_leaf_would_be() -> None:
    """Many leaves sharing one time are judged once (a Coinbase snapshot's levels), yet
    the drifts are exactly the walker's, leaf by leaf and in order, when one is off."""
    frame = _edit(TRADE)
    trade = frame["data"][0]
    frame["data"] = [dict(trade, i=str(n)) for n in range(6)]
    validator = Validator(bybit_contract.CONTRACT)
    assert validator.frame(json.dumps(frame), TS_BOOK)[1] == []
    frame["data"][2]["T"] = frame["data"][4]["T"] = trade["T"] + 3 * 86_400_000  # 3 days late
    name, drifts = validator.frame(json.dumps(frame), TS_BOOK)
    assert drifts == validator.check_slow(name, frame, TS_BOOK)
    assert [(d.kind, d.field) for d in drifts] == [(RULE_VIOLATION, "data[].T")] * 2
