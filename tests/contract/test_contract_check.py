"""``check_recording`` rules and the ``collector contract-check`` command, on small
recordings written here (so they run without the shared captures)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from collector.capture.records import Record
from collector.capture.writer import CaptureWriter
from collector.cli import main
from collector.contract.check import check_recording
from collector.contract.model import RULE_VIOLATION, UNKNOWN_MESSAGE_TYPE
from collector.contract.report import render_text

URL = "wss://stream.bybit.com/v5/public/linear"
T0 = 1786310816518


def _book(kind: str, u: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    data = {"s": "BTCUSDT", "b": bids, "a": asks, "u": u, "seq": 1000 + u}
    frame = {"topic": "orderbook.50.BTCUSDT", "ts": T0 + u, "type": kind, "data": data}
    frame["cts"] = T0 + u - 5
    return json.dumps(frame, separators=(",", ":"))


def _write(path: Path, frames: list[str]) -> Path:
    header = {"kind": "header", "format": "corpus-v1", "exchange": "bybit", "source": "test"}
    lines = [header, {"kind": "open", "conn": 1, "ts": T0 * 10**6, "url": URL}]
    for i, f in enumerate(frames):
        lines.append({"kind": "recv", "conn": 1, "ts": (T0 + 10 + i) * 10**6, "data": f})
    with gzip.open(path, "wt") as fh:
        fh.writelines(json.dumps(x) + "\n" for x in lines)
    return path


CLEAN = [
    _book("snapshot", 1, [["100.0", "1"]], [["101.0", "1"]]),
    _book("delta", 2, [["100.5", "2"]], []),
    _book("delta", 3, [], [["101.0", "0"], ["101.5", "3"]]),
]


def test_clean_recording_passes(tmp_path: Path) -> None:
    report = check_recording(_write(tmp_path / "clean.jsonl.gz", CLEAN))
    assert report.passed, report.entries
    assert report.frames == 3 and report.message_types == {"orderbook": 3}
    assert report.rules_checked["books_rebuilt"] == 1


def test_sequence_gap_is_a_rule_violation(tmp_path: Path) -> None:
    gap = [*CLEAN[:2], _book("delta", 5, [], [["101.5", "3"]])]  # u=4 never arrived
    report = check_recording(_write(tmp_path / "gap.jsonl.gz", gap))
    assert report.drift_keys() == {(RULE_VIOLATION, "book", "sequence")}


def test_crossed_book_is_a_rule_violation(tmp_path: Path) -> None:
    crossed = [*CLEAN[:2], _book("delta", 3, [["102.0", "1"]], [])]  # bid above the ask
    report = check_recording(_write(tmp_path / "crossed.jsonl.gz", crossed))
    assert (RULE_VIOLATION, "book", "uncrossed") in report.drift_keys()


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = _write(tmp_path / "clean.jsonl.gz", CLEAN)
    assert main(["contract-check", "bybit", "--capture", str(clean)]) == 0
    assert "PASS" in capsys.readouterr().out

    drifted = json.loads(CLEAN[1])
    drifted["data"]["u"] = str(drifted["data"]["u"])
    bad = _write(tmp_path / "bad.jsonl.gz", [CLEAN[0], json.dumps(drifted), CLEAN[2]])
    assert main(["contract-check", "bybit", "--capture", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is False
    (entry,) = [e for e in doc["entries"] if e["kind"] == "type_change"]
    assert entry["field"] == "data.u" and '"u": "2"' in entry["sample"]

    assert main(["contract-check", "bybit", "--capture", str(tmp_path / "none.gz")]) == 2
    (tmp_path / "junk.jsonl.gz").write_bytes(b"not gzip")
    assert main(["contract-check", "bybit", "--capture", str(tmp_path / "junk.jsonl.gz")]) == 2
    assert main(["contract-check", "nosuch", "--capture", str(clean)]) == 2


def test_project_capture_format_is_checked_too(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path, "bybit") as writer:
        writer.write(Record("open", T0 * 10**6, 1, "", URL))
        for i, frame in enumerate(CLEAN):
            writer.write(Record("recv", (T0 + 10 + i) * 10**6, 1, frame))
    (path,) = writer.completed_paths
    report = check_recording(path)
    assert report.passed and report.frames == 3 and report.recorded_exchange == "bybit"
    assert main(["contract-check", "okx", "--capture", str(path)]) == 1  # wrong contract


def test_report_says_when_checked_as_another_exchange(tmp_path: Path) -> None:
    report = check_recording(_write(tmp_path / "r.jsonl.gz", CLEAN), exchange="okx")
    assert "NOTE: the recording says it is bybit" in render_text(report)
    assert report.drift_keys() == {(UNKNOWN_MESSAGE_TYPE, "object{cts,data,topic,ts,type}", "")}
