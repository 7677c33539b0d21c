"""One self-contained HTML file: the report's tables and its plots as embedded PNGs.

Self-contained means no external URL at all (no CDN, fonts, scripts): the file
can be mailed, archived next to the data or opened offline, and shows the same
thing forever. The page is ordered for a one-minute read: grade and reasons,
then per exchange the symbol table, the holes, and the figures.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from pathlib import Path

from collector.quality import grade as grading
from collector.quality import plots, rst
from collector.quality.facts import ExchangeFacts
from collector.quality.model import COUNTED_KINDS, ExchangeReport, Report, iso
from collector.quality.terminal import seconds, short_time

#: Holes listed per exchange in the HTML (chronologically); the JSON has all.
MAX_HOLES = 200

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1240px;padding:0 16px;color:#222}
h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:2px solid #ddd;padding-bottom:4px}
.meta{color:#666}.grade{display:inline-block;min-width:1.6em;text-align:center;border-radius:6px;
color:#fff;font-weight:700;padding:0 6px}.big{font-size:40px;line-height:1.2;padding:4px 16px}
.A{background:#1a7f37}.B{background:#4c9a2a}.C{background:#bf8700}.D{background:#cf4a22}
.F{background:#a40e26}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td.l,th.l{text-align:left}.detail{white-space:normal;text-align:left;
max-width:520px}tr.bad td{background:#fff4f0}img{max-width:100%;display:block;margin:8px 0}
ul.reasons li{margin:2px 0}nav a{margin-right:12px}.scroll{overflow-x:auto}
.rubric td,.rubric th{text-align:left}.rubric dt{float:left;margin-right:6px}
.rubric dd{margin:0 0 4px 2.2em}code{background:#f4f4f4;padding:0 2px}
"""


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return f"<p class=meta>no data for: {escape(alt)}</p>"
    data = base64.b64encode(png).decode()
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _table(head: list[str], rows: list[list[str]], left: int = 1, wrap_last: bool = False) -> str:
    """Cells are already escaped; the first ``left`` columns are left-aligned."""

    def cls(i: int, n: int) -> str:
        if wrap_last and i == n - 1:
            return " class=detail"
        return " class=l" if i < left else ""

    th = "".join(f"<th{cls(i, len(head))}>{h}</th>" for i, h in enumerate(head))
    body = []
    for row in rows:
        tds = "".join(f"<td{cls(i, len(row))}>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{tds}</tr>")
    table = f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f"<div class=scroll>{table}</div>"


def _badge(letter: str, big: bool = False) -> str:
    return f'<span class="grade {letter}{" big" * big}">{letter}</span>'


def _reasons(reasons: list[str]) -> str:
    if not reasons:
        return "<p>No findings: every check is an A.</p>"
    return "<ul class=reasons>" + "".join(f"<li>{escape(r)}</li>" for r in reasons) + "</ul>"


def _clock(ex: ExchangeReport) -> Callable[[int], str]:
    """Times of day when the exchange's data lies within one UTC date (said above it)."""
    one_day = short_time(ex.first_ns)[:10] == short_time(ex.last_ns)[:10]
    return (lambda ns: short_time(ns)[11:19]) if one_day else (lambda ns: short_time(ns)[:19])


def _symbols(ex: ExchangeReport) -> str:
    rows = []
    clock = _clock(ex)
    for s in ex.symbols:
        c = s.counts
        rows.append(
            [
                _badge(s.grade),
                escape(s.symbol),
                escape(s.market or "-"),
                f"{clock(s.first_ns)} → {clock(s.last_ns)}",
                seconds(s.span_s),
                f"{s.coverage_pct:.2f}%",
                f"{len(s.holes)} ({seconds(s.holes_s)})" if s.holes else "0",
                *(str(c[k]) for k in ("gap", "resync", "crossed_book", "bbo_mismatch")),
                str(s.duplicate_trades),
                f"{s.checksum_mismatches} / "
                + ("n/a" if s.checksum_pass_rate is None else f"{s.checksum_pass_rate:.2%}"),
            ]
        )
    head = ["grade", "symbol", "market", "covered (UTC)", "span", "coverage", "holes", "gaps",
            "resyncs", "crossed", "bbo mism.", "dup. trades", "checksum bad / pass"]  # fmt: skip
    return _table(head, rows, left=4)


def _holes(ex: ExchangeReport) -> str:
    listed = [("(all symbols)", h) for h in ex.downtime]
    listed += [(s.symbol, h) for s in ex.symbols for h in s.holes]
    if not listed:
        return "<p>No holes.</p>"
    listed.sort(key=lambda item: (item[1].start_ns, item[0]))
    rows = [
        [
            escape(symbol),
            escape(h.cause + (f" ({h.trigger})" if h.trigger else "")),
            escape(iso(h.start_ns) or ""),
            escape(iso(h.end_ns) or ""),
            seconds(h.duration_s),
            escape(h.detail),
        ]
        for symbol, h in listed[:MAX_HOLES]
    ]
    head = ["symbol", "cause", "start (UTC)", "end (UTC)", "duration", "detail"]
    html = _table(head, rows, left=4, wrap_last=True)
    more = len(listed) - MAX_HOLES
    return html + (f"<p class=meta>{more} more holes in --json.</p>" if more > 0 else "")


def _counts(ex: ExchangeReport) -> str:
    kinds = [k for k in COUNTED_KINDS if any(s.counts.get(k) for s in ex.symbols)]
    kinds = kinds or ["gap", "resync"]
    rows = [[escape(s.symbol), *(str(s.counts.get(k, 0)) for k in kinds)] for s in ex.symbols]
    html = _table(["symbol", *(k.replace("_", " ") for k in kinds)], rows)
    if ex.events:
        listed = ", ".join(f"{escape(k)} {v}" for k, v in sorted(ex.events.items()))
        html += f"<p>Connection-wide events (no symbol): {listed}.</p>"
    return html


def _latency(ex: ExchangeReport) -> str:
    """One row per symbol: all messages, then the p99 of each table to find the slow one."""
    rows = []
    for s in ex.symbols:
        lat = s.latency
        stats = (lat.p50_s, lat.p90_s, lat.p99_s, lat.max_s)
        by_table = [s.latency_by_table.get(t) for t in ("book", "trades", "bbo")]
        rows.append(
            [escape(s.symbol), str(lat.samples), *map(seconds, stats), str(lat.negative),
             *(seconds(t.p99_s) if t else "-" for t in by_table)]
        )  # fmt: skip
    head = ["symbol", "messages", "p50", "p90", "p99", "max", "negative (skew)", "book p99",
            "trades p99", "bbo p99"]  # fmt: skip
    return _table(head, rows)


def _spread_rows(ex: ExchangeReport) -> list[list[str]]:
    rows = []
    for s in ex.symbols:
        if s.spread is None:
            continue
        sp = s.spread
        bps = "-" if sp.spread_median_bps is None else f"{sp.spread_median_bps:.2f}"
        numbers = (sp.spread_min, sp.spread_median, sp.spread_max)
        mids = (sp.mid_first, sp.mid_last)
        rows.append(
            [escape(s.symbol), str(sp.quotes), *(f"{v:g}" for v in numbers), bps,
             *("-" if v is None else f"{v:g}" for v in mids), str(sp.crossed_quotes)]
        )  # fmt: skip
    return rows


def _exchange(ex: ExchangeReport, facts: ExchangeFacts | None) -> str:
    parts = [
        f'<section id="ex-{escape(ex.exchange)}"><h2>{escape(ex.exchange)} {_badge(ex.grade)}</h2>',
        f"<p class=meta>{short_time(ex.first_ns)} → {short_time(ex.last_ns)} UTC "
        f"({seconds((ex.last_ns - ex.first_ns) / 1e9)}), {len(ex.symbols)} symbols</p>",
        _reasons(ex.reasons),
        "<h3>Symbols</h3>",
        _symbols(ex),
        "<h3>Holes</h3>",
        _holes(ex),
        _img(plots.timeline(ex), f"{ex.exchange} coverage timeline"),
        "<h3>Counts</h3>",
        _counts(ex),
        "<h3>Latency</h3>",
        _latency(ex),
        _img(plots.latency(ex, facts) if facts else None, f"{ex.exchange} latency"),
        "<h3>Rates</h3>",
        _img(plots.rates(ex), f"{ex.exchange} rows per minute"),
        "<h3>Spread and mid</h3>",
    ]
    spread_rows = _spread_rows(ex)
    if spread_rows:
        head = ["symbol", "quotes", "spread min", "median", "max", "median bps", "mid first",
                "mid last", "crossed quotes"]  # fmt: skip
        parts += [_table(head, spread_rows), _img(plots.spreads(ex), f"{ex.exchange} spread")]
    else:
        parts.append("<p>No bbo rows: spread and mid skipped.</p>")
    return "\n".join([*parts, "</section>"])


def render(report: Report, facts: dict[str, ExchangeFacts] | None = None) -> str:
    facts = facts or {}
    nav = "".join(
        f'<a href="#ex-{escape(ex.exchange)}">{escape(ex.exchange)} {_badge(ex.grade)}</a>'
        for ex in report.exchanges
    )
    filters = "; ".join(f"{k}: {', '.join(v)}" for k, v in report.filters.items() if v)
    body = [
        "<h1>Data quality report</h1>",
        f"<p class=meta>{escape(report.dataset)} · generated {escape(report.generated_at)} · "
        f"hole threshold {report.hole_seconds:g} s{' · ' + escape(filters) if filters else ''}</p>",
        f"<h2>Overall grade {_badge(report.grade, big=True)}</h2>",
        _reasons(report.reasons),
        f"<nav>{nav}</nav>",
        *(_exchange(ex, facts.get(ex.exchange)) for ex in report.exchanges),
        "<h2>How the grade is computed</h2>",
        f"<div class=rubric>{rst.to_html(grading.__doc__ or '')}</div>",
    ]
    if not report.exchanges:
        body.insert(2, "<p>No data found.</p>")
    title = f"Data quality: {escape(report.dataset)}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write(report: Report, facts: dict[str, ExchangeFacts] | None, path: Path) -> None:
    """Write atomically, so a browser never shows half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(report, facts), encoding="utf-8")
    tmp.replace(path)
