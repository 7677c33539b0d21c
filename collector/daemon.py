"""``collector run``: config -> connections -> capture -> adapters -> book engine -> Parquet.

Theory of operation:

* One ``ExchangeRunner`` per configured exchange owns its adapter, pipeline and
  raw capture, and one ``WsSupervisor`` per connection the adapter plans. Every
  received frame is written to the capture first and then decoded, so the
  capture replays to exactly the rows the live run wrote.
* A venue that asks for an answer on the connection a frame came from (HTX's
  ``{"ping": N}``) gets it: the adapter decodes a ``Control("reply")``, the pipeline
  queues it, and ``on_frame`` sends it through the supervisor owning that connection,
  recorded as a ``send`` like any other frame.
* At start each runner fetches its venue's instrument lists (``instrument_requests``)
  before opening any connection, for at most ``INSTRUMENTS_TIMEOUT_S``: see
  ``ExchangeRunner.load_instruments`` for why before, and why bounded. A configured
  symbol those lists do not name is dropped then, with one ERROR line and an
  ``exchange_error`` quality row (``ExchangeRunner.drop_unlisted``).
* A venue whose websocket address comes from a REST call (KuCoin's token) gets
  that call before every connect (``ExchangeRunner.endpoint``): recorded as an
  ``http`` record like any other body, its failures counted, retried with the
  connection's backoff; ``rewrite`` applies to the call and to the URL it gives.
* The book engine asks for REST snapshots; the runner fetches them (the REST
  client waits out rate limits) and feeds the body through the same pipeline
  as any recorded ``http`` record. One symbol's fetch never blocks another's.
* A flush loop hands buffered rows to the sink every ``flush_interval_s`` and
  publishes files whose time window has passed. The sink runs on a writer thread
  (``collector.sinks.threaded``; ``[daemon] writer_thread``): the event loop only
  hands tables over, so frames are read and stamped while Parquet is encoded and
  written. Its queue takes a quarter of ``[output] max_buffered_bytes`` and the
  sink the rest, so what waits in memory stays within that bound; a full queue
  makes the stream wait (it never drops), and a publish fsyncs the captures'
  files from the writer thread (``_fsync_captures``) before the rename.
* With ``[daemon] status`` (or ``collector run --status``) a live table of every
  stream redraws on a rich console (``collector.status``).
* SIGINT/SIGTERM: supervisors stop, every buffered row is flushed, the capture
  and every Parquet file are closed; this runs shielded from cancellation.
* Write failures (full disk, EIO, EACCES, a dead store) never stop a connection
  or the flush loop: the writers keep what they could not write and retry, and
  ``collector.write_faults`` makes each episode loud (ERROR once, a metric,
  ``/health`` 503 with the reason, ``write_error`` quality events). Rows wait
  in memory up to ``[output] max_buffered_bytes``; the order of loss past that
  is: the raw capture pauses first (its own bound), then the oldest rows of the
  busiest table go, each drop a ``buffer_overflow`` quality event naming the
  window. A shutdown that cannot publish every row leaves the capture
  ``.inprogress``, and exits 1: the next start recovers those rows from it.
* Crash recovery: at start, leftovers of an earlier run of this instance
  (capture sessions still ``.inprogress``) are replayed into the dataset,
  skipping what that run had published (``collector.recover``), in a child
  process while the venues connect (``collector.recovery_process``).
* Object storage (``dir = "s3://..."``): files are written to a local spool and
  uploaded by ``collector.spool``. Spool budget policy, chosen so that no
  normalized row is ever lost: while either spool holds more finished files than
  its ``spool_max_bytes``, the **raw capture pauses** (records are counted in
  ``collector_capture_dropped_records`` and skipped, with one log line when the
  pause starts and one when it ends); Parquet files keep being spooled past the
  budget, because the normalized tables are the product and the capture is only
  their recovery log. At shutdown uploads get ``SHUTDOWN_UPLOAD_S``; what is left
  stays in the spool and is uploaded by the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import msgspec
import pyarrow as pa
from rich.console import Console

import adapters
from collector.adapter import Bootstrapped, ConnectionPlan, Endpoint, PollRequest, Subscription
from collector.book.engine import SnapshotSpec
from collector.book.state import SyncState
from collector.capture.records import Record
from collector.capture.writer import CaptureWriter
from collector.config import CaptureConfig, Config, ExchangeConfig, OutputConfig
from collector.metrics import Metrics
from collector.model import QualityEvent, QualityKind
from collector.pipeline import DEFAULT_FLUSH_ROWS, Pipeline
from collector.quality.model import iso
from collector.recover import pending_sessions, remove_unfinished
from collector.recovery_process import BackgroundRecovery
from collector.rerouter import Rerouter
from collector.sinks.parquet import ParquetSink
from collector.sinks.threaded import ThreadedSink
from collector.spool import Spool
from collector.status import run_status
from collector.storage import is_remote, resolve
from collector.transport.neterrors import short_error
from collector.transport.rest import RestClient
from collector.transport.ws import WsSupervisor, loggable_url
from collector.write_faults import WriteFaults, describe

log = logging.getLogger(__name__)

#: How often the runner looks for symbols that need a snapshot.
SNAPSHOT_POLL_S = 0.05
#: A connection is reconnected for a resync at most this often.
RESUBSCRIBE_MIN_S = 5.0
#: How long a venue's connections wait for its instrument lists at start.
INSTRUMENTS_TIMEOUT_S = 15.0
#: Share of a venue's REST weight budget that polled data (open interest) may use:
#: book snapshots, which resync books, must always find weight left.
POLL_BUDGET_SHARE = 0.25
#: Tries per instrument list (network errors, 5xx and rate limits are retried).
INSTRUMENT_ATTEMPTS = 3

#: Seconds shutdown waits for spooled files to reach object storage.
SHUTDOWN_UPLOAD_S = 20.0
#: A table's rows dropped over the memory bound are logged at most this often.
OVERFLOW_LOG_S = 60.0
#: Share of ``[output] max_buffered_bytes`` the writer thread's queue may hold.
WRITER_QUEUE_SHARE = 0.25
#: The event loop's lag is sampled this often (``collector_event_loop_lag_seconds``).
LAG_SAMPLE_S = 0.1
#: With the writer thread, buffered rows are handed over once this many are pending
#: (besides every flush interval): building a flush's Arrow tables still runs on the
#: event loop, in time proportional to its rows, so small hand-offs keep each pause
#: short (~400 ns a row in pure Python: 20 k rows ~ 8 ms) and the writer busy evenly.
HANDOFF_ROWS = 20_000


def destination(name: str, cfg: OutputConfig | CaptureConfig) -> tuple[Path, Spool | None]:
    """Local directory to write ``cfg.dir``'s files in, and the spool uploading them
    (None for a local ``dir``: files are written in place, as always)."""
    if not is_remote(cfg.dir):
        return Path(cfg.dir.removeprefix("file://")), None
    target = resolve(cfg.dir, endpoint_url=cfg.endpoint_url, region=cfg.region, attempts=1)
    spool = Spool(name, cfg.spool_dir, target, max_bytes=cfg.spool_max_bytes)
    return spool.directory, spool


class ExchangeRunner:
    """Everything live about one exchange; also the frame handler of its connections."""

    def __init__(
        self,
        cfg: ExchangeConfig,
        sink: ParquetSink | ThreadedSink,
        capture: CaptureConfig,
        instance: str,
        metrics: Metrics,
        snapshots: list[SnapshotSpec],
        capture_dir: Path | None = None,
        on_capture_file: Callable[[Path], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.adapter = adapters.create(cfg.name)
        self.capture = (
            CaptureWriter(
                capture_dir or capture.dir,
                cfg.name,
                instance,
                rotate_seconds=capture.rotate_seconds,
                level=capture.compression_level,
                on_complete=on_capture_file,
            )
            if capture.enabled
            else None
        )
        #: False while the spools are over budget: raw records are then dropped (counted).
        self.capturing = True
        self.pipeline = Pipeline(
            self.adapter,
            sink,
            snapshots=snapshots,
            before_flush=self.capture.flush if self.capture is not None else None,
            flush_rows=HANDOFF_ROWS if isinstance(sink, ThreadedSink) else DEFAULT_FLUSH_ROWS,
            collect_replies=True,
        )
        # One REST client per venue: each has its own weight budget and its own bans.
        self.rest = RestClient(
            weight_limit_per_minute=self.adapter.rest_weight_per_minute,
            on_rate_limited=self._rate_limited,
        )
        self.metrics = metrics
        #: The symbols subscribed: the configured ones less any the venue does not list.
        self.symbols = list(cfg.symbols)
        #: The symbols whose order book is configured (none without the book channel).
        self.book_symbols = list(cfg.symbols) if "book" in cfg.channels else []
        #: Planned from the config; planned again in ``run`` if the instrument lists
        #: drop a symbol (``drop_unlisted``), before any connection opens.
        self._plan()
        self._fetching: set[str] = set()
        self._resubscribed: dict[int, float] = {}  # id(supervisor) -> monotonic time
        self._tasks: set[asyncio.Task[None]] = set()
        self._capture_errors = 0  # the writer's failed attempts already reported
        self._capture_dropped = 0

    @property
    def session(self) -> str | None:
        """The capture session this run's rows come from (None without capture)."""
        return None if self.capture is None else self.capture.session

    def quality(self, ts_ns: int, kind: str, detail: str) -> None:
        """A venue-wide quality event from the daemon itself (not from a frame)."""
        self.pipeline.out.add_quality(QualityEvent(None, ts_ns, kind, detail))

    def report_capture(self, faults: WriteFaults) -> None:
        """Tell ``faults`` how the capture writer fares (it never raises; see its doc)."""
        capture = self.capture
        if capture is None:
            return
        target = f"capture:{self.cfg.name}"
        attempts = capture.errors - self._capture_errors
        self._capture_errors = capture.errors
        dropped = capture.dropped - self._capture_dropped
        self._capture_dropped = capture.dropped
        self.metrics.capture_dropped[self.cfg.name] += dropped
        if capture.last_error is not None:
            faults.failed(target, capture.last_error, str(capture.current_path), attempts)
        else:
            faults.succeeded(target)

    # -- frame handler (called by the supervisors) ---------------------------

    def on_connecting(self, conn: int, url: str, ts: int) -> None:
        self._record(Record("connecting", ts, conn, url=url))

    def on_open(self, conn: int, url: str, ts: int) -> None:
        # Which plan the connection serves: venues that take their subscriptions in
        # frames use one URL for every connection, and only a connection of the
        # same plan carries the same events (see ``overlap``).
        plan = next((i for i, s in enumerate(self.supervisors) if s.owns(conn)), None)
        self._record(Record("open", ts, conn, self.rerouter.note(plan, conn, url), url=url))
        self.metrics.connected(self.cfg.name)

    def on_close(self, conn: int, ts: int, reason: str) -> None:
        self._record(Record("close", ts, conn, reason))
        self.metrics.disconnected(self.cfg.name)

    def on_send(self, conn: int, data: str, ts: int) -> None:
        self._capture(Record("send", ts, conn, data))

    def on_frame(self, conn: int, data: str | bytes, ts_recv: int) -> None:
        self._capture(Record("recv", ts_recv, conn, data))
        pipeline = self.pipeline
        notices = pipeline.shutdown_notices
        routed = self.rerouter.before_frame(conn)
        pipeline.on_frame(data, ts_recv, conn)
        if routed is not None:
            self.rerouter.after_frame(conn, routed)
        self.metrics.frame(self.cfg.name, len(data))
        for to, reply in pipeline.take_replies():  # answered on the asking connection
            for supervisor in self.supervisors:
                if supervisor.send(to, reply):
                    break
        if pipeline.shutdown_notices != notices:
            for supervisor in self.supervisors:
                if supervisor.owns(conn):
                    supervisor.reconnect_now("venue announced shutdown")

    def _record(self, record: Record) -> None:
        self._capture(record)
        self.pipeline.on_record(record)

    # -- start-up ----------------------------------------------------------------

    def _plan(self) -> None:
        """One supervisor per connection the adapter plans for ``symbols``, and the
        rerouter that moves their routed channels (``collector.routes``)."""
        cfg = self.cfg
        subs = [Subscription(s, c) for s in self.symbols for c in cfg.channels]
        supervisors = []
        for plan in self.adapter.plan(subs):
            if cfg.connection_lifetime_s is not None:
                plan = msgspec.structs.replace(plan, lifetime_s=cfg.connection_lifetime_s)
            stale = min(cfg.stale_after_s[s.channel] for s in plan.subscriptions)
            resolve = self.endpoint if plan.bootstrap is not None else None
            url = cfg.rewrite_url(plan.url)
            supervisors.append(
                WsSupervisor(plan, self, url=url, stale_after_s=stale, resolve=resolve)
            )
        self.supervisors = supervisors
        self.rerouter = Rerouter(cfg, supervisors, self.pipeline, self.metrics)

    async def run(self) -> None:
        """Instrument lists first (bounded), then every connection and the snapshot loop.

        A crashed connection task does not take the others down (as the daemon's
        own tasks never did); cancelling ``run`` cancels them all.
        """
        await self.load_instruments()
        self.drop_unlisted()
        tasks = [supervisor.run() for supervisor in self.supervisors]
        tasks.append(self.poll_loop())
        await asyncio.gather(
            *tasks, self.snapshot_loop(), self.rerouter.run(), return_exceptions=True
        )

    async def load_instruments(self, timeout_s: float = INSTRUMENTS_TIMEOUT_S) -> None:
        """Fetch the venue's instrument lists once and feed them to the adapter, recorded.

        Before connecting, because the pipeline caches each symbol's market name
        with its first row: a list arriving after the first frames would leave
        those rows, and every later one, with the name guessed from the symbol.
        Bounded, because market names are metadata and the book is the data: a
        venue whose REST host is slow or down must not keep its streams closed,
        so after ``timeout_s`` the runner connects with whatever has arrived.
        Every accepted body goes through ``_record``: the capture holds it before
        any ``open``, so its replay names markets exactly as this run did. A list
        that fails (refused, 404, unreachable) is logged once and skipped.
        """
        failed: list[str] = []
        try:
            await asyncio.wait_for(self._fetch_instruments(failed), timeout_s)
        except TimeoutError:
            failed.append(f"timed out after {timeout_s:g} s")
        if failed:
            log.warning(
                "%s: instrument lists incomplete (%s); markets not listed are named from "
                "their symbols",
                self.cfg.name,
                "; ".join(failed),
            )

    def drop_unlisted(self) -> list[str]:
        """Stop subscribing the configured symbols the venue's loaded lists do not name.

        A venue refuses a subscription to a symbol it does not list, and on most
        venues that closes the whole connection, with every valid symbol on it,
        again on each reconnect. So such a symbol is dropped before connecting: one
        ERROR line per venue, an ``exchange_error`` quality row per symbol (the
        dataset then says why the symbol has no data), and it leaves the books that
        ``/health`` and the metrics expect. A symbol whose list did not arrive is
        kept (``listed`` is None): an unreachable REST host must not drop them all.
        Returns the dropped symbols.
        """
        dropped = [s for s in self.symbols if self.adapter.listed(s) is False]
        if not dropped:
            return []
        now = time.time_ns()
        for symbol in dropped:
            detail = f"{symbol} is not in {self.cfg.name}'s instrument lists; not subscribed"
            self.pipeline.out.add_quality(
                QualityEvent(symbol, now, QualityKind.EXCHANGE_ERROR, detail)
            )
        self.symbols = [s for s in self.symbols if s not in dropped]
        self.book_symbols = [s for s in self.book_symbols if s not in dropped]
        self.metrics.engine(self.cfg.name, self.pipeline, self.book_symbols)
        self._plan()
        log.error(
            "%s: the venue does not list %s: not subscribed (check the spelling in the "
            "config); its other %d symbol(s) stream as usual",
            self.cfg.name,
            ", ".join(dropped),
            len(self.symbols),
        )
        return dropped

    async def _fetch_instruments(self, failed: list[str]) -> None:
        for request in self.adapter.instrument_requests():
            url = self.cfg.rewrite_url(request.url)
            try:
                response = await self.rest.get(
                    url, request.weight, max_attempts=INSTRUMENT_ATTEMPTS
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                failed.append(f"{loggable_url(url)}: {short_error(exc, url)}")
                continue
            if not 200 <= response.status < 300:
                # Not recorded: an error page is no instrument list, and feeding it to
                # the adapter would report a malformed response rather than a failed one.
                failed.append(f"{loggable_url(url)}: HTTP {response.status}")
                continue
            body = response.body.decode("utf-8", "replace")
            self._record(Record("http", response.ts_recv, 0, body, url, response.status))

    def _capture(self, record: Record) -> None:
        if self.capture is not None:
            if self.capturing:
                self.capture.write(record)
            else:
                self.metrics.capture_dropped[self.cfg.name] += 1

    # -- websocket addresses from a REST call (KuCoin) -------------------------------

    async def endpoint(self, plan: ConnectionPlan) -> Endpoint | None:
        """Where ``plan`` connects now: its ``bootstrap`` call, answered, recorded, decoded.

        One attempt: the supervisor's backoff paces the retries, as for a failed
        handshake. The answer is recorded whatever its status (a replay then sees
        the same calls), and ``rewrite`` applies both to the call and to the URL
        the venue answers with, so a config can point the whole venue elsewhere.
        """
        request = plan.bootstrap
        assert request is not None
        url = self.cfg.rewrite_url(request.url)
        shown = f"{request.method} {loggable_url(url)}"
        try:
            response = await self.rest.request(request.method, url, request.weight, max_attempts=1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._endpoint_failed(f"{shown}: {short_error(exc, url)}")
        body = response.body.decode("utf-8", "replace")
        self._record(Record("http", response.ts_recv, 0, body, url, response.status))
        if not 200 <= response.status < 300:
            return self._endpoint_failed(f"{shown}: HTTP {response.status} {body:.200}")
        adapter: Bootstrapped = self.adapter  # type: ignore[assignment]
        try:
            endpoint = adapter.endpoint(body, uuid.uuid4().hex)
        except ValueError as exc:
            return self._endpoint_failed(f"{shown}: {exc}")
        return msgspec.structs.replace(endpoint, url=self.cfg.rewrite_url(endpoint.url))

    def _endpoint_failed(self, why: str) -> None:
        log.warning("%s: no websocket address: %s", self.cfg.name, why)
        self.metrics.endpoint_failed(self.cfg.name)

    # -- polled REST data (open interest) -----------------------------------------

    def poll_requests(self) -> list[PollRequest]:
        """The adapter's periodic REST requests (``poll_requests``) for the subscribed symbols.

        ``poll_interval_s`` in the config replaces the adapter's interval; intervals are
        then stretched, with a warning, until the polls use at most
        ``POLL_BUDGET_SHARE`` of the venue's weight budget.
        """
        declare = getattr(self.adapter, "poll_requests", None)
        if declare is None:
            return []
        subs = [Subscription(s, c) for s in self.symbols for c in self.cfg.channels]
        polls: list[PollRequest] = declare(subs)
        if self.cfg.poll_interval_s is not None:
            polls = [msgspec.structs.replace(p, interval_s=self.cfg.poll_interval_s) for p in polls]
        budget = self.adapter.rest_weight_per_minute
        per_minute = sum(p.request.weight * 60 / p.interval_s for p in polls)
        if budget and per_minute > budget * POLL_BUDGET_SHARE:
            stretch = per_minute / (budget * POLL_BUDGET_SHARE)
            log.warning(
                "%s: %d polls every %g s would use %.0f of %d REST weight a minute; "
                "polling %.1f times less often",
                self.cfg.name,
                len(polls),
                polls[0].interval_s,
                per_minute,
                budget,
                stretch,
            )
            polls = [msgspec.structs.replace(p, interval_s=p.interval_s * stretch) for p in polls]
        return polls

    async def poll_loop(self) -> None:
        """Poll each request forever, spread over its interval; each body is recorded
        and decoded like any other (so a replay of the capture writes the same rows)."""
        polls = self.poll_requests()
        await asyncio.gather(*(self._poll(p, i / len(polls)) for i, p in enumerate(polls)))

    async def _poll(self, poll: PollRequest, phase: float) -> None:
        url = self.cfg.rewrite_url(poll.request.url)
        await asyncio.sleep(poll.interval_s * phase)
        while True:
            try:
                response = await self.rest.get(url, poll.request.weight, max_attempts=1)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("%s: poll of %s failed: %r", self.cfg.name, loggable_url(url), exc)
            else:
                body = response.body.decode("utf-8", "replace")
                self._record(Record("http", response.ts_recv, 0, body, url, response.status))
            await asyncio.sleep(poll.interval_s)

    # -- snapshots -------------------------------------------------------------

    async def snapshot_loop(self) -> None:
        started = time.monotonic()
        silent = set(self.book_symbols)
        while True:
            if silent and time.monotonic() - started > self.cfg.stale_after_s.get("book", 30.0):
                self._report_silent_books(silent)
                silent.clear()
            for symbol in self.pipeline.engine.snapshot_requests():
                if symbol not in self._fetching:
                    self._fetching.add(symbol)
                    task = asyncio.create_task(self._fetch(symbol), name=f"snapshot {symbol}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(SNAPSHOT_POLL_S)

    def _report_silent_books(self, symbols: set[str]) -> None:
        """Books that never received an update: say so, and fetch a snapshot to learn why."""
        engine = self.pipeline.engine
        stale = self.cfg.stale_after_s.get("book", 30.0)
        for symbol in sorted(symbols - set(engine.symbols)):
            self.pipeline.out.add_quality(
                QualityEvent(
                    symbol,
                    time.time_ns(),
                    QualityKind.STALE,
                    f"no book update for {symbol} in the {stale:g} s since start",
                )
            )
            engine.request_snapshot(symbol)

    async def _resubscribe(self, symbol: str) -> None:
        """Resync an in-band venue's book: a new connection starts with a new snapshot.

        Reconnecting (make-before-break, through the supervisor) is the one
        resubscription every venue supports. A connection is reconnected at most
        once per ``RESUBSCRIBE_MIN_S``: a request inside that window waits it
        out, and is dropped if the book got back in sync meanwhile (the earlier
        reconnect's snapshot did it).
        """
        for supervisor in self.supervisors:
            if not any(s.symbol == symbol for s in supervisor.plan.subscriptions):
                continue
            last = self._resubscribed.get(id(supervisor), -RESUBSCRIBE_MIN_S)
            wait = last + RESUBSCRIBE_MIN_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            book = self.pipeline.engine.symbols.get(symbol)
            if book is not None and book.state is SyncState.SYNCED:
                return
            self._resubscribed[id(supervisor)] = time.monotonic()
            supervisor.reconnect_now(f"resync {symbol}: the venue sends snapshots on subscribe")

    async def _fetch(self, symbol: str) -> None:
        request = self.adapter.snapshot_request(symbol)
        if request is None:
            try:
                await self._resubscribe(symbol)
            finally:
                self._fetching.discard(symbol)
            return
        url = self.cfg.rewrite_url(request.url)
        try:
            while True:
                response = await self.rest.get(url, request.weight)
                body = response.body.decode("utf-8", "replace")
                # Recorded either way: a refusal replays to the same quality event.
                self._record(Record("http", response.ts_recv, 0, body, url, response.status))
                if 200 <= response.status < 300:
                    break
                log.warning("%s answered %d; retrying in 30 s", url, response.status)
                await asyncio.sleep(30)
            self.metrics.snapshot(self.cfg.name)
        finally:
            self._fetching.discard(symbol)

    # -- lifecycle -------------------------------------------------------------

    def flush(self, now_ns: int) -> None:
        self.pipeline.flush()  # flushes the capture first (before_flush)
        self.metrics.engine(self.cfg.name, self.pipeline)

    def stop(self) -> None:
        for supervisor in self.supervisors:
            supervisor.stop()

    def _rate_limited(self, url: str, status: int, retry_after: float | None) -> None:
        # As an http record, so the capture replays to the same quality event.
        self._record(Record("http", time.time_ns(), 0, f"retry after {retry_after} s", url, status))
        self.metrics.rate_limited()

    def finish(self) -> None:
        """End of input: unsynced books say so, as a replay of the capture would."""
        for task in self._tasks:
            task.cancel()
        self.pipeline.finish()

    async def close(self, *, published: bool = True) -> bool:
        """Close the capture (left ``.inprogress`` unless every row was ``published``:
        crash recovery then rebuilds them) and the REST client; False if the capture
        could not be finished."""
        ok = True
        if self.capture is not None:
            try:
                self.capture.close(finish=published)
            except OSError as exc:
                log.error(
                    "%s: capture not finished, left in progress for recovery: %s",
                    self.cfg.name,
                    describe(exc, str(self.capture.current_path)),
                )
                ok = False
        await self.rest.close()
        return ok


class Daemon:
    def __init__(self, config: Config, console: Console | None = None) -> None:
        self.config = config
        #: Where the status view draws; the CLI passes the one its logs go to, so
        #: log lines appear above the table instead of through it.
        self.console = console
        out = config.output
        root, output_spool = destination("output", out)
        capture_dir, capture_spool = destination("capture", config.capture)
        self.capture_dir, self.output_spool = capture_dir, output_spool
        self.capture_spool = capture_spool
        #: Spools uploading to object storage (none when both dirs are local).
        self.spools = [s for s in (output_spool, capture_spool) if s is not None]
        self.faults = WriteFaults(on_episode=self._write_episode)
        threaded = config.daemon.writer_thread
        queue_bytes = max(1, int(out.max_buffered_bytes * WRITER_QUEUE_SHARE)) if threaded else 0
        sink = ParquetSink(
            root,
            instance=config.daemon.instance,
            rotate_seconds=out.rotate_seconds,
            rotate_bytes=out.rotate_bytes,
            on_publish=output_spool.submit if output_spool else None,
            before_publish=self._fsync_captures if threaded else self._sync_captures,
            max_buffered_bytes=out.max_buffered_bytes - queue_bytes,
            on_overflow=self._overflow_from_writer if threaded else self._overflow,
            keep_paths=False,
        )
        #: The sink the runners write to: on the writer thread unless configured off.
        self.sink: ParquetSink | ThreadedSink = (
            ThreadedSink(sink, max_queued_bytes=queue_bytes) if threaded else sink
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self.metrics = Metrics()
        self.metrics.files_published = lambda: self.sink.files_published
        self.metrics.spools = self.spools
        self.metrics.faults = self.faults
        self.metrics.sink = self.sink
        self.metrics.writer = self.sink if isinstance(self.sink, ThreadedSink) else None
        self.runners = [
            ExchangeRunner(
                ex,
                self.sink,
                config.capture,
                config.daemon.instance,
                self.metrics,
                config.snapshot_specs,
                capture_dir,
                capture_spool.submit if capture_spool else None,
            )
            for ex in config.exchanges
        ]
        for runner in self.runners:
            if runner.session is not None:
                self.sink.sessions[runner.cfg.name] = runner.session
        self._capture_paused = False
        self._overflow_logged: dict[tuple[str, str], float] = {}
        self._spool_failures: dict[str, int] = {}
        self._sink_errors = 0
        #: False when shutdown could not publish every row (the exit code says so).
        self.clean_exit = True
        for runner in self.runners:
            self.metrics.engine(runner.cfg.name, runner.pipeline, runner.book_symbols)
        self.stopping = asyncio.Event()
        #: Crash recovery running in a child process (``_start_recovery``), if any.
        self.recovery: BackgroundRecovery | None = None
        #: Why it failed, if it did: rows of a crashed run are missing until a restart.
        self.recovery_failure: str | None = None

    async def run(self) -> None:
        """Run until ``stop()``; then flush and close everything."""
        self._loop = asyncio.get_running_loop()
        server = await self.metrics.serve(self.config.metrics, self.health)
        tasks: list[asyncio.Task[None]] = []
        for spool in self.spools:
            spool.start()
        try:
            self.recovery = recovery = await self._start_recovery()
            for runner in self.runners:
                tasks.append(asyncio.create_task(runner.run(), name=f"runner {runner.cfg.name}"))
            if recovery is not None:
                tasks.append(asyncio.create_task(self._await_recovery(recovery), name="recovery"))
            tasks.append(asyncio.create_task(self._flush_loop()))
            tasks.append(asyncio.create_task(self._lag_loop(), name="loop lag"))
            if self.config.daemon.status:
                console = self.console or Console(stderr=True)
                tasks.append(asyncio.create_task(run_status(self, console), name="status"))
            await self.stopping.wait()
        finally:
            for runner in self.runners:
                runner.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.recovery is not None and self.recovery.running:  # before the spools close
                log.warning("crash recovery stopped unfinished; the next start resumes it")
                await asyncio.to_thread(self.recovery.stop)
            await asyncio.shield(self._close(server))

    async def _start_recovery(self) -> BackgroundRecovery | None:
        """Start rebuilding an earlier run's unpublished rows from its leftover capture.

        In a child process (``collector.recovery_process``): it replays whole crashed
        sessions, hours of work after a long run, and the venues connect meanwhile.
        The crashed run's unfinished Parquet files are removed here, first, since
        this run writes under the same instance name. With object storage the
        leftovers are in the capture's spool folder, the recovered files go out
        through the output spool, and what was published is looked up in the store.
        """
        if not self.config.capture.enabled:
            return None
        instance = self.config.daemon.instance
        root = Path(self.sink.root)
        ours: set[str | None] = {r.session for r in self.runners}
        removed = await asyncio.to_thread(remove_unfinished, root, instance)
        if removed:
            log.warning("removed %d unfinished Parquet files of an earlier run", removed)
        if not await asyncio.to_thread(pending_sessions, self.capture_dir, instance, ours):
            return None
        recovery = BackgroundRecovery(
            {
                "capture_dir": self.capture_dir,
                "out": root,
                "instance": instance,
                "exclude_sessions": ours,
                "rotate_seconds": self.config.output.rotate_seconds,
                "snapshots": self.config.snapshot_specs,
                "remove_orphans": False,  # done above: this run's own files are unfinished too
                "uploaded": self.output_spool.target if self.output_spool else None,
            },
            on_publish=self.sink.on_publish,
            on_capture=self.capture_spool.submit if self.capture_spool else None,
        )
        recovery.start()
        log.info("crash recovery started in the background (pid %s)", recovery.pid)
        return recovery

    async def _await_recovery(self, recovery: BackgroundRecovery) -> None:
        try:
            summary = await recovery.wait()
        except OSError as exc:
            self.recovery_failure = describe(exc, str(self.sink.root))
            log.error(
                "crash recovery failed, leftovers kept for the next start: %s",
                self.recovery_failure,
            )
        except RuntimeError as exc:
            self.recovery_failure = str(exc)
            log.error("crash recovery: %s; leftovers kept for the next start", exc)
        else:
            seconds = time.monotonic() - recovery.started_at
            log.warning(
                "crash recovery: %s (%.1f s, collecting meanwhile)", summary.line(), seconds
            )

    async def _close(self, server: object | None) -> None:
        for runner in self.runners:
            runner.finish()
        published = True
        try:
            if isinstance(self.sink, ThreadedSink):  # drains its queue: off the loop
                await asyncio.to_thread(self.sink.close)
            else:
                self.sink.close()
        except OSError as exc:
            published = False
            log.error(
                "shutdown could not publish every row (%s); the capture stays in progress "
                "and the next start recovers the rows from it",
                describe(exc, str(self.sink.root)),
            )
        except RuntimeError as exc:  # the writer thread met a bug (logged with its traceback)
            published = False
            log.error(
                "shutdown: %s; the capture stays in progress and the next start recovers "
                "the rows from it",
                exc,
            )
        for runner in self.runners:
            published &= await runner.close(published=published)
        self.clean_exit = published
        # Both spools at once, in threads: the loop stays free for the metrics server.
        await asyncio.gather(
            *(asyncio.to_thread(spool.close, SHUTDOWN_UPLOAD_S) for spool in self.spools)
        )
        await self.metrics.stop(server)
        log.info("stopped: %d Parquet files published", self.sink.files_published)

    def stop(self) -> None:
        self.stopping.set()

    async def _flush_loop(self) -> None:
        """Flush every interval, forever: no error, not even a bug, ends this loop."""
        interval = self.config.daemon.flush_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                self.flush(time.time_ns())
            except Exception:
                log.exception("flush failed (a bug: please report it); retrying next interval")
            self.metrics.flushed(interval)  # /live: the loop turns

    async def _lag_loop(self) -> None:
        """Sample how late the event loop runs a timer: the wait of a frame that arrives
        while the loop is busy (the writer thread exists to keep this small)."""
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(LAG_SAMPLE_S)
            self.metrics.loop_lag(max(0.0, time.perf_counter() - asked - LAG_SAMPLE_S))

    def flush(self, now: int) -> None:
        """Rows to the sink, due files published, and every writer's state accounted."""
        for runner in self.runners:
            runner.flush(now)
            runner.report_capture(self.faults)
        with contextlib.suppress(OSError):  # the sink's state below says it
            self.sink.tick(now)
        sink = self.sink
        attempts, self._sink_errors = sink.errors - self._sink_errors, sink.errors
        if sink.last_error is not None:
            self.faults.failed("parquet", sink.last_error, str(sink.root), attempts)
        elif self.faults.succeeded("parquet"):
            # The rows held through the outage are written and freed, but Arrow's
            # allocator (mimalloc) keeps the pages: measured, RSS stayed 400 MiB up
            # after a short outage until this call. Without it every outage would
            # leave the daemon's footprint at its peak.
            pa.default_memory_pool().release_unused()
        self._report_spools()
        self._apply_budget()

    def _sync_captures(self) -> None:
        """Before Parquet rows are published: their frames reach the disk first."""
        for runner in self.runners:
            if runner.capture is not None:
                runner.capture.sync_to_disk()

    def _fsync_captures(self) -> None:
        """``_sync_captures`` for the writer thread, which must not touch the capture
        writers (the event loop owns them).

        Every row the thread publishes was handed over after ``Pipeline.flush`` had
        flushed its frames to the OS (``before_flush``), so they are in the capture
        file being written then, or in an earlier one, which was fsynced when it was
        finished. Making the file being written now durable is therefore enough, and
        an ``fsync`` of another descriptor of it does that. A file renamed meanwhile
        was finished (so fsynced); an error is the capture writer's to report (its
        next flush meets it too), and as on the loop it does not stop the publish.
        """
        for runner in self.runners:
            path = runner.capture.current_path if runner.capture is not None else None
            if path is None:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.debug("capture %s not fsynced before a publish: %s", path, exc)
                continue
            try:
                os.fsync(fd)
            except OSError as exc:
                log.debug("capture %s not fsynced before a publish: %s", path, exc)
            finally:
                os.close(fd)

    def _overflow_from_writer(
        self, table: str, exchange: str, rows: int, first_ns: int, last_ns: int
    ) -> None:
        """``_overflow``, called on the writer thread: the quality event is the loop's."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._overflow(table, exchange, rows, first_ns, last_ns)
        else:
            loop.call_soon_threadsafe(self._overflow, table, exchange, rows, first_ns, last_ns)

    def _report_spools(self) -> None:
        for spool in self.spools:
            target = f"spool:{spool.name}"
            attempts = spool.failures - self._spool_failures.get(spool.name, 0)
            self._spool_failures[spool.name] = spool.failures
            if not spool.store_up and spool.last_exception is not None:
                self.faults.failed(target, spool.last_exception, spool.target.uri, attempts)
            elif spool.store_up:
                self.faults.succeeded(target)

    def _write_episode(self, target: str, ts_ns: int, detail: str) -> None:
        """A write-failure episode started or ended: the dataset says so."""
        for runner in self.runners:
            if target.startswith("capture:") and target != f"capture:{runner.cfg.name}":
                continue
            runner.quality(ts_ns, QualityKind.WRITE_ERROR, detail)

    def _overflow(self, table: str, exchange: str, rows: int, first_ns: int, last_ns: int) -> None:
        """The sink dropped rows over the memory bound: name the window lost, loudly."""
        bound = self.config.output.max_buffered_bytes
        detail = (
            f"dropped {rows} {table} rows received {iso(first_ns)} .. {iso(last_ns)}: "
            f"{bound} bytes held in memory while writing failed"
        )
        for runner in self.runners:
            if runner.cfg.name == exchange:
                runner.quality(last_ns, QualityKind.BUFFER_OVERFLOW, detail)
        now = time.monotonic()
        if now - self._overflow_logged.get((table, exchange), -OVERFLOW_LOG_S) >= OVERFLOW_LOG_S:
            self._overflow_logged[(table, exchange)] = now
            log.error("%s: %s (logged at most once a minute)", exchange, detail)

    def _apply_budget(self) -> None:
        """Pause the raw capture while a spool is over budget (see the module docstring)."""
        over = [s for s in self.spools if s.over_budget]
        if bool(over) == self._capture_paused:
            return
        self._capture_paused = bool(over)
        for runner in self.runners:
            runner.capturing = not over
        if over:
            log.error(
                "spool over budget (%s): raw capture paused, normalized tables still written",
                ", ".join(f"{s.name} {s.pending_bytes}/{s.max_bytes} bytes" for s in over),
            )
        else:
            log.warning("spools back under budget: raw capture resumed")

    def health(self) -> tuple[bool, dict[str, object]]:
        """Healthy when every connection is open, every configured book is in sync and
        every write works and every routed channel has a route that delivers (or has not
        tried them all yet).

        A configured book the engine has not heard of yet (no update received, e.g.
        a symbol the venue does not stream) counts as unsynced: otherwise it would
        never be checked at all and the daemon would report healthy without it.
        A failing write (``writes``: target -> path, errno and message) is
        unhealthy even while every stream is fine: rows are only piling up.
        """
        report: dict[str, object] = {}
        healthy = True
        for runner in self.runners:
            states = [s.state for s in runner.supervisors]
            symbols = runner.pipeline.engine.symbols
            synced = dict.fromkeys(runner.book_symbols, "unsynced")
            synced.update({symbol: sync.state.value for symbol, sync in symbols.items()})
            ok = all(state == "open" for state in states) and all(
                v == "synced" for v in synced.values()
            )
            entry: dict[str, object] = {"connections": states, "books": synced}
            if routes := runner.rerouter.chooser.state():
                entry["routes"] = routes
                if problems := runner.rerouter.problems():
                    ok, entry["reason"] = False, "; ".join(problems)
            healthy &= ok
            report[runner.cfg.name] = {"ok": ok, **entry}
        writes = self.faults.active
        if writes:
            healthy = False
            report["writes"] = writes
        writer = self.sink
        if isinstance(writer, ThreadedSink) and (writer.queued_batches or writer.bug):
            # Only while tables wait (or the thread failed): an idle report stays short.
            queue: dict[str, object] = {
                "queued_batches": writer.queued_batches,
                "queued_rows": writer.queued_rows,
                "queued_bytes": writer.queued_bytes,
                "max_queued_bytes": writer.max_queued_bytes,
            }
            if writer.bug is not None:  # rows may be lost: unhealthy until a restart
                healthy = False
                queue["error"] = f"{writer.bugs} failure(s): {writer.bug!r}"
            report["writer"] = queue
        if self.recovery is not None and self.recovery.running:  # informative: collecting
            report["recovery"] = {
                "running": True,
                "seconds": round(time.monotonic() - self.recovery.started_at, 1),
            }
        elif self.recovery_failure is not None:  # a crashed run's rows are missing
            healthy = False
            report["recovery"] = {"failed": self.recovery_failure, "retried": "at the next start"}
        if not self.runners:  # a shard with nothing assigned: alive and well, just idle
            report["idle"] = True
        return healthy, report


def run(config: Config, console: Console | None = None) -> int:
    """Run the daemon in the foreground until SIGINT/SIGTERM; returns the exit code.

    ``console``: where the status view draws (see ``Daemon``).
    """
    if config.daemon.uvloop:
        with contextlib.suppress(ImportError):
            import uvloop  # type: ignore[import-not-found]

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(_main(config, console))


async def _main(config: Config, console: Console | None = None) -> int:
    daemon = Daemon(config, console)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, daemon.stop)
    names = ", ".join(r.cfg.name for r in daemon.runners) or "nothing (idle)"
    log.info("collector running: %s", names)
    await daemon.run()
    return 0 if daemon.clean_exit else 1
