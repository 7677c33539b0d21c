"""HTX (Huobi) recordings replay to the facts the captures README documents.

``huobi/HUOBI.jsonl.gz`` (spot) and ``huobi-swap/HUOBI_SWAP.jsonl.gz`` (coin-M conn 1,
USDT-M conn 2): every frame binary gzip, every one understood; the channel counts and
instruments of the README; every book synced from its full-depth pushes with 0 gaps;
written rows equal to the wire text; trades with unique ids; every server ping answered
in the recording and counted in the replay. Expected values are derived here from the
frames with ``gzip``, ``json`` and ``Decimal``, independently of the adapter.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal

from support import (
    assert_every_frame_understood,
    assert_never_crossed,
    assert_rows_rebuild_engine_books,
    load_records,
    needs_captures,
    readme_channels,
    readme_instruments,
    readme_recordings,
    readme_section,
    rel,
    replayed_fixture,
    slug_recordings,
    stated_gaps,
    table_rows,
    written_book_rows,
)

from collector.capture.records import Record

pytestmark = needs_captures

FILES = slug_recordings("htx") + slug_recordings("htx-swap")
replayed = replayed_fixture(FILES)


def _frames(records: list[Record]) -> list[tuple[Record, dict]]:
    """Every received frame inflated and parsed, numbers as exact ``Decimal``."""
    return [
        (r, json.loads(gzip.decompress(r.data), parse_float=Decimal, parse_int=Decimal))
        for r in records
        if r.kind == "recv"
    ]


def _channel(message: dict) -> str:
    """The README's channel name: ``depth.step0``, ``trade.detail`` or ``(control/other)``."""
    ch = message.get("ch")
    return ".".join(ch.split(".")[2:]) if ch else "(control/other)"


def test_every_htx_recording_is_covered_under_its_former_folder_names() -> None:
    assert readme_recordings("huobi|huobi-swap") == {rel(p) for p in FILES}
    assert [p.parent.name for p in FILES] == ["huobi", "huobi-swap"]


def test_every_frame_is_binary_gzip_and_understood(replayed) -> None:
    path, records, pipeline = replayed
    recv = [r for r in records if r.kind == "recv"]
    stated = re.search(r"\((\d+) binary frames as `b64`\)", readme_section(path))
    assert stated and len(recv) == int(stated[1])
    assert all(isinstance(r.data, bytes) and r.data[:2] == b"\x1f\x8b" for r in recv)
    assert_every_frame_understood(pipeline, records)
    assert pipeline.exchange == {"huobi": "htx", "huobi-swap": "htx-swap"}[path.parent.name]


def test_channel_counts_and_instruments_are_the_readmes(replayed) -> None:
    path, records, pipeline = replayed
    section = readme_section(path)
    stated = {
        m[1].strip(): int(m[2])
        for m in re.finditer(r"([^,]+?) (\d+)(?:,|$)", readme_channels(section))
    }
    assert Counter(_channel(m) for _, m in _frames(records)) == stated
    _, names = readme_instruments(section)
    assert set(names) == set(pipeline.frames_by_symbol)


def test_every_book_is_synced_by_each_push_with_no_gap(replayed) -> None:
    path, records, pipeline = replayed
    pushes = Counter(
        m["ch"].split(".")[1] for _, m in _frames(records) if _channel(m) == "depth.step0"
    )
    stats = {s: sym.stats for s, sym in pipeline.engine.symbols.items()}
    assert {s: st.snapshots_applied for s, st in stats.items()} == pushes
    assert sum(st.gaps for st in stats.values()) == (stated_gaps(readme_section(path)) or 0)
    assert all(sym.state.value == "synced" for sym in pipeline.engine.symbols.values())
    assert_never_crossed(pipeline.sink.table("book"), two_sided=True)
    assert_rows_rebuild_engine_books(pipeline)


def test_written_book_rows_are_the_wire_text(replayed) -> None:
    _, records, pipeline = replayed
    sent: dict[tuple, list[tuple]] = defaultdict(list)
    numbers: Counter[tuple[int, str]] = Counter()
    for record, message in _frames(records):
        if _channel(message) != "depth.step0":
            continue
        symbol = message["ch"].split(".")[1]
        numbers[(record.conn, symbol)] += 1  # the adapter's per-connection book number
        key = (symbol, numbers[(record.conn, symbol)], True, record.ts)
        for side, levels in (("bid", message["tick"]["bids"]), ("ask", message["tick"]["asks"])):
            sent[key] += [(side, Decimal(p), Decimal(s)) for p, s in levels]
    written = written_book_rows(pipeline, key=("symbol", "seq", "is_snapshot", "ts_recv"))
    assert written == sent


def test_trades_are_the_wire_trades_less_the_repeat_on_subscribe(replayed) -> None:
    """The first push of a symbol on a connection repeats HTX's last published trade."""
    _, records, pipeline = replayed
    expected = []
    seen: set[tuple[int, str]] = set()
    for record, message in _frames(records):
        if _channel(message) != "trade.detail":
            continue
        symbol = message["ch"].split(".")[1]
        if (record.conn, symbol) not in seen:
            seen.add((record.conn, symbol))
            continue
        for t in message["tick"]["data"]:
            trade_id = str(t.get("tradeId", t["id"]))
            expected.append((symbol, trade_id, t["direction"], t["price"], t["amount"]))
    written = table_rows(pipeline, "trades", "symbol", "trade_id", "side", "price", "size")
    assert sorted(written) == sorted(expected)
    ids = [(s, i) for s, i, *_ in written]
    assert len(ids) == len(set(ids)), "trade ids repeat"


def test_every_ping_was_answered_on_its_connection_and_the_replay_counts_them(replayed) -> None:
    _, records, pipeline = replayed
    pings = [(r.conn, m["ping"]) for r, m in _frames(records) if "ping" in m]
    pongs = [
        (r.conn, json.loads(r.data, parse_int=Decimal)["pong"])
        for r in records
        if r.kind == "send" and "pong" in r.data
    ]
    assert pings and sorted(pings) == sorted(pongs)
    assert pipeline.controls["reply"] == len(pings)


def test_the_swap_recording_serves_both_margins_on_their_own_connections() -> None:
    (path,) = slug_recordings("htx-swap")
    records = [r for r in load_records(path)[1] if r.kind == "open"]
    assert {r.conn: r.url for r in records} == {
        1: "wss://api.hbdm.com/swap-ws",
        2: "wss://api.hbdm.com/linear-swap-ws",
    }
