"""Offline contract suite: every shared recording of every registered adapter.

Each recording's drift must equal, exactly, what ``expected_drift.toml`` pins for it:
new drift fails (a contract, adapter or exchange changed), and vanished drift fails
(the list went stale). Files the list does not name must pass clean.
"""

from __future__ import annotations

import gzip
import itertools
import json
import tomllib
from pathlib import Path

import msgspec
import pytest
from support import CAPTURES, capture_folders, needs_captures

import adapters
from adapters.contracts import CONTRACTS
from collector.capture.reader import open_recording
from collector.contract.check import check_recording
from collector.contract.report import render_text
from collector.contract.validate import Validator
from collector.frames import frame_encoding, inflater

EXPECTED_FILE = Path(__file__).with_name("expected_drift.toml")


def _expected() -> dict[str, set[tuple[str, str, str]]]:
    doc = tomllib.loads(EXPECTED_FILE.read_text())
    out = {}
    for name, spec in doc["files"].items():
        entries = spec["drift"]
        for e in entries:
            assert e.get("why", "").strip(), f"{name}: {e} has no explanation"
        out[name] = {(e["kind"], e["type"], e["field"]) for e in entries}
    return out


EXPECTED = _expected()


def _all_recordings() -> list[Path]:
    """Every recording of every contract's slug, instrument lists included."""
    if not CAPTURES.exists():
        return []
    return sorted(
        p
        for slug in sorted(CONTRACTS)
        for folder in capture_folders(slug)
        for p in (CAPTURES / folder).glob("*.jsonl.gz")
    )


def test_every_registered_adapter_has_a_contract() -> None:
    assert set(CONTRACTS) == set(adapters.REGISTRY)


@needs_captures
def test_expected_drift_names_only_existing_recordings() -> None:
    missing = [name for name in EXPECTED if not (CAPTURES / name).exists()]
    assert not missing, f"expected_drift.toml names recordings that do not exist: {missing}"


@needs_captures
@pytest.mark.parametrize("path", _all_recordings(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recording_drift_is_exactly_the_expected_drift(path: Path) -> None:
    name = f"{path.parent.name}/{path.name}"
    report = check_recording(path)
    assert report.frames + report.rest_bodies > 0, f"{name}: nothing was checked"
    found = report.drift_keys()
    expected = EXPECTED.get(name, set())
    new = sorted(found - expected)
    gone = sorted(expected - found)
    assert not new and not gone, (
        f"{name}: drift changed.\n  new (not in expected_drift.toml): {new}\n"
        f"  gone (listed but not found): {gone}\n\n{render_text(report)}"
    )


@needs_captures
@pytest.mark.parametrize("slug", sorted(CONTRACTS))
def test_fast_path_agrees_with_the_walker_on_real_frames(slug: str) -> None:
    """The strict-type fast path must never hide a drift the walker would report, and
    the walker's own shortcuts (clean arrays skipped, repeated rows judged once) must
    not change one drift, detail or place in the order."""
    validator = Validator(CONTRACTS[slug])
    inflate = inflater(frame_encoding(adapters.create(slug)))
    checked = 0
    folders = capture_folders(slug)
    for path in sorted(p for f in folders for p in (CAPTURES / f).glob("*.jsonl.gz")):
        for record in itertools.islice(open_recording(path)[1], 400):
            if record.kind != "recv":
                continue
            data = record.data
            if inflate is not None and isinstance(data, bytes):
                data = inflate(data)
            name, fast = validator.frame(data, record.ts, record.conn)
            value = msgspec.json.decode(data)
            slow = validator.check_slow(name, value, record.ts)
            assert [(d.kind, d.field) for d in fast] == [(d.kind, d.field) for d in slow]
            assert validator.walk(name, value, record.ts) == slow
            checked += 1
    assert checked > 0


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a corpus recording, passing every recv frame's JSON through ``edit``."""
    with gzip.open(src, "rt") as fin, gzip.open(dst, "wt") as fout:
        for line in fin:
            rec = json.loads(line)
            if rec.get("kind") == "recv" and "data" in rec:
                rec["data"] = json.dumps(edit(json.loads(rec["data"])), separators=(",", ":"))
            fout.write(json.dumps(rec) + "\n")
    return dst


@needs_captures
def test_the_pin_fails_both_ways_on_an_edited_real_recording(tmp_path: Path) -> None:
    """OKX 2022 with seqIds added loses its expected drift; with ``px`` renamed it gains one."""
    name = "okx/OKX.jsonl.gz"

    def add_seq(frame):
        if isinstance(frame, dict) and frame.get("arg", {}).get("channel") == "books":
            for i, book in enumerate(frame.get("data", [])):
                book.update(seqId=i + 10, prevSeqId=i + 9)
        return frame

    fixed = check_recording(_rewrite(CAPTURES / name, tmp_path / "OKX.jsonl.gz", add_seq))
    assert EXPECTED[name] - fixed.drift_keys() == EXPECTED[name]  # all "gone": the pin fails

    def rename_px(frame):
        if isinstance(frame, dict) and frame.get("arg", {}).get("channel") == "trades":
            for trade in frame.get("data", []):
                trade["price"] = trade.pop("px")
        return frame

    renamed = check_recording(_rewrite(CAPTURES / name, tmp_path / "OKX2.jsonl.gz", rename_px))
    assert renamed.drift_keys() - EXPECTED[name] == {
        ("missing_field", "trades", "data[].px"),
        ("new_field", "trades", "data[].price"),
        ("rule_violation", "decode", "adapter_decodes"),  # and the adapter cannot decode it
    }
