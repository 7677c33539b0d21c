"""BookSide under any churn: best level and top levels equal a plain sort of the live levels."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(1, 40), st.sampled_from(["0", "1", "2.50"])),
        st.tuples(st.just("cut"), st.integers(0, 15), st.just("")),
    ),
    max_size=300,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # book_path is constant
@given(OPS, st.booleans(), st.integers(1, 12))
def test_best_and_top_levels_match_a_sort(book_path, ops, is_bid, n) -> None:
    side = book_path.BookSide(is_bid)
    truth: dict[Decimal, str] = {}
    for op, value, size in ops:
        if op == "set":
            side.apply([(str(value), size)])
            if Decimal(size) == 0:
                truth.pop(Decimal(value), None)
            else:
                truth[Decimal(value)] = size
        else:
            side.truncate(value)
            keep = sorted(truth, reverse=is_bid)[:value]
            truth = {p: truth[p] for p in keep}
        best = side.best()
        expected = sorted(truth, reverse=is_bid)
        assert best == (None if not truth else (expected[0], truth[expected[0]]))
        top = [(Decimal(p), s) for p, s in side.top_levels(n)]
        assert top == [(p, truth[p]) for p in expected[:n]]
        if hasattr(side, "_heap"):  # the reference's heap: entries unique, a level set
            # again reuses its entry (the native side is a sorted array: no entries)
            assert len(side._heap) == len(set(side._heap)) <= 2 * len(truth) + 64 + 40
