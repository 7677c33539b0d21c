"""One side-pair L2 order book keyed by exact price.

Levels are keyed by the exact price (as a scaled integer) so that ``"61800.2"``
and ``"61800.20"`` are the same level, and store the size text exactly as the
exchange sent it. The best
price per side is kept by a heap with lazy deletion: updating an existing level
(the overwhelmingly common case) is a plain dict store, inserting a new level a
heap push, and only reading the best price pops stale entries. Deep books (Binance
spot snapshots have 5000 levels a side) therefore cost nothing per update for
their depth.

No I/O, no clocks: this module is driven by the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal
from heapq import heapify, heappop, heappush, nsmallest

from collector import decimal_text
from collector.model import Level

# Prices are keyed by an exact integer: the price scaled by 10**18 (the Parquet
# scale). Integer hashing and comparison are several times cheaper than
# Decimal's, which is what the heap does on every new level.
SCALE_DIGITS = 18
_EXACT = Context(prec=80)
# Interning price text -> key saves the parse: a busy book touches the same few
# hundred price strings over and over.
_PRICE_CACHE: dict[str, int] = {}
_PRICE_CACHE_LIMIT = 1_000_000
_NONZERO_DIGITS = frozenset("123456789")


def price_key(text: str) -> int:
    """The exact scaled-integer key of a price text, validated once and then interned."""
    key = _PRICE_CACHE.get(text)
    if key is None:
        key = int(_EXACT.scaleb(decimal_text.parse_exact(text), SCALE_DIGITS))
        if len(_PRICE_CACHE) >= _PRICE_CACHE_LIMIT:
            _PRICE_CACHE.clear()
        _PRICE_CACHE[text] = key
    return key


class BookSide:
    """Price -> size text for one side, with the best level available cheaply."""

    __slots__ = ("_heap", "_queued", "_sign", "levels", "texts")

    def __init__(self, is_bid: bool) -> None:
        #: scaled price key -> size text exactly as sent
        self.levels: dict[int, str] = {}
        #: scaled price key -> price text as first sent (for output and checksums)
        self.texts: dict[int, str] = {}
        # Heap entries are sign * key so the best level is always the smallest.
        self._sign = -1 if is_bid else 1
        self._heap: list[int] = []
        #: Keys with an entry in the heap, live or not: a level deleted and set again
        #: reuses its entry, so entries are unique and churn at the top of the book
        #: (where levels come and go all the time) does not pile up duplicates there.
        self._queued: set[int] = set()

    def clear(self) -> None:
        self.levels.clear()
        self.texts.clear()
        self._heap.clear()
        self._queued.clear()

    def apply(self, updates: Iterable[Level]) -> None:
        """Set each level's absolute size; a zero size removes the level.

        Raises ``InvalidDecimalText`` on the first bad price (or a size that is not
        plainly positive nor zero), leaving the side partly updated: the caller must
        then treat the book as unsynced. Sizes that look positive are not parsed;
        ``tables.TableBuffers.drain`` validates them before anything is written.
        """
        levels = self.levels
        texts = self.texts
        heap = self._heap
        queued = self._queued
        sign = self._sign
        cache = _PRICE_CACHE
        for price, size in updates:
            key = cache.get(price)
            if key is None:
                key = price_key(price)
            # Zero test without parsing: once leading/trailing zeros and points are
            # stripped, plain decimal text is empty (zero) or starts with a nonzero
            # digit. Anything else (exponents, signs) takes the exact path. Text that
            # starts with a digit but is not a decimal is caught in bulk at flush.
            rest = size.strip("0.")
            if rest and rest[0] not in _NONZERO_DIGITS:
                zero = decimal_text.size_is_zero(size)
            else:
                zero = not rest
            if zero:
                levels.pop(key, None)
            else:
                if key not in levels:
                    if key not in queued:
                        heappush(heap, key * sign)
                        queued.add(key)
                    texts[key] = price
                levels[key] = size
        if len(heap) > 2 * len(levels) + 64:
            self._compact()

    def _compact(self) -> None:
        """Drop heap entries (and texts) of deleted levels so both stay bounded."""
        sign = self._sign
        levels = self.levels
        self._heap = [k * sign for k in levels]
        heapify(self._heap)
        self._queued = set(levels)
        self.texts = {k: t for k, t in self.texts.items() if k in levels}

    def best_level(self) -> tuple[int, str] | None:
        """Best (key, size text), or ``None`` for an empty side. Cheap: for the hot path."""
        heap = self._heap
        levels = self.levels
        sign = self._sign
        while heap:
            key = heap[0] * sign
            size = levels.get(key)
            if size is not None:
                return key, size
            heappop(heap)
            self._queued.discard(key)
        return None

    def best(self) -> tuple[Decimal, str] | None:
        """Best (exact price, size text), or ``None`` for an empty side."""
        level = self.best_level()
        return None if level is None else (Decimal(self.texts[level[0]]), level[1])

    def top_levels(self, n: int) -> list[tuple[str, str]]:
        """The ``n`` best levels as (price text, size text), best first.

        Walks the heap from its root with a small frontier heap (the classic
        k-smallest-of-a-binary-heap walk): about n log n work instead of a pass
        over every level, so sampling a deep book every 100 ms stays cheap.
        """
        heap, levels, texts, sign = self._heap, self.levels, self.texts, self._sign
        out: list[tuple[str, str]] = []
        if not heap:
            return out
        frontier = [(heap[0], 0)]
        size_of_heap = len(heap)
        while frontier and len(out) < n:
            value, i = heappop(frontier)
            key = value * sign
            size = levels.get(key)
            if size is not None:
                out.append((texts[key], size))
            child = 2 * i + 1
            if child < size_of_heap:
                heappush(frontier, (heap[child], child))
                if child + 1 < size_of_heap:
                    heappush(frontier, (heap[child + 1], child + 1))
        return out

    def truncate(self, depth: int) -> list[tuple[str, str]]:
        """Delete every level beyond the best ``depth``; return them as deletions.

        Venues that maintain a book at a fixed depth (Kraken) drop levels pushed
        out of it without a message; the engine writes these deletions as rows so
        a book rebuilt from the table equals the venue's.
        """
        levels = self.levels
        if len(levels) <= depth:
            return []
        sign = self._sign
        keep = set(nsmallest(depth, levels, key=lambda k: k * sign))
        removed = [(self.texts[k], "0") for k in levels if k not in keep]
        for k in [k for k in levels if k not in keep]:
            del levels[k]
        return removed

    def top(self, n: int) -> list[tuple[Decimal, str]]:
        """The ``n`` best levels as (exact price, size text), best first."""
        sign = self._sign
        keys = nsmallest(n, self.levels, key=lambda k: k * sign)
        return [(Decimal(self.texts[k]), self.levels[k]) for k in keys]

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
        bid = self.bids.best_level()
        if bid is None:
            return False
        ask = self.asks.best_level()
        return ask is not None and bid[0] >= ask[0]

    def as_dict(self) -> dict[str, dict[Decimal, Decimal]]:
        """Exact numeric view, for comparisons in tests and tools."""
        # ``texts`` and ``levels`` are copies on the native side: read each once per side.
        out = {}
        for name, side in (("bids", self.bids), ("asks", self.asks)):
            texts = side.texts
            out[name] = {Decimal(texts[k]): Decimal(s) for k, s in side.levels.items()}
        return out
