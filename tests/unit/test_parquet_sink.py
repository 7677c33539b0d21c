"""ParquetSink: layout, exact round trips through three readers, rotation, crash safety.

Every test writes real files under ``tmp_path`` and reads them back with the
tools users use (pyarrow datasets, DuckDB, Polars), because the promises are
about what readers see, not about the sink's internals.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from collector import schema
from collector.sinks.parquet import _COMPACT_BATCHES, ParquetSink, format_start

SECOND = 10**9
#: 2025-11-29T00:00:00Z: tests straddle this midnight.
MIDNIGHT = 1_764_374_400 * SECOND
REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"(?P<table>[a-z]+)-(?P<instance>[^-]+)-(?P<start>\d{8}T\d{12}Z)-(?P<n>\d+)")


def book(
    seqs: range | list[int],
    ts: list[int],
    *,
    prices: list[str] | None = None,
    sizes: list[str] | None = None,
    symbol: str = "BTCUSDT",
) -> pa.Table:
    """Book rows whose every value is derived from ``apply_seq``, so order is checkable."""
    seqs = list(seqs)
    n = len(seqs)
    return pa.Table.from_pydict(
        {
            "symbol": [symbol] * n,
            "market": ["BTC-USDT"] * n,
            "ts_exchange": [None if s % 3 == 0 else t - 7 for s, t in zip(seqs, ts, strict=True)],
            "ts_recv": ts,
            "seq": [s // 4 for s in seqs],
            "apply_seq": seqs,
            "is_snapshot": [s % 5 == 0 for s in seqs],
            "side": ["bid" if s % 2 else "ask" for s in seqs],
            "price": schema.exact_decimals("price", prices or [f"{s}.{s:018d}" for s in seqs]),
            "size": schema.exact_decimals("size", sizes or [f"0.{s:018d}" for s in seqs]),
        },
        schema=schema.BOOK,
    )


def spaced(start: int, n: int, t0: int, step: int) -> pa.Table:
    """``n`` rows, apply_seq from ``start``, ts_recv = t0 + apply_seq * step."""
    seqs = range(start, start + n)
    return book(seqs, [t0 + s * step for s in seqs])


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def read_in_order(files: list[Path]) -> pa.Table:
    """Files of one partition concatenated in name order (= start time, then counter)."""

    def key(path: Path) -> tuple[str, int]:
        m = NAME.fullmatch(path.stem)
        assert m, path.name
        return m["start"], int(m["n"])

    return pa.concat_tables(pq.read_table(f) for f in sorted(files, key=key))


def seqs_of(table: pa.Table) -> list[int]:
    return table.column("apply_seq").to_pylist()


def plain(table: pa.Table) -> dict[str, list[object]]:
    """Logical values, comparable whatever the chunking and dictionaries (ns kept as ints)."""
    out: dict[str, list[object]] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        out[name] = column.to_pylist()
    return out


def row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


# --------------------------------------------------------------------- layout


def test_layout_and_three_readers_agree_exactly(tmp_path: Path) -> None:
    tiny, huge = "0.000000000000000001", "12345678901234567890.123456789012345678"
    ts = [MIDNIGHT + 123_456_789, MIDNIGHT + 123_456_790, MIDNIGHT + SECOND + 1]
    with ParquetSink(tmp_path, instance="a1") as sink:
        sink.write("book", "binance-spot", book([1, 2, 3], ts, prices=[tiny, huge, "1"]))
        sink.write("book", "okx", book([10], [ts[0]], sizes=[huge]))
        sink.write("book", "binance-spot", book([4], [ts[2] + 5]))
    files = parquet_files(tmp_path)
    assert [f.relative_to(tmp_path).parent.as_posix() for f in files] == [
        "table=book/exchange=binance-spot/date=2025-11-29",
        "table=book/exchange=okx/date=2025-11-29",
    ]
    assert sorted(sink.published) == files
    assert [f.name for f in files] == [
        "book-a1-20251129T000000123456Z-0.parquet",
        "book-a1-20251129T000000123456Z-0.parquet",
    ]
    # Partition keys are in the path only; field docs travel with the file.
    file_schema = pq.read_schema(files[0])
    assert "exchange" not in file_schema.names and "date" not in file_schema.names
    assert file_schema.field("price").metadata == schema.BOOK.field("price").metadata
    assert file_schema.equals(schema.BOOK, check_metadata=False)

    expected = [
        ("binance-spot", 1, ts[0], ts[0] - 7, Decimal(tiny), Decimal("0." + "0" * 17 + "1")),
        ("binance-spot", 2, ts[1], ts[1] - 7, Decimal(huge), Decimal("0." + "0" * 17 + "2")),
        ("binance-spot", 3, ts[2], None, Decimal("1"), Decimal("0." + "0" * 17 + "3")),
        ("binance-spot", 4, ts[2] + 5, ts[2] - 2, Decimal("4." + "0" * 17 + "4"),
         Decimal("0." + "0" * 17 + "4")),
        ("okx", 10, ts[0], ts[0] - 7, Decimal("10." + "0" * 16 + "10"), Decimal(huge)),
    ]  # fmt: skip

    # pyarrow dataset, Hive partitioning.
    arrow = ds.dataset(tmp_path / "table=book", partitioning="hive").to_table()
    arrow = arrow.sort_by([("exchange", "ascending"), ("apply_seq", "ascending")])
    got_arrow = list(
        zip(
            arrow.column("exchange").to_pylist(),
            arrow.column("apply_seq").to_pylist(),
            arrow.column("ts_recv").cast(pa.int64()).to_pylist(),
            arrow.column("ts_exchange").cast(pa.int64()).to_pylist(),
            arrow.column("price").to_pylist(),
            arrow.column("size").to_pylist(),
            strict=True,
        )
    )
    assert got_arrow == expected
    assert {str(d) for d in arrow.column("date").to_pylist()} == {"2025-11-29"}
    assert arrow.schema.field("price").type == schema.DECIMAL
    assert arrow.schema.field("ts_recv").type == schema.TIMESTAMP

    # DuckDB over a glob, Hive partitioning.
    glob = (tmp_path / "table=book" / "**" / "*.parquet").as_posix()
    got_duck = duckdb.sql(
        f"""select exchange, apply_seq, epoch_ns(ts_recv), epoch_ns(ts_exchange), price, size,
                   cast(date as varchar)
            from read_parquet('{glob}', hive_partitioning = true)
            order by exchange, apply_seq"""
    ).fetchall()
    assert [row[:6] for row in got_duck] == expected
    assert {row[6] for row in got_duck} == {"2025-11-29"}

    # Polars, Hive partitioning.
    frame = (
        pl.scan_parquet(glob, hive_partitioning=True)
        .select(
            "exchange",
            "apply_seq",
            pl.col("ts_recv").dt.epoch("ns"),
            pl.col("ts_exchange").dt.epoch("ns"),
            "price",
            "size",
        )
        .sort("exchange", "apply_seq")
        .collect()
    )
    assert frame.schema["price"] == pl.Decimal(38, 18)
    assert frame.rows() == expected


def test_rows_spanning_midnight_split_into_two_dates_keeping_order(tmp_path: Path) -> None:
    # Non-monotonic on purpose: ts_recv may step back, order must survive anyway.
    ts = [MIDNIGHT - 2, MIDNIGHT + 1, MIDNIGHT - 1, MIDNIGHT, MIDNIGHT - 3, MIDNIGHT + 9]
    with ParquetSink(tmp_path) as sink:
        sink.write("book", "x", book(range(6), ts))
    before, after = (
        tmp_path / "table=book/exchange=x/date=2025-11-28",
        tmp_path / "table=book/exchange=x/date=2025-11-29",
    )
    assert seqs_of(read_in_order(parquet_files(before))) == [0, 2, 4]
    assert seqs_of(read_in_order(parquet_files(after))) == [1, 3, 5]
    (first_before,) = parquet_files(before)
    assert first_before.name == f"book-0-{format_start(MIDNIGHT - 2)}-0.parquet"
    assert format_start(MIDNIGHT - 2) == "20251128T235959999999Z"


# ------------------------------------------------------------------- rotation


def test_rotation_by_data_time(tmp_path: Path) -> None:
    t0 = MIDNIGHT + 3600 * SECOND
    with ParquetSink(tmp_path, rotate_seconds=1.0) as sink:
        for start in range(0, 35, 7):  # batches that do not line up with windows
            sink.write("book", "x", spaced(start, 7, t0, SECOND // 10))
    files = parquet_files(tmp_path)
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [10, 10, 10, 5]
    assert [f.name for f in files] == [
        f"book-0-{format_start(t0 + k * SECOND)}-{k}.parquet" for k in range(4)
    ]
    assert seqs_of(read_in_order(files)) == list(range(35))


def test_rotation_by_size_keeps_order_count_and_row_group_size(tmp_path: Path) -> None:
    with ParquetSink(tmp_path, rotate_bytes=20_000, row_group_rows=500) as sink:
        for start in range(0, 10_000, 20):
            sink.write("book", "x", spaced(start, 20, MIDNIGHT, 1000))
    files = parquet_files(tmp_path)
    assert len(files) >= 3
    for f in files[:-1]:
        assert f.stat().st_size >= 20_000
        assert set(row_groups(f)) == {500}
    assert set(row_groups(files[-1])[:-1]) <= {500}
    assert seqs_of(read_in_order(files)) == list(range(10_000))


def test_row_groups_have_the_configured_size(tmp_path: Path) -> None:
    symbols = []
    with ParquetSink(tmp_path, row_group_rows=1000) as sink:
        for start in range(0, 5220, 20):
            # Each small write brings its own dictionary; row groups must merge them.
            symbol = f"S{start % 7}"
            seqs = range(start, start + 20)
            sink.write("book", "x", book(seqs, [MIDNIGHT + s for s in seqs], symbol=symbol))
            symbols += [symbol] * 20
        sink.write("book", "x", spaced(5220, 2010, MIDNIGHT, 1))  # one big write, sliced
        symbols += ["BTCUSDT"] * 2010
    (path,) = parquet_files(tmp_path)
    assert row_groups(path) == [1000] * 7 + [230]
    back = pq.read_table(path)
    assert seqs_of(back) == list(range(7230))
    assert back.column("symbol").to_pylist() == symbols


def test_many_one_row_writes_are_merged_without_changing_rows(tmp_path: Path) -> None:
    # 1000 one-row writes per row group: the buffer is compacted along the way.
    assert _COMPACT_BATCHES < 1000
    symbols = [f"S{s % 11}" for s in range(2600)]
    with ParquetSink(tmp_path, row_group_rows=1000) as sink:
        for s in range(2600):
            sink.write("book", "x", book([s], [MIDNIGHT + s], symbol=symbols[s]))
    (path,) = parquet_files(tmp_path)
    assert row_groups(path) == [1000, 1000, 600]
    expected = pa.concat_tables(book([s], [MIDNIGHT + s], symbol=symbols[s]) for s in range(2600))
    assert plain(pq.read_table(path)) == plain(expected)


def test_bad_settings_are_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression 'zip'"):
        ParquetSink(tmp_path, compression="zip")
    with pytest.raises(ValueError, match="row_group_rows"):
        ParquetSink(tmp_path, row_group_rows=0)
    with pytest.raises(ValueError, match="instance"):
        ParquetSink(tmp_path, instance="a/b")
    assert list(tmp_path.iterdir()) == []


def test_flush_writes_short_row_groups_into_the_hidden_file(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path, row_group_rows=1000)
    sink.write("book", "x", spaced(0, 30, MIDNIGHT, 1))
    sink.flush()
    (hidden,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert hidden.name.startswith(".") and hidden.name.endswith(".parquet.inprogress")
    assert hidden.stat().st_size > 0
    assert parquet_files(tmp_path) == []
    sink.write("book", "x", spaced(30, 30, MIDNIGHT, 1))
    sink.close()
    (path,) = parquet_files(tmp_path)
    assert path.name == hidden.name[1 : -len(".inprogress")]
    assert row_groups(path) == [30, 30]
    assert not hidden.exists()


def test_older_date_is_published_once_data_time_passes_its_window(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path, rotate_seconds=10.0)
    sink.write("book", "x", book([0], [MIDNIGHT - 5 * SECOND]))
    sink.write("book", "x", book([1], [MIDNIGHT + 1 * SECOND]))
    assert sink.published == []
    sink.write("book", "x", book([2], [MIDNIGHT + 5 * SECOND]))  # window of the 28th ends here
    assert [p.parent.name for p in sink.published] == ["date=2025-11-28"]
    sink.close()
    assert len(sink.published) == 2


def test_tick_publishes_an_idle_file(tmp_path: Path) -> None:
    t0 = MIDNIGHT + 60 * SECOND
    sink = ParquetSink(tmp_path, rotate_seconds=60.0)
    sink.write("trades", "x", trades(["a", "b"], t0))
    sink.tick(t0 + 59 * SECOND)
    assert sink.published == [] and parquet_files(tmp_path) == []
    sink.tick(t0 + 60 * SECOND)
    assert len(sink.published) == 1 and parquet_files(tmp_path) == sink.published
    assert pq.read_table(sink.published[0]).column("trade_id").to_pylist() == ["a", "b"]
    sink.write("trades", "x", trades(["c"], t0 + 61 * SECOND))
    sink.close()
    assert len(sink.published) == 2
    assert [f.name.rsplit("-", 1)[1] for f in sink.published] == ["0.parquet", "1.parquet"]


def test_a_sink_that_keeps_no_paths_still_counts_and_tells_each_file(tmp_path: Path) -> None:
    """The daemon's sink: months of files must not pile up in a list."""
    told: list[Path] = []
    sink = ParquetSink(tmp_path, rotate_seconds=10.0, keep_paths=False, on_publish=told.append)
    for i in range(5):  # a file per 10 s window
        sink.write("trades", "x", trades([str(i)], MIDNIGHT + i * 10 * SECOND))
    sink.close()
    assert sink.published == []
    assert sink.files_published == 5
    assert sorted(told) == parquet_files(tmp_path) and len(told) == 5


def trades(ids: list[str], ts: int) -> pa.Table:
    n = len(ids)
    return pa.Table.from_pydict(
        {
            "symbol": ["BTCUSDT"] * n,
            "market": ["BTC-USDT"] * n,
            "ts_exchange": [ts - 3] * n,
            "ts_recv": [ts] * n,
            "trade_id": ids,
            "side": ["buy"] * n,
            "price": schema.exact_decimals("price", ["101.5"] * n),
            "size": schema.exact_decimals("size", ["0.001"] * n),
        },
        schema=schema.TRADES,
    )


def test_replays_produce_identical_files(tmp_path: Path) -> None:
    def run(root: Path) -> dict[str, pa.Table]:
        with ParquetSink(root, rotate_seconds=0.5, rotate_bytes=15_000, row_group_rows=128) as s:
            for start in range(0, 3000, 11):
                s.write("book", "x", spaced(start, 11, MIDNIGHT - SECOND, SECOND // 1000))
        return {p.relative_to(root).as_posix(): pq.read_table(p) for p in parquet_files(root)}

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert len(first) > 4 and first.keys() == second.keys()
    assert all(first[k].equals(second[k]) for k in first)


# ------------------------------------------------------------- what readers see


def test_readers_never_see_a_file_being_written(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path, rotate_seconds=1.0, row_group_rows=4)
    book_dir = tmp_path / "table=book"
    sink.write("book", "x", spaced(0, 3, MIDNIGHT, SECOND // 10))
    sink.flush()  # rows now in an open, hidden file
    assert [p.name.endswith(".inprogress") for p in book_dir.rglob("*") if p.is_file()] == [True]
    assert ds.dataset(book_dir, partitioning="hive").to_table().num_rows == 0

    sink.write("book", "x", spaced(3, 22, MIDNIGHT, SECOND // 10))  # publishes 0..19
    sink.flush()
    hidden = [p for p in book_dir.rglob(".*.inprogress")]
    assert len(hidden) == 1 and hidden[0].stat().st_size > 0
    published = list(range(20))
    assert sorted(seqs_of(ds.dataset(book_dir, partitioning="hive").to_table())) == published
    glob = (book_dir / "**" / "*.parquet").as_posix()
    duck = duckdb.sql(f"select apply_seq from read_parquet('{glob}', hive_partitioning=true)")
    assert sorted(r[0] for r in duck.fetchall()) == published
    frame = pl.scan_parquet(glob, hive_partitioning=True).select("apply_seq").collect()
    assert sorted(frame["apply_seq"].to_list()) == published

    sink.close()
    assert list(tmp_path.rglob("*.inprogress")) == []
    assert seqs_of(read_in_order(parquet_files(tmp_path))) == list(range(25))


def test_restart_never_overwrites_leftovers_or_other_instances(tmp_path: Path) -> None:
    directory = tmp_path / "table=book/exchange=x/date=2025-11-29"
    directory.mkdir(parents=True)
    stem = f"book-0-{format_start(MIDNIGHT)}"
    leftover = directory / f".{stem}-0.parquet.inprogress"
    leftover.write_bytes(b"half a file from a crash")
    earlier = directory / f"{stem}-1.parquet"
    pq.write_table(book([100], [MIDNIGHT]), earlier)
    other = directory / f"book-7-{format_start(MIDNIGHT)}-0.parquet"
    pq.write_table(book([200], [MIDNIGHT]), other)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (leftover, earlier, other)}

    with ParquetSink(tmp_path) as sink:
        sink.write("book", "x", book([1, 2], [MIDNIGHT, MIDNIGHT + 1]))
    assert [p.name for p in sink.published] == [f"{stem}-2.parquet"]
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before
    assert seqs_of(pq.read_table(sink.published[0])) == [1, 2]


def test_two_writers_of_one_instance_never_replace_each_others_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sinks with the same instance in one root (two replays into one dataset):
    the first publishes a name right after the second found it free. The second must
    notice before it writes, not replace the published file when it publishes."""
    from collector.sinks import parquet

    first, second = ParquetSink(tmp_path), ParquetSink(tmp_path)
    first.write("book", "x", book([1, 2], [MIDNIGHT, MIDNIGHT + 1]))
    first.flush()  # claims the name and writes its rows; publishes at close
    claims = []

    def claim(path: object, mode: str = "r", *args: object) -> object:
        if mode == "xb" and not claims:
            claims.append(path)
            first.close()  # publishes the name the second writer has just seen free
        return open(path, mode, *args)

    monkeypatch.setattr(parquet, "open", claim, raising=False)
    second.write("book", "x", book([3], [MIDNIGHT]))
    second.close()
    names = sorted(p.name for p in tmp_path.rglob("*.parquet"))
    stem = f"book-0-{format_start(MIDNIGHT)}"
    assert names == [f"{stem}-0.parquet", f"{stem}-1.parquet"]
    assert sorted(seqs_of(read_in_order(parquet_files(tmp_path)))) == [1, 2, 3]


# ------------------------------------------------------------------ validation


def test_wrong_schema_is_a_clear_error_and_buffers_nothing(tmp_path: Path) -> None:
    good = spaced(0, 2, MIDNIGHT, 1)
    sink = ParquetSink(tmp_path)
    with pytest.raises(ValueError, match=r"table 'book'.*missing columns \['price'\]"):
        sink.write("book", "x", good.drop_columns(["price"]))
    with pytest.raises(ValueError, match=r"table 'book'.*unexpected columns \['venue'\]"):
        sink.write("book", "x", good.append_column("venue", pa.array(["a", "b"])))
    as_float = good.set_column(
        good.schema.get_field_index("price"), "price", pa.array([1.5, 2.5], pa.float64())
    )
    with pytest.raises(ValueError, match=r"table 'book'.*'price' is double, expected decimal128"):
        sink.write("book", "x", as_float)
    naive = good.set_column(3, "ts_recv", good.column("ts_recv").cast(pa.timestamp("ns")))
    naive_error = r"'ts_recv' is timestamp\[ns\], expected timestamp\[ns, tz=UTC\]"
    with pytest.raises(ValueError, match=naive_error):
        sink.write("book", "x", naive)
    with pytest.raises(ValueError, match=r"table 'trades'.*missing columns \['trade_id'\]"):
        sink.write("trades", "x", good)
    with pytest.raises(ValueError, match="unknown table 'books'"):
        sink.write("books", "x", good)
    null_seq = good.set_column(4, schema.BOOK.field("seq"), pa.array([1, None], pa.int64()))
    null_error = r"table 'book': nulls in non-nullable columns \{'seq': 1\}"
    with pytest.raises(ValueError, match=null_error):
        sink.write("book", "x", null_seq)
    with pytest.raises(ValueError, match=re.escape("exchange '../up'")):
        sink.write("book", "../up", good)
    sink.close()
    assert sink.published == [] and not tmp_path.joinpath("table=book").exists()


def test_plain_strings_and_loose_nullability_are_cast(tmp_path: Path) -> None:
    good = spaced(0, 3, MIDNIGHT, 1)
    columns = {
        name: (col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col)
        for name, col in zip(good.column_names, good.columns, strict=True)
    }
    plain = pa.table(columns)  # all nullable, no field docs, plain strings
    assert not plain.schema.equals(schema.BOOK)
    with ParquetSink(tmp_path) as sink:
        sink.write("book", "x", plain)
        sink.write("book", "x", spaced(3, 2, MIDNIGHT, 1).to_batches()[0])
    (path,) = parquet_files(tmp_path)
    back = pq.read_table(path)
    assert back.schema.equals(schema.BOOK, check_metadata=False)
    assert back.schema.field("side").type == schema.LABEL
    assert back.schema.field("side").metadata == schema.BOOK.field("side").metadata
    assert back.column("side").to_pylist() == ["ask", "bid", "ask", "bid", "ask"]


def test_context_manager_publishes_and_closed_sink_refuses_writes(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), ParquetSink(tmp_path) as sink:
        sink.write("quality", "x", quality_row(MIDNIGHT))
        raise RuntimeError("boom")
    assert len(sink.published) == 1  # rows written before the failure are kept
    assert pq.read_table(sink.published[0]).column("kind").to_pylist() == ["gap"]
    sink.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        sink.write("quality", "x", quality_row(MIDNIGHT))


def quality_row(ts: int) -> pa.Table:
    return pa.Table.from_pydict(
        {"symbol": [None], "ts_recv": [ts], "kind": ["gap"], "detail": ["u 5 -> 9"], "seq": [9]},
        schema=schema.QUALITY,
    )


# --------------------------------------------------------------------- kill -9

#: Run as a script (``python -c``) by the kill test, and exec'd in-process for the
#: uninterrupted reference run: both write exactly the same rows in the same calls.
WRITER = """
import sys

import pyarrow as pa

from collector import schema
from collector.sinks.parquet import ParquetSink

MIDNIGHT = 1_764_374_400 * 10**9
T0 = MIDNIGHT - 10**9  # crosses midnight after ~1800 rows
MS = 1_000_000


def ts_of(s):
    # 400 sparse rows (1 ms apart: time rotates first), then 400 dense (0.1 ms: size does).
    cycle, r = divmod(s, 800)
    start = T0 + cycle * 440 * MS
    return start + (r * MS if r < 400 else 400 * MS + (r - 400) * MS // 10)


def rows(start, n):
    seqs = list(range(start, start + n))
    return pa.Table.from_pydict(
        {
            "symbol": ["BTCUSDT"] * n,
            "market": ["BTC-USDT"] * n,
            "ts_exchange": [None] * n,
            "ts_recv": [ts_of(s) for s in seqs],
            "seq": seqs,
            "apply_seq": seqs,
            "is_snapshot": [False] * n,
            "side": ["bid"] * n,
            "price": schema.exact_decimals("price", [f"{s}.{s:018d}" for s in seqs]),
            "size": schema.exact_decimals("size", ["1"] * n),
        },
        schema=schema.BOOK,
    )


def run(root, limit):
    sink = ParquetSink(root, rotate_seconds=0.25, rotate_bytes=12_000, row_group_rows=64)
    i = 0
    while i < limit:
        n = 1 + i % 13
        sink.write("book", "x", rows(i, n))
        i += n
    return sink


if __name__ == "__main__":
    print("ready", flush=True)
    run(sys.argv[1], int(sys.argv[2]))
    print("finished", flush=True)
"""


def test_kill_9_leaves_only_complete_files(tmp_path: Path) -> None:
    rng = random.Random(1234)
    runs = 10
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / f"run{k}"), "10000000"],
            stdout=subprocess.PIPE,
            cwd=REPO,
            env=env,
        )
        for k in range(runs)
    ]
    try:
        deadlines = []
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
            deadlines.append((time.monotonic() + rng.uniform(0.3, 1.6), proc))
        for deadline, proc in sorted(deadlines, key=lambda d: d[0]):
            time.sleep(max(0.0, deadline - time.monotonic()))
            proc.send_signal(signal.SIGKILL)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert all(p.returncode == -signal.SIGKILL for p in procs)

    # Every published file reads fully and holds one contiguous run of rows.
    highest = leftovers = 0
    crashed: dict[str, pa.Table] = {}
    for k in range(runs):
        root = tmp_path / f"run{k}"
        for path in parquet_files(root):
            table = pq.read_table(path)
            seqs = seqs_of(table)
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), path
            assert path.name.startswith(f"book-0-{format_start(table['ts_recv'][0].value)}-")
            highest = max(highest, seqs[-1])
            crashed[f"run{k}/{path.relative_to(root).as_posix()}"] = table
        leftovers += len(list(root.rglob(".*.inprogress")))
        # Readers are not disturbed by whatever the crash left behind.
        if (root / "table=book").exists():
            ds.dataset(root / "table=book", partitioning="hive").to_table()
    assert len(crashed) >= runs, "kills came too early to test anything"
    assert leftovers > 0, "no kill landed while a file was open"

    # Rotation depends only on the data, so an uninterrupted run of the same
    # writes has a file of each name with exactly the rows the killed writer wrote.
    namespace: dict[str, object] = {"__name__": "reference"}
    exec(WRITER, namespace)
    reference_root = tmp_path / "reference"
    namespace["run"](reference_root, highest + 2000).close()  # type: ignore[operator]
    reference = {
        p.relative_to(reference_root).as_posix(): pq.read_table(p)
        for p in parquet_files(reference_root)
    }
    for name, table in crashed.items():
        assert table.equals(reference[name.split("/", 1)[1]]), name
