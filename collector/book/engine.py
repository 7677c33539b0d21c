"""The generic book engine: snapshot alignment, sequence checks, verification, resync.

One engine serves one exchange and keeps an independent ``SymbolSync`` per
symbol, so a gap or a bad book on one symbol never touches another. It is driven
by normalized messages and writes book rows and quality events into
``TableBuffers``; it never performs I/O. When a symbol needs a REST snapshot the
engine says so through ``snapshot_requests()``; the daemon fetches it, replay
cannot (the symbol then stays unsynced until the recording holds one).

Guarantees:

* Book rows are written only while a symbol is ``SYNCED``; a message that breaks
  the chain, crosses the book or carries a bad level writes no rows, except that a
  snapshot's bad levels are dropped alone (said in ``quality``) and its rest written.
* A snapshot is written only once a delta bridges it, so every written snapshot
  is continued by the rows after it.
* ``apply_seq`` of a message's first row is ``max(previous + 1, ts_recv)``: it
  strictly increases per symbol, is a deterministic function of the recording
  (live and replay agree), and keeps increasing across restarts as long as the
  wall clock does.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import chain

import msgspec

from collector.book.book import BookSide, OrderBook, price_key
from collector.book.seq_map import SeqMap
from collector.book.sequence import SequenceRule
from collector.book.state import SyncEvent, SyncState, next_state
from collector.decimal_text import InvalidDecimalText, check
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    DerivativeTicker,
    QualityEvent,
    QualityKind,
)
from collector.native import core as native_core
from collector.schema import snapshot_table
from collector.tables import TableBuffers

#: Deltas kept while a symbol waits for a snapshot. Older ones are dropped first:
#: only the newest can bridge a snapshot fetched now.
DEFAULT_BUFFER_LIMIT = 20_000
#: Tops of book remembered per symbol for best-bid/ask quotes that arrive after
#: later depth updates (they travel on another stream).
_RECENT_TOPS = 128
_PENDING_QUOTES = 1024
#: Receive time a REST snapshot may wait for a bridging update while every update is
#: older than it, before it is judged to belong to another sequence and refetched.
BRIDGE_TIMEOUT_NS = 10 * 10**9
#: book_snapshots rows emitted at most for one silence; older instants are skipped.
_MAX_CATCH_UP = 100_000
#: Bad snapshot levels named in one quality event (the count says how many in all).
_SHOWN_BAD_LEVELS = 5
#: Comma-joined decimal texts that are surely storable (digits, at most one point, within
#: decimal128(38, 18)); anything else is checked one text at a time.
_PLAIN = r"(?:[0-9]{1,20}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})"
_ALL_PLAIN = re.compile(rf"{_PLAIN}(?:,{_PLAIN})*")
#: Derivative values a symbol keeps for book_snapshots ``with``: enough to look back
#: from a book update to the sample instants it closes (tickers come about once a second).
_DERIVATIVE_HISTORY = 256
#: What ``[[book_snapshots]] with`` may name: ``derivative_ticker`` columns.
SNAPSHOT_WITH = ("mark_price", "funding_rate")
#: A book_snapshots spec: (depth, interval ms), optionally with ``SNAPSHOT_WITH`` names.
SnapshotSpec = tuple[int, int] | tuple[int, int, Sequence[str]]

Top = tuple[tuple[int, str] | None, tuple[int, str] | None]
#: The state tested on every update and quote, as a module global: reading an Enum
#: member through its class costs ~100 ns on CPython 3.11, a global ~15.
_SYNCED = SyncState.SYNCED
#: A venue's book checksum: (native symbol, book) -> the value the venue would send,
#: or None when it cannot say (e.g. an instrument's precision is not known yet).
Checksum = Callable[[str, OrderBook], int | None]


class SymbolStats(msgspec.Struct):
    """Counters for one symbol; the replay summary is made of these."""

    book_rows: int = 0
    deltas_applied: int = 0
    snapshots_applied: int = 0
    snapshots_ignored: int = 0
    stale_dropped: int = 0
    snapshots_too_old: int = 0
    buffer_dropped: int = 0
    duplicates: int = 0
    gaps: int = 0
    resyncs: int = 0
    crossed: int = 0
    malformed_levels: int = 0
    bbo_matched: int = 0
    bbo_mismatched: int = 0
    checksums_verified: int = 0
    checksums_failed: int = 0


class SymbolSync:
    """Everything the engine knows about one symbol."""

    __slots__ = (
        "apply_seq",
        "book",
        "buffer",
        "last_id",
        "last_ts_exchange",
        "market",
        "next_sample",
        "pending_quotes",
        "recent_tops",
        "snapshot",
        "snapshot_wanted",
        "state",
        "stats",
        "symbol",
    )

    def __init__(
        self,
        symbol: str,
        market: str,
        buffer_limit: int,
        book: type[OrderBook] = OrderBook,
        seq_map: type[SeqMap] = SeqMap,
    ) -> None:
        self.symbol = symbol
        self.market = market
        self.state = SyncState.UNSYNCED
        self.book = book()
        self.buffer: deque[BookDelta] = deque(maxlen=buffer_limit)
        self.snapshot: BookSnapshot | None = None
        self.snapshot_wanted = False
        self.last_id = -1
        self.last_ts_exchange: int | None = None
        #: Next book_snapshots instant per sampling spec; 0 until the first update.
        self.next_sample: list[int] = []
        self.apply_seq = 0
        #: Tops of book by update id, and quotes waiting for their update: both drop
        #: their oldest entry once full.
        self.recent_tops: SeqMap = seq_map()
        self.pending_quotes: SeqMap = seq_map()
        self.stats = SymbolStats()

    def move(self, event: SyncEvent) -> None:
        self.state = next_state(self.state, event)


class BookEngine:
    """Keeps exact books for every symbol of one exchange."""

    def __init__(
        self,
        rule: SequenceRule,
        out: TableBuffers,
        market_of: Callable[[str], str],
        *,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
        snapshots: Sequence[SnapshotSpec] = (),
        checksum: Checksum | None = None,
        native: bool | None = None,
    ) -> None:
        """``native``: the compiled book (True), the reference (False), or as
        ``COLLECTOR_NATIVE`` says (None); see ``collector.native``."""
        self.rule = rule
        core = native_core(native)
        #: The book and the quote check's maps: the reference's classes or the compiled
        #: core's twins.
        self.book_class: type[OrderBook] = OrderBook if core is None else core.OrderBook
        self.seq_map_class: type[SeqMap] = SeqMap if core is None else core.SeqMap
        #: Are all texts of a snapshot's levels surely storable?
        self._all_plain: Callable[[list], bool] = (
            _all_plain if core is None else partial(_all_plain_native, core.plain_levels)
        )
        self.checksum = checksum
        self.out = out
        self.market_of = market_of
        self.buffer_limit = buffer_limit
        #: book_snapshots specs: (table name, depth, interval in ns, (mark?, funding?)).
        self.sampling = [
            (
                snapshot_table(spec[0], spec[1]),
                spec[0],
                spec[1] * 1_000_000,
                tuple(name in (spec[2] if len(spec) > 2 else ()) for name in SNAPSHOT_WITH),
            )
            for spec in snapshots
        ]
        #: symbol -> (ts_recv, mark price, funding rate), forward-filled, for ``with``.
        self._derivatives: dict[str, deque[tuple[int, str | None, str | None]]] = {}
        self._with = any(any(wanted) for *_, wanted in self.sampling)
        self.symbols: dict[str, SymbolSync] = {}
        self._requests: list[str] = []

    # -- inputs -------------------------------------------------------------

    def on_derivative(self, ticker: DerivativeTicker) -> None:
        """Remember a symbol's latest mark price and funding rate for book_snapshots ``with``.

        Each value is carried forward until a message states it again: a sample row
        holds the latest of each received at or before its instant.
        """
        if not self._with or (ticker.mark_price is None and ticker.funding_rate is None):
            return
        history = self._derivatives.get(ticker.symbol)
        if history is None:
            history = self._derivatives[ticker.symbol] = deque(maxlen=_DERIVATIVE_HISTORY)
        _, mark, funding = history[-1] if history else (0, None, None)
        history.append(
            (
                ticker.ts_recv,
                ticker.mark_price if ticker.mark_price is not None else mark,
                ticker.funding_rate if ticker.funding_rate is not None else funding,
            )
        )

    def _derivative_at(self, symbol: str, instant: int) -> tuple[str | None, str | None]:
        for ts, mark, funding in reversed(self._derivatives.get(symbol, ())):
            if ts <= instant:
                return mark, funding
        return None, None

    def on_delta(self, delta: BookDelta) -> None:
        sym = self.symbols.get(delta.symbol) or self._add(delta.symbol)
        if self.sampling:
            self._sample(sym, delta.ts_recv)
        self._route(sym, delta)

    def _route(self, sym: SymbolSync, delta: BookDelta) -> None:
        state = sym.state
        if state is _SYNCED:
            self._continue(sym, delta)
        elif state is SyncState.BRIDGING:
            self._bridge(sym, delta)
        else:
            self._buffer(sym, delta)

    def on_snapshot(self, snapshot: BookSnapshot) -> None:
        sym = self.symbols.get(snapshot.symbol) or self._add(snapshot.symbol)
        if self.sampling:
            self._sample(sym, snapshot.ts_recv)
        if snapshot.in_band:
            self._reset(sym, snapshot)
            return
        if sym.state is SyncState.SYNCED:
            sym.stats.snapshots_ignored += 1
            return
        sym.move(SyncEvent.SNAPSHOT)
        sym.snapshot = snapshot
        sym.snapshot_wanted = False
        pending = list(sym.buffer)
        sym.buffer.clear()
        for delta in pending:
            self.on_delta(delta)

    def on_quote(self, quote: BestBidAsk) -> None:
        """Check an exchange-stated best bid/ask against the rebuilt book at the same update id.

        Quotes travel on their own stream, so one may arrive before or after the
        depth update it refers to, and before the book is even synced; those are
        held (bounded) until that update is applied.
        """
        if quote.seq is None:
            return
        sym = self.symbols.get(quote.symbol) or self._add(quote.symbol)
        if sym.state is _SYNCED:
            top = sym.recent_tops.get(quote.seq)
            if top is not None:
                self._verify_quote(sym, quote, top)
                return
            if quote.seq <= sym.last_id:
                return  # its update is older than anything remembered
        sym.pending_quotes.hold(quote.seq, quote, _PENDING_QUOTES)

    def on_invalid(self, msg: BookInvalid) -> None:
        """The adapter saw data go missing for this symbol (a connection-wide gap)."""
        sym = self.symbols.get(msg.symbol) or self._add(msg.symbol)
        if sym.state is SyncState.SYNCED:
            sym.stats.gaps += 1
            self._lose_sync(sym, SyncEvent.GAP, msg.ts_recv, QualityKind.GAP, msg.reason, None)
        elif not sym.snapshot_wanted:
            sym.snapshot_wanted = True
            self._requests.append(sym.symbol)

    def invalidate(self, symbol: str, ts_recv: int, seq: int, reason: str, rows: int) -> None:
        """The book of ``symbol`` is known wrong since update ``seq``: resync it.

        Called when text the engine applied unchecked (sizes, for speed) turns
        out not to be a storable decimal at flush time; its ``rows`` emitted rows
        were dropped, so ``book_rows`` counts only rows that reach the sink.
        """
        sym = self.symbols[symbol]
        sym.stats.malformed_levels += 1
        sym.stats.book_rows -= rows
        detail = f"bad level in update {seq}: {reason}; rows from there on dropped"
        if sym.state is SyncState.SYNCED:
            self._lose_sync(sym, SyncEvent.INVALID, ts_recv, QualityKind.MALFORMED, detail, seq)
        else:
            self._quality(sym, ts_recv, QualityKind.MALFORMED, detail, seq)

    def request_snapshot(self, symbol: str) -> None:
        """Ask for a snapshot of ``symbol`` even though no update of it has arrived.

        For a configured symbol the venue stays silent about: fetching its snapshot
        is what surfaces the venue's answer (an unknown symbol, a delisting).
        """
        sym = self.symbols.get(symbol) or self._add(symbol)
        if sym.state is not SyncState.SYNCED and not sym.snapshot_wanted:
            sym.snapshot_wanted = True
            self._requests.append(symbol)

    def snapshot_requests(self) -> list[str]:
        """Symbols that need a REST snapshot now; each is reported once per need."""
        requests, self._requests = self._requests, []
        return requests

    def finish(self, ts_recv: int) -> None:
        """End of input (replay): say which symbols never got (back) in sync."""
        for sym in self.symbols.values():
            if sym.state is not SyncState.SYNCED:
                self._quality(
                    sym,
                    ts_recv,
                    QualityKind.UNSYNCED_AT_END,
                    f"input ended with the book {sym.state.value}: no snapshot resynced "
                    f"it ({len(sym.buffer)} updates buffered)",
                    None,
                )

    # -- states ---------------------------------------------------------------

    def _buffer(self, sym: SymbolSync, delta: BookDelta) -> None:
        if len(sym.buffer) == sym.buffer.maxlen:
            sym.stats.buffer_dropped += 1
        sym.buffer.append(delta)
        sym.move(SyncEvent.BUFFERED)
        if not sym.snapshot_wanted:
            sym.snapshot_wanted = True
            self._requests.append(sym.symbol)

    def _bridge(self, sym: SymbolSync, delta: BookDelta) -> None:
        snapshot = sym.snapshot
        assert snapshot is not None
        rule = self.rule
        if rule.stale(delta, snapshot.last_id):
            if delta.ts_recv - snapshot.ts_recv <= BRIDGE_TIMEOUT_NS:
                sym.move(SyncEvent.STALE)
                sym.stats.stale_dropped += 1
                return
            # Every update for this long was older than the snapshot: the stream is not
            # catching up, the snapshot is from another sequence (a changed first-update
            # rule, a venue restart). Waiting longer would only keep the book dark.
            self._drop_snapshot(
                sym,
                delta,
                f"no update bridged snapshot lastUpdateId={snapshot.last_id} in "
                f"{BRIDGE_TIMEOUT_NS // 10**9} s: every one since (now first={delta.first_id} "
                f"last={delta.last_id}) is older than it; fetching a new one",
            )
            return
        if not rule.bridges(delta, snapshot.last_id):
            self._drop_snapshot(
                sym,
                delta,
                f"snapshot lastUpdateId={snapshot.last_id} is older than the next update "
                f"(first={delta.first_id} last={delta.last_id} prev={delta.prev_id}); "
                "fetching a newer one",
            )
            return
        sym.move(SyncEvent.BRIDGED)
        sym.snapshot = None
        book = sym.book
        book.clear()
        sym.recent_tops.clear()
        bids, asks = self._storable_levels(sym, snapshot)
        if not self._apply(sym, bids, asks, snapshot.ts_recv, snapshot.last_id):
            return
        sym.stats.snapshots_applied += 1
        self._emit(sym, snapshot.ts_exchange, snapshot.ts_recv, snapshot.last_id, True, bids, asks)
        self._quality(
            sym,
            delta.ts_recv,
            QualityKind.SYNCED,
            f"book synced: snapshot lastUpdateId={snapshot.last_id} bridged by update "
            f"first={delta.first_id} last={delta.last_id}",
            snapshot.last_id,
        )
        self._apply_delta(sym, delta)

    def _drop_snapshot(self, sym: SymbolSync, delta: BookDelta, detail: str) -> None:
        """The held REST snapshot cannot be bridged: say why, keep ``delta``, want a new one."""
        snapshot = sym.snapshot
        assert snapshot is not None
        sym.move(SyncEvent.SNAPSHOT_TOO_OLD)
        sym.snapshot = None
        sym.stats.snapshots_too_old += 1
        self._quality(sym, delta.ts_recv, QualityKind.SNAPSHOT_STALE, detail, snapshot.last_id)
        self._buffer(sym, delta)

    def _reset(self, sym: SymbolSync, snapshot: BookSnapshot) -> None:
        """An in-band snapshot: replace the book; drop whatever was buffered before it.

        A venue that sends a snapshot on a connection sends every later update
        on that connection too, so nothing received before the snapshot is
        needed, and replaying it could only mislead: after a venue restart
        (Bybit ``u`` back to 1) old updates look newer than the snapshot.
        """
        was_synced = sym.state is SyncState.SYNCED
        sym.move(SyncEvent.RESET)
        sym.snapshot = None
        sym.snapshot_wanted = False
        sym.book.clear()
        sym.recent_tops.clear()
        sym.stats.stale_dropped += len(sym.buffer)
        sym.buffer.clear()
        seq = snapshot.last_id
        bids, asks = self._storable_levels(sym, snapshot)
        if not self._apply(sym, bids, asks, snapshot.ts_recv, seq):
            return
        if snapshot.depth is not None or snapshot.checksum is not None:
            removed = self._verify(sym, snapshot.depth, snapshot.checksum, snapshot.ts_recv, seq)
            if removed is None:
                return
            if removed[0] or removed[1]:  # written as the book stands, not as sent
                bids = sym.book.bids.top_levels(len(sym.book.bids))
                asks = sym.book.asks.top_levels(len(sym.book.asks))
        sym.last_id = seq
        sym.last_ts_exchange = snapshot.ts_exchange
        sym.stats.snapshots_applied += 1
        self._emit(sym, snapshot.ts_exchange, snapshot.ts_recv, seq, True, bids, asks)
        self._remember_top(sym, seq)
        if not was_synced:
            self._quality(
                sym,
                snapshot.ts_recv,
                QualityKind.SYNCED,
                f"book synced: in-band snapshot at update {seq}",
                seq,
            )

    def _continue(self, sym: SymbolSync, delta: BookDelta) -> None:
        rule = self.rule
        if rule.outdated(delta, sym.last_id):
            sym.move(SyncEvent.OUTDATED)
            sym.stats.duplicates += 1
            self._quality(
                sym,
                delta.ts_recv,
                QualityKind.DUPLICATE,
                f"ignored update first={delta.first_id} last={delta.last_id}: the book is "
                f"already at {sym.last_id}",
                delta.last_id,
            )
            return
        if rule.continues(delta, sym.last_id):
            self._apply_delta(sym, delta)
            return
        sym.stats.gaps += 1
        self._lose_sync(
            sym,
            SyncEvent.GAP,
            delta.ts_recv,
            QualityKind.GAP,
            f"update first={delta.first_id} last={delta.last_id} prev={delta.prev_id} "
            f"does not continue the book at {sym.last_id}",
            delta.last_id,
        )
        self._buffer(sym, delta)

    # -- applying -------------------------------------------------------------

    def _storable_levels(self, sym: SymbolSync, snapshot: BookSnapshot) -> tuple[list, list]:
        """The snapshot's levels without those whose text cannot be stored, each one said.

        A bad level in a *delta* leaves the book wrong (that level's size is unknown), so
        the symbol resyncs. In a snapshot it is one unknown level of an otherwise whole
        book, and a venue that repeats it would break every resync (Coinbase sent
        ``["40531.19", "0.-10000"]``): it is dropped with a ``malformed`` event and the
        rest is kept. Dropped before applying, so the engine's book and the written rows
        agree. Sizes are checked here although deltas leave them to the flush: snapshots
        are rare, and a level the engine holds must be storable.
        """
        bids, bad_bids = _split_storable(snapshot.bids, self._all_plain)
        asks, bad_asks = _split_storable(snapshot.asks, self._all_plain)
        if bad_bids or bad_asks:
            bad = [f"bid {level}: {why}" for level, why in bad_bids]
            bad += [f"ask {level}: {why}" for level, why in bad_asks]
            sym.stats.malformed_levels += len(bad)
            self._quality(
                sym,
                snapshot.ts_recv,
                QualityKind.MALFORMED,
                f"dropped {len(bad)} bad level(s) of snapshot {snapshot.last_id}, kept the "
                f"rest: {'; '.join(bad[:_SHOWN_BAD_LEVELS])}",
                snapshot.last_id,
            )
        return bids, asks

    def _apply_delta(self, sym: SymbolSync, delta: BookDelta) -> None:
        bids, asks = delta.bids, delta.asks
        if not self._apply(sym, bids, asks, delta.ts_recv, delta.last_id):
            return
        if delta.depth is not None or delta.checksum is not None:
            removed = self._verify(sym, delta.depth, delta.checksum, delta.ts_recv, delta.last_id)
            if removed is None:
                return
            if removed[0]:
                bids = [*bids, *removed[0]]
            if removed[1]:
                asks = [*asks, *removed[1]]
        sym.last_id = delta.last_id
        sym.last_ts_exchange = delta.ts_exchange
        sym.stats.deltas_applied += 1
        if bids or asks:
            self._emit(sym, delta.ts_exchange, delta.ts_recv, delta.last_id, False, bids, asks)
        self._remember_top(sym, delta.last_id)

    def _verify(
        self, sym: SymbolSync, depth: int | None, checksum: int | None, ts_recv: int, seq: int
    ) -> tuple[list, list] | None:
        """Cut the book to the venue's depth, then check the venue's checksum.

        Returns the levels the cut deleted (bids, asks), or ``None`` when the
        checksum disagrees: the symbol is then unsynced and nothing is written.
        """
        book = sym.book
        removed: tuple[list, list] = ([], [])
        if depth is not None:
            removed = (book.bids.truncate(depth), book.asks.truncate(depth))
        if checksum is None or self.checksum is None:
            return removed
        expected = self.checksum(sym.symbol, book)
        if expected is None:
            return removed
        if expected == checksum:
            sym.stats.checksums_verified += 1
            return removed
        sym.stats.checksums_failed += 1
        self._lose_sync(
            sym,
            SyncEvent.INVALID,
            ts_recv,
            QualityKind.CHECKSUM_MISMATCH,
            f"book after update {seq} has checksum {expected}, the exchange says {checksum}",
            seq,
        )
        return None

    def _apply(self, sym: SymbolSync, bids: list, asks: list, ts_recv: int, seq: int) -> bool:
        """Apply levels and check the result; on failure the symbol is unsynced, nothing written."""
        book = sym.book
        try:
            book.bids.apply(bids)
            book.asks.apply(asks)
        except InvalidDecimalText as exc:
            sym.stats.malformed_levels += 1
            self._lose_sync(
                sym,
                SyncEvent.INVALID,
                ts_recv,
                QualityKind.MALFORMED,
                f"bad level in update {seq}: {exc}",
                seq,
            )
            return False
        if book.is_crossed():
            sym.stats.crossed += 1
            bid, ask = book.bids.best(), book.asks.best()
            self._lose_sync(
                sym,
                SyncEvent.INVALID,
                ts_recv,
                QualityKind.CROSSED_BOOK,
                f"book crossed after update {seq}: best bid {bid} >= best ask {ask}",
                seq,
            )
            return False
        return True

    def _emit(
        self,
        sym: SymbolSync,
        ts_exchange: int | None,
        ts_recv: int,
        seq: int,
        is_snapshot: bool,
        bids: list,
        asks: list,
    ) -> None:
        first = max(sym.apply_seq + 1, ts_recv)
        rows = len(bids) + len(asks)
        sym.apply_seq = first + rows - 1
        sym.stats.book_rows += rows
        self.out.add_book(
            sym.symbol, sym.market, ts_exchange, ts_recv, seq, first, is_snapshot, bids, asks
        )

    def _lose_sync(
        self,
        sym: SymbolSync,
        event: SyncEvent,
        ts_recv: int,
        kind: str,
        detail: str,
        seq: int | None,
    ) -> None:
        sym.move(event)
        sym.stats.resyncs += 1
        sym.book.clear()
        sym.recent_tops.clear()
        sym.pending_quotes.clear()
        self._quality(sym, ts_recv, kind, detail, seq)
        self._quality(
            sym,
            ts_recv,
            QualityKind.RESYNC,
            f"book invalidated ({kind}); no rows until a snapshot bridges",
            seq,
        )
        if not sym.snapshot_wanted:
            sym.snapshot_wanted = True
            self._requests.append(sym.symbol)

    # -- fixed-interval samples (book_snapshots) --------------------------------

    def _sample(self, sym: SymbolSync, ts_recv: int) -> None:
        """Emit every sample instant before ``ts_recv`` from the book as it stands.

        Instants lie on a grid aligned to the epoch; the sample at instant t is the
        book after every update received at or before t. Driven by the data's own
        receive times, so a replay samples exactly what the live run did.
        """
        if not sym.next_sample:
            sym.next_sample = [-(-ts_recv // step) * step for _, _, step, _ in self.sampling]
            return
        synced = sym.state is SyncState.SYNCED
        for i, (table, depth, step, (with_mark, with_funding)) in enumerate(self.sampling):
            instant = sym.next_sample[i]
            if instant >= ts_recv:
                continue
            if (ts_recv - instant) // step > _MAX_CATCH_UP:
                instant = ts_recv - (ts_recv - instant) % step - _MAX_CATCH_UP * step
            bids = sym.book.bids.top_levels(depth) if synced else []
            asks = sym.book.asks.top_levels(depth) if synced else []
            seq = sym.last_id if synced else None
            ts_exchange = sym.last_ts_exchange if synced else None
            while instant < ts_recv:
                mark, funding = (
                    self._derivative_at(sym.symbol, instant)
                    if with_mark or with_funding
                    else (None, None)
                )
                self.out.add_sample(
                    table,
                    depth,
                    sym.symbol,
                    sym.market,
                    instant,
                    ts_exchange,
                    seq,
                    synced,
                    bids,
                    asks,
                    mark if with_mark else None,
                    funding if with_funding else None,
                )
                instant += step
            sym.next_sample[i] = instant

    # -- verification against the exchange's best bid/ask ----------------------

    def _remember_top(self, sym: SymbolSync, update_id: int) -> None:
        book = sym.book
        top = (book.bids.best_level(), book.asks.best_level())
        sym.recent_tops.put(update_id, top, _RECENT_TOPS)
        pending = sym.pending_quotes
        if pending:
            quote = pending.pop(update_id)
            if quote is not None:
                self._verify_quote(sym, quote, top)
            # Quotes come in update-id order, so the stale ones are at the front.
            pending.drop_below(update_id)

    def _verify_quote(self, sym: SymbolSync, quote: BestBidAsk, top: Top) -> None:
        bid, ask = top
        if _level_equals(bid, quote.bid_price, quote.bid_size) and _level_equals(
            ask, quote.ask_price, quote.ask_size
        ):
            sym.stats.bbo_matched += 1
            return
        sym.stats.bbo_mismatched += 1
        if sym.state is SyncState.SYNCED:
            self._lose_sync(
                sym,
                SyncEvent.INVALID,
                quote.ts_recv,
                QualityKind.BBO_MISMATCH,
                f"book at update {quote.seq} has best bid {_show(sym.book.bids, bid)} / ask "
                f"{_show(sym.book.asks, ask)}, the exchange "
                f"says {quote.bid_price} x {quote.bid_size} / {quote.ask_price} x {quote.ask_size}",
                quote.seq,
            )

    # -- helpers ----------------------------------------------------------------

    def _add(self, symbol: str) -> SymbolSync:
        sym = SymbolSync(
            symbol, self.market_of(symbol), self.buffer_limit, self.book_class, self.seq_map_class
        )
        self.symbols[symbol] = sym
        return sym

    def _quality(
        self, sym: SymbolSync, ts_recv: int, kind: str, detail: str, seq: int | None
    ) -> None:
        self.out.add_quality(QualityEvent(sym.symbol, ts_recv, kind, detail, seq))


def _split_storable(
    levels: list, all_plain: Callable[[list], bool]
) -> tuple[list, list[tuple[list[str], str]]]:
    """(levels whose price and size are storable decimals, [(bad level, why), ...])."""
    if not levels or all_plain(levels):
        return levels, []  # the common case, checked in one pass: nothing to parse
    good, bad = [], []
    for level in levels:
        try:
            check(level[0])
            check(level[1])
        except InvalidDecimalText as exc:
            bad.append(([*level], exc.why))
        else:
            good.append(level)
    return good, bad


def _all_plain(levels: list) -> bool:
    """Every text of ``levels`` is surely storable: one regex pass over them joined
    (and no text holding a comma of its own, which would pass as two)."""
    joined = ",".join(chain.from_iterable(levels))
    return (
        _ALL_PLAIN.fullmatch(joined) is not None and joined.count(",") == sum(map(len, levels)) - 1
    )


def _all_plain_native(plain_levels: Callable[[list], bool | None], levels: list) -> bool:
    """``_all_plain`` by the compiled core, which leaves texts other than ASCII to it."""
    plain = plain_levels(levels)
    return _all_plain(levels) if plain is None else plain


def _level_equals(level: tuple[int, str] | None, price: str, size: str) -> bool:
    if level is None:
        return False
    try:
        return level[0] == price_key(price) and Decimal(level[1]) == Decimal(size)
    except (InvalidDecimalText, InvalidOperation):
        return False


def _show(side: BookSide, level: tuple[int, str] | None) -> str:
    return "none" if level is None else f"{side.texts.get(level[0], level[0])} x {level[1]}"
