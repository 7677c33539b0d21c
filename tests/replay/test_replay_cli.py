"""``collector replay`` end to end: recordings in, a dataset out that three readers agree on."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pytest
from support import CAPTURES, binance_facts, needs_captures

from collector.capture.reader import open_recording
from collector.capture.writer import CaptureWriter
from collector.replay import replay

pytestmark = needs_captures

FUTURES = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
SPOT = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ds")
    done = run_cli("replay", str(FUTURES), str(SPOT), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


def test_json_summary_states_the_documented_books(dataset) -> None:
    _, summary = dataset
    for path, slug in ((FUTURES, "binance-usdm"), (SPOT, "binance-spot")):
        for symbol, fact in binance_facts(path).items():
            got = summary["exchanges"][slug][symbol]
            assert got["gaps"] == fact.gaps and got["synced"]
            assert got["bbo_matched"] == fact.bbo_matched and got["bbo_mismatched"] == 0
            assert got["book"]["update_id"] == fact.final_id
            bid, ask = got["book"]["best_bid"], got["book"]["best_ask"]
            assert (Decimal(bid[0]), Decimal(bid[1])) == fact.bid
            assert (Decimal(ask[0]), Decimal(ask[1])) == fact.ask


def test_three_readers_agree(dataset) -> None:
    out, summary = dataset
    rows = sum(s["book_rows"] for ex in summary["exchanges"].values() for s in ex.values())
    table = ds.dataset(out / "table=book", partitioning="hive").to_table()
    assert table.num_rows == rows
    assert set(table["exchange"].to_pylist()) == {"binance-usdm", "binance-spot"}
    glob = f"{out}/table=book/**/*.parquet"
    con = duckdb.connect()
    n, total = con.execute(
        f"select count(*), sum(size) from read_parquet('{glob}', hive_partitioning=true)"
    ).fetchone()
    assert n == rows
    frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert frame.height == rows
    assert frame["price"].dtype == pl.Decimal(38, 18)
    assert Decimal(total) == sum(table["size"].to_pylist())


def test_markets_come_from_exchange_info(dataset) -> None:
    out, _ = dataset
    trades = ds.dataset(out / "table=trades", partitioning="hive").to_table()
    markets = dict(zip(trades["symbol"].to_pylist(), trades["market"].to_pylist(), strict=True))
    assert markets["SUSHIUSDT"] == "SUSHI-USDT-PERP"
    assert markets["NKNUSDT"] == "NKN-USDT"


@pytest.mark.parametrize("rotate_seconds", [3600, 5])
def test_own_capture_replays_to_the_same_dataset(tmp_path: Path, rotate_seconds: int) -> None:
    """A recording converted to the project's capture format gives identical Parquet,
    also when the capture is rotated into parts (the 31 s recording: 7 parts at 5 s)."""
    _, records = open_recording(SPOT)
    with CaptureWriter(tmp_path / "cap", "binance-spot", rotate_seconds=rotate_seconds) as writer:
        for record in records:
            writer.write(record)
    paths = writer.completed_paths
    assert len(paths) == (1 if rotate_seconds == 3600 else 7)
    a = replay([SPOT], tmp_path / "a")
    b = replay(list(reversed(paths)), tmp_path / "b")  # parts are put in order
    for name in ("book", "trades", "bbo", "quality"):
        ta = ds.dataset(tmp_path / "a" / f"table={name}", partitioning="hive").to_table()
        tb = ds.dataset(tmp_path / "b" / f"table={name}", partitioning="hive").to_table()
        assert ta.equals(tb), name
    assert a.by_exchange() == b.by_exchange()


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = run_cli("replay", str(tmp_path / "nope.gz"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    junk = tmp_path / "junk.jsonl.gz"
    junk.write_bytes(b"not a recording")
    bad = run_cli("replay", str(junk), "--out", str(tmp_path / "o"))
    assert bad.returncode == 2 and "junk.jsonl.gz" in bad.stderr
    unknown = run_cli("replay", str(SPOT), "--out", str(tmp_path / "o"), "--exchange", "nowhere")
    assert unknown.returncode == 2 and "no adapter for exchange 'nowhere'" in unknown.stderr
