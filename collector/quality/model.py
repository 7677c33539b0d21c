"""The report's data: plain structs, so JSON, terminal and HTML all show the same numbers.

Times are kept as int ns since the Unix epoch (exact, like the dataset) and
rendered as ISO text only at the edges (``iso``); durations are float seconds,
which is what a reader compares against thresholds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

#: Quality kinds counted per symbol and per exchange, in display order.
COUNTED_KINDS = (
    "gap",
    "resync",
    "duplicate",
    "crossed_book",
    "bbo_mismatch",
    "malformed",
    "checksum_mismatch",
    "rate_limited",
    "drift",
    "stale",
    "disconnect",
    "exchange_error",
    "snapshot_stale",
    "buffer_overflow",
    "unsynced_at_end",
)


def iso(ns: int | None) -> str | None:
    """ISO-8601 UTC text with all nine fractional digits (datetime holds only six)."""
    if ns is None:
        return None
    seconds, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


class Hole(msgspec.Struct):
    """An interval the data cannot be trusted or does not exist, and why.

    ``cause`` is one of ``no_data`` (no steady data row for longer than the
    threshold), ``out_of_sync`` (book invalid: from ``trigger`` to the next
    ``synced``) or ``disconnected`` (no open connection).
    """

    start_ns: int
    end_ns: int
    cause: str
    detail: str = ""
    trigger: str | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


class Latency(msgspec.Struct):
    """``ts_recv - ts_exchange`` over messages (book snapshots excluded: REST round trips)."""

    samples: int = 0
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None
    negative: int = 0  # ts_recv before ts_exchange: the local clock is behind


class Spread(msgspec.Struct):
    """Best bid/ask statistics from the ``bbo`` table, in price units and basis points."""

    quotes: int
    spread_min: float
    spread_median: float
    spread_max: float
    spread_median_bps: float | None
    mid_first: float | None
    mid_last: float | None
    crossed_quotes: int  # bid >= ask as the exchange stated it


class Series(msgspec.Struct):
    """Values per time bucket; ``start_ns`` + i * ``bucket_s`` is bucket i's start."""

    start_ns: int
    bucket_s: float
    values: dict[str, list[float | None]]


class SymbolReport(msgspec.Struct):
    symbol: str
    market: str | None
    first_ns: int
    last_ns: int
    rows: dict[str, int]
    holes: list[Hole]
    holes_s: float  # union of all holes, so overlapping causes count once
    coverage_pct: float
    counts: dict[str, int]
    checksum_mismatches: int
    checksum_pass_rate: float | None  # None: the dataset has no verified counts (n/a)
    latency: Latency
    latency_by_table: dict[str, Latency]
    duplicate_trades: int  # extra copies of a trade_id already seen
    duplicate_trade_ids: list[str]  # a sample, at most 10
    spread: Spread | None
    spread_series: Series | None  # mid and spread per bucket
    grade: str = "A"
    reasons: list[str] = msgspec.field(default_factory=list)

    @property
    def span_s(self) -> float:
        return (self.last_ns - self.first_ns) / 1e9


class ExchangeReport(msgspec.Struct):
    exchange: str
    first_ns: int
    last_ns: int
    symbols: list[SymbolReport]
    events: dict[str, int]  # exchange-wide quality events (symbol null)
    downtime: list[Hole]
    rates: Series | None  # rows per minute per table (+ book messages)
    grade: str = "A"
    reasons: list[str] = msgspec.field(default_factory=list)


class Report(msgspec.Struct):
    dataset: str
    generated_at: str
    hole_seconds: float
    filters: dict[str, list[str]]
    exchanges: list[ExchangeReport]
    grade: str = "A"
    reasons: list[str] = msgspec.field(default_factory=list)


def to_json_dict(report: Report) -> dict:
    """The report as builtins, with ISO times and durations beside the ns values."""

    def hole(h: Hole) -> dict:
        d = msgspec.to_builtins(h)
        d.update(start=iso(h.start_ns), end=iso(h.end_ns), duration_s=round(h.duration_s, 6))
        return d

    doc = msgspec.to_builtins(report)
    for ex, ex_doc in zip(report.exchanges, doc["exchanges"], strict=True):
        ex_doc.update(first=iso(ex.first_ns), last=iso(ex.last_ns))
        ex_doc["downtime"] = [hole(h) for h in ex.downtime]
        for sym, sym_doc in zip(ex.symbols, ex_doc["symbols"], strict=True):
            sym_doc.update(first=iso(sym.first_ns), last=iso(sym.last_ns), span_s=sym.span_s)
            sym_doc["holes"] = [hole(h) for h in sym.holes]
    return doc
