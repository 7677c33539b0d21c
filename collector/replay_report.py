"""Terminal output of ``collector replay``: a progress bar and a summary table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.replay import ReplaySummary


@contextmanager
def progress(files: Sequence[Path], *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield a callback that advances a records counter shown on stderr."""
    if not enabled:
        yield lambda _n: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("replaying {task.fields[files]} file(s)"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=None, files=len(files))
        yield lambda n: bar.advance(task, n)


def print_summary(summary: ReplaySummary) -> None:
    # Piped output gets a fixed width that fits every column, not rich's 80.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    table = Table(title=f"replay -> {summary.out} ({summary.parquet_files} Parquet files)")
    for column in (
        "exchange",
        "symbol",
        "frames",
        "book rows",
        "trades",
        "gaps",
        "resyncs",
        "bbo checks",
        "synced",
    ):
        table.add_column(column, justify="left" if column in ("exchange", "symbol") else "right")
    for exchange, symbols in summary.by_exchange().items():
        for symbol, s in symbols.items():
            checks = f"{s.bbo_matched}/{s.bbo_matched + s.bbo_mismatched}"
            table.add_row(
                exchange,
                symbol,
                f"{s.frames:,}",
                f"{s.book_rows:,}",
                f"{s.trades:,}",
                str(s.gaps),
                str(s.resyncs),
                checks,
                "yes" if s.synced else "NO",
            )
    console.print(table)
    for f in summary.files:
        if f.resumed:
            console.print(f"{f.path}: {f.resumed:,} rows already published by an earlier replay")
        for problem, count in f.problems.items():
            console.print(f"[yellow]{f.path}: {count} x {problem}[/yellow]")
