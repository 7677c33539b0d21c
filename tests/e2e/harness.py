"""Run the daemon against the simulator over loopback sockets, in one event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.dataset as ds
from prometheus_client.parser import text_string_to_metric_families

import adapters
from collector.adapter import Subscription
from collector.config import Config, parse_config
from collector.daemon import Daemon
from collector.simulator import Simulator

HOSTS = {
    "binance-spot": ("wss://stream.binance.com:9443", "https://api.binance.com"),
    "binance-usdm": ("wss://fstream.binance.com", "https://fapi.binance.com"),
    "binance-coinm": ("wss://dstream.binance.com", "https://dapi.binance.com"),
}


def daemon_config(
    root: Path,
    port: int,
    exchanges: dict[str, list[str]],
    *,
    channels: tuple[str, ...] = ("book", "bbo", "trades"),
    extra: str = "",
    exchange_extra: str = "",
    hosts: dict[str, tuple[str, ...]] | None = None,
    output: str = "",
    capture: str = "",
) -> Config:
    """A config writing under ``root`` with every URL of ``exchanges`` pointed at the simulator.

    ``hosts`` names the URL prefixes to point there per exchange (default ``HOSTS``);
    ``output``/``capture`` replace the ``[output]``/``[capture]`` keys (e.g. an s3:// dir).
    """
    output = output or f'dir = "{root / "data"}"'
    capture = capture or f'dir = "{root / "capture"}"'
    parts = [
        f"[output]\n{output}\n",
        f"[capture]\n{capture}\n",
        '[daemon]\nflush_interval_s = 0.2\n[metrics]\nlisten = "127.0.0.1:0"\n',
        extra,
    ]
    for slug, symbols in exchanges.items():
        base = f"127.0.0.1:{port}/{slug}"
        rules = ", ".join(
            f'"{prefix}" = "{"ws" if prefix.startswith("ws") else "http"}://{base}"'
            for prefix in (hosts or HOSTS)[slug]
        )
        parts.append(
            f'[[exchange]]\nname = "{slug}"\nsymbols = {list(symbols)!r}\n'
            f"channels = {list(channels)!r}\n{exchange_extra}\nrewrite = {{ {rules} }}\n"
        )
    return parse_config("\n".join(parts).replace("'", '"'), "e2e")


def origins(slug: str, symbols: list[str]) -> tuple[str, ...]:
    """URL origins the adapter connects to or fetches from, to point at the simulator.

    Its instrument lists included, so the daemon never leaves loopback: a playback
    source without the instruments sidecar answers them 404.
    """
    adapter = adapters.create(slug)
    plans = adapter.plan([Subscription(s, c) for s in symbols for c in ("book", "trades")])
    urls = [p.url for p in plans] + [r.url for r in adapter.instrument_requests()]
    return tuple(sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls}))


def playback_config(root: Path, port: int, slug: str, symbols: list[str]) -> Config:
    """Books and trades of ``symbols`` on a played-back venue, every origin on the simulator."""
    hosts = {slug: origins(slug, symbols)}
    return daemon_config(root, port, {slug: symbols}, channels=("book", "trades"), hosts=hosts)


async def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def run_daemon(
    config: Config, body: Callable[[Daemon], Awaitable[None]], timeout_s: float = 60.0
) -> Daemon:
    """Start the daemon, run ``body`` while it runs, stop it cleanly, return it."""
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(body(daemon), timeout_s)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
    return daemon


def synced(daemon: Daemon, slug: str, symbols: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        runner = next(r for r in daemon.runners if r.cfg.name == slug)
        books = runner.pipeline.engine.symbols
        return all(s in books and books[s].state.value == "synced" for s in symbols)

    return check


def read_table(root: Path, table: str) -> pa.Table | None:
    """A dataset table with labels as plain strings and times as int ns (sortable)."""
    path = root / f"table={table}"
    if not path.exists():
        return None
    data = ds.dataset(path, partitioning="hive").to_table()
    for i, field in enumerate(data.schema):
        if pa.types.is_dictionary(field.type):
            data = data.set_column(i, field.name, data.column(i).cast(pa.string()))
        elif pa.types.is_timestamp(field.type):
            data = data.set_column(i, field.name, data.column(i).cast(pa.int64()))
    return data


async def with_simulator(sim: Simulator, fn: Callable[[Simulator], Awaitable[None]]) -> None:
    async with sim:
        await fn(sim)


def truth_levels(book: dict) -> dict[str, dict[Decimal, Decimal]]:
    return {
        "bids": {Decimal(p): Decimal(q) for p, q in book["bids"]},
        "asks": {Decimal(p): Decimal(q) for p, q in book["asks"]},
    }


def assert_rows_never_wrong(root: Path, sim: Simulator, slug: str, symbol: str) -> None:
    """Rebuild the book from the rows after every message; each must equal the truth."""
    # Imported here: test_process.py also runs this module's file in child processes,
    # whose path has tests/e2e but not tests/.
    from support import book_states

    book = read_table(root, "book")
    rows = book.filter(pa.compute.equal(book["symbol"], symbol)).sort_by("apply_seq").to_pylist()
    checked = 0
    for seq, sides in book_states(rows):
        truth = sim.truth(slug, symbol, seq)
        if truth is not None:
            assert {"bids": sides["bid"], "asks": sides["ask"]} == truth_levels(truth), seq
            checked += 1
    assert checked > 10


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of a Prometheus exposition, by sample name (counters end in _total)."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(found: dict, name: str, **labels: str) -> float:
    matches = [
        v for lab, v in found.get(name, []) if all(lab.get(k) == x for k, x in labels.items())
    ]
    assert len(matches) == 1, (name, labels, found.get(name))
    return matches[0]
