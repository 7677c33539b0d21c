"""A generated, live-like L2 book for one symbol, with an undo history for ``/_truth``.

Prices and sizes are kept as integers in units of the last decimal place, so the
book is exact and every level renders to fixed-decimal text (``"61800.10"``,
``"0.123"``) the way Binance sends it. Each :meth:`GeneratedBook.step` is one
depth event: a taker trade at the touch (sometimes) plus random level changes,
with update ids that follow the venue's rules. The book never crosses: bids are
only ever placed below the best ask and asks above the best bid.

The history is an undo log (the previous size of every level an event touched)
rather than full copies, so ``truth(at=...)`` for the last few thousand events
costs a few kilobytes per event instead of a whole book each.
"""

from __future__ import annotations

import random
from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass, field

#: Bounds on the number of levels per side; the generator steers back inside them.
MIN_LEVELS = 100
MAX_LEVELS = 500


@dataclass(frozen=True)
class SymbolSpec:
    """How one symbol's numbers look: mid price and decimals of prices and sizes."""

    mid: int  # in units of 10**-price_decimals (one unit is one tick)
    price_decimals: int
    size_decimals: int


def spec_for(symbol: str, futures: bool) -> SymbolSpec:
    """A plausible spec for a symbol; unknown symbols get a mid derived from the name."""
    name = symbol.upper()
    contracts = name.endswith("_PERP") or (futures and name.split("_")[0].endswith("USD"))
    size_decimals = 0 if contracts else 3
    if name.startswith("BTC"):
        return SymbolSpec(618001 if futures else 6180010, 1 if futures else 2, size_decimals)
    if name.startswith("ETH"):
        return SymbolSpec(265025, 2, size_decimals)
    mid = 10_000 + sum(map(ord, name)) * 1_000  # stable per name, 1.0000..99.9999-ish
    return SymbolSpec(mid, 4, 0 if contracts else 2)


@dataclass
class TradeEvent:
    """One taker fill at the touch."""

    trade_id: int
    price: str
    size: str
    buyer_is_maker: bool  # Binance ``m``: true when the taker sold


@dataclass
class BookEvent:
    """One depth event and what happened with it (trades, resulting top of book)."""

    first_id: int
    last_id: int
    prev_id: int
    bids: list[list[str]]
    asks: list[list[str]]
    best_bid: tuple[str, str]
    best_ask: tuple[str, str]
    trades: list[TradeEvent] = field(default_factory=list)


@dataclass
class _Undo:
    prev_id: int
    last_id: int
    bids: dict[int, int]  # price -> size before the event (0: level did not exist)
    asks: dict[int, int]


class GeneratedBook:
    """The true book of one generated symbol. Deterministic for a given ``rng`` seed."""

    def __init__(
        self,
        symbol: str,
        spec: SymbolSpec,
        rng: random.Random,
        *,
        futures: bool,
        history: int = 2000,
        trade_probability: float = 0.5,
    ) -> None:
        self.symbol = symbol
        self.spec = spec
        self.futures = futures
        self.trade_probability = trade_probability
        self._rng = rng
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_prices: list[int] = []  # ascending; best bid is the last
        self._ask_prices: list[int] = []  # ascending; best ask is the first
        self.last_id = rng.randrange(10**9, 10**10) * (1000 if futures else 1)
        self.trade_id = rng.randrange(10**8, 10**9)
        self._history: deque[_Undo] = deque(maxlen=history)
        self._seed_levels()

    # -- rendering ------------------------------------------------------------

    def price_text(self, price: int) -> str:
        return _fixed(price, self.spec.price_decimals)

    def size_text(self, size: int) -> str:
        return _fixed(size, self.spec.size_decimals)

    def best_bid(self) -> tuple[str, str]:
        p = self._bid_prices[-1]
        return self.price_text(p), self.size_text(self.bids[p])

    def best_ask(self) -> tuple[str, str]:
        p = self._ask_prices[0]
        return self.price_text(p), self.size_text(self.asks[p])

    def snapshot(self, limit: int | None = None) -> tuple[int, list[list[str]], list[list[str]]]:
        """``(lastUpdateId, bids, asks)`` as REST returns them: best first, top ``limit``."""
        return self.last_id, *self._render(self.bids, self.asks, limit)

    def truth(self, at: int | None = None) -> tuple[int, list[list[str]], list[list[str]]] | None:
        """The full book now, or as of update id ``at`` (``None`` if outside the history).

        The returned id is that of the last event at or before ``at``: a book only
        changes at event boundaries.
        """
        if at is None or at == self.last_id:
            return self.snapshot()
        if at > self.last_id:
            return None  # not produced yet
        history = list(self._history)
        ids = [h.last_id for h in history]
        keep = bisect_right(ids, at)  # events [0, keep) are at or before ``at``
        if keep == 0 and (not history or at < history[0].prev_id):
            return None
        bids, asks = dict(self.bids), dict(self.asks)
        for undo in reversed(history[keep:]):
            _restore(bids, undo.bids)
            _restore(asks, undo.asks)
        state_id = ids[keep - 1] if keep else history[0].prev_id
        return state_id, *self._render(bids, asks, None)

    # -- generating -------------------------------------------------------------

    def step(self) -> BookEvent:
        """Advance the book by one depth event."""
        rng = self._rng
        undo = _Undo(self.last_id, 0, {}, {})
        changes: tuple[dict[int, int], dict[int, int]] = ({}, {})
        trades = []
        if rng.random() < self.trade_probability:
            trades.append(self._trade(undo, changes))
        wanted = rng.randint(1, 20)
        while len(changes[0]) + len(changes[1]) < wanted:
            self._change(rng.random() < 0.5, undo, changes)
        if self.futures:
            first = self.last_id + 1 + rng.randrange(40)
            last = first + len(changes[0]) + len(changes[1]) - 1 + rng.randrange(20)
        else:
            first = self.last_id + 1
            last = self.last_id + len(changes[0]) + len(changes[1])
        event = BookEvent(
            first,
            last,
            self.last_id,
            [[self.price_text(p), self.size_text(s)] for p, s in sorted(changes[0].items())],
            [[self.price_text(p), self.size_text(s)] for p, s in sorted(changes[1].items())],
            self.best_bid(),
            self.best_ask(),
            trades,
        )
        undo.last_id = self.last_id = last
        self._history.append(undo)
        return event

    def _trade(self, undo: _Undo, changes: tuple[dict[int, int], dict[int, int]]) -> TradeEvent:
        """A taker takes part (or all) of the best level on the other side."""
        taker_buys = self._rng.random() < 0.5
        is_bid = not taker_buys
        price = self._ask_prices[0] if taker_buys else self._bid_prices[-1]
        levels = self.bids if is_bid else self.asks
        size = levels[price]
        qty = self._rng.randint(1, size)  # all of it deletes the level; the side stays deep
        self._set(is_bid, price, size - qty, undo, changes)
        self.trade_id += 1
        return TradeEvent(self.trade_id, self.price_text(price), self.size_text(qty), is_bid)

    def _change(
        self, is_bid: bool, undo: _Undo, changes: tuple[dict[int, int], dict[int, int]]
    ) -> None:
        rng = self._rng
        prices = self._bid_prices if is_bid else self._ask_prices
        count = len(prices)
        roll = rng.random()
        if count < MIN_LEVELS or (count < MAX_LEVELS and roll < 0.2):
            self._set(is_bid, self._new_price(is_bid), self._new_size(), undo, changes)
            return
        depth = min(int(rng.expovariate(1 / 12)), count - 1)
        price = prices[-1 - depth] if is_bid else prices[depth]
        delete = count > MAX_LEVELS or (count > MIN_LEVELS and roll > 0.8)
        self._set(is_bid, price, 0 if delete else self._new_size(), undo, changes)

    def _new_price(self, is_bid: bool) -> int:
        """A free price near the touch, possibly inside the spread, never crossing.

        Random offsets from the touch while they find a free tick; after 64 misses
        (a side packed solid near the touch, which unbounded drawing once turned
        into millions of draws a step) the nearest free tick away from the touch.
        """
        rng = self._rng
        best_bid, best_ask = self._bid_prices[-1], self._ask_prices[0]
        levels = self.bids if is_bid else self.asks
        price = best_bid if is_bid else best_ask
        for _ in range(64):
            offset = int(rng.expovariate(1 / 25)) - 2
            if is_bid:
                price = min(best_bid - offset, best_ask - 1)
            else:
                price = max(best_ask + offset, best_bid + 1)
            if price > 0 and price not in levels:
                return price
        step = -1 if is_bid else 1
        while price in levels or price <= 0:
            price += step if price > 0 else 1
        return price

    def _new_size(self) -> int:
        return self._rng.randint(1, 5 * 10**self.spec.size_decimals)

    def _set(
        self,
        is_bid: bool,
        price: int,
        size: int,
        undo: _Undo,
        changes: tuple[dict[int, int], dict[int, int]],
    ) -> None:
        levels, prices = (self.bids, self._bid_prices) if is_bid else (self.asks, self._ask_prices)
        before = levels.get(price, 0)
        (undo.bids if is_bid else undo.asks).setdefault(price, before)
        changes[0 if is_bid else 1][price] = size
        if size:
            if not before:
                insort(prices, price)
            levels[price] = size
        elif before:
            del levels[price]
            prices.pop(bisect_right(prices, price) - 1)

    def _seed_levels(self) -> None:
        rng = self._rng
        mid = self.spec.mid
        for is_bid in (True, False):
            price = mid - 1 if is_bid else mid + 1
            levels = self.bids if is_bid else self.asks
            for _ in range(rng.randint(150, 400)):
                levels[price] = self._new_size()
                price += -rng.randint(1, 3) if is_bid else rng.randint(1, 3)
        self._bid_prices = sorted(self.bids)
        self._ask_prices = sorted(self.asks)

    def _render(
        self, bids: dict[int, int], asks: dict[int, int], limit: int | None
    ) -> tuple[list[list[str]], list[list[str]]]:
        top_bids = sorted(bids, reverse=True)[:limit]
        top_asks = sorted(asks)[:limit]
        return (
            [[self.price_text(p), self.size_text(bids[p])] for p in top_bids],
            [[self.price_text(p), self.size_text(asks[p])] for p in top_asks],
        )


def _restore(levels: dict[int, int], before: dict[int, int]) -> None:
    for price, size in before.items():
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)


def _fixed(value: int, decimals: int) -> str:
    """Exact fixed-point text of an integer count of ``10**-decimals`` units."""
    if not decimals:
        return str(value)
    digits = str(value).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"
