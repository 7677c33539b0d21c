"""Crash recovery on a real recording: a session rotated into several capture files,
killed with part of its rows published, is rebuilt exactly once.

The crash is made by hand, deterministically: the records of the USD-M recording
go through a capture writer that rotates every few seconds of data time (so the
session has several parts, the last one left ``.inprogress`` as a kill leaves
it), and through a pipeline whose sink publishes what it holds at a chosen
record and is then dropped, as a killed process drops its memory. Recovery must
then write exactly the rows the whole session makes that are not yet published.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import CAPTURES, MemorySink, load_records, needs_captures

import adapters
from collector.capture.reader import capture_header, list_capture_files
from collector.capture.writer import CaptureWriter
from collector.pipeline import Pipeline
from collector.recover import recover_dataset
from collector.sinks.parquet import ParquetSink

pytestmark = needs_captures

RECORDING = CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz"
TABLES = ("book", "trades", "bbo")


def rows(table: pa.Table | None) -> list[tuple]:
    assert table is not None
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
        elif pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.int64()))
    return sorted(zip(*(c.to_pylist() for c in table.columns), strict=True))


def dataset_rows(root: Path, table: str) -> list[tuple]:
    """Every row of the table's files (the Hive columns are in the path, not the files)."""
    files = sorted(root.glob(f"table={table}/**/*.parquet"))
    return rows(pa.concat_tables(pq.read_table(f) for f in files))


@pytest.mark.parametrize("crash_at", [0.6])
def test_a_rotated_session_killed_midway_is_recovered_exactly_once(
    tmp_path: Path, crash_at: float
) -> None:
    exchange, records = load_records(RECORDING)
    capture, data = tmp_path / "capture", tmp_path / "data"
    writer = CaptureWriter(capture, exchange, rotate_seconds=20)
    sink = ParquetSink(data, rotate_seconds=5)
    sink.sessions[exchange] = writer.session
    live = Pipeline(adapters.create(exchange), sink)
    cut = int(len(records) * crash_at)
    for record in records[:cut]:
        writer.write(record)
        live.on_record(record)
    live.flush()
    sink.tick(records[cut].ts)  # what the killed run had published: files whose window passed
    published = {t: len(list(data.glob(f"table={t}/**/*.parquet"))) for t in TABLES}
    for record in records[cut:]:  # frames it received (and captured) after that
        writer.write(record)
    writer.close(finish=False)  # the kill: the last part stays .inprogress, unlocked
    del sink, live  # its memory (buffered rows, open files) is gone with it

    parts = list_capture_files(capture)
    assert len(parts) >= 3 and parts[-1].name.endswith(".inprogress")
    assert {capture_header(p)["session"] for p in parts} == {writer.session}
    assert any(published.values()), "nothing was published before the crash"

    summary = recover_dataset(capture, data)
    assert [s.session for s in summary.sessions] == [writer.session]
    assert not [p for p in list_capture_files(capture) if p.name.endswith(".inprogress")]

    whole = Pipeline(adapters.create(exchange), MemorySink())
    for record in records:  # the session as one stream: what the dataset must hold
        whole.on_record(record)
    whole.finish()
    for table in TABLES:
        assert dataset_rows(data, table) == rows(whole.sink.table(table)), table  # type: ignore[attr-defined]

    again = recover_dataset(capture, data)  # nothing is left, nothing written twice
    assert not again.sessions


def test_a_session_another_process_recovers_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two recoveries of one session would each skip what was published and write the
    rest: the one that finds the session's parts locked leaves it to the other."""
    import fcntl
    import os

    from collector import recover

    exchange, records = load_records(CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz")
    capture, data = tmp_path / "capture", tmp_path / "data"
    writer = CaptureWriter(capture, exchange)
    for record in records:
        writer.write(record)
    writer.close(finish=False)
    (part,) = list_capture_files(capture)
    monkeypatch.setattr(recover, "_locked", lambda _path: False)  # locked after it was listed
    fd = os.open(part, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the other recovery
        summary = recover_dataset(capture, data)
        assert not summary.sessions and "another process is recovering it" in summary.line()
        assert part.exists() and not list(data.glob("**/*.parquet"))
    finally:
        os.close(fd)
    summary = recover_dataset(capture, data)
    assert [s.session for s in summary.sessions] == [writer.session]
