"""The writers under ENOSPC, EIO and EACCES: nothing lost while the bound holds, then healed.

Each test fails the disk in the middle of real writing (``failing_disk``), heals
it, and reads back what landed with pyarrow and the capture reader: every row
and record written before, during and after the failure must be there, once,
in order, and no published file may be partial.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import random
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from failing_disk import ERRNOS, FailingDisk

from collector import schema
from collector.capture.reader import list_capture_files, read_capture
from collector.capture.records import Record
from collector.capture.writer import CaptureWriter
from collector.recover import recover_dataset
from collector.sinks import parquet
from collector.sinks.parquet import SESSION_KEY, ParquetSink
from collector.transport.retry import Backoff

SECOND = 10**9
T0 = 1_764_374_400 * SECOND + 3600 * SECOND  # 2025-11-29T01:00:00Z


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


def trade_ids(root: Path) -> list[int]:
    data = ds.dataset(root / "table=trades", partitioning="hive").to_table()
    return sorted(int(t) for t in data["trade_id"].to_pylist())


def no_retry_wait() -> Backoff:
    """A backoff that never makes the test wait (its delays are ~1e-9 s)."""
    return Backoff(base=1e-9, cap=1e-9)


@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_sink_keeps_every_row_of_a_failed_file_and_publishes_after_healing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    sink = ParquetSink(tmp_path, rotate_seconds=10, row_group_rows=100, backoff=no_retry_wait())
    sink.sessions["binance-usdm"] = "0-test-session"
    sink.write("trades", "binance-usdm", trades(0, 250, T0))  # two row groups written
    disk.fail(ERRNOS[name])
    sink.write("trades", "binance-usdm", trades(250, 250, T0 + SECOND))  # write() never raises
    # A failed write(2) names no file; the sink says which (the daemon's ERROR line).
    assert sink.last_error is not None and sink.last_error.errno == ERRNOS[name]
    assert str(sink.last_error.filename).endswith("-0.parquet.inprogress"), sink.last_error
    with pytest.raises(OSError) as failure:
        sink.flush()
    assert failure.value.errno == ERRNOS[name]
    assert failure.value.filename.endswith(".parquet.inprogress"), failure.value.filename
    assert sink.failing and disk.failures > 0
    with pytest.raises(OSError) as failure:
        sink.tick(T0 + 60 * SECOND)  # the window passed, but publishing fails too
    assert failure.value.filename.startswith(str(tmp_path / "table=trades")), failure.value
    assert not list(tmp_path.glob("**/*.parquet")), "a file was published while failing"

    disk.heal()
    sink.tick(T0 + 60 * SECOND)
    assert not sink.failing
    assert trade_ids(tmp_path) == list(range(500))
    files = list(tmp_path.glob("**/*.parquet"))
    assert len(files) == 1
    assert pq.read_metadata(files[0]).metadata[SESSION_KEY.encode()] == b"0-test-session"
    assert not list(tmp_path.glob("**/.*inprogress")), "the failed file was left behind"


def test_sink_close_fails_loudly_then_publishes_on_a_later_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    sink = ParquetSink(tmp_path, backoff=no_retry_wait())
    sink.write("trades", "binance-usdm", trades(0, 10, T0))
    disk.fail(errno.ENOSPC)
    with pytest.raises(OSError):
        sink.close()
    disk.heal()
    sink.close()
    assert trade_ids(tmp_path) == list(range(10))


def test_sink_drops_the_busiest_tables_oldest_rows_past_its_bound_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    dropped: list[tuple[str, str, int, int, int]] = []
    sink = ParquetSink(
        tmp_path,
        row_group_rows=1000,
        max_buffered_bytes=200_000,
        on_overflow=lambda *args: dropped.append(args),
        backoff=no_retry_wait(),
    )
    disk.fail(errno.ENOSPC)
    for i in range(20):
        sink.write("trades", "binance-usdm", trades(i * 500, 500, T0 + i * SECOND))
        with pytest.raises(OSError):
            sink.flush()
        assert sink.buffered_bytes <= 200_000
    assert dropped, "nothing was dropped although the bound was exceeded"
    lost = sum(rows for _, _, rows, _, _ in dropped)
    assert {(t, e) for t, e, *_ in dropped} == {("trades", "binance-usdm")}
    first_lost = min(lo for *_, lo, _ in dropped)
    assert first_lost == T0, "the oldest rows must go first"

    disk.heal()
    sink.close()
    kept = trade_ids(tmp_path)
    assert sink.overflow_rows["trades"] == lost
    assert kept == list(range(lost, 10_000)), "rows kept must be the newest, in full"


def records(n: int, ts0: int = T0) -> list[Record]:
    return [Record("recv", ts0 + i * 1000, 1, f'{{"i":{i},"pad":"{"x" * 200}"}}') for i in range(n)]


@pytest.mark.parametrize("threaded", [True, False], ids=["zlib-thread", "zlib-inline"])
@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_capture_keeps_records_through_a_failure_and_stays_one_valid_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, threaded: bool
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    writer = CaptureWriter(tmp_path, "binance-usdm", flush_every=50, compress_in_thread=threaded)
    sent = records(3000)
    for record in sent[:1000]:
        writer.write(record)
    disk.fail(ERRNOS[name])
    for record in sent[1000:2000]:
        writer.write(record)  # never raises
    writer.flush()
    assert writer.last_error is not None and writer.last_error.errno == ERRNOS[name]
    assert str(tmp_path) in str(writer.last_error.filename)
    assert writer.dropped == 0
    disk.heal()
    for record in sent[2000:]:
        writer.write(record)
    writer.flush()
    assert writer.last_error is None
    writer.close()
    files = list_capture_files(tmp_path)
    assert [r.data for f in files for r in read_capture(f)] == [r.data for r in sent]
    assert all(not f.name.endswith(".inprogress") for f in files)


@pytest.mark.parametrize("threaded", [True, False], ids=["zlib-thread", "zlib-inline"])
def test_capture_pauses_past_its_bound_and_close_leaves_it_for_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded: bool
) -> None:
    disk = FailingDisk(monkeypatch, tmp_path)
    writer = CaptureWriter(
        tmp_path, "binance-usdm", max_unwritten=20_000, compress_in_thread=threaded
    )
    writer.write(records(1)[0])
    writer.flush()
    disk.fail(errno.ENOSPC)
    for record in records(5000, T0 + SECOND):
        writer.write(record)
    assert writer.dropped > 0, "the capture must pause once its bound is reached"
    assert writer.unwritten <= 20_000 + 70_000  # the bound plus one batch
    with pytest.raises(OSError):
        writer.close()
    disk.heal()
    (leftover,) = list_capture_files(tmp_path)
    assert leftover.name.endswith(".inprogress")
    assert next(iter(read_capture(leftover))).data == records(1)[0].data


@pytest.mark.parametrize("where", ["open", "fsync"])
@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_recovery_resealing_a_leftover_on_a_failing_disk_keeps_it_for_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, where: str
) -> None:
    """Recovery publishes the rows, then rewrites the leftover as a finished file; when
    that write fails (at once, or at the fsync of the written copy) the leftover stays
    whole with no half-written copy beside it, and the next recovery finishes it
    without publishing a row twice."""
    capture, data, clean = tmp_path / "capture", tmp_path / "data", tmp_path / "clean"
    sent = records(3000)
    for root in (capture, tmp_path / "reference"):
        writer = CaptureWriter(root, "binance-usdm", flush_every=50)
        for record in sent:
            writer.write(record)
        writer.close(finish=False)  # as a kill leaves it
    disk = FailingDisk(monkeypatch, capture)
    fsync = os.fsync
    if where == "open":
        disk.fail(ERRNOS[name])
    else:

        def failing_copy_fsync(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(".recovering"):
                raise OSError(ERRNOS[name], os.strerror(ERRNOS[name]))
            fsync(fd)

        monkeypatch.setattr(os, "fsync", failing_copy_fsync)
    with pytest.raises(OSError) as failed:
        recover_dataset(capture, data)
    assert failed.value.errno == ERRNOS[name]
    (leftover,) = list_capture_files(capture)
    assert leftover.name.endswith(".inprogress")
    assert [r.data for r in read_capture(leftover)] == [r.data for r in sent]
    assert not list(capture.rglob("*.recovering"))

    disk.heal()
    monkeypatch.setattr(os, "fsync", fsync)
    assert len(recover_dataset(capture, data).sessions) == 1
    (final,) = list_capture_files(capture)
    assert not final.name.endswith(".inprogress")
    assert [r.data for r in read_capture(final)] == [r.data for r in sent]
    recover_dataset(tmp_path / "reference", clean)  # one recovery that never failed
    # These frames decode to nothing but quality rows: each must be there once.
    ours = ds.dataset(data / "table=quality", partitioning="hive").to_table()
    once = ds.dataset(clean / "table=quality", partitioning="hive").to_table()
    assert ours.num_rows == once.num_rows > 0


def test_capture_close_without_finishing_keeps_the_file_in_progress(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, "binance-usdm")
    for record in records(10):
        writer.write(record)
    writer.close(finish=False)
    (leftover,) = list_capture_files(tmp_path)
    assert leftover.name.endswith(".inprogress")
    assert len(list(read_capture(leftover))) == 10


@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_spool_keeps_every_file_while_uploads_fail_and_uploads_them_after(
    tmp_path: Path, name: str
) -> None:
    """The spool's upload fails with the errno (its store, or reading the local file)."""
    from collector.spool import Spool
    from collector.storage import Location, resolve, upload

    failing = [True]

    def flaky_upload(source: Path, target: Location, key: str) -> None:
        if failing[0]:
            raise OSError(ERRNOS[name], "injected", str(source))
        # A local folder stands for the bucket; unlike a bucket it needs its folders.
        target.fs.create_dir(target.join(key).rpartition("/")[0], recursive=True)
        upload(source, target, key)

    store = resolve(tmp_path / "store")  # a local "bucket": the upload path is the same
    (tmp_path / "store").mkdir()
    spool = Spool(
        "output",
        tmp_path / "spool",
        store,
        max_bytes=1 << 20,
        backoff=Backoff(0.01, cap=0.05),
        upload_file=flaky_upload,
    )
    spool.start()
    payloads = {f"table=trades/f{i}.parquet": bytes([i]) * 1000 for i in range(3)}
    for key, data in payloads.items():
        path = tmp_path / "spool" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        spool.submit(path)
    deadline = time.monotonic() + 10
    while spool.failures < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not spool.store_up and spool.pending_files == 3
    assert isinstance(spool.last_exception, OSError)
    assert spool.last_exception.errno == ERRNOS[name]
    failing[0] = False
    assert spool.drain(timeout=10)
    assert spool.close(timeout=5) == 0 and spool.store_up
    for key, data in payloads.items():
        assert (tmp_path / "store" / key).read_bytes() == data


@pytest.mark.parametrize("name", sorted(ERRNOS))
def test_a_claim_given_back_that_cannot_be_removed_costs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Two writers of one instance: the second claims a name the first then publishes,
    so it gives the claim back and takes the next name. Removing the claim fails: that
    is no reason to stop writing (nor to say so in /health), so the rows go on into the
    next name, and the empty claim is an orphan that recovery removes, as a failed
    file's is."""
    from collector.sinks import parquet

    first = ParquetSink(tmp_path, backoff=no_retry_wait())
    second = ParquetSink(tmp_path, backoff=no_retry_wait())
    for sink in (first, second):
        sink.sessions["binance-usdm"] = "0-test-session"
    first.write("trades", "binance-usdm", trades(0, 10, T0))
    first.flush()  # holds the name's claim; publishes it at close
    real_open, real_unlink = open, Path.unlink
    failed: list[str] = []

    def claim(path: object, mode: str = "r", *args: object) -> object:
        if mode == "xb" and first.buffered_bytes:
            first.close()  # publishes the name the second writer is claiming
        return real_open(path, mode, *args)

    def unlink(path: Path, *args: object, **kwargs: object) -> None:
        if not failed and path.name.endswith(".inprogress"):
            failed.append(path.name)
            raise OSError(ERRNOS[name], os.strerror(ERRNOS[name]), str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(parquet, "open", claim, raising=False)
    monkeypatch.setattr(Path, "unlink", unlink)
    second.write("trades", "binance-usdm", trades(10, 10, T0))
    second.flush()
    assert failed and not second.failing
    second.close()
    assert trade_ids(tmp_path) == list(range(20))
    orphans = [p.name for p in tmp_path.glob("**/.*inprogress")]
    assert orphans == failed
    capture = tmp_path / "capture"  # no crashed session: only the orphan to remove
    capture.mkdir()
    assert recover_dataset(capture, tmp_path, instance="0").orphans_removed == 1
    assert not list(tmp_path.glob("**/.*inprogress"))
    assert trade_ids(tmp_path) == list(range(20))


@pytest.mark.parametrize("seed", range(6))
def test_the_sinks_held_bytes_stay_a_true_count_through_failures_drops_and_rotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Each partition keeps its held bytes as a running count (recounting every batch
    per hand-off held the GIL for tens of ms in a busy daemon); whatever happens to its
    batches and row groups, the count must equal a recount, or the memory bound drifts."""
    rng = random.Random(seed)
    monkeypatch.setattr(parquet, "_COMPACT_BATCHES", 4)  # merge small batches often too
    disk = FailingDisk(monkeypatch, tmp_path)
    sink = ParquetSink(
        tmp_path,
        rotate_seconds=5,
        rotate_bytes=rng.choice([6_000, 1 << 30]),
        row_group_rows=rng.choice([40, 300]),
        max_buffered_bytes=rng.choice([40_000, 1 << 30]),
        backoff=no_retry_wait(),
    )
    midnight = T0 - 3600 * SECOND + 24 * 3600 * SECOND
    now, written = midnight - 20 * SECOND, 0  # crosses midnight: one partition per date
    for _ in range(150):
        op = rng.random()
        with contextlib.suppress(OSError):
            if op < 0.6:
                n = rng.randint(1, 90)
                exchange = rng.choice(["binance-usdm", "okx"])
                sink.write("trades", exchange, trades(written, n, now))
                written += n
            elif op < 0.7:
                sink.flush()
            elif op < 0.8:
                sink.tick(now)
            elif op < 0.9:
                disk.fail(rng.choice(list(ERRNOS.values())))
            else:
                disk.heal()
        now += rng.randint(0, 2) * SECOND
        for segment in [*sink._segments(), *sink._sealed]:
            counted = segment.held
            segment.recount()
            assert counted == segment.held, "the running count drifted from a recount"
    disk.heal()
    sink.close()
    kept = len(ds.dataset(tmp_path / "table=trades", partitioning="hive").to_table())
    assert kept + sink.overflow_rows.get("trades", 0) == written


def test_a_file_given_up_leaves_no_writer_to_fail_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows dropped over the memory bound take their open file with them, and pyarrow's
    writer of that file is closed there and then: left open, its ``__del__`` wrote to the
    closed file at some later garbage collection and printed "Exception ignored ... write
    to closed file" into the daemon's stderr (and ran during whatever the interpreter was
    doing then: in this module's test session, compiling a module)."""
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    sink = ParquetSink(tmp_path, rotate_seconds=60, row_group_rows=100, max_buffered_bytes=20_000)
    for i in range(4):  # a row group written each time: the file is open
        sink.write("trades", "binance-usdm", trades(150 * i, 150, T0 + i * SECOND))
    sink.tick(T0 + 5 * SECOND)  # over the bound: the oldest rows go, and their file
    assert sink.overflow_rows["trades"] > 0
    gc.collect()
    assert unraisable == []
    sink.close()
