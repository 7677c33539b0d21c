"""The runtime drift monitor: the contract validator, sampled, inside the pipeline.

Production decoding stays lenient: the adapter decodes what it can and the
monitor only observes the same frames. It lives in
:class:`~collector.pipeline.Pipeline`, which the daemon and ``collector replay``
both feed, so a replay of the daemon's capture reports exactly the drift the
live run reported: every decision below is a function of the frames, their
order and their ``ts_recv``, never of the wall clock.

What is checked. The cost budget is 5% of pipeline throughput; the strict
validator costs about 4-5 µs a frame against 13-25 µs for the whole pipeline,
so it cannot run on every frame, and on this hardware even a Python method call
per frame (about 0.2 µs) plus a per-message-type counter (another 0.2 µs) is a
third of the budget. So the pipeline decides inline, with one comparison of its
frame counter against :attr:`DriftMonitor.next_frame`, and the monitor checks:

* **always**: every frame the adapter could not decode (any ``DecodeFailed``,
  flagged by the pipeline as it dispatches), every REST body (2xx or unrecorded
  status), and every frame carrying a ``Control`` ack, error or shutdown (rare;
  and stateful classifiers such as Bitfinex's learn channel ids from the acks);
* the first ``first`` frames of the pipeline (start-up: every subscribed type);
* book snapshots: the first ``first_snapshots``, then one in ``every`` (rare,
  and often a message type of their own);
* of everything else, one frame in ``every`` on average, at gaps drawn from a
  fixed-seed generator uniformly in [1, 2 x ``every`` - 1]. Random gaps rather
  than every N-th: interleaved streams can be periodic (depth, ticker, depth,
  ticker...) and a fixed stride would then only ever see one of them; with
  random gaps each message type is checked at 1/``every`` of its frames
  whatever its share. The seed is fixed and counting is per pipeline, so a
  replay samples exactly the frames the live run sampled.

What sampling can miss, and how fast it finds the rest: a drift on every frame
of a type (a renamed, added or retyped field, a timestamp in a new unit) is
found after ``every`` frames of that type on average (32 by default: a fraction
of a second on a book stream, a minute or so on a quiet trade stream). A drift
the adapter cannot decode through (a required field renamed or retyped, an
unknown message type) is found on its first frame, since those frames are
always checked. What can be missed is a difference on a small share of frames
that the adapter still decodes: an undocumented optional field or enum value
on one frame in thousands is seen with probability 1/``every`` each time it
occurs. ``collector contract-check`` (every frame, strictly) is the tool for those.

Reporting, per drift key (kind, message type, field), as the offline report keys it:

* counted per drifted frame checked (``counts``, exported as
  ``collector_drift_total{exchange,kind,message_type,field}``; with
  ``checked`` as ``collector_drift_checked_frames_total`` to read it against);
* logged once, the first time, with a sample frame;
* written as a ``quality`` event of kind ``drift`` the first time (with the
  sample), then at most once per ``interval_s`` of receive time with the count
  since the previous event (written with the first drifted frame at least
  ``interval_s`` after it), and once more at ``finish`` for a remainder. A venue
  drifting on every frame thus adds one row per key per minute, not one per
  frame, and the table still says when it started, that it went on, and how
  much was seen.

Rule violations the engine already reports (``gap``, ``checksum_mismatch``,
``crossed_book``...) are not repeated here: the monitor reports shapes and the
validator's timestamp-unit sanity check only.
"""

from __future__ import annotations

import copy
import logging
import random
from collections import Counter
from collections.abc import Callable
from typing import Final

from collector.contract.model import UNKNOWN_MESSAGE_TYPE, Drift, VenueContract
from collector.contract.validate import Validator
from collector.model import QualityEvent, QualityKind

log = logging.getLogger(__name__)

#: Frames of a pipeline checked in full before sampling starts.
FIRST: Final = 100
#: Then one frame in this many on average.
EVERY: Final = 32
#: Book snapshot messages checked in full before they are sampled too.
FIRST_SNAPSHOTS: Final = 16
#: Seed of the sampling gaps: fixed, so that live and replay sample the same frames.
SEED: Final = 20261128
#: Receive-time interval between two quality events of one drift key.
INTERVAL_S: Final = 60.0
#: Distinct drift keys tracked one by one; beyond, drifts are counted under "*".
MAX_KEYS: Final = 256
#: Characters of a frame kept in a quality event or a log line.
SAMPLE_CHARS: Final = 300
#: Control kinds whose frames are always checked (rare, and they carry classifier state).
CHECKED_CONTROLS: Final = frozenset({"ack", "error", "shutdown"})

DriftKey = tuple[str, str, str]


class _KeyState:
    __slots__ = ("last_ns", "pending")

    def __init__(self, ts: int) -> None:
        self.last_ns = ts  # receive time of the key's latest quality event
        self.pending = 0  # drifted frames since then


class DriftMonitor:
    """Samples frames of one pipeline through a venue contract's validator.

    ``first``/``every`` set the sampling (``every=1``: every frame, as the
    offline check does); ``interval_s`` the quality-event rate per key.
    """

    def __init__(
        self,
        contract: VenueContract,
        *,
        first: int = FIRST,
        every: int = EVERY,
        first_snapshots: int = FIRST_SNAPSHOTS,
        interval_s: float = INTERVAL_S,
        max_keys: int = MAX_KEYS,
        seed: int = SEED,
    ) -> None:
        self.validator = _validator(contract)
        self.first = first
        self.every = max(1, every)
        self.first_snapshots = first_snapshots
        self.interval_ns = int(interval_s * 1e9)
        self.max_keys = max_keys
        self.exchange = contract.venue
        #: Drifted frames (and REST bodies) per drift key, among those checked.
        self.counts: Counter[DriftKey] = Counter()
        #: Frames and REST bodies validated.
        self.checked = 0
        #: The pipeline checks a frame when its frame count reaches this (or it must).
        self.next_frame = 1
        self.snapshots = 0
        self._random = random.Random(seed)
        self._keys: dict[DriftKey, _KeyState] = {}
        self._emit: Callable[[QualityEvent], None] = lambda event: None

    def attach(self, exchange: str, emit: Callable[[QualityEvent], None]) -> None:
        """Called by the pipeline: its exchange label and where quality events go."""
        self.exchange = exchange
        self._emit = emit

    # -- input (from the pipeline) --------------------------------------------------

    def snapshot_due(self) -> bool:
        """The pipeline dispatches a book snapshot: must its frame be checked?"""
        self.snapshots = n = self.snapshots + 1
        return n <= self.first_snapshots or n % self.every == 0

    def frame(
        self, data: str | bytes, ts_recv: int, conn: int, index: int, unknown: str | None = None
    ) -> None:
        """Check the pipeline's ``index``-th frame (sampled, or one it must check).

        ``unknown``: the reason of an adapter's ``DecodeFailed(unknown=True)`` for it;
        the frame is then an unknown message type even if the contract accepts it.
        """
        if index >= self.next_frame:
            every = self.every
            if index < self.first or every == 1:
                self.next_frame = index + 1
            else:
                self.next_frame = index + self._random.randint(1, 2 * every - 1)
        name, drifts = self.validator.frame(data, ts_recv, conn)
        self.checked += 1
        if unknown is not None and not drifts:
            drifts = [Drift(UNKNOWN_MESSAGE_TYPE, name, "", f"the adapter says: {unknown}")]
        if drifts:
            self._report(drifts, data, ts_recv)

    def rest(self, url: str, body: str | bytes, ts_recv: int, unknown: str | None = None) -> None:
        """One REST body (always checked: they are few)."""
        name, drifts = self.validator.rest(url, body, ts_recv)
        self.checked += 1
        if unknown is not None and not drifts:
            drifts = [Drift(UNKNOWN_MESSAGE_TYPE, name, "", f"the adapter says: {unknown}")]
        if drifts:
            self._report(drifts, body, ts_recv)

    def finish(self, ts: int) -> None:
        """End of input: write the count of every key drifted since its last event."""
        for key, state in self._keys.items():
            if state.pending:
                self._event(key, ts, f"{state.pending} more since {_when(state.last_ns)}")
                state.pending = 0
                state.last_ns = ts

    # -- reporting --------------------------------------------------------------------

    def _report(self, drifts: list[Drift], data: str | bytes, ts: int) -> None:
        done: set[DriftKey] = set()  # a frame counts once per key (not once per level)
        for d in drifts:
            key = (d.kind, d.message_type, d.field)
            if key in done:
                continue
            done.add(key)
            state = self._keys.get(key)
            if state is None:
                if len(self._keys) >= self.max_keys:
                    key = (d.kind, "*", "*")
                    state = self._keys.get(key)
                if state is None:
                    self._first(key, d, data, ts)
                    continue
            self.counts[key] += 1
            state.pending += 1
            if ts - state.last_ns >= self.interval_ns:
                self._event(key, ts, f"{state.pending} more since {_when(state.last_ns)}")
                state.pending = 0
                state.last_ns = ts

    def _first(self, key: DriftKey, d: Drift, data: str | bytes, ts: int) -> None:
        self._keys[key] = _KeyState(ts)
        self.counts[key] += 1
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        sample = text[:SAMPLE_CHARS]
        log.warning(
            "%s drift: %s %s %s: %s (first of its kind; sample: %s)",
            self.exchange,
            *key,
            d.detail,
            sample,
        )
        self._event(key, ts, f"first seen: {d.detail}; frame: {sample}")

    def _event(self, key: DriftKey, ts: int, text: str) -> None:
        kind, message_type, field = key
        where = f" {field}" if field else ""
        detail = f"{kind} {message_type}{where}: {text}"
        self._emit(QualityEvent(None, ts, QualityKind.DRIFT, detail))


#: Compiled validators by contract: compiling costs milliseconds and defines strict types.
_COMPILED: dict[int, tuple[VenueContract, Validator]] = {}


def _validator(contract: VenueContract) -> Validator:
    """A fresh validator (own classifier state) sharing the contract's compiled shapes."""
    entry = _COMPILED.get(id(contract))
    if entry is None or entry[0] is not contract:
        entry = _COMPILED[id(contract)] = (contract, Validator(contract))
    validator = copy.copy(entry[1])
    validator._classify = contract.classifier()
    validator.fast_hits = 0
    return validator


def _when(ts: int) -> str:
    """A receive time in a detail: ns since the epoch (deterministic, sortable)."""
    return f"ts_recv {ts}"


def monitor_for(slug: str) -> DriftMonitor | None:
    """The default monitor of adapter ``slug``: from its contract, or None without one."""
    from adapters.contracts import NoContract, contract_for  # adapters import the collector

    try:
        return DriftMonitor(contract_for(slug))
    except NoContract:
        return None
