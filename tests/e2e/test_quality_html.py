"""The HTML quality report opens in a real browser, offline, and shows what it should.

A real recording is damaged (a 60 s outage, a crossed book, a trade received
twice), replayed, and its report rendered by headless Chromium: the DOM must
hold the expected headings, every image must be an embedded ``data:`` PNG and
nothing may point outside the file; the screenshot must be a real picture.

Chromium is found at ``/usr/bin/chromium`` (or on PATH). When it is missing it
is installed once with apt-get, only as root and only when ``CI`` or
``COLLECTOR_INSTALL_CHROMIUM=1`` is set; otherwise the test is skipped, saying
so. ``COLLECTOR_UPDATE_SCREENSHOT=1`` also copies the screenshot to
``docs/quality-report.png``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support import CAPTURES, REPO_ROOT

from collector.quality.cli import main
from collector.replay import replay

RECORDING = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
S = 1_000_000_000
WINDOW = (1280, 2000)
HEADINGS = (
    "Data quality report",
    "Overall grade",
    "binance-usdm",
    "Symbols",
    "Holes",
    "Counts",
    "Latency",
    "Rates",
    "Spread and mid",
    "How the grade is computed",
)


def _install_chromium() -> str | None:
    """apt-get install chromium, bounded; the reason it was not done, or None when done."""
    if os.geteuid() != 0:
        return "not root"
    if not (os.environ.get("CI") or os.environ.get("COLLECTOR_INSTALL_CHROMIUM") == "1"):
        return "set CI or COLLECTOR_INSTALL_CHROMIUM=1 to let the test apt-get install it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run(cmd, check=True, capture_output=True, timeout=600, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"apt-get install chromium failed: {exc}"
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    def find() -> str | None:
        return next((p for p in ("/usr/bin/chromium",) if Path(p).exists()), None) or (
            shutil.which("chromium") or shutil.which("chromium-browser")
        )

    found = find()
    if found is None:
        why = _install_chromium()
        found = find()
        if found is None:
            pytest.skip(f"headless Chromium not available ({why or 'not found after install'})")
    return found


def _damaged(tmp: Path) -> Path:
    """The recording with an outage after 15 s, a crossed AKROUSDT book and a duplicate trade."""
    with gzip.open(RECORDING, "rt", encoding="utf-8") as fh:
        header, *lines = [json.loads(line) for line in fh]

    def is_frame(r: dict, symbol: str, event: str) -> bool:
        return (
            r["kind"] == "recv" and f'"s":"{symbol}"' in r["data"] and f'"e":"{event}"' in r["data"]
        )

    crossed = [i for i, r in enumerate(lines) if is_frame(r, "AKROUSDT", "depthUpdate")][60]
    frame = json.loads(lines[crossed]["data"])
    frame["data"]["b"].insert(0, ["1000.00000", "1"])
    lines[crossed]["data"] = json.dumps(frame, separators=(",", ":"))
    trade = [i for i, r in enumerate(lines) if is_frame(r, "KEEPUSDT", "aggTrade")][2]
    lines.insert(trade + 1, dict(lines[trade], ts=lines[trade]["ts"] + 1000))
    cut = lines[0]["ts"] + 15 * S
    for line in lines:
        if line["ts"] >= cut:  # everything, exchange times included, arrives 60 s later
            line["ts"] += 60 * S
            line["data"] = re.sub(
                r'"([ET])":(\d+)', lambda m: f'"{m[1]}":{int(m[2]) + 60_000}', line.get("data", "")
            )
    path = tmp / "damaged.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in [header, *lines])
    sidecar = RECORDING.with_name("BINANCE_FUTURES.instruments.jsonl.gz")
    if sidecar.exists():
        shutil.copy(sidecar, tmp / "damaged.instruments.jsonl.gz")
    return path


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(
    not RECORDING.exists(),
    reason=f"recording {RECORDING} not found (set COLLECTOR_CAPTURES to the shared captures)",
)
def test_html_report_in_headless_chromium(
    chromium: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay([_damaged(tmp_path)], tmp_path / "data")
    report = tmp_path / "report.html"
    monkeypatch.chdir(tmp_path)  # the page names the dataset as given: "data", not a tmp path
    assert main(["data", "--out", str(report), "--json"]) == 0
    html = report.read_text(encoding="utf-8")
    # Self-contained: every src/href is an embedded image or an anchor in the page.
    for url in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert url.startswith(("data:image/png;base64,", "#")), url
    assert "<link" not in html and "<script" not in html

    dom = _browser(chromium, tmp_path / "profile-dom", "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    headings = [
        re.sub(r"<[^>]+>", "", h).strip()
        for h in re.findall(r"<h[123][^>]*>(.*?)</h[123]>", dom.stdout)
    ]
    for expected in HEADINGS:
        assert any(h.startswith(expected) for h in headings), (expected, headings)
    images = re.findall(r"<img[^>]*>", dom.stdout)
    assert len(images) >= 4, "timeline, latency, rates and spread figures"
    assert all('src="data:image/png;base64,' in img for img in images)
    assert "out_of_sync (crossed_book)" in dom.stdout and "no_data" in dom.stdout

    shot = tmp_path / "report.png"
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    run = _browser(
        chromium, tmp_path / "profile-shot", f"--screenshot={shot}", size, report.as_uri()
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 50_000, "an almost empty picture"
    assert _png_size(shot) == WINDOW
    if os.environ.get("COLLECTOR_UPDATE_SCREENSHOT") == "1":
        (REPO_ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, REPO_ROOT / "docs" / "quality-report.png")
