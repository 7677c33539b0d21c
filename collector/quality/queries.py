"""The scan's SQL, one function per fact, each filling ``ExchangeFacts`` in place.

Kept apart from ``scan.py`` so each query can be read next to what it feeds.
Timestamps are compared as ``epoch_ns`` integers: DuckDB keeps Parquet's
nanoseconds, and integer ns is what the holes and thresholds are computed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.quality.facts import (
    DATA_TABLES,
    LATENCY_SAMPLE,
    STEADY_TABLES,
    ExchangeFacts,
    SymbolFacts,
    bucket_seconds,
)
from collector.quality.holes import Event
from collector.quality.model import Latency, Series, Spread

if TYPE_CHECKING:
    from collector.quality.scan import Scanner


def _data(columns: str = "ts_recv") -> str:
    """The rows of every data table as one relation, tagged with their table."""
    return " union all ".join(
        f"select exchange, symbol, '{t}' tbl, {columns} from {t}" for t in DATA_TABLES
    )


_MESSAGES = """
    select exchange, symbol, 'book' tbl, epoch_ns(ts_recv) - epoch_ns(ts_exchange) lat
    from book where not is_snapshot and ts_exchange is not null
    group by exchange, symbol, seq, ts_recv, ts_exchange
    union all
    select exchange, symbol, 'trades', epoch_ns(ts_recv) - epoch_ns(ts_exchange)
    from trades where ts_exchange is not null
    union all
    select exchange, symbol, 'bbo', epoch_ns(ts_recv) - epoch_ns(ts_exchange)
    from bbo where ts_exchange is not null
""" + "".join(
    f"""    union all
    select exchange, symbol, '{t}', epoch_ns(ts_recv) - epoch_ns(ts_exchange)
    from {t} where ts_exchange is not null
"""
    for t in DATA_TABLES[3:]
)


def _symbol(out: dict[str, ExchangeFacts], exchange: str, symbol: str) -> SymbolFacts | None:
    ex = out.get(exchange)
    return None if ex is None else ex.symbols.get(symbol)


#: No market data predates Bitcoin's genesis block (2009-01-03): an earlier stamp on a
#: quality row is an unset clock (0 lands in a 1970 partition), never a receive time.
EARLIEST_NS = 1_230_940_800 * 10**9


def start(scan: Scanner) -> int:
    """The instant the dataset starts: its first row, of any table, stamped after
    ``EARLIEST_NS``.

    A quality row stamped before it is not a hole: the report moves it to this
    instant, so it still counts as an event but stretches no span. Rows of real
    instants keep theirs, so a connection opened before the first data row still
    shows the wait for that row.
    """
    (first,) = scan.rows(
        f"""
        select min(ts) from (select epoch_ns(ts_recv) ts from ({_data()})
                             union all select epoch_ns(ts_recv) from quality)
        where ts >= {EARLIEST_NS}
        """
    )[0]
    return EARLIEST_NS if first is None else first


def spans(scan: Scanner, out: dict[str, ExchangeFacts], floor_ns: int) -> None:
    """Row counts and first/last ``ts_recv`` per exchange, symbol and table; quality rows
    count from ``floor_ns`` on (see ``start``)."""
    rows = scan.rows(
        f"""
        select exchange, symbol, tbl, count(*), min(ts), max(ts), any_value(market)
        from ({_data("epoch_ns(ts_recv) ts, market")}
              union all select exchange, symbol, 'quality', greatest(epoch_ns(ts_recv), ?), null
              from quality)
        group by all order by all
        """,
        [floor_ns],
    )
    for exchange, symbol, table, n, first, last, market in rows:
        ex = out.get(exchange)
        if ex is None:
            ex = out[exchange] = ExchangeFacts(first, last)
        ex.first_ns, ex.last_ns = min(ex.first_ns, first), max(ex.last_ns, last)
        if symbol is None:
            continue
        sym = ex.symbols.setdefault(symbol, SymbolFacts())
        sym.rows[table] = n
        sym.market = sym.market or market
        sym.first_ns = first if sym.first_ns is None else min(sym.first_ns, first)
        sym.last_ns = last if sym.last_ns is None else max(sym.last_ns, last)
        if table != "quality":
            sym.data_first = first if sym.data_first is None else min(sym.data_first, first)
            sym.data_last = last if sym.data_last is None else max(sym.data_last, last)


def events(scan: Scanner, out: dict[str, ExchangeFacts], floor_ns: int) -> None:
    """Every quality event, in the order the engine wrote them, none before ``floor_ns``."""
    rows = scan.rows(
        """
        select exchange, symbol, greatest(epoch_ns(ts_recv), ?) ts, kind, detail, seq
        from quality order by exchange, ts, filename, file_row_number
        """,
        [floor_ns],
    )
    for exchange, symbol, ts, kind, detail, seq in rows:
        event = Event(ts, kind, detail or "", seq)
        if symbol is None:
            out[exchange].events.append(event)
        else:
            out[exchange].symbols[symbol].events.append(event)


def snapshots(scan: Scanner, out: dict[str, ExchangeFacts]) -> None:
    """When each snapshot's rows were written: the book is good again from there."""
    rows = scan.rows(
        "select exchange, symbol, seq, min(epoch_ns(ts_recv)) from book where is_snapshot "
        "group by all"
    )
    for exchange, symbol, seq, ts in rows:
        out[exchange].symbols[symbol].snapshots[seq] = ts


def silences(scan: Scanner, out: dict[str, ExchangeFacts], threshold_ns: int) -> None:
    """Consecutive rows of a symbol's steady streams further apart than the threshold."""
    data = " union ".join(
        f"select exchange, symbol, epoch_ns(ts_recv) ts from {t}" for t in STEADY_TABLES
    )
    rows = scan.rows(
        f"""
        with t as ({data}),
        d as (select exchange, symbol, ts,
                     lag(ts) over (partition by exchange, symbol order by ts) prev from t)
        select exchange, symbol, prev, ts from d where ts - prev > ? order by all
        """,
        [threshold_ns],
    )
    for exchange, symbol, prev, ts in rows:
        out[exchange].symbols[symbol].silences.append((prev, ts))


def _latency(n: int, p50: float, p90: float, p99: float, top: int, negative: int) -> Latency:
    def s(ns: float) -> float:
        return round(ns / 1e9, 9)  # quantiles interpolate: no digits below 1 ns

    return Latency(n, s(p50), s(p90), s(p99), s(top), negative)


def latency(scan: Scanner, out: dict[str, ExchangeFacts]) -> None:
    """``ts_recv - ts_exchange`` quantiles per symbol and table, and a sample for the plot."""
    rows = scan.rows(
        f"""
        select exchange, symbol, tbl, count(*), quantile_cont(lat, 0.5),
               quantile_cont(lat, 0.9), quantile_cont(lat, 0.99), max(lat), count_if(lat < 0)
        from ({_MESSAGES})
        group by grouping sets ((exchange, symbol, tbl), (exchange, symbol))
        """
    )
    for exchange, symbol, table, *stats in rows:
        sym = _symbol(out, exchange, symbol)
        if sym is None:
            continue
        if table is None:
            sym.latency = _latency(*stats)
        else:
            sym.latency_by_table[table] = _latency(*stats)
    # A sample per exchange (a busy one must not crowd the others out), drawn after the
    # filter: USING SAMPLE applies to its FROM, before any WHERE.
    for exchange, ex in out.items():
        sample = scan.rows(
            f"""
            select tbl, lat from (select tbl, lat from ({_MESSAGES}) where exchange = ?)
            using sample reservoir({LATENCY_SAMPLE} rows) repeatable (7)
            """,
            [exchange],
        )
        for table, lat in sample:
            ex.latency_samples.setdefault(table, []).append(lat / 1e9)


def duplicate_trades(scan: Scanner, out: dict[str, ExchangeFacts]) -> None:
    """A trade id seen more than once for one symbol: every extra copy counts."""
    rows = scan.rows(
        """
        select exchange, symbol, trade_id, count(*) - 1, min(epoch_ns(ts_recv)) from trades
        group by exchange, symbol, trade_id having count(*) > 1 order by exchange, symbol, 5
        """
    )
    for exchange, symbol, trade_id, extra, _ts in rows:
        sym = out[exchange].symbols[symbol]
        sym.duplicate_trades += extra
        if len(sym.duplicate_trade_ids) < 10:
            sym.duplicate_trade_ids.append(trade_id)


def _grid(scan: Scanner, out: dict[str, ExchangeFacts]) -> dict[str, tuple[int, int]]:
    """Per exchange: series start and bucket width (ns), registered as table ``grid``."""
    grid = {x: (f.first_ns, bucket_seconds(f.last_ns - f.first_ns)) for x, f in out.items()}
    scan.con.execute("create or replace temp table grid (exchange varchar, t0 bigint, w bigint)")
    for exchange, (t0, width) in grid.items():
        scan.con.execute("insert into grid values (?, ?, ?)", [exchange, t0, width * 10**9])
    return grid


def _length(ex: ExchangeFacts, t0: int, width: int) -> int:
    return int((ex.last_ns - t0) // (width * 10**9)) + 1


def rates(scan: Scanner, out: dict[str, ExchangeFacts]) -> None:
    """Rows per minute of each table (and book messages) per time bucket, per exchange."""
    grid = _grid(scan, out)
    rows = scan.rows(
        f"""
        with m as ({_data()}
                   union all select distinct exchange, symbol, 'book messages', ts_recv from book)
        select exchange, tbl, (epoch_ns(ts_recv) - t0) // w, count(*)
        from m join grid using (exchange) group by all
        """
    )
    for exchange, (t0, width) in grid.items():
        out[exchange].rates = Series(t0, float(width), {})
    for exchange, table, bucket, count in rows:
        t0, width = grid[exchange]
        series = out[exchange].rates
        assert series is not None
        values = series.values.setdefault(table, [0.0] * _length(out[exchange], t0, width))
        values[bucket] = count * 60.0 / width


def spreads(scan: Scanner, out: dict[str, ExchangeFacts]) -> None:
    """Spread and mid statistics and series from the exchange's own best bid/ask."""
    # Differences in exact decimals first, so a one-tick spread prints as one tick.
    quotes = """select exchange, symbol, ts_recv, (ask_price - bid_price)::double s,
                       ((bid_price + ask_price) / 2)::double mid, bid_price >= ask_price crossed
                from bbo"""
    rows = scan.rows(
        f"""
        select exchange, symbol, count(*), min(s), median(s), max(s),
               median(case when mid > 0 then s / mid * 1e4 end),
               arg_min(mid, ts_recv), arg_max(mid, ts_recv), count_if(crossed)
        from ({quotes}) group by all
        """
    )
    for exchange, symbol, *stats in rows:
        out[exchange].symbols[symbol].spread = Spread(*stats)
    grid = _grid(scan, out)
    rows = scan.rows(
        f"""
        select exchange, symbol, (epoch_ns(ts_recv) - t0) // w, avg(mid), avg(s)
        from ({quotes}) join grid using (exchange) group by all
        """
    )
    for exchange, symbol, bucket, mid, spread in rows:
        t0, width = grid[exchange]
        sym = out[exchange].symbols[symbol]
        if sym.spread_series is None:
            n = _length(out[exchange], t0, width)
            sym.spread_series = Series(t0, float(width), {"mid": [None] * n, "spread": [None] * n})
        sym.spread_series.values["mid"][bucket] = mid
        sym.spread_series.values["spread"][bucket] = spread
