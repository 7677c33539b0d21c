"""Fleets of 1, 2 and 3 sharded daemons against one simulator form the same dataset.

All six daemons run at once in this test's event loop, each fleet writing to
its own dataset root (the shards of a fleet share theirs, as on shared storage).
What separate runs against the generated simulator have in common is not the
receive times or where each run starts, but the exchange's own ids: the book
after update id ``u``, the quote at ``u``, trade ``t``. So each fleet's merged
dataset is compared with the single daemon's on those keys, and both with the
simulator's truth.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from harness import daemon_config, read_table, synced, truth_levels, wait_for

from collector.config import Config, parse_config
from collector.daemon import Daemon
from collector.sharding import Shard, assign, shard_config, units_of
from collector.simulator import Simulator, SimulatorConfig

EXCHANGES = {
    "binance-spot": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    "binance-usdm": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
}
TABLES = ("book", "bbo", "trades")  # one per configured channel
FLEETS = (1, 2, 3)
#: Seconds every daemon keeps running once all books of all fleets are in sync.
RUN_S = 2.0
TAG = re.compile(r"shard(\d+)of(\d+)")


@dataclass
class Fleet:
    root: Path
    config: Config  # the whole, unsharded config every shard was given
    #: Per shard: {(exchange, symbol, channel)} its connections subscribed to.
    subscribed: list[set[tuple[str, str, str]]]
    #: (exchange, symbol, update id) -> the simulator's true book, for every id written.
    truth: dict[tuple[str, str, int], dict]


def test_fleets_of_one_two_and_three_shards_form_one_dataset(tmp_path: Path) -> None:
    """One test, not a module fixture: under xdist each worker would run the fleets again."""
    fleets = run_fleets(tmp_path)
    for n, fleet in fleets.items():
        check_subscriptions(fleet, n)
        check_writers(fleet, n)
        check_true_books(fleet)
        if n > 1:
            check_merged_equals_single(fleets[1], fleet)


def run_fleets(base: Path) -> dict[int, Fleet]:
    """Every fleet at once against one simulator, until all books synced plus ``RUN_S``."""
    out: dict[int, Fleet] = {}

    async def main() -> None:
        sim_config = SimulatorConfig(
            exchanges=tuple(EXCHANGES), symbols=tuple(EXCHANGES["binance-usdm"]), interval_ms=20
        )
        async with Simulator(sim_config) as sim:
            daemons: dict[int, list[Daemon]] = {}
            for n in FLEETS:
                whole = daemon_config(base / f"n{n}", sim.port, EXCHANGES)
                daemons[n] = [Daemon(shard_config(whole, Shard(i, n))) for i in range(n)]
                out[n] = Fleet(base / f"n{n}", whole, [], {})
            every = [d for fleet in daemons.values() for d in fleet]
            tasks = [asyncio.create_task(d.run()) for d in every]
            try:

                def all_synced() -> bool:
                    return all(
                        synced(d, r.cfg.name, r.book_symbols)() for d in every for r in d.runners
                    )

                await wait_for(all_synced, 20, "every book of every fleet in sync")
                await asyncio.sleep(RUN_S)
                for n, fleet in daemons.items():
                    for d in fleet:
                        out[n].subscribed.append(
                            {
                                (r.cfg.name, s.symbol, s.channel)
                                for r in d.runners
                                for sup in r.supervisors
                                for s in sup.plan.subscriptions
                            }
                        )
            finally:
                for d in every:
                    d.stop()
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
            for n in FLEETS:  # the simulator keeps recent history only: ask it now
                out[n].truth = _truth(out[n].root / "data", sim)

    asyncio.run(main())
    return out


def _truth(root: Path, sim: Simulator) -> dict[tuple[str, str, int], dict]:
    found = {}
    for exchange, symbols in EXCHANGES.items():
        for symbol in symbols:
            for seq in _book_states(root, exchange, symbol):
                truth = sim.truth(exchange, symbol, seq)
                if truth is not None:
                    found[(exchange, symbol, seq)] = truth_levels(truth)
    return found


def _book_states(root: Path, exchange: str, symbol: str) -> dict[int, dict]:
    """The book after each update id, rebuilt from the rows as a user would."""
    from support import book_states

    book = read_table(root, "book")
    assert book is not None
    mine = pa.compute.and_(
        pa.compute.equal(book["exchange"], exchange), pa.compute.equal(book["symbol"], symbol)
    )
    rows = book.filter(mine).sort_by("apply_seq").to_pylist()
    return {seq: {k: dict(v) for k, v in sides.items()} for seq, sides in book_states(rows)}


def check_true_books(fleet: Fleet) -> None:
    """After every update id it wrote, each book equals the simulator's."""
    for exchange, symbols in EXCHANGES.items():
        for symbol in symbols:
            checked = 0
            for seq, sides in _book_states(fleet.root / "data", exchange, symbol).items():
                truth = fleet.truth.get((exchange, symbol, seq))
                if truth is not None:
                    assert {"bids": sides["bid"], "asks": sides["ask"]} == truth, (fleet.root, seq)
                    checked += 1
            assert checked > 10, (fleet.root, exchange, symbol, checked)


def _writers(root: Path) -> dict[tuple[str, str, str], set[str]]:
    """(exchange, symbol, table) -> the shard tags of the Parquet files holding its rows."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for table in TABLES:
        for path in (root / f"table={table}").rglob("*.parquet"):
            exchange = next(p for p in path.parts if p.startswith("exchange=")).split("=")[1]
            tag = TAG.search(path.name)
            assert tag is not None, path.name
            for symbol in set(pq.read_table(path, columns=["symbol"])["symbol"].to_pylist()):
                found[(exchange, symbol, table)].add(tag[0])
    return found


def _configured() -> set[tuple[str, str, str]]:
    return {(ex, s, c) for ex, symbols in EXCHANGES.items() for s in symbols for c in TABLES}


def check_subscriptions(fleet: Fleet, n: int) -> None:
    """The shards' connections subscribe to every configured stream exactly once."""
    wanted = _configured()  # channel names are table names
    assert len(fleet.subscribed) == n
    assert set().union(*fleet.subscribed) == wanted, n
    assert sum(len(s) for s in fleet.subscribed) == len(wanted), n  # disjoint: none twice
    owner = assign(units_of(fleet.config), n)
    for index, subs in enumerate(fleet.subscribed):
        assert {owner[(ex, s)] for ex, s, _ in subs} <= {index}, (n, index)
    loads = [len({(ex, s) for ex, s, _ in subs}) for subs in fleet.subscribed]
    assert max(loads) - min(loads) <= 1, (n, loads)


def check_writers(fleet: Fleet, n: int) -> None:
    """Every stream has rows, all in files named after the shard it is assigned to."""
    writers = _writers(fleet.root / "data")
    assert writers.keys() == _configured(), n  # every configured stream has rows
    owner = assign(units_of(fleet.config), n)
    for (exchange, symbol, table), tags in writers.items():
        assert tags == {f"shard{owner[(exchange, symbol)]}of{n}"}, (exchange, symbol, table)
    # Raw captures carry the shard too: one file set per (exchange, shard) that has symbols there.
    captured = {
        (path.parent.name.split("=")[1], TAG.search(path.name)[0])  # type: ignore[index]
        for path in (fleet.root / "capture").rglob("*.capture.gz")
    }
    assert captured == {(ex, f"shard{owner[(ex, s)]}of{n}") for ex, s in units_of(fleet.config)}


def check_merged_equals_single(single: Fleet, fleet: Fleet) -> None:
    """On the ids both runs saw, the shards' merged dataset equals the single daemon's."""
    one, many, n = single.root / "data", fleet.root / "data", len(fleet.subscribed)
    for exchange, symbols in EXCHANGES.items():
        for symbol in symbols:
            a, b = _book_states(one, exchange, symbol), _book_states(many, exchange, symbol)
            common = a.keys() & b.keys()
            assert len(common) > 0.8 * min(len(a), len(b)), (n, exchange, symbol)
            assert all(a[seq] == b[seq] for seq in common), (n, exchange, symbol)
    for table, key, columns in (
        ("trades", "trade_id", ["ts_exchange", "side", "price", "size"]),
        ("bbo", "seq", ["ts_exchange", "bid_price", "bid_size", "ask_price", "ask_size"]),
    ):
        a, b = _keyed(one, table, key, columns), _keyed(many, table, key, columns)
        common = a.keys() & b.keys()
        assert len(common) > 0.8 * min(len(a), len(b)), (n, table)
        assert {k: a[k] for k in common} == {k: b[k] for k in common}, (n, table)


def _keyed(root: Path, table: str, key: str, columns: list[str]) -> dict[tuple, tuple]:
    data = read_table(root, table)
    assert data is not None
    names = ["exchange", "symbol", key]
    rows = zip(*(data[c].to_pylist() for c in [*names, *columns]), strict=True)
    out = {}
    for row in rows:
        assert row[:3] not in out, f"{table} {row[:3]} written twice"
        out[row[:3]] = row[3:]
    return out


# --------------------------------------------------------------------------- an idle shard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_shard_with_nothing_assigned_runs_healthy_and_idle(tmp_path: Path) -> None:
    """Through the real CLI: it says so in the log, /health answers 200 idle, SIGTERM exits 0."""
    text = (
        f'[output]\ndir = "{tmp_path / "data"}"\n[capture]\ndir = "{tmp_path / "capture"}"\n'
        '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n'
        'rewrite = { "wss://fstream.binance.com" = "ws://127.0.0.1:9/x" }\n'
    )
    (tmp_path / "c.toml").write_text(text)
    owner = assign(units_of(parse_config(text)), 2)[("binance-usdm", "BTCUSDT")]
    port = _free_port()
    log = tmp_path / "daemon.log"
    args = ["run", "--config", str(tmp_path / "c.toml"), "--metrics-listen", f"127.0.0.1:{port}"]
    env = os.environ | {"COLLECTOR_SHARD": f"{1 - owner}/2"}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", *args], stdout=sink, stderr=sink, env=env
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    status, body = r.status, msgspec.json.decode(r.read())
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert (status, body) == (200, {"ok": True, "idle": True})
    said = log.read_text()
    assert f"shard {1 - owner}/2 (from COLLECTOR_SHARD) takes 0 of 1" in said, said
    assert "nothing assigned, running idle" in said, said
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.parquet"))
