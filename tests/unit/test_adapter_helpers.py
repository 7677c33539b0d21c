"""Helpers adapters share from ``collector``: connection splitting and frame samples."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.adapter import Subscription, symbols_per_connection
from collector.model import sample

subs = st.lists(
    st.builds(Subscription, st.sampled_from("ABCDEFG"), st.sampled_from(["book", "trades", "x"])),
    unique=True,
)


@given(subs, st.integers(1, 4))
def test_symbols_per_connection_keeps_a_symbols_channels_together(
    asked: list[Subscription], most: int
) -> None:
    chunks = symbols_per_connection(asked, most, {"book", "trades"})
    flat = [s for c in chunks for s in c]
    assert len(flat) == len(set(flat)) and set(flat) == {s for s in asked if s.channel != "x"}
    owner = {s.symbol: i for i, c in enumerate(chunks) for s in c}
    for i, chunk in enumerate(chunks):
        assert chunk and len({s.symbol for s in chunk}) <= most
        assert all(owner[s.symbol] == i for s in chunk)


def test_sample_is_the_start_of_the_frame_as_text() -> None:
    assert sample("abc" * 100) == ("abc" * 100)[:200] + "…(300 chars)"
    assert sample("abc") == "abc"
    assert sample(b"\xff{}", 2) == "\ufffd{…(3 chars)"
    assert sample(b"x" * 500, 300) == "x" * 300 + "…(500 chars)"
    assert sample(b"x" * 50_000_000) == "x" * 200 + "…(50000000 bytes)"
