"""Every command ends in one line and exit 2, never a traceback, on a path it cannot write.

Tests run as root, for whom permission bits stop nothing. What does stop root, and is
used here: a path under a regular file (ENOTDIR / EEXIST), a folder made immutable with
``chattr +i`` (EPERM; skipped where the filesystem does not support it) and ``/sys``,
whose root refuses new entries (EPERM).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import CAPTURES, needs_captures

from collector.cli import main

SPOT = CAPTURES / "binance-spot" / "BINANCE.jsonl.gz"


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "immutable"
    folder.mkdir()
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def unwritable(kind: str, tmp_path: Path, immutable_dir: Path | None) -> Path:
    if kind == "under a file":
        plain = tmp_path / "plain-file"
        plain.write_text("x")
        return plain / "out"
    if kind == "/sys":
        if not os.path.ismount("/sys"):
            pytest.skip("/sys is not mounted here")
        return Path("/sys/collector-test-out")
    assert immutable_dir is not None
    return immutable_dir / "out"


def one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("collector: ")
    return line


@needs_captures
@pytest.mark.parametrize("kind", ["under a file", "/sys", "immutable"])
def test_replay_out_that_cannot_be_written(kind: str, tmp_path: Path, capsys, request) -> None:
    folder = request.getfixturevalue("immutable") if kind == "immutable" else None
    out = unwritable(kind, tmp_path, folder)
    line = one_line_error(capsys, main(["replay", str(SPOT), "--out", str(out)]))
    assert any(str(p) in line for p in (out, *out.parents[:1]))


@needs_captures
@pytest.mark.parametrize("kind", ["under a file", "immutable"])
def test_quality_out_that_cannot_be_written(kind: str, tmp_path: Path, capsys, request) -> None:
    assert main(["replay", str(SPOT), "--out", str(tmp_path / "ds"), "--json"]) == 0
    capsys.readouterr()
    folder = request.getfixturevalue("immutable") if kind == "immutable" else None
    report = unwritable(kind, tmp_path, folder).with_suffix(".html")
    code = main(["quality", str(tmp_path / "ds"), "--out", str(report)])
    line = one_line_error(capsys, code)
    assert str(report.parent) in line
