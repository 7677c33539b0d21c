"""What the Parquet writer thread spends per hand-off besides encoding, as files fill.

The daemon hands each venue's tables to the sink once per flush interval (a second by
default), and the writer thread reads ``ParquetSink.buffered_bytes`` after every
operation for the memory bound and its gauge. A partition's quotes and trades stay
buffered as one small batch per hand-off until a row group fills or the file rotates
(``[output] rotate_seconds``, 300 s by default), so whatever that bookkeeping walks
grows with the venues and with time into the file. This replays that: ``--venues``
venues each hand over ``--quotes`` quotes and ``--trades`` trades a second for
``--seconds`` seconds into a sink rotating every ``--rotate-seconds`` (no row group
fills at these rates), and prints, every ``--every`` seconds of data, the CPU time of
one hand-off (``write``) and of one ``buffered_bytes`` read, and the batches held.

Usage::

    python benchmarks/sink_bookkeeping.py [--venues 10] [--seconds 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from collector.model import BestBidAsk, Trade
from collector.sinks.parquet import ParquetSink
from collector.tables import TableBuffers

T0 = 1_796_000_000_000_000_000
SECOND = 1_000_000_000


def hand_off(second: int, quotes: int, trades: int) -> dict:
    """One venue's tables of one flush interval, as the pipeline builds them."""
    out = TableBuffers()
    ts = T0 + second * SECOND
    for j in range(trades):
        trade_id = str(second * trades + j)
        out.add_trade(Trade("BTCUSDT", ts + j, ts + j, trade_id, "buy", "61800.1", "0.5"), "X")
    for j in range(quotes):
        seq = second * quotes + j
        quote = BestBidAsk("BTCUSDT", ts + j, ts + j, seq, "61800.1", "1.5", "61800.2", "2")
        out.add_bbo(quote, "BTC-USDT")
    return out.drain()


def run(args: argparse.Namespace) -> list[dict]:
    venues = [f"venue-{i}" for i in range(args.venues)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sink = ParquetSink(tmp, rotate_seconds=args.rotate_seconds)
        for second in range(args.seconds):
            tables = hand_off(second, args.quotes, args.trades)
            write_s = 0.0
            for venue in venues:
                for name, table in tables.items():
                    start = time.process_time()
                    sink.write(name, venue, table)
                    write_s += time.process_time() - start
            if (second + 1) % args.every:
                continue
            start, reads = time.process_time(), 20
            for _ in range(reads):
                sink.buffered_bytes  # noqa: B018 - the read is what is timed
            read_s = (time.process_time() - start) / reads
            rows.append(
                {
                    "second": second + 1,
                    "batches_held": sum(len(s.batches) for s in sink._segments()),
                    "write_us": round(write_s / (len(venues) * len(tables)) * 1e6, 1),
                    "buffered_bytes_ms": round(read_s * 1e3, 3),
                    "buffered_bytes": sink.buffered_bytes,
                }
            )
        sink.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--venues", type=int, default=10)
    p.add_argument("--seconds", type=int, default=300, help="seconds of data handed over")
    p.add_argument("--every", type=int, default=60, help="print every this many seconds")
    p.add_argument("--rotate-seconds", type=float, default=300.0)
    p.add_argument("--quotes", type=int, default=50, help="quotes a venue hands over a second")
    p.add_argument("--trades", type=int, default=5, help="trades a venue hands over a second")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = run(args)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{args.venues} venues, {args.quotes} quotes and {args.trades} trades a second each")
    print(f"{'second':>7} {'batches':>8} {'write µs':>9} {'buffered_bytes ms':>18}")
    for r in rows:
        print(
            f"{r['second']:>7} {r['batches_held']:>8} {r['write_us']:>9} "
            f"{r['buffered_bytes_ms']:>18}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
