"""Decoded wire structs and normalized messages stay out of the cyclic GC.

They hold only text, numbers and level lists, so they cannot be part of a cycle; yet
every tracked object waiting in the row buffers is walked again by each collection.
Measured on ``binance-usdm/btcusdt_20240808``: the collector spent 0.30 s of a 1.7 s
replay in the GC with tracked messages, 0.05 s without (``benchmarks/README.md``).
"""

from __future__ import annotations

import gc
import importlib
import inspect
from pathlib import Path

import msgspec
import pytest

from collector import model

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
WIRE_MODULES = sorted(f"adapters.{p.parent.name}.wire" for p in ADAPTERS.glob("*/wire.py"))


def _structs(module_name: str) -> list[type[msgspec.Struct]]:
    module = importlib.import_module(module_name)
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, msgspec.Struct) and cls.__module__ == module_name
    ]


@pytest.mark.parametrize("module_name", ["collector.model", *WIRE_MODULES])
def test_structs_are_not_gc_tracked(module_name: str) -> None:
    structs = _structs(module_name)
    assert structs, f"{module_name} defines no struct"
    tracked = [cls.__name__ for cls in structs if cls.__struct_config__.gc]
    assert not tracked, f"declare gc=False on {tracked} ({module_name})"


def test_a_decoded_delta_is_untracked() -> None:
    delta = model.BookDelta("BTCUSDT", 1, 2, 3, 4, None, [("1.5", "2")], [])
    assert not gc.is_tracked(delta)
