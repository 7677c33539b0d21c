"""Shared test helpers: where the recordings are, their documented facts, in-memory runs."""

from __future__ import annotations

import functools
import heapq
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import adapters
from collector.adapter import Adapter
from collector.capture.reader import open_recording
from collector.capture.records import Record
from collector.model import BookDelta, DecodeFailed
from collector.pipeline import Pipeline
from collector.replay import load_instruments

REPO_ROOT = Path(__file__).resolve().parent.parent
CAPTURES = Path(os.environ.get("COLLECTOR_CAPTURES", REPO_ROOT.parent / "shared" / "captures"))

needs_captures = pytest.mark.skipif(
    not (CAPTURES / "README.md").exists(),
    reason=f"shared captures not found at {CAPTURES} (set COLLECTOR_CAPTURES to their folder)",
)

BINANCE_FAMILY = ("binance-spot", "binance-us", "binance-tr", "binance-usdm", "binance-coinm")


def recordings(prefixes: tuple[str, ...]) -> list[Path]:
    """Stream recordings (not instrument sidecars) of the given exchange folders."""
    if not CAPTURES.exists():
        return []
    return sorted(
        p
        for prefix in prefixes
        for p in (CAPTURES / prefix).glob("*.jsonl.gz")
        if not p.name.endswith(".instruments.jsonl.gz")
    )


def capture_folders(slug: str) -> tuple[str, ...]:
    """The captures folders of a registered slug: its own and those of its former names
    (``adapters.FORMER_NAMES``: HTX's recordings are in ``huobi``)."""
    return (slug, *(name for name, now in adapters.FORMER_NAMES.items() if now == slug))


def slug_recordings(slug: str) -> list[Path]:
    """Stream recordings of one registered slug, wherever its folders are named."""
    return recordings(capture_folders(slug))


# -- the captures README -------------------------------------------------------------------
# The README is the corpus's ground truth: each recording has a ``### `folder/file` ``
# section of facts measured independently of this project. Tests parse the facts from it
# (rather than copy numbers) so a corrected README corrects the tests, and a recording
# whose section is missing or reworded fails loudly instead of passing vacuously.


def rel(path: Path) -> str:
    """``folder/file.jsonl.gz``: how the README and test ids name a recording."""
    return path.relative_to(CAPTURES).as_posix()


@functools.cache
def readme_text() -> str:
    """The whole captures README, read once per test process (it is read-only)."""
    return (CAPTURES / "README.md").read_text()


def readme_section(path: Path) -> str:
    """The captures README's section on one recording (its heading to the next), or "".

    "" rather than an error so the conformance suite can treat a file without facts as
    one that states none; venue tests parse a fact out of it and fail when it is absent.
    """
    readme = readme_text()
    heading = f"### `{rel(path)}`"
    start = readme.find(heading)
    if start < 0:
        return ""
    end = readme.find("\n### ", start + len(heading))
    return readme[start : end if end > 0 else None]


def readme_recordings(folder: str) -> set[str]:
    """Stream recordings the README has a section on, in folders matching regex ``folder``.

    Compared with ``recordings(...)`` by each venue's "every recording is covered" test:
    a recording added to the corpus without facts, or documented but missing, fails it.
    """
    pattern = rf"^### `((?:{folder})/[^`]+(?<!\.instruments)\.jsonl\.gz)`"
    return set(re.findall(pattern, readme_text(), re.M))


def readme_channels(section: str) -> str:
    """The text of a section's "**Channels (recv frames)**: ..." line (asserted present)."""
    line = re.search(r"\*\*Channels \(recv frames\)\*\*: (.*)", section)
    assert line, f"no Channels line in: {section[:80]!r}"
    return line[1]


def readme_channel_count(section: str, channel: str) -> int:
    """How many recv frames the "**Channels (recv frames)**" line counts for ``channel``."""
    m = re.search(rf"\b{re.escape(channel)} (\d+)", readme_channels(section))
    assert m, f"no {channel} count in the README's Channels line"
    return int(m[1])


def readme_instruments(section: str) -> tuple[int, list[str]]:
    """(count, names) from a section's "**Instruments (N)**: a, b, ..." line."""
    line = re.search(r"\*\*Instruments \((\d+)\)\*\*(?:: (.+))?", section)
    assert line, f"no Instruments line in: {section[:80]!r}"
    return int(line[1]), (line[2] or "").split(", ")


def stated_checksums(section: str) -> tuple[int, int] | None:
    """(verified, total) from the file's "**N/M verify**" fact, if it states one."""
    found = re.search(r"\*\*(\d+)/(\d+) verify\*\*", section)
    return (int(found[1]), int(found[2])) if found else None


def stated_unbridged(section: str) -> set[str]:
    """Books the file's facts say no update bridges (``SYM bridge=n/a``: the recording
    ends before an update newer than the REST snapshot), so they never get in sync."""
    return set(re.findall(r"([A-Za-z0-9_.:/-]+) bridge=n/a", section))


def stated_bridges(section: str) -> dict[str, tuple[bool, int, int | None]]:
    """REST-bridged venues' per-book facts (KuCoin, Gate): ``SYM bridge=ok|n/a ..
    gaps=N [(M updates)]`` -> symbol: (bridged, gaps, updates or None when not stated)."""
    pattern = r"([A-Za-z0-9_.:/-]+) bridge=(ok|n/a)[^;]*?gaps=(\d+)(?: \((\d+) updates\))?"
    return {
        m[1]: (m[2] == "ok", int(m[3]), int(m[4]) if m[4] else None)
        for m in re.finditer(pattern, section)
    }


def assert_bridges_as_stated(path: Path, records: list[Record], pipeline: Pipeline) -> int:
    """Each book of the recording bridges its REST snapshot (or, ``bridge=n/a``, never
    does and writes nothing) with the README's gaps and update count; returns the books."""
    facts = stated_bridges(readme_section(path))
    assert facts, f"no bridge facts for {rel(path)} in the README"
    engine = pipeline.engine.symbols
    assert set(engine) == set(facts)
    updates: Counter[str] = Counter()
    adapter = adapters.create(pipeline.exchange)
    for rec in records:
        if rec.kind == "recv":
            for msg in adapter.decode(rec.data, rec.ts, rec.conn):
                if isinstance(msg, BookDelta):
                    updates[msg.symbol] += 1
    quality = table_rows(pipeline, "quality", "symbol", "kind", "detail")
    synced = {symbol: detail for symbol, kind, detail in quality if kind == "synced"}
    for symbol, (bridged, gaps, count) in facts.items():
        stats = engine[symbol].stats
        assert stats.gaps == gaps and stats.resyncs == 0, symbol
        assert count is None or updates[symbol] == count, (symbol, updates[symbol])
        if bridged:
            assert stats.snapshots_applied == 1, symbol
            assert "bridged by update" in synced[symbol], symbol
        else:
            assert stats.snapshots_applied == 0 and stats.book_rows == 0, symbol
    return len(facts)


def stated_gaps(section: str) -> int | None:
    """Total of every "N gaps" the file's facts state, if any."""
    counts = [int(n) for n in re.findall(r"(\d+) gaps\b", section.replace("**", ""))]
    return sum(counts) if counts else None


@dataclass(frozen=True)
class BinanceFacts:
    """One symbol's 'Known facts' line of the captures README."""

    symbol: str
    depth_frames: int
    snapshot_id: int
    dropped: int
    applied: int
    gaps: int
    bbo_after_bridge: int
    bbo_matched: int
    final_id: int
    bid: tuple[Decimal, Decimal]
    ask: tuple[Decimal, Decimal]


_FACT = re.compile(
    r"- (?P<symbol>\S+) \((?:spot|futures)[^)]*\)\): (?P<depth>\d+) depth frames; "
    r"REST snapshot lastUpdateId=(?P<snap>\d+); (?P<dropped>\d+) older frames dropped; .*?"
    r"chain over (?P<applied>\d+) applied frames has \*\*(?P<gaps>\d+) gaps\*\*;"
    r"(?: \d+ bookTicker frames, \d+ with `u` equal to a depth frame's `u`, of which "
    r"(?P<after>\d+) are after the bridge and \*\*(?P<matched>\d+)/\d+\*\* match[^;]*;)?"
    r" final book \(u=(?P<final>\d+)\): bid (?P<bp>\S+) x (?P<bs>\S+), "
    r"ask (?P<ap>\S+) x (?P<as>\d+(?:\.\d+)?)"
)


def binance_facts(recording: Path) -> dict[str, BinanceFacts]:
    """Parse the README's facts for one recording, keyed by symbol."""
    section = readme_section(recording)
    assert section, f"{rel(recording)} has no section in the captures README"
    facts = {}
    for m in _FACT.finditer(section):
        facts[m["symbol"]] = BinanceFacts(
            symbol=m["symbol"],
            depth_frames=int(m["depth"]),
            snapshot_id=int(m["snap"]),
            dropped=int(m["dropped"]),
            applied=int(m["applied"]),
            gaps=int(m["gaps"]),
            bbo_after_bridge=int(m["after"] or 0),
            bbo_matched=int(m["matched"] or 0),
            final_id=int(m["final"]),
            bid=(Decimal(m["bp"]), Decimal(m["bs"])),
            ask=(Decimal(m["ap"]), Decimal(m["as"])),
        )
    return facts


class MemorySink:
    """Collects every table a pipeline writes, for tests that need no files."""

    def __init__(self) -> None:
        self.tables: dict[str, list[pa.Table]] = {}

    def write(self, table: str, exchange: str, data: pa.Table) -> None:
        self.tables.setdefault(table, []).append(data)

    def table(self, name: str) -> pa.Table | None:
        parts = self.tables.get(name)
        return pa.concat_tables(parts) if parts else None


def load_records(path: Path) -> tuple[str, list[Record]]:
    """(the exchange the recording names, all its records); a recording must name one."""
    info, records = open_recording(path)
    assert info.exchange
    return info.exchange, list(records)


def run_records(exchange: str, records: list[Record], flush_rows: int = 50_000) -> Pipeline:
    """Run records through a fresh pipeline into a ``MemorySink``; returns the finished pipeline."""
    pipeline = Pipeline(adapters.create(exchange), MemorySink(), flush_rows=flush_rows)
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    return pipeline


def run_frames(
    adapter: Adapter, frames: Iterable[str], *, ts: int, conn: int = 1, url: str | None = None
) -> Pipeline:
    """Hand-written frames through a fresh pipeline into a ``MemorySink``; returns it finished.

    For the adapter unit tests that need the engine (gaps, resyncs, checksums, rows): the
    frames arrive on connection ``conn``, 1 ns apart from ``ts``, as a recording's would;
    with ``url`` an ``open`` record comes first, for adapters that learn a connection's
    market category or protocol from its URL.
    """
    pipeline = Pipeline(adapter, MemorySink())
    if url is not None:
        pipeline.on_record(Record("open", ts, conn, url=url))
    for i, frame in enumerate(frames):
        pipeline.on_record(Record("recv", ts + i, conn, frame))
    pipeline.finish()
    return pipeline


def pylist(table: pa.Table) -> list[dict]:
    """``to_pylist`` with timestamps as int ns (Python datetimes cannot hold nanoseconds)."""
    return _plain(table).to_pylist()


def _plain(table: pa.Table) -> pa.Table:
    """Timestamps as int64 ns, dictionary columns decoded to their values.

    Same Python values; decoding dictionaries first makes ``to_pylist`` about twice as
    fast (per-row dictionary lookups dominate it on the book tables' symbol and side).
    """
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.int64()))
        elif pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
    return table


def _columns(table: pa.Table, names: list[str]) -> Iterator[tuple]:
    """Rows of ``names`` as tuples (cheaper than ``pylist``'s dicts on 100k+ row books)."""
    plain = _plain(table.select(names))
    return zip(*(plain.column(name).to_pylist() for name in names), strict=True)


def snapshot_http(exchange: str, records: list[Record], symbol: str, ts: int) -> Record:
    """A REST snapshot of ``symbol``'s book after a clean run of ``records``, received at ``ts``.

    Hand-made faults need a later snapshot to recover from; the engine's own book
    after the clean prefix is one that is known right at its update id.
    """
    sync = run_records(exchange, records).engine.symbols[symbol]
    body = {
        "lastUpdateId": sync.last_id,
        "bids": [[str(p), s] for p, s in sync.book.bids.top(10_000)],
        "asks": [[str(p), s] for p, s in sync.book.asks.top(10_000)],
    }
    path = "/fapi/v1/depth" if exchange == "binance-usdm" else "/api/v3/depth"
    return Record("http", ts, 0, json.dumps(body), f"https://x{path}?symbol={symbol}&limit=1000")


Sides = dict[str, dict[Decimal, Decimal]]


def book_states(rows: list[dict]) -> Iterator[tuple[int, Sides]]:
    """``(seq, book)`` after each message, applying one symbol's rows as a user would.

    ``rows`` are sorted by ``apply_seq``. A maximal run of snapshot rows with the
    same ``(seq, ts_recv)`` replaces the book; other rows set absolute sizes (0
    deletes). The yielded book is live: copy it to keep it.
    """
    sides: Sides = {"bid": {}, "ask": {}}
    group = None
    for i, row in enumerate(rows):
        key = (row["seq"], row["ts_recv"]) if row["is_snapshot"] else None
        if key is not None and key != group:
            sides = {"bid": {}, "ask": {}}
        group = key
        if row["size"] == 0:
            sides[row["side"]].pop(row["price"], None)
        else:
            sides[row["side"]][row["price"]] = row["size"]
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if nxt is None or nxt["seq"] != row["seq"] or nxt["apply_seq"] != row["apply_seq"] + 1:
            yield row["seq"], sides


def rebuild_books(book: pa.Table) -> dict[str, Sides]:
    """Every symbol's final book, rebuilt from its rows in ``apply_seq`` order.

    The final state of ``book_states`` per symbol, in one pass over all symbols: a run of
    snapshot rows with a new ``(seq, ts_recv)`` replaces the book, other rows set sizes.
    """
    names = ["symbol", "seq", "ts_recv", "is_snapshot", "side", "price", "size"]
    books: dict[str, Sides] = {}
    groups: dict[str, tuple | None] = {}
    for symbol, seq, ts_recv, is_snapshot, side, price, size in _columns(
        book.sort_by("apply_seq"), names
    ):
        key = (seq, ts_recv) if is_snapshot else None
        if symbol not in books or (key is not None and key != groups[symbol]):
            books[symbol] = {"bid": {}, "ask": {}}
        groups[symbol] = key
        if size == 0:
            books[symbol][side].pop(price, None)
        else:
            books[symbol][side][price] = size
    return books


# -- replaying a recording -----------------------------------------------------------------


def adapter_recordings() -> list[tuple[str, Path]]:
    """(adapter slug, recording) for every registered adapter and every stream recording
    in its captures folders (former names too): the corpus the conformance and
    differential suites cover."""
    return [(slug, path) for slug in sorted(adapters.REGISTRY) for path in slug_recordings(slug)]


def run_recording(
    path: Path, slug: str | None = None, *, native: bool | None = None, **pipeline_options
) -> tuple[list[Record], Pipeline]:
    """Replay one recording as ``collector replay`` does; returns (its records, the pipeline).

    The instruments sidecar (``NAME.instruments.jsonl.gz``, or a family file such as
    ``KRAKEN.instruments.jsonl.gz``) is fed to the adapter first through the project's own
    ``load_instruments``, so markets and contract data come from the recorded REST answers
    exactly as in production, and the sidecar's records are not counted as stream records.
    The pipeline writes to a ``MemorySink``; ``slug`` overrides the exchange the file names.
    ``native`` picks the compiled core or the reference (None: ``COLLECTOR_NATIVE``);
    other keywords go to ``Pipeline``.
    """
    exchange, records = load_records(path)
    adapter = adapters.create(slug or exchange)
    load_instruments(adapter, path)
    pipeline = Pipeline(adapter, MemorySink(), native=native, **pipeline_options)
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    return records, pipeline


def replayed_fixture(
    files: list[Path], *, exchange: str | None = None, ids: Callable[[Path], str] = rel
):
    """A module-scoped fixture giving ``(path, records, pipeline)`` for each of ``files``.

    Module scope is the point: a venue module has a dozen tests per recording, and
    replaying a deep book recording is the slow part, so each file is replayed once per
    module rather than once per test. Tests must not mutate what they get. With
    ``exchange``, each recording must name that exchange (a misfiled capture fails).
    """

    @pytest.fixture(scope="module", params=files, ids=ids)
    def replayed(request: pytest.FixtureRequest) -> tuple[Path, list[Record], Pipeline]:
        records, pipeline = run_recording(request.param)
        if exchange is not None:
            assert pipeline.exchange == exchange, request.param
        return request.param, records, pipeline

    return replayed


def recv_frames(records: Iterable[Record], **loads) -> Iterator[tuple[Record, object]]:
    """``(record, decoded JSON)`` of each received frame, for expectations built from the wire.

    Tests derive expected rows with ``json`` and ``Decimal`` independently of the adapter;
    ``loads`` passes e.g. ``parse_float=Decimal`` to keep the wire's decimal text exact.
    A bare ``pong`` (the text reply to OKX's and BitMEX's app-level ping) is not JSON: skipped.
    """
    for record in records:
        if record.kind == "recv" and record.data != "pong":
            yield record, json.loads(record.data, **loads)


def recv_json(records: Iterable[Record], **loads) -> list:
    """Every received frame, JSON-decoded (see ``recv_frames``)."""
    return [frame for _, frame in recv_frames(records, **loads)]


def table_rows(pipeline: Pipeline, table: str, *fields: str) -> list[tuple]:
    """``fields`` of every row the pipeline wrote to ``table``, in write order ([] if none)."""
    data = pipeline.sink.table(table)
    if data is None:
        return []
    return list(_columns(data, list(fields)))


def written_book_rows(
    pipeline: Pipeline,
    key: tuple[str, ...] = ("symbol", "seq", "is_snapshot"),
    value: tuple[str, ...] = ("side", "price", "size"),
) -> dict[tuple, list[tuple]]:
    """Book rows in ``apply_seq`` order, grouped by message: ``{key fields: [value fields]}``.

    The shape every "written rows equal the wire text" test compares with the levels it
    reads from the frames itself; ``key`` names the message, ``value`` one level of it.
    """
    book = pipeline.sink.table("book")
    written: dict[tuple, list[tuple]] = defaultdict(list)
    if book is None:
        return written
    n = len(key)
    for row in _columns(book.sort_by("apply_seq"), [*key, *value]):
        written[row[:n]].append(row[n:])
    assert sum(map(len, written.values())) == book.num_rows
    return written


# -- checks every venue makes --------------------------------------------------------------


def assert_every_frame_understood(pipeline: Pipeline, records: list[Record]) -> None:
    """No problem of any kind was counted, and every received frame reached the adapter."""
    assert dict(pipeline.problems) == {}
    assert pipeline.frames == sum(r.kind == "recv" for r in records)


def assert_no_decode_failed(adapter: Adapter, records: list[Record]) -> None:
    """A fresh adapter decodes every received frame without a ``DecodeFailed``.

    Stricter than the pipeline's problem count: it names the frame that failed.
    """
    for rec in records:
        if rec.kind == "recv":
            for msg in adapter.decode(rec.data, rec.ts, rec.conn):
                assert not isinstance(msg, DecodeFailed), (msg, rec.data[:200])


def assert_never_crossed(book: pa.Table, *, two_sided: bool = False) -> int:
    """Replay the written rows per symbol; after every message best bid < best ask.

    Returns the number of book states checked (one per message that wrote rows), which
    venue tests compare with their documented message counts. With ``two_sided`` every
    state must also have both a bid and an ask. The same message boundaries as
    ``book_states``, with lazy heaps for the best prices: a per-state ``max``/``min``
    over deep books (1000-5000 levels a side, thousands of messages) is what made the
    replay tests slow.
    """
    assert pa.compute.min(book["size"]).as_py() >= 0, "negative size written"
    names = ["symbol", "seq", "ts_recv", "apply_seq", "is_snapshot", "side", "price", "size"]
    by_symbol: dict[str, list[tuple]] = {}
    for row in _columns(book.sort_by("apply_seq"), names):
        by_symbol.setdefault(row[0], []).append(row)
    states = 0
    for symbol, rows in by_symbol.items():
        levels: Sides = {"bid": {}, "ask": {}}
        heaps: dict[str, list[Decimal]] = {"bid": [], "ask": []}
        group = None
        for i, (_, seq, ts_recv, apply_seq, is_snapshot, side, price, size) in enumerate(rows):
            key = (seq, ts_recv) if is_snapshot else None
            if key is not None and key != group:
                levels, heaps = {"bid": {}, "ask": {}}, {"bid": [], "ask": []}
            group = key
            if size == 0:
                levels[side].pop(price, None)
            else:
                if price not in levels[side]:
                    heapq.heappush(heaps[side], -price if side == "bid" else price)
                levels[side][price] = size
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            if nxt is None or nxt[1] != seq or nxt[3] != apply_seq + 1:
                states += 1
                bid = _best(heaps["bid"], levels["bid"], -1)
                ask = _best(heaps["ask"], levels["ask"], 1)
                if two_sided:
                    assert bid is not None and ask is not None, (symbol, seq)
                if bid is not None and ask is not None:
                    assert bid < ask, f"{symbol} crossed at update {seq}: {bid} >= {ask}"
    return states


def _best(heap: list[Decimal], side: dict[Decimal, Decimal], sign: int) -> Decimal | None:
    """The best live price of a lazy heap (prices deleted since their push are popped)."""
    while heap:
        price = heap[0] * sign
        if price in side:
            return price
        heapq.heappop(heap)
    return None


def assert_rows_rebuild_engine_books(pipeline: Pipeline, *, unwritten_empty: bool = False) -> None:
    """The written rows alone, applied in order, rebuild every engine book exactly.

    This is what a user of the Parquet files relies on. Every written symbol is an engine
    symbol; every engine symbol has rows, unless ``unwritten_empty``: then a symbol whose
    book was always empty (nothing to write) may have none.
    """
    rebuilt = rebuild_books(pipeline.sink.table("book"))
    symbols = pipeline.engine.symbols
    assert set(rebuilt) <= set(symbols), set(rebuilt) - set(symbols)
    for symbol, sync in symbols.items():
        exact = sync.book.as_dict()
        if unwritten_empty:
            got = rebuilt.get(symbol, {"bid": {}, "ask": {}})
        else:
            assert symbol in rebuilt, f"{symbol}: no rows written"
            got = rebuilt[symbol]
        assert got["bid"] == exact["bids"], symbol
        assert got["ask"] == exact["asks"], symbol


def exit_at_once(*args: object) -> None:
    """A process that ends without a word, as one the OOM killer took (a pool worker)."""
    os._exit(9)
