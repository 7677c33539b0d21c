"""In-band venues resync by reconnecting: at most once per window, never for a book back in sync."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector import daemon as daemon_module
from collector.book.state import SyncState
from collector.config import parse_config
from collector.daemon import Daemon, ExchangeRunner


def bitmex_runner(tmp_path: Path) -> tuple[Daemon, ExchangeRunner, list[str]]:
    config = parse_config(
        f'[output]\ndir = "{tmp_path}"\n[capture]\nenabled = false\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n[[exchange]]\nname = "bitmex"\n'
        'symbols = ["XBTUSD", "ETHUSD"]\nchannels = ["book"]\n',
        "test",
    )
    daemon = Daemon(config)
    runner = daemon.runners[0]
    reasons: list[str] = []
    for supervisor in runner.supervisors:
        supervisor.reconnect_now = reasons.append  # type: ignore[method-assign]
    return daemon, runner, reasons


def test_requests_inside_the_window_wait_and_skip_books_back_in_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon_module, "RESUBSCRIBE_MIN_S", 0.3)
    daemon, runner, reasons = bitmex_runner(tmp_path)
    assert runner.adapter.snapshot_request("XBTUSD") is None  # in-band venue
    engine = runner.pipeline.engine

    async def main() -> None:
        await runner._fetch("XBTUSD")
        assert len(reasons) == 1  # reconnected at once
        started = asyncio.get_running_loop().time()
        await runner._fetch("ETHUSD")  # same connection, inside the window: waits
        assert len(reasons) == 2
        assert asyncio.get_running_loop().time() - started >= 0.25
        engine.request_snapshot("XBTUSD")
        engine.symbols["XBTUSD"].state = SyncState.SYNCED  # the last reconnect resynced it
        await runner._fetch("XBTUSD")
        assert len(reasons) == 2  # nothing to do any more

    try:
        asyncio.run(main())
    finally:
        daemon.sink.close()
    assert all("resync" in r for r in reasons)
