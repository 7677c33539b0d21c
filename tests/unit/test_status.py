"""The status table, rendered from a real (not running) daemon whose figures we set.

A daemon that was built but never started has the exact objects the view reads
(runners, supervisors, engines), so these tests need no sockets and no terminal;
the running case is in tests/e2e/test_observability.py.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest
from rich.console import Console
from rich.table import Table

from collector.adapter import ConnectionPlan, Subscription
from collector.book.state import SyncState
from collector.config import Config, parse_config
from collector.daemon import Daemon
from collector.status import frame_counts, render, run_status, stream_label

USDM = "binance-usdm"


def config(tmp_path: Path, symbols: list[str]) -> Config:
    return parse_config(
        f'[output]\ndir = "{tmp_path / "data"}"\n'
        f'[capture]\nenabled = false\n[metrics]\nlisten = "127.0.0.1:0"\n'
        f'[[exchange]]\nname = "{USDM}"\nsymbols = {symbols!r}\n'.replace("'", '"'),
        "test",
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(config(tmp_path, ["BTCUSDT", "ETHUSDT"]))
    yield d
    for runner in d.runners:
        asyncio.run(runner.close())
    d.sink.close()


def rows(table: Table) -> list[dict[str, str]]:
    """The table as plain text cells, one dict per row keyed by column header."""
    columns = [(str(c.header), [str(cell) for cell in c.cells]) for c in table.columns]
    return [{h: cells[i] for h, cells in columns} for i in range(table.row_count)]


def test_one_row_per_connection_plan(daemon: Daemon) -> None:
    table = render(daemon, {}, now=100.0)
    supervisors = daemon.runners[0].supervisors
    assert len(supervisors) == 2  # USD-M: depth + bookTicker on /public, trades on /market
    got = rows(table)
    assert [r["exchange"] for r in got] == [USDM, USDM]
    assert got[0]["stream"] == "btcusdt@depth@100ms +3"
    assert got[1]["stream"] == "btcusdt@trade +1"
    assert [r["state"] for r in got] == ["stopped", "stopped"]  # not started yet
    assert got[0]["last msg"] == "never"
    assert got[0]["msgs/s"] == "-"  # no previous reading: no made-up rate


def test_rate_from_counter_deltas_and_age(daemon: Daemon) -> None:
    book, trades = daemon.runners[0].supervisors
    before = frame_counts(daemon, now=10.0)
    book.frames, trades.frames = 150, 7
    book.last_frame_monotonic = 11.5
    book.state = "open"
    previous = MappingProxyType({**before, (USDM, 0): (10.0, 100)})
    got = rows(render(daemon, previous, now=12.0))
    assert got[0]["msgs/s"] == "25.0"  # 50 frames in 2 s
    assert got[1]["msgs/s"] == "3.5"  # 7 frames in 2 s
    assert got[0]["last msg"] == "0.5 s"
    assert got[0]["state"] == "open"
    book.last_frame_monotonic = 12.0 - 300
    assert rows(render(daemon, previous, now=12.0))[0]["last msg"] == "5 min"


def test_book_health_of_the_plan_symbols(daemon: Daemon) -> None:
    engine = daemon.runners[0].pipeline.engine
    btc = engine._add("BTCUSDT")
    btc.state = SyncState.SYNCED
    btc.stats.gaps, btc.stats.resyncs = 2, 3
    # ETHUSDT has sent nothing yet: it is not in the engine and counts as not synced.
    got = rows(render(daemon, {}, now=1.0))
    assert (got[0]["books synced"], got[0]["gaps"], got[0]["resyncs"]) == ("1/2", "2", "3")
    eth = engine._add("ETHUSDT")
    eth.state = SyncState.SYNCED
    eth.stats.gaps = 1
    got = rows(render(daemon, {}, now=1.0))
    assert (got[0]["books synced"], got[0]["gaps"]) == ("2/2", "3")
    # The trades connection carries no book: it is not blamed for one.
    assert (got[1]["books synced"], got[1]["gaps"], got[1]["resyncs"]) == ("-", "-", "-")


def test_render_does_not_touch_its_inputs(daemon: Daemon) -> None:
    previous = MappingProxyType({(USDM, 0): (1.0, 0)})  # read-only: a write would raise
    render(daemon, previous, now=2.0)
    assert daemon.runners[0].supervisors[0].frames == 0


def test_caption_names_files_rows_and_metrics(daemon: Daemon) -> None:
    daemon.metrics.port = 9999
    table = render(daemon, {}, now=1.0)
    assert "files published 0" in str(table.caption)
    assert "http://127.0.0.1:9999/metrics" in str(table.caption)


def test_stream_label_without_a_stream_list() -> None:
    """Venues that subscribe by message have no ``streams=`` in the URL."""
    subs = [Subscription("BTC-USD", "book"), Subscription("ETH-USD", "trades")]
    plan = ConnectionPlan("wss://example.test/ws", ["{}"], subs, 10.0, 86400.0)
    assert stream_label(plan) == "btc-usd@book +1"
    assert stream_label(ConnectionPlan("wss://example.test/ws", [], [], 10.0, 1.0)) == "-"


def test_run_status_draws_until_cancelled(daemon: Daemon) -> None:
    """Off a terminal rich draws once, when the view stops: the final table."""
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)

    async def main() -> None:
        task = asyncio.create_task(run_status(daemon, console, refresh_s=0.05))
        await asyncio.sleep(0.2)
        assert not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(asyncio.wait_for(main(), 5))
    text = out.getvalue()
    assert "btcusdt@depth@100ms +3" in text and "books synced" in text


def test_run_status_failure_does_not_raise(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the view ends the view, logged, never the daemon's task group."""

    def broken(*_: object) -> Table:
        raise RuntimeError("boom")

    monkeypatch.setattr("collector.status.render", broken)
    console = Console(file=io.StringIO(), force_terminal=False)
    asyncio.run(asyncio.wait_for(run_status(daemon, console, refresh_s=0.01), 5))
    assert "status view failed" in caplog.text
