"""Binance's one-pass decode of hot frames says exactly what the two-pass decode says.

``adapters.binance.adapter.decode`` first tries ``StreamFrame`` (envelope and payload in
one parse) and falls back to the envelope-then-payload route. Every frame of every
Binance-family recording, plus frames built to fall between the two, must come out of
both routes as equal messages (the one-pass route leaves a depth update's level arrays
as JSON for the pipeline to read: compared once read, as ``collector.levels`` reads them).
"""

from __future__ import annotations

import json

import msgspec
import pytest
from support import BINANCE_FAMILY, load_records, needs_captures, recordings, rel

import adapters
from adapters.binance import adapter as binance_adapter
from collector import levels
from collector.model import BookDelta, Message

FILES = recordings(BINANCE_FAMILY)


class _NeverHot(msgspec.Struct):
    """A ``StreamFrame`` stand-in no frame decodes to: forces the two-pass route."""

    never_a_binance_field: int


def _read(messages: list[Message]) -> list[Message]:
    """The messages with raw level arrays read, as the reference pipeline reads them."""
    return [levels.read(m) if type(m) is BookDelta else m for m in messages]


def _two_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binance_adapter, "_stream_frame", msgspec.json.Decoder(_NeverHot))


@needs_captures
@pytest.mark.parametrize("path", FILES, ids=rel)
def test_every_recorded_frame_decodes_alike(path, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange, records = load_records(path)
    frames = [(r.data, r.ts, r.conn) for r in records if r.kind == "recv"]
    one_pass = adapters.create(exchange)
    fast = [_read(one_pass.decode(*frame)) for frame in frames]
    _two_pass(monkeypatch)
    general = adapters.create(exchange)
    slow = [general.decode(*frame) for frame in frames]
    assert fast == slow
    assert len(frames) > 100


def _frame(stream: str, data: dict) -> str:
    return json.dumps({"stream": stream, "data": data})


DEPTH = {"e": "depthUpdate", "E": 2, "T": 1, "s": "BTCUSDT", "U": 5, "u": 7, "pu": 4}
EDGES = [
    # A partial-book stream carries depthUpdate events: ignored, not a delta.
    _frame("btcusdt@depth20@100ms", DEPTH | {"b": [["1.0", "2"]], "a": []}),
    # The stream and the event disagree: the stream decides, as on the general route.
    _frame(
        "btcusdt@aggTrade",
        {"e": "trade", "s": "BTCUSDT", "t": 1, "p": "1", "q": "1", "T": 1, "m": True},
    ),
    # A non-market futures fill.
    _frame(
        "btcusdt@trade",
        {
            "e": "trade",
            "s": "BTCUSDT",
            "t": 1,
            "p": "1",
            "q": "1",
            "T": 1,
            "m": False,
            "X": "INSURANCE_FUND",
        },
    ),
    # A hot event with a field of the wrong type: the general route's error message.
    _frame(
        "btcusdt@bookTicker",
        {"e": "bookTicker", "u": "x", "s": "BTCUSDT", "b": "1", "B": "1", "a": "2", "A": "1"},
    ),
    # Spot's bookTicker has no "e".
    _frame("btcusdt@bookTicker", {"u": 9, "s": "BTCUSDT", "b": "1", "B": "1", "a": "2", "A": "1"}),
    _frame("btcusdt@depth@0ms", DEPTH | {"b": [["1.0", "2"]], "a": [["2.0", "0"]]}),
    '{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker",',  # cut off
    '{"result":null,"id":1}',
]


@pytest.mark.parametrize("frame", EDGES)
def test_edge_frames_decode_alike(frame: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _read(adapters.create("binance-usdm").decode(frame, 10, 1))
    _two_pass(monkeypatch)
    assert fast == adapters.create("binance-usdm").decode(frame, 10, 1)
