"""Facts -> report: holes, coverage, counts and grades per exchange and symbol.

The one entry point for programs is ``build_report``; the command line, the
terminal view, the JSON and the HTML all render the ``Report`` it returns, so
they can never disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from collector.quality import holes as h
from collector.quality.facts import DATA_TABLES, ExchangeFacts, SymbolFacts
from collector.quality.grade import grade_report
from collector.quality.model import COUNTED_KINDS, ExchangeReport, Report, SymbolReport


def _counts(events: Sequence[h.Event]) -> dict[str, int]:
    seen = Counter(SHUTDOWN if h.orderly(ev) else ev.kind for ev in events)
    counts = {kind: seen.get(kind, 0) for kind in COUNTED_KINDS}
    counts.update({k: v for k, v in seen.items() if k not in counts and k not in _NOT_COUNTED})
    return counts


#: How an orderly shutdown's ``disconnect`` is counted: shown, never graded.
SHUTDOWN = "shutdown"
#: Normal life of a connection and a book: not problems, not counted.
_NOT_COUNTED = frozenset({"connect", "synced"})


def build_symbol(
    symbol: str, facts: SymbolFacts, downtime: list, threshold_ns: int
) -> SymbolReport:
    first = facts.first_ns if facts.first_ns is not None else 0
    last = facts.last_ns if facts.last_ns is not None else first
    holes = [
        *h.silence_holes(
            facts.silences, facts.data_first, facts.data_last, first, last, threshold_ns
        ),
        *h.out_of_sync_holes(facts.events, first, last, facts.snapshots),
        *h.clip(downtime, first, last),
    ]
    holes.sort(key=lambda hole: (hole.start_ns, hole.end_ns))
    counts = _counts(facts.events)
    return SymbolReport(
        symbol=symbol,
        market=facts.market,
        first_ns=first,
        last_ns=last,
        rows={t: facts.rows.get(t, 0) for t in (*DATA_TABLES, "quality")},
        holes=holes,
        holes_s=h.union_ns(holes) / 1e9,
        coverage_pct=h.coverage_pct(holes, first, last),
        counts=counts,
        checksum_mismatches=counts["checksum_mismatch"],
        # The dataset records failures only, never how many checksums passed.
        checksum_pass_rate=None,
        latency=facts.latency,
        latency_by_table={
            t: facts.latency_by_table[t] for t in DATA_TABLES if t in facts.latency_by_table
        },
        duplicate_trades=facts.duplicate_trades,
        duplicate_trade_ids=facts.duplicate_trade_ids,
        spread=facts.spread,
        spread_series=facts.spread_series,
    )


def build_exchange(exchange: str, facts: ExchangeFacts, threshold_ns: int) -> ExchangeReport:
    downtime = h.downtime_holes(facts.events, facts.last_ns)
    symbols = [
        build_symbol(symbol, sym, downtime, threshold_ns)
        for symbol, sym in sorted(facts.symbols.items())
    ]
    events = {k: v for k, v in _counts(facts.events).items() if v}
    return ExchangeReport(
        exchange=exchange,
        first_ns=facts.first_ns,
        last_ns=facts.last_ns,
        symbols=symbols,
        events=events,
        downtime=downtime,
        rates=facts.rates,
    )


def build_report(
    dataset: Path,
    *,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
    hole_seconds: float = 5.0,
    on_step: Callable[[str], None] | None = None,
) -> tuple[Report, dict[str, ExchangeFacts]]:
    """Scan ``dataset`` and return the graded report, plus the facts the plots need."""
    from collector.quality.scan import Scanner

    threshold_ns = int(hole_seconds * 1e9)
    with closing(Scanner(dataset, exchanges, symbols)) as scanner:
        facts = scanner.scan(hole_seconds, on_step)
    report = Report(
        dataset=str(dataset),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        hole_seconds=hole_seconds,
        filters={"exchange": list(exchanges), "symbol": list(symbols)},
        exchanges=[build_exchange(x, f, threshold_ns) for x, f in sorted(facts.items())],
    )
    grade_report(report)
    return report, facts
