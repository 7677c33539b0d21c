"""An offline run says "no network?" once per host, not a repr per retry (issue 15 item 8).

Hosts under ``.invalid`` never resolve (RFC 6761), so these tests see exactly
what a machine without network sees, whether or not this one has any.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collector.quality import build_report
from collector.transport import neterrors
from collector.transport.rest import RestClient
from collector.transport.retry import Backoff

CONFIG = """
[output]
dir = "{root}/data"
[capture]
dir = "{root}/data/capture"
[metrics]
listen = "127.0.0.1:0"
[[exchange]]
name = "binance-spot"
symbols = ["BTCUSDT", "ETHUSDT"]
channels = ["book", "bbo", "trades"]
rewrite = {{ "wss://stream.binance.com:9443" = "wss://stream.binance.invalid", \
"https://api.binance.com" = "https://api.binance.invalid" }}
"""


def test_rest_client_says_it_once(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        client = RestClient(backoff=Backoff(base=0.01, cap=0.02))
        try:
            for _ in range(2):
                with pytest.raises(OSError):
                    await client.get("https://api.unreachable.invalid/x", max_attempts=3)
        finally:
            await client.close()

    neterrors.reached("https://api.unreachable.invalid/")  # fresh, whatever ran before
    caplog.set_level(logging.DEBUG, logger="collector")
    asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == ["cannot resolve api.unreachable.invalid: no network? (retrying quietly)"]
    assert sum("cannot resolve" in r.getMessage() for r in caplog.records) == 4  # 2 x 2 retries


def test_offline_daemon_logs_one_line_per_host(tmp_path: Path) -> None:
    config = tmp_path / "offline.toml"
    config.write_text(CONFIG.format(root=tmp_path))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)  # instrument lists (3 attempts) and several websocket reconnects
    daemon.send_signal(signal.SIGTERM)
    _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err[-2000:]
    lines = err.splitlines()
    for host in ("api.binance.invalid", "stream.binance.invalid"):
        said = [line for line in lines if f"cannot resolve {host}: no network?" in line]
        assert len(said) == 1 and " ERROR " in said[0], said
    assert sum("connect failed" in line for line in lines) == 0
    assert "DNSError" not in err and "gaierror" not in err and "ConnectionKey" not in err
    assert max(map(len, lines)) < 300
    data = tmp_path / "data"
    assert not list(data.glob("table=*/exchange=*/date=1970-*"))
    if (data / "table=quality").is_dir():  # whatever it wrote spans this run, not 1970 on
        report, _ = build_report(data)
        for ex in report.exchanges:
            assert ex.last_ns - ex.first_ns < 60 * 10**9
