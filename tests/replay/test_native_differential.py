"""The compiled core against the pure-Python reference on every recording.

Each recording is replayed twice, once per path, with book_snapshots sampling on
(so top-N reads are compared too) and a small flush size (so many drains, and
the decimal columns of many batches, are compared). Every table the sink
receives must be equal part for part: every row, every value, every quality
event, in order; and every symbol's counters must agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import adapter_recordings, needs_captures, run_recording

from collector import native
from collector.book.book import OrderBook

pytestmark = [
    needs_captures,
    pytest.mark.skipif(not native.available(), reason="the native core is not built here"),
]

#: Samples at two depths and rates: top-N reads of the book at every 100 ms.
SAMPLING = [(5, 100), (25, 1000)]


@pytest.mark.parametrize(
    ("slug", "path"), adapter_recordings(), ids=lambda v: getattr(v, "name", v)
)
def test_native_equals_reference_on_recording(slug: str, path: Path) -> None:
    runs = {
        is_native: run_recording(
            path, slug, native=is_native, snapshots=SAMPLING, flush_rows=5_000
        )[1]
        for is_native in (False, True)
    }
    reference, compiled = runs[False], runs[True]
    assert reference.engine.book_class is OrderBook
    assert compiled.engine.book_class is native.core(True).OrderBook
    ref_tables, nat_tables = reference.sink.tables, compiled.sink.tables
    assert sorted(nat_tables) == sorted(ref_tables), path.name
    for name, parts in ref_tables.items():
        assert len(nat_tables[name]) == len(parts), f"{path.name}: {name} flushed differently"
        for i, (want, got) in enumerate(zip(parts, nat_tables[name], strict=True)):
            assert got.schema == want.schema, f"{path.name}: {name} part {i} schema"
            if not got.equals(want):
                _first_difference(name, i, want, got)
    assert {s: y.stats for s, y in compiled.engine.symbols.items()} == {
        s: y.stats for s, y in reference.engine.symbols.items()
    }
    assert compiled.summary() == reference.summary()


def _first_difference(name: str, part: int, want, got) -> None:
    """Fail naming the first row and column that differ (not two whole tables)."""
    assert got.num_rows == want.num_rows, f"{name} part {part}: {got.num_rows} != {want.num_rows}"
    for column in want.column_names:
        a, b = want.column(column).to_pylist(), got.column(column).to_pylist()
        for row, (x, y) in enumerate(zip(a, b, strict=True)):
            assert x == y, f"{name} part {part} row {row} {column}: reference {x!r}, native {y!r}"
    raise AssertionError(f"{name} part {part}: tables differ (chunking or types)")
