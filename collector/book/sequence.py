"""Sequence rules: how a venue's update ids chain deltas to a snapshot and to each other.

A rule answers four questions about a ``BookDelta`` and is all the book engine
knows of a venue's sequencing, so the engine stays exchange-agnostic. Rules are
plain objects an adapter declares; each quotes the documentation it implements.
"""

from __future__ import annotations

from typing import Protocol

from collector.model import BookDelta


class SequenceRule(Protocol):
    """Venue sequencing: how deltas chain to a snapshot (REST or in-band) and to each other.

    For in-band snapshots only ``stale`` (drop a delta buffered before the
    snapshot) and ``continues``/``outdated`` matter; ``bridges`` is for REST ones.
    """

    name: str

    def stale(self, delta: BookDelta, snapshot_id: int) -> bool:
        """The delta is wholly covered by the snapshot: drop it."""
        ...

    def bridges(self, delta: BookDelta, snapshot_id: int) -> bool:
        """The delta is the first one to apply on top of the snapshot."""
        ...

    def continues(self, delta: BookDelta, last_id: int) -> bool:
        """The delta follows the last applied one with nothing missing."""
        ...

    def outdated(self, delta: BookDelta, last_id: int) -> bool:
        """The delta is older than (or a repeat of) what is already applied: ignore it."""
        ...


class FirstLastRule:
    """Binance spot: ``U``/``u`` ranges that must abut.

    Docs (spot "How to manage a local order book correctly"): drop any event where
    ``u`` <= ``lastUpdateId``; the first kept event must have ``lastUpdateId``
    within ``[U; u]`` (i.e. ``U <= lastUpdateId + 1 <= u``); thereafter ignore an
    event with ``u`` < local update id, and resync if ``U`` > local update id + 1.
    """

    name = "first-last"

    def stale(self, delta: BookDelta, snapshot_id: int) -> bool:
        return delta.last_id <= snapshot_id

    def bridges(self, delta: BookDelta, snapshot_id: int) -> bool:
        return delta.first_id <= snapshot_id + 1 <= delta.last_id

    def continues(self, delta: BookDelta, last_id: int) -> bool:
        return delta.first_id <= last_id + 1

    def outdated(self, delta: BookDelta, last_id: int) -> bool:
        return delta.last_id <= last_id


class PreviousIdRule:
    """Binance USD-M / COIN-M futures: each event names the previous event's ``u`` in ``pu``.

    Docs (futures "How to manage a local order book correctly"): drop any event
    where ``u`` < ``lastUpdateId``; the first processed event should have
    ``U <= lastUpdateId`` AND ``u >= lastUpdateId``; each new event's ``pu`` should
    equal the previous event's ``u``, otherwise re-initialize.
    Live variant (observed, tardis-node): the first event may instead satisfy
    ``pu == lastUpdateId``; it is accepted as a bridge too.
    """

    name = "previous-id"

    def stale(self, delta: BookDelta, snapshot_id: int) -> bool:
        return delta.last_id < snapshot_id

    def bridges(self, delta: BookDelta, snapshot_id: int) -> bool:
        return delta.first_id <= snapshot_id <= delta.last_id or delta.prev_id == snapshot_id

    def continues(self, delta: BookDelta, last_id: int) -> bool:
        return delta.prev_id == last_id

    def outdated(self, delta: BookDelta, last_id: int) -> bool:
        return delta.last_id <= last_id


class NoSequenceRule:
    """Venues whose book updates carry no update id (Kraken, BitMEX, Coinbase Exchange).

    Nothing can be checked between messages, so every update continues the book
    and anything received before an in-band snapshot is covered by it. Such books
    are verified by other means: the venue's checksum where it sends one, and the
    crossed-book check always. The ids on their deltas are the adapter's own per
    symbol message count, so ``seq`` in the tables still orders a symbol's updates.
    """

    name = "none"

    def stale(self, delta: BookDelta, snapshot_id: int) -> bool:
        return True

    def bridges(self, delta: BookDelta, snapshot_id: int) -> bool:
        return True

    def continues(self, delta: BookDelta, last_id: int) -> bool:
        return True

    def outdated(self, delta: BookDelta, last_id: int) -> bool:
        return False


class SeqIdRule:
    """OKX v5 ``seqId``/``prevSeqId``: each push names its predecessor, ids are not +1.

    Docs (order book channel; changelog "Delist initial snapshot and checksum field in
    order book channels", 2026-02-12, section "How to manage a local order book
    correctly"): a push continues the book when its ``prevSeqId`` equals the ``seqId``
    last applied. That one test also accepts the no-change push (``seqId ==
    prevSeqId``) and the documented restart after maintenance (``seqId <
    prevSeqId``), which no ordering test would.

    REST snapshot (``GET /api/v5/market/books``, which carries ``seqId``): drop every
    buffered push with ``seqId <= snapshot seqId``; the first kept one must satisfy
    ``prevSeqId <= snapshot seqId < seqId``. The snapshot may sit strictly inside a
    push's range: sizes are absolute, so applying the whole push is still exact.
    Two cases the documented rule does not name: a restart push (``seqId <
    prevSeqId``) is never stale, it bridges only when its ``prevSeqId`` is the
    snapshot's (otherwise the snapshot belongs to the old sequence and a new one is
    fetched rather than waiting for the new ids to pass it); and a push from a
    recording made before the ids existed (``prev_id is None``) never bridges a
    REST snapshot (it is stale) and is never checked in the chain: such books rely
    on the checksum and the crossed-book check.

    A push that names another predecessor while its ``seqId`` is not past the book
    is already covered (a lagging connection during a switch-over): ignored, not a
    gap. Trade-off: a push lost exactly at a sequence restart makes the next pushes
    look covered (ignored as duplicates) until the ids pass the old ones, where the
    gap is then reported.
    """

    name = "okx-seqid"

    def stale(self, delta: BookDelta, snapshot_id: int) -> bool:
        prev = delta.prev_id
        return prev is None or (delta.last_id <= snapshot_id and prev <= delta.last_id)

    def bridges(self, delta: BookDelta, snapshot_id: int) -> bool:
        prev = delta.prev_id
        return prev is not None and (prev == snapshot_id or prev <= snapshot_id < delta.last_id)

    def continues(self, delta: BookDelta, last_id: int) -> bool:
        return delta.prev_id is None or delta.prev_id == last_id

    def outdated(self, delta: BookDelta, last_id: int) -> bool:
        return delta.prev_id is not None and delta.prev_id != last_id and delta.last_id <= last_id


class IncreasingIdRule:
    """Ids that only increase and skip values: an engine-wide ``sequence`` or a timestamp.

    Phemex ``sequence`` ("Latest message sequence", github.com/phemex/phemex-api-docs,
    "Subscribe OrderBook") is shared by groups of symbols; Bitstamp's diff book has only
    ``microtimestamp``, and its docs (www.bitstamp.net/websocket/v2/) bridge the REST
    book by dropping the events whose ``microtimestamp`` is not after it. Neither
    says what a gap looks like, so nothing is one: a delta older than the book is a
    repeat (a switch-over) and ignored, an equal id is applied (sizes are absolute, so a
    repeat changes nothing, and two Bitstamp events may share a microsecond). REST
    snapshot: drop deltas with id <= the snapshot's; the first newer one bridges.
    Integrity then rests on the crossed-book check and the venue's in-band snapshots.
    """

    name = "increasing"

    def stale(self, delta: BookDelta, snapshot_id: int) -> bool:
        return delta.last_id <= snapshot_id

    def bridges(self, delta: BookDelta, snapshot_id: int) -> bool:
        return delta.last_id > snapshot_id

    def continues(self, delta: BookDelta, last_id: int) -> bool:
        return True

    def outdated(self, delta: BookDelta, last_id: int) -> bool:
        return delta.last_id < last_id
