"""A recording lands in a dataset once: a second replay is refused, an interrupted one resumes.

Replaying to re-derive data, or re-running a command that failed half-way (a full
disk, a kill), used to write every row the first run had published a second time,
silently. Each recording's rows now go to files named for its content, so a replay
can tell what the dataset already holds: it refuses, or with ``resume`` writes only
what is missing. The interrupted replay here fails on a real disk error
(``failing_disk``) after several files were published, as a full disk does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from failing_disk import ERRNOS, FailingDisk
from support import CAPTURES, load_records, needs_captures

import adapters
from collector.capture.reader import open_recording
from collector.capture.writer import CaptureWriter
from collector.dataset import open_table
from collector.pipeline import Pipeline
from collector.replay import ReplayError, recording_id, recordings, replay
from collector.sinks.parquet import ParquetSink

pytestmark = needs_captures

FUTURES = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"  # 1,540 records over 31 s
SPOT = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"
TABLES = ("book", "bbo", "trades", "quality")
ROTATE_S = 5.0  # several files per table, so an interruption falls between publishes


def rows(root: Path) -> dict[str, Counter[tuple]]:
    """Every table's rows as a multiset of plain tuples: equal means exactly once."""
    found = {}
    for table in TABLES:
        data = open_table(root, table)
        plain = [
            c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in data.columns
        ]
        found[table] = Counter(zip(*(c.to_pylist() for c in plain), strict=True))
    return found


def files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.parquet")}


@pytest.fixture(scope="module")
def once(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counter[tuple]]:
    """The rows of one uninterrupted replay."""
    out = tmp_path_factory.mktemp("once")
    replay([FUTURES], out, rotate_seconds=ROTATE_S)
    return rows(out)


def test_a_second_replay_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    summary = replay([FUTURES, SPOT], tmp_path, rotate_seconds=ROTATE_S)
    rid = recording_id(FUTURES)
    names = [Path(p).name for p in files(tmp_path) if "binance-usdm" in p]
    assert names and all(f"-{rid}-" in n for n in names), names
    before = files(tmp_path)
    assert len(before) == summary.parquet_files

    with pytest.raises(ReplayError, match=r"would add its rows twice.*--resume") as refused:
        replay([SPOT, FUTURES], tmp_path, rotate_seconds=ROTATE_S)
    assert str(SPOT) in str(refused.value) or str(FUTURES) in str(refused.value)
    assert files(tmp_path) == before  # not one file written, not even for a new one


def test_the_same_recording_twice_in_one_command_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl.gz"
    shutil.copyfile(FUTURES, copy)
    with pytest.raises(ReplayError, match="are the same recording"):
        replay([FUTURES, copy], tmp_path / "out", jobs=2)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("errno_name", sorted(ERRNOS))
def test_an_interrupted_replay_resumes_to_exactly_one_replays_rows(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    once: dict[str, Counter[tuple]],
    errno_name: str,
) -> None:
    out = tmp_path / "data"
    disk = FailingDisk(monkeypatch, out)
    publish = ParquetSink._publish
    published = []

    def then_fail(self: ParquetSink, segment: object) -> None:
        publish(self, segment)  # type: ignore[arg-type]
        published.append(segment)
        if len(published) == 4:
            disk.fail(ERRNOS[errno_name])

    monkeypatch.setattr(ParquetSink, "_publish", then_fail)
    with pytest.raises(OSError) as failure:
        replay([FUTURES], out, rotate_seconds=ROTATE_S)
    assert failure.value.errno == ERRNOS[errno_name]
    kept = files(out)
    assert len(kept) >= 4

    disk.heal()
    with pytest.raises(ReplayError, match="--resume"):
        replay([FUTURES], out, rotate_seconds=ROTATE_S)
    summary = replay([FUTURES], out, rotate_seconds=ROTATE_S, resume=True)
    assert rows(out) == once  # every row once: none lost, none twice
    assert summary.files[0].resumed == sum(pq.read_metadata(out / n).num_rows for n in kept)
    assert not list(out.rglob(".*inprogress"))


def test_the_cli_says_what_to_do_and_resumes(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "collector.cli", "replay", str(FUTURES)]
        return subprocess.run(
            [*command, "--out", str(tmp_path), *args], capture_output=True, text=True, timeout=300
        )

    assert cli().returncode == 0
    again = cli()
    assert again.returncode == 2, again.stderr
    assert "would add its rows twice" in again.stderr and "--resume" in again.stderr
    resumed = cli("--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "rows already published by an earlier replay" in resumed.stdout


def test_a_killed_replay_resumes_and_its_leftovers_go(
    tmp_path: Path, once: dict[str, Counter[tuple]]
) -> None:
    """kill -9 after four files were published, while the fifth is unfinished."""
    out = tmp_path / "data"
    script = f"""
import os
from pathlib import Path
from collector.replay import replay
from collector.sinks.parquet import ParquetSink
publish, count = ParquetSink._publish, []
def then_die(self, segment):
    if len(count) == 4:  # the fifth file is written, not yet renamed into place
        os._exit(137)
    publish(self, segment)
    count.append(1)
ParquetSink._publish = then_die
replay([Path({str(FUTURES)!r})], Path({str(out)!r}), rotate_seconds={ROTATE_S})
"""
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == 137, killed.stderr
    assert len(list(out.rglob("*.parquet"))) == 4
    assert list(out.rglob(".*.parquet.inprogress")), "nothing was left unfinished"

    replay([FUTURES], out, rotate_seconds=ROTATE_S, resume=True)
    assert rows(out) == once
    assert not list(out.rglob(".*inprogress"))


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """``FUTURES`` as the daemon would have captured it, rotated into 7 parts of one session."""
    _, records = open_recording(FUTURES)
    with CaptureWriter(tmp_path_factory.mktemp("cap"), "binance-usdm", rotate_seconds=5) as writer:
        for record in records:
            writer.write(record)
    paths = list(writer.completed_paths)
    assert len(paths) == 7
    return paths


def test_a_capture_session_given_in_more_parts_later_resumes(
    tmp_path: Path, parts: list[Path], once: dict[str, Counter[tuple]]
) -> None:
    """Replay the first hours of a day's capture, then the whole day: one session, so the
    second run is refused as a repeat, and resuming adds only the new parts' rows."""
    replay(parts[:3], tmp_path, rotate_seconds=ROTATE_S)
    with pytest.raises(ReplayError, match=r"and 6 later part\(s\) of its session"):
        replay(parts, tmp_path, rotate_seconds=ROTATE_S)
    summary = replay(parts[::-1], tmp_path, rotate_seconds=ROTATE_S, resume=True)
    assert rows(tmp_path) == once
    assert summary.files[0].path == str(parts[0])
    assert summary.files[0].later_parts == [str(p) for p in parts[1:]]


def test_a_part_given_twice_is_refused(
    parts: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "elsewhere" / parts[1].name
    copy.parent.mkdir()
    shutil.copyfile(parts[1], copy)
    with pytest.raises(ReplayError, match=r"are both part 1 of capture session"):
        recordings([parts[0], parts[1], copy])
    assert [len(r.paths) for r in recordings([parts[2], FUTURES, parts[0]])] == [2, 1]
    assert "parts [1] are not among the files given" in caplog.text


def test_damage_in_a_part_ends_its_session_there(parts: list[Path], tmp_path: Path) -> None:
    """As damage ends a file: books must not skip what the damaged part lost."""
    copies = []
    for i, part in enumerate(parts):
        copies.append(tmp_path / "cap" / part.name)
        copies[-1].parent.mkdir(exist_ok=True)
        data = part.read_bytes()
        copies[-1].write_bytes(data[: len(data) // 2] if i == 2 else data)  # a cut copy
    summary = replay(copies, tmp_path / "out", rotate_seconds=ROTATE_S)
    (replayed,) = summary.files
    assert replayed.later_parts == [str(p) for p in copies[1:3]]
    assert replayed.damage is not None and str(copies[2]) in replayed.damage
    assert replayed.damage.endswith(
        "; later parts not replayed: " + ", ".join(str(p) for p in copies[3:])
    )


def test_a_capture_replayed_into_the_dataset_its_daemon_wrote_is_refused(
    tmp_path: Path,
) -> None:
    """The daemon's files carry its capture session in their footer: replaying that
    capture into the same dataset would write every row it published a second time."""
    exchange, records = load_records(FUTURES)
    data = tmp_path / "data"

    def live_run(name: str) -> list[Path]:
        writer = CaptureWriter(tmp_path / name, exchange, rotate_seconds=10)
        with ParquetSink(data, rotate_seconds=ROTATE_S) as sink:
            sink.sessions[exchange] = writer.session
            pipeline = Pipeline(adapters.create(exchange), sink)
            for record in records:
                writer.write(record)
                pipeline.on_record(record)
            pipeline.finish()
        writer.close()
        return list(writer.completed_paths)

    ours = live_run("capture")
    with pytest.raises(ReplayError, match=r"rows the daemon wrote live from capture session"):
        replay(ours[1:], data)  # any of its parts
    assert replay(ours, tmp_path / "elsewhere").files[0].later_parts  # a new --out is fine

    other = tmp_path / "other"  # another session's capture: its rows are not in ``data``
    writer = CaptureWriter(other, exchange)
    for record in records:
        writer.write(record)
    writer.close()
    summary = replay(list(writer.completed_paths), data)
    assert summary.parquet_files > 0
