"""The health grade: one letter A-F and the findings behind it.

Rubric. Each check below gives a letter; a symbol's grade is the **worst**
letter of its checks, an exchange's the worst of its symbols and its
connection-wide checks, the dataset's the worst of its exchanges. Every check
that is not an A becomes a reason, worst first, so a grade is always explained
by the numbers that set it.

=====================  =======  ==========  ==========  ==========  ========
check                  A        B           C           D           F
=====================  =======  ==========  ==========  ==========  ========
coverage               >= 99.9% >= 99%      >= 95%      >= 80%      < 80%
book incidents [1]     0        1-2         3-9         >= 10
p99 latency            < 1 s    < 2 s       < 10 s      < 60 s      >= 60 s
clock skew [2]         0        <= 1%       > 1%
duplicate trades       0        <= 1%       > 1%
operational [3]        0        >= 1
no rows at all [4]                                                  yes
=====================  =======  ==========  ==========  ==========  ========

[1] gaps + crossed books + bbo mismatches + checksum mismatches + malformed
    book updates: each one means the book was wrong or unknown for a while
    (that while is already in coverage; the count says how often).
[2] share of messages whose ``ts_recv`` is before their ``ts_exchange``: the
    local clock runs behind the exchange's, so every latency is understated.
[3] rate_limited, stale, drift, exchange_error, buffer_overflow, ignored
    duplicate book updates, disconnects, and malformed frames not tied to a
    symbol: the collector coped, but someone should look. A connection the
    collector closed itself when it stopped is an orderly ``shutdown``, listed
    but not graded.
[4] a symbol with quality events but no data row (any table but quality); likewise an
    exchange with no such symbol, and a dataset (or filter) with no data.

Coverage is 100% minus the union of the holes (no data, out of sync,
disconnected) over the covered time, so one incident is never counted twice
in it. A quality row stamped before 2009 (an unset clock: 0 lands in a 1970
partition) counts from the dataset's first real row on, so it opens no hole.
The thresholds are deliberately round: a reader should be able to recompute a
grade from the report's own table.
"""

from __future__ import annotations

from typing import NamedTuple

from collector.quality.facts import DATA_TABLES
from collector.quality.model import ExchangeReport, Report, SymbolReport

GRADES = "ABCDF"
INCIDENT_KINDS = ("gap", "crossed_book", "bbo_mismatch", "checksum_mismatch", "malformed")
OPERATIONAL_KINDS = (
    "rate_limited",
    "stale",
    "drift",
    "exchange_error",
    "buffer_overflow",
    "duplicate",
    "disconnect",
)
#: At most this many reasons are listed for an exchange or the dataset.
MAX_REASONS = 8


class Finding(NamedTuple):
    grade: str
    reason: str


def worst(grades: list[str]) -> str:
    return max(grades, key=GRADES.index, default="A")


def _pct(value: float) -> str:
    return f"{value:.2f}%" if value >= 99 else f"{value:.1f}%"


#: The limits of A, B, C and D; past the last one it is an F.
COVERAGE_PCT = (99.9, 99.0, 95.0, 80.0)  # at least
P99_LATENCY_S = (1, 2, 10, 60)  # below


def _band(value: float, limits: tuple[float, ...], at_least: bool) -> tuple[str, float | None]:
    """The letter of ``value`` and the limit it missed to be one letter better."""
    for i, limit in enumerate(limits):
        if (value >= limit) if at_least else (value < limit):
            return GRADES[i], limits[i - 1] if i else None
    return "F", limits[-1]


def coverage(pct: float) -> Finding:
    letter, missed = _band(pct, COVERAGE_PCT, at_least=True)
    return Finding(letter, f"coverage {_pct(pct)} (< {missed:g}%)" if missed else "")


_NAMES = {
    "gap": ("gap", "gaps"),
    "crossed_book": ("crossed book", "crossed books"),
    "bbo_mismatch": ("bbo mismatch", "bbo mismatches"),
    "checksum_mismatch": ("checksum mismatch", "checksum mismatches"),
    "malformed": ("malformed book update", "malformed book updates"),
    "rate_limited": ("rate-limited request", "rate-limited requests"),
    "stale": ("stale stream", "stale streams"),
    "drift": ("unknown frame (drift)", "unknown frames (drift)"),
    "exchange_error": ("exchange error", "exchange errors"),
    "buffer_overflow": ("buffer overflow", "buffer overflows"),
    "duplicate": ("duplicate book update", "duplicate book updates"),
    "disconnect": ("disconnect", "disconnects"),
    "malformed_frame": ("malformed frame", "malformed frames"),
}


def _plural(n: int, kind: str) -> str:
    one, many = _NAMES.get(kind, (kind.replace("_", " "),) * 2)
    return f"{n} {one if n == 1 else many}"


def incidents(counts: dict[str, int]) -> Finding:
    total = sum(counts.get(k, 0) for k in INCIDENT_KINDS)
    grade = "A" if total == 0 else "B" if total <= 2 else "C" if total <= 9 else "D"
    parts = [_plural(counts[k], k) for k in INCIDENT_KINDS if counts.get(k)]
    return Finding(grade, ", ".join(parts))


def latency(p99_s: float | None) -> Finding:
    if p99_s is None:
        return Finding("A", "")
    letter, missed = _band(p99_s, P99_LATENCY_S, at_least=False)
    return Finding(letter, f"p99 latency {p99_s:.2f} s (>= {missed:g} s)" if missed else "")


def clock_skew(negative: int, samples: int) -> Finding:
    if not negative:
        return Finding("A", "")
    share = 100.0 * negative / samples
    grade = "B" if share <= 1 else "C"
    return Finding(
        grade,
        f"clock skew: {negative} of {samples} messages ({share:.1f}%) received before "
        "their exchange time",
    )


def duplicate_trades(extra: int, trades: int) -> Finding:
    if not extra:
        return Finding("A", "")
    grade = "B" if trades and 100.0 * extra / trades <= 1 else "C"
    return Finding(grade, f"{extra} duplicate trade{'s' * (extra != 1)} (same trade_id)")


def operational(counts: dict[str, int], extra_malformed: int = 0) -> Finding:
    parts = [_plural(counts[k], k) for k in OPERATIONAL_KINDS if counts.get(k)]
    if extra_malformed:
        parts.append(_plural(extra_malformed, "malformed_frame"))
    return Finding("B" if parts else "A", ", ".join(parts))


def _apply(findings: list[Finding]) -> tuple[str, list[str]]:
    bad = sorted((f for f in findings if f.grade != "A"), key=lambda f: -GRADES.index(f.grade))
    return worst([f.grade for f in findings]), [f"{f.reason} [{f.grade}]" for f in bad]


def grade_symbol(sym: SymbolReport) -> None:
    """Set ``grade`` and ``reasons`` of one symbol from its numbers."""
    findings = [
        coverage(sym.coverage_pct),
        incidents(sym.counts),
        latency(sym.latency.p99_s),
        clock_skew(sym.latency.negative, sym.latency.samples),
        duplicate_trades(sym.duplicate_trades, sym.rows.get("trades", 0)),
        operational({k: v for k, v in sym.counts.items() if k != "disconnect"}),
    ]
    if not any(sym.rows.get(t) for t in DATA_TABLES):
        findings.append(Finding("F", "no data rows"))
    sym.grade, sym.reasons = _apply(findings)


def _cap(reasons: list[str]) -> list[str]:
    if len(reasons) <= MAX_REASONS:
        return reasons
    return [*reasons[:MAX_REASONS], f"... and {len(reasons) - MAX_REASONS} more"]


def grade_exchange(ex: ExchangeReport) -> None:
    """Symbols first, then the connection-wide events; the worst letter wins."""
    for sym in ex.symbols:
        grade_symbol(sym)
    own = operational(
        {k: v for k, v in ex.events.items() if k != "malformed"}, ex.events.get("malformed", 0)
    )
    findings = [own] if own.grade != "A" else []
    if not ex.symbols:
        findings.append(Finding("F", "no symbol has any row"))
    ex.grade = worst([own.grade, *(f.grade for f in findings), *(s.grade for s in ex.symbols)])
    reasons = [f"{f.reason} [{f.grade}]" for f in findings]
    reasons += [f"{s.symbol}: {r}" for s in ex.symbols for r in s.reasons]
    ex.reasons = _cap(_by_severity(reasons))


def _by_severity(reasons: list[str]) -> list[str]:
    """Worst first; every reason ends with its letter in brackets (see ``_apply``)."""
    return sorted(reasons, key=lambda r: -GRADES.index(r[-2]) if r.endswith("]") else 0)


def grade_report(report: Report) -> None:
    for ex in report.exchanges:
        grade_exchange(ex)
    if not report.exchanges:
        report.grade, report.reasons = "F", ["no data found [F]"]
        return
    report.grade = worst([ex.grade for ex in report.exchanges])
    reasons = [f"{ex.exchange} {r}" for ex in report.exchanges for r in ex.reasons]
    report.reasons = _cap(_by_severity(reasons))
