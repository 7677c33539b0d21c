"""The generated source: live-like books for one exchange, stepped on the simulator's clock.

Books run whether or not anyone listens, like a real venue: update ids advance
with time, and a client that connects late must align with a REST snapshot.
Each symbol has its own random stream seeded from ``(seed, slug, symbol)``, so
its events do not depend on which other symbols are configured.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

from collector.simulator import wire
from collector.simulator.book import BookEvent, GeneratedBook, spec_for
from collector.simulator.connection import Connection
from collector.simulator.faults import SNAPSHOT_SKIP, UNKNOWN_EVERY, FaultState

#: Symbols served when none are configured.
DEFAULT_SYMBOLS = {
    "binance-coinm": ("BTCUSD_PERP", "ETHUSD_PERP"),
}
_DEFAULT = ("BTCUSDT", "ETHUSDT")


class GeneratedSource:
    """Every generated symbol of one exchange slug."""

    def __init__(
        self,
        slug: str,
        symbols: tuple[str, ...] | None,
        faults: FaultState,
        *,
        seed: int = 0,
        history: int = 2000,
        trade_probability: float = 0.5,
    ) -> None:
        self.slug = slug
        self.faults = faults
        futures = wire.is_futures(slug)
        names = symbols or DEFAULT_SYMBOLS.get(slug, _DEFAULT)
        self.books = {
            s.upper(): GeneratedBook(
                s.upper(),
                spec_for(s, futures),
                random.Random(f"{seed}:{slug}:{s.upper()}"),
                futures=futures,
                history=history,
                trade_probability=trade_probability,
            )
            for s in names
        }
        self.subscribers: set[Connection] = set()
        # Pulses each book has already served (see FaultState.skip_requests).
        self._skips = dict.fromkeys(self.books, 0)
        self._duplicates = dict.fromkeys(self.books, 0)
        # Depth events per symbol while ``unknown_message`` is on.
        self._unknown_count = dict.fromkeys(self.books, 0)
        self.futures = futures
        # Second of the last markPrice per symbol; trades per symbol (for liquidations).
        self._mark_second = dict.fromkeys(self.books, -1)
        self._trades = dict.fromkeys(self.books, 0)

    # -- clock ----------------------------------------------------------------------

    def step(self, now_ms: int) -> None:
        """One depth event per symbol, published to every subscribed connection."""
        drift = self.faults.drift
        shaped = drift in ("renamed_field", "number_as_string", "new_field")
        for symbol, book in self.books.items():
            ev = book.step()
            key = symbol.lower()
            depth = wire.depth_data(self.slug, symbol, ev, now_ms, drift if shaped else None)
            if self._skips[symbol] < self.faults.skip_requests:
                self._skips[symbol] += 1
                self.faults.fired["skip"] += 1
            else:
                self._publish(key, "depth", depth)
                if self._duplicates[symbol] < self.faults.duplicate_requests:
                    self._duplicates[symbol] += 1
                    self.faults.fired["duplicate"] += 1
                    self._publish(key, "depth", depth)
            if drift == "unknown_message":
                self._unknown_count[symbol] += 1
                if self._unknown_count[symbol] % UNKNOWN_EVERY == 0:
                    n = self._publish(key, "depth", wire.unknown_data(symbol, ev, now_ms))
                    self.faults.fire_drift(drift, n)
            elif shaped:
                self.faults.fire_drift(drift, self._subscribed(key, "depth"))
            # The quote and trades travel on their own streams: a lost depth frame
            # does not take them with it.
            self._publish(key, "bookTicker", wire.book_ticker_data(self.slug, symbol, ev, now_ms))
            for t in ev.trades:
                trade = wire.trade_data(self.slug, symbol, t, now_ms, drift)
                self._publish(key, "trade", trade)
                agg = wire.agg_trade_data(self.slug, symbol, t, now_ms, drift)
                self._publish(key, "aggTrade", agg)
                if drift == "number_as_string":
                    self.faults.fire_drift(drift, self._subscribed(key, "trade", "aggTrade"))
            if self.futures:
                self._derivatives(symbol, ev, now_ms)

    def _derivatives(self, symbol: str, ev: BookEvent, now_ms: int) -> None:
        """Futures only: a markPrice each new second, a forceOrder every n-th trade."""
        key = symbol.lower()
        if now_ms // 1000 != self._mark_second[symbol]:
            self._mark_second[symbol] = now_ms // 1000
            drift = self.faults.drift
            mark = wire.mark_price_data(symbol, ev, now_ms, drift)
            n = self._publish(key, "markPrice", mark)
            if drift == "renamed_field":
                self.faults.fire_drift(drift, n)
        for t in ev.trades:
            self._trades[symbol] += 1
            if self._trades[symbol] % wire.LIQUIDATION_EVERY == 0:
                self._publish(key, "forceOrder", wire.force_order_data(symbol, t, now_ms))

    def _publish(self, symbol: str, kind: str, data: str) -> int:
        """Queue ``data`` for every subscriber of it; return how many frames were queued."""
        n = 0
        for conn in self.subscribers:
            for name in conn.wanted.get((symbol, kind), ()):
                conn.push(name, wire.combined(name, data))
                n += 1
        return n

    def _subscribed(self, symbol: str, *kinds: str) -> int:
        return sum(len(c.wanted.get((symbol, k), ())) for c in self.subscribers for k in kinds)

    # -- serving ----------------------------------------------------------------------

    async def frames(self, conn: Connection) -> AsyncIterator[tuple[str, str | bytes]]:
        """Frames published for ``conn`` since it connected, in publication order."""
        self.subscribers.add(conn)
        try:
            while True:
                yield await conn.queue.get()
        finally:
            self.subscribers.discard(conn)

    def snapshot(self, symbol: str, limit: int, now_ms: int) -> tuple[int, str]:
        book = self.books.get(symbol.upper())
        if book is None:
            return 400, wire.error_body(-1121, "Invalid symbol.")
        last_id, bids, asks = book.snapshot(limit)
        if self.faults.drift == "first_delta_rule":
            # Ahead of every delta the stream will send for a long time: none bridges it.
            last_id += SNAPSHOT_SKIP
            self.faults.fire_drift("first_delta_rule")
        return 200, wire.snapshot_body(self.slug, last_id, bids, asks, now_ms)

    def open_interest(self, symbol: str, now_ms: int) -> tuple[int, str]:
        """Open interest: the trades generated so far (a growing count, exact text)."""
        if symbol.upper() not in self.books or not self.futures:
            return 400, wire.error_body(-1121, "Invalid symbol.")
        count = self._trades[symbol.upper()]
        return 200, wire.open_interest_body(symbol.upper(), f"{count}.000", now_ms)

    def truth(self, symbol: str, at: int | None) -> dict[str, Any] | None:
        book = self.books.get(symbol.upper())
        state = None if book is None else book.truth(at)
        if state is None:
            return None
        last_id, bids, asks = state
        return {"lastUpdateId": last_id, "bids": bids, "asks": asks}
