"""The reader inflates with zlib-ng; on damaged files it must stop where zlib would.

What a damaged recording yields (every byte before the break, salvaged byte by byte
from the chunk that broke) and where the damage is reported (kind and file offset)
come from the inflater's errors, so the two libraries are held to the same answers
on a real recording with bits flipped, bytes zeroed and the file cut short.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import CAPTURES, needs_captures
from zlib_ng import zlib_ng

from collector.capture import reader

pytestmark = needs_captures


@pytest.fixture(scope="module")
def clean() -> bytes:
    """400 KB of a real recording's text, gzip'd whole (a trailer to damage too)."""
    text = gzip.decompress((CAPTURES / "bitmex" / "BITMEX.jsonl.gz").read_bytes())
    return gzip.compress(text[:400_000], 5)


def _read(path: Path, inflate: ModuleType) -> tuple:
    """(bytes yielded, damage kind, damage offset) of the reader inflating with ``inflate``."""
    out = bytearray()
    with mock.patch.object(reader, "zlib_ng", inflate):
        try:
            for data in reader._gunzip(path):
                out += data
        except reader._Torn as torn:
            return bytes(out), torn.kind, torn.offset
    return bytes(out), None, None


damage = st.tuples(
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), max_size=3),
    st.one_of(st.none(), st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 64))),
    st.one_of(st.none(), st.floats(0, 1)),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damage)
def test_damaged_files_break_where_zlib_breaks(
    clean: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: tuple
) -> None:
    flips, zeroed, cut = how
    data = bytearray(clean)
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    if zeroed is not None:
        start = int(zeroed[0] * len(data))
        data[start : start + zeroed[1]] = bytes(len(data[start : start + zeroed[1]]))
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(bytes(data))
    ours = _read(path, zlib_ng)
    event(f"damage: {ours[1]}")
    assert ours == _read(path, zlib)
    if not flips and zeroed is None and cut is None:
        assert ours == (gzip.decompress(clean), None, None)  # undamaged: read whole
