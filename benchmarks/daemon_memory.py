"""Daemon memory soak: does ``collector run``'s RSS stay flat under a fast feed?

A collector runs for weeks; a few kilobytes leaked per second is an OOM kill
within days, and a unit test never runs long enough to see it. This harness
starts ``collector simulate`` (generated books, a depth event every
``--interval-ms`` per symbol, on USD-M and spot) and ``collector run`` against
it as child processes, for ``--minutes``, and every ``--sample-s`` seconds
records:

* the daemon's resident set (``VmRSS`` from ``/proc/<pid>/status``);
* frames/s, from the daemon's own ``/metrics`` (its port is found through
  ``/proc``, since the config asks for any free port), or capture bytes/s when
  the endpoint cannot be found;
* the daemon's CPU share, so a saturated daemon (frames queuing in sockets
  rather than in its heap) is visible;
* rows in published Parquet files (from their footers; files publish every
  ``--rotate-seconds``, so this lags by up to one rotation).

It then stops the daemon with SIGTERM, as a service manager does, and prints
the samples and a verdict: RSS growth from the end of the warm-up (books
filled, first files rotated) to the end. Linux only (``/proc``).

With ``--faults`` the run is a fault soak: the work folder is a tmpfs of
``--tmpfs-mb`` (needs root), and every ``--fault-minutes`` the next phase of a
four-phase cycle starts: clean; network faults from the simulator (frames lost
in transit, malformed frames, connections closed every 20 s); clean; the disk
full (a filler file takes every free byte for a minute, then goes). At the end
every row is accounted for: the dataset's book, trades and bbo rows must equal,
in number, the replay of the daemon's capture (one capture file per run:
``--capture-rotate-seconds``), with no ``buffer_overflow`` and no capture record
dropped.

Usage::

    python benchmarks/daemon_memory.py [--minutes 10] [--interval-ms 1]
        [--symbols BTCUSDT,ETHUSDT,...] [--exchanges binance-usdm,binance-spot]
        [--rotate-seconds 60] [--warmup-minutes 2] [--keep DIR]
        [--faults [--fault-minutes 3] [--tmpfs-mb 4096]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow.parquet as pq

from collector.simulator.process import start_simulator

ROOT = Path(__file__).resolve().parent.parent

#: Production hosts of each venue, rewritten to the simulator (as tests/e2e/harness.py does).
HOSTS = {
    "binance-spot": ("wss://stream.binance.com:9443", "https://api.binance.com"),
    "binance-usdm": ("wss://fstream.binance.com", "https://fapi.binance.com"),
    "binance-coinm": ("wss://dstream.binance.com", "https://dapi.binance.com"),
}
MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    elapsed_s: float
    rss_mib: float
    frames_per_s: float | None  # None: no /metrics; see bytes_per_s
    bytes_per_s: float  # capture growth, compressed
    cpu_percent: float
    book_rows: int | None  # produced by the engine so far (/metrics); None without it
    rows_published: int  # every table, in published files
    files_published: int


# --------------------------------------------------------------------------- children


def cli(*args: str) -> list[str]:
    """``collector`` with this interpreter, so children run the same code as the harness."""
    return [sys.executable, "-m", "collector.cli", *args]


def write_config(work: Path, port: int, args: argparse.Namespace) -> Path:
    """Production-like daemon config: every channel, capture on, URLs at the simulator."""
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    parts = [
        f'[output]\ndir = "{work / "data"}"\nrotate_seconds = {args.rotate_seconds}\n',
        f'[capture]\ndir = "{work / "capture"}"\n'
        f"rotate_seconds = {args.capture_rotate_seconds or args.rotate_seconds}\n",
        '[metrics]\nlisten = "127.0.0.1:0"\n',
    ]
    for slug in args.exchanges.split(","):
        ws, rest = HOSTS[slug]
        base = f"127.0.0.1:{port}/{slug}"
        parts.append(
            f'[[exchange]]\nname = "{slug}"\nsymbols = {symbols!r}\n'.replace("'", '"')
            + f'rewrite = {{ "{ws}" = "ws://{base}", "{rest}" = "http://{base}" }}\n'
        )
    path = work / "collector.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float) -> int | None:
    """SIGTERM and wait; SIGKILL (and None) if it does not exit in time."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return None


# --------------------------------------------------------------------------- probes


def rss_mib(pid: int) -> float:
    """Resident set of ``pid`` in MiB (``VmRSS``, reported by the kernel in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def listening_ports(pid: int) -> list[int]:
    """TCP ports ``pid`` listens on: its socket inodes matched against ``/proc/net/tcp``.

    The daemon's metrics endpoint is its only listening socket; with
    ``listen = "127.0.0.1:0"`` the kernel picked the port and nothing prints it.
    """
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                ports.append(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def metrics_port(pid: int, timeout_s: float) -> int | None:
    """The daemon's /metrics port once it listens, or None if it never shows up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for port in listening_ports(pid):
            if scrape(port) is not None:
                return port
        time.sleep(0.2)
    return None


def scrape(port: int) -> dict[str, float] | None:
    """Prometheus text of ``/metrics`` summed per metric name (labels dropped)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        totals[name] = totals.get(name, 0.0) + float(value)
    return totals


class PublishedRows:
    """Rows in published Parquet files, reading each new file's footer once."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.rows: dict[Path, int] = {}

    def count(self) -> tuple[int, int]:
        for path in self.data.glob("**/*.parquet"):
            if path not in self.rows:
                self.rows[path] = pq.read_metadata(path).num_rows
        return sum(self.rows.values()), len(self.rows)


def dir_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("**/*") if p.is_file())


# --------------------------------------------------------------------------- the run


def soak(daemon: subprocess.Popen[bytes], work: Path, args: argparse.Namespace) -> list[Sample]:
    """Sample the daemon every ``--sample-s`` until ``--minutes`` have passed."""
    port = metrics_port(daemon.pid, 30.0)
    if port is None:
        print("no /metrics endpoint found: frames/s replaced by capture bytes/s", file=sys.stderr)
    published = PublishedRows(work / "data")
    start = time.monotonic()
    last_t, last_cpu, last_frames, last_bytes = start, cpu_seconds(daemon.pid), None, 0
    samples: list[Sample] = []
    end = start + args.minutes * 60
    faults = FaultCycle(work, args) if args.faults else None
    while time.monotonic() < end:
        time.sleep(args.sample_s)
        if faults is not None:
            faults.step(time.monotonic() - start)
        if daemon.poll() is not None:
            raise SystemExit(f"daemon exited early with {daemon.returncode}; see {work}")
        now, cpu = time.monotonic(), cpu_seconds(daemon.pid)
        dt = now - last_t
        metrics = scrape(port) if port is not None else None
        frames = metrics.get("collector_frames_total") if metrics else None
        capture = dir_bytes(work / "capture")
        rows, files = published.count()
        samples.append(
            Sample(
                elapsed_s=now - start,
                rss_mib=rss_mib(daemon.pid),
                frames_per_s=None
                if frames is None or last_frames is None
                else (frames - last_frames) / dt,
                bytes_per_s=(capture - last_bytes) / dt,
                cpu_percent=100 * (cpu - last_cpu) / dt,
                book_rows=int(metrics["collector_book_rows_total"])
                if metrics and "collector_book_rows_total" in metrics
                else None,
                rows_published=rows,
                files_published=files,
            )
        )
        print(format_sample(samples[-1]), flush=True)
        last_t, last_cpu, last_frames, last_bytes = now, cpu, frames, capture
    return samples


class FaultCycle:
    """Clean, network faults, clean, full disk: one phase every ``--fault-minutes``.

    The last phase of the run is cut short to a clean one, so the final RSS
    window is not taken while rows pile up behind a full disk.
    """

    PHASES = ("clean", "network", "clean", "disk-full")
    NETWORK_ON: ClassVar[dict[str, object]] = {
        "skip_frames": 5,
        "malformed": 3,
        "close_after_s": 20.0,
    }
    NETWORK_OFF: ClassVar[dict[str, object]] = {"close_after_s": None}
    DISK_FULL_S = 60.0

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work = work
        self.sim_port = args.sim_port
        self.phase_s = args.fault_minutes * 60
        self.stop_faults_at = args.minutes * 60 - 2 * args.sample_s - 60
        self.phase = -1
        self.filler: Path | None = None
        self.full_since = 0.0
        self.log: list[str] = []

    def step(self, elapsed: float) -> None:
        if self.filler is not None and elapsed - self.full_since >= self.DISK_FULL_S:
            self.filler.unlink()
            self.filler = None
            self.note(elapsed, "disk space back")
        phase = int(elapsed // self.phase_s)
        if phase == self.phase or elapsed >= self.stop_faults_at:
            return
        if self.PHASES[self.phase % 4] == "network" and self.phase >= 0:
            self.simulator(self.NETWORK_OFF)
            self.note(elapsed, "network faults off")
        self.phase = phase
        kind = self.PHASES[phase % 4]
        if kind == "network":
            self.simulator(self.NETWORK_ON)
            self.note(elapsed, f"network faults on: {self.NETWORK_ON}")
        elif kind == "disk-full":
            self.filler = self.fill()
            self.full_since = elapsed
            self.note(elapsed, f"disk full for {self.DISK_FULL_S:g} s")

    def simulator(self, knobs: dict[str, object]) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.sim_port}/_faults",
            data=json.dumps(knobs).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5).read()

    def fill(self) -> Path:
        filler = self.work / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * MIB)
                    out.flush()
            except OSError:
                pass
        return filler

    def note(self, elapsed: float, what: str) -> None:
        line = f"[{elapsed:6.0f} s] {what}"
        self.log.append(line)
        print(line, flush=True)


def account(work: Path) -> str:
    """Every row accounted for: the dataset against the replay of the daemon's capture."""
    from collector.capture.reader import list_capture_files
    from collector.replay import replay

    replayed = work / "replayed"
    replay(list_capture_files(work / "capture"), replayed)
    lines, ok = [], True

    def rows(root: Path, table: str) -> int:
        return sum(pq.read_metadata(p).num_rows for p in root.glob(f"table={table}/**/*.parquet"))

    for table in ("book", "trades", "bbo"):
        live, again = rows(work / "data", table), rows(replayed, table)
        ok &= live == again
        lines.append(f"{table}: {live:,} rows in the dataset, {again:,} in the capture's replay")
    quality = pq.ParquetDataset(work / "data" / "table=quality").read(columns=["kind"])
    kinds: dict[str, int] = {}
    for kind in quality["kind"].to_pylist():
        kinds[str(kind)] = kinds.get(str(kind), 0) + 1
    overflow = kinds.get("buffer_overflow", 0)
    ok &= overflow == 0
    lines.append(f"quality events by kind: {dict(sorted(kinds.items()))}")
    lines.append("EVERY ROW ACCOUNTED FOR" if ok else "ROWS MISSING OR EXTRA")
    return "\n".join(lines)


def format_sample(s: Sample) -> str:
    rate = "" if s.frames_per_s is None else f"{s.frames_per_s:,.0f}"
    book = "" if s.book_rows is None else f"{s.book_rows:,}"
    return (
        f"| {s.elapsed_s:7.0f} | {s.rss_mib:8.1f} | {rate:>9} | {s.bytes_per_s / 1024:9,.0f} "
        f"| {s.cpu_percent:5.0f} | {book:>12} | {s.rows_published:>12,} | {s.files_published:>5} |"
    )


HEADER = (
    "| elapsed s | RSS MiB | frames/s | capture KiB/s | CPU % | book rows made "
    "| rows published | files |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def at(samples: list[Sample], seconds: float) -> Sample:
    """The last sample taken at or before ``seconds`` (the first one if none is)."""
    before = [s for s in samples if s.elapsed_s <= seconds + 1]
    return before[-1] if before else samples[0]


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if var == 0 else 3600 * sum((x - mx) * (y - my) for x, y in points) / var


def windows(samples: list[Sample], width_s: float) -> list[tuple[float, list[float]]]:
    """RSS samples grouped into consecutive windows of ``width_s`` seconds, by start time."""
    grouped: dict[int, list[float]] = {}
    for s in samples:
        grouped.setdefault(int(s.elapsed_s // width_s), []).append(s.rss_mib)
    return [(k * width_s, v) for k, v in sorted(grouped.items())]


def window_table(samples: list[Sample], width_s: float = 300.0) -> str:
    rows = ["| minutes | RSS mean MiB | min | max |", "|---|---:|---:|---:|"]
    for start, rss in windows(samples, width_s):
        a, b = start / 60, (start + width_s) / 60
        rows.append(
            f"| {a:g}–{b:g} | {sum(rss) / len(rss):.1f} | {min(rss):.1f} | {max(rss):.1f} |"
        )
    return "\n".join(rows)


def verdict(samples: list[Sample], warmup_s: float, window_s: float = 300.0) -> str:
    """Growth after warm-up: the first full window after warm-up against the last.

    RSS is a sawtooth of about +-60 MiB here: each partition's row group
    (262,144 rows) fills and is written, and a disk-full phase holds a minute of
    rows. A minute holds a handful of samples on that saw, so one-minute medians
    swing by tens of MiB between runs of the same code. Five-minute windows span
    several teeth; their mean says where memory sits and their minimum (the
    floor, what is held between row groups) says whether something is retained.
    Both must stay within 5% (or 5 MiB) for FLAT. The fitted slope is printed too.
    """
    after = [s for s in samples if s.elapsed_s >= warmup_s]
    end = samples[-1].elapsed_s
    # Whole windows only: a last window holding a sample or two (the run's final
    # seconds) would judge the run on one point of the saw.
    groups = [
        rss
        for start, rss in windows(after, window_s)
        if start >= warmup_s and start + window_s <= end
    ]
    if len(groups) < 2:
        return f"fewer than two {window_s:g} s windows after warm-up: no verdict"
    first, last = groups[0], groups[-1]
    mean_a, mean_b = sum(first) / len(first), sum(last) / len(last)
    floor_a, floor_b = min(first), min(last)
    slope = slope_per_hour([(s.elapsed_s, s.rss_mib) for s in after])
    rates = [s.frames_per_s for s in after if s.frames_per_s is not None]
    rate = f"{sum(rates) / len(rates):,.0f} frames/s" if rates else "frames/s unknown"

    def within(a: float, b: float) -> bool:
        return b - a <= max(5.0, 0.05 * a)

    flat = within(mean_a, mean_b) and within(floor_a, floor_b)
    word = "FLAT (mean and floor within 5% or 5 MiB)" if flat else "GROWING"
    return (
        f"{window_s:g} s windows after warm-up: mean {mean_a:.1f} -> {mean_b:.1f} MiB "
        f"({100 * (mean_b - mean_a) / mean_a:+.1f}%), floor {floor_a:.1f} -> {floor_b:.1f} MiB "
        f"({100 * (floor_b - floor_a) / floor_a:+.1f}%); fitted slope {slope:+.1f} MiB/h; "
        f"range after warm-up {min(s.rss_mib for s in after):.1f}-"
        f"{max(s.rss_mib for s in after):.1f} MiB; mean {rate} after warm-up. {word}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--warmup-minutes", type=float, default=2.0)
    p.add_argument("--sample-s", type=float, default=5.0)
    p.add_argument("--interval-ms", type=float, default=1.0, help="simulator depth interval")
    p.add_argument("--symbols", default="BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT")
    p.add_argument("--exchanges", default="binance-usdm,binance-spot")
    p.add_argument("--rotate-seconds", type=float, default=60.0, help="Parquet and capture")
    p.add_argument("--keep", type=Path, help="write the dataset here and keep it")
    p.add_argument(
        "--capture-rotate-seconds",
        type=float,
        help="capture rotation (default: --rotate-seconds; --faults: longer than the run)",
    )
    p.add_argument("--faults", action="store_true", help="fault soak (see the module doc)")
    p.add_argument("--fault-minutes", type=float, default=3.0, help="length of each phase")
    p.add_argument("--tmpfs-mb", type=int, default=4096, help="--faults: size of the disk")
    args = p.parse_args(argv)
    if args.faults and args.capture_rotate_seconds is None:
        # One capture file per run: replaying it is then exactly the live session.
        args.capture_rotate_seconds = args.minutes * 60 + 3600
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="daemon-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.faults:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={args.tmpfs_mb}m", "tmpfs", str(work)],
            check=True,
        )
    simulator_args = ["--port", "0", "--exchanges", args.exchanges, "--symbols", args.symbols]
    simulator_args += ["--interval-ms", str(args.interval_ms)]
    sim, port = start_simulator(simulator_args, log=work / "simulator.log")
    args.sim_port = port
    daemon: subprocess.Popen[bytes] | None = None
    try:
        config = write_config(work, port, args)
        with (work / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(
                cli("run", "--config", str(config)), stdout=log, stderr=log, cwd=ROOT
            )
        print(
            f"daemon pid {daemon.pid}, simulator port {port}, {args.minutes:g} min, "
            f"{args.exchanges} x {args.symbols} every {args.interval_ms:g} ms; work dir {work}"
        )
        print(HEADER, flush=True)
        samples = soak(daemon, work, args)
        t0 = time.monotonic()
        code = stop(daemon, 60.0)
        print(f"daemon exit code after SIGTERM: {code} ({time.monotonic() - t0:.1f} s)")
        print("load average (1/5/15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        rows, files = PublishedRows(work / "data").count()
        print(f"published after shutdown: {rows:,} rows in {files} files")
        if samples:
            marks = {id(at(samples, m)): at(samples, m) for m in (args.warmup_minutes * 60, 300)}
            for s in [*marks.values(), samples[-1]]:
                print(f"RSS at {s.elapsed_s:.0f} s: {s.rss_mib:.1f} MiB")
            print(window_table(samples))
            print(verdict(samples, args.warmup_minutes * 60))
        if args.faults:
            print(account(work))
        return 0 if code == 0 else 1
    finally:
        if daemon is not None:
            stop(daemon, 60.0)
        stop(sim, 10.0)
        if args.faults:
            if args.keep is not None:  # off the tmpfs before it goes
                shutil.copytree(work, Path(f"{work}.kept"), dirs_exist_ok=True)
            subprocess.run(["umount", "-l", str(work)], check=False)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
