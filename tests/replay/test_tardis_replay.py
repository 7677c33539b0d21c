"""tardis.dev raw files replay exactly as the recordings they were made from.

The converter below writes a corpus recording in tardis's raw format (what
tardis-machine and the tardis datasets API serve: gzip lines of
``<28-character localTimestamp> <message>``, REST snapshots as generated
``<symbol>@depthSnapshot`` messages, an empty line where a connection dropped).
Converted copies live in ``tmp_path`` only. A replay of the converted file must
write the very rows, quality checks and summaries of the original: bookTicker
agreement for Binance USD-M, checksums for OKX, ``u`` continuity for Bybit.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow.dataset as ds
import pytest
from support import CAPTURES, binance_facts, needs_captures, readme_section, stated_checksums

from collector.capture.reader import open_recording
from collector.capture.records import CaptureFormatError, Record
from collector.replay import ReplayError, instruments_sidecar, replay

pytestmark = needs_captures

FUTURES = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
OKX = CAPTURES / "okx" / "OKX.jsonl.gz"
BYBIT = CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"


def tardis_stamp(ts: int) -> str:
    """``2024-08-08T00:00:00.0491700Z``: tardis's localTimestamp, 100 ns resolution."""
    assert ts % 100 == 0, "the recording's times must be exact in tardis's 100 ns"
    seconds, ns = divmod(ts, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns // 100:07d}Z"


def tardis_lines(records: list[Record], conn: int | None = None) -> list[str]:
    """What tardis stores for ``records``: received messages and generated REST snapshots."""
    out = []
    for r in records:
        if r.kind == "recv" and conn in (None, r.conn):
            out.append(f"{tardis_stamp(r.ts)} {r.data}")
        elif r.kind == "http" and conn is None:
            symbol = parse_qs(urlsplit(r.url).query)["symbol"][0]
            body = r.data if isinstance(r.data, str) else r.data.decode()
            stream = f"{symbol.lower()}@depthSnapshot"
            message = f'{{"stream":"{stream}","generated":true,"data":{body}}}'
            out.append(f"{tardis_stamp(r.ts)} {message}")
        elif r.kind == "close" and conn in (None, r.conn):
            out.append("")
    return out


def write_tardis(source: Path, target: Path, conn: int | None = None) -> Path:
    """``source`` converted to a tardis raw file at ``target`` (with its instruments beside)."""
    _, records = open_recording(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt") as fh:
        fh.write("\n".join(tardis_lines(list(records), conn)) + "\n")
    sidecar = instruments_sidecar(source)
    if sidecar is not None:  # a link, not a copy: market names come from the same metadata
        target.with_name(target.name.replace(".jsonl.gz", ".instruments.jsonl.gz")).symlink_to(
            sidecar
        )
    return target


def rows(root: Path, table: str, drop: tuple[str, ...] = ()) -> list[dict]:
    data = ds.dataset(root / f"table={table}", partitioning="hive").to_table()
    data = data.drop_columns([c for c in drop if c in data.column_names])
    return sorted(data.select(sorted(data.column_names)).to_pylist(), key=repr)


def test_binance_usdm_tardis_file_replays_like_its_recording(tmp_path: Path) -> None:
    converted = write_tardis(FUTURES, tmp_path / "tardis" / FUTURES.name)
    original = replay([FUTURES], tmp_path / "original").files[0]
    got = replay([converted], tmp_path / "from-tardis", exchange="binance-futures").files[0]

    assert got.exchange == "binance-usdm"
    assert got.symbols == original.symbols
    facts = binance_facts(FUTURES)
    assert facts
    for symbol, fact in facts.items():
        s = got.symbols[symbol]
        assert (s.bbo_matched, s.bbo_mismatched, s.gaps) == (fact.bbo_matched, 0, fact.gaps)
        assert s.synced and s.book.update_id == fact.final_id
    for table in ("book", "bbo", "trades"):  # ts_recv included: exact to the nanosecond
        assert rows(tmp_path / "from-tardis", table) == rows(tmp_path / "original", table)
    # Connection events: tardis knows no connect time, so it is the first message's.
    drop = ("ts_recv", "ts_event", "detail")
    assert rows(tmp_path / "from-tardis", "quality", drop) == rows(
        tmp_path / "original", "quality", drop
    )


def test_okx_tardis_file_verifies_every_checksum(tmp_path: Path) -> None:
    converted = write_tardis(OKX, tmp_path / "tardis" / OKX.name)
    original = replay([OKX], tmp_path / "original").files[0]
    got = replay([converted], tmp_path / "from-tardis", exchange="okex-futures").files[0]
    verified, total = stated_checksums(readme_section(OKX))
    assert sum(s.checksums_verified for s in got.symbols.values()) == verified == total
    assert got.symbols == original.symbols
    for table in ("book", "trades"):
        assert rows(tmp_path / "from-tardis", table) == rows(tmp_path / "original", table)


def test_bybit_tardis_files_split_by_category(tmp_path: Path) -> None:
    """tardis's ``bybit`` (derivatives) and ``bybit-spot`` feeds: one file each."""
    original = replay([BYBIT], tmp_path / "original").files[0]
    linear = write_tardis(BYBIT, tmp_path / "linear" / BYBIT.name, conn=1)
    spot = write_tardis(BYBIT, tmp_path / "spot" / BYBIT.name, conn=2)
    got_linear = replay([linear], tmp_path / "l", exchange="bybit").files[0]
    got_spot = replay([spot], tmp_path / "s", exchange="bybit-spot").files[0]
    merged = got_linear.symbols | got_spot.symbols
    assert {s.partition(":")[0] for s in got_linear.symbols} == {"linear"}
    assert {s.partition(":")[0] for s in got_spot.symbols} == {"spot"}
    assert merged == original.symbols
    assert all(s.synced and s.gaps == 0 for s in merged.values())


def test_disconnect_line_closes_and_reopens(tmp_path: Path) -> None:
    """An empty line is a lost connection: a disconnect event, then a new connection."""
    _, records = open_recording(OKX)
    lines = tardis_lines(list(records))
    half = len(lines) // 2
    path = tmp_path / "okx.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join([*lines[:half], "", *lines[half:]]) + "\n")
    info, got = open_recording(path, exchange="okex")
    kinds = [(r.kind, r.conn) for r in got if r.kind != "recv"]
    assert info.format == "tardis" and info.exchange == "okx"
    assert kinds == [("open", 1), ("close", 1), ("open", 2)]


def test_bybit_derivatives_connect_by_contract_kind(tmp_path: Path) -> None:
    """tardis's ``bybit`` file mixes linear and inverse: each gets its category's URL."""
    path = tmp_path / "bybit.gz"
    topics = ["orderbook.50.BTCUSDT", "orderbook.50.BTCUSD", None, "publicTrade.ETHPERP"]
    with gzip.open(path, "wt") as fh:
        for topic in topics:
            message = '{"success":true,"op":"pong"}' if topic is None else f'{{"topic":"{topic}"}}'
            fh.write(f"2024-08-08T00:00:00.0000001Z {message}\n")
    _, records = open_recording(path, exchange="bybit")
    conns = [(r.kind, r.conn, r.url.rpartition("/")[2]) for r in records]
    # A reply names no symbol: it stays on the connection of the message before it.
    assert conns == [
        ("open", 1, "linear"),
        ("recv", 1, ""),
        ("open", 2, "inverse"),
        ("recv", 2, ""),
        ("recv", 2, ""),
        ("recv", 1, ""),
    ]


def test_generated_messages_without_a_table_are_skipped(tmp_path: Path) -> None:
    """tardis polls Binance futures open interest over REST: nothing of ours holds it."""
    path = tmp_path / "oi.gz"
    stamp = "2024-08-08T00:00:00.0000001Z"
    with gzip.open(path, "wt") as fh:
        fh.write(f'{stamp} {{"stream":"btcusdt@openInterest","generated":true,"data":{{}}}}\n')
        fh.write(f'{stamp} {{"stream":"btcusdt@depthSnapshot","generated":true,"data":{{}}}}\n')
    _, records = open_recording(path, exchange="binance-futures")
    got = [(r.kind, r.url) for r in records]
    assert got == [("http", "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000")]


def test_timestamps_are_exact_to_100ns(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    message = '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[]}'
    stamps = [
        "2024-08-08T00:00:00.0000001Z",
        "2024-08-08T23:59:59.9999999Z",
        "2024-08-09T00:00:00Z",
    ]
    with gzip.open(path, "wt") as fh:
        fh.write("".join(f"{s} {message}\n" for s in stamps))
    _, records = open_recording(path, exchange="okex")
    day = 1723075200 * 10**9  # 2024-08-08T00:00:00Z
    assert [r.ts for r in records if r.kind == "recv"] == [
        day + 100,
        day + 86_400 * 10**9 - 100,
        day + 86_400 * 10**9,
    ]


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('2024-08-08T00:00:00.0000001Z {"a":1}\n2024-08-08T00:00:0x.1Z {"a":1}\n')
    with pytest.raises(ReplayError, match="pass --exchange"):
        replay([path], tmp_path / "out")
    with pytest.raises(ReplayError, match="no mapping from tardis exchange 'bitfinex'"):
        replay([path], tmp_path / "out", exchange="bitfinex")
    with pytest.raises(CaptureFormatError, match=r"t.gz:2: bad tardis timestamp"):
        replay([path], tmp_path / "out", exchange="okex")
    with gzip.open(path, "wb") as fh:
        fh.write(b'2024-08-08T00:00:00.0000001Z {"a":"\xff"}\n')
    with pytest.raises(CaptureFormatError, match=r"t.gz:1: not UTF-8"):
        replay([path], tmp_path / "out", exchange="okex")


def test_cli_detects_and_forces_the_format(tmp_path: Path) -> None:
    converted = write_tardis(OKX, tmp_path / "tardis" / OKX.name)
    command = [sys.executable, "-m", "collector.cli", "replay", str(converted)]
    for i, extra in enumerate(([], ["--format", "tardis"])):
        out = str(tmp_path / f"out{i}")  # one dataset each: a second replay would be refused
        done = subprocess.run(
            [*command, "--exchange", "okex", "--out", out, "--json", *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert list(summary["exchanges"]) == ["okx"]
