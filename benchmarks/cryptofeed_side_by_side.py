"""cryptofeed 2.4.1 and this project on the same frames, one core, one run: the ratios.

Creates a throwaway virtual environment, installs ``cryptofeed==2.4.1`` into it
from the package registry (``pip``, with the machine's pip configuration), and
replays each recording through both, alternating in rounds so that load on a
shared machine hits both alike:

* **cryptofeed**: its feed's ``message_handler`` driven offline in a child process
  running the throwaway venv's interpreter (``cryptofeed_worker.py``: recorded
  REST snapshots served to its snapshot fetch, no callbacks, so it writes
  nothing);
* **this project**: ``replay_throughput.py``'s end-to-end stage, decode + book +
  Arrow tables + Parquet through ``ParquetSink``, files closed.

Both processes are pinned to the same single core (the child inherits the
parent's affinity) and never run at the same time. Workloads as in
``replay_throughput.py``: ``all`` = every record; ``depth`` = the records this
project's adapter decodes to book messages (plus control frames), whose level
count is the numerator of levels/s for both. Each figure is the best of
``--repeat`` rounds, after one untimed warm-up round; the ratios are printed of
those bests and as the median of each round's pair of back-to-back runs
(``*_paired_median``), the steadier of the two when the load changes. With
``--clock cpu`` both sides count CPU seconds of their own process instead of
wall seconds: on a machine shared with other work, wall time includes the time
the scheduler gave to others. Output fields keep
``replay_throughput.py --json``'s names for the project
(``all_e2e_frames_per_s``, ``depth_e2e_levels_per_s``) and add
``cryptofeed_all_frames_per_s``, ``cryptofeed_depth_levels_per_s`` and the
ratios ``ratio_all_frames`` and ``ratio_depth_levels`` (project / cryptofeed).

Venues: those where cryptofeed's decoder runs offline from a recording
(``cryptofeed_worker.FEEDS``: Binance USD-M and spot, Kraken, BitMEX, Bitfinex,
OKX; why not Coinbase and Bybit is noted there). Exits 2, saying why,
when cryptofeed cannot be installed (no registry, no pip).

Usage::

    python benchmarks/cryptofeed_side_by_side.py [CAPTURE ...] [--repeat 5] [--json]
        [--venv DIR]   # keep (and reuse) the cryptofeed venv in DIR instead of a temp dir
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from replay_throughput import CAPTURES, NullSink, book_workload, time_pipeline  # noqa: E402

import adapters  # noqa: E402
from collector.capture.reader import open_recording  # noqa: E402
from collector.capture.records import Record  # noqa: E402
from collector.pipeline import Pipeline  # noqa: E402

CRYPTOFEED = "cryptofeed==2.4.1"
#: ``--clock``: wall seconds (as ``replay_throughput.py``), or CPU seconds of the
#: measuring process, which leave out the time a loaded machine gives to others.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
#: Venues the worker can drive (kept in step with ``cryptofeed_worker.FEEDS``).
VENUES = ("binance-usdm", "binance-spot", "kraken", "bitmex", "bitfinex", "okx")
DEFAULT_CAPTURES = (
    CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz",
    CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz",
    CAPTURES / "binance-spot" / "btcusdt_20240808.jsonl.gz",
    CAPTURES / "kraken" / "KRAKEN.ws.50.jsonl.gz",
    CAPTURES / "bitmex" / "BITMEX.jsonl.gz",
    CAPTURES / "bitfinex" / "BITFINEX.jsonl.gz",
    CAPTURES / "okx" / "OKX.jsonl.gz",
)


class InstallFailed(Exception):
    """cryptofeed could not be installed; the message says why and what pip said."""


def ensure_cryptofeed(root: Path) -> Path:
    """A venv at ``root`` with cryptofeed 2.4.1 (reused when already there); its python."""
    python = root / "bin" / "python"
    if python.exists() and _has_cryptofeed(python):
        return python
    print(f"installing {CRYPTOFEED} into {root} ...", file=sys.stderr, flush=True)
    # Our own pip installs into the new venv (``--python``) when we have one: seeding
    # the venv with its own pip (ensurepip) takes longer than the install itself.
    own_pip = importlib.util.find_spec("pip") is not None
    venv.create(root, with_pip=not own_pip, clear=True)
    pip = (
        [sys.executable, "-m", "pip", "--python", str(python)] if own_pip else [python, "-m", "pip"]
    )
    done = subprocess.run(
        [*map(str, pip), "install", "--quiet", CRYPTOFEED], capture_output=True, text=True
    )
    if done.returncode != 0 or not _has_cryptofeed(python):
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise InstallFailed(
            f"cannot install {CRYPTOFEED} into {root}: pip exited {done.returncode}.\n"
            "This harness needs the package registry (PyPI or a mirror set in pip's "
            "configuration) to fetch cryptofeed and its dependencies; nothing was measured.\n"
            f"pip said:\n{tail}"
        )
    return python


def _has_cryptofeed(python: Path) -> bool:
    probe = "import importlib.metadata as m, cryptofeed; print(m.version('cryptofeed'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.strip() == CRYPTOFEED.split("==")[1]


class Worker:
    """The cryptofeed child process for one recording (``cryptofeed_worker.py``)."""

    def __init__(self, python: Path, capture: Path, records: int) -> None:
        self.proc = subprocess.Popen(
            [str(python), str(BENCH / "cryptofeed_worker.py"), str(capture)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        ready = self._reply()
        if ready.get("records") != records:
            self.close()
            raise RuntimeError(
                f"{capture}: cryptofeed worker read {ready.get('records')} records, we read "
                f"{records}; the two readers disagree, so the workloads would differ"
            )

    def _reply(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"cryptofeed worker exited with {self.proc.wait()}")
        return json.loads(line)

    def run(self, indices: list[int], clock: str) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"records": indices, "clock": clock}) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def books_agree(exchange: str, records: list[Record], theirs: dict[str, dict]) -> list[str]:
    """Where our final books differ from cryptofeed's (best levels, depth); empty if nowhere.

    Proof that both sides did the same work: one untimed replay of ours, compared
    by decimal value with the books cryptofeed ended the ``all`` workload with.
    """
    pipeline = Pipeline(adapters.create(exchange), NullSink())
    for r in records:
        pipeline.on_record(r)
    pipeline.finish()
    ours = {s: v.book for s, v in pipeline.summary().items() if v.book is not None}
    differ = sorted(set(ours) ^ set(theirs))
    for symbol in sorted(set(ours) & set(theirs)):
        book, cf = ours[symbol], theirs[symbol]
        same = (book.bid_levels, book.ask_levels) == (cf["bid_levels"], cf["ask_levels"])
        for mine, other in ((book.best_bid, cf["bid"]), (book.best_ask, cf["ask"])):
            same = same and (mine is None) == (other is None)
            if mine is not None and other is not None:
                same = same and [Decimal(x) for x in mine] == [Decimal(x) for x in other]
        if not same:
            differ.append(symbol)
    return differ


def side_by_side(python: Path, path: Path, repeat: int, clock: str = "wall") -> dict:
    path = path.resolve()
    info, it = open_recording(path)
    records = list(it)
    exchange = info.exchange or ""
    if exchange not in VENUES:
        raise SystemExit(f"{path}: cryptofeed cannot be driven offline for {exchange!r}")
    depth, levels = book_workload(exchange, records)
    depth_ids = {id(r) for r in depth}
    workloads = {
        "all": (records, list(range(len(records)))),
        "depth": (depth, [i for i, r in enumerate(records) if id(r) in depth_ids]),
    }
    ours: dict[str, list[float]] = {"all": [], "depth": []}
    theirs: dict[str, list[float]] = {"all": [], "depth": []}
    seen: dict[str, dict] = {}
    worker = Worker(python, path, len(records))
    try:
        for i in range(-1, repeat):  # round -1 warms both up (imports, caches) and is dropped
            for name, (recs, indices) in workloads.items():
                sides = ("theirs", "ours") if i % 2 else ("ours", "theirs")
                for side in sides:
                    if side == "ours":
                        seconds = time_pipeline(exchange, recs, True, timer=CLOCKS[clock])
                    else:
                        seen[name] = worker.run(indices, clock)
                        seconds = seen[name]["seconds"]
                    if i >= 0:
                        (ours if side == "ours" else theirs)[name].append(seconds)
    finally:
        worker.close()
    frames = {name: len(recs) for name, (recs, _) in workloads.items()}
    cf_books = seen["all"]["books"]
    result = {
        "capture": str(path.relative_to(CAPTURES) if path.is_relative_to(CAPTURES) else path),
        "exchange": exchange,
        "records": len(records),
        "depth_records": len(depth),
        "levels": levels,
        "all_e2e_frames_per_s": round(frames["all"] / min(ours["all"])),
        "depth_e2e_frames_per_s": round(frames["depth"] / min(ours["depth"])),
        "depth_e2e_levels_per_s": round(levels / min(ours["depth"])),
        "cryptofeed_all_frames_per_s": round(frames["all"] / min(theirs["all"])),
        "cryptofeed_depth_frames_per_s": round(frames["depth"] / min(theirs["depth"])),
        "cryptofeed_depth_levels_per_s": round(levels / min(theirs["depth"])),
        "cryptofeed_snapshots_fetched": seen["all"]["snapshots"],
        "cryptofeed_book_resets": seen["all"]["resets"],
        "cryptofeed_errors": seen["all"]["errors"],
        "cryptofeed_first_error": seen["all"]["first_error"],
        "books_compared": len(cf_books),
        "books_differing": books_agree(exchange, records, cf_books),
    }
    result["ratio_all_frames"] = round(
        result["all_e2e_frames_per_s"] / result["cryptofeed_all_frames_per_s"], 3
    )
    result["ratio_depth_levels"] = round(
        result["depth_e2e_levels_per_s"] / result["cryptofeed_depth_levels_per_s"], 3
    )
    for name, key in (("all", "ratio_all_frames"), ("depth", "ratio_depth_levels")):
        paired = [t / o for o, t in zip(ours[name], theirs[name], strict=True)]
        result[f"{key}_paired_median"] = round(statistics.median(paired), 3)
    result["clock"] = clock
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("captures", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall seconds, or CPU seconds (a shared, loaded machine)",
    )
    parser.add_argument(
        "--venv", type=Path, help="keep the cryptofeed venv here and reuse it (default: a temp dir)"
    )
    args = parser.parse_args()
    paths = args.captures or [p for p in DEFAULT_CAPTURES if p.exists()]
    if not paths:
        print(f"no recordings given and none found under {CAPTURES}", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)  # the drift monitor's per-venue notes are not results
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    with tempfile.TemporaryDirectory(prefix="cryptofeed-venv-") as tmp:
        try:
            python = ensure_cryptofeed(args.venv or Path(tmp))
        except InstallFailed as e:
            print(e, file=sys.stderr)
            return 2
        results = [side_by_side(python, p, args.repeat, args.clock) for p in paths]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(
            f"\n{r['capture']}: {r['records']:,} records ({r['depth_records']:,} depth, "
            f"{r['levels']:,} levels); cryptofeed fetched {r['cryptofeed_snapshots_fetched']} "
            f"snapshot(s), reset its book {r['cryptofeed_book_resets']} time(s)"
        )
        if r["cryptofeed_errors"]:
            print(
                f"  cryptofeed raised {r['cryptofeed_errors']} times: {r['cryptofeed_first_error']}"
            )
        equal = r["books_compared"] - len(r["books_differing"])
        differ = ", ".join(r["books_differing"])
        print(
            f"  final books equal to ours: {equal}/{r['books_compared']}"
            + (f" (differ: {differ})" if differ else "")
        )
        print(f"  {'':<12}{'all frames/s':>14}{'depth levels/s':>16}")
        print(
            f"  {'project e2e':<12}{r['all_e2e_frames_per_s']:>14,}"
            f"{r['depth_e2e_levels_per_s']:>16,}"
        )
        print(
            f"  {'cryptofeed':<12}{r['cryptofeed_all_frames_per_s']:>14,}"
            f"{r['cryptofeed_depth_levels_per_s']:>16,}"
        )
        print(f"  {'ratio':<12}{r['ratio_all_frames']:>13.2f}x{r['ratio_depth_levels']:>15.2f}x")
        print(
            f"  {'paired med.':<12}{r['ratio_all_frames_paired_median']:>13.2f}x"
            f"{r['ratio_depth_levels_paired_median']:>15.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
