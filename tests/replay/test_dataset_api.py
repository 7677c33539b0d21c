"""``collector.dataset`` read back from real datasets, checked against the engine itself.

Each recording is fed record by record to a pipeline writing Parquet (small files,
so reads span several); at chosen instants the test copies the engine's exact book
and whether it was in sync. ``book_at`` on the written dataset must give exactly
that book at that instant: right after a record and just before the next one,
around every snapshot arrival, bridge and loss of sync, and every 50th depth frame.
The faults are hand-made: a deleted depth frame (the symbol then stays unsynced),
the same followed by a REST snapshot that deltas received before it bridge, and a
second session (a restart) writing into the same dataset.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import msgspec
import pyarrow.dataset as ds
import pytest
from support import (
    CAPTURES,
    REPO_ROOT,
    MemorySink,
    load_records,
    needs_captures,
    pylist,
    snapshot_http,
)

import adapters
from collector.book.state import SyncState
from collector.capture.records import Record
from collector.dataset import Book, book_at, duckdb_relation, iter_snapshots, open_table
from collector.model import ORDERLY_CLOSE
from collector.pipeline import Pipeline
from collector.replay import replay
from collector.sinks.parquet import ParquetSink

pytestmark = needs_captures

FUTURES = "binance-usdm/BINANCE_FUTURES.jsonl.gz"
SPOT = "binance-spot/BINANCE.jsonl.gz"
GAP_SYMBOL, GAP_AT, SNAPSHOT_OF, SNAPSHOT_AFTER = "SUSHIUSDT", 40, 45, 48
DEPTH, INTERVAL_MS = 10, 250
CASES = ("futures", "spot", "gap", "gap+resync", "restart")

#: instant -> symbol -> (in sync, bids, asks) as the engine held them
Books = dict[int, dict[str, tuple[bool, dict[Decimal, Decimal], dict[Decimal, Decimal]]]]


@dataclass
class Run:
    exchange: str
    records: list[Record]
    root: Path
    books: Books
    symbols: list[str]
    #: symbol -> [start, end): a later session had begun but had no snapshot of the symbol
    #: yet (its first ``connect`` is at ``start``; the previous session ended before it).
    unseen: dict[str, tuple[int, int]]


def depth_symbol(record: Record) -> str | None:
    if record.kind == "http" and "/depth" in record.url:
        return record.url.split("symbol=")[1].split("&")[0]
    if record.kind == "recv" and '"depthUpdate"' in record.data:
        return record.data.split('"s":"')[1].split('"')[0]
    return None


def depth_frames(records: list[Record], symbol: str) -> list[int]:
    return [i for i, r in enumerate(records) if r.kind == "recv" and depth_symbol(r) == symbol]


def sync_changes(exchange: str, records: list[Record]) -> set[int]:
    """Indices of the records after which some symbol's sync state differs."""
    pipeline = Pipeline(adapters.create(exchange), MemorySink())
    before: dict[str, SyncState] = {}
    changes = set()
    for i, record in enumerate(records):
        pipeline.on_record(record)
        now = {s: sync.state for s, sync in pipeline.engine.symbols.items()}
        if now != before:
            changes.add(i)
        before = now
    return changes


def snapshot_record(exchange: str, records: list[Record], symbol: str, k: int, ts: int) -> Record:
    """A REST snapshot of the clean book right after ``symbol``'s depth frame ``k``."""
    return snapshot_http(exchange, records[: depth_frames(records, symbol)[k] + 1], symbol, ts)


def case_sessions(case: str) -> tuple[str, list[list[Record]]]:
    """The recording(s) of ``case``, one list per session (a fresh pipeline each)."""
    exchange, records = load_records(CAPTURES / (SPOT if case == "spot" else FUTURES))
    if case == "restart":  # the same minute again, a minute later: a second session
        later = [msgspec.structs.replace(r, ts=r.ts + 60 * 10**9) for r in records]
        # whose snapshot of one symbol comes late: deltas received before it bridge it
        http = next(i for i, r in enumerate(later) if r.kind == "http" and GAP_SYMBOL in r.url)
        after = depth_frames(later, GAP_SYMBOL)[8]
        later.insert(after + 1, msgspec.structs.replace(later[http], ts=later[after].ts + 1))
        del later[http]
        return exchange, [records, later]
    if case.startswith("gap"):
        frames = depth_frames(records, GAP_SYMBOL)
        if case == "gap+resync":  # arrives after frames it must be bridged by
            after = frames[SNAPSHOT_AFTER]
            ts = records[after].ts + 1
            records.insert(
                after + 1, snapshot_record(exchange, records, GAP_SYMBOL, SNAPSHOT_OF, ts)
            )
        del records[frames[GAP_AT]]
    return exchange, [records]


def record_run(case: str, root: Path) -> Run:
    """Replay into a real dataset, copying the engine's books at the chosen instants."""
    exchange, sessions = case_sessions(case)
    sink = ParquetSink(root, rotate_seconds=5)
    books: Books = {}
    for records in sessions:
        changes = sync_changes(exchange, records)
        around = {c + d for c in changes for d in (-1, 0, 1)} & set(range(len(records)))
        seen: Counter[str] = Counter()
        chosen = {i for i, r in enumerate(records) if r.kind == "http"} | {len(records) - 1}
        for i, record in enumerate(records):
            symbol = depth_symbol(record)
            if symbol is not None and record.kind == "recv":
                seen[symbol] += 1
                if seen[symbol] % 50 == 0:
                    chosen.add(i)
        pipeline = Pipeline(adapters.create(exchange), sink, snapshots=[(DEPTH, INTERVAL_MS)])
        for i, record in enumerate(records):
            pipeline.on_record(record)
            if i in around or i in chosen:
                state = {
                    s: (sync.state is SyncState.SYNCED, *sync.book.as_dict().values())
                    for s, sync in pipeline.engine.symbols.items()
                }
                books[record.ts] = state
                if i in around and i + 1 < len(records):  # the same book until the next record
                    books[records[i + 1].ts - 1] = state
        pipeline.finish()
    sink.close()
    records = [r for session in sessions for r in session]
    unseen = {
        symbol: (
            later[0].ts,
            next(r.ts for r in later if depth_symbol(r) == symbol and r.kind == "http"),
        )
        for later in sessions[1:]
        for symbol in pipeline.engine.symbols
    }
    return Run(exchange, records, root, books, sorted(pipeline.engine.symbols), unseen)


Runs = Callable[[str], Run]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    cache: dict[str, Run] = {}

    def get(case: str) -> Run:
        if case not in cache:
            cache[case] = record_run(case, tmp_path_factory.mktemp(case.replace("+", "_")))
        return cache[case]

    return get


def cut(book: Book, depth: int) -> Book:
    bids, asks = book.top(depth)
    return Book(dict(bids), dict(asks), book.seq, book.ts_recv, book.verified)


# -- book_at equals the engine --------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_book_at_equals_the_engine_book_at_that_instant(case: str, runs: Runs) -> None:
    run = runs(case)
    assert len(run.books) > 40
    verified = unverified = 0
    for instant, engine in run.books.items():
        for symbol, (synced, bids, asks) in engine.items():
            book = book_at(run.root, run.exchange, symbol, instant)
            assert book.verified == synced, (symbol, instant)
            assert book.bids == bids, (symbol, instant)
            assert book.asks == asks, (symbol, instant)
            if synced:
                verified += 1
                assert book.seq is not None and book.ts_recv is not None
                assert book.ts_recv <= instant
            else:
                unverified += 1
                assert (book.bids, book.asks, book.seq, book.best_bid()) == ({}, {}, None, None)
    assert verified > 50 and unverified > 5  # both sides of every bridge were looked at


def test_the_instant_can_be_text_or_datetime(runs: Runs) -> None:
    run = runs("futures")
    instant = next(
        t for t, e in run.books.items() if t % 1000 == 0 and GAP_SYMBOL in e and e[GAP_SYMBOL][0]
    )
    as_int = book_at(run.root, run.exchange, GAP_SYMBOL, instant)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=instant // 1000)
    for ts in (moment, moment.replace(tzinfo=None), moment.isoformat(), iso_ns(instant)):
        assert book_at(run.root, run.exchange, GAP_SYMBOL, ts) == as_int
    assert as_int.best_bid() == max(as_int.bids.items())
    assert as_int.best_bid()[0] < as_int.best_ask()[0]
    bids, asks = as_int.top(3)
    assert [p for p, _ in bids] == sorted(as_int.bids, reverse=True)[:3]
    assert [p for p, _ in asks] == sorted(as_int.asks)[:3]


def test_before_any_row_the_book_is_empty_and_unverified(runs: Runs) -> None:
    run = runs("futures")
    assert book_at(run.root, run.exchange, GAP_SYMBOL, 0) == Book()
    assert book_at(run.root, run.exchange, "NOSUCHSYMBOL", run.records[-1].ts) == Book()


# -- loss of sync -------------------------------------------------------------------


def quality_events(run: Run, symbol: str) -> list[dict]:
    return pylist(open_table(run.root, "quality", exchange=run.exchange, symbols=[symbol]))


def test_after_an_injected_gap_the_symbol_is_unverified_until_the_end(runs: Runs) -> None:
    run = runs("gap")
    events = quality_events(run, GAP_SYMBOL)
    assert [e["kind"] for e in events] == ["synced", "gap", "resync", "unsynced_at_end"]
    gap = events[1]["ts_recv"]
    before = book_at(run.root, run.exchange, GAP_SYMBOL, gap - 1)
    assert before.verified and before.bids and before.asks
    end = run.records[-1].ts
    for t in (gap, gap + 1, gap + 10**9, (gap + end) // 2, end, end + 10**12):
        book = book_at(run.root, run.exchange, GAP_SYMBOL, t)
        assert not book.verified and book == Book(), t
    for symbol in set(run.symbols) - {GAP_SYMBOL}:  # one symbol's gap touches no other
        assert book_at(run.root, run.exchange, symbol, end).verified


def test_a_snapshot_bridged_by_earlier_deltas_counts_from_its_arrival(runs: Runs) -> None:
    run = runs("gap+resync")
    events = quality_events(run, GAP_SYMBOL)
    assert [e["kind"] for e in events] == ["synced", "gap", "resync", "synced"]
    snapshot = next(r for r in run.records if r.kind == "http" and r.ts > events[1]["ts_recv"])
    # the bridging delta was received before the snapshot: the event has its time
    assert events[3]["ts_recv"] < snapshot.ts
    rows = pylist(open_table(run.root, "book", symbols=[GAP_SYMBOL]))
    group = min(r["apply_seq"] for r in rows if r["is_snapshot"] and r["ts_recv"] == snapshot.ts)
    assert any(r["apply_seq"] > group and r["ts_recv"] < snapshot.ts for r in rows)
    assert not book_at(run.root, run.exchange, GAP_SYMBOL, snapshot.ts - 1).verified
    resynced = book_at(run.root, run.exchange, GAP_SYMBOL, snapshot.ts)
    assert resynced.verified
    assert (resynced.bids, resynced.asks) == run.books[snapshot.ts][GAP_SYMBOL][1:]


def test_a_new_session_shows_from_its_first_snapshot(runs: Runs) -> None:
    """The first session's book holds to its last row; in the silence after it and in
    the next session before its snapshot, nothing vouches for a book."""
    run = runs("restart")
    synced = [e for e in quality_events(run, GAP_SYMBOL) if e["kind"] == "synced"]
    assert len(synced) == 2 and synced[1]["ts_recv"] < run.unseen[GAP_SYMBOL][1]  # buffered
    for symbol, (start, snapshot) in run.unseen.items():
        last = max(t for t in run.books if t < start and symbol in run.books[t])
        synced, bids, asks = run.books[last][symbol]
        assert synced and last < start - 10**9  # a silence between the sessions
        book = book_at(run.root, run.exchange, symbol, last)
        assert book.verified and (book.bids, book.asks) == (bids, asks)
        for t in (last + 1, start, (start + snapshot) // 2, snapshot - 1):
            assert book_at(run.root, run.exchange, symbol, t) == Book(), t
        book = book_at(run.root, run.exchange, symbol, snapshot)  # bridged then or later
        assert (book.verified, book.bids, book.asks) == run.books[snapshot][symbol]


def test_after_the_data_ends_the_book_is_unverified(runs: Runs) -> None:
    """The README's question about a later year: nothing vouches for a book after the
    data, though the last book of the data was good."""
    run = runs("futures")
    end = run.records[-1].ts
    for symbol in run.symbols:
        assert book_at(run.root, run.exchange, symbol, end).verified
        for t in (end + 1, end + 10**9, end + 365 * 86_400 * 10**9):
            assert book_at(run.root, run.exchange, symbol, t) == Book(), (symbol, t)
    step = 1_000_000_000
    samples = iter_snapshots(
        run.root,
        run.exchange,
        GAP_SYMBOL,
        depth=5,
        interval_ms=1000,
        start=end - 3 * step,
        end=end + 3 * step,
    )
    verified = [(t <= end, s.verified) for t, s in samples]
    assert verified == [(before, before) for before, _ in verified] and len(verified) == 6


def test_a_recorded_close_ends_the_session(tmp_path: Path) -> None:
    """A daemon's session ends with its connections' close records: the book is good to
    the close (the stream was open, nothing came), not after it."""
    exchange, records = load_records(CAPTURES / FUTURES)
    end = records[-1].ts
    opened = next(r for r in records if r.kind == "open")
    closed = Record("close", end + 2 * 10**9, opened.conn, ORDERLY_CLOSE)
    pipeline = Pipeline(adapters.create(exchange), ParquetSink(tmp_path))
    for record in [*records, closed]:
        pipeline.on_record(record)
    pipeline.finish()
    pipeline.sink.close()
    for t in (end, end + 10**9, closed.ts):
        assert book_at(tmp_path, exchange, GAP_SYMBOL, t).verified, t
    assert book_at(tmp_path, exchange, GAP_SYMBOL, closed.ts + 1) == Book()


def test_book_repr_is_one_short_line(runs: Runs) -> None:
    run = runs("futures")
    book = book_at(run.root, run.exchange, GAP_SYMBOL, run.records[-1].ts)
    text = repr(book)
    assert len(book.bids) > 100 and len(text) < 200 and "\n" not in text
    price, size = book.best_bid()
    assert text.startswith(f"Book(verified, seq={book.seq}, ts_recv=2021-07-22T22:2")
    assert f"{len(book.bids)} bids best {price.normalize():f} x {size.normalize():f}" in text
    assert repr(Book()) == "Book(unverified, empty)"


# -- iter_snapshots -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["gap+resync", "spot", "restart"])
def test_iter_snapshots_equals_book_at_and_the_engine_samples(case: str, runs: Runs) -> None:
    run = runs(case)
    step = INTERVAL_MS * 1_000_000
    start, end = run.records[0].ts, run.records[-1].ts + 1
    table = f"book_snapshots_{DEPTH}x{INTERVAL_MS}ms"
    engine = {(row["symbol"], row["ts_recv"]): row for row in pylist(open_table(run.root, table))}
    compared = 0
    for symbol in run.symbols:
        samples = list(
            iter_snapshots(
                run.root,
                run.exchange,
                symbol,
                depth=DEPTH,
                interval_ms=INTERVAL_MS,
                start=start,
                end=end,
            )
        )
        assert [t for t, _ in samples] == list(range(-(-start // step) * step, end, step))
        for k, (t, sample) in enumerate(samples):
            flips = k and sample.verified != samples[k - 1][1].verified
            if symbol in (GAP_SYMBOL, "NKNUSDT") and (flips or k % 3 == 0):
                assert sample == cut(book_at(run.root, run.exchange, symbol, t), DEPTH), t
            row = engine.get((symbol, t))
            if row is None:
                continue  # the engine samples an instant only once a later update arrives
            compared += 1
            assert sample.verified == row["verified"], (symbol, t)
            assert sample.bids == levels(row["bid_price"], row["bid_size"]), (symbol, t)
            assert sample.asks == levels(row["ask_price"], row["ask_size"]), (symbol, t)
    assert compared > 100


def levels(prices: list, sizes: list) -> dict[Decimal, Decimal]:
    return {p: s for p, s in zip(prices, sizes, strict=True) if p is not None}


def test_iter_snapshots_of_an_empty_range(runs: Runs) -> None:
    run = runs("futures")
    t = run.records[-1].ts
    empty = iter_snapshots(
        run.root, run.exchange, GAP_SYMBOL, depth=5, interval_ms=100, start=t, end=t
    )
    assert list(empty) == []


# -- filters ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("both")
    replay([CAPTURES / FUTURES, CAPTURES / SPOT], root, rotate_seconds=5)
    return root


def reference(root: Path, table: str) -> list[dict]:
    """Every row, read by pyarrow's own Hive discovery rather than by the code under test."""
    return pylist(ds.dataset(root / f"table={table}", partitioning="hive").to_table())


def key(row: dict) -> tuple:
    return tuple(str(row[c]) for c in sorted(row) if c != "date")


def iso_ns(ns: int) -> str:
    seconds, nanos = divmod(ns, 10**9)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


@pytest.mark.parametrize("table", ["book", "trades", "bbo", "quality"])
def test_open_table_and_duckdb_return_exactly_the_filtered_rows(both: Path, table: str) -> None:
    rows = reference(both, table)
    futures = sorted({r["ts_recv"] for r in rows if r["exchange"] == "binance-usdm"})
    start, end = futures[len(futures) // 4], futures[3 * len(futures) // 4]  # both exact row times
    symbols = sorted({r["symbol"] for r in rows if r["exchange"] == "binance-usdm"} - {None})[:2]
    cases = [
        ({}, lambda r: True),
        ({"exchange": "binance-spot"}, lambda r: r["exchange"] == "binance-spot"),
        ({"symbols": symbols}, lambda r: r["symbol"] in symbols),
        ({"symbols": []}, lambda r: False),
        ({"start": start}, lambda r: r["ts_recv"] >= start),
        ({"end": end}, lambda r: r["ts_recv"] < end),
        (
            {"exchange": "binance-usdm", "symbols": symbols, "start": start, "end": end},
            lambda r: (
                r["exchange"] == "binance-usdm"
                and r["symbol"] in symbols
                and start <= r["ts_recv"] < end
            ),
        ),
        ({"start": iso_ns(start), "end": iso_ns(end)}, lambda r: start <= r["ts_recv"] < end),
    ]
    for filters, keep in cases:
        want = sorted(key(r) for r in rows if keep(r))
        got = pylist(open_table(both, table, **filters))
        assert sorted(key(r) for r in got) == want, filters
        narrow = open_table(both, table, columns=["ts_recv", "exchange"], **filters)
        assert narrow.column_names == ["ts_recv", "exchange"] and narrow.num_rows == len(want)
        assert {r["date"] for r in got} <= {r["date"] for r in rows}
        relation = duckdb_relation(both, table, **filters)
        assert "table" not in relation.columns and {"exchange", "date"} <= set(relation.columns)
        columns = [c for c in relation.columns if c != "date"]
        project = ", ".join(f"epoch_ns({c})" if c.startswith("ts_") else c for c in columns)
        fetched = relation.project(project).fetchall()
        from_duckdb = [dict(zip(columns, values, strict=True)) for values in fetched]
        assert sorted(key(r) for r in from_duckdb) == want, filters
    assert len({key(r) for r in rows}) == len(rows)  # the key tells every row apart


def test_datetimes_bound_at_microseconds(both: Path) -> None:
    rows = reference(both, "trades")
    start = sorted(r["ts_recv"] for r in rows)[len(rows) // 2]
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=start // 1000)  # naive: UTC
    got = open_table(both, "trades", start=moment)
    assert got.num_rows == sum(r["ts_recv"] >= start // 1000 * 1000 for r in rows)


def test_a_misspelt_table_or_root_is_an_error(both: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        open_table(both, "trade")
    with pytest.raises(ValueError, match="unknown table"):
        duckdb_relation(both, "books")
    with pytest.raises(FileNotFoundError):
        open_table(tmp_path, "book")
    with pytest.raises(FileNotFoundError):
        book_at(tmp_path, "binance-usdm", "BTCUSDT", 0)


# -- the documented example ------------------------------------------------------------


def test_the_documented_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = (REPO_ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("COLLECTOR_CAPTURES", str(CAPTURES))
    exec(compile(blocks[0], "docs/python-api.md", "exec"), {"__name__": "__doc_example__"})
    out = capsys.readouterr().out
    assert "trades;" in out and "('synced', 4)" in out and "best bid (Decimal(" in out
    assert re.search(r"^1626992744000000000 True \(Decimal", out, flags=re.M)
