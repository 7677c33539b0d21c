"""The sync state table: every (state, event) pair is either a listed transition or an error."""

from __future__ import annotations

import itertools

import pytest

from collector.book.state import TRANSITIONS, IllegalTransition, SyncEvent, SyncState, next_state


@pytest.mark.parametrize("state,event", list(itertools.product(SyncState, SyncEvent)))
def test_every_pair(state: SyncState, event: SyncEvent) -> None:
    allowed = TRANSITIONS[state].get(event)
    if allowed is None:
        with pytest.raises(IllegalTransition, match=f"{event.name}.*{state.name}"):
            next_state(state, event)
    else:
        assert next_state(state, event) is allowed


def test_rows_only_from_synced() -> None:
    """Only a bridge or an in-band snapshot enters SYNCED; anything breaking the chain leaves."""
    entering = {
        (s, e)
        for s, t in TRANSITIONS.items()
        for e, n in t.items()
        if n is SyncState.SYNCED and s is not SyncState.SYNCED
    }
    assert entering == {
        (SyncState.BRIDGING, SyncEvent.BRIDGED),
        (SyncState.UNSYNCED, SyncEvent.RESET),
        (SyncState.BRIDGING, SyncEvent.RESET),
    }
    leaving = {e for e, n in TRANSITIONS[SyncState.SYNCED].items() if n is not SyncState.SYNCED}
    assert leaving == {SyncEvent.GAP, SyncEvent.INVALID}
