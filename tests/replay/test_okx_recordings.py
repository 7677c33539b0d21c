"""Every OKX recording replays to verified books, exact rows and decoded trades.

``okx/OKX.jsonl.gz`` (cryptofeed, 2022-05-13) predates ``seqId``/``prevSeqId``:
its ``books`` pushes are checked by their checksums alone (99 pushes carry one,
the snapshot included), which the adapter must all reproduce from the wire text.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

from support import (
    MemorySink,
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    load_records,
    needs_captures,
    recordings,
    recv_json,
    rel,
    replayed_fixture,
    table_rows,
    written_book_rows,
)

from adapters.okx.adapter import OkxAdapter
from adapters.okx.wire import market_from_inst_id
from collector.replay import instruments_sidecar, replay_file

pytestmark = needs_captures

FILES = recordings(("okx",))

#: Per recording: symbol -> book pushes carrying a checksum (all must verify), trades.
FACTS = {"okx/OKX.jsonl.gz": {"BTC-USD-220527": (99, 4)}}

replayed = replayed_fixture(FILES, exchange="okx")


def pushes(records, channel: str) -> list[dict]:
    """Data pushes of one channel (events echo ``arg`` too, but carry no ``data``)."""
    return [f for f in recv_json(records) if "data" in f and f["arg"]["channel"] == channel]


def test_every_okx_recording_has_facts() -> None:
    assert FILES, "no OKX recordings found"
    assert {rel(p) for p in FILES} == set(FACTS)


def test_checksums_verify_and_books_stay_synced(replayed) -> None:
    path, records, pipeline = replayed
    wire = Counter(
        f["arg"]["instId"] for f in pushes(records, "books") if f["data"][0].get("checksum")
    )
    summary = pipeline.summary()
    for symbol, (checksums, trades) in FACTS[rel(path)].items():
        stats = pipeline.engine.symbols[symbol].stats
        assert wire[symbol] == checksums, symbol  # the fact is the wire's own count
        assert (stats.checksums_verified, stats.checksums_failed) == (checksums, 0), symbol
        assert (stats.gaps, stats.resyncs, stats.crossed, stats.duplicates) == (0, 0, 0, 0)
        assert stats.snapshots_applied == 1 and stats.deltas_applied == checksums - 1, symbol
        assert summary[symbol].synced and summary[symbol].trades == trades, symbol


def test_no_problems_and_every_frame_understood(replayed) -> None:
    _, records, pipeline = replayed
    assert_every_frame_understood(pipeline, records)
    assert pipeline.controls["ack"] == sum("event" in f for f in recv_json(records))


def test_no_crossed_book_is_ever_written(replayed) -> None:
    _, _, pipeline = replayed
    states = assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert states == sum(s.stats.snapshots_applied + s.stats.deltas_applied for s in
                         pipeline.engine.symbols.values())  # fmt: skip


def test_parquet_rows_rebuild_the_engine_book(replayed) -> None:
    _, _, pipeline = replayed
    assert_rows_rebuild_engine_books(pipeline)


def test_every_level_is_exact_in_parquet(replayed) -> None:
    """Each written row equals, as a decimal, the level text of the push it came from.

    The recording has no seqId, so pushes are keyed by the adapter's documented
    numbering: snapshot 0, then 1, 2, ... per symbol.
    """
    _, records, pipeline = replayed
    sent: dict[tuple[str, int, bool], list] = {}
    number: Counter[str] = Counter()
    for f in pushes(records, "books"):
        symbol, data = f["arg"]["instId"], f["data"][0]
        snapshot = f["action"] == "snapshot"
        number[symbol] = 0 if snapshot else number[symbol] + 1
        levels = [("bid", Decimal(p), Decimal(s)) for p, s, *_ in data["bids"]]
        levels += [("ask", Decimal(p), Decimal(s)) for p, s, *_ in data["asks"]]
        sent[(symbol, number[symbol], snapshot)] = levels
    assert written_book_rows(pipeline) == {k: v for k, v in sent.items() if v}


def test_trades_are_exact_with_taker_sides(replayed) -> None:
    _, records, pipeline = replayed
    sent = [
        (t["instId"], t["tradeId"], t["side"], Decimal(t["px"]), Decimal(t["sz"]),
         int(t["ts"]) * 1_000_000)
        for f in pushes(records, "trades")
        for t in f["data"]
    ]  # fmt: skip
    got = table_rows(
        pipeline, "trades", "symbol", "trade_id", "side", "price", "size", "ts_exchange"
    )
    assert got == sent and got
    assert {r[2] for r in got} <= {"buy", "sell"}


def test_instruments_sidecar_names_markets() -> None:
    """The REST instrument lists and the instId parse agree on all 1479 instruments."""
    (path,) = [p for p in FILES if rel(p) == "okx/OKX.jsonl.gz"]
    sidecar = instruments_sidecar(path)
    assert sidecar is not None
    adapter = OkxAdapter()
    _, records = load_records(sidecar)
    loaded = [adapter.decode_rest(r.url, r.data, r.ts) for r in records if r.kind == "http"]
    assert len(loaded) == 25 and all(m[0].kind == "ignored" for m in loaded)
    listed = {
        row["instId"]: row["instType"]
        for r in records
        if r.kind == "http"
        for row in json.loads(r.data)["data"]
    }
    assert len(listed) == 1479
    for inst_id, inst_type in listed.items():
        market = adapter.market(inst_id)
        assert market == market_from_inst_id(inst_id), inst_id
        assert market.endswith("-PERP") == (inst_type == "SWAP"), inst_id
    assert adapter.market("BTC-USD-220527") == "BTC-USD-20220527"
    assert adapter.market("BTC-USDT-SWAP") == "BTC-USDT-PERP"

    sink = MemorySink()
    summary = replay_file(path, sink)
    assert summary.problems == {}
    assert set(sink.table("book").column("market").to_pylist()) == {"BTC-USD-20220527"}
    assert set(sink.table("trades").column("market").to_pylist()) == {"BTC-USD-20220527"}
