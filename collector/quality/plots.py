"""matplotlib figures of a report, as PNG bytes for the HTML.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot): no
global state, no GUI backend, safe to call from any thread or test. Each
function returns ``None`` when there is nothing to draw, so the HTML simply
leaves that figure out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from collector.quality.facts import ExchangeFacts
from collector.quality.model import ExchangeReport, Series

#: Symbols drawn in the timeline (lowest coverage first) and in the spread plot.
MAX_TIMELINE = 40
MAX_SPREAD = 6
HOLE_COLORS = {"out_of_sync": "#d62728", "no_data": "#ff7f0e", "disconnected": "#7f7f7f"}
TABLE_COLORS = {
    "book": "#1f77b4",
    "book messages": "#aec7e8",
    "trades": "#2ca02c",
    "bbo": "#9467bd",
}
_DAY_NS = 86_400e9
#: Empty buckets carried over in the spread plot; a longer silence breaks the line.
BRIDGE_BUCKETS = 5


def _dates(ns: Sequence[int] | np.ndarray) -> np.ndarray:
    return mdates.date2num(np.asarray(ns, dtype="int64").astype("datetime64[ns]"))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _time_axis(ax: object) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)  # type: ignore[attr-defined]
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[attr-defined]
    ax.set_xlabel("UTC")  # type: ignore[attr-defined]


def timeline(ex: ExchangeReport) -> bytes | None:
    """Covered time per symbol, holes painted over it by cause."""
    symbols = sorted(ex.symbols, key=lambda s: (s.coverage_pct, s.symbol))[:MAX_TIMELINE]
    if not symbols:
        return None
    fig = Figure(figsize=(12, 1.2 + 0.32 * len(symbols)))
    ax = fig.subplots()
    for y, s in enumerate(reversed(symbols)):
        start = _dates([s.first_ns])[0]
        ax.broken_barh(
            [(start, (s.last_ns - s.first_ns) / _DAY_NS)], (y - 0.35, 0.7), color="#b9e4b9"
        )
        for cause, color in HOLE_COLORS.items():
            bars = [
                (_dates([h.start_ns])[0], max(h.end_ns - h.start_ns, 1) / _DAY_NS)
                for h in s.holes
                if h.cause == cause
            ]
            if bars:
                ax.broken_barh(bars, (y - 0.35, 0.7), color=color)
    ax.set_yticks(range(len(symbols)), [s.symbol for s in reversed(symbols)])
    ax.set_ylim(-0.6, len(symbols) - 0.4)
    handles = [Patch(color="#b9e4b9", label="covered")]
    handles += [Patch(color=c, label=k.replace("_", " ")) for k, c in HOLE_COLORS.items()]
    ax.set_xlim(_dates([ex.first_ns])[0], _dates([max(ex.last_ns, ex.first_ns + 1)])[0])
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    ax.set_title(f"{ex.exchange}: coverage and holes", pad=26)
    _time_axis(ax)
    return _png(fig)


def _series_x(series: Series, n: int) -> np.ndarray:
    width_ns = int(series.bucket_s * 1e9)
    return _dates(series.start_ns + np.arange(n, dtype="int64") * width_ns + width_ns // 2)


def rates(ex: ExchangeReport) -> bytes | None:
    """Rows per minute per table (and book messages), per time bucket."""
    series = ex.rates
    if series is None or not series.values:
        return None
    fig = Figure(figsize=(12, 3.6))
    ax = fig.subplots()
    for table in ("book", "book messages", "bbo", "trades"):
        values = series.values.get(table)
        if values:
            x = _series_x(series, len(values))
            ax.plot(x, values, label=table, color=TABLE_COLORS[table], drawstyle="steps-mid")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("rows per minute")
    ax.set_title(f"{ex.exchange}: rows per minute ({series.bucket_s:g} s buckets)")
    ax.legend(loc="best", ncol=4)
    ax.grid(alpha=0.3)
    _time_axis(ax)
    return _png(fig)


#: Below this |latency| the latency axis is linear, above it logarithmic (both signs).
LATENCY_LINEAR_S = 1e-3


def _symlog_bins(low: float, high: float, n: int = 80) -> np.ndarray:
    """Bin edges equally wide on a symlog axis, so negative latencies (skew) show too."""
    c = LATENCY_LINEAR_S

    def fwd(x: np.ndarray | float) -> np.ndarray:
        return np.sign(x) * np.log10(1 + np.abs(x) / c)

    def inv(y: np.ndarray) -> np.ndarray:
        return np.sign(y) * c * (10 ** np.abs(y) - 1)

    lo, hi = fwd(low), fwd(high)
    return inv(np.linspace(lo, hi if hi > lo else lo + 1, n + 1))


def latency(ex: ExchangeReport, facts: ExchangeFacts) -> bytes | None:
    """Distribution of ``ts_recv - ts_exchange`` per table, from a sample; < 0 is clock skew."""
    samples = {t: np.asarray(v, float) for t, v in facts.latency_samples.items() if v}
    if not samples:
        return None
    every = np.concatenate(list(samples.values()))
    bins = _symlog_bins(float(every.min()), float(every.max()))
    fig = Figure(figsize=(12, 3.2))
    ax = fig.subplots()
    for table in ("book", "bbo", "trades"):
        if table in samples:
            ax.hist(samples[table], bins=bins, histtype="step", linewidth=1.5, label=table,
                    color=TABLE_COLORS[table])  # fmt: skip
    ax.set_xscale("symlog", linthresh=LATENCY_LINEAR_S)
    if every.min() < 0:
        ax.axvline(0, color="#a40e26", linewidth=1, linestyle="--")
    negative = int((every < 0).sum())
    ax.set_xlabel("ts_recv - ts_exchange (s); left of 0: the local clock is behind")
    ax.set_ylabel("messages (sample)")
    ax.set_title(f"{ex.exchange}: latency ({negative} of {every.size} sampled messages < 0)")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def _bridge(values: Sequence[float | None], max_gap: int = BRIDGE_BUCKETS) -> np.ndarray:
    """Carry a value over runs of up to ``max_gap`` empty buckets (quiet quotes, not holes).

    Longer runs stay NaN, so the line breaks where the data really stops.
    """
    out = np.array([np.nan if v is None else v for v in values], float)
    last, run = np.nan, 0
    for i, v in enumerate(out):
        if not np.isnan(v):
            last, run = v, 0
            continue
        run += 1
        if run > max_gap:
            continue
        # Fill only if the gap closes within max_gap buckets.
        ahead = out[i : i + max_gap - run + 2]
        if not np.isnan(last) and (~np.isnan(ahead)).any():
            out[i] = last
    return out


def spreads(ex: ExchangeReport) -> bytes | None:
    """Mid (line, left axis) and spread (shaded, right axis) per symbol, from ``bbo``."""
    drawn = [s for s in ex.symbols if s.spread_series is not None]
    drawn = sorted(drawn, key=lambda s: -(s.spread.quotes if s.spread else 0))[:MAX_SPREAD]
    if not drawn:
        return None
    fig = Figure(figsize=(12, 2.1 * len(drawn) + 0.6))
    axes = fig.subplots(len(drawn), 1, sharex=True, squeeze=False)[:, 0]
    for ax, s in zip(axes, drawn, strict=True):
        series = s.spread_series
        assert series is not None
        mid = _bridge(series.values["mid"])
        spread = _bridge(series.values["spread"])
        x = _series_x(series, len(mid))
        sparse = np.count_nonzero(~np.isnan(mid)) < 100  # markers, or lone points vanish
        ax.plot(x, mid, color="#1f77b4", marker="." if sparse else None)
        ax.set_ylabel(f"{s.symbol}\nmid", color="#1f77b4")
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        right = ax.twinx()
        right.fill_between(x, spread, step="mid", alpha=0.25, color="#ff7f0e")
        right.set_ylabel("spread", color="#ff7f0e")
        right.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{ex.exchange}: mid and spread from bbo ({series.bucket_s:g} s averages)")
    _time_axis(axes[-1])
    fig.tight_layout()
    return _png(fig)
