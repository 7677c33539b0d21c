"""Fault knobs and their runtime state.

Two kinds of knob, because tests need both "from now on" and "once, now":

* **thresholds** (``drop_after_frames``, ``silent_after_frames``,
  ``close_after_s``) are checked per connection. They count from the
  connection's opening, or from the moment the knob was last set if that is
  later, so a test can arm a fault on a connection that is already streaming;
* **pulses** (``skip_update_ids``, ``duplicate_update_ids``, ``malformed``,
  ``skip_frames``, ``rest_status``, ``server_shutdown``) fire once per request
  and are then used up. ``skip``/``duplicate`` apply to the next depth events of
  every generated symbol, ``malformed`` and ``skip_frames`` to the next frames
  sent on any connection (``skip_frames`` is how a played-back venue loses an
  update), ``server_shutdown`` to every connection open when it is set.

``POST /_faults`` and :meth:`FaultState.update` take the same JSON; short
aliases (``skip``, ``duplicate``, ``drop``, ``silent``) are accepted.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Short names accepted in ``/_faults`` bodies and ``--faults``.
ALIASES = {
    "skip": "skip_update_ids",
    "duplicate": "duplicate_update_ids",
    "drop": "drop_after_frames",
    "silent": "silent_after_frames",
}

#: Knobs counted per connection from when they were set.
THRESHOLDS = ("drop_after_frames", "silent_after_frames", "close_after_s")


@dataclass
class Faults:
    """Every fault the simulator can inject; all off by default."""

    drop_after_frames: int | None = None  # close the TCP connection, no close frame
    drop_once: bool = False  # ...only on the first connection that reaches it
    silent_after_frames: int | None = None  # stop sending data, keep the connection
    skip_update_ids: int = 0  # skip the next N depth events of each generated symbol
    duplicate_update_ids: int = 0  # send the next N depth events twice
    malformed: int = 0  # send N truncated frames (each before a real one)
    skip_frames: int = 0  # lose the next N data frames in transit: a gap on sequenced venues
    rest_status: list[int] = field(default_factory=list)  # next REST answers: 429, 418...
    retry_after_s: float = 1.0  # Retry-After of those answers
    snapshot_delay_s: float = 0.0  # delay REST depth answers (the book is read on arrival)
    server_shutdown: bool = False  # send serverShutdown on every open connection, once
    close_after_s: float | None = None  # close (with a close frame) N s after opening

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_faults(doc: dict[str, Any], base: Faults | None = None) -> tuple[Faults, set[str]]:
    """Apply a JSON object of knob changes to a copy of ``base``; return it and the keys set.

    Raises ``ValueError`` naming the knob on an unknown key or a wrongly typed value,
    so a typo in a test or on the command line fails loudly instead of injecting nothing.
    """
    if not isinstance(doc, dict):
        raise ValueError("faults must be a JSON object")
    values = asdict(base or Faults())
    types = {f.name: f.type for f in fields(Faults)}
    changed = set()
    for raw_key, value in doc.items():
        key = ALIASES.get(raw_key, raw_key)
        if key not in types:
            known = ", ".join(sorted([*types, *ALIASES]))
            raise ValueError(f"unknown fault {raw_key!r}; known: {known}")
        values[key] = _check(key, str(types[key]), value)
        changed.add(key)
    return Faults(**values), changed


def _check(key: str, type_name: str, value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if value is None and "None" in type_name:
        return None
    if type_name.startswith("bool") and isinstance(value, bool):
        return value
    if type_name.startswith("int") and number and value == int(value) and value >= 0:
        return int(value)
    if type_name.startswith("float") and number and value >= 0:
        return float(value)
    statuses = isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in value
    )
    if type_name.startswith("list") and statuses:
        return list(value)
    raise ValueError(f"fault {key!r} must be {type_name}, got {value!r}")


class FaultState:
    """The knobs in force plus what pulses are still pending, and what has fired."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = Faults()
        self.fired: Counter[str] = Counter()
        self.set_at: dict[str, float] = {}  # threshold knob -> monotonic time it was set
        self.skip_requests = 0  # cumulative; each book remembers how many it has served
        self.duplicate_requests = 0
        self.malformed_pending = 0
        self.skip_frames_pending = 0
        self.rest_pending: deque[int] = deque()
        self.drops_since_set = 0
        self.update(asdict(faults or Faults()), startup=True)

    def update(self, doc: dict[str, Any], *, startup: bool = False) -> set[str]:
        """Apply changes; return the canonical names of the knobs that were set."""
        faults, changed = parse_faults(doc, self.faults)
        self.faults = faults
        now = time.monotonic()
        for key in changed & set(THRESHOLDS):
            self.set_at[key] = 0.0 if startup else now
        if changed & {"drop_after_frames", "drop_once"}:
            self.drops_since_set = 0
        if "skip_update_ids" in changed:
            self.skip_requests += faults.skip_update_ids
        if "duplicate_update_ids" in changed:
            self.duplicate_requests += faults.duplicate_update_ids
        if "malformed" in changed:
            self.malformed_pending += faults.malformed
        if "skip_frames" in changed:
            self.skip_frames_pending += faults.skip_frames
        if "rest_status" in changed:
            self.rest_pending.extend(faults.rest_status)
        return changed

    def take_malformed(self) -> bool:
        if not self.malformed_pending:
            return False
        self.malformed_pending -= 1
        self.fired["malformed"] += 1
        return True

    def take_skipped_frame(self) -> bool:
        if not self.skip_frames_pending:
            return False
        self.skip_frames_pending -= 1
        self.fired["skip_frames"] += 1
        return True

    def take_rest_status(self) -> int | None:
        if not self.rest_pending:
            return None
        status = self.rest_pending.popleft()
        self.fired[f"rest_{status}"] += 1
        return status

    def as_json(self) -> dict[str, Any]:
        return {
            "faults": self.faults.as_json(),
            # skip/duplicate: totals asked for since start; each symbol serves every one.
            "requested": {"skip": self.skip_requests, "duplicate": self.duplicate_requests},
            "pending": {
                "malformed": self.malformed_pending,
                "skip_frames": self.skip_frames_pending,
                "rest_status": list(self.rest_pending),
            },
            "fired": dict(self.fired),
        }
