"""Raw capture: writer/reader round trips, rotation, crash safety, corpus reading.

Everything here runs the real code on real files; crash safety is checked both
by cutting files at arbitrary offsets and by SIGKILLing a writing process.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.capture.reader import (
    CaptureFormatError,
    RecordingInfo,
    list_capture_files,
    open_recording,
    read_capture,
    read_corpus,
)
from collector.capture.records import CAPTURE_FORMAT, KINDS, Record, ts_stamp
from collector.capture.writer import CaptureWriter
from collector.config import parse_config
from collector.daemon import Daemon
from collector.replay import instruments_sidecar

REPO_ROOT = Path(__file__).resolve().parents[2]
CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", REPO_ROOT.parent / "shared" / "captures"))
T0 = 1_723_161_255_030_314_667  # 2024-08-08T23:54:15.030314667Z
SECOND = 1_000_000_000


def sample_records(n: int, start: int = T0, step: int = 1_000_000) -> list[Record]:
    """A deterministic mix of every record shape: text, binary, http with/without status."""
    records = [Record("open", start, 1, url="wss://example.test/ws")]
    for i in range(1, n):
        ts = start + i * step
        if i % 5 == 0:
            records.append(Record("recv", ts, 1, f"\x1f\x8b binary {i} é".encode()))
        elif i % 7 == 0:
            status = 200 if i % 2 else None
            records.append(Record("http", ts, 0, f'{{"id":{i}}}', "https://x.test/depth", status))
        else:
            records.append(Record("recv", ts, 1, f'{{"u":{i},"p":"61800.30","s":"✓"}}'))
    return records


def write_all(directory: Path, records: list[Record], **kwargs: object) -> list[Path]:
    with CaptureWriter(directory, "test-ex", **kwargs) as writer:  # type: ignore[arg-type]
        for record in records:
            writer.write(record)
    return list_capture_files(directory)


def read_all(files: list[Path]) -> list[Record]:
    return [record for path in files for record in read_capture(path)]


def inprogress_files(directory: Path) -> list[Path]:
    return list(directory.rglob("*.inprogress"))


# --------------------------------------------------------------------------- round trip


def test_round_trip_keeps_text_binary_and_http_status(tmp_path: Path) -> None:
    records = sample_records(200)
    files = write_all(tmp_path, records)

    assert len(files) == 1
    back = list(read_capture(files[0]))
    assert back == records
    assert {type(r.data) for r in back if r.kind == "recv"} == {str, bytes}
    assert {r.status for r in back if r.kind == "http"} == {None, 200}
    assert inprogress_files(tmp_path) == []


def test_compression_level_trades_bytes_only(tmp_path: Path) -> None:
    """``[capture] compression_level``: the same records read back at any level."""
    records = sample_records(400)
    fast = write_all(tmp_path / "1", records, level=1)
    small = write_all(tmp_path / "9", records, level=9)
    assert read_all(fast) == read_all(small) == records
    assert sum(p.stat().st_size for p in fast) > sum(p.stat().st_size for p in small)


def test_compressing_on_a_thread_writes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches compressed on the writer's thread give the file the caller's thread would
    have written, byte for byte, across flushes, rotations and the final trailer."""
    header = msgpack.packb({"format": CAPTURE_FORMAT, "exchange": "x", "instance": "0"})
    monkeypatch.setattr(CaptureWriter, "_header", lambda self: header)
    rng = random.Random(7)
    records = [
        Record("recv", 10**18 + i * 10**6, 1, "".join(rng.choices("0123456789.,[]", k=400)))
        for i in range(6000)
    ]
    written = {}
    for threaded in (False, True):
        folder = tmp_path / str(threaded)
        with CaptureWriter(
            folder, "x", flush_every=700, rotate_seconds=2, compress_in_thread=threaded
        ) as writer:
            for record in records:
                writer.write(record)
        written[threaded] = [p.read_bytes() for p in writer.completed_paths]
    assert len(written[False]) == 3
    assert written[True] == written[False]
    files = sorted((tmp_path / "True").rglob("*.gz"))
    assert [record for f in files for record in read_capture(f)] == records


def test_the_daemon_writes_its_capture_at_the_configured_level(tmp_path: Path) -> None:
    config = parse_config(
        f'[output]\ndir = "{tmp_path}"\n[capture]\ndir = "{tmp_path / "cap"}"\n'
        'compression_level = 2\n[metrics]\nlisten = "127.0.0.1:0"\n'
        '[[exchange]]\nname = "binance-spot"\nsymbols = ["BTCUSDT"]\nchannels = ["book"]\n',
        "test",
    )
    daemon = Daemon(config)
    try:
        (runner,) = daemon.runners
        assert runner.capture is not None and runner.capture.level == 2
    finally:
        daemon.sink.close()


def test_file_layout_name_and_header(tmp_path: Path) -> None:
    before = time.time_ns()
    files = write_all(tmp_path, sample_records(3))

    (path,) = files
    assert path.parent == tmp_path / "exchange=test-ex"
    assert path.name == "test-ex-0-20240808T235415030314Z.capture.gz"
    with gzip.open(path, "rb") as fh:
        header = next(msgpack.Unpacker(fh, raw=False))
    assert header["format"] == CAPTURE_FORMAT
    assert header["exchange"] == "test-ex"
    assert header["instance"] == "0"
    assert before <= header["created_ns"] <= time.time_ns()


def test_empty_writer_leaves_no_file_and_close_is_idempotent(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, "test-ex")
    writer.flush()
    writer.close()
    writer.close()
    assert list(tmp_path.rglob("*")) == []
    with pytest.raises(ValueError, match="closed"):
        writer.write(Record("recv", T0))


@pytest.mark.parametrize("bad", ["", "a/b", "../x", "-x", "a b"])
def test_unsafe_names_are_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="file name"):
        CaptureWriter(tmp_path, bad)
    with pytest.raises(ValueError, match="file name"):
        CaptureWriter(tmp_path, "ok", instance=bad)


# --------------------------------------------------------------------------- rotation


def test_rotation_by_data_time(tmp_path: Path) -> None:
    # 4 records per second of data time, wall clock irrelevant: one file per second.
    records = sample_records(20, step=SECOND // 4)
    files = write_all(tmp_path, records, rotate_seconds=1)

    assert len(files) == 5
    assert read_all(files) == records
    firsts = [next(iter(read_capture(f))).ts for f in files]
    assert firsts == [T0 + k * SECOND for k in range(5)]
    assert [f.name for f in files] == [f"test-ex-0-{ts_stamp(ts)}.capture.gz" for ts in firsts]
    assert inprogress_files(tmp_path) == []


def test_rotation_by_size_with_same_microsecond_names(tmp_path: Path) -> None:
    rng = random.Random(7)
    # Incompressible frames, all within one microsecond: names collide and get a seq.
    records = [Record("recv", T0 + i % 1000, 2, rng.randbytes(300)) for i in range(400)]
    files = write_all(tmp_path, records, rotate_bytes=8192, flush_every=5)

    assert len(files) >= 5
    assert read_all(files) == records
    assert len({f.name for f in files}) == len(files)
    assert files[0].name == f"test-ex-0-{ts_stamp(T0)}.capture.gz"
    assert files[1].name == f"test-ex-0-{ts_stamp(T0)}-1.capture.gz"
    assert all(f.stat().st_size > 8192 for f in files[:-1])
    assert inprogress_files(tmp_path) == []


def test_completed_paths_and_list_filters_by_exchange(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path, "a-ex", rotate_seconds=1) as writer:
        for record in sample_records(8, step=SECOND // 2):
            writer.write(record)
        assert writer.current_path is not None
        assert writer.current_path.name.endswith(".capture.gz.inprogress")
    write_all(tmp_path, sample_records(3, start=T0 - SECOND))

    assert list(writer.completed_paths) == list_capture_files(tmp_path, "a-ex")
    assert len(writer.completed_paths) == 4
    everything = list_capture_files(tmp_path)
    assert len(everything) == 5
    assert everything[0].parent.name == "exchange=test-ex"  # earliest first ts first


# --------------------------------------------------------------------------- crash safety


def test_inprogress_snapshot_and_truncations_yield_prefixes(tmp_path: Path) -> None:
    records = sample_records(3000)
    writer = CaptureWriter(tmp_path / "w", "test-ex", flush_every=100)
    for record in records[:2000]:
        writer.write(record)
    writer.flush()
    for record in records[2000:2050]:  # written but not flushed
        writer.write(record)
    assert writer.current_path is not None
    snapshot = tmp_path / "snap.capture.gz.inprogress"
    shutil.copyfile(writer.current_path, snapshot)
    writer.close()

    recovered = list(read_capture(snapshot))
    assert len(recovered) >= 2000
    assert recovered == records[: len(recovered)]

    raw = snapshot.read_bytes()
    offsets = sorted(
        {0, 1, 9, 10, 11, 20, len(raw) - 1, *random.Random(1).sample(range(len(raw)), 40)}
    )
    counts = []
    for offset in offsets:
        cut = tmp_path / f"cut-{offset}"
        cut.write_bytes(raw[:offset])
        got = list(read_capture(cut))
        assert got == records[: len(got)], offset
        counts.append(len(got))
    assert counts == sorted(counts)  # a longer prefix never yields fewer records
    assert counts[-1] >= 1999


def test_truncated_final_file_yields_prefix(tmp_path: Path) -> None:
    records = sample_records(500)
    (path,) = write_all(tmp_path, records, flush_every=50)
    raw = path.read_bytes()
    for offset in (len(raw) - 1, len(raw) - 8, len(raw) // 2):
        cut = tmp_path / f"cut-{offset}.capture.gz"
        cut.write_bytes(raw[:offset])
        got = list(read_capture(cut))
        assert got == records[: len(got)]
    assert len(list(read_capture(tmp_path / f"cut-{len(raw) - 1}.capture.gz"))) == 500


def test_power_loss_garbage_tail_of_inprogress_is_ignored(tmp_path: Path) -> None:
    records = sample_records(300)
    writer = CaptureWriter(tmp_path, "test-ex", flush_every=100)
    for record in records:
        writer.write(record)
    assert writer.current_path is not None
    torn = tmp_path / "torn.capture.gz.inprogress"
    torn.write_bytes(writer.current_path.read_bytes() + b"\x00" * 4096)
    writer.close()

    assert list(read_capture(torn)) == records
    final = tmp_path / "torn.capture.gz"
    final.write_bytes(torn.read_bytes())
    with pytest.raises(CaptureFormatError, match="corrupt"):
        list(read_capture(final))


_KILL_SCRIPT = """
import sys
from collector.capture.records import Record
from collector.capture.writer import CaptureWriter

writer = CaptureWriter(sys.argv[1], "test-ex", flush_every=7)
print("ready", flush=True)
i = 0
while True:
    data = f"text {i}" if i % 3 else f"binary {i}".encode()
    writer.write(Record("recv", i, 1, data))
    i += 1
"""


def expected_killed(i: int) -> Record:
    return Record("recv", i, 1, f"text {i}" if i % 3 else f"binary {i}".encode())


def test_sigkill_leaves_a_readable_prefix(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    files = list_capture_files(tmp_path)
    assert len(files) == 1 and files[0].name.endswith(".inprogress")
    got = list(read_capture(files[0]))
    assert len(got) > 0
    assert got == [expected_killed(i) for i in range(len(got))]


# --------------------------------------------------------------------------- format errors


def test_non_capture_files_raise_clear_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain.capture.gz"
    plain.write_bytes(b"hello, not gzip at all\n")
    json_gz = tmp_path / "json.capture.gz"
    json_gz.write_bytes(gzip.compress(b'{"kind":"header","format":"corpus-v1"}\n'))
    other = tmp_path / "other.capture.gz"
    other.write_bytes(gzip.compress(msgpack.packb({"format": "something-else"})))

    for path in (plain, json_gz, other):
        with pytest.raises(CaptureFormatError, match=path.name):
            list(read_capture(path))
    with pytest.raises(CaptureFormatError, match="'something-else'"):
        list(read_capture(other))
    with pytest.raises(CaptureFormatError, match="not a recording"):
        open_recording(plain)
    with pytest.raises(CaptureFormatError, match="not a recording"):
        open_recording(_gz(tmp_path / "text.gz", b"hello\n"))
    with pytest.raises(CaptureFormatError, match="corpus-v1"):
        open_recording(_gz(tmp_path / "badcorpus.gz", b'{"kind":"recv","ts":1}\n'))


def _gz(path: Path, content: bytes) -> Path:
    path.write_bytes(gzip.compress(content))
    return path


def test_capture_error_is_a_value_error() -> None:
    assert issubclass(CaptureFormatError, ValueError)


# --------------------------------------------------------------------------- open_recording


def test_open_recording_detects_by_content_not_name(tmp_path: Path) -> None:
    records = sample_records(50)
    (capture,) = write_all(tmp_path, records)
    disguised = tmp_path / "recording.jsonl.gz"
    shutil.copyfile(capture, disguised)

    info, it = open_recording(disguised)
    assert info == RecordingInfo(str(disguised), CAPTURE_FORMAT, "test-ex")
    assert list(it) == records

    corpus = tmp_path / "capture.bin"
    corpus.write_bytes(
        gzip.compress(
            b'{"kind":"header","format":"corpus-v1","exchange":"demo","notes":"x"}\n'
            b'{"kind":"open","conn":1,"ts":5,"url":"wss://d/ws"}\n'
            b'{"kind":"recv","conn":1,"ts":6,"data":"{\\"a\\":1}"}\n'
            b'{"kind":"recv","conn":1,"ts":7,"b64":"AAEC"}\n'
            b'{"kind":"http","ts":8,"url":"https://d/x","status":429,"data":"slow down"}\n'
            b'{"kind":"http","ts":9,"url":"https://d/y","data":""}\n'
        )
    )
    info, it = open_recording(corpus)
    assert info == RecordingInfo(str(corpus), "corpus-v1", "demo")
    assert list(it) == [
        Record("open", 5, 1, url="wss://d/ws"),
        Record("recv", 6, 1, '{"a":1}'),
        Record("recv", 7, 1, b"\x00\x01\x02"),
        Record("http", 8, 0, "slow down", "https://d/x", 429),
        Record("http", 9, 0, "", "https://d/y", None),
    ]


def test_open_recording_reads_inprogress_capture(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, "test-ex", flush_every=10)
    records = sample_records(30)
    for record in records:
        writer.write(record)
    assert writer.current_path is not None
    info, it = open_recording(writer.current_path)
    assert info.format == CAPTURE_FORMAT
    assert list(it) == records
    writer.close()


def test_corpus_with_bad_line_raises_naming_file(tmp_path: Path) -> None:
    path = _gz(
        tmp_path / "bad.jsonl.gz",
        b'{"kind":"header","format":"corpus-v1","exchange":"demo"}\n'
        b'{"kind":"recv","conn":1,"ts":6,"data":"ok"}\n'
        b'{"kind":"bogus","ts":7}\n',
    )
    with pytest.raises(CaptureFormatError, match=r"bad\.jsonl\.gz"):
        list(read_corpus(path))


# --------------------------------------------------------------------------- shared corpus

needs_captures = pytest.mark.skipif(
    not CAPTURES.is_dir(),
    reason=f"shared captures not found at {CAPTURES} (set COLLECTOR_CAPTURES)",
)


@pytest.mark.captures
@needs_captures
def test_corpus_binance_spot_counts_match_readme() -> None:
    path = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
    info, it = open_recording(path)
    records = list(it)

    assert info == RecordingInfo(str(path), "corpus-v1", "binance-spot")
    assert Counter(r.kind for r in records) == {"open": 1, "recv": 265, "http": 4}
    assert all(isinstance(r.data, str) for r in records)
    assert [r.ts for r in records] == sorted(r.ts for r in records)
    assert records[0].url.startswith("wss://stream.binance.com:9443/stream?streams=")
    assert all(
        r.url.startswith("https://api.binance.com/api/v3/depth")
        for r in records
        if r.kind == "http"
    )


@pytest.mark.captures
@needs_captures
def test_corpus_b64_frames_become_bytes() -> None:
    records = list(read_corpus(CAPTURES / "huobi" / "HUOBI.jsonl.gz"))
    recv = [r for r in records if r.kind == "recv"]
    assert Counter(r.kind for r in records) == {"open": 1, "send": 26, "recv": 362}
    assert all(isinstance(r.data, bytes) for r in recv)
    assert all(gzip.decompress(r.data).startswith(b"{") for r in recv)  # Huobi gzips frames
    assert all(isinstance(r.data, str) for r in records if r.kind == "send")


@pytest.mark.captures
@needs_captures
def test_corpus_instruments_file_is_a_corpus() -> None:
    info, it = open_recording(CAPTURES / "binance-spot" / "BINANCE.instruments.jsonl.gz")
    records = list(it)
    assert info.format == "corpus-v1" and info.exchange == "binance-spot"
    assert [r.kind for r in records] == ["http"]


@pytest.mark.captures
@needs_captures
@pytest.mark.parametrize(
    "name", ["binance-coinm/BINANCE_DELIVERY.jsonl.gz", "upbit/UPBIT.jsonl.gz"]
)
def test_corpus_reader_matches_plain_json_parsing(name: str) -> None:
    """The block-wise fast path must agree with a naive line-by-line parse."""
    path = CAPTURES / name
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh][1:]
    expected = [
        Record(
            d["kind"],
            d["ts"],
            d.get("conn", 0),
            base64.b64decode(d["b64"]) if "b64" in d else d.get("data", ""),
            d.get("url", ""),
            d.get("status"),
        )
        for d in lines
    ]
    assert list(read_corpus(path)) == expected
    assert len(expected) > 400


@pytest.mark.captures
@needs_captures
def test_every_corpus_file_reads_and_round_trips_through_capture(tmp_path: Path) -> None:
    for path in sorted(CAPTURES.rglob("*.jsonl.gz")):
        if path.stat().st_size > 500_000:
            continue  # the big hftbacktest files are covered by the speed report
        info, it = open_recording(path)
        records = list(it)
        assert info.format == "corpus-v1" and info.exchange, path
        assert set(r.kind for r in records) <= KINDS
        out = tmp_path / path.name
        files = write_all(out, records)
        assert read_all(files) == records, path


# --------------------------------------------------------------------------- property


record_strategy = st.builds(
    Record,
    kind=st.sampled_from(sorted(KINDS)),
    ts=st.integers(min_value=0, max_value=2**63 - 1),
    conn=st.integers(min_value=0, max_value=2**31),
    data=st.one_of(st.text(), st.binary()),
    url=st.text(max_size=40),
    status=st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(record_strategy, max_size=40), flush_every=st.integers(1, 10))
def test_property_round_trip(records: list[Record], flush_every: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        files = write_all(Path(directory), records, flush_every=flush_every)
        assert read_all(files) == records
        assert [type(r.data) for r in read_all(files)] == [type(r.data) for r in records]
        assert not inprogress_files(Path(directory))


def test_instruments_sidecar_of_a_file_or_of_its_family(tmp_path: Path) -> None:
    names = ("A.jsonl.gz", "A.instruments.jsonl.gz", "K.ws.1.jsonl.gz", "K.instruments.jsonl.gz")
    for name in names:
        (tmp_path / name).touch()
    assert instruments_sidecar(tmp_path / "A.jsonl.gz") == tmp_path / "A.instruments.jsonl.gz"
    assert instruments_sidecar(tmp_path / "K.ws.1.jsonl.gz") == tmp_path / "K.instruments.jsonl.gz"
    assert instruments_sidecar(tmp_path / "A.instruments.jsonl.gz") is None
