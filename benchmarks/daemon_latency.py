"""Daemon latency under load: does the event loop ever wait for Parquet?

Starts ``collector simulate`` as a child process (generated books for
``--symbols`` symbols of one Binance venue, a depth event per symbol every
``--interval-ms``, chosen from ``--rate``; ``--send-stamps`` makes every frame
start with ``{"sent":<ns>,``) and runs the daemon in this process against it,
with the ``[daemon] writer_thread`` of ``--writer-thread`` (``on``, ``off`` or
``both``: one run each, side by side). After the books are in sync and
``--warmup-s`` has passed, it measures for ``--seconds``:

* **event-loop lag**: a probe thread posts a callback every 2 ms with
  ``call_soon_threadsafe`` (which wakes the loop as a ready socket does) and the
  lag is the time until the callback runs: how long a frame that just arrived
  waits before the loop can read it;
* **frame-to-row latency**: ``ts_recv`` (the receive stamp the frame's rows
  carry) minus the simulator's send stamp, for every frame of the window, read
  back from the daemon's raw capture (the capture holds each frame's ``ts_recv``);
* **CPU**: this process's user+system time over the window (event loop, writer
  and capture threads), less the probe thread's own (printed apart as
  ``probe_cpu_percent``), as a share of one core; the simulator's, likewise.
  What the probe's wake-ups cost the event loop stays in (a few % of a core);
* **storage on the loop**: wall and CPU time of each call the event loop makes
  into storage (``Pipeline.flush``: Arrow tables plus the hand-off or, without
  the thread, the Parquet writing; and the sink's ``tick``). Its CPU time (the
  loop thread's own, ``time.thread_time``) does not depend on what else runs on
  the machine, unlike lag and latency;
* frames/s actually received, the writer queue's peak and its full waits, and
  the daemon's CPU per frame (from which the share of a core at 50 k frames/s
  follows, when the simulator cannot make that rate here).

The simulator and the daemon share the machine: if the simulator cannot make
``--rate``, the achieved rate is what is printed. Linux only (``/proc``).

``--storage-only RECORDING`` isolates what the writer thread changes: no
simulator and no network, only an event loop that hands real ``book`` rows
(replayed once from RECORDING) to the sink at ``--rows-per-s`` (250 k: about
50 k frames/s of Binance USD-M depth), 20 hand-offs a second with ``ts_recv``
now, a ``tick`` every second and files rotating every ``--rotate-seconds``, so
row groups are encoded and files published inside the window. Printed: the
same loop lag, the time each hand-off held the loop, and CPU.

Usage::

    python benchmarks/daemon_latency.py [--rate 50000] [--seconds 20] [--warmup-s 5]
        [--symbols 20] [--exchange binance-usdm] [--writer-thread on|off|both]
        [--rotate-seconds 10] [--json]
    python benchmarks/daemon_latency.py --storage-only RECORDING [--rows-per-s 250000]
        [--seconds 20] [--writer-thread both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import adapters
from collector import daemon as daemon_module
from collector.capture.reader import list_capture_files, open_recording, read_capture
from collector.config import Config, parse_config
from collector.daemon import Daemon
from collector.pipeline import Pipeline
from collector.simulator.process import start_simulator, stop
from collector.sinks.parquet import ParquetSink
from collector.sinks.threaded import ThreadedSink

#: Production hosts of each venue, rewritten to the simulator.
HOSTS = {
    "binance-spot": ("wss://stream.binance.com:9443", "https://api.binance.com"),
    "binance-usdm": ("wss://fstream.binance.com", "https://fapi.binance.com"),
    "binance-coinm": ("wss://dstream.binance.com", "https://dapi.binance.com"),
}
#: Frames per symbol per depth event with book, bbo and trades subscribed: depth,
#: bookTicker and a trade with probability ``--trade-probability`` (0.5).
FRAMES_PER_EVENT = 2.5
PROBE_S = 0.002
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_SENT = re.compile(rb'^\{"sent":(\d+),')


@dataclass
class Result:
    writer_thread: bool
    seconds: float
    frames_per_s: float
    loop_lag_ms_p50: float
    loop_lag_ms_p99: float
    loop_lag_ms_max: float
    frame_to_row_ms_p50: float
    frame_to_row_ms_p99: float
    frame_to_row_ms_max: float
    stamped_frames: int
    daemon_cpu_percent: float
    daemon_cpu_us_per_frame: float
    cpu_percent_at_50k: float
    probe_cpu_percent: float
    simulator_cpu_percent: float
    storage_calls: int
    storage_ms_p50: float
    storage_ms_p99: float
    storage_ms_max: float
    storage_cpu_ms_p99: float
    storage_cpu_ms_max: float
    storage_cpu_ms_per_s: float
    writer_queue_peak_bytes: int
    writer_queue_full_waits: int
    parquet_files: int
    problems: int
    load_average: str


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def daemon_config(work: Path, port: int, args: argparse.Namespace, threaded: bool) -> Config:
    base = f"127.0.0.1:{port}/{args.exchange}"
    rules = ", ".join(
        f'"{p}" = "{"ws" if p.startswith("ws") else "http"}://{base}"' for p in HOSTS[args.exchange]
    )
    symbols = ", ".join(f'"{s}"' for s in symbol_names(args.symbols))
    text = (
        f'[output]\ndir = "{work / "data"}"\nrotate_seconds = {args.rotate_seconds}\n'
        f'[capture]\ndir = "{work / "capture"}"\n'
        f"[daemon]\nwriter_thread = {str(threaded).lower()}\n"
        '[metrics]\nlisten = "127.0.0.1:0"\n'
        f'[[exchange]]\nname = "{args.exchange}"\nsymbols = [{symbols}]\n'
        f'channels = ["book", "bbo", "trades"]\nrewrite = {{ {rules} }}\n'
    )
    return parse_config(text, "daemon_latency")


def symbol_names(n: int) -> list[str]:
    known = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"]
    return (known + [f"SYM{i:02d}USDT" for i in range(n)])[:n]


class StorageTimer:
    """Times the event loop's calls into storage: wall and loop-thread CPU, in ms."""

    def __init__(self) -> None:
        self.on = False
        self.calls: list[tuple[float, float]] = []

    def wrap(self, fn: Callable[..., None]) -> Callable[..., None]:
        def timed(*args: object) -> None:
            if not self.on:
                return fn(*args)
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args)
            finally:
                self.calls.append(
                    ((time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3)
                )

        return timed


class LagProbe:
    """A thread that asks the loop to run a callback every ``PROBE_S`` and times it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lags: list[float] = []
        #: The probe thread's own CPU seconds: not the daemon's, so not counted as its.
        self.cpu_s = 0.0
        self.queue_peak = 0
        self.writer: ThreadedSink | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        start = time.thread_time()
        while not self._stop.wait(PROBE_S):
            self.loop.call_soon_threadsafe(self._ran, time.perf_counter())
        self.cpu_s = time.thread_time() - start

    def _ran(self, posted: float) -> None:
        if not self._stop.is_set():
            self.lags.append(time.perf_counter() - posted)
        if self.writer is not None:
            self.queue_peak = max(self.queue_peak, self.writer.queued_bytes)


async def measure(config: Config, args: argparse.Namespace, sim_pid: int) -> dict[str, object]:
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    runner = daemon.runners[0]
    symbols = symbol_names(args.symbols)
    deadline = time.monotonic() + 60
    while not all(
        s in runner.pipeline.engine.symbols
        and runner.pipeline.engine.symbols[s].state.value == "synced"
        for s in symbols
    ):
        if time.monotonic() > deadline or task.done():
            raise SystemExit("the books did not sync within 60 s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(args.warmup_s)
    timer = StorageTimer()
    runner.pipeline.flush = timer.wrap(runner.pipeline.flush)  # type: ignore[method-assign]
    daemon.sink.tick = timer.wrap(daemon.sink.tick)  # type: ignore[method-assign]
    probe = LagProbe(asyncio.get_running_loop())
    probe.writer = daemon.sink if isinstance(daemon.sink, ThreadedSink) else None
    frames0 = daemon.metrics.frames[args.exchange]
    cpu0, sim0 = os.times(), proc_cpu_s(sim_pid)
    t0, wall0 = time.time_ns(), time.monotonic()
    probe.start()
    timer.on = True
    await asyncio.sleep(args.seconds)
    timer.on = False
    probe.stop()
    wall = time.monotonic() - wall0
    cpu1, sim1, t1 = os.times(), proc_cpu_s(sim_pid), time.time_ns()
    frames = daemon.metrics.frames[args.exchange] - frames0
    daemon.stop()
    await task
    return {
        "window": (t0, t1),
        "wall": wall,
        "frames": frames,
        "lags": probe.lags,
        "storage": timer.calls,
        "cpu": (cpu1.user + cpu1.system - cpu0.user - cpu0.system - probe.cpu_s) / wall,
        "probe_cpu": probe.cpu_s / wall,
        "sim_cpu": (sim1 - sim0) / wall,
        "queue_peak": probe.queue_peak,
        "full_waits": probe.writer.full_waits if probe.writer is not None else 0,
        "files": daemon.sink.files_published,
        "problems": sum(runner.pipeline.problems.values()),
    }


def frame_latencies(capture: Path, t0: int, t1: int) -> list[float]:
    """``ts_recv - sent`` in ms for every stamped frame received in ``[t0, t1)``."""
    out = []
    for path in list_capture_files(capture):
        for record in read_capture(path):
            if record.kind != "recv" or not t0 <= record.ts < t1:
                continue
            data = record.data if isinstance(record.data, bytes) else record.data.encode()
            match = _SENT.match(data)
            if match is not None:
                out.append((record.ts - int(match.group(1))) / 1e6)
    return out


def run_once(args: argparse.Namespace, threaded: bool) -> Result:
    interval_ms = args.symbols * FRAMES_PER_EVENT * 1000 / args.rate
    with tempfile.TemporaryDirectory(prefix="daemon-latency-") as tmp:
        work = Path(tmp)
        sim, port = start_simulator(
            [
                "--port",
                "0",
                "--exchanges",
                args.exchange,
                "--symbols",
                ",".join(symbol_names(args.symbols)),
                "--interval-ms",
                f"{interval_ms:g}",
                "--send-stamps",
            ],
            log=work / "simulator.log",
        )
        try:
            config = daemon_config(work, port, args, threaded)
            if config.daemon.uvloop:
                with contextlib.suppress(ImportError):
                    import uvloop  # type: ignore[import-not-found]

                    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            got = asyncio.run(measure(config, args, sim.pid))
        finally:
            stop(sim)
        t0, t1 = got["window"]  # type: ignore[misc]
        latencies = frame_latencies(work / "capture", t0, t1)
    lags = [x * 1e3 for x in got["lags"]]  # type: ignore[attr-defined]
    storage: list[tuple[float, float]] = got["storage"]  # type: ignore[assignment]
    walls, cpus = [w for w, _ in storage], [c for _, c in storage]
    frames: int = got["frames"]  # type: ignore[assignment]
    cpu: float = got["cpu"]  # type: ignore[assignment]
    wall: float = got["wall"]  # type: ignore[assignment]
    us_per_frame = cpu * wall * 1e6 / max(frames, 1)
    return Result(
        writer_thread=threaded,
        seconds=round(wall, 1),
        frames_per_s=round(frames / wall),
        loop_lag_ms_p50=round(percentile(lags, 0.50), 3),
        loop_lag_ms_p99=round(percentile(lags, 0.99), 3),
        loop_lag_ms_max=round(max(lags, default=float("nan")), 3),
        frame_to_row_ms_p50=round(percentile(latencies, 0.50), 3),
        frame_to_row_ms_p99=round(percentile(latencies, 0.99), 3),
        frame_to_row_ms_max=round(max(latencies, default=float("nan")), 3),
        stamped_frames=len(latencies),
        daemon_cpu_percent=round(100 * cpu, 1),
        daemon_cpu_us_per_frame=round(us_per_frame, 1),
        cpu_percent_at_50k=round(us_per_frame * 50_000 / 1e4, 1),
        probe_cpu_percent=round(100 * got["probe_cpu"], 1),  # type: ignore[operator]
        simulator_cpu_percent=round(100 * got["sim_cpu"], 1),  # type: ignore[operator]
        storage_calls=len(storage),
        storage_ms_p50=round(percentile(walls, 0.50), 2),
        storage_ms_p99=round(percentile(walls, 0.99), 2),
        storage_ms_max=round(max(walls, default=float("nan")), 2),
        storage_cpu_ms_p99=round(percentile(cpus, 0.99), 2),
        storage_cpu_ms_max=round(max(cpus, default=float("nan")), 2),
        storage_cpu_ms_per_s=round(sum(cpus) / wall, 1),
        writer_queue_peak_bytes=got["queue_peak"],  # type: ignore[arg-type]
        writer_queue_full_waits=got["full_waits"],  # type: ignore[arg-type]
        parquet_files=got["files"],  # type: ignore[arg-type]
        problems=got["problems"],  # type: ignore[arg-type]
        load_average=" ".join(f"{x:.1f}" for x in os.getloadavg()),
    )


@dataclass
class StorageResult:
    writer_thread: bool
    seconds: float
    rows_per_s: float
    loop_lag_ms_p50: float
    loop_lag_ms_p99: float
    loop_lag_ms_max: float
    handoff_ms_p50: float
    handoff_ms_p99: float
    handoff_ms_max: float
    cpu_percent: float
    rows_handed: int
    parquet_files: int
    parquet_rows: int
    load_average: str


def book_rows(recording: Path, exchange: str) -> pa.Table:
    """The ``book`` rows a replay of ``recording`` makes (tables kept in memory)."""

    class Keep:
        def __init__(self) -> None:
            self.tables: list[pa.Table] = []

        def write(self, table: str, exchange: str, data: pa.Table) -> None:
            if table == "book":
                self.tables.append(data)

    keep = Keep()
    info, records = open_recording(recording)
    pipeline = Pipeline(adapters.create(info.exchange or exchange), keep, drift=None)
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    return pa.concat_tables(keep.tables).combine_chunks()


async def storage_measure(
    book: pa.Table, sink: ParquetSink | ThreadedSink, args: argparse.Namespace
) -> tuple[list[float], list[float], int, float, float]:
    """Hand ``book`` slices to ``sink`` at ``--rows-per-s``: loop lags and hand-off times
    (s), rows handed, seconds taken and CPU share."""
    loop = asyncio.get_running_loop()
    per = max(1, round(args.rows_per_s / 20))
    ts_index = book.schema.get_field_index("ts_recv")
    probe = LagProbe(loop)
    handoffs: list[float] = []
    offset, rows = 0, 0
    cpu0 = os.times()
    start = time.monotonic()
    probe.start()
    next_tick = start + 1
    step = 0
    while time.monotonic() - start < args.seconds:
        step += 1
        await asyncio.sleep(max(0.0, start + step / 20 - time.monotonic()))
        if offset + per > book.num_rows:
            offset = 0
        part = book.slice(offset, per)
        offset += per
        now = time.time_ns()
        part = part.set_column(
            ts_index,
            "ts_recv",
            pa.array(np.full(per, now, np.int64)).cast(part.schema[ts_index].type),
        )
        began = time.perf_counter()
        sink.write("book", "binance-usdm", part)
        if time.monotonic() >= next_tick:
            next_tick += 1
            sink.tick(now)
        handoffs.append(time.perf_counter() - began)
        rows += per
    probe.stop()
    wall = time.monotonic() - start
    cpu1 = os.times()
    return (
        probe.lags,
        handoffs,
        rows,
        wall,
        (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall,
    )


def storage_once(book: pa.Table, args: argparse.Namespace, threaded: bool) -> StorageResult:
    with tempfile.TemporaryDirectory(prefix="storage-latency-") as tmp:
        parquet = ParquetSink(tmp, rotate_seconds=args.rotate_seconds)
        sink = ThreadedSink(parquet, max_queued_bytes=256 << 20) if threaded else parquet
        lags, handoffs, rows, wall, cpu = asyncio.run(storage_measure(book, sink, args))
        sink.close()
        files = parquet.published
        written = sum(pq.read_metadata(f).num_rows for f in files)
    lag_ms = [x * 1e3 for x in lags]
    hand_ms = [x * 1e3 for x in handoffs]
    return StorageResult(
        writer_thread=threaded,
        seconds=round(wall, 1),
        rows_per_s=round(rows / wall),
        loop_lag_ms_p50=round(percentile(lag_ms, 0.50), 3),
        loop_lag_ms_p99=round(percentile(lag_ms, 0.99), 3),
        loop_lag_ms_max=round(max(lag_ms), 3),
        handoff_ms_p50=round(percentile(hand_ms, 0.50), 3),
        handoff_ms_p99=round(percentile(hand_ms, 0.99), 3),
        handoff_ms_max=round(max(hand_ms), 3),
        cpu_percent=round(100 * cpu, 1),
        rows_handed=rows,
        parquet_files=len(files),
        parquet_rows=written,
        load_average=" ".join(f"{x:.1f}" for x in os.getloadavg()),
    )


def table(results: list[Result] | list[StorageResult]) -> str:
    rows = [("", *(f"writer_thread={'on' if r.writer_thread else 'off'}" for r in results))]
    for name in asdict(results[0]):
        if name != "writer_thread":
            rows.append((name, *(str(getattr(r, name)) for r in results)))
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) for row in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=50_000, help="target frames/s")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window")
    p.add_argument("--warmup-s", type=float, default=5.0)
    p.add_argument("--symbols", type=int, default=20)
    p.add_argument("--exchange", default="binance-usdm", choices=sorted(HOSTS))
    p.add_argument("--writer-thread", choices=("on", "off", "both"), default="both")
    p.add_argument("--rotate-seconds", type=float, default=10.0, help="Parquet file rotation")
    p.add_argument(
        "--handoff-rows",
        type=int,
        help="rows pending before a hand-off to the writer thread (collector.daemon.HANDOFF_ROWS)",
    )
    p.add_argument("--storage-only", type=Path, metavar="RECORDING", help="see the module doc")
    p.add_argument("--rows-per-s", type=float, default=250_000, help="with --storage-only")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.handoff_rows is not None:
        daemon_module.HANDOFF_ROWS = args.handoff_rows
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.writer_thread]
    results: list[Result] | list[StorageResult] = []
    if args.storage_only is not None:
        book = book_rows(args.storage_only, args.exchange)
        print(f"{book.num_rows} book rows from {args.storage_only}", file=sys.stderr)
        storage = [storage_once(book, args, threaded) for threaded in modes]
        if args.json:
            for r in storage:
                print(json.dumps(asdict(r)))
        else:
            print(f"{args.rows_per_s:g} book rows/s, {os.cpu_count()} CPUs")
            print(table(storage))
        return 0
    for threaded in modes:
        print(f"running writer_thread={'on' if threaded else 'off'} ...", file=sys.stderr)
        results.append(run_once(args, threaded))
    if args.json:
        for r in results:
            print(json.dumps(asdict(r)))
    else:
        print(f"target {args.rate:g} frames/s, {args.symbols} symbols, {os.cpu_count()} CPUs")
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
