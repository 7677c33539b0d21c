"""The contract data model and the drift vocabulary.

A contract restates nothing the wire structs already say (field names,
required-ness, types): a :class:`MessageContract` points at the struct that
decodes the message and adds only what a struct cannot express: where it is
documented and when that was last checked, enum values where the struct takes
any ``str``, units, the fields of a ``msgspec.Raw`` payload, and documented
fields the adapter does not consume. Rules the adapter relies on live in
:class:`Rules` so the live check and the runtime monitor can reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

#: Drift kinds, in report order. The runtime monitor and simulator reuse these names.
UNKNOWN_MESSAGE_TYPE: Final = "unknown_message_type"
MISSING_FIELD: Final = "missing_field"
NEW_FIELD: Final = "new_field"
TYPE_CHANGE: Final = "type_change"
ENUM_VALUE: Final = "enum_value"
RULE_VIOLATION: Final = "rule_violation"
KINDS: Final = (
    UNKNOWN_MESSAGE_TYPE,
    MISSING_FIELD,
    NEW_FIELD,
    TYPE_CHANGE,
    ENUM_VALUE,
    RULE_VIOLATION,
)

#: Units a numeric or text field can declare; timestamps among them are checked for sanity.
TIME_UNITS: Final = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@dataclass(frozen=True, slots=True)
class Doc:
    """Where a message is documented, and the day someone last compared doc and struct."""

    url: str
    checked: str  # ISO date, e.g. "2026-11-28"


@dataclass(frozen=True, slots=True)
class MessageContract:
    """One consumed message type: its struct plus what the struct cannot say.

    Paths name fields from the frame's root: ``data`` is a key, ``data[]`` every
    element of an array, ``data[].b[][0]`` the first position of each row.
    """

    name: str
    doc: Doc
    struct: Any  # the msgspec type that decodes the frame (or its envelope)
    #: Root fields of ``struct`` that are not part of this message (shared envelopes).
    omit: tuple[str, ...] = ()
    #: path -> type of a ``msgspec.Raw`` payload (decoded later by the adapter).
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: path -> JSON kinds ("string", "number|string") where the struct says Raw or a union.
    types: Mapping[str, str] = field(default_factory=dict)
    #: path -> allowed values, where the struct accepts any string.
    enums: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    #: path -> unit ("ms", "us", "ns", "s", "rfc3339", "epoch_s_text", "contracts", ...).
    units: Mapping[str, str] = field(default_factory=dict)
    #: Paths the struct treats as optional but the documentation guarantees.
    required: tuple[str, ...] = ()
    #: Paths the struct requires but the documentation allows to be absent.
    optional: tuple[str, ...] = ()
    #: Documented fields the adapter does not read: path -> type (not a drift when present).
    documented: Mapping[str, Any] = field(default_factory=dict)
    #: Object paths whose undeclared keys are expected (documented as open-ended).
    open: tuple[str, ...] = ()
    #: Timestamp paths that may be old by design (a snapshot of recent trades): their unit
    #: is documented but not checked against the receive time.
    historic: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rules:
    """Behaviour the adapter relies on beyond message shapes.

    ``sequence`` and ``checksum`` name the rule in words and are checked offline
    by replaying through the adapter's own ``sequence_rule`` and ``book_checksum``;
    the timing facts are for the live check and the runtime monitor.
    """

    sequence: str
    checksum: str | None
    heartbeat: str
    connection_lifetime_s: float | None
    subscribe_ack: str
    doc: Doc | None = None


#: Classifies one decoded frame: (value, conn) -> message type name.
Classifier = Callable[[Any, int], str]
#: Classifies one REST body: (url, value) -> message type name.
RestClassifier = Callable[[str, Any], str]


@dataclass(frozen=True, slots=True)
class VenueContract:
    """Everything one adapter (or family of adapters) relies on from one venue.

    ``classifier`` returns a fresh classifier per recording, because some venues
    name a frame's type only through earlier frames (Bitfinex channel ids).
    A name in ``ignored`` is a documented message the adapter deliberately does
    not consume; any other name not in ``messages`` is an unknown message type.
    """

    venue: str
    messages: tuple[MessageContract, ...]
    rules: Rules
    classifier: Callable[[], Classifier]
    rest_classifier: RestClassifier
    ignored: frozenset[str] = frozenset()

    def message(self, name: str) -> MessageContract | None:
        for m in self.messages:
            if m.name == name:
                return m
        return None


@dataclass(slots=True)
class Drift:
    """One difference between a frame and its contract (before aggregation)."""

    kind: str
    message_type: str
    field: str  # path, or the rule's name for rule violations; "" when none applies
    detail: str
