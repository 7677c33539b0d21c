"""Drift reports: aggregate per-frame drifts into entries a person can act on.

An entry is keyed by (kind, message type, field): a renamed field in 10,000
frames is one entry with a count, its first detail and a sample frame, not
10,000 lines. The key is also what ``expected_drift.toml`` pins.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Final

import msgspec

from collector.contract.model import KINDS, Drift

#: Characters of a sample frame kept in a report.
SAMPLE_CHARS: Final = 600


class Entry(msgspec.Struct):
    kind: str
    message_type: str
    field: str
    count: int
    detail: str
    sample: str  # the first frame (or event) that showed it, truncated

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.message_type, self.field)


class ChannelLatency(msgspec.Struct):
    """How soon one (channel, symbol) of a live session delivered its first message."""

    channel: str
    symbol: str
    first_data_s: float | None  # after the first connection opened; None: never
    messages: int
    #: Median receipt time minus exchange time, s (None: no exchange times).
    lag_s: float | None = None


class LiveFindings(msgspec.Struct):
    """What only a live session shows (``collector contract-check`` without ``--capture``)."""

    capture: str  # the session's capture, when kept (``--record DIR``)
    deadline_s: float  # a channel silent this long after connecting fails
    url: str = ""  # where it connected: ``--url`` or "the exchange"
    duration_s: float = 0.0
    symbols: list[str] = msgspec.field(default_factory=list)
    unreachable: bool = False  # no connection opened and no REST answer came back
    stopped_early: str = ""
    connections: int = 0  # connections opened during the session
    channels: list[ChannelLatency] = msgspec.field(default_factory=list)
    silent: list[str] = msgspec.field(default_factory=list)  # "channel symbol"
    #: Channels with data only on events (liquidations): timed, never judged silent.
    event_driven: list[str] = msgspec.field(default_factory=list)
    #: Derivative channels the venue lists but the session could not check -> why.
    not_checked: dict[str, str] = msgspec.field(default_factory=dict)
    #: Subscribed channels the venue serves from another one's stream (not timed).
    not_streamed: list[str] = msgspec.field(default_factory=list)
    books: dict[str, str] = msgspec.field(default_factory=dict)  # symbol -> bridge result
    #: channel -> the route (URL without its stream list) that delivered it last.
    routes: dict[str, str] = msgspec.field(default_factory=dict)
    #: The daemon's route moves during the session (a silent route left for the next).
    route_moves: list[str] = msgspec.field(default_factory=list)
    snapshots_fetched: int = 0  # REST snapshots that went into the books
    trades_judged: int = 0  # at or through a touch of a synced book
    trades_agreeing: int = 0
    trades_inside_spread: int = 0
    trades_unjudged: int = 0  # no synced book yet
    side_agreement: float | None = None
    side_agreement_min: float = 0.0


class DriftReport(msgspec.Struct):
    path: str
    exchange: str
    venue: str
    frames: int = 0
    rest_bodies: int = 0
    message_types: dict[str, int] = msgspec.field(default_factory=dict)
    entries: list[Entry] = msgspec.field(default_factory=list)
    rules_checked: dict[str, int] = msgspec.field(default_factory=dict)
    recorded_exchange: str | None = None  # what the file's header says, if anything
    live: LiveFindings | None = None  # set by the live check only

    @property
    def passed(self) -> bool:
        return not self.entries

    def drift_keys(self) -> set[tuple[str, str, str]]:
        return {e.key for e in self.entries}


class ReportBuilder:
    """Collects drifts as frames are checked; :meth:`build` sorts them into a report."""

    def __init__(self, path: str, exchange: str, venue: str) -> None:
        self.report = DriftReport(path=path, exchange=exchange, venue=venue)
        self._entries: dict[tuple[str, str, str], Entry] = {}
        self._types: Counter[str] = Counter()

    def seen(self, message_type: str) -> None:
        self._types[message_type] += 1

    def add(self, drifts: list[Drift], sample: str | bytes) -> None:
        for d in drifts:
            key = (d.kind, d.message_type, d.field)
            entry = self._entries.get(key)
            if entry is None:
                text = sample if isinstance(sample, str) else repr(sample)
                self._entries[key] = Entry(*key, 1, d.detail, text[:SAMPLE_CHARS])
            else:
                entry.count += 1

    def build(self) -> DriftReport:
        order = {k: i for i, k in enumerate(KINDS)}
        self.report.entries = sorted(
            self._entries.values(), key=lambda e: (order[e.kind], e.message_type, e.field)
        )
        self.report.message_types = dict(sorted(self._types.items()))
        return self.report


def to_json(report: DriftReport) -> str:
    return json.dumps(msgspec.to_builtins(report) | {"passed": report.passed}, sort_keys=True)


def render_text(report: DriftReport) -> str:
    """The terminal report: verdict, what was seen, then each drift with one sample."""
    lines = [
        f"{report.path}",
        f"  exchange {report.exchange} (contract {report.venue}): "
        f"{report.frames} frames, {report.rest_bodies} REST bodies",
        "  message types: "
        + (", ".join(f"{k} {v}" for k, v in report.message_types.items()) or "none"),
    ]
    if report.recorded_exchange and report.recorded_exchange != report.exchange:
        lines.append(
            f"  NOTE: the recording says it is {report.recorded_exchange}, "
            f"checked as {report.exchange}"
        )
    if report.rules_checked:
        checked = ", ".join(f"{k} {v}" for k, v in report.rules_checked.items())
        lines.append(f"  rules checked: {checked}")
    if report.live is not None:
        lines += _render_live(report.live)
        if report.live.unreachable:
            lines.append("  UNREACHABLE: no connection opened and no REST answer came back")
            return "\n".join(lines)
    if report.passed:
        lines.append("  PASS: every frame matches the contract")
        return "\n".join(lines)
    lines.append(f"  DRIFT: {len(report.entries)} difference(s)")
    shown: set[str] = set()
    for e in report.entries:
        where = f" {e.field}" if e.field else ""
        lines.append(f"  - {e.kind} {e.message_type}{where} x{e.count}: {e.detail}")
        if e.kind not in shown:  # one sample frame per drift kind keeps the report short
            shown.add(e.kind)
            lines.append(f"      sample: {e.sample[:300]}")
    return "\n".join(lines)


def _render_live(live: LiveFindings) -> list[str]:
    """The live session's own lines: latency per channel, books, trade sides."""
    symbols = ", ".join(live.symbols)
    lines = [
        f"  live session with {live.url}: {symbols} for {live.duration_s:g} s, "
        f"{live.connections} connection(s) opened"
    ]
    if live.stopped_early:
        lines.append(f"  stopped early: {live.stopped_early}")
    if live.capture:
        lines.append(f"  capture: {live.capture}")
    for c in live.channels:
        first = "never" if c.first_data_s is None else f"after {c.first_data_s:.2f} s"
        late = "  SILENT" if c.first_data_s is None or c.first_data_s > live.deadline_s else ""
        if c.channel in live.event_driven:
            late = "  no data (expected: event-driven)" if c.first_data_s is None else ""
        lag = "" if c.lag_s is None else f", lag {c.lag_s * 1000:.0f} ms after exchange time"
        lines.append(f"  first {c.channel} {c.symbol}: {first}, {c.messages} messages{lag}{late}")
    for channel, why in live.not_checked.items():
        lines.append(f"  not checked: {channel}, {why}")
    if live.not_streamed:
        lines.append(f"  not a stream of their own here: {', '.join(live.not_streamed)}")
    for channel, route in live.routes.items():
        lines.append(f"  {channel} delivered by route {route}")
    for move in live.route_moves:
        lines.append(f"  route moved: {move}")
    for symbol, result in live.books.items():
        lines.append(f"  book {symbol}: {result}")
    if live.books and live.snapshots_fetched:
        lines.append(f"  REST snapshots applied: {live.snapshots_fetched}")
    if live.side_agreement is not None:
        lines.append(
            f"  trade sides: {live.trades_agreeing}/{live.trades_judged} on their stated "
            f"side of the book ({live.side_agreement:.0%}, minimum "
            f"{live.side_agreement_min:.0%}); {live.trades_inside_spread} inside the spread, "
            f"{live.trades_unjudged} before the book synced"
        )
    elif not live.unreachable:
        lines.append("  trade sides: no trade at or through a synced book's touch to judge")
    return lines
