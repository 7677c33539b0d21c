"""``collector run --status``: a live terminal table of every stream and its books.

One row per connection plan (an exchange can have several: Binance futures
keeps book and trade streams on different endpoints), because that is the unit
that fails: a connection drops, stalls or reconnects as a whole. Each row says
whether the connection is up (``WsSupervisor.state``), whether data flows
(messages per second, age of the last message) and whether the books it carries
are trustworthy (how many are in sync, gaps and resyncs so far).

:func:`render` is a pure function of the daemon's live objects, the previous
frame counts and the clock, so it is tested without a terminal;
:func:`run_status` only redraws it. Everything is read on the event loop, the
same thread that mutates it, so no figure is ever half-updated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from collector.adapter import ConnectionPlan

if TYPE_CHECKING:
    from collector.daemon import Daemon, ExchangeRunner
    from collector.transport.ws import WsSupervisor

log = logging.getLogger(__name__)

#: Redraw period: twice a second is fluid enough for a human and costs nothing.
REFRESH_S = 0.5

#: A stream is identified by its exchange and the index of its plan in that runner.
StreamKey = tuple[str, int]
#: What a rate is computed from: (monotonic time of the reading, frames counted by then).
FrameCount = tuple[float, int]

_STATE_STYLE = {"open": "green", "connecting": "yellow", "backoff": "yellow", "stopped": "red"}


def streams(daemon: Daemon) -> Iterator[tuple[StreamKey, ExchangeRunner, WsSupervisor]]:
    """Every supervised connection of ``daemon`` in a stable order, with its key."""
    for runner in daemon.runners:
        for i, supervisor in enumerate(runner.supervisors):
            yield (runner.cfg.name, i), runner, supervisor


def frame_counts(daemon: Daemon, now: float) -> dict[StreamKey, FrameCount]:
    """The readings the next :func:`render` needs to turn frame totals into rates."""
    return {key: (now, supervisor.frames) for key, _, supervisor in streams(daemon)}


def stream_label(plan: ConnectionPlan) -> str:
    """A short name for a connection: its first stream and how many more it carries.

    Binance names streams in the URL (``?streams=a/b/c``); venues that subscribe
    by message have no such list, so their subscriptions are named instead.
    """
    names = parse_qs(urlsplit(plan.url).query).get("streams", [""])[0].split("/")
    names = [n for n in names if n]
    if not names:
        names = [f"{s.symbol.lower()}@{s.channel}" for s in plan.subscriptions]
    if not names:
        return "-"
    return names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}"


def render(daemon: Daemon, previous_counts: Mapping[StreamKey, FrameCount], now: float) -> Table:
    """The status table of ``daemon`` at monotonic time ``now``.

    ``previous_counts`` (from :func:`frame_counts` at the last redraw) turns the
    supervisors' cumulative frame counters into messages per second; a stream
    without a previous reading shows no rate rather than a made-up one.
    """
    table = Table(title="collector", title_justify="left", expand=False)
    table.add_column("exchange", no_wrap=True)
    table.add_column("stream", overflow="ellipsis", max_width=40, no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("msgs/s", justify="right", no_wrap=True)
    table.add_column("last msg", justify="right", no_wrap=True)
    table.add_column("books synced", justify="right", no_wrap=True)
    table.add_column("gaps", justify="right", no_wrap=True)
    table.add_column("resyncs", justify="right", no_wrap=True)

    for key, runner, supervisor in streams(daemon):
        books = _books(runner, supervisor.plan)
        table.add_row(
            runner.cfg.name,
            stream_label(supervisor.plan),
            Text(supervisor.state, style=_STATE_STYLE.get(supervisor.state, "")),
            _rate(previous_counts.get(key), supervisor.frames, now),
            _age(supervisor.last_frame_monotonic, now),
            *books,
        )
    table.caption = _caption(daemon)
    table.caption_justify = "left"
    return table


def _books(runner: ExchangeRunner, plan: ConnectionPlan) -> tuple[Text, str, str]:
    """Synced/total, gaps and resyncs of the books this connection carries.

    Only ``book`` subscriptions count: a trades-only connection carries no book,
    and showing one there would blame the wrong connection for a gap. A symbol
    that has sent nothing yet is not in the engine and counts as not synced.
    """
    symbols = [s.symbol for s in plan.subscriptions if s.channel == "book"]
    if not symbols:
        return Text("-", style="dim"), "-", "-"
    engine_symbols = runner.pipeline.engine.symbols
    synced = gaps = resyncs = 0
    for symbol in symbols:
        sync = engine_symbols.get(symbol)
        if sync is None:
            continue
        synced += sync.state.value == "synced"
        gaps += sync.stats.gaps
        resyncs += sync.stats.resyncs
    style = "green" if synced == len(symbols) else "red"
    return Text(f"{synced}/{len(symbols)}", style=style), str(gaps), str(resyncs)


def _rate(previous: FrameCount | None, frames: int, now: float) -> str:
    if previous is None:
        return "-"
    then, before = previous
    elapsed = now - then
    if elapsed <= 0:
        return "-"
    return f"{max(0, frames - before) / elapsed:,.1f}"


def _age(last_frame: float | None, now: float) -> Text:
    """Seconds since the last message; red when it looks stalled (over 5 s)."""
    if last_frame is None:
        return Text("never", style="dim")
    age = max(0.0, now - last_frame)
    if age < 10:
        text = f"{age:.1f} s"
    elif age < 120:
        text = f"{age:.0f} s"
    else:
        text = f"{age // 60:.0f} min"
    return Text(text, style="red" if age > 5 else "")


def _caption(daemon: Daemon) -> str:
    buffered = sum(r.pipeline.out.pending_rows for r in daemon.runners)
    parts = [
        f"files published {daemon.sink.files_published}",
        f"rows buffered {buffered:,}",
    ]
    if daemon.metrics.port is not None:
        host = daemon.config.metrics.listen.rpartition(":")[0]
        parts.append(f"metrics http://{host}:{daemon.metrics.port}/metrics")
    return "  ·  ".join(parts)


async def run_status(daemon: Daemon, console: Console, refresh_s: float = REFRESH_S) -> None:
    """Redraw the table every ``refresh_s`` until cancelled (the daemon's shutdown).

    Redrawn from the event loop, not rich's refresh thread, so nothing is read
    while the loop is changing it. A failure here is logged and ends the view
    only: a broken status display must never take the collector down with it.
    """
    previous: dict[StreamKey, FrameCount] = {}
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            now = time.monotonic()
            try:
                live.update(render(daemon, previous, now), refresh=True)
            except Exception:
                log.exception("status view failed; the collector keeps running without it")
                return
            previous = frame_counts(daemon, now)
            await asyncio.sleep(refresh_s)
