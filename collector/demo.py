"""``collector demo``: the whole daemon offline, against the local simulator.

Starts ``collector simulate`` and ``collector run --config config/demo.toml`` as
child processes, lets them run, stops the daemon with SIGTERM (the same path a
service manager uses), then the simulator, and prints where the dataset is and
what it holds. Exits non-zero if the daemon did not stop cleanly or wrote nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.dataset as ds
from rich.console import Console
from rich.table import Table

from collector.config import Config, ConfigError, load_config
from collector.simulator.process import start_simulator, stop


def summarize(root: Path) -> Table:
    table = Table(title=f"dataset {root}")
    for column in ("table", "exchange", "symbols", "rows", "files"):
        table.add_column(column, justify="right" if column in ("rows", "files") else "left")
    for part in sorted(root.glob("table=*")):
        data = ds.dataset(part, partitioning="hive")
        rows = data.to_table(columns=["symbol"] if "symbol" in data.schema.names else None)
        exchanges = data.to_table(columns=["exchange"])["exchange"].to_pylist()
        for exchange in sorted(set(exchanges)):
            mask = [e == exchange for e in exchanges]
            symbols = sorted(
                {
                    s
                    for s, m in zip(rows["symbol"].to_pylist(), mask, strict=True)
                    if m and s is not None
                }
            )
            files = len(list((part / f"exchange={exchange}").rglob("*.parquet")))
            table.add_row(
                part.name.removeprefix("table="),
                exchange,
                ", ".join(symbols),
                f"{sum(mask):,}",
                str(files),
            )
    return table


def simulator_port(config: Config) -> int:
    """The simulator port the config's rewrites point at (all must agree)."""
    ports = {urlsplit(target).port for ex in config.exchanges for target in ex.rewrite.values()}
    if len(ports) != 1 or None in ports:
        raise ConfigError(
            [
                f"{config.path}: demo needs every rewrite to point at one "
                f"127.0.0.1:PORT simulator; found ports {sorted(map(str, ports))}"
            ]
        )
    return ports.pop()  # type: ignore[return-value]


def run_demo(config_path: Path, seconds: float) -> int:
    config = load_config(config_path)
    port = simulator_port(config)
    console = Console()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    exchanges = ",".join(ex.name for ex in config.exchanges)
    symbols = ",".join(sorted({s for ex in config.exchanges for s in ex.symbols}))
    simulator, _ = start_simulator(
        ["--port", str(port), "--exchanges", exchanges, "--symbols", symbols]
    )
    daemon: subprocess.Popen[bytes] | None = None
    try:
        console.print(f"simulator on 127.0.0.1:{port}; running the daemon for {seconds:g} s")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "run", "--config", str(config_path)], env=env
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.2)
        if daemon.poll() is not None:
            console.print(f"[red]daemon exited early with code {daemon.returncode}[/red]")
            return 1
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        stop(simulator)
    root = Path(config.output.dir)
    if code != 0 or not any(root.glob("table=*")):
        console.print(f"[red]daemon exit code {code}; dataset {root} is empty[/red]")
        return 1
    console.print(summarize(root))
    console.print(f"Parquet dataset: {root.resolve()}  (raw capture: {config.capture.dir})")
    return 0
