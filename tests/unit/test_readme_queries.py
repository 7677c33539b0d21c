"""The README's "Reading at scale" queries run as written and give the exact answer.

The DuckDB, Polars and Spark blocks are taken from README.md verbatim; only the
dataset location is swapped (a local dataset, or the local S3 server for Polars), and
Spark runs in the local session the shared ``spark`` fixture starts. Their results
are checked against the VWAP and volume computed with exact decimals.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.fs as pafs
import pytest
from s3support import S3Server, s3, s3_env  # noqa: F401 - fixtures
from synthetic import write_dataset

from collector.dataset import open_table
from collector.storage import resolve

README = Path(__file__).resolve().parents[2] / "README.md"
LAKE = "s3://lake/data"


def _block(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- query:{name} -->\n```\w+\n(.*?)```", text, re.S)
    assert match, f"README has no query:{name} block"
    return match[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("queries") / "data"
    write_dataset(root, minutes=6, rows=150)
    return root


def _exact(root: Path) -> dict[tuple[str, str, str], tuple[int, Decimal, Decimal]]:
    """(exchange, symbol, date) -> trades, volume and VWAP, in exact decimals."""
    sums: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    columns = ["exchange", "symbol", "date", "price", "size"]
    for row in open_table(root, "trades", columns=columns).to_pylist():
        acc = sums[(row["exchange"], row["symbol"], row["date"])]
        acc[0] += 1
        acc[1] += row["size"]
        acc[2] += row["price"] * row["size"]
    return {key: (n, volume, notional / volume) for key, (n, volume, notional) in sums.items()}


def _check(rows: list[tuple], expected: dict) -> None:
    got = {(ex, sym, str(day)): (n, volume, vwap) for ex, sym, day, n, volume, vwap in rows}
    assert list(got) == sorted(expected)  # ordered by exchange, symbol, date
    assert len(got) >= 4  # three symbols on one day, some on the next
    for key, (n, volume, vwap) in expected.items():
        assert got[key][:2] == (n, volume), key  # counts and exact volume
        assert got[key][2] == pytest.approx(float(vwap), rel=1e-12), key


def test_duckdb_query(dataset: Path) -> None:
    sql = _block("duckdb").replace(LAKE, dataset.as_posix())
    _check(duckdb.sql(sql).fetchall(), _exact(dataset))


def _polars(code: str) -> list[tuple]:
    namespace: dict[str, object] = {}
    exec(code, namespace)
    frame = namespace["vwap"]
    return [
        (*row[:2], row[2].isoformat() if isinstance(row[2], dt.date) else row[2], *row[3:])
        for row in frame.rows()  # type: ignore[attr-defined]
    ]


def test_polars_query_local(dataset: Path) -> None:
    code = _block("polars").replace(LAKE, dataset.as_posix())
    code = code.replace("storage_options=storage", "storage_options=None")
    _check(_polars(code), _exact(dataset))


def test_polars_query_on_s3(dataset: Path, s3: S3Server) -> None:  # noqa: F811
    s3.create_bucket("lake")
    lake = resolve(LAKE, endpoint_url=s3.endpoint)
    pafs.copy_files(str(dataset), lake.path, destination_filesystem=lake.fs)
    code = _block("polars").replace("http://127.0.0.1:9000", s3.endpoint)
    _check(_polars(code), _exact(dataset))


def test_spark_query_local(dataset: Path, spark: object) -> None:
    code = _block("spark").replace("s3a://lake/data", dataset.as_posix())
    namespace: dict[str, object] = {"spark": spark}
    exec(code, namespace)
    rows = [tuple(row) for row in namespace["vwap"].collect()]  # type: ignore[attr-defined]
    _check([(*row[:2], row[2].isoformat(), *row[3:]) for row in rows], _exact(dataset))
