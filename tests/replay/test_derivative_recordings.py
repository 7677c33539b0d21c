"""Derivative tables replayed from the recordings that carry such frames.

Expected rows are built from each frame's own JSON text (``parse_float=Decimal``, so
the wire's digits stay exact), independently of the adapters, and compared with every
row written: one row per frame carrying a derivative field, nulls where it is silent.
"""

from __future__ import annotations

from decimal import Decimal

from support import CAPTURES, needs_captures, pylist, recv_frames, run_recording

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
