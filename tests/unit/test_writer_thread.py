"""The Parquet sink on its writer thread: same files, same order, nothing lost or hidden.

``ThreadedSink`` hands tables to one thread that owns a ``ParquetSink``. Checked
here with real files read back by pyarrow: the dataset equals the one the sink
writes on the caller's thread, bad input still raises at the caller, a full
queue makes the caller wait rather than drop, shutdown drains the queue, an
exception in the thread reaches ``close``, and ENOSPC/EIO/EACCES injected while
the thread writes (``failing_disk``) lose no row.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from failing_disk import ERRNOS, FailingDisk

from collector import schema
from collector.sinks.parquet import ParquetSink
from collector.sinks.threaded import ThreadedSink
from collector.transport.retry import Backoff

SECOND = 10**9
T0 = 1_764_374_400 * SECOND + 3600 * SECOND  # 2025-11-29T01:00:00Z
EXCHANGES = ("binance-usdm", "binance-spot")


def trades(first: int, n: int, ts0: int) -> pa.Table:
    ids = list(range(first, first + n))
    return pa.Table.from_pydict(
        {
            "symbol": ["BTCUSDT"] * n,
            "market": ["BTC-USDT"] * n,
            "ts_exchange": [ts0 + i for i in range(n)],
            "ts_recv": [ts0 + i * 1000 for i in range(n)],
            "trade_id": [str(i) for i in ids],
            "side": ["buy" if i % 2 else "sell" for i in ids],
            "price": schema.exact_decimals("price", [f"{i}.5" for i in ids]),
            "size": schema.exact_decimals("size", ["0.001"] * n),
        },
        schema=schema.table_schema("trades"),
    )


def file_order(root: Path, exchange: str) -> list[int]:
    """Trade ids of one partition in file-name order, then row order within each file."""
    files = sorted((root / "table=trades" / f"exchange={exchange}").glob("**/*.parquet"))
    ids: list[int] = []
    for path in files:
        ids += [int(t) for t in ds.dataset(path).to_table()["trade_id"].to_pylist()]
    return ids


def no_retry_wait() -> Backoff:
    return Backoff(base=1e-9, cap=1e-9)


def feed(sink: ParquetSink | ThreadedSink, batches: int = 60, rows: int = 37) -> None:
    """Interleaved writes to two partitions, crossing several file windows."""
    for i in range(batches):
        for exchange in EXCHANGES:
            sink.write("trades", exchange, trades(i * rows, rows, T0 + i * SECOND // 4))
        if i % 10 == 9:
            sink.tick(T0 + i * SECOND // 4)


class Gate:
    """Holds the writer thread inside ``ParquetSink.write`` until opened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()
        real = ParquetSink.write

        def write(sink: ParquetSink, *args: object) -> None:
            self.entered.set()
            assert self.open.wait(30), "the gate was never opened"
            real(sink, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(ParquetSink, "write", write)


def test_same_files_in_the_same_order_as_writing_on_the_callers_thread(tmp_path: Path) -> None:
    direct = ParquetSink(tmp_path / "direct", rotate_seconds=3, row_group_rows=200)
    feed(direct)
    direct.close()
    threaded = ThreadedSink(
        ParquetSink(tmp_path / "thread", rotate_seconds=3, row_group_rows=200),
        max_queued_bytes=1 << 20,
    )
    feed(threaded)
    threaded.close()

    names = sorted(p.relative_to(tmp_path / "direct") for p in direct.published)
    assert len(names) > 2 * len(EXCHANGES), "the test should rotate files"
    assert sorted(p.relative_to(tmp_path / "thread") for p in threaded.published) == names
    for exchange in EXCHANGES:
        assert file_order(tmp_path / "thread", exchange) == list(range(60 * 37))
    for name in names:
        a = ds.dataset(tmp_path / "direct" / name).to_table()
        b = ds.dataset(tmp_path / "thread" / name).to_table()
        assert a.equals(b), name


def test_bad_input_raises_at_the_caller_with_nothing_queued(tmp_path: Path) -> None:
    sink = ThreadedSink(ParquetSink(tmp_path), max_queued_bytes=1 << 20)
    with pytest.raises(ValueError, match="unknown table"):
        sink.write("nope", "binance-usdm", trades(0, 3, T0))
    with pytest.raises(ValueError, match="must match"):
        sink.write("trades", "../etc", trades(0, 3, T0))
    with pytest.raises(ValueError, match="missing columns"):
        sink.write("trades", "binance-usdm", trades(0, 3, T0).drop_columns(["side"]))
    assert sink.queued_batches == sink.queued_rows == sink.queued_bytes == 0
    sink.close()
    assert sink.published == []


def test_queue_depth_is_counted_and_shutdown_drains_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch)
    sink = ThreadedSink(ParquetSink(tmp_path), max_queued_bytes=1 << 30)
    tables = [trades(i * 100, 100, T0 + i * SECOND) for i in range(5)]
    for table in tables:
        sink.write("trades", "binance-usdm", table)
    assert gate.entered.wait(10)
    assert sink.queued_batches == 5 and sink.queued_rows == 500
    assert sink.queued_bytes == sum(t.nbytes for t in tables)
    assert not sink.join(0.05), "join must not return while the writer is held"

    closer = threading.Thread(target=sink.close)
    closer.start()
    gate.open.set()
    closer.join(30)
    assert not closer.is_alive()
    assert sink.queued_batches == sink.queued_rows == sink.queued_bytes == 0
    assert file_order(tmp_path, "binance-usdm") == list(range(500))
    with pytest.raises(RuntimeError, match="closed"):
        sink.write("trades", "binance-usdm", trades(500, 1, T0))


def test_a_full_queue_makes_the_caller_wait_and_drops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate(monkeypatch)
    two = trades(0, 100, T0).nbytes + trades(100, 100, T0 + SECOND).nbytes
    sink = ThreadedSink(ParquetSink(tmp_path), max_queued_bytes=two)
    sink.write("trades", "binance-usdm", trades(0, 100, T0))
    sink.write("trades", "binance-usdm", trades(100, 100, T0 + SECOND))
    assert gate.entered.wait(10)
    handed: list[float] = []

    def third() -> None:
        sink.write("trades", "binance-usdm", trades(200, 100, T0 + 2 * SECOND))
        handed.append(time.monotonic())

    with caplog.at_level(logging.WARNING):
        writer = threading.Thread(target=third)
        writer.start()
        time.sleep(0.3)
        assert not handed, "the hand-off went past the bound instead of waiting"
        opened = time.monotonic()
        gate.open.set()
        writer.join(30)
    assert handed and handed[0] >= opened
    assert sink.full_waits == 1 and sink.full_wait_s >= 0.25
    assert any("writer behind" in r.getMessage() for r in caplog.records)
    sink.close()
    assert file_order(tmp_path, "binance-usdm") == list(range(300))


def test_a_table_larger_than_the_bound_goes_through_an_empty_queue(tmp_path: Path) -> None:
    sink = ThreadedSink(ParquetSink(tmp_path), max_queued_bytes=10)
    for i in range(3):
        sink.write("trades", "binance-usdm", trades(i * 50, 50, T0 + i * SECOND))
    sink.close()
    assert file_order(tmp_path, "binance-usdm") == list(range(150))


def test_an_exception_in_the_thread_is_logged_and_raised_by_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = ParquetSink.write

    def write(sink: ParquetSink, table: str, exchange: str, data: pa.Table) -> None:
        if exchange == "binance-spot":
            raise ZeroDivisionError("a bug in the sink")
        real(sink, table, exchange, data)

    monkeypatch.setattr(ParquetSink, "write", write)
    sink = ThreadedSink(ParquetSink(tmp_path), max_queued_bytes=1 << 20)
    with caplog.at_level(logging.ERROR):
        sink.write("trades", "binance-spot", trades(0, 10, T0))
        sink.write("trades", "binance-usdm", trades(0, 10, T0))  # the thread goes on
        assert sink.join(10)
        assert sink.bugs == 1 and isinstance(sink.bug, ZeroDivisionError)
        with pytest.raises(RuntimeError, match="writer thread failed 1 time") as raised:
            sink.close()
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    (logged,) = [r for r in caplog.records if "writer thread failed on" in r.getMessage()]
    assert "binance-spot" in logged.getMessage() and logged.exc_info is not None
    assert file_order(tmp_path, "binance-usdm") == list(range(10))


@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_disk_faults_in_the_writer_thread_lose_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    sink = ThreadedSink(
        ParquetSink(tmp_path, rotate_seconds=10, row_group_rows=100, backoff=no_retry_wait()),
        max_queued_bytes=1 << 20,
    )
    sink.write("trades", "binance-usdm", trades(0, 250, T0))  # two row groups written
    assert sink.join(10)
    disk.fail(ERRNOS[name])
    sink.write("trades", "binance-usdm", trades(250, 250, T0 + SECOND))
    sink.tick(T0 + 60 * SECOND)  # publishing fails in the thread; the caller is not hit
    assert sink.join(10)
    assert sink.failing and sink.errors > 0 and sink.last_error is not None
    assert sink.last_error.errno == ERRNOS[name]
    assert sink.bugs == 0, "a disk error is the sink's business, not a bug"
    assert sink.buffered_bytes > 0
    assert not list(tmp_path.glob("**/*.parquet")), "a file was published while failing"

    disk.heal()
    sink.tick(T0 + 61 * SECOND)
    assert sink.join(10)
    assert not sink.failing
    assert file_order(tmp_path, "binance-usdm") == list(range(500))
    sink.close()
    assert not list(tmp_path.glob("**/.*inprogress")), "the failed file was left behind"


def test_close_on_a_failing_disk_raises_then_a_later_close_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    sink = ThreadedSink(ParquetSink(tmp_path, backoff=no_retry_wait()), max_queued_bytes=1 << 20)
    sink.write("trades", "binance-usdm", trades(0, 10, T0))
    disk.fail(ERRNOS["ENOSPC"])
    with pytest.raises(OSError):
        sink.close()
    disk.heal()
    sink.close()
    assert file_order(tmp_path, "binance-usdm") == list(range(10))
