"""Exchange history files replay with the right semantics (or are refused with a reason).

* Bybit's order-book history files (``<date>_<SYMBOL>_ob500.data.zip``, one v5 message
  per line, https://www.bybit.com/derivatives/en/history-data), built here from the
  ``orderbook.*`` frames of a v5 recording: given ``--url`` for the category they
  rebuild the very books the recording's replay does.
* Binance's public data CSVs (https://github.com/binance/binance-public-data, the column
  lists under "trades", "aggTrades", "bookTicker", "bookDepth"), built here from the
  ``@trade`` and ``@bookTicker`` frames of a USD-M recording.
* ``--url`` for any format: a corpus recording stripped of its ``open`` records.
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from support import CAPTURES, needs_captures

from collector.capture.reader import open_recording
from collector.replay import ReplayError, replay

pytestmark = needs_captures

BYBIT = CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"
USDM = CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz"
LINEAR = "wss://stream.bybit.com/v5/public/linear"


def table(root: Path, name: str) -> list[dict]:
    """The table's rows with times as ns integers, by symbol and receive time."""
    data = ds.dataset(root / f"table={name}", partitioning="hive").to_table()
    for i, field in enumerate(data.schema):
        if pa.types.is_timestamp(field.type):
            data = data.set_column(i, field.name, data.column(i).cast(pa.int64()))
    return sorted(data.to_pylist(), key=lambda r: (r["symbol"], r["ts_recv"]))


def write_zip(path: Path, lines: list[str]) -> Path:
    """``path`` as Bybit and Binance ship them: a zip holding one file of the same stem."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.name.removesuffix(".zip"), "".join(f"{x}\n" for x in lines))
    return path


# -- Bybit order-book history -------------------------------------------------------


def bybit_history(tmp_path: Path, symbol: str) -> Path:
    """One symbol's linear book frames of the recording, as Bybit's daily file holds them."""
    _, records = open_recording(BYBIT)
    lines = [
        r.data
        for r in records
        if r.kind == "recv" and r.conn == 1 and f'"topic":"orderbook.200.{symbol}"' in r.data
    ]
    assert len(lines) > 400
    return write_zip(tmp_path / f"2026-08-09_{symbol}_ob200.data.zip", lines)


def test_bybit_history_rebuilds_the_recorded_book(tmp_path: Path) -> None:
    history = bybit_history(tmp_path, "BTCUSDT")
    original = replay([BYBIT], tmp_path / "original").files[0].symbols["linear:BTCUSDT"]
    got = replay([history], tmp_path / "history", url=LINEAR).files[0]
    assert got.exchange == "bybit" and list(got.symbols) == ["linear:BTCUSDT"]
    mine = got.symbols["linear:BTCUSDT"]
    assert mine.synced and mine.gaps == 0 and mine.snapshots_applied == 1
    assert mine.book == original.book
    assert (mine.book_rows, mine.resyncs, mine.crossed) == (original.book_rows, 0, 0)

    # Every row as the recording's replay wrote it, in the same order, but for the
    # times: the file has no receive time, Bybit's own send time ``ts`` stands in.
    def levels(rows: list[dict]) -> list[tuple]:
        rows = sorted(rows, key=lambda r: r["apply_seq"])
        return [(r["seq"], r["is_snapshot"], r["side"], r["price"], r["size"]) for r in rows]

    recorded = [r for r in table(tmp_path / "original", "book") if r["symbol"] == "linear:BTCUSDT"]
    assert levels(table(tmp_path / "history", "book")) == levels(recorded)


def test_bybit_history_needs_the_category(tmp_path: Path) -> None:
    history = bybit_history(tmp_path, "ETHUSDT")
    with pytest.raises(ReplayError, match=re.escape(f"pass --url {LINEAR}")):
        replay([history], tmp_path / "out")


# -- Binance public data ------------------------------------------------------------


def usdm_events(kind: str, limit: int = 3000) -> list[dict]:
    _, records = open_recording(USDM)
    found = []
    for r in records:
        if r.kind == "recv" and f"@{kind}" in r.data[:40]:
            found.append(json.loads(r.data)["data"])
            if len(found) == limit:
                break
    return found


def test_binance_trades_csv_gives_taker_side_from_is_buyer_maker(tmp_path: Path) -> None:
    trades = usdm_events("trade")
    header = "id,price,qty,quote_qty,time,is_buyer_maker"
    rows = [
        f"{t['t']},{t['p']},{t['q']},{Decimal(t['p']) * Decimal(t['q'])},{t['T']},"
        f"{str(t['m']).lower()}"
        for t in trades
    ]
    path = write_zip(tmp_path / "BTCUSDT-trades-2024-08-08.zip", [header, *rows])
    summary = replay([path], tmp_path / "out", exchange="binance-usdm")
    assert summary.files[0].symbols["BTCUSDT"].trades == len(trades)
    assert not summary.files[0].problems  # every row understood, as live
    got = table(tmp_path / "out", "trades")
    want = [
        (str(t["t"]), "sell" if t["m"] else "buy", Decimal(t["p"]), Decimal(t["q"]), t["T"])
        for t in trades
    ]
    assert {"buy", "sell"} <= {side for _, side, *_ in want}
    ms = 1_000_000
    assert sorted(
        (r["trade_id"], r["side"], r["price"], r["size"], r["ts_recv"] // ms) for r in got
    ) == sorted(want)


def test_binance_spot_aggtrades_csv_without_header(tmp_path: Path) -> None:
    """Spot files have no header and an extra ``is_best_match`` column."""
    trades = usdm_events("trade", 50)
    rows = [
        f"{t['t']},{t['p']},{t['q']},{t['t']},{t['t']},{t['T'] * 1000},{t['m']},True"
        for t in trades  # spot times are in microseconds since 2025
    ]
    path = write_zip(tmp_path / "BTCUSDT-aggTrades-2025-01-02.zip", rows)
    assert not replay([path], tmp_path / "out", exchange="binance-spot").files[0].problems
    got = table(tmp_path / "out", "trades")
    assert [(r["trade_id"], r["side"]) for r in got] == [
        (str(t["t"]), "sell" if t["m"] else "buy") for t in trades
    ]
    assert got[0]["ts_exchange"] == trades[0]["T"] * 1_000_000


def test_binance_book_ticker_csv_becomes_bbo(tmp_path: Path) -> None:
    quotes = usdm_events("bookTicker")
    header = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,"
    header += "transaction_time,event_time"
    rows = [f"{q['u']},{q['b']},{q['B']},{q['a']},{q['A']},{q['T']},{q['E']}" for q in quotes]
    path = tmp_path / "BTCUSDT-bookTicker-2024-08-08.csv"  # unpacked: plain text works too
    path.write_text("\n".join([header, *rows]) + "\n")
    assert not replay([path], tmp_path / "out", exchange="binance-usdm").files[0].problems
    got = table(tmp_path / "out", "bbo")
    assert [
        (r["seq"], r["bid_price"], r["bid_size"], r["ask_price"], r["ask_size"]) for r in got
    ] == [(q["u"], *(Decimal(q[k]) for k in "bBaA")) for q in quotes]


def test_binance_book_depth_is_refused_with_the_reason(tmp_path: Path) -> None:
    header = "timestamp,percentage,depth,notional"
    path = write_zip(
        tmp_path / "BTCUSDT-bookDepth-2024-08-08.zip",
        [header, "2024-08-08 00:00:08,-5,1234.5,70000000.1"],
    )
    with pytest.raises(ReplayError, match="percentage-depth aggregates") as info:
        replay([path], tmp_path / "out", exchange="binance-usdm")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out" / "table=trades").exists()


# -- --url for a recording without connection records ------------------------------


def test_url_opens_connections_a_recording_does_not(tmp_path: Path) -> None:
    """The corpus file without its ``open`` lines: refused per frame, unless --url says it."""
    with gzip.open(BYBIT, "rt") as fh:
        lines = fh.read().splitlines()
    kept = [x for x in lines if '"kind":"open"' not in x and '"conn":2' not in x]
    path = tmp_path / "no-open.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(kept) + "\n")
    blind = replay([path], tmp_path / "blind").files[0]
    assert not blind.symbols and blind.problems
    got = replay([path], tmp_path / "told", url=LINEAR).files[0]
    original = replay([BYBIT], tmp_path / "original").files[0]
    linear = {s: v for s, v in original.symbols.items() if s.startswith("linear:")}
    assert got.symbols == linear
