"""Update id -> object, oldest first, bounded: what the quote check remembers.

The engine keeps two per symbol: the tops of book after the latest updates (for a
quote that arrives after its update) and the quotes waiting for their update (for
one that arrives before). Both see every quote and every update, so their few
operations are named here once, with the compiled core's ``SeqMap`` as their twin:
for a busy symbol the ordered dict's per-entry calls were a tenth of a replay.

Ids are the venue's update ids: ints, which the tables store as int64. The compiled
twin refuses anything else (``TypeError``) and an id beyond int64 (``OverflowError``),
as writing its row would; limits are at least 1 in both.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class SeqMap:
    """An ordered dict of id -> value: a new id goes last, a known id keeps its place."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        # An ordered dict, not a dict: dropping from the front of a plain dict leaves
        # holes that every later ``next(iter(d))`` walks.
        self._items: OrderedDict[int, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: int) -> Any:
        """The value of ``key``, or None."""
        return self._items.get(key)

    def put(self, key: int, value: Any, limit: int) -> None:
        """Set ``key``, then drop the oldest entry if there are more than ``limit``."""
        _check_limit(limit)
        items = self._items
        items[key] = value
        if len(items) > limit:
            items.popitem(last=False)

    def hold(self, key: int, value: Any, limit: int) -> None:
        """Drop the oldest entry if there are ``limit`` already, then set ``key``."""
        _check_limit(limit)
        items = self._items
        if len(items) >= limit:
            items.popitem(last=False)
        items[key] = value

    def pop(self, key: int) -> Any:
        """Remove ``key`` and return its value, or None."""
        return self._items.pop(key, None)

    def drop_below(self, key: int) -> None:
        """Drop entries from the oldest on while their id is below ``key``.

        Stops at the first id at or above it: ids are meant to arrive in order,
        and one that did not stays until it is the oldest.
        """
        items = self._items
        while items:
            oldest = next(iter(items))
            if oldest >= key:
                return
            del items[oldest]

    def clear(self) -> None:
        self._items.clear()


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
