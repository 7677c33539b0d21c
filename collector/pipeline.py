"""decode -> book engine -> row buffers -> sink, for one exchange.

The daemon and replay both feed raw records (frames, REST bodies, connection
events) into a ``Pipeline``; nothing downstream knows which of the two it is.
A peer's bad frame is counted, logged once per reason with a sample, written as
a quality event and skipped; it never stops the pipeline.

Drift: by default a pipeline carries the venue's runtime drift monitor
(``collector.contract.monitor``; none for a venue without a contract), which sees
every decoded frame and REST body after the adapter. Being here, it runs
identically live and in replay. With a monitor, an adapter's
``DecodeFailed(unknown=True)`` is reported by the monitor alone (as
``unknown_message_type``, or whatever the contract says differs), not also as a
drift event of its own; ``problems`` still counts it.

Encoded frames: a binary frame is inflated here, first, under the adapter's declared
``frame_encoding`` (``collector.frames``), so the adapter, the overlap filter and the
drift monitor all see the venue's text, live and in replay alike.

Replies: a venue that pings in its own protocol and wants an answer on the same
connection (HTX ``{"ping": N}`` -> ``{"pong": N}``) gets it through a ``Control("reply")``
whose ``detail`` is the text to send. A pipeline built with ``collect_replies`` (the
daemon's) queues ``(conn, text)`` for ``take_replies``; a replay only counts them
(``controls["reply"]``): the capture already holds what the live run sent.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import msgspec
import pyarrow as pa
from msgspec import Raw

from collector import levels
from collector.adapter import Adapter
from collector.book.book import BookSide
from collector.book.engine import BookEngine, SnapshotSpec, SymbolStats, SymbolSync
from collector.capture.records import Record
from collector.contract.monitor import CHECKED_CONTROLS, DriftMonitor, monitor_for
from collector.frames import FrameError, frame_encoding, inflater
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
    DerivativeTicker,
    Liquidation,
    Message,
    OptionSummary,
    QualityEvent,
    QualityKind,
    Trade,
    clip,
)
from collector.native import core as native_core
from collector.overlap import OverlapFilter
from collector.routes import RouteLog
from collector.tables import TableBuffers

log = logging.getLogger(__name__)

#: HTTP answers that mean "slow down" (Binance: 429, then 418 = banned).
RATE_LIMIT_STATUSES = (418, 429)
#: Buffered rows (book levels count one each) before tables go to the sink.
DEFAULT_FLUSH_ROWS = 250_000


class Sink(Protocol):
    def write(self, table: str, exchange: str, data: pa.Table) -> None: ...


class FinalBook(msgspec.Struct):
    """The book a run ended with: enough to check it against another source."""

    update_id: int
    best_bid: tuple[str, str] | None
    best_ask: tuple[str, str] | None
    bid_levels: int
    ask_levels: int


class SymbolSummary(msgspec.Struct):
    """What a run did for one symbol: the replay summary's rows.

    Counters add up across files; ``synced`` and ``book`` describe the end state.
    """

    frames: int = 0
    book_rows: int = 0
    trades: int = 0
    bbo: int = 0
    gaps: int = 0
    resyncs: int = 0
    duplicates: int = 0
    crossed: int = 0
    checksums_verified: int = 0
    checksums_failed: int = 0
    bbo_matched: int = 0
    bbo_mismatched: int = 0
    stale_dropped: int = 0
    snapshots_applied: int = 0
    synced: bool = False
    book: FinalBook | None = None


class Pipeline:
    """Everything between raw records and the sink for one exchange."""

    def __init__(
        self,
        adapter: Adapter,
        sink: Sink,
        *,
        flush_rows: int = DEFAULT_FLUSH_ROWS,
        snapshots: Sequence[SnapshotSpec] = (),
        before_flush: Callable[[], None] | None = None,
        drift: DriftMonitor | Literal["auto"] | None = "auto",
        collect_replies: bool = False,
        native: bool | None = None,
    ) -> None:
        """``before_flush`` runs before rows go to the sink: the daemon flushes its
        raw capture there, so no published row lacks its frame in the capture.

        ``drift``: the runtime drift monitor; ``"auto"`` builds the venue's from its
        contract, None turns it off (the offline contract check validates every
        frame itself). ``collect_replies``: queue the adapter's replies for
        ``take_replies`` (the daemon sends them); otherwise they are only counted.

        ``native``: the compiled core (True) or the pure-Python reference (False) for
        the book and the book table; None follows ``COLLECTOR_NATIVE``."""
        self.adapter = adapter
        self.exchange = adapter.slug
        self.sink = sink
        self.flush_rows = flush_rows
        self.before_flush = before_flush
        self.out = TableBuffers(native=native)
        self.engine = BookEngine(
            adapter.sequence_rule,
            self.out,
            adapter.market,
            snapshots=snapshots,
            checksum=adapter.book_checksum,
            native=native,
        )
        self.frames = 0
        self.frames_by_symbol: Counter[str] = Counter()
        self.trades_by_symbol: Counter[str] = Counter()
        self.bbo_by_symbol: Counter[str] = Counter()
        #: Rows of the derivative tables (derivative_ticker, liquidations, option_summary).
        self.derivatives_by_symbol: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()
        self.controls: Counter[str] = Counter()
        self.last_ts = 0
        self._markets: dict[str, str] = {}
        self.overlap = OverlapFilter()
        self.route_log = RouteLog()  # the daemon's route moves, from its ``open`` records
        #: Latest ts_recv - ts_exchange of each symbol's book updates (for metrics).
        self.lag_ns: dict[str, int] = {}
        #: ``shutdown`` notices seen (a venue announcing it will close the connection).
        self.shutdown_notices = 0
        self.drift = monitor_for(self.exchange) if drift == "auto" else drift
        if self.drift is not None:
            self.drift.attach(self.exchange, self.out.add_quality)
        #: Set while a frame is dispatched when the drift monitor must check it (the
        #: adapter failed on it, or it is a rare message: an ack, a snapshot...).
        self._check = False
        #: The reason of a ``DecodeFailed(unknown=True)`` of the frame being dispatched.
        self._unknown: str | None = None
        #: Reads the level arrays an adapter left as JSON (``collector.levels``).
        self._read_levels = levels.reader(native_core(native, announce=False))
        self.frame_encoding = frame_encoding(adapter)
        self._inflate = inflater(self.frame_encoding)
        #: ``(conn, text)`` replies waiting to be sent (only with ``collect_replies``).
        self._replies: list[tuple[int, str]] | None = [] if collect_replies else None
        self._conn = 0  # the connection of the frame being dispatched

    # -- input ----------------------------------------------------------------

    def on_record(self, record: Record) -> None:
        kind = record.kind
        if kind == "recv":
            self.on_frame(record.data, record.ts, record.conn)
        elif kind == "http":
            self.last_ts = record.ts
            if record.status in RATE_LIMIT_STATUSES:
                detail = f"{record.url} answered {record.status}; {record.data!s:.200}"
                self._problem(QualityKind.RATE_LIMITED, None, record.ts, detail, detail)
                return
            drift = self.drift
            if drift is None:
                self._dispatch(self.adapter.decode_rest(record.url, record.data, record.ts))
                return
            self._dispatch(self.adapter.decode_rest(record.url, record.data, record.ts))
            if record.status is None or 200 <= record.status < 300:
                drift.rest(record.url, record.data, record.ts, self._unknown)
            self._unknown = None
        elif kind == "open":
            self.adapter.connected(record.conn, record.url)
            plan = f"{record.url} {record.data}" if record.data else record.url
            self.overlap.opened(record.conn, plan, record.ts)
            self._connection_event(record, QualityKind.CONNECT, f"connection {record.conn} open")
            data = record.data
            moved = self.route_log.opened(data, record.ts) if isinstance(data, str) else None
            if moved is not None:
                self.out.add_quality(moved)
        elif kind == "connecting":
            self.overlap.connecting(record.conn, record.ts)
        elif kind == "close":
            self.overlap.closed(record.conn, record.ts)
            detail = f"connection {record.conn} closed"
            if isinstance(record.data, str) and record.data:
                detail += f": {record.data}"
            self._connection_event(record, QualityKind.DISCONNECT, detail)

    def inflate(self, data: str | bytes) -> str | bytes:
        """``data`` as the adapter reads it: a binary frame inflated under the venue's
        ``frame_encoding`` (text frames, and every frame of a ``text`` venue, as they came).
        Raises ``FrameError`` for a binary frame that does not inflate."""
        if self._inflate is None or type(data) is str:
            return data
        return self._inflate(data)  # type: ignore[arg-type]

    def on_frame(self, data: str | bytes, ts_recv: int, conn: int = 0) -> None:
        """One received frame. ``conn`` identifies its connection during switch-overs."""
        self.last_ts = ts_recv
        self._conn = conn
        if self._inflate is not None and type(data) is not str:
            try:
                data = self._inflate(data)  # type: ignore[arg-type]
            except FrameError as exc:
                self.frames += 1
                head = bytes(data[:32]).hex()  # type: ignore[index]
                reason = f"binary frame does not inflate ({self.frame_encoding}): {exc}"
                self._failed(DecodeFailed(reason, ts_recv, f"{len(data)} bytes: {head}"))
                return
        overlap = self.overlap
        if overlap.active and not overlap.admit(conn, data, ts_recv):
            return
        self.frames += 1
        drift = self.drift
        if drift is None:
            self._dispatch(self.adapter.decode(data, ts_recv, conn))
            return
        self._check = False
        self._dispatch(self.adapter.decode(data, ts_recv, conn))
        # The monitor's sample, inline: one attribute compare on a frame it skips.
        if self._check or self.frames >= drift.next_frame:
            drift.frame(data, ts_recv, conn, self.frames, self._unknown)
            self._unknown = None

    def take_replies(self) -> list[tuple[int, str]]:
        """The ``(conn, text)`` replies queued since the last call (see the module doc)."""
        replies = self._replies
        if not replies:
            return []
        self._replies = []
        return replies

    def finish(self, ts_recv: int | None = None) -> None:
        """End of input: report unsynced books and hand every buffered row to the sink.

        The end-of-input rows carry the time the end was observed: ``ts_recv`` when
        the caller knows it (the daemon's clock at shutdown), else the last record's
        time (a replay). A pipeline that never received a record (a daemon that never
        connected) has no such time, and its rows must not claim 1970: they get now.
        """
        end = ts_recv or self.last_ts or time.time_ns()
        if self.drift is not None:  # the remainders join the rows buffered so far
            self.drift.finish(end)
        self.flush()  # may find bad text and unsync a symbol: before finish() reports states
        self.engine.finish(end)
        self.flush()

    def input_damaged(self, kind: str, detail: str) -> None:
        """The input broke off (a damaged recording): say so in the data, at the last
        record's time (now if there was none). ``kind`` is ``truncated`` or
        ``corrupt_record``; the caller reports it to the user, so nothing is logged."""
        self.out.add_quality(QualityEvent(None, self.last_ts or time.time_ns(), kind, detail))

    def flush(self) -> None:
        if self.before_flush is not None:
            self.before_flush()
        for table, data in self.out.drain(self.engine.invalidate).items():
            self.sink.write(table, self.exchange, data)

    # -- routing ----------------------------------------------------------------

    def _dispatch(self, messages: list[Message]) -> None:
        engine = self.engine
        for msg in messages:
            cls = type(msg)
            if cls is BookDelta:
                if type(msg.bids) is Raw or type(msg.asks) is Raw:  # type: ignore[union-attr]
                    msg = self._with_levels(msg)  # type: ignore[arg-type,assignment]
                    if msg is None:
                        continue
                self.frames_by_symbol[msg.symbol] += 1  # type: ignore[union-attr]
                if msg.ts_exchange is not None:  # type: ignore[union-attr]
                    self.lag_ns[msg.symbol] = msg.ts_recv - msg.ts_exchange  # type: ignore[union-attr]
                engine.on_delta(msg)  # type: ignore[arg-type]
            elif cls is BestBidAsk:
                self._quote(msg)  # type: ignore[arg-type]
            elif cls is Trade:
                self._trade(msg)  # type: ignore[arg-type]
            elif cls is BookSnapshot:
                if self.drift is not None and self.drift.snapshot_due():
                    self._check = True
                self.frames_by_symbol[msg.symbol] += 1  # type: ignore[union-attr]
                engine.on_snapshot(msg)  # type: ignore[arg-type]
            elif cls is DerivativeTicker or cls is Liquidation or cls is OptionSummary:
                self._derivative(msg)  # type: ignore[arg-type]
            elif cls is Control:
                self._control(msg)  # type: ignore[arg-type]
            elif cls is BookInvalid:
                self._check = True
                engine.on_invalid(msg)  # type: ignore[arg-type]
            elif cls is DecodeFailed:
                self._failed(msg)  # type: ignore[arg-type]
        if self.frames & 255 == 0 and self.out.pending_rows >= self.flush_rows:
            self.flush()

    def _with_levels(self, delta: BookDelta) -> BookDelta | None:
        """``delta`` with the level arrays its adapter left as JSON read; None, and the
        frame counted as malformed, when one is not an array of [price, size] strings."""
        try:
            return levels.read(delta, self._read_levels)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            sample = " ".join(
                f"{side}={bytes(raw).decode('utf-8', 'replace')}"
                for side, raw in (("bids", delta.bids), ("asks", delta.asks))
                if type(raw) is Raw
            )
            self._failed(DecodeFailed(f"book levels: {exc}", delta.ts_recv, sample))
            return None

    def _market(self, symbol: str) -> str:
        market = self._markets.get(symbol)
        if market is None:
            market = self._markets[symbol] = self.adapter.market(symbol)
        return market

    def _quote(self, quote: BestBidAsk) -> None:
        symbol = quote.symbol
        self.frames_by_symbol[symbol] += 1
        self.bbo_by_symbol[symbol] += 1
        self.out.add_bbo(quote, self._market(symbol))
        self.engine.on_quote(quote)

    def _trade(self, trade: Trade) -> None:
        symbol = trade.symbol
        self.frames_by_symbol[symbol] += 1
        self.trades_by_symbol[symbol] += 1
        self.out.add_trade(trade, self._market(symbol))

    def _derivative(self, msg: DerivativeTicker | Liquidation | OptionSummary) -> None:
        symbol = msg.symbol
        self.frames_by_symbol[symbol] += 1
        self.derivatives_by_symbol[symbol] += 1
        self.out.add_derivative(msg, self._market(symbol))
        if type(msg) is DerivativeTicker:
            self.engine.on_derivative(msg)  # type: ignore[arg-type]

    def _control(self, msg: Control) -> None:
        self.controls[msg.kind] += 1
        if msg.kind in CHECKED_CONTROLS:
            self._check = True
        if msg.kind == "error":
            self._problem(
                QualityKind.EXCHANGE_ERROR, msg.symbol, msg.ts_recv, msg.detail, msg.detail
            )
        elif msg.kind == "reply":
            if self._replies is not None:
                self._replies.append((self._conn, msg.detail))
        elif msg.kind == "shutdown":
            self.shutdown_notices += 1
            self.out.add_quality(
                QualityEvent(None, msg.ts_recv, QualityKind.DISCONNECT, msg.detail)
            )

    def _failed(self, msg: DecodeFailed) -> None:
        self._check = True
        if msg.unknown and self.drift is not None:
            # The monitor checks this frame and reports it (once, rate-limited): count only.
            if self._unknown is None:
                self._unknown = msg.reason
            self.problems[f"{QualityKind.DRIFT}: {msg.reason}"] += 1
            return
        kind = QualityKind.DRIFT if msg.unknown else QualityKind.MALFORMED
        self._problem(kind, None, msg.ts_recv, f"{msg.reason}; frame: {msg.sample}", msg.sample)

    def _problem(
        self, kind: str, symbol: str | None, ts_recv: int, detail: str, sample: str
    ) -> None:
        event = QualityEvent(symbol, ts_recv, kind, detail)  # clips a huge detail
        key = f"{kind}: {event.detail.split(';')[0]}"
        if not self.problems[key]:
            log.warning("%s %s (first of its kind; sample: %s)", self.exchange, key, clip(sample))
        self.problems[key] += 1
        self.out.add_quality(event)

    def _connection_event(self, record: Record, kind: str, detail: str) -> None:
        self.last_ts = record.ts
        url = f" {record.url}" if record.url else ""
        self.out.add_quality(QualityEvent(None, record.ts, kind, detail + url))

    # -- results ------------------------------------------------------------------

    def summary(self) -> dict[str, SymbolSummary]:
        stats: dict[str, SymbolStats] = {s: v.stats for s, v in self.engine.symbols.items()}
        symbols = set(self.frames_by_symbol) | set(stats)
        out = {}
        for symbol in sorted(symbols):
            st = stats.get(symbol, SymbolStats())
            sync = self.engine.symbols.get(symbol)
            out[symbol] = SymbolSummary(
                frames=self.frames_by_symbol[symbol],
                book_rows=st.book_rows,
                trades=self.trades_by_symbol[symbol],
                bbo=self.bbo_by_symbol[symbol],
                gaps=st.gaps,
                resyncs=st.resyncs,
                duplicates=st.duplicates,
                crossed=st.crossed,
                checksums_verified=st.checksums_verified,
                checksums_failed=st.checksums_failed,
                bbo_matched=st.bbo_matched,
                bbo_mismatched=st.bbo_mismatched,
                stale_dropped=st.stale_dropped,
                snapshots_applied=st.snapshots_applied,
                synced=sync is not None and sync.state.value == "synced",
                book=_final_book(sync)
                if sync is not None and sync.state.value == "synced"
                else None,
            )
        return out


def _final_book(sync: SymbolSync) -> FinalBook:
    def level(side: BookSide) -> tuple[str, str] | None:
        best = side.best()
        return None if best is None else (str(best[0]), best[1])

    book = sync.book
    return FinalBook(
        sync.last_id, level(book.bids), level(book.asks), len(book.bids), len(book.asks)
    )
