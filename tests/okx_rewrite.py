"""OKX recordings rewritten as OKX's announced protocol would have sent them (tests only).

OKX's changelog (2026-02-12) removes the ``checksum`` key and the in-band snapshot
from ``books``: clients seed from REST ``GET /api/v5/market/books`` and bridge by
``seqId``. No recording of that protocol exists yet, so tests convert the real ones,
in memory (nothing converted is stored in the repository):

* ``strip_checksums``: every ``checksum`` key of a book push removed;
* ``with_seq_ids``: every book push given ``seqId``/``prevSeqId`` (jumps of 1..93 as
  observed live, one no-change push ``seqId == prevSeqId`` added per session);
* ``rest_seeded``: on top of that, each in-band snapshot removed and replaced by the
  REST body the daemon would have recorded as an ``http`` record: the book after a
  later push (rebuilt here with plain dicts, independent of the engine) at a
  ``seqId`` strictly inside the next push's id range, received two pushes later, as
  a daemon asking on the first buffered push would get it.
"""

from __future__ import annotations

import gzip
import json
import random
from decimal import Decimal
from pathlib import Path

from adapters.okx.adapter import BOOK_DEPTH, OkxAdapter
from collector.capture.records import Record

#: The push after which the REST book is taken, and how many pushes later it arrives.
TAKEN_AFTER, ANSWERED_AFTER = 2, 2


def book_push(record: Record) -> dict | None:
    """The decoded frame of a ``books``-family push (the only frames rewritten), else None."""
    if record.kind != "recv" or not isinstance(record.data, str) or record.data == "pong":
        return None
    frame = json.loads(record.data)
    if not isinstance(frame, dict) or "data" not in frame or "event" in frame:
        return None
    if frame.get("arg", {}).get("channel") not in set(BOOK_DEPTH) - {"books5"}:
        return None  # books5 pushes are whole snapshots: nothing to bridge
    assert len(frame["data"]) == 1, record.data[:200]  # one book per push
    return frame


def _recv(record: Record, frame: dict, ts: int | None = None) -> Record:
    text = json.dumps(frame, separators=(",", ":"))
    return Record("recv", record.ts if ts is None else ts, record.conn, text)


def strip_checksums(records: list[Record]) -> list[Record]:
    out = []
    for record in records:
        frame = book_push(record)
        if frame is not None:
            frame["data"][0].pop("checksum", None)
            record = _recv(record, frame)
        out.append(record)
    return out


def with_seq_ids(records: list[Record], seed: int = 16) -> list[Record]:
    """Book pushes numbered as OKX numbers them; a snapshot starts a new session's ids."""
    rng = random.Random(seed)
    last: dict[str, int] = {}
    updates: dict[str, int] = {}
    out = []
    for record in records:
        frame = book_push(record)
        if frame is None:
            out.append(record)
            continue
        symbol, book = frame["arg"]["instId"], frame["data"][0]
        previous = last.get(symbol, 10**9)
        seq = previous + rng.randint(1, 93)
        if frame.get("action") == "snapshot":
            book["seqId"], book["prevSeqId"] = seq + 10_000, -1  # pushes missed before it
            updates[symbol] = 0
        else:
            book["seqId"], book["prevSeqId"] = seq, previous
            updates[symbol] = updates.get(symbol, 0) + 1
        last[symbol] = book["seqId"]
        out.append(_recv(record, frame))
        if frame.get("action") == "update" and updates[symbol] == 3:
            nothing = {**frame, "data": [{**book, "asks": [], "bids": [], "prevSeqId": seq}]}
            nothing["data"][0].pop("checksum", None)  # no change: no book to sum
            out.append(_recv(record, nothing, record.ts + 1))
    return out


class _Book:
    """A plain-dict OKX book (absolute sizes, "0" deletes, cut to the channel depth)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.sides: dict[str, dict[Decimal, list[str]]] = {"bids": {}, "asks": {}}

    def apply(self, book: dict) -> None:
        for name, side in self.sides.items():
            for row in book[name]:
                if Decimal(row[1]) == 0:
                    side.pop(Decimal(row[0]), None)
                else:
                    side[Decimal(row[0])] = row
            for price in sorted(side, reverse=name == "bids")[self.depth :]:
                del side[price]

    def rows(self, name: str) -> list[list[str]]:
        side = self.sides[name]
        return [side[p] for p in sorted(side, reverse=name == "bids")]


def rest_seeded(records: list[Record]) -> list[Record]:
    """``with_seq_ids`` output with each in-band snapshot replaced by a recorded REST book.

    Per session (a snapshot and the updates after it): the REST book is the book after
    update ``TAKEN_AFTER``, at a ``seqId`` halfway to the next update's, received right
    after update ``TAKEN_AFTER + ANSWERED_AFTER``. A session too short for that keeps
    its in-band snapshot.
    """
    sessions: dict[str, dict] = {}  # symbol -> its current session
    dropped: set[int] = set()  # indexes of the snapshots replaced
    answers: dict[int, Record] = {}  # index of a push -> the REST answer received after it
    for i, record in enumerate(records):
        frame = book_push(record)
        if frame is None:
            continue
        symbol, channel, book = frame["arg"]["instId"], frame["arg"]["channel"], frame["data"][0]
        if frame.get("action") == "snapshot":
            sessions[symbol] = {"start": i, "book": _Book(BOOK_DEPTH[channel]), "n": 0}
        elif symbol not in sessions:
            continue  # updates before any snapshot: left as recorded
        session = sessions[symbol]
        session["book"].apply(book)
        session["n"] += 1
        n = session["n"]  # 1 = the snapshot, 2 = update 1, ...
        if n == 1 + TAKEN_AFTER:
            rows = session["book"].rows
            session["rest"] = {"asks": rows("asks"), "bids": rows("bids"), "ts": book["ts"]}
            session["taken"] = book["seqId"]
        elif n == 2 + TAKEN_AFTER:  # strictly inside this update's id range when it can be
            session["rest"]["seqId"] = session["taken"] + (book["seqId"] - session["taken"]) // 2
        if n == 1 + TAKEN_AFTER + ANSWERED_AFTER:
            body = json.dumps({"code": "0", "msg": "", "data": [session["rest"]]})
            url = OkxAdapter().snapshot_request(symbol).url
            answers[i] = Record("http", record.ts + 1, 0, body, url, 200)
            dropped.add(session["start"])
    out = []
    for i, record in enumerate(records):
        if i not in dropped:
            out.append(record)
        if i in answers:
            out.append(answers[i])
    return out


def write_corpus(path: Path, records: list[Record]) -> Path:
    """``records`` as a corpus-v1 file naming OKX (what the simulator plays back)."""
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        header = {"kind": "header", "format": "corpus-v1", "exchange": "okx", "source": "test"}
        fh.write(json.dumps(header) + "\n")
        for r in records:
            line = {"kind": r.kind, "ts": r.ts, "conn": r.conn, "url": r.url, "data": r.data}
            if r.status is not None:
                line["status"] = r.status
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
    return path
