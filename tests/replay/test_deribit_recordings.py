"""Every Deribit recording replays to the facts its README section documents.

The instruments sidecar is fed first (as ``collector replay`` does), so markets come
from ``public/get_instruments``. Facts are parsed from the README itself.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from support import (
    CAPTURES,
    book_states,
    load_records,
    needs_captures,
    pylist,
    rebuild_books,
    recordings,
    run_records,
)

from adapters.deribit import DeribitAdapter
from collector.model import DecodeFailed

pytestmark = needs_captures

FILES = recordings(("deribit",))


def _section(path: Path) -> str:
    readme = (CAPTURES / "README.md").read_text()
    rel = path.relative_to(CAPTURES).as_posix()
    return readme.split(f"### `{rel}`", 1)[1].split("\n### ", 1)[0]


def _with_sidecar(path: Path) -> list:
    sidecar = path.with_name(path.name[: -len(".jsonl.gz")] + ".instruments.jsonl.gz")
    return load_records(sidecar)[1] if sidecar.exists() else []


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name)
def replayed(request: pytest.FixtureRequest):
    path: Path = request.param
    exchange, records = load_records(path)
    assert exchange == "deribit"
    return path, records, run_records(exchange, [*_with_sidecar(path), *records])


def test_every_deribit_recording_is_covered() -> None:
    assert FILES, "no Deribit recordings found"
    readme = (CAPTURES / "README.md").read_text()
    listed = set(re.findall(r"^### `(deribit/[^`]+(?<!\.instruments)\.jsonl\.gz)`", readme, re.M))
    assert listed == {p.relative_to(CAPTURES).as_posix() for p in FILES}


def test_change_id_chain_matches_readme(replayed) -> None:
    path, _, pipeline = replayed
    section = _section(path)
    m = re.search(r"chain over (\d+) books \((\d+) changes\): \*\*(\d+) gaps\*\*", section)
    assert m, "no chain fact in the README"
    books, changes, gaps = map(int, m.groups())
    instruments = re.search(r"\*\*Instruments \(\d+\)\*\*: (.+)", section)
    assert instruments
    assert set(pipeline.engine.symbols) == set(instruments[1].split(", "))
    stats = {s: sync.stats for s, sync in pipeline.engine.symbols.items()}
    assert len(stats) == books == 10
    assert sum(st.deltas_applied for st in stats.values()) == changes == 36
    assert sum(st.gaps for st in stats.values()) == gaps == 0
    summary = pipeline.summary()
    for symbol, st in stats.items():
        assert st.snapshots_applied == 1, symbol
        assert st.resyncs == 0 and st.crossed == 0 and st.duplicates == 0, symbol
        assert summary[symbol].synced, symbol


def test_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert dict(pipeline.problems) == {}
    adapter = DeribitAdapter()
    for rec in records:
        if rec.kind == "recv":
            for msg in adapter.decode(rec.data, rec.ts, rec.conn):
                assert not isinstance(msg, DecodeFailed), (msg, rec.data[:200])


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    rows = pylist(pipeline.sink.table("book").sort_by("apply_seq"))
    states = 0
    for symbol in pipeline.engine.symbols:
        for _, sides in book_states([r for r in rows if r["symbol"] == symbol]):
            states += 1
            if sides["bid"] and sides["ask"]:
                assert max(sides["bid"]) < min(sides["ask"]), symbol
    # One state per message that wrote rows (an empty snapshot or change writes none).
    assert states == len({(r["symbol"], r["seq"]) for r in rows}) > 10


def test_rows_equal_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent: dict[tuple[str, int, bool], list] = {}
    for rec in records:
        if rec.kind != "recv":
            continue
        msg = json.loads(rec.data, parse_float=Decimal)
        params = msg.get("params") or {}
        if not str(params.get("channel", "")).startswith("book."):
            continue
        d = params["data"]
        levels = [
            (side, Decimal(p), Decimal(0) if action == "delete" else Decimal(a))
            for side, key in (("bid", "bids"), ("ask", "asks"))
            for action, p, a in d[key]
        ]
        sent[(d["instrument_name"], d["change_id"], d["type"] == "snapshot")] = levels
    written: dict[tuple[str, int, bool], list] = defaultdict(list)
    book = pipeline.sink.table("book").sort_by("apply_seq")
    for row in pylist(book):
        written[(row["symbol"], row["seq"], row["is_snapshot"])].append(
            (row["side"], row["price"], row["size"])
        )
    assert written
    for key, rows in written.items():
        assert rows == sent[key], key
    assert {k for k, v in sent.items() if v} == set(written)


def test_parquet_rows_rebuild_the_engine_book_and_markets(replayed) -> None:
    _, _, pipeline = replayed
    book = pipeline.sink.table("book")
    rebuilt = rebuild_books(book)
    for symbol, sync in pipeline.engine.symbols.items():
        exact = sync.book.as_dict()
        assert rebuilt.get(symbol, {"bid": {}, "ask": {}}) == {
            "bid": exact["bids"],
            "ask": exact["asks"],
        }, symbol
    markets = {(r["symbol"], r["market"]) for r in pylist(book.select(["symbol", "market"]))}
    assert ("BTC-24SEP21-34000-P", "BTC-USD-20210924-34000-P") in markets
    assert ("ETH-23JUL21-2300-C", "ETH-USD-20210723-2300-C") in markets
