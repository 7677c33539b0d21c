"""Retry timing: backoff bounds, cap, reset, jitter source, Retry-After parsing. No sleeping."""

from __future__ import annotations

import email.utils
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.transport.retry import Backoff, retry_after_seconds

NOW = 1_723_161_255.0  # 2024-08-08T23:54:15Z


def test_ceiling_doubles_from_base_up_to_cap() -> None:
    b = Backoff(rng=lambda: 1.0)  # the top of the jitter range shows the ceiling
    assert [b.next_delay() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_full_jitter_scales_the_rng_draw() -> None:
    draws = itertools.cycle([0.0, 0.25, 0.5])
    b = Backoff(base=1.0, factor=3.0, cap=100.0, rng=lambda: next(draws))
    assert [b.next_delay() for _ in range(3)] == [0.0, 0.25 * 3, 0.5 * 9]


@given(st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=200))
def test_delays_stay_within_bounds(draws: list[float]) -> None:
    it = iter(draws)
    b = Backoff(base=0.5, factor=2.0, cap=30.0, rng=lambda: next(it))
    for n, _ in enumerate(draws):
        delay = b.next_delay()
        assert 0.0 <= delay <= min(30.0, 0.5 * 2**n)


def test_never_gives_up_and_never_overflows() -> None:
    b = Backoff(rng=lambda: 1.0)
    for _ in range(100_000):
        delay = b.next_delay()
    assert delay == 30.0
    assert b.attempt < 10  # stops counting once capped, so factor**attempt cannot overflow


def test_reset_starts_again_from_base() -> None:
    b = Backoff(rng=lambda: 1.0)
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.next_delay() == 0.5


def test_default_rng_is_random_but_bounded() -> None:
    b = Backoff(base=2.0, cap=2.0)
    delays = {b.next_delay() for _ in range(50)}
    assert all(0.0 <= d <= 2.0 for d in delays)
    assert len(delays) > 1


def test_healthy_after_a_long_enough_connection() -> None:
    b = Backoff(healthy_after_s=60.0)
    assert not b.healthy(now=159.9, connected_at=100.0)
    assert b.healthy(now=160.0, connected_at=100.0)


def test_fresh_copies_parameters_not_progress() -> None:
    b = Backoff(base=1.0, factor=4.0, cap=10.0, rng=lambda: 1.0)
    b.next_delay()
    b.next_delay()
    copy = b.fresh()
    assert copy.next_delay() == 1.0
    assert copy.next_delay() == 4.0
    assert b.next_delay() == 10.0


@pytest.mark.parametrize("args", [(0.0, 2.0, 30.0), (1.0, 0.5, 30.0), (5.0, 2.0, 1.0)])
def test_rejects_parameters_that_never_back_off(args: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(*args)


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"Retry-After": "1"}, 429, 1.0),
        ({"retry-after": " 120 "}, 418, 120.0),
        ({"RETRY-AFTER": "1.5"}, 503, 1.5),  # not RFC, but harmless to honour
        ({"Retry-After": "-3"}, 429, 0.0),
        ({"Retry-After": "soon"}, 429, None),
        ({"Retry-After": "nan"}, 429, None),
        ({"Retry-After": "inf"}, 429, None),
        ({}, 429, None),
        ({"Retry-After": "5"}, 200, None),  # a success asks for nothing
    ],
)
def test_retry_after_delta_seconds(headers: dict[str, str], status: int, expected: float) -> None:
    assert retry_after_seconds(headers, status, NOW) == expected


def test_retry_after_http_date() -> None:
    later = email.utils.formatdate(NOW + 90, usegmt=True)  # "Fri, 09 Aug 2024 ... GMT"
    assert retry_after_seconds({"Retry-After": later}, 503, NOW) == pytest.approx(90.0)
    earlier = email.utils.formatdate(NOW - 90, usegmt=True)
    assert retry_after_seconds({"Retry-After": earlier}, 503, NOW) == 0.0
    minus_zero = email.utils.formatdate(NOW + 30)  # "-0000": still GMT
    assert retry_after_seconds({"Retry-After": minus_zero}, 429, NOW) == pytest.approx(30.0)
    assert retry_after_seconds({"Retry-After": "Fri, 99 Foo 2024"}, 503, NOW) is None
