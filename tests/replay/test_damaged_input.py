"""Damaged recordings of both formats: the rows before the damage are published, the damage is
reported (one stderr line, a quality event, exit code 3) and the next file is replayed as usual.

Every damaged file is a real recording copied to tmp_path and damaged there: a garbage line
inserted in the middle, a file cut to 2/3 of its length, bytes overwritten inside the gzip
stream.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from support import CAPTURES, needs_captures, pylist

from collector.capture.reader import Damage, open_recording, read_capture, read_corpus
from collector.capture.writer import CaptureWriter
from collector.cli import REPLAY_DAMAGED
from collector.replay import replay

pytestmark = needs_captures

SPOT = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
FUTURES = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=300
    )


def lines_of(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).splitlines(keepends=True)


def write_gz(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(gzip.compress(b"".join(lines)))
    return path


def table(out: Path, name: str) -> pa.Table:
    return ds.dataset(out / f"table={name}", partitioning="hive").to_table()


def data_rows(out: Path, exchange: str) -> dict[str, list[dict]]:
    """The book and trades rows of one exchange, in written order, without the partition."""
    rows = {}
    for name in ("book", "trades"):
        t = table(out, name)
        rows[name] = [
            {k: v for k, v in r.items() if k != "date"}
            for r in pylist(t)
            if r["exchange"] == exchange
        ]
    return rows


def own_capture(tmp_path: Path, source: Path = SPOT) -> Path:
    """``source`` converted to one finished own-format capture file."""
    with CaptureWriter(tmp_path / "cap", "binance-spot", flush_every=16) as writer:
        for record in read_corpus(source):
            writer.write(record)
    (path,) = writer.completed_paths
    return path


# -- corpus format ------------------------------------------------------------------------------


def test_garbage_line_keeps_rows_before_it_and_the_next_file(tmp_path: Path) -> None:
    lines = lines_of(SPOT)
    mid = len(lines) // 2
    bad = write_gz(tmp_path / "BINANCE.jsonl.gz", [*lines[:mid], b"\x00garbage{{\n", *lines[mid:]])
    (tmp_path / "prefix").mkdir()
    prefix = write_gz(tmp_path / "prefix" / "BINANCE.jsonl.gz", lines[:mid])

    done = run_cli("replay", str(bad), str(FUTURES), "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == REPLAY_DAMAGED == 3
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert str(bad) in line and "corrupt_record" in line and f"line {mid + 1}" in line

    summary = json.loads(done.stdout)
    damaged, after = summary["files"]
    assert damaged["records"] == mid - 1 and "corrupt_record" in damaged["damage"]
    assert after["damage"] is None and after["records"] == len(lines_of(FUTURES)) - 1

    # The rows before the damage are exactly what a replay of the intact prefix publishes,
    # and the next file is replayed in full.
    replay([prefix], tmp_path / "prefix-out")
    replay([FUTURES], tmp_path / "futures-out")
    out = tmp_path / "out"
    spot_rows = data_rows(out, "binance-spot")
    assert spot_rows["book"] and spot_rows == data_rows(tmp_path / "prefix-out", "binance-spot")
    assert data_rows(out, "binance-usdm") == data_rows(tmp_path / "futures-out", "binance-usdm")

    events = [r for r in pylist(table(out, "quality")) if r["kind"] == "corrupt_record"]
    (event,) = events
    assert str(bad) in event["detail"] and f"line {mid + 1}" in event["detail"]
    last_ts = json.loads(lines[mid - 1])["ts"]
    assert event["ts_recv"] == last_ts  # the last record's time, not 0


def test_corpus_cut_to_two_thirds_is_truncated(tmp_path: Path) -> None:
    raw = SPOT.read_bytes()
    cut = tmp_path / "BINANCE.jsonl.gz"
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    damages: list[Damage] = []
    records = list(read_corpus(cut, on_damage=damages.append))
    (damage,) = damages
    assert damage.kind == "truncated" and damage.offset == cut.stat().st_size
    assert damage.records == len(records) > 0
    assert records == list(read_corpus(SPOT))[: len(records)]

    done = run_cli("replay", str(cut), "--out", str(tmp_path / "out"))
    assert done.returncode == REPLAY_DAMAGED and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert str(cut) in line and "truncated" in line
    assert table(tmp_path / "out", "book").num_rows > 0


# -- own capture format -------------------------------------------------------------------------


def test_finished_capture_cut_to_two_thirds_is_reported_truncated(tmp_path: Path) -> None:
    path = own_capture(tmp_path)
    every = list(read_capture(path))
    raw = path.read_bytes()
    cut = tmp_path / path.name
    cut.write_bytes(raw[: len(raw) * 2 // 3])

    damages: list[Damage] = []
    records = list(read_capture(cut, on_damage=damages.append))
    assert 0 < len(records) < len(every) and records == every[: len(records)]
    (damage,) = damages
    assert damage.kind == "truncated" and damage.records == len(records)

    done = run_cli("replay", str(cut), "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == REPLAY_DAMAGED and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert str(cut) in line and "truncated" in line
    (summary,) = json.loads(done.stdout)["files"]
    assert summary["records"] == len(records)
    kinds = table(tmp_path / "out", "quality")["kind"].to_pylist()
    assert kinds.count("truncated") == 1


def test_inprogress_capture_cut_anywhere_is_not_damage(tmp_path: Path) -> None:
    """A crash leftover has no trailer by nature: read up to its last record, exit 0."""
    path = own_capture(tmp_path)
    raw = path.read_bytes()
    leftover = tmp_path / f".{path.name}.inprogress"
    leftover.write_bytes(raw[: len(raw) * 2 // 3])
    damages: list[Damage] = []
    assert list(read_capture(leftover, on_damage=damages.append))
    assert damages == []
    done = run_cli("replay", str(leftover), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr


def test_finished_capture_with_corrupt_bytes_keeps_rows_before(tmp_path: Path) -> None:
    path = own_capture(tmp_path)
    every = list(read_capture(path))
    raw = bytearray(path.read_bytes())
    at = len(raw) // 2
    raw[at : at + 64] = b"\xff" * 64  # inside the deflate stream: not decodable
    bad = tmp_path / path.name
    bad.write_bytes(bytes(raw))

    damages: list[Damage] = []
    records = list(read_capture(bad, on_damage=damages.append))
    assert 0 < len(records) < len(every) and records == every[: len(records)]
    (damage,) = damages
    # Found by zlib (a file offset), by msgpack or by a checkpoint (an offset in the
    # decompressed stream): either way a corrupt record after the good ones.
    assert damage.kind == "corrupt_record" and damage.records == len(records)
    assert damage.offset > 0 and "byte" in damage.where

    done = run_cli("replay", str(bad), str(FUTURES), "--out", str(tmp_path / "out"))
    assert done.returncode == REPLAY_DAMAGED and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert str(bad) in line and "corrupt_record" in line
    exchanges = set(table(tmp_path / "out", "book")["exchange"].to_pylist())
    assert exchanges == {"binance-spot", "binance-usdm"}


def test_damaged_bytes_anywhere_never_become_wrong_records(tmp_path: Path) -> None:
    """Garbage can inflate to well-formed but wrong records; the checkpoints catch them.

    Before checkpoints, about 3 in 100 of these files handed out a wrong record.
    """
    path = own_capture(tmp_path)
    every = list(read_capture(path))
    raw = path.read_bytes()
    for n, at in enumerate(range(1024, len(raw) - 64, len(raw) // 97)):  # past the header
        for garbage in (b"\xff" * 64, bytes(range(7, 71)), b"\x00" * 3):
            bad = tmp_path / f"{n}-{len(garbage)}-{garbage[0]}" / path.name
            bad.parent.mkdir()
            bad.write_bytes(raw[:at] + garbage + raw[at + len(garbage) :])
            damages: list[Damage] = []
            records = list(read_capture(bad, on_damage=damages.append))
            assert records == every[: len(records)], (at, garbage)
            if damages:
                (damage,) = damages
                assert damage.records == len(records) and damage.kind == "corrupt_record"
            else:  # only bytes that changed nothing (an equal run) read through
                assert records == every and bad.read_bytes() == raw


def test_a_flipped_byte_in_a_stored_capture_is_caught_by_its_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Level 0 stores bytes as they are: only a checksum can see a changed one."""
    with CaptureWriter(tmp_path / "cap", "binance-spot", flush_every=16, level=0) as writer:
        for record in read_corpus(SPOT):
            writer.write(record)
    (path,) = writer.completed_paths
    every = list(read_capture(path))
    raw = bytearray(path.read_bytes())
    at = raw.index(b"nknusdt@depth", len(raw) // 2)
    raw[at] ^= 0x20  # "n" -> "N": still valid msgpack, still a record
    for name in (path.name, f".{path.name}.inprogress"):
        bad = tmp_path / name
        bad.write_bytes(bytes(raw))
        damages: list[Damage] = []
        records = list(read_capture(bad, on_damage=damages.append))
        assert records == every[: len(records)] and len(records) % 16 == 0
        assert len(every) - len(records) > len(every) // 3
        if name.endswith(".inprogress"):  # a crash leftover: its tail is ignored, said once
            assert damages == [] and caplog.text.count("corrupt tail ignored") == 1
            continue
        (damage,) = damages
        assert damage.kind == "corrupt_record" and damage.records == len(records)
        assert "checkpoint" in damage.detail and "16 records" in damage.detail


def test_version_1_captures_without_checkpoints_still_read(tmp_path: Path) -> None:
    records = list(read_corpus(SPOT))[:50]
    header = {"format": "collector-capture-v1", "exchange": "binance-spot", "session": "s"}
    body = b"".join(msgspec.msgpack.encode(x) for x in [header, *records])
    old = tmp_path / "binance-spot-0-20211012T000831159679Z.capture.gz"
    old.write_bytes(gzip.compress(body))
    assert list(read_capture(old)) == records
    info, got = open_recording(old)
    assert info.format == "collector-capture-v1" and list(got) == records


@pytest.mark.parametrize("kind", ["bad msgpack item", "not a record"])
def test_corrupt_capture_item_is_corrupt_record(tmp_path: Path, kind: str) -> None:
    """Valid gzip around bad content: the damage is located in the decompressed stream.

    The bad item goes right after a checkpoint (``own_capture`` flushes every 16
    records), so every record before it is proven and handed out.
    """
    path = own_capture(tmp_path)
    content = bytearray(gzip.decompress(path.read_bytes()))
    records = list(read_capture(path))
    keep = len(records) // 2 // 16 * 16
    at = content.index(msgspec.msgpack.encode(records[keep]))
    assert content[:at].endswith(msgspec.msgpack.encode({"crc32": 0, "records": 16})[-8:])
    junk = b"\xc1" if kind == "bad msgpack item" else b"\x07"  # 0xc1: never used; 7: an int
    bad = tmp_path / path.name
    bad.write_bytes(gzip.compress(bytes(content[:at]) + junk + bytes(content[at:])))

    damages: list[Damage] = []
    got = list(read_capture(bad, on_damage=damages.append))
    assert got == records[:keep]
    (damage,) = damages
    assert damage.kind == "corrupt_record" and damage.records == keep


def test_damaged_instrument_file_is_reported_too(tmp_path: Path) -> None:
    sidecar = FUTURES.with_name("BINANCE_FUTURES.instruments.jsonl.gz")
    raw = sidecar.read_bytes()
    (tmp_path / sidecar.name).write_bytes(raw[: len(raw) // 2])
    copy = tmp_path / FUTURES.name
    copy.write_bytes(FUTURES.read_bytes())
    done = run_cli("replay", str(copy), "--out", str(tmp_path / "out"))
    assert done.returncode == REPLAY_DAMAGED and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert sidecar.name in line and "truncated" in line
    assert table(tmp_path / "out", "book").num_rows > 0  # the stream itself is intact
