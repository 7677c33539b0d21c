"""One side-pair L2 order book keyed by exact price.

Levels are keyed by ``Decimal`` so that ``"61800.2"`` and ``"61800.20"`` are the
same level, and store the size text exactly as the exchange sent it. The best
price per side is kept by a heap with lazy deletion: updating an existing level
(the overwhelmingly common case) is a plain dict store, inserting a new level a
heap push, and only reading the best price pops stale entries. Deep books (Binance
spot snapshots have 5000 levels a side) therefore cost nothing per update for
their depth.

No I/O, no clocks: this module is driven by the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from heapq import heapify, heappop, heappush, nsmallest

from collector import decimal_text
from collector.model import Level

# Interning price text -> Decimal saves most of the parse cost: a busy book
# touches the same few hundred price strings over and over.
_PRICE_CACHE: dict[str, Decimal] = {}
_PRICE_CACHE_LIMIT = 1_000_000


def price_key(text: str) -> Decimal:
    """The exact ``Decimal`` for a price text, validated once and then interned."""
    key = _PRICE_CACHE.get(text)
    if key is None:
        key = decimal_text.parse_exact(text)
        if len(_PRICE_CACHE) >= _PRICE_CACHE_LIMIT:
            _PRICE_CACHE.clear()
        _PRICE_CACHE[text] = key
    return key


class BookSide:
    """Price -> size text for one side, with the best price available cheaply."""

    __slots__ = ("_heap", "_sign", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.levels: dict[Decimal, str] = {}
        # Heap entries are sign * price so the best level is always the smallest.
        self._sign = -1 if is_bid else 1
        self._heap: list[Decimal] = []

    def clear(self) -> None:
        self.levels.clear()
        self._heap.clear()

    def apply(self, updates: Iterable[Level]) -> None:
        """Set each level's absolute size; a zero size removes the level.

        Raises ``InvalidDecimalText`` on the first bad price or size, leaving the
        side partly updated: the caller must then treat the book as unsynced.
        """
        levels = self.levels
        heap = self._heap
        sign = self._sign
        cache = _PRICE_CACHE
        for price, size in updates:
            key = cache.get(price)
            if key is None:
                key = price_key(price)
            # decimal_text.is_plain, inlined: this loop runs once per level.
            if len(size) <= 19 and size.isascii() and size.replace(".", "", 1).isdigit():
                zero = not size.strip("0.")
            else:
                zero = decimal_text.size_is_zero(size)
            if zero:
                levels.pop(key, None)
            else:
                if key not in levels:
                    heappush(heap, key if sign > 0 else -key)
                levels[key] = size
        if len(heap) > 2 * len(levels) + 64:
            self._compact()

    def _compact(self) -> None:
        """Drop heap entries of deleted levels (and duplicates) so the heap stays bounded."""
        sign = self._sign
        self._heap = [p if sign > 0 else -p for p in self.levels]
        heapify(self._heap)

    def best(self) -> tuple[Decimal, str] | None:
        """Best (price, size text), or ``None`` for an empty side."""
        heap = self._heap
        levels = self.levels
        sign = self._sign
        while heap:
            top = heap[0]
            price = top if sign > 0 else -top
            size = levels.get(price)
            if size is not None:
                return price, size
            heappop(heap)
        return None

    def top(self, n: int) -> list[tuple[Decimal, str]]:
        """The ``n`` best levels, best first."""
        keys = nsmallest(n, self.levels, key=(None if self._sign > 0 else (lambda p: -p)))
        return [(p, self.levels[p]) for p in keys]

    def __len__(self) -> int:
        return len(self.levels)


class OrderBook:
    """Bids and asks of one symbol."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask: a book that cannot be right."""
        bid = self.bids.best()
        if bid is None:
            return False
        ask = self.asks.best()
        return ask is not None and bid[0] >= ask[0]

    def as_dict(self) -> dict[str, dict[Decimal, Decimal]]:
        """Exact numeric view, for comparisons in tests and tools."""
        return {
            "bids": {p: Decimal(s) for p, s in self.bids.levels.items()},
            "asks": {p: Decimal(s) for p, s in self.asks.levels.items()},
        }
