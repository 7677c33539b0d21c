"""Per-symbol synchronisation states and their transition table.

Everything that moves a symbol between states is in ``TRANSITIONS``; the engine
calls ``next_state`` and nothing else changes ``SymbolSync.state``. An event not
allowed in a state is a bug in the engine, raised with both names.

Theory of operation (alignment case 1, REST snapshot + deltas):

* ``UNSYNCED``: no usable book. Deltas are buffered (bounded) and a snapshot is
  wanted. Nothing is written.
* ``BRIDGING``: a snapshot is held but not yet written. Buffered and new deltas
  either are stale (dropped), bridge it (the snapshot and the delta are written,
  the symbol is ``SYNCED``) or start after it (the snapshot is too old: dropped,
  a new one is wanted).
* An in-band snapshot (alignment cases 2 and 3: the venue sends the book on the
  stream) moves any state straight to ``SYNCED``: it replaces the book whole.
  Venues without update ids (case 4) chain with ``NoSequenceRule`` and are
  verified by their checksums.
* ``SYNCED``: each delta must continue the chain. A gap, a crossed book, a
  best-bid/ask that disagrees with the exchange's own, or a malformed level sends
  the symbol back to ``UNSYNCED``. Book rows are only ever written here.
"""

from __future__ import annotations

from enum import Enum


class SyncState(Enum):
    UNSYNCED = "unsynced"
    BRIDGING = "bridging"
    SYNCED = "synced"


class SyncEvent(Enum):
    SNAPSHOT = "snapshot"  # a snapshot arrived
    BUFFERED = "buffered"  # a delta was buffered while unsynced
    STALE = "stale"  # a delta already covered by the held snapshot
    BRIDGED = "bridged"  # a delta bridges the held snapshot
    SNAPSHOT_TOO_OLD = "snapshot_too_old"  # the next delta starts after the snapshot
    CONTINUED = "continued"  # a delta continues the chain
    OUTDATED = "outdated"  # a delta older than the book (duplicate)
    GAP = "gap"  # a delta skips update ids
    INVALID = "invalid"  # the book is known wrong (crossed, bbo mismatch, bad level)
    RESET = "reset"  # an in-band snapshot replaced the book


S, E = SyncState, SyncEvent

TRANSITIONS: dict[SyncState, dict[SyncEvent, SyncState]] = {
    S.UNSYNCED: {
        E.SNAPSHOT: S.BRIDGING,
        E.BUFFERED: S.UNSYNCED,
        E.RESET: S.SYNCED,
    },
    S.BRIDGING: {
        E.SNAPSHOT: S.BRIDGING,
        E.RESET: S.SYNCED,
        E.STALE: S.BRIDGING,
        E.BRIDGED: S.SYNCED,
        E.SNAPSHOT_TOO_OLD: S.UNSYNCED,
    },
    S.SYNCED: {
        E.SNAPSHOT: S.SYNCED,  # not needed: ignored (we only ask for one when unsynced)
        E.RESET: S.SYNCED,
        E.CONTINUED: S.SYNCED,
        E.OUTDATED: S.SYNCED,
        E.GAP: S.UNSYNCED,
        E.INVALID: S.UNSYNCED,
    },
}


class IllegalTransition(RuntimeError):
    """The engine tried an event its current state does not allow: an engine bug."""

    def __init__(self, state: SyncState, event: SyncEvent) -> None:
        super().__init__(f"event {event.name} is not allowed in state {state.name}")
        self.state = state
        self.event = event


def next_state(state: SyncState, event: SyncEvent) -> SyncState:
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(state, event) from None
