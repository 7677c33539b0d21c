"""Derivative tables replayed from the recordings that carry such frames.

Expected rows are built from each frame's own JSON text (``parse_float=Decimal``, so
the wire's digits stay exact), independently of the adapters, and compared with every
row written: one row per frame carrying a derivative field, nulls where it is silent.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from support import CAPTURES, needs_captures, pylist, recv_frames, run_recording

from collector import schema
from collector.dataset import duckdb_relation, open_table
from collector.replay import replay

pytestmark = needs_captures

BYBIT_V5 = CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz"
MS = 1_000_000


def _num(value: str | None) -> Decimal | None:
    return Decimal(value) if value not in (None, "") else None


def test_bybit_linear_tickers_write_one_exact_row_per_frame_with_derivative_fields() -> None:
    records, pipeline = run_recording(BYBIT_V5)
    linear = {r.conn for r in records if r.kind == "open" and r.url.endswith("/linear")}
    fields = {
        "mark_price": "markPrice",
        "index_price": "indexPrice",
        "last_price": "lastPrice",
        "open_interest": "openInterest",
        "funding_rate": "fundingRate",
    }
    expected = []
    for record, frame in recv_frames(records):
        if record.conn not in linear or not frame.get("topic", "").startswith("tickers."):
            continue
        data = frame["data"]
        row = {ours: _num(data.get(theirs)) for ours, theirs in fields.items()}
        next_funding = data.get("nextFundingTime")
        row["funding_time"] = int(next_funding) * MS if next_funding else None
        if any(v is not None for v in row.values()):
            expected.append(
                {
                    "symbol": f"linear:{data['symbol']}",
                    "ts_exchange": frame["ts"] * MS,
                    "ts_recv": record.ts,
                    **row,
                }
            )
    rows = pylist(pipeline.sink.table("derivative_ticker"))
    got = [
        {k: r[k] for k in ("symbol", "ts_exchange", "ts_recv", *fields, "funding_time")}
        for r in rows
    ]
    assert len(expected) > 100  # snapshots plus the deltas that moved mark, index or OI
    assert got == expected
    assert all(r["predicted_funding_rate"] is None for r in rows)  # Bybit sends none
    assert {r["market"] for r in rows} == {
        "BTC-USDT-PERP",
        "ETH-USDT-PERP",
        "SOL-USDT-PERP",
        "DOGE-USDT-PERP",
    }


def test_bybit_spot_tickers_and_quote_only_deltas_write_no_derivative_rows() -> None:
    records, pipeline = run_recording(BYBIT_V5)
    rows = pylist(pipeline.sink.table("derivative_ticker"))
    assert not [r for r in rows if r["symbol"].startswith("spot:")]
    quote_only = [
        f
        for _, f in recv_frames(records)
        if f.get("topic", "").startswith("tickers.")
        and f["type"] == "delta"
        and set(f["data"]) <= {"symbol", "bid1Price", "bid1Size", "ask1Price", "ask1Size"}
    ]
    assert quote_only  # such deltas exist, and gave no row (checked by the exact list above)


DERIBIT = CAPTURES / "deribit" / "DERIBIT.jsonl.gz"
GREEKS = ("delta", "gamma", "vega", "theta", "rho")


def test_deribit_option_tickers_write_every_value_of_each_frame() -> None:
    records, pipeline = run_recording(DERIBIT)
    expected = []
    for record, frame in recv_frames(records, parse_float=Decimal):
        params = frame.get("params") or {}
        if not str(params.get("channel", "")).startswith("ticker."):
            continue
        d = params["data"]
        expected.append(
            {
                "symbol": d["instrument_name"],
                "ts_exchange": d["timestamp"] * MS,
                "ts_recv": record.ts,
                "option_type": "call" if d["instrument_name"].endswith("-C") else "put",
                "best_bid_price": d["best_bid_price"],
                "best_bid_size": d["best_bid_amount"],
                "best_bid_iv": d["bid_iv"],
                "best_ask_price": d["best_ask_price"],
                "best_ask_size": d["best_ask_amount"],
                "best_ask_iv": d["ask_iv"],
                "mark_price": d["mark_price"],
                "mark_iv": d["mark_iv"],
                "underlying_price": d["underlying_price"],
                "underlying_index": d["underlying_index"],
                **{g: d["greeks"][g] for g in GREEKS},
                "open_interest": d["open_interest"],
            }
        )
    rows = pylist(pipeline.sink.table("option_summary"))
    assert len(expected) == 89  # README: ticker.*.raw 89
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    by_symbol = {r["symbol"]: r for r in rows}
    row = by_symbol["ETH-30JUL21-2800-C"]
    assert row["strike"] == Decimal("2800") and row["market"] == "ETH-USD-20210730-2800-C"
    assert row["expiration"] == 1627632000 * 10**9  # the instrument list: 2021-07-30 08:00 UTC
    assert pipeline.sink.table("derivative_ticker") is None  # options only in this recording


OKX = CAPTURES / "okx" / "OKX.jsonl.gz"


def test_okx_futures_tickers_give_their_last_price() -> None:
    records, pipeline = run_recording(OKX)
    expected = [
        (row["instId"], int(row["ts"]) * MS, record.ts, Decimal(row["last"]))
        for record, frame in recv_frames(records)
        if isinstance(frame, dict)
        and frame.get("arg", {}).get("channel") == "tickers"
        and "data" in frame
        for row in frame["data"]
    ]
    rows = pylist(pipeline.sink.table("derivative_ticker"))
    assert len(expected) == 2  # README: tickers 2
    assert [
        (r["symbol"], r["ts_exchange"], r["ts_recv"], r["last_price"]) for r in rows
    ] == expected
    assert {r["market"] for r in rows} == {"BTC-USD-20220527"}
    # a ticker states no mark, index, open interest or funding: those stay null
    assert all(r[k] is None for r in rows for k in ("mark_price", "index_price", "funding_rate"))


def test_dataset_api_reads_the_derivative_tables(tmp_path: Path) -> None:
    """``open_table``/``duckdb_relation`` read the new tables like the others."""
    replay([BYBIT_V5, DERIBIT], tmp_path)
    tickers = open_table(
        tmp_path, "derivative_ticker", exchange="bybit", symbols=["linear:BTCUSDT"]
    )
    assert tickers.num_rows > 0 and set(tickers["symbol"].to_pylist()) == {"linear:BTCUSDT"}
    assert tickers.schema.field("funding_rate").type == schema.DECIMAL
    options = open_table(tmp_path, "option_summary", exchange="deribit")
    assert options.num_rows == 89
    counted = duckdb_relation(tmp_path, "option_summary", symbols=["ETH-30JUL21-2800-C"])
    assert len(counted.fetchall()) == options["symbol"].to_pylist().count("ETH-30JUL21-2800-C")
    with pytest.raises(FileNotFoundError):  # no liquidation in either recording
        open_table(tmp_path, "liquidations")
