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
