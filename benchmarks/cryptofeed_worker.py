"""cryptofeed's side of ``cryptofeed_side_by_side.py``: its feed handler driven offline.

Runs under the throwaway venv's interpreter (cryptofeed 2.4.1 and the standard
library only: nothing of this project is importable there). It reads one
recording, then answers the harness on stdin/stdout, one JSON line each way:
``{"records": [i, ...], "clock": "wall"}`` replays those records (indices into
the recording) through a fresh feed and replies with the seconds it took, the
snapshots fetched, the book resets, what it raised, and each symbol's final
book (best levels, depth per side).

How the feed is driven, as cryptofeed's own connection handler would:

* every ``recv`` frame goes to ``Feed.message_handler(text, conn, ts)`` with a
  stand-in connection (its ``open`` URL as ``address``) and the receive time as
  float seconds (converted before the clock starts); the feed is reset once
  first, as its ``subscribe`` does;
* REST depth snapshots are not fed as frames: cryptofeed fetches one itself when
  a symbol's first depth frame arrives, through ``feed.http_conn.read(url)``,
  which is replaced by a lookup of the recorded response for that URL;
* the symbol map, which cryptofeed would download at construction, is set
  beforehand (``symbol_mapping``);
* no callbacks are registered: cryptofeed's default no-op ``Callback(None)`` is
  awaited for every book, ticker and trade, so it builds its objects and writes
  nothing.

Binance's raw ``trade`` stream (the hftbacktest recordings) is not one cryptofeed
subscribes to; its handler logs and drops such frames. They are rewritten, before
timing, to the ``aggTrade`` shape it does handle (``"e":"trade"`` ->
``"e":"aggTrade"``, trade id ``"t"`` -> ``"a"``; same length and fields), so a
trade costs cryptofeed what a trade costs it live.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptofeed.defines import L2_BOOK, TRADES
from cryptofeed.exchanges.binance import Binance
from cryptofeed.exchanges.binance_futures import BinanceFutures
from cryptofeed.exchanges.bitfinex import Bitfinex
from cryptofeed.exchanges.bitmex import Bitmex
from cryptofeed.exchanges.kraken import Kraken
from cryptofeed.exchanges.okx import OKX
from cryptofeed.symbols import Symbols

#: The project's exchange slug -> the cryptofeed feed class that speaks it, and the
#: options that make it do the project's work: Kraken's CRC32 check of the top of
#: the book on every message (off by default in cryptofeed, always on here).
#: Left out: Coinbase (2.4.1 keeps only ``side == "ask"`` levels of an Advanced
#: Trade snapshot, which says ``"offer"``, so its book loses the asks and does less
#: work than ours) and Bybit (its handler routes tickers by the live connection's
#: subscription, which a replay would have to rebuild).
FEEDS: dict[str, tuple[type, dict]] = {
    "binance-usdm": (BinanceFutures, {}),
    "binance-spot": (Binance, {}),
    "kraken": (Kraken, {"checksum_validation": True}),
    "bitmex": (Bitmex, {}),
    "bitfinex": (Bitfinex, {}),
    "okx": (OKX, {}),
}


#: As the harness's ``--clock``: wall seconds or this process's CPU seconds.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


class RecordedHTTP:
    """Stands in for ``feed.http_conn``: answers with the recorded body for a URL."""

    def __init__(self, bodies: dict[str, str]) -> None:
        self.bodies = bodies
        self.requests = 0

    async def read(self, url: str, **_: Any) -> str:
        self.requests += 1
        return self.bodies[url]

    async def close(self) -> None:
        pass


def load(path: str) -> tuple[str, list[dict]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        return header["exchange"], [json.loads(line) for line in f]


def as_cryptofeed_trade(text: str) -> str:
    if '"e":"trade"' not in text:
        return text
    return text.replace('"e":"trade"', '"e":"aggTrade"').replace('"t":', '"a":')


def symbol_mapping(feed_class: type, path: Path, records: list[dict]) -> dict[str, str]:
    """cryptofeed's normalized -> exchange symbol map, as it would download it at start.

    From the recording's instrument list (``<NAME>.instruments.jsonl.gz`` beside it)
    through the feed's own parser. Without one (the hftbacktest Binance files), or
    when cryptofeed 2.4.1 cannot parse it (BitMEX's 2021 list: it rejects the expiry
    format), an identity map of the symbols the frames name: Binance's
    combined-stream names, BitMEX's subscription topics. The names only key dicts,
    so the map's content does not change the cost.
    """
    instruments = path.with_name(path.name.split(".")[0] + ".instruments.jsonl.gz")
    if instruments.exists():
        _, found = load(str(instruments))
        bodies = [json.loads(r["data"]) for r in found if r["kind"] == "http"]
        try:
            return feed_class._parse_symbol_data(bodies if len(bodies) > 1 else bodies[0])[0]
        except ValueError:
            pass
    names = set()
    for r in records:
        if r["kind"] == "recv" and "data" in r:
            stream = json.loads(r["data"]).get("stream", "")
            if "@" in stream:
                names.add(stream.split("@", 1)[0].upper())
        elif r["kind"] == "send":
            sent = json.loads(r["data"])
            args = sent.get("args", []) if isinstance(sent, dict) else []
            names.update(a.split(":", 1)[1] for a in args if isinstance(a, str) and ":" in a)
    return {name: name for name in names}


class Driver:
    """One recording, replayed on request through a fresh cryptofeed feed."""

    def __init__(self, path: str) -> None:
        exchange, self.records = load(path)
        if exchange not in FEEDS:
            raise SystemExit(f"cryptofeed_worker: no cryptofeed feed for {exchange!r}")
        self.feed_class, self.options = FEEDS[exchange]
        mapping = symbol_mapping(self.feed_class, Path(path), self.records)
        self.symbols = sorted(mapping)  # BitMEX makes a book for each at (re)connection
        self.bodies = {r["url"]: r["data"] for r in self.records if r["kind"] == "http"}
        Symbols.set(self.feed_class.id, mapping, {})
        self.loop = asyncio.new_event_loop()

    def run(self, indices: list[int], clock: str = "wall") -> dict:
        # Stand-in connections: BitMEX logs conn.uuid, Bybit routes on conn.address.
        conns: dict[int, SimpleNamespace] = {}
        frames = []
        for r in (self.records[i] for i in indices):
            if r["kind"] == "open":
                conns[r["conn"]] = SimpleNamespace(uuid=f"replay-{r['conn']}", address=r["url"])
            elif r["kind"] == "recv" and "data" in r:
                conn = conns.setdefault(r["conn"], SimpleNamespace(uuid="replay", address=""))
                frames.append((as_cryptofeed_trade(r["data"]), conn, r["ts"] / 1e9))
        # The channels only shape the subscription; handlers dispatch on the frame.
        feed = self.feed_class(symbols=self.symbols, channels=[L2_BOOK, TRADES], **self.options)
        http = RecordedHTTP(self.bodies)
        feed.http_conn = http
        resets = -1  # the first is the one its subscribe() makes on connecting
        reset = getattr(feed, "_reset", None)
        if reset is not None:

            def counting_reset() -> None:
                nonlocal resets
                resets += 1
                reset()

            feed._reset = counting_reset
            feed._reset()
        handler = feed.message_handler
        errors: list[str] = []

        now = CLOCKS[clock]

        async def replay() -> float:
            start = now()
            for text, conn, ts in frames:
                try:
                    await handler(text, conn, ts)
                except Exception as e:  # counted and reported: a bad checksum raises
                    errors.append(f"{type(e).__name__}: {e}")
            return now() - start

        seconds = self.loop.run_until_complete(replay())
        return {
            "seconds": seconds,
            "frames": len(frames),
            "snapshots": http.requests,
            "resets": max(resets, 0),
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "books": {  # keyed by the exchange's symbol, as the project's tables are
                feed.std_symbol_to_exchange_symbol(symbol): final_book(book)
                for symbol, book in feed._l2_book.items()
            },
        }


def final_book(book: Any) -> dict:
    """Best levels as text and depth per side, to check against the project's final book."""
    sides = {"bid": book.book.bids, "ask": book.book.asks}
    out: dict = {f"{name}_levels": len(side) for name, side in sides.items()}
    for name, side in sides.items():
        out[name] = [str(v) for v in side.index(0)] if len(side) else None
    return out


def main() -> None:
    logging.disable(logging.CRITICAL)  # a dropped frame must not cost a log line
    driver = Driver(sys.argv[1])
    print(json.dumps({"ready": True, "records": len(driver.records)}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(driver.run(request["records"], request["clock"])), flush=True)


if __name__ == "__main__":
    main()
