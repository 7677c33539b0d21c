"""Read the dataset from Python: filtered tables, DuckDB relations and exact books.

Why not leave it to users: a filter on ``ts_recv`` alone opens every file (only the
``exchange``/``date`` partitions prune), and the book at an instant is subtle.
``apply_seq`` is the engine's order, not its clock: buffered deltas are applied when
their snapshot arrives, a snapshot once a delta bridges it (its ``synced`` event has
that delta's time), and a large snapshot puts ``apply_seq`` ahead of the clock. So a
message was applied at the running maximum of receive times in ``apply_seq`` order, a
snapshot group no earlier than its ``synced`` event. Once ``quality`` says the engine
lost sync, the book is empty and unverified, like the engine's and ``book_snapshots``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from heapq import nlargest, nsmallest
from itertools import chain, pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from collector import schema
from collector.compact import live_files
from collector.storage import Location, resolve

if TYPE_CHECKING:
    import duckdb

__all__ = ["INVALIDATING", "Book", "book_at", "duckdb_relation", "iter_snapshots", "open_table"]

#: An instant: int ns since the epoch, ISO text or datetime (naive means UTC).
TimeLike = int | str | dt.datetime
#: A dataset root: a local path, a URI (``s3://bucket/prefix``, endpoint from
#: ``AWS_ENDPOINT_URL``) or a ``collector.storage.resolve`` result (any endpoint).
Root = str | Path | Location
#: Kinds of quality events after which the engine no longer vouched for the book.
INVALIDATING = ("gap", "resync", "crossed_book", "bbo_mismatch", "malformed", "snapshot_stale")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PARTS = pa.schema([("exchange", pa.string()), ("date", pa.string())])
_HIVE = ds.partitioning(_PARTS, flavor="hive")
_EXACT = Context(prec=80)
Message = tuple[bool, int, int, list[tuple[str, int, int]]]  # snapshot?, ts_recv, seq, levels
Level = tuple[Decimal, Decimal]


def to_ns(value: TimeLike) -> int:
    """``value`` as ns since the epoch, UTC; ISO text keeps all nine fractional digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    nanos = re.search(r"\.\d{6}(\d{1,3})", value) if isinstance(value, str) else None
    if isinstance(value, str):  # it keeps six fractional digits; nanos adds the rest
        value = dt.datetime.fromisoformat(value)
    extra = int(nanos[1].ljust(3, "0")) if nanos else 0
    delta = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000 + extra


def _day(ns: int, shift: int = 0) -> str:
    """The ``date`` partition (UTC date) of instant ``ns``, ``shift`` days later."""
    return (_EPOCH.date() + dt.timedelta(days=ns // (86_400 * 10**9) + shift)).isoformat()


def _location(root: Root) -> Location:
    return root if isinstance(root, Location) else resolve(root)


def _table_dir(root: Root, table: str) -> Location:
    """``root/table=<table>``; a misspelt table or root is an error, not an empty result."""
    if table not in schema.TABLES and not re.fullmatch(r"book_snapshots_\d+x\d+ms", table):
        raise ValueError(f"unknown table {table!r}: {sorted(schema.TABLES)} or book_snapshots_*")
    base = _location(root).child(f"table={table}")
    if base.fs.get_file_info(base.path).type != pafs.FileType.Directory:
        raise FileNotFoundError(f"no {table!r} table under {_location(root).uri}")
    return base


def _dates(base: Location, exchange: str | None) -> list[tuple[str, str]]:
    """``(date, directory)`` of every partition of ``exchange`` (all when None)."""
    out = []
    for ex in base.list():
        name = ex.base_name
        if ex.type != pafs.FileType.Directory or not name.startswith("exchange="):
            continue
        if exchange is None or name == f"exchange={exchange}":
            out += [
                (d.base_name[5:], d.path)
                for d in base.fs.get_file_info(pafs.FileSelector(ex.path))
                if d.type == pafs.FileType.Directory and d.base_name.startswith("date=")
            ]
    return out


def _scan(
    base: Location,
    exchange: str | None,
    days: tuple,
    where: ds.Expression,
    cols: list | None = None,
    limit: int | None = None,
) -> pa.Table:
    """Rows of table ``base`` matching ``where`` in the partitions of ``exchange`` and ``days``:
    only those are listed (listing costs more than reading a few files), in name order, i.e.
    by first ``ts_recv``, so ``quality`` rows come back in the order the engine wrote them.
    A partition being compacted yields one complete set of files (``live_files``). With
    ``limit``, reading stops once that many rows matched."""
    table = base.path.rsplit("/", 1)[-1][6:]
    full = pa.unify_schemas([schema.table_schema(table), _PARTS])
    pick = [d for day, d in _dates(base, exchange) if (days[0] or "") <= day <= (days[1] or "9")]
    files = sorted(f for d in pick for f in live_files(base.fs, d))
    data = ds.dataset(
        files,
        full,
        "parquet",
        filesystem=base.fs,
        partitioning=_HIVE,
        partition_base_dir=base.path,
    )
    if limit is not None:
        return data.head(limit, columns=cols, filter=where)
    return data.to_table(columns=cols, filter=where)


def _where(symbols: Sequence[str] | None, start: int | None, end: int | None) -> ds.Expression:
    where = ds.scalar(True)
    if symbols is not None:  # typed, so that an empty list is still a list of strings
        where &= ds.field("symbol").isin(pa.array(symbols, pa.string()))
    if start is not None:
        where &= ds.field("ts_recv") >= pa.scalar(start, schema.TIMESTAMP)
    if end is not None:
        where &= ds.field("ts_recv") < pa.scalar(end, schema.TIMESTAMP)
    return where


def _list(data: pa.Table | pa.RecordBatch, name: str) -> list:
    column = data[name]  # timestamps as int ns; labels cast first: 50x faster than dictionaries
    if pa.types.is_timestamp(column.type) or pa.types.is_dictionary(column.type):
        column = pc.cast(column, pa.int64() if pa.types.is_timestamp(column.type) else pa.string())
    return column.to_pylist()


def open_table(
    root: Root,
    table: str,
    *,
    exchange: str | None = None,
    symbols: Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Rows of ``table`` for ``exchange`` and ``symbols`` with ``start <= ts_recv < end``,
    plus the ``exchange`` and ``date`` partition columns (strings)."""
    lo, hi = (None if t is None else to_ns(t) for t in (start, end))
    days = (None if lo is None else _day(lo), None if hi is None else _day(hi - 1))
    return _scan(_table_dir(root, table), exchange, days, _where(symbols, lo, hi), columns)


def duckdb_relation(
    root: Root,
    table: str,
    *,
    exchange: str | None = None,
    symbols: Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """The rows of ``open_table`` as a lazy DuckDB relation (on ``connection``, else DuckDB's
    default one); ``exchange`` and ``date`` are filtered so DuckDB skips other files."""
    import duckdb  # only this function needs it: keep the module's import light

    lo, hi = (None if t is None else to_ns(t) for t in (start, end))
    ts = "ts_recv {} make_timestamp_ns(?::BIGINT)::TIMESTAMPTZ_NS"
    clauses = [  # NULL matches nothing, so an empty symbol list selects no rows
        ("exchange = ?", [exchange], exchange is not None),
        (f"symbol IN (NULL{', ?' * len(symbols or ())})", symbols, symbols is not None),
        (f"date >= ?::DATE AND {ts.format('>=')}", [_day(lo or 0), lo], lo is not None),
        (f"date <= ?::DATE AND {ts.format('<')}", [_day((hi or 1) - 1), hi], hi is not None),
    ]
    base = _table_dir(root, table)
    if base.remote:
        raise ValueError(
            f"duckdb_relation reads local datasets; for {base.uri} use open_table, or DuckDB's "
            "httpfs extension as shown in the README"
        )
    # The files themselves rather than a glob: one complete set per partition, even
    # while (or after a crash during) a compaction of it.
    params: list = [sorted(f for _, d in _dates(base, None) for f in live_files(base.fs, d))]
    params += [p for _, values, on in clauses if on for p in values or ()]
    where = " AND ".join(["true"] + [clause for clause, _, on in clauses if on])
    sql = f"""SELECT * EXCLUDE ("table") FROM read_parquet(?, hive_partitioning = true,
              hive_types = {{'exchange': VARCHAR, 'date': DATE}}) WHERE {where}"""
    return (connection if connection is not None else duckdb).sql(sql, params=params)


@dataclass(repr=False)
class Book:
    """A symbol's book at an instant; ``seq``/``ts_recv`` are the last applied message's.
    Unless ``verified``, the engine had no valid book then (none yet, declared invalid, or
    the instant lies after its session or in a silence without a new snapshot) and, like
    the engine's book and its ``book_snapshots`` rows, this one is empty."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    seq: int | None = None
    ts_recv: int | None = None
    verified: bool = False

    def __repr__(self) -> str:
        """One short line: thousands of levels are for ``bids``/``asks``, not a prompt."""
        if not self.verified:
            return "Book(unverified, empty)"
        when = "?" if self.ts_recv is None else _iso(self.ts_recv)
        return (
            f"Book(verified, seq={self.seq}, ts_recv={when}, "
            f"{len(self.bids)} bids best {_level(self.best_bid())}, "
            f"{len(self.asks)} asks best {_level(self.best_ask())})"
        )

    def best_bid(self) -> Level | None:
        return max(self.bids.items()) if self.bids else None

    def best_ask(self) -> Level | None:
        return min(self.asks.items()) if self.asks else None

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The ``n`` best bids and asks as (price, size), best first."""
        return nlargest(n, self.bids.items()), nsmallest(n, self.asks.items())


def _iso(ns: int) -> str:
    seconds = (_EPOCH + dt.timedelta(seconds=ns // 10**9)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{seconds}.{ns % 10**9:09d}Z"


def _level(level: Level | None) -> str:
    """``price x size`` without the storage scale's trailing zeros."""
    if level is None:
        return "-"
    return " x ".join(format(d.normalize(), "f") for d in level)


def book_at(root: Root, exchange: str, symbol: str, ts: TimeLike) -> Book:
    """The exact book of ``symbol`` after every message the engine had applied by ``ts``."""
    return next(_states(_location(root), exchange, symbol, [to_ns(ts)], None))[1]


def iter_snapshots(
    root: Root,
    exchange: str,
    symbol: str,
    *,
    depth: int,
    interval_ms: int,
    start: TimeLike,
    end: TimeLike,
) -> Iterator[tuple[int, Book]]:
    """``(t, book_at(t))`` cut to ``depth`` levels a side, for each multiple ``t`` of
    ``interval_ms`` in ``[start, end)`` (the ``book_snapshots`` grid), in one pass over rows."""
    step, lo = interval_ms * 1_000_000, to_ns(start)
    instants = range(-(-lo // step) * step, to_ns(end), step)
    return _states(_location(root), exchange, symbol, instants, depth)


def _messages(rows: pa.Table) -> Iterator[Message]:
    """Rows sorted by ``apply_seq`` regrouped into the engine's messages. Stops at a delta
    whose first ``apply_seq`` is not ``max(previous last + 1, ts_recv)`` (the engine's rule):
    a message is missing, i.e. deltas were read whose snapshot group lies after the range."""
    current: Message | None = None
    last = -1
    for batch in rows.to_batches(max_chunksize=65_536):
        columns = [_list(batch, c) for c in ("ts_recv", "seq", "apply_seq", "is_snapshot", "side")]
        for name in ("price", "size"):  # exact ints scaled by 10**18, read from the buffer:
            array = batch[name]  # several times cheaper than a Decimal per row, same order
            words = np.frombuffer(array.buffers()[1], "<u8", 2 * len(array), 16 * array.offset)
            lo, hi = words[::2].tolist(), words[1::2].view("<i8").tolist()
            columns.append([(h << 64) | w for w, h in zip(lo, hi, strict=True)])
        for ts, seq, apply_seq, snap, side, price, size in zip(*columns, strict=True):
            if current is not None and apply_seq == last + 1 and current[:3] == (snap, ts, seq):
                current[3].append((side, price, size))
            else:
                if current is not None:
                    yield current
                    if not snap and apply_seq != max(last + 1, ts):
                        return
                current = (snap, ts, seq, [(side, price, size)])
            last = apply_seq
    if current is not None:
        yield current


def _timed(messages: Iterator[Message], events: pa.Table) -> Iterator:
    """``(applied_at, message, invalid_at)``: when the engine applied each message; for a
    snapshot group, when its epoch was first declared invalid (the earliest invalidating event
    written after its ``synced`` event: the next of its seq no older than the group or its
    bridging delta; an older one is an earlier epoch's, of the same snapshot)."""
    ts, kinds, seqs = _list(events, "ts_recv"), _list(events, "kind"), _list(events, "seq")
    marks = (i for i, kind in enumerate(kinds) if kind == "synced")
    running: float = 0
    for message, after in pairwise(chain(messages, [None])):
        running, invalid = max(running, message[1]), None
        if message[0]:
            bridge = after[1] if after and not after[0] else message[1]  # a delta's receipt
            ours = (i for i in marks if seqs[i] == message[2] and ts[i] >= min(message[1], bridge))
            mark = next(ours, None)
            if mark is None:  # bridged after the range: not applied in it, nor anything later
                yield math.inf, message, None
                return
            running = max(running, ts[mark])
            later = (ts[i] for i in range(mark + 1, len(ts)) if kinds[i] != "synced")
            invalid = min(later, default=math.inf)  # if before ``running``: invalid at once
        yield running, message, invalid


def _exact(levels: Iterable[tuple[int, int]]) -> dict[Decimal, Decimal]:
    return {Decimal(p).scaleb(-18, _EXACT): Decimal(s).scaleb(-18, _EXACT) for p, s in levels}


def _states(
    root: Location, exchange: str, symbol: str, instants: Sequence[int], depth: int | None
) -> Iterator[tuple[int, Book]]:
    """The book at each of the increasing ``instants``, from one read of the rows."""
    if not instants:
        return
    book, quality = _table_dir(root, "book"), _table_dir(root, "quality")
    # From the latest snapshot group received by the first instant (it exists because the
    # epoch before it ended), searching days backwards: it is usually minutes old.
    group = (instants[0], 0)
    days = sorted(day for day, _ in _dates(book, exchange))
    for day in (d for d in reversed(days) if d <= _day(instants[0])):
        where = _where([symbol], None, instants[0] + 1) & ds.field("is_snapshot")
        snaps = _scan(book, exchange, (day, day), where, ["seq", "ts_recv", "apply_seq"])
        if snaps.num_rows:
            groups = snaps.group_by(["seq", "ts_recv"]).aggregate([("apply_seq", "min")])
            latest = groups.sort_by([("apply_seq_min", "descending")]).slice(0, 1)
            group = _list(latest, "ts_recv")[0], _list(latest, "apply_seq_min")[0]
            break
    # ... and a day before it, for the deltas buffered while it was awaited.
    days, where = (_day(group[0], -1), _day(instants[-1])), _where([symbol], None, instants[-1] + 1)
    rows = _scan(book, exchange, days, where & (ds.field("apply_seq") >= group[1]))
    where &= ds.field("kind").isin([*INVALIDATING, "synced"])
    events = _scan(quality, exchange, days, where, ["ts_recv", "kind", "seq"])
    timed = _timed(_messages(rows.sort_by("apply_seq")), events)
    ends = _EpochEnd(root, exchange, symbol, instants[-1])
    sides: dict[str, dict[int, int]] = {"bid": {}, "ask": {}}
    seq, ts_recv, valid_until, upcoming = None, None, -math.inf, next(timed, None)
    applied_at = -math.inf
    for t in instants:
        while upcoming is not None and upcoming[0] <= t:
            applied_at, (snap, message_ts, message_seq, levels), invalid = upcoming
            if snap:
                sides, valid_until = {"bid": {}, "ask": {}}, invalid
            for side, price, size in levels:
                sides[side][price] = size
                if not size:  # size 0 deletes the level
                    del sides[side][price]
            seq, ts_recv, upcoming = message_seq, message_ts, next(timed, None)
        # Invalid, like the engine's, after a loss of sync or once a newer snapshot came in
        # (the engine takes one only when out of sync, or in a new session): no levels.
        if t >= valid_until or (upcoming and upcoming[1][0] and upcoming[1][1] <= t):
            yield t, Book()
            continue
        # A later delta continues the epoch in sequence; with none (a new session's snapshot
        # next, or no more rows) the book is vouched for only while its session ran.
        following = upcoming[1][:2] if upcoming is not None else ends.following()
        if (following is None or following[0]) and t > ends.end(
            int(applied_at), None if following is None else following[1]
        ):
            yield t, Book()
            continue
        bids, asks = sides["bid"].items(), sides["ask"].items()
        if depth is not None:
            bids, asks = nlargest(depth, bids), nsmallest(depth, asks)
        yield t, Book(_exact(bids), _exact(asks), seq, ts_recv, True)


class _EpochEnd:
    """When the session that applied a book's last message ended, from the dataset alone.

    Read lazily: only an instant past the last message of an epoch asks. The end is the
    exchange's first ``disconnect`` after that message; without one (a recording, a
    crash, a dataset still being written) the exchange's last row before the next
    session's first ``connect``, so an instant after the data, or in the silence
    between two sessions, is not verified.
    """

    def __init__(self, root: Location, exchange: str, symbol: str, after: int) -> None:
        self.root, self.exchange, self.symbol, self.after = root, exchange, symbol, after
        self.book, self.quality = root.child("table=book"), root.child("table=quality")
        self._following: tuple[bool, int] | None = None
        self._looked = False
        self._ends: dict[tuple[int, int | None], int] = {}  # iter_snapshots asks per instant

    def following(self) -> tuple[bool, int] | None:
        """``(is_snapshot, ts_recv)`` of the symbol's first book row after the rows read."""
        if not self._looked:
            self._looked = True
            where = _where([self.symbol], self.after + 1, None)
            for day in sorted({d for d, _ in _dates(self.book, self.exchange)}):
                if day < _day(self.after):
                    continue
                row = _scan(self.book, self.exchange, (day, day), where, _NEXT, limit=1)
                if row.num_rows:
                    self._following = (_list(row, "is_snapshot")[0], _list(row, "ts_recv")[0])
                    break
        return self._following

    def end(self, last: int, upto: int | None) -> int:
        """The end of the session whose last message for the symbol was at ``last``; the
        next snapshot (of a later session) came at ``upto`` (None: none came)."""
        if (last, upto) not in self._ends:
            self._ends[last, upto] = self._end(last, upto)
        return self._ends[last, upto]

    def _end(self, last: int, upto: int | None) -> int:
        where = _where(None, last, upto) & ds.field("symbol").is_null()
        where &= ds.field("kind").isin(["connect", "disconnect"])
        events = _scan(self.quality, self.exchange, _span(last, upto), where, ["ts_recv", "kind"])
        if events.num_rows:
            first = events.sort_by("ts_recv").slice(0, 1)
            if _list(first, "kind")[0] == "disconnect":
                return _list(first, "ts_recv")[0]
            # The next session's first connection: its rows are not this session's.
            upto = _list(first, "ts_recv")[0]
        # No close recorded (a recording, a crash): the session ran while its rows continue.
        latest = last
        for table in ("book", "quality", "trades", "bbo"):
            base = self.root.child(f"table={table}")
            if base.fs.get_file_info(base.path).type == pafs.FileType.Directory:
                latest = max(latest, self._max(base, _where(None, last, upto), last, upto))
        return latest

    def _max(self, base: Location, where: ds.Expression, last: int, upto: int | None) -> int:
        rows = _scan(base, self.exchange, _span(last, upto), where, ["ts_recv"])
        return pc.max(rows["ts_recv"]).cast(pa.int64()).as_py() if rows.num_rows else last


def _span(lo: int, hi: int | None) -> tuple[str, str | None]:
    """The ``date`` partitions of ``[lo, hi)`` (to the last one when ``hi`` is None)."""
    return _day(lo), None if hi is None else _day(hi - 1)


_NEXT = ["is_snapshot", "ts_recv"]
