"""The sink's Parquet encodings: in the files, read back exactly by every reader, and small.

``collector/sinks/encoding.py`` picks delta encodings for timestamps and ids and a
dictionary for decimals and labels. These tests replay real recordings through the
real sink and check (1) that the files carry those encodings, so a pyarrow upgrade
or a refactor that silently drops them is caught, (2) that pyarrow, DuckDB,
Polars and Spark read every value back exactly, and (3) that the dataset of the
benchmark recording stays well under its gzip'd raw capture. Spark needs a Java
runtime besides ``pyspark``; without one its test is skipped and says so.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import CAPTURES, needs_captures, run_frames, run_recording
from test_derivatives_binance import USDM_LIQUIDATION, USDM_MARK, combined

from adapters.binance.adapter import BinanceAdapter
from collector import schema
from collector.replay import replay
from collector.sinks.encoding import column_encodings
from collector.sinks.parquet import ParquetSink

pytestmark = needs_captures

#: Between them: book, trades, bbo, quality (Binance USD-M), option_summary (Deribit),
#: and the benchmark recording, whose book spans two row groups.
RECORDINGS = [
    "binance-usdm/BINANCE_FUTURES.jsonl.gz",
    "deribit/DERIBIT.jsonl.gz",
    "binance-usdm/btcusdt_20240808.jsonl.gz",
]
DELTA = "DELTA_BINARY_PACKED"
DICTIONARY = "RLE_DICTIONARY"


def _plain_schema(table_schema: pa.Schema) -> pa.Schema:
    """What every reader's answer is compared as: ns integers, strings, exact decimals."""
    fields = []
    for f in table_schema:
        type_ = f.type
        if pa.types.is_timestamp(type_):
            type_ = pa.int64()
        elif pa.types.is_dictionary(type_):
            type_ = type_.value_type
        fields.append(pa.field(f.name, type_))
    return pa.schema(fields)


def _plain(data: pa.Table, table: str) -> pa.Table:
    target = _plain_schema(schema.table_schema(table))
    columns = [data.column(f.name) for f in target]
    columns = [c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c for c in columns]
    return pa.Table.from_arrays(columns, names=target.names).cast(target).combine_chunks()


def _written(sources: dict[str, list[pa.Table]], root: Path) -> dict[str, list[Path]]:
    """Every table of ``sources`` through a ParquetSink under ``root``; files per table."""
    with ParquetSink(root) as sink:
        for table, parts in sources.items():
            for part in parts:
                sink.write(table, "x", part)
    files: dict[str, list[Path]] = {}
    for path in sink.published:
        files.setdefault(path.name.split("-")[0], []).append(path)
    return files


def _read_duckdb(files: list[Path], table: str) -> pa.Table:
    names = ", ".join(
        f"epoch_ns({f.name}) as {f.name}" if pa.types.is_timestamp(f.type) else f.name
        for f in schema.table_schema(table)
    )
    paths = ", ".join(f"'{p.as_posix()}'" for p in files)
    return duckdb.connect().sql(f"select {names} from read_parquet([{paths}])").to_arrow_table()


def _read_polars(files: list[Path], table: str) -> pa.Table:
    columns = [
        pl.col(f.name).dt.epoch("ns") if pa.types.is_timestamp(f.type) else pl.col(f.name)
        for f in schema.table_schema(table)
    ]
    return pl.scan_parquet([str(p) for p in files]).select(columns).collect().to_arrow()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict, dict]]:
    """(tables the pipeline produced, files the sink wrote) for each source."""
    sources = [run_recording(CAPTURES / name)[1].sink.tables for name in RECORDINGS]
    # No recording carries liquidations or mark prices: Binance's documented examples do.
    frames = [
        combined("btcusdt@forceOrder", USDM_LIQUIDATION),
        combined("btcusdt@markPrice@1s", USDM_MARK),
    ]
    sources.append(run_frames(BinanceAdapter("binance-usdm"), frames, ts=1).sink.tables)
    root = tmp_path_factory.mktemp("encodings")
    return [(tables, _written(tables, root / str(i))) for i, tables in enumerate(sources)]


def test_every_table_is_covered(written: list[tuple[dict, dict]]) -> None:
    covered = {table for _, files in written for table in files}
    assert covered == set(schema.TABLES)


def test_pyarrow_duckdb_and_polars_read_every_value_back_exactly(
    written: list[tuple[dict, dict]],
) -> None:
    for tables, files in written:
        for table, paths in files.items():
            expected = _plain(pa.concat_tables(tables[table]), table)
            readers = {
                "pyarrow": pa.concat_tables(pq.read_table(p) for p in paths),
                "duckdb": _read_duckdb(paths, table),
                "polars": _read_polars(paths, table),
            }
            for reader, got in readers.items():
                got = _plain(got, table)
                assert got.num_rows == expected.num_rows, (reader, table)
                assert got.equals(expected), (reader, table)
            # pyarrow also gets the exact Arrow types back (the stored schema).
            assert readers["pyarrow"].schema.equals(schema.table_schema(table), False)


def test_spark_reads_every_value_back_exactly(written: list[tuple[dict, dict]], spark) -> None:
    """Spark's own Parquet reader (not Arrow's), vectorized: the DELTA encodings, the
    dictionary decimals and labels, and nanosecond timestamps read as longs."""
    for tables, files in written:
        for table, paths in files.items():
            expected = _plain(pa.concat_tables(tables[table]), table)
            names = [f.name for f in schema.table_schema(table)]
            got = spark.read.parquet(*(str(p) for p in paths)).select(*names).toArrow()
            got = _plain(got, table)
            assert got.num_rows == expected.num_rows, table
            assert got.equals(expected), table


def test_files_carry_the_chosen_encodings(written: list[tuple[dict, dict]]) -> None:
    # Stated, not derived from column_encodings, so a change of the rule is seen here.
    assert column_encodings(schema.BOOK) == {
        "ts_exchange": DELTA,
        "ts_recv": DELTA,
        "seq": DELTA,
        "apply_seq": DELTA,
    }
    assert column_encodings(schema.TRADES)["trade_id"] == "DELTA_BYTE_ARRAY"
    assert "expiration" not in column_encodings(schema.table_schema("option_summary"))
    checked = 0
    for _, files in written:
        for table, paths in files.items():
            chosen = column_encodings(schema.table_schema(table))
            for path in paths:
                metadata = pq.ParquetFile(path).metadata
                for g in range(metadata.num_row_groups):
                    for c in range(metadata.num_columns):
                        column = metadata.row_group(g).column(c)
                        name = column.path_in_schema
                        assert column.compression == "ZSTD", (table, name)
                        if name in chosen:
                            assert chosen[name] in column.encodings, (table, name)
                            assert DICTIONARY not in column.encodings, (table, name)
                        elif column.physical_type != "BOOLEAN":
                            assert DICTIONARY in column.encodings, (table, name)
                        checked += 1
    assert checked > 100


def test_benchmark_dataset_is_well_under_its_gzipped_capture(tmp_path: Path) -> None:
    # benchmarks/dataset_size.py measured 0.738 (1.222 before the encodings); the
    # margin absorbs zstd output changing a little across library versions.
    capture = CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz"
    replay([capture], tmp_path)
    dataset = sum(p.stat().st_size for p in tmp_path.rglob("*.parquet"))
    assert dataset < 0.8 * capture.stat().st_size
