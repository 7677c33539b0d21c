"""The grade means what it says (issue 15 item 6).

An orderly shutdown (the collector closing its own connections on SIGTERM) is
not a disconnect; a quality row stamped with an unset clock (0, a 1970
partition) opens no 57-year hole, with or without data; and the HTML report
shows the rubric as HTML, not as reStructuredText in a ``<pre>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.model import ORDERLY_CLOSE, BestBidAsk, QualityEvent
from collector.quality import build_report, grade, holes
from collector.quality.holes import Event
from collector.quality.html import render
from collector.quality.model import Report
from collector.quality.rst import to_html
from collector.sinks.parquet import ParquetSink
from collector.tables import TableBuffers

S = 1_000_000_000
T0 = 1_700_000_000 * S
SYMBOLS = ("AAAUSDT", "BBBUSDT")


def write_dataset(
    root: Path, quality: list[tuple[float | None, str | None, str, str]], data_s: int = 30
) -> None:
    """bbo rows once a second for ``data_s`` s per symbol, and ``quality`` rows as
    (seconds after T0, or None for a stamp of 0; symbol; kind; detail)."""
    out = TableBuffers()
    for symbol in SYMBOLS:
        for sec in range(data_s):
            ts = T0 + sec * S
            out.add_bbo(BestBidAsk(symbol, ts - 1000, ts, None, "1.0", "2", "1.5", "3"), "X-Y")
    for sec, symbol, kind, detail in quality:
        ts = 0 if sec is None else T0 + int(sec * S)
        out.add_quality(QualityEvent(symbol, ts, kind, detail))
    with ParquetSink(root) as sink:
        for table, data in out.drain().items():
            sink.write(table, "binance-spot", data)


@pytest.mark.parametrize(
    ("reason", "kind", "letter"),
    [(ORDERLY_CLOSE, "shutdown", "A"), ("timeout", "disconnect", "B")],
)
def test_orderly_shutdown_is_not_a_disconnect(
    tmp_path: Path, reason: str, kind: str, letter: str
) -> None:
    write_dataset(
        tmp_path,
        [
            (0, None, "connect", "connection 1 open wss://x"),
            (29.5, None, "disconnect", f"connection 1 closed: {reason}"),
        ],
    )
    report, _ = build_report(tmp_path)
    (ex,) = report.exchanges
    assert ex.events == {kind: 1}
    assert ex.downtime == []  # the close is the last row: no time is lost after it
    assert report.grade == letter
    for sym in ex.symbols:
        assert sym.holes == [] and sym.coverage_pct == 100.0 and sym.grade == "A"
    if letter == "B":
        assert any("1 disconnect" in r for r in ex.reasons)


def test_orderly_close_of_the_last_connection_opens_no_downtime() -> None:
    closed = f"connection 2 closed: {ORDERLY_CLOSE}"
    events = [Event(0, "connect", "connection 2 open"), Event(10, "disconnect", closed)]
    assert holes.orderly(events[1]) and not holes.orderly(Event(10, "disconnect", "closed"))
    assert holes.downtime_holes(events, last_ns=30) == []
    # The next session's connection still pairs with a real loss before it.
    lost = [*events, Event(20, "connect", "connection 1 open"), Event(25, "disconnect", "x")]
    assert [(h.start_ns, h.end_ns) for h in holes.downtime_holes(lost, 30)] == [(25, 30)]


def test_a_row_stamped_zero_opens_no_hole(tmp_path: Path) -> None:
    write_dataset(
        tmp_path,
        [
            (None, "AAAUSDT", "unsynced_at_end", ""),  # an unset clock: a 1970 partition
            (0, None, "connect", "connection 1 open wss://x"),
        ],
    )
    assert (tmp_path / "table=quality" / "exchange=binance-spot" / "date=1970-01-01").is_dir()
    report, _ = build_report(tmp_path)
    (ex,) = report.exchanges
    assert ex.first_ns == T0
    assert ex.symbols[0].counts.get("unsynced_at_end") == 1  # still an event, at T0
    for sym in ex.symbols:
        assert sym.first_ns == T0 and sym.holes == [] and sym.coverage_pct == 100.0
    assert report.grade == "A"


def test_a_real_stamp_before_the_data_still_counts(tmp_path: Path) -> None:
    """Only impossible stamps move: a symbol event 10 s before its first row (the
    wait for it) keeps its time and its hole, next to a stamp of 0 that opens none."""
    write_dataset(
        tmp_path,
        [(None, "AAAUSDT", "unsynced_at_end", ""), (-10, "AAAUSDT", "stale", "no frame")],
    )
    report, _ = build_report(tmp_path)
    (ex,) = report.exchanges
    aaa = next(s for s in ex.symbols if s.symbol == "AAAUSDT")
    assert aaa.first_ns == ex.first_ns == T0 - 10 * S
    assert [(h.start_ns, h.end_ns, h.detail) for h in aaa.holes] == [
        (T0 - 10 * S, T0, "before the first row")
    ]


def test_offline_run_without_data_spans_its_own_time(tmp_path: Path) -> None:
    """An offline run writes quality rows only; one stamped 0 must not make a hole
    of 57 years (the issue saw 499,057 hours)."""
    write_dataset(
        tmp_path,
        [
            (None, "AAAUSDT", "unsynced_at_end", ""),
            (0, None, "exchange_error", "instrument list: cannot resolve api.binance.com"),
            (12, None, "exchange_error", "instrument list: cannot resolve api.binance.com"),
        ],
        data_s=0,
    )
    report, _ = build_report(tmp_path)
    (ex,) = report.exchanges
    assert (ex.first_ns, ex.last_ns) == (T0, T0 + 12 * S)
    assert report.grade == "F"
    for sym in ex.symbols:
        assert all(h.end_ns - h.start_ns <= 12 * S for h in sym.holes)


def test_rubric_is_html() -> None:
    html = to_html(grade.__doc__ or "")
    assert "<table><thead><tr><th>check</th><th>A</th>" in html
    assert "<td>coverage</td><td>&gt;= 99.9%</td>" in html
    assert "<dt>[2]</dt><dd>share of messages whose <code>ts_recv</code>" in html
    assert "<strong>worst</strong>" in html
    for raw in ("``", "**", "====", "<pre"):
        assert raw not in html
    report = Report(dataset="x", generated_at="now", hole_seconds=5, filters={}, exchanges=[])
    grade.grade_report(report)
    page = render(report)
    assert "How the grade is computed</h2>\n<div class=rubric><p>The health grade" in page
    assert "<pre" not in page


def test_rst_table_cells_follow_the_borders() -> None:
    text = "===  =====\na    b c\n===  =====\n1    ``x``\n2\n===  =====\n"
    assert to_html(text) == (
        "<table><thead><tr><th>a</th><th>b c</th></tr></thead><tbody>"
        "<tr><td>1</td><td><code>x</code></td></tr><tr><td>2</td><td></td></tr></tbody></table>"
    )
    assert to_html("a <b>\nc\n\nd") == "<p>a &lt;b&gt; c</p>\n<p>d</p>"
