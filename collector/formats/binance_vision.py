"""Binance's public data files (https://data.binance.vision, CSV in a zip per day).

Documented at https://github.com/binance/binance-public-data (column lists per
kind). Which of them carry data we normalize, and how:

* ``trades``: one row per fill, ``id,price,qty,quote_qty|base_qty,time,is_buyer_maker``
  (spot adds ``is_best_match`` and has no header) -> the ``trades`` table;
* ``aggTrades``: fills of one taker order at one price, ``agg_trade_id,price,quantity,
  first_trade_id,last_trade_id,transact_time,is_buyer_maker`` -> ``trades``;
* ``bookTicker`` (futures): ``update_id,best_bid_price,best_bid_qty,best_ask_price,
  best_ask_qty,transaction_time,event_time`` -> ``bbo``.

Each row is rendered as the stream event it records (``trade``, ``aggTrade``,
``bookTicker``, in the combined-stream envelope the live collector receives) and
decoded by the Binance adapter, so the semantics are the
live ones: ``is_buyer_maker`` true means the taker sold. The files hold no
receive time: the event time (``event_time``, else the trade time) is used as
``ts_recv``. ``bookDepth`` and the other kinds (klines, metrics...) are refused
with the reason: they are aggregates, not books, quotes or trades.

The CSV names no symbol; the file name does (``BTCUSDT-trades-2024-08-08.zip``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from collector.capture.records import CaptureFormatError, Record
from collector.formats.source import first_line, lines, text

#: ``SYMBOL-kind-...`` as Binance names its files (daily and monthly).
_NAME: Final = re.compile(r"^(?P<symbol>[A-Z0-9_]+)-(?P<kind>[A-Za-z0-9]+)-")
#: A CSV row of at least four plain fields (numbers, booleans, column names).
_CSV: Final = re.compile(rb"^[\w.\-]+(?:,[\w.\-]+){3,}$")
_JSON: Final = (",", ":")
_MICROSECOND_EPOCH: Final = 10**14  # as in the Binance adapter: ms below, us above

_REFUSED: Final = {
    "bookDepth": "bookDepth holds percentage-depth aggregates (quantity and notional within "
    "±1..5% of the price every 30 s), not price levels: there is no book or quote to rebuild",
}


def sniff(head: bytes) -> bool:
    return _CSV.match(first_line(head)) is not None


def _ns(t: int) -> int:
    return t * 1_000_000 if t < _MICROSECOND_EPOCH else t * 1_000


def _flag(text: str) -> bool:
    return text.strip().lower() == "true"


def _trade(symbol: str, f: list[str]) -> tuple[int, dict]:
    t = int(f[4])
    event = {"e": "trade", "E": t, "s": symbol, "t": int(f[0]), "p": f[1], "q": f[2], "T": t}
    return _ns(t), event | {"m": _flag(f[5])}


def _agg_trade(symbol: str, f: list[str]) -> tuple[int, dict]:
    t = int(f[5])
    event = {"e": "aggTrade", "E": t, "s": symbol, "a": int(f[0]), "p": f[1], "q": f[2]}
    return _ns(t), event | {"f": int(f[3]), "l": int(f[4]), "T": t, "m": _flag(f[6])}


def _book_ticker(symbol: str, f: list[str]) -> tuple[int, dict]:
    t, e = int(f[5]), int(f[6])
    event = {"e": "bookTicker", "u": int(f[0]), "s": symbol, "b": f[1], "B": f[2], "a": f[3]}
    return _ns(e), event | {"A": f[4], "T": t, "E": e}


#: kind -> (minimum columns, row -> (ts_recv, stream event)).
_KINDS: Final[dict[str, tuple[int, Callable[[str, list[str]], tuple[int, dict]]]]] = {
    "trades": (6, _trade),
    "aggTrades": (7, _agg_trade),
    "bookTicker": (7, _book_ticker),
}


def read_binance_vision(path: Path) -> Iterator[Record]:
    """The rows of one data.binance.vision file as received stream events."""
    match = _NAME.match(path.name)
    if match is None:
        raise CaptureFormatError(
            f"{path}: a Binance public data file is read by its name, which says the symbol "
            "and kind (e.g. BTCUSDT-trades-2024-08-08.zip); rename it so"
        )
    symbol, kind = match["symbol"], match["kind"]
    if kind in _REFUSED:
        raise CaptureFormatError(f"{path}: {_REFUSED[kind]}")
    if kind not in _KINDS:
        raise CaptureFormatError(
            f"{path}: Binance public data kind {kind!r} is not market data we normalize "
            f"(read: {', '.join(_KINDS)}; refused: {', '.join(_REFUSED)})"
        )
    columns, render = _KINDS[kind]
    for number, line in enumerate(lines(path), 1):
        fields = text(line, path, number).split(",")
        if not line.strip() or (number == 1 and not fields[0].isdigit()):
            continue  # the header row of the newer files
        if len(fields) < columns:
            raise CaptureFormatError(
                f"{path}:{number}: {len(fields)} columns, a {kind} row has {columns}"
            )
        try:
            ts, event = render(symbol, fields)
        except ValueError as exc:
            raise CaptureFormatError(f"{path}:{number}: bad {kind} row: {exc}") from exc
        stream = f"{symbol.lower()}@{event['e']}"  # as on the combined-stream URLs we use
        yield Record("recv", ts, 1, json.dumps({"stream": stream, "data": event}, separators=_JSON))
