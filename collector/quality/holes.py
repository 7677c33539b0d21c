"""Where the data has holes: silences, books out of sync, connections down.

Pure functions over facts the scan already pulled out of the dataset, so each
rule can be tested without files:

* **no_data**: two consecutive rows of a symbol's steady streams (book, trades, bbo,
  derivative_ticker and option_summary together; liquidations come when they happen)
  further apart than the threshold; also the stretch before a symbol's first row
  or after its last one, inside its covered time (which quality events extend).
* **out_of_sync**: a ``gap``/``resync``/``crossed_book``/``bbo_mismatch``/
  ``malformed``/``checksum_mismatch`` while the book was good, until the next
  ``synced``; or to ``unsynced_at_end`` (or the symbol's last row) when no
  ``synced`` follows. A symbol whose input ended unsynced without ever syncing
  was out of sync for its whole covered time. The alignment before a symbol's
  first ``synced`` is start-up, not a hole.
* **disconnected**: from a ``disconnect`` that leaves no connection of the
  exchange open to the next ``connect``. Connections are told apart by the
  "connection N" in the detail, because a switch-over opens the new connection
  before closing the old one and that is no downtime; a disconnect that names
  no connection (a venue's shutdown notice) closes them all. A connection the
  collector closed itself (an orderly shutdown, see ``orderly``) is no downtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from collector.model import ORDERLY_CLOSE
from collector.quality.model import Hole

#: Kinds that invalidate a good book (the engine writes a ``resync`` beside each).
OUT_OF_SYNC_TRIGGERS = frozenset(
    {"gap", "resync", "crossed_book", "bbo_mismatch", "malformed", "checksum_mismatch"}
)

_CONNECTION = re.compile(r"\bconnection (\d+)\b")


class Event(NamedTuple):
    """One quality row, in the dataset's own order."""

    ts_ns: int
    kind: str
    detail: str = ""
    seq: int | None = None


def orderly(event: Event) -> bool:
    """Whether ``event`` is a connection the collector closed itself, on its way out:
    the end of a session, not an outage (the pipeline writes its close reason last)."""
    return event.kind == "disconnect" and event.detail.endswith(f" closed: {ORDERLY_CLOSE}")


def silence_holes(
    gaps: Iterable[tuple[int, int]],
    data_first: int | None,
    data_last: int | None,
    first_ns: int,
    last_ns: int,
    threshold_ns: int,
) -> list[Hole]:
    """``no_data`` holes from the row gaps the scan found, plus the edges of the span."""
    holes = []
    if data_first is None or data_last is None:  # only quality events: nothing was recorded
        if last_ns > first_ns:
            holes.append(Hole(first_ns, last_ns, "no_data", "no data rows at all"))
        return holes
    if data_first - first_ns > threshold_ns:
        holes.append(Hole(first_ns, data_first, "no_data", "before the first row"))
    holes.extend(Hole(a, b, "no_data", "no data row") for a, b in gaps)
    if last_ns - data_last > threshold_ns:
        holes.append(Hole(data_last, last_ns, "no_data", "after the last row"))
    return holes


def out_of_sync_holes(
    events: Iterable[Event], first_ns: int, last_ns: int, snapshot_ns: dict[int, int] | None = None
) -> list[Hole]:
    """Intervals a symbol's book was invalid, from its quality events in order.

    A ``synced`` event carries the time of the update that bridged the snapshot,
    which was often buffered before the snapshot arrived; the book is good again
    only from the snapshot's rows, so ``snapshot_ns`` (snapshot update id -> its
    rows' ``ts_recv``) moves the end of the hole there when known.
    """
    snapshot_ns = snapshot_ns or {}
    holes = []
    start: Event | None = None
    ever_synced = False
    for ev in events:
        if ev.kind in OUT_OF_SYNC_TRIGGERS:
            if start is None and ever_synced:
                start = ev
        elif ev.kind == "synced":
            if start is not None:
                end = max(ev.ts_ns, snapshot_ns.get(ev.seq, ev.ts_ns) if ev.seq is not None else 0)
                holes.append(_sync_hole(start, end, "until resynced"))
                start = None
            ever_synced = True
        elif ev.kind == "unsynced_at_end":
            if start is not None:
                holes.append(_sync_hole(start, ev.ts_ns, "still out of sync when the input ended"))
                start = None
            elif not ever_synced and ev.ts_ns > first_ns:
                holes.append(
                    Hole(first_ns, ev.ts_ns, "out_of_sync", "the book never synced", "never_synced")
                )
    if start is not None:
        holes.append(_sync_hole(start, max(last_ns, start.ts_ns), "out of sync at the last row"))
    return holes


def _sync_hole(start: Event, end_ns: int, how: str) -> Hole:
    detail = f"{start.kind}: {start.detail}" if start.detail else start.kind
    return Hole(start.ts_ns, end_ns, "out_of_sync", f"{how}; {detail}", start.kind)


def downtime_holes(events: Iterable[Event], last_ns: int) -> list[Hole]:
    """Intervals with no open connection, from an exchange's connection-wide events."""
    holes = []
    open_conns: set[str] = set()
    down: Event | None = None
    for ev in events:
        m = _CONNECTION.search(ev.detail)
        if ev.kind == "connect":
            open_conns.add(m.group(1) if m else "?")
            if down is not None:
                holes.append(Hole(down.ts_ns, ev.ts_ns, "disconnected", down.detail, "disconnect"))
                down = None
        elif ev.kind == "disconnect":
            if m:
                open_conns.discard(m.group(1))
            else:
                open_conns.clear()
            if not open_conns and down is None and not orderly(ev):
                down = ev
    if down is not None and last_ns > down.ts_ns:
        detail = f"{down.detail} (no reconnect before the end)"
        holes.append(Hole(down.ts_ns, last_ns, "disconnected", detail, "disconnect"))
    return holes


def clip(holes: Iterable[Hole], first_ns: int, last_ns: int) -> list[Hole]:
    """The parts of ``holes`` inside [first_ns, last_ns] (downtime seen by one symbol)."""
    out = []
    for h in holes:
        start, end = max(h.start_ns, first_ns), min(h.end_ns, last_ns)
        if end > start:
            out.append(Hole(start, end, h.cause, h.detail, h.trigger))
    return out


def union_ns(holes: Iterable[Hole]) -> int:
    """Total time covered by at least one hole: overlapping causes count once."""
    total = 0
    cur_start = cur_end = None
    for h in sorted(holes, key=lambda h: h.start_ns):
        if cur_end is None or h.start_ns > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start  # type: ignore[operator]
            cur_start, cur_end = h.start_ns, h.end_ns
        else:
            cur_end = max(cur_end, h.end_ns)
    if cur_end is not None:
        total += cur_end - cur_start  # type: ignore[operator]
    return total


def coverage_pct(holes: list[Hole], first_ns: int, last_ns: int) -> float:
    """Share of the covered time with no hole, in percent (100 for an instant)."""
    span = last_ns - first_ns
    if span <= 0:
        return 100.0
    return max(0.0, 100.0 * (1 - union_ns(holes) / span))
