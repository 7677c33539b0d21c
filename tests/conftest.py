"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from types import ModuleType

import pytest

from collector import native
from collector.book import book as reference_book


@pytest.fixture(params=["reference", "native"])
def book_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run a test once on the pure-Python reference and once on the compiled core.

    Sets ``COLLECTOR_NATIVE`` so every engine and table buffer the test builds takes
    that path, and returns the module whose ``OrderBook``/``BookSide`` it should use.
    The native run is skipped where the core is not built.
    """
    if request.param == "reference":
        monkeypatch.setenv(native.ENV, "0")
        return reference_book
    if not native.available():
        pytest.skip("the native core is not built here")
    monkeypatch.setenv(native.ENV, "1")
    return native.core(True)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A local Spark session reading ``ts_*`` columns as integer nanoseconds, as README
    "Reading at scale" tells users to (Spark has no nanosecond timestamps).

    Skipped, saying why, without ``pyspark`` or without a Java runtime to start it.
    """
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH: Spark cannot start (install a JDK 17 or newer)")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield session
    session.stop()
