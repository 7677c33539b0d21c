"""Terminal output of ``collector quality``: a progress bar and one table per exchange.

The table answers "can I use this?" at a glance (grade, coverage, incidents,
latency per symbol); the reasons under it say why a grade is not an A, and the
longest holes say where. Everything else is in ``--json`` and the HTML.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.quality.model import ExchangeReport, Hole, Report, iso

#: Holes listed per exchange in the terminal (longest first); --json has all of them.
MAX_HOLES = 10
GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "red", "F": "bold red"}


@contextmanager
def progress(steps: int, *, enabled: bool) -> Iterator[Callable[[str], None]]:
    """Yield a callback taking the name of the query about to run; drawn on stderr."""
    if not enabled:
        yield lambda _name: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("scanning: {task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=steps)
        started = False

        def step(name: str) -> None:
            nonlocal started
            if started:
                bar.advance(task)
            started = True
            bar.update(task, description=name)

        yield step
        bar.update(task, completed=steps)


def seconds(value: float | None) -> str:
    """A duration short enough for a table cell: 850 ms, 2.10 s, 3.5 min, 2.0 h."""
    if value is None:
        return "-"
    size = abs(value)
    if size < 1:
        return f"{value * 1000:.0f} ms"
    if size < 120:
        return f"{value:.2f} s"
    if size < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def short_time(ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm`` UTC: enough to find a hole, short enough to read."""
    text = iso(ns) or ""
    return text[:10] + " " + text[11:23]


def _grade(letter: str) -> str:
    return f"[{GRADE_STYLE[letter]}]{letter}[/]"


def exchange_table(ex: ExchangeReport) -> Table:
    table = Table(
        title=f"{ex.exchange}  grade {_grade(ex.grade)}  "
        f"{short_time(ex.first_ns)} -> {short_time(ex.last_ns)} UTC",
        title_justify="left",
    )
    columns = (
        "symbol", "covered", "coverage", "holes", "gaps", "resyncs", "crossed", "bbo mism.",
        "malformed", "dup. trades", "checksum", "latency p50/p99", "clock skew", "grade",
    )  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name == "symbol" else "right")
    for s in ex.symbols:
        c = s.counts
        checksum = f"{s.checksum_mismatches} bad, " + (
            "n/a" if s.checksum_pass_rate is None else f"{s.checksum_pass_rate:.2%}"
        )
        table.add_row(
            s.symbol,
            seconds(s.span_s),
            f"{s.coverage_pct:.2f}%",
            f"{len(s.holes)} / {seconds(s.holes_s)}" if s.holes else "0",
            str(c["gap"]),
            str(c["resync"]),
            str(c["crossed_book"]),
            str(c["bbo_mismatch"]),
            str(c["malformed"]),
            str(s.duplicate_trades),
            checksum,
            f"{seconds(s.latency.p50_s)} / {seconds(s.latency.p99_s)}",
            str(s.latency.negative),
            _grade(s.grade),
        )
    return table


def holes_table(ex: ExchangeReport) -> Table | None:
    listed: list[tuple[str, Hole]] = [("(all)", hole) for hole in ex.downtime]
    listed += [(s.symbol, hole) for s in ex.symbols for hole in s.holes]
    if not listed:
        return None
    listed.sort(key=lambda item: -item[1].duration_s)
    more = len(listed) - MAX_HOLES
    table = Table(
        title=f"holes of {ex.exchange}, longest first"
        + (f" ({more} more in --json)" if more > 0 else ""),
        title_justify="left",
    )
    for name in ("symbol", "start (UTC)", "end (UTC)", "duration", "cause", "detail"):
        table.add_column(name, justify="right" if name == "duration" else "left")
    for symbol, hole in listed[:MAX_HOLES]:
        cause = hole.cause + (f" ({hole.trigger})" if hole.trigger else "")
        table.add_row(
            symbol,
            short_time(hole.start_ns),
            short_time(hole.end_ns),
            seconds(hole.duration_s),
            cause,
            escape(hole.detail[:80]),
        )
    return table


def print_report(report: Report, console: Console | None = None) -> None:
    if console is None:  # piped output gets a width that fits every column, not rich's 80
        console = Console() if sys.stdout.isatty() else Console(width=180)
    if not report.exchanges:
        console.print(f"[yellow]no data found in {report.dataset}[/yellow]")
        return
    console.print(
        f"data quality of [bold]{escape(report.dataset)}[/bold]: grade {_grade(report.grade)} "
        f"(holes: no row for > {report.hole_seconds:g} s, book out of sync, disconnected)"
    )
    for ex in report.exchanges:
        console.print()
        console.print(exchange_table(ex))
        if ex.events:
            events = ", ".join(f"{k} {v}" for k, v in sorted(ex.events.items()))
            console.print(f"connection-wide events: {events}")
        for reason in ex.reasons:
            console.print(f"  - {escape(reason)}", highlight=False)
        holes = holes_table(ex)
        if holes is not None:
            console.print(holes)
