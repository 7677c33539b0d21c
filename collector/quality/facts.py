"""What the scan found, per exchange and symbol: raw facts before holes and grades.

Plain dataclasses filled in place by the queries; ``build`` turns them into the
report. Kept apart so the queries and the scanner share them without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.quality.holes import Event
from collector.quality.model import Latency, Series, Spread

#: Every table of market data rows (counts, rates, latency).
DATA_TABLES = ("book", "trades", "bbo", "derivative_ticker", "liquidations", "option_summary")
#: The tables whose rows arrive steadily while a stream is alive: a silence in them is a
#: hole. Liquidations come when they happen; hours without one say nothing.
STEADY_TABLES = tuple(t for t in DATA_TABLES if t != "liquidations")
#: Time buckets of the rate and spread series: the smallest giving at most this many.
MAX_BUCKETS = 240
_NICE_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
LATENCY_SAMPLE = 20_000


@dataclass
class SymbolFacts:
    market: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    first_ns: int | None = None  # over every table, quality included
    last_ns: int | None = None
    data_first: int | None = None  # over the data tables only (not quality)
    data_last: int | None = None
    silences: list[tuple[int, int]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    snapshots: dict[int, int] = field(default_factory=dict)
    latency: Latency = field(default_factory=Latency)
    latency_by_table: dict[str, Latency] = field(default_factory=dict)
    duplicate_trades: int = 0
    duplicate_trade_ids: list[str] = field(default_factory=list)
    spread: Spread | None = None
    spread_series: Series | None = None


@dataclass
class ExchangeFacts:
    first_ns: int
    last_ns: int
    symbols: dict[str, SymbolFacts] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # symbol null: connection-wide
    rates: Series | None = None
    latency_samples: dict[str, list[float]] = field(default_factory=dict)  # seconds, per table


def bucket_seconds(span_ns: int) -> int:
    """A round bucket width that splits ``span_ns`` into at most ``MAX_BUCKETS`` buckets."""
    for width in _NICE_S:
        if span_ns / (width * 1e9) <= MAX_BUCKETS:
            return width
    return int(span_ns // (MAX_BUCKETS * 1_000_000_000)) + 1
