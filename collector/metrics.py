"""Prometheus metrics and the ``/health`` and ``/live`` endpoints of the daemon.

Hot-path counters (frames, bytes) are plain integers the daemon bumps; they
are copied into Prometheus metrics only when scraped, so a busy stream pays an
integer add per frame, not a metrics-library call. Engine figures (gaps,
resyncs, sync state, lag) are read from the pipelines at scrape time as well.
Bound to 127.0.0.1 by default: metrics are not for the open internet.

``/health`` says whether the data is good (every connection open, every book in
sync, every write working): a readiness signal. ``/live`` says only whether the
process works: its event loop answers and its flush loop turns. A venue outage
or a full disk fails the first and not the second, so a liveness probe on
``/live`` restarts a pod only when a restart can help.
"""

from __future__ import annotations

import bisect
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

if TYPE_CHECKING:
    from collector.config import MetricsConfig
    from collector.pipeline import Pipeline
    from collector.sinks.parquet import ParquetSink
    from collector.sinks.threaded import ThreadedSink
    from collector.spool import Spool
    from collector.write_faults import WriteFaults

HealthCheck = Callable[[], tuple[bool, dict[str, object]]]
#: ``/live`` fails once the flush loop has not turned for this many intervals ...
LIVE_ROUNDS = 30
#: ... and never sooner than this many seconds.
LIVE_MIN_S = 30.0
#: Upper bounds (s) of the event-loop lag histogram's buckets (``+Inf`` follows).
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Counters of one daemon, exported on scrape."""

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.connects: Counter[str] = Counter()
        self.disconnects: Counter[str] = Counter()
        self.snapshots: Counter[str] = Counter()
        #: Failed calls for a websocket address (KuCoin's token), per exchange.
        self.endpoint_failures: Counter[str] = Counter()
        self.rate_limits = 0
        self.pipelines: dict[str, Pipeline] = {}
        #: Configured books per exchange: exported as unsynced until the engine has them.
        self.books: dict[str, list[str]] = {}
        self.files_published: Callable[[], int] = lambda: 0
        #: Raw capture records skipped while the spools were over budget.
        self.capture_dropped: Counter[str] = Counter()
        #: Spools uploading to object storage (``collector.spool.Spool``).
        self.spools: Sequence[Spool] = ()
        #: Write-failure accounting and the Parquet sink (the daemon sets both).
        self.faults: WriteFaults | None = None
        self.sink: ParquetSink | ThreadedSink | None = None
        #: The Parquet writer thread, when the sink runs on one: its queue is exported.
        self.writer: ThreadedSink | None = None
        #: Route moves and the route in use, per (exchange, routed channel).
        self.route_changes: Counter[tuple[str, str]] = Counter()
        self.routes: dict[tuple[str, str], str] = {}
        self.registry = CollectorRegistry()
        self.registry.register(_Exporter(self))
        self.port: int | None = None
        #: Monotonic time of the flush loop's last round, and its interval (the daemon
        #: reports both through ``flushed``); None until the loop runs.
        self.flushed_at: float | None = None
        self.flush_interval_s = 1.0
        #: Event-loop lag samples (``loop_lag``): count per bucket (last: +Inf), sum, max.
        self.lag_counts = [0] * (len(LAG_BUCKETS) + 1)
        self.lag_sum = 0.0
        self.lag_max = 0.0

    # -- liveness ------------------------------------------------------------------

    def flushed(self, interval_s: float) -> None:
        """The flush loop finished a round (whatever the round's outcome)."""
        self.flushed_at, self.flush_interval_s = time.monotonic(), interval_s

    def liveness(self) -> tuple[bool, dict[str, object]]:
        """Alive while the flush loop turns; that this answers at all shows the event loop
        does. Before the loop starts (crash recovery at start-up runs first) only the
        latter counts. A round may be slow (a large file, a slow disk): the loop is stuck
        only after ``LIVE_ROUNDS`` intervals, and never less than ``LIVE_MIN_S``."""
        if self.flushed_at is None:
            return True, {"flush_loop": "not started"}
        age = time.monotonic() - self.flushed_at
        limit = max(LIVE_MIN_S, LIVE_ROUNDS * self.flush_interval_s)
        return age < limit, {"last_flush_s": round(age, 3), "limit_s": limit}

    def loop_lag(self, seconds: float) -> None:
        """A timer of the event loop fired ``seconds`` late (``Daemon`` samples it)."""
        self.lag_counts[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1
        self.lag_sum += seconds
        self.lag_max = max(self.lag_max, seconds)

    # -- hot path ----------------------------------------------------------------

    def frame(self, exchange: str, size: int) -> None:
        self.frames[exchange] += 1
        self.bytes[exchange] += size

    def connected(self, exchange: str) -> None:
        self.connects[exchange] += 1

    def disconnected(self, exchange: str) -> None:
        self.disconnects[exchange] += 1

    def snapshot(self, exchange: str) -> None:
        self.snapshots[exchange] += 1

    def endpoint_failed(self, exchange: str) -> None:
        self.endpoint_failures[exchange] += 1

    def rate_limited(self) -> None:
        self.rate_limits += 1

    def route(self, exchange: str, channel: str, route: str, *, moved: bool = False) -> None:
        """``channel`` of ``exchange`` uses ``route`` now (``moved``: it left another)."""
        self.routes[exchange, channel] = route
        if moved:
            self.route_changes[exchange, channel] += 1

    def engine(self, exchange: str, pipeline: Pipeline, books: Sequence[str] | None = None) -> None:
        """Export ``pipeline``'s figures; ``books`` (when given) are the configured books.

        A configured book that never received an update is not in the engine;
        without ``books`` it would be missing from ``collector_book_synced``
        instead of 0, and an alert on ``== 0`` would never fire for it.
        """
        self.pipelines[exchange] = pipeline
        if books is not None:
            self.books[exchange] = list(books)

    # -- serving -------------------------------------------------------------------

    async def serve(self, cfg: MetricsConfig, health: HealthCheck) -> web.AppRunner | None:
        if not cfg.enabled:
            return None
        host, _, port = cfg.listen.rpartition(":")
        app = web.Application()

        async def metrics_handler(_: web.Request) -> web.Response:
            return web.Response(
                body=generate_latest(self.registry), content_type="text/plain", charset="utf-8"
            )

        def answer(check: HealthCheck) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handler(_: web.Request) -> web.Response:
                ok, report = check()
                return web.Response(
                    text=json.dumps({"ok": ok, **report}),
                    status=200 if ok else 503,
                    content_type="application/json",
                )

            return handler

        app.router.add_get("/metrics", metrics_handler)
        app.router.add_get("/health", answer(health))
        app.router.add_get("/live", answer(self.liveness))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host or "127.0.0.1", int(port))
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else int(port)
        return runner

    async def stop(self, runner: object | None) -> None:
        if isinstance(runner, web.AppRunner):
            await runner.cleanup()


class _Exporter:
    """A prometheus_client custom collector reading the daemon's live figures."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self):  # type: ignore[no-untyped-def]
        m = self.m
        for name, doc, values in (
            ("collector_frames", "Websocket frames received", m.frames),
            ("collector_bytes", "Websocket payload bytes received", m.bytes),
            ("collector_connects", "Connections opened", m.connects),
            ("collector_disconnects", "Connections closed", m.disconnects),
            ("collector_snapshots", "REST book snapshots fetched", m.snapshots),
            (
                "collector_endpoint_failures",
                "Failed REST calls for a websocket address (KuCoin's token)",
                m.endpoint_failures,
            ),
        ):
            family = CounterMetricFamily(name, doc, labels=["exchange"])
            for exchange, value in values.items():
                family.add_metric([exchange], value)
            yield family
        yield CounterMetricFamily(
            "collector_rate_limited", "HTTP 429/418 answers", value=m.rate_limits
        )
        moves = CounterMetricFamily(
            "collector_route_changes",
            "Channels moved to their next documented route after the one in use stayed silent",
            labels=["exchange", "channel"],
        )
        active = GaugeMetricFamily(
            "collector_route_info",
            "The route (URL without streams) a routed channel uses now: always 1",
            labels=["exchange", "channel", "route"],
        )
        for (exchange, channel), route in list(m.routes.items()):
            moves.add_metric([exchange, channel], m.route_changes[exchange, channel])
            active.add_metric([exchange, channel, route], 1)
        yield moves
        yield active
        per_symbol = {
            "gaps": CounterMetricFamily(
                "collector_gaps", "Sequence gaps", labels=["exchange", "symbol"]
            ),
            "resyncs": CounterMetricFamily(
                "collector_resyncs", "Book resyncs", labels=["exchange", "symbol"]
            ),
            "book_rows": CounterMetricFamily(
                "collector_book_rows", "Book rows produced", labels=["exchange", "symbol"]
            ),
            "bbo_mismatched": CounterMetricFamily(
                "collector_bbo_mismatches",
                "Books that disagreed with the exchange's best bid/ask",
                labels=["exchange", "symbol"],
            ),
            "bbo_matched": CounterMetricFamily(
                "collector_bbo_matches",
                "Books that agreed with the exchange's best bid/ask at the same update id",
                labels=["exchange", "symbol"],
            ),
            "checksums_verified": CounterMetricFamily(
                "collector_checksums_verified",
                "Book checksums that matched the exchange's (venues that send one)",
                labels=["exchange", "symbol"],
            ),
            "checksums_failed": CounterMetricFamily(
                "collector_checksums_failed",
                "Book checksums that did not match",
                labels=["exchange", "symbol"],
            ),
        }
        synced = GaugeMetricFamily(
            "collector_book_synced", "1 when the book is in sync", labels=["exchange", "symbol"]
        )
        lag = GaugeMetricFamily(
            "collector_lag_seconds",
            "ts_recv - ts_exchange of the latest book update",
            labels=["exchange", "symbol"],
        )
        pending = GaugeMetricFamily(
            "collector_buffered_rows", "Rows waiting for the sink", labels=["exchange"]
        )
        for exchange, pipeline in m.pipelines.items():
            pending.add_metric([exchange], pipeline.out.pending_rows)
            for symbol, sync in pipeline.engine.symbols.items():
                for key, family in per_symbol.items():
                    family.add_metric([exchange, symbol], getattr(sync.stats, key))
                synced.add_metric([exchange, symbol], 1.0 if sync.state.value == "synced" else 0.0)
            for symbol in m.books.get(exchange, []):
                if symbol not in pipeline.engine.symbols:
                    synced.add_metric([exchange, symbol], 0.0)
            for symbol, ns in pipeline.lag_ns.items():
                lag.add_metric([exchange, symbol], ns / 1e9)
        yield from per_symbol.values()
        yield from _drift_families(m.pipelines)
        yield synced
        yield lag
        yield pending
        yield CounterMetricFamily(
            "collector_files_published", "Parquet files published", value=m.files_published()
        )
        dropped = CounterMetricFamily(
            "collector_capture_dropped_records",
            "Raw capture records skipped because a spool was over its budget",
            labels=["exchange"],
        )
        for exchange, value in m.capture_dropped.items():
            dropped.add_metric([exchange], value)
        yield dropped
        yield from _spool_families(m.spools)
        yield from _write_families(m.faults, m.sink)
        yield _lag_family(m)
        yield GaugeMetricFamily(
            "collector_event_loop_lag_max_seconds",
            "Largest event-loop lag sampled since start",
            value=m.lag_max,
        )
        if m.writer is not None:
            yield from _writer_families(m.writer)


def _write_families(
    faults: WriteFaults | None, sink: ParquetSink | ThreadedSink | None
) -> Iterator[Metric]:
    """Write failures (``collector.write_faults``) and what waits in memory because of them."""
    errors = CounterMetricFamily(
        "collector_write_errors",
        "Failed write attempts, by target (capture, parquet, spool) and errno",
        labels=["target", "errno"],
    )
    failing = GaugeMetricFamily(
        "collector_write_failing", "1 while writing the target fails", labels=["target"]
    )
    if faults is not None:
        for (target, errno), count in faults.errors.items():
            errors.add_metric([target, errno], count)
        for target in faults.active:
            failing.add_metric([target], 1.0)
    yield errors
    yield failing
    if sink is None:
        return
    yield GaugeMetricFamily(
        "collector_buffered_bytes",
        "Bytes of rows held in memory: buffered or in Parquet files not yet published",
        value=sink.buffered_bytes,
    )
    dropped = CounterMetricFamily(
        "collector_dropped_rows",
        "Rows dropped because writing failed past [output] max_buffered_bytes",
        labels=["table"],
    )
    for table, rows in sink.overflow_rows.items():
        dropped.add_metric([table], rows)
    yield dropped


def _lag_family(m: Metrics) -> Metric:
    """How late the event loop runs a timer: how long a frame that arrives waits."""
    buckets, total = [], 0
    for bound, count in zip((*LAG_BUCKETS, float("inf")), m.lag_counts, strict=True):
        total += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
    return HistogramMetricFamily(
        "collector_event_loop_lag_seconds",
        "How late the event loop ran a 100 ms timer, sampled every 100 ms",
        buckets=buckets,
        sum_value=m.lag_sum,
    )


def _writer_families(writer: ThreadedSink) -> Iterator[Metric]:
    """The hand-off queue of the Parquet writer thread (``collector.sinks.threaded``)."""
    queued = GaugeMetricFamily(
        "collector_writer_queue",
        "Handed to the Parquet writer thread and not yet through the sink",
        labels=["unit"],
    )
    queued.add_metric(["batches"], writer.queued_batches)
    queued.add_metric(["rows"], writer.queued_rows)
    queued.add_metric(["bytes"], writer.queued_bytes)
    yield queued
    yield GaugeMetricFamily(
        "collector_writer_queue_max_bytes",
        "Bound of the writer queue; a hand-off past it waits",
        value=writer.max_queued_bytes,
    )
    yield CounterMetricFamily(
        "collector_writer_queue_full_waits",
        "Hand-offs that waited for room in the writer queue (the stream waited)",
        value=writer.full_waits,
    )
    yield CounterMetricFamily(
        "collector_writer_queue_full_wait_seconds",
        "Seconds hand-offs waited for room in the writer queue",
        value=writer.full_wait_s,
    )
    yield CounterMetricFamily(
        "collector_writer_thread_errors",
        "Unexpected exceptions in the writer thread (bugs; logged with a traceback)",
        value=writer.bugs,
    )


def _drift_families(pipelines: dict[str, Pipeline]) -> Iterator[Metric]:
    """The runtime drift monitor's counts (``collector.contract.monitor``).

    ``collector_drift_total`` counts drifted frames among those the monitor
    checked (it samples; ``collector_drift_checked_frames_total`` says how many
    it checked); an alert on ``increase(collector_drift_total[1h]) > 0`` fires
    on any new difference between a venue and its contract.
    """
    drift = CounterMetricFamily(
        "collector_drift",
        "Checked frames that differ from the venue's contract, by drift kind, type and field",
        labels=["exchange", "kind", "message_type", "field"],
    )
    checked = CounterMetricFamily(
        "collector_drift_checked_frames",
        "Frames and REST bodies the drift monitor validated against the contract",
        labels=["exchange"],
    )
    for exchange, pipeline in pipelines.items():
        monitor = pipeline.drift
        if monitor is None:
            continue
        checked.add_metric([exchange], monitor.checked)
        for (kind, message_type, field), count in list(monitor.counts.items()):
            drift.add_metric([exchange, kind, message_type, field], count)
    yield drift
    yield checked


def _spool_families(spools: Sequence[Spool]) -> Iterator[Metric]:
    """The object-storage alarm: store reachability and what waits in each spool."""
    gauges = {
        "store_up": ("collector_store_up", "1 when the last upload to object storage worked"),
        "pending_bytes": ("collector_spool_bytes", "Bytes of finished files awaiting upload"),
        "pending_files": ("collector_spool_files", "Finished files awaiting upload"),
        "max_bytes": ("collector_spool_budget_bytes", "Disk budget of the spool"),
        "over_budget": ("collector_spool_over_budget", "1 while the spool exceeds its budget"),
    }
    counters = {
        "uploaded": ("collector_uploads", "Files uploaded to object storage"),
        "uploaded_bytes": ("collector_uploaded_bytes", "Bytes uploaded to object storage"),
        "failures": ("collector_upload_failures", "Failed upload attempts (retried)"),
    }
    for kind, table in ((GaugeMetricFamily, gauges), (CounterMetricFamily, counters)):
        for attr, (name, doc) in table.items():
            family = kind(name, doc, labels=["spool"])
            for spool in spools:
                family.add_metric([spool.name], float(getattr(spool, attr)))
            yield family
