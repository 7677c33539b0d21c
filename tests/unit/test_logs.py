"""Log formats: JSON lines a shipper can parse, text as before, and the status console path."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.logging import RichHandler

from collector.logs import setup_logging

ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    """setup_logging changes the process-wide root logger: put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_line_has_the_core_fields_and_extras() -> None:
    out = io.StringIO()
    setup_logging("json", stream=out)
    logging.getLogger("collector.test").info(
        "gap on %s", "BTCUSDT", extra={"symbol": "BTCUSDT", "update_id": 42, "path": Path("x")}
    )
    (line,) = lines(out)
    doc = json.loads(line)
    assert ISO_MS_UTC.match(doc["ts"]), doc["ts"]
    assert doc["level"] == "INFO"
    assert doc["logger"] == "collector.test"
    assert doc["msg"] == "gap on BTCUSDT"
    assert doc["symbol"] == "BTCUSDT" and doc["update_id"] == 42
    assert doc["path"] == "x"  # not JSON-serializable: written as text, never dropped


def test_json_exception_stays_one_line() -> None:
    out = io.StringIO()
    setup_logging("json", stream=out)
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("collector.test").exception("failed")
    (line,) = lines(out)
    doc = json.loads(line)
    assert doc["level"] == "ERROR" and doc["msg"] == "failed"
    assert "Traceback" in doc["exc"] and "ValueError: bad\nvalue" in doc["exc"]


def test_extra_cannot_overwrite_core_fields() -> None:
    out = io.StringIO()
    setup_logging("json", stream=out)
    logging.getLogger("collector.test").warning("m", extra={"level": "fake", "ts": "fake"})
    doc = json.loads(lines(out)[0])
    assert doc["level"] == "WARNING" and doc["ts"] != "fake"


def test_text_format_is_unchanged() -> None:
    out = io.StringIO()
    setup_logging("text", stream=out)
    logging.getLogger("collector.test").warning("hello %d", 5)
    (line,) = lines(out)
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING collector.test: hello 5$", line)


def test_level_and_replacing_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("text", stream=first)
    setup_logging("json", level="WARNING", stream=second)
    log = logging.getLogger("collector.test")
    log.info("dropped")
    log.warning("kept")
    assert lines(first) == []  # the first handler was replaced, not kept alongside
    assert [json.loads(line)["msg"] for line in lines(second)] == ["kept"]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        setup_logging("xml")  # type: ignore[arg-type]


def test_status_console_text_goes_through_rich() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    handler = setup_logging("text", console=console)
    assert isinstance(handler, RichHandler) and handler.console is console
    logging.getLogger("collector.test").warning("through the console")
    assert "through the console" in out.getvalue()


def test_status_console_json_lines_are_never_wrapped() -> None:
    out = io.StringIO()
    console = Console(file=out, width=30, force_terminal=False)  # narrower than a line
    setup_logging("json", console=console)
    logging.getLogger("collector.test").info("x" * 80, extra={"symbol": "BTCUSDT"})
    (line,) = lines(out)
    assert json.loads(line)["msg"] == "x" * 80


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_run_log_format_json(tmp_path: Path) -> None:
    """``collector run --log-format json``: every stderr line from start to stop parses."""
    dead = f"127.0.0.1:{_free_port()}"  # nothing listens: connects fail and are logged
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[output]\ndir = "{tmp_path / "data"}"\n[capture]\nenabled = false\n'
        '[daemon]\nuvloop = false\n[metrics]\nlisten = "127.0.0.1:0"\n'
        '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n'
        f'rewrite = {{ "wss://fstream.binance.com" = "ws://{dead}/u", '
        f'"https://fapi.binance.com" = "http://{dead}/u" }}\n'
    )
    err = tmp_path / "stderr"
    cmd = [sys.executable, "-m", "collector.cli", "run", "--config", str(cfg)]
    with err.open("w") as f:
        proc = subprocess.Popen(
            [*cmd, "--log-format", "json"], stderr=f, cwd=REPO, env={**os.environ}
        )
        try:
            deadline = time.monotonic() + 6
            while "connect failed" not in err.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=6) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    docs = [json.loads(line) for line in err.read_text().splitlines() if line]
    msgs = [d["msg"] for d in docs]
    assert any(m.startswith("collector running") for m in msgs), msgs
    assert any("connect failed" in m for m in msgs), msgs
    assert any(m.startswith("stopped:") for m in msgs), msgs
    assert {"ts", "level", "logger", "msg"} <= set(docs[0])
