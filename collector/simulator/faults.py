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

``handshake_delay_s`` applies to every handshake answered while it is set: it
widens the window in which a client's make-before-break switch-over sees an
event on its old connection before its new connection has even opened.

``POST /_faults`` and :meth:`FaultState.update` take the same JSON; short
aliases (``skip``, ``duplicate``, ``drop``, ``silent``) are accepted.

A third kind, the **drift mode** (``drift``: one of :data:`DRIFT_MODES` or
null), is a state: the venue "changed" from the moment it is set until it is
set back to null. It makes the simulator speak a drifted protocol, so contract
checks and the runtime drift monitor can be tested against a live server:

* ``renamed_field``: depthUpdate ``b``/``a`` are sent as ``bids``/``asks`` (and
  futures' markPriceUpdate ``p`` as ``markPrice``);
* ``number_as_string``: depthUpdate ``E`` is sent as a JSON string, and the
  ``p`` of trade and aggTrade as a JSON number;
* ``new_field``: depthUpdate gains ``"X": "new"``;
* ``unknown_message``: after every :data:`UNKNOWN_EVERY`-th depth event of a
  symbol, an extra ``depthUpdateV2`` frame on its depth stream;
* ``silent_after_handshake``: websockets complete the handshake and answer
  requests but get no market data (REST still answers);
* ``checksum_zero``: played-back OKX ``books`` checksums become ``0`` and Kraken
  checksums ``"0"`` (v1 ``c``) / ``0`` (v2 ``checksum``); refused when only the
  Binance family is served (it has no checksum);
* ``first_delta_rule``: REST depth snapshots claim a ``lastUpdateId``
  :data:`SNAPSHOT_SKIP` ids ahead of the stream, so no delta ever bridges one;
* ``moved_endpoint``: the documented stream paths stay silent and the data is
  served on the same paths under ``/ws2/`` (``/<slug>/ws2/stream``; USD-M also
  ``/ws2/public/stream`` and ``/ws2/market/stream``), which exist only while the
  mode is on;
* ``route_split`` (issue 16): raw ``@trade`` streams are acknowledged everywhere
  but served on one path only: USD-M's on ``/public`` (silent on ``/market``),
  COIN-M's on ``/market`` (silent on ``/public`` and the unrouted ``/stream``).
  The ``trade_route`` knob (``public``, ``market`` or ``stream``) names another
  path, for both venues, so a client's every route order can be made to move.

Shape modes (the first four) and ``checksum_zero`` change frames as they are
generated or sent, so connections already open get drifted frames at once;
``silent_after_handshake``, ``moved_endpoint`` and ``route_split`` gate data at send time, so
they silence (and clearing them resumes) open connections too; a ``/ws2/``
connection open when the mode is cleared stays open but silent.
``first_delta_rule`` applies to every snapshot answered while it is on.
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

#: Drift modes (see the module docstring); the ``drift`` knob takes one or null.
DRIFT_MODES = (
    "renamed_field",
    "number_as_string",
    "new_field",
    "unknown_message",
    "silent_after_handshake",
    "checksum_zero",
    "first_delta_rule",
    "moved_endpoint",
    "route_split",
)

#: ``trade_route`` values: the path that serves raw trades under ``route_split``.
TRADE_ROUTES = ("public", "market", "stream")

#: ``unknown_message``: one unknown frame after every this many depth events of a symbol.
UNKNOWN_EVERY = 5

#: ``first_delta_rule``: how far ahead of the stream a snapshot's lastUpdateId is put.
SNAPSHOT_SKIP = 1_000_000_000

#: Venues whose played-back books carry a checksum ``checksum_zero`` can zero.
CHECKSUM_VENUES = frozenset({"okx", "kraken"})

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
    #: Answer websocket handshakes this late while already publishing to the new
    #: connection (generated venues): what it misses meanwhile comes right after the
    #: answer, after the client's other connections delivered the same events.
    handshake_delay_s: float = 0.0
    drift: str | None = None  # a protocol drift mode (DRIFT_MODES), in force until null
    trade_route: str | None = None  # route_split: the path serving trades (TRADE_ROUTES)

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
    if key == "drift":
        if value is None or value in DRIFT_MODES:
            return value
        raise ValueError(f"unknown drift mode {value!r}; modes: {', '.join(DRIFT_MODES)}, or null")
    if key == "trade_route":
        if value is None or value in TRADE_ROUTES:
            return value
        known = ", ".join(TRADE_ROUTES)
        raise ValueError(f"unknown trade_route {value!r}; one of {known}, or null")
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

    def __init__(
        self, faults: Faults | None = None, *, checksum_venues: frozenset[str] | None = None
    ) -> None:
        #: Served venues ``checksum_zero`` applies to; ``None``: do not check.
        self.checksum_venues = checksum_venues
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
        venues = self.checksum_venues
        if faults.drift == "checksum_zero" and venues is not None and not venues:
            raise ValueError(
                "drift 'checksum_zero' does not apply here: the Binance family sends no "
                "book checksum; it zeroes the checksums of played-back "
                f"{' and '.join(sorted(CHECKSUM_VENUES))} recordings, and none is served"
            )
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

    @property
    def drift(self) -> str | None:
        return self.faults.drift

    def fire_drift(self, mode: str, n: int = 1) -> None:
        """Count frames (or answers) a drift mode changed or withheld."""
        if n:
            self.fired[f"drift_{mode}"] += n

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
            "drift_modes": list(DRIFT_MODES),
        }
