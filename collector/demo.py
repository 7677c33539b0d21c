"""``collector demo``: the whole daemon offline, against the local simulator.

Starts ``collector simulate`` and ``collector run`` as child processes, lets
them run, stops the daemon with SIGTERM (the same path a service manager uses),
then the simulator, and prints where the dataset is and what it holds. Exits
non-zero if the daemon did not stop cleanly or wrote nothing.

A demo must work the first time, anywhere: its default config ships inside the
package, the simulator moves to a free port when the configured one is taken
(the daemon's URLs are rewritten to match), and every run writes a fresh
dataset folder, so a second run never mixes its trades and its downtime into
the first one's grade.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.dataset as ds
from rich.console import Console
from rich.table import Table

from collector.config import Config, ConfigError, load_config
from collector.simulator.process import start_simulator, stop

#: The demo config the package ships (``config/demo.toml`` in a checkout is the same file).
DEFAULT_CONFIG = Path(__file__).parent / "data" / "demo.toml"


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


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on right now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_folder(config: Config, now: datetime) -> tuple[Path, Path]:
    """A fresh dataset folder for this run (``<output.dir>/<UTC time>``) and its capture
    folder (at the same place relative to it as in the config, else beside it)."""
    base = Path(config.output.dir)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    root, n = base / stamp, 1
    while root.exists():  # two runs within a second
        n += 1
        root = base / f"{stamp}-{n}"
    capture = Path(config.capture.dir)
    if capture.is_relative_to(base):
        return root, root / capture.relative_to(base)
    return root, capture / root.name


def run_config(source: Path, config: Config, port: int, root: Path, capture: Path) -> str:
    """The config this run uses, as TOML: ``source`` with the run's folders and every
    rewrite pointed at the simulator's actual port."""
    doc = tomllib.loads(source.read_text(encoding="utf-8"))
    doc.setdefault("output", {})["dir"] = str(root)
    doc.setdefault("capture", {})["dir"] = str(capture)
    for exchange in doc.get("exchange", []):
        rewrite = exchange.get("rewrite", {})
        for prefix, target in rewrite.items():
            parts = urlsplit(target)
            rewrite[prefix] = parts._replace(netloc=f"{parts.hostname}:{port}").geturl()
    return _toml(doc)


def _toml(doc: dict[str, Any], path: str = "") -> str:
    """TOML for a parsed config: scalars, lists of scalars, tables and arrays of tables
    (JSON strings are valid TOML basic strings)."""
    lines, nested = [], []
    for key, value in doc.items():
        name = json.dumps(key)
        if isinstance(value, dict):
            nested.append(f"\n[{path}{name}]\n" + _toml(value, f"{path}{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested += [f"\n[[{path}{name}]]\n" + _toml(v, f"{path}{name}.") for v in value]
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    return "".join(line + "\n" for line in lines) + "".join(nested)


def run_demo(config_path: Path, seconds: float) -> int:
    config = load_config(config_path)
    wanted = simulator_port(config)
    console = Console()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    exchanges = ",".join(ex.name for ex in config.exchanges)
    symbols = ",".join(sorted({s for ex in config.exchanges for s in ex.symbols}))
    free = port_free(wanted)
    simulator, port = start_simulator(
        ["--port", str(wanted if free else 0), "--exchanges", exchanges, "--symbols", symbols]
    )
    root, capture = run_folder(config, datetime.now(UTC))
    root.mkdir(parents=True)
    effective = root / "demo.toml"
    effective.write_text(run_config(config_path, config, port, root, capture), encoding="utf-8")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        taken = "" if free else f" ({wanted} is taken)"
        console.print(f"simulator on 127.0.0.1:{port}{taken}; running the daemon for {seconds:g} s")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "run", "--config", str(effective)], env=env
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
    if code != 0 or not any(root.glob("table=*")):
        console.print(f"[red]daemon exit code {code}; dataset {root} is empty[/red]")
        return 1
    console.print(summarize(root))
    console.print(
        f"Parquet dataset (new for this run): {root.resolve()}  (raw capture: {capture})",
        soft_wrap=True,
    )
    console.print(f"grade it: collector quality {root}", soft_wrap=True)
    return 0
