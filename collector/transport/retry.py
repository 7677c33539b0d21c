"""Retry timing, kept pure: no sleeping, no event loop, no clock of its own.

The transport asks *how long* to wait and does the waiting itself, so this module
is tested exhaustively without a single ``sleep`` and is shared by the websocket
supervisor and the REST client.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
from collections.abc import Callable, Mapping


class Backoff:
    """Capped exponential backoff with "full jitter"; it never gives up.

    The n-th delay (from 0) is ``uniform(0, min(cap, base * factor**n))``. Full
    jitter spreads a fleet's reconnects after a venue-wide outage instead of
    having every instance knock at the same instants.

    Whoever uses it calls :meth:`reset` once a connection has proven itself:
    :meth:`healthy` says when (open for ``healthy_after_s``). Resetting on the
    mere success of a connect would let a peer that accepts then drops at once
    drive us into a tight reconnect loop.
    """

    def __init__(
        self,
        base: float = 0.5,
        factor: float = 2.0,
        cap: float = 30.0,
        *,
        healthy_after_s: float = 60.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or factor < 1 or cap < base:
            raise ValueError(f"need base > 0, factor >= 1, cap >= base: {base}, {factor}, {cap}")
        self.base = base
        self.factor = factor
        self.cap = cap
        self.healthy_after_s = healthy_after_s
        self._rng = rng
        self.attempt = 0

    @property
    def ceiling(self) -> float:
        """Upper bound of the next delay."""
        return min(self.cap, self.base * self.factor**self.attempt)

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; each call counts as one attempt."""
        ceiling = self.ceiling
        if ceiling < self.cap:  # stop growing once capped: factor**n would overflow
            self.attempt += 1
        return self._rng() * ceiling

    def reset(self) -> None:
        """Start again from ``base`` (after a connection stayed healthy)."""
        self.attempt = 0

    def healthy(self, now: float, connected_at: float) -> bool:
        """Whether a connection opened at ``connected_at`` has lived long enough to reset."""
        return now - connected_at >= self.healthy_after_s

    def fresh(self) -> Backoff:
        """A new, independent backoff with the same parameters (one per request)."""
        return Backoff(
            self.base,
            self.factor,
            self.cap,
            healthy_after_s=self.healthy_after_s,
            rng=self._rng,
        )


def retry_after_seconds(headers: Mapping[str, str], status: int, now: float) -> float | None:
    """Seconds a server asked us to wait, from ``Retry-After``; None when it did not say.

    Accepts delta-seconds (``120``, also a non-standard ``1.5``) and an HTTP date
    (converted with ``now``, Unix seconds). Header names are matched
    case-insensitively. A successful (2xx) answer carries no request to wait. A
    date in the past means "now" (0); an unreadable value is ignored (None) so the
    caller falls back to its own backoff.
    """
    if 200 <= status < 300:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP dates are always GMT, even when written "-0000"
            when = when.replace(tzinfo=datetime.UTC)
        return max(0.0, when.timestamp() - now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
