"""What a plain ``pip install .`` gets is enough for the product (issue 15 items 4, 5, 8).

``collector quality`` is the one-button report: every distribution it imports,
with ``--json`` and with ``--out`` (the plots), must come with the default
dependencies, not an extra. Measured by running the command and mapping what it
imported to distributions, so a new import without its dependency fails here.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

from collector.model import BestBidAsk, QualityEvent
from collector.sinks.parquet import ParquetSink
from collector.tables import TableBuffers

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def default_closure() -> set[str]:
    """The default dependencies and everything they pull in, as installed here."""
    env = default_environment()
    seen: set[str] = set()
    todo = [Requirement(r) for r in PROJECT["project"]["dependencies"]]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        todo += [Requirement(r) for r in md.requires(name) or []]
    return seen


#: Runs ``collector quality`` and prints the top-level modules it imported (not the
#: interpreter's start-up ones, such as a site hook from setuptools).
IMPORTED = """
import json, sys
before = set(sys.modules)
from collector.quality.cli import main
code = main(sys.argv[1:])
modules = sorted({m.split(".")[0] for m in set(sys.modules) - before})
print(json.dumps({"code": code, "modules": modules}))
"""


def test_quality_needs_only_the_default_dependencies(tmp_path: Path) -> None:
    out = TableBuffers()
    for sec in range(20):
        ts = 1_700_000_000_000_000_000 + sec * 10**9
        out.add_bbo(BestBidAsk("BTCUSDT", ts - 1000, ts, None, "1.0", "2", "1.5", "3"), "BTC-USDT")
    out.add_quality(QualityEvent(None, ts, "disconnect", "connection 1 closed: stopped"))
    with ParquetSink(tmp_path / "data") as sink:
        for table, data in out.drain().items():
            sink.write(table, "binance-spot", data)
    html = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED, str(tmp_path / "data"), "--json", "--out", str(html)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    *report, last = done.stdout.strip().splitlines()
    assert json.loads(report[-1])["exchanges"][0]["grade"] == "A"
    result = json.loads(last)
    assert result["code"] == 0 and html.stat().st_size > 10_000
    modules = set(result["modules"]) - set(sys.stdlib_module_names) - {"collector", "adapters"}
    providers = md.packages_distributions()
    needed = {dist.lower().replace("_", "-") for m in modules for dist in providers.get(m, [])}
    assert {"duckdb", "matplotlib"} <= needed  # the check measures something
    assert needed - default_closure() == set()


def test_metadata() -> None:
    deps = {Requirement(r).name: Requirement(r) for r in PROJECT["project"]["dependencies"]}
    for name in ("duckdb", "matplotlib"):
        assert deps[name].specifier, f"{name} needs a lower bound"
    assert "report" not in PROJECT["project"].get("optional-dependencies", {})
    assert PROJECT["project"]["license"] == "Apache-2.0"  # SPDX, not the deprecated table
    assert any(r.startswith("setuptools>=77") for r in PROJECT["build-system"]["requires"])


def test_demo_config_ships_in_the_package() -> None:
    data = PROJECT["tool"]["setuptools"]["package-data"]["collector"]
    assert "data/*.toml" in data and (REPO / "collector" / "data" / "demo.toml").is_file()
