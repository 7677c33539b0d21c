"""The README's examples run as written (issue 15 item 8).

The README's own replay command builds the dataset (from the shared recording
it names), then every Python block marked ``<!-- example -->`` runs as a script
in that folder, as a reader would paste it into a file: each must exit 0 and
print what its comments promise. The DuckDB/Polars VWAP blocks are run by
``tests/unit/test_readme_queries.py``; the Spark block needs a JVM and is not.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support import CAPTURES, REPO_ROOT, needs_captures

from collector.cli import main

pytestmark = needs_captures
README = (REPO_ROOT / "README.md").read_text()
EXAMPLES = re.findall(r"<!-- example -->\n```python\n(.*?)```", README, re.S)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``data/``, made by the README's replay command."""
    (line,) = [
        line
        for line in README.splitlines()
        if line.startswith(".venv/bin/collector replay ../shared/captures/")
    ]
    argv = shlex.split(line)[1:]
    argv = [a.replace("../shared/captures", str(CAPTURES)) for a in argv]
    here = tmp_path_factory.mktemp("readme")
    argv = [str(here / a) if a == "data" else a for a in argv]  # --out data, in ``here``
    assert main(argv) == 0
    return here


def run(block: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_examples_are_found() -> None:
    assert len(EXAMPLES) == 3


def test_duckdb_snippet_prints_its_result(folder: Path) -> None:
    (block,) = [b for b in EXAMPLES if b.startswith("import duckdb")]
    out = run(block, folder)
    assert "BTCUSDT" in out and "445262" in out and "2024-08-08 23:54:15" in out


def test_snapshot_lists_reshape_to_a_matrix(folder: Path) -> None:
    (block,) = [b for b in EXAMPLES if "reshape" in b]
    shape, _, bids = run(block, folder).strip().partition(" [")
    rows, depth = map(int, re.fullmatch(r"\((\d+), (\d+)\)", shape).groups())  # type: ignore[union-attr]
    assert depth == 10 and rows > 3000  # 10 levels every 100 ms over 5.7 minutes
    best = [float(x) for x in bids.rstrip("]").split()]
    assert best == sorted(best, reverse=True) and 60_000 < best[0] < 63_000


def test_python_api_example_matches_the_shared_data(folder: Path) -> None:
    (block,) = [b for b in EXAMPLES if "book_at" in b]
    out = run(block, folder).splitlines()
    assert re.fullmatch(r"\d+ trades in that minute", out[0]) and int(out[0].split()[0]) > 0
    assert out[1] == "0 gap events"
    assert out[2].startswith("Book(verified, seq=") and "ts_recv=2024-08-08T23:57:59." in out[2]
    assert out[3] == "Book(unverified, empty)"
    samples = out[4:]
    assert len(samples) == 5 and all(" True (Decimal('6" in s for s in samples)
