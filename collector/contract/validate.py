"""The strict per-frame validator: one frame in, a list of drifts out.

Cheap enough to run on every frame (the runtime monitor will call
:meth:`Validator.frame` as the daemon receives): shapes are compiled once per
contract, a frame is decoded once to builtins and walked once, and a frame that
matches its contract allocates nothing but the empty list.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import msgspec

from collector.contract.fast import matches, strict_type
from collector.contract.model import (
    ENUM_VALUE,
    MISSING_FIELD,
    NEW_FIELD,
    RULE_VIOLATION,
    TIME_UNITS,
    TYPE_CHANGE,
    UNKNOWN_MESSAGE_TYPE,
    Drift,
    VenueContract,
)
from collector.contract.schema import Node, compile_message

#: How far an exchange timestamp may sit from the receive time before it is "insane".
#: Generous on purpose: it catches unit mistakes (ms read as µs is 1000x off) and
#: placeholder dates, not clock skew.
TIMESTAMP_WINDOW_NS: Final = 24 * 3600 * 10**9
#: Type name of frames that are not JSON (e.g. a text ``pong``); classifiers see the text.
NOT_JSON: Final = "not-json"

_decode = msgspec.json.decode


def kind_of(value: Any) -> str:
    """The JSON kind of a decoded value, as contracts name them."""
    t = type(value)
    if t is str:
        return "string"
    if t is int:
        return "int"
    if t is float:
        return "number"
    if t is bool:
        return "bool"
    if t is list:
        return "array"
    if t is dict:
        return "object"
    return "null"


class Validator:
    """Validates frames of one recording or connection set against one venue contract."""

    def __init__(self, contract: VenueContract) -> None:
        self.contract = contract
        self.shapes: dict[str, Node] = {m.name: compile_message(m) for m in contract.messages}
        self._fast = {name: strict_type(shape) for name, shape in self.shapes.items()}
        self._times = {name: _unit_paths(shape) for name, shape in self.shapes.items()}
        self._classify = contract.classifier()
        #: Frames proven clean by the fast path (for tests and the drift monitor's metrics).
        self.fast_hits = 0

    def frame(self, data: str | bytes, ts_recv: int, conn: int = 0) -> tuple[str, list[Drift]]:
        """Classify and check one received websocket frame: (message type, drifts)."""
        value = _parse(data)
        name = self._classify(value, conn)
        return name, self.check(name, value, ts_recv)

    def rest(self, url: str, body: str | bytes, ts_recv: int) -> tuple[str, list[Drift]]:
        """Classify and check one REST response body."""
        value = _parse(body)
        name = self.contract.rest_classifier(url, value)
        return name, self.check(name, value, ts_recv)

    def check(self, name: str, value: Any, ts_recv: int) -> list[Drift]:
        """Drifts of an already classified frame (used by tests on edited frames)."""
        shape = self.shapes.get(name)
        if shape is None:
            if name in self.contract.ignored:
                return []
            return [Drift(UNKNOWN_MESSAGE_TYPE, name, "", "no contract for this message type")]
        out: list[Drift] = []
        fast = self._fast[name]
        if fast is not None and matches(fast, value):
            self.fast_hits += 1
            for steps, unit, where in self._times[name]:
                _check_times(unit, _leaves(value, steps), where, name, ts_recv, out)
            return out
        _walk(shape, value, "", name, ts_recv, out)
        return out

    def check_slow(self, name: str, value: Any, ts_recv: int) -> list[Drift]:
        """:meth:`check` without the fast path (tests prove both agree)."""
        out: list[Drift] = []
        shape = self.shapes.get(name)
        if shape is None:
            return self.check(name, value, ts_recv)
        _walk(shape, value, "", name, ts_recv, out)
        return out


Step = str | int | None


def _unit_paths(node: Node, steps: tuple[Step, ...] = (), where: str = "") -> list:
    """(steps, unit, display path) of every node that declares a time unit."""
    out: list[tuple[tuple[Step, ...], str, str]] = []
    if node.unit is not None:
        out.append((steps, node.unit, where))
    for key, f in (node.fields or {}).items():
        out += _unit_paths(f.node, (*steps, key), f"{where}.{key}" if where else key)
    if node.item is not None:
        out += _unit_paths(node.item, (*steps, None), where + "[]")
    for i, f in enumerate(node.items or ()):
        out += _unit_paths(f.node, (*steps, i), f"{where}[{i}]")
    return out


def _leaves(value: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Values at ``steps`` (None = every element of an array); absent branches yield nothing."""
    values = [value]
    for step in steps:
        nxt = []
        for v in values:
            if step is None:
                if type(v) is list:
                    nxt.extend(v)
            elif type(step) is int:
                if type(v) is list and step < len(v):
                    nxt.append(v[step])
            elif type(v) is dict and step in v:
                nxt.append(v[step])
        values = nxt
    return values


def _parse(data: str | bytes) -> Any:
    try:
        return _decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return data if isinstance(data, str) else data.decode("utf-8", "replace")


def _walk(node: Node, value: Any, path: str, name: str, ts: int, out: list[Drift]) -> None:
    kind = kind_of(value)
    kinds = node.kinds
    if kind not in kinds and "any" not in kinds and not (kind == "int" and "number" in kinds):
        expected = "|".join(sorted(kinds))
        out.append(Drift(TYPE_CHANGE, name, path, f"{kind}, contract says {expected}"))
        return
    if node.enum is not None and kind != "null" and value not in node.enum:
        out.append(Drift(ENUM_VALUE, name, path, f"{value!r} not in {sorted(node.enum, key=str)}"))
    if node.unit is not None and kind != "null":
        _check_time(node.unit, value, path, name, ts, out)
    if kind == "object":
        fields = node.fields
        if fields is None:
            return
        for key, f in fields.items():
            if key in value:
                _walk(f.node, value[key], f"{path}.{key}" if path else key, name, ts, out)
            elif f.required:
                out.append(Drift(MISSING_FIELD, name, f"{path}.{key}" if path else key, "absent"))
        if not node.open:
            for key in value:
                if key not in fields:
                    where = f"{path}.{key}" if path else key
                    out.append(Drift(NEW_FIELD, name, where, f"undocumented: {value[key]!r:.60}"))
    elif kind == "array":
        if node.item is not None:
            item, sub = node.item, path + "[]"
            for element in value:
                _walk(item, element, sub, name, ts, out)
        elif node.items is not None:
            _walk_positions(node.items, value, path, name, ts, out)


def _walk_positions(items: list, value: list, path: str, name: str, ts: int, out: list) -> None:
    for i, f in enumerate(items):
        if i < len(value):
            _walk(f.node, value[i], f"{path}[{i}]", name, ts, out)
        elif f.required:
            out.append(Drift(MISSING_FIELD, name, f"{path}[{i}]", "array too short"))
    if len(value) > len(items):
        out.append(
            Drift(
                NEW_FIELD,
                name,
                f"{path}[{len(items)}]",
                f"{len(value)} elements, not {len(items)}",
            )
        )


def _check_times(
    unit: str, leaves: list[Any], path: str, name: str, ts: int, out: list[Drift]
) -> None:
    """``_check_time`` on every leaf but None, in order.

    A checked Coinbase snapshot states one time on each of its thousands of levels
    (775 distinct in 74,193), and judging every leaf was a tenth of its replay. So each
    distinct value (by type too: ``1`` and ``1.0`` are read differently) is judged
    first; when none drifts, no leaf does and the leaves are not walked one by one.
    """
    if len(leaves) > 1:
        try:
            distinct = set(zip(map(type, leaves), leaves, strict=True))
        except TypeError:  # an object or array where a time belongs: judged one by one
            distinct = None
        if distinct is not None and len(distinct) < len(leaves):
            found: list[Drift] = []
            for _, value in distinct:
                if value is not None:
                    _check_time(unit, value, path, name, ts, found)
            if not found:
                return
    for leaf in leaves:
        if leaf is not None:
            _check_time(unit, leaf, path, name, ts, out)


def _check_time(unit: str, value: Any, path: str, name: str, ts: int, out: list[Drift]) -> None:
    """Timestamps must be near the receive time in their declared unit."""
    scale = TIME_UNITS.get(unit)
    try:
        if scale is not None:
            ns = int(float(value) * scale) if type(value) is not int else value * scale
        elif unit == "rfc3339":
            ns = _rfc3339_ns(value)
        elif unit == "epoch_s_text":
            ns = int(float(value) * 1e9)
        else:
            return  # not a time unit (contracts, coin, ...): documentation only
    except (TypeError, ValueError):
        out.append(
            Drift(RULE_VIOLATION, name, path, f"timestamp {value!r:.40} unreadable as {unit}")
        )
        return
    off = ns - ts
    if ts and abs(off) > TIMESTAMP_WINDOW_NS:
        out.append(
            Drift(
                RULE_VIOLATION,
                name,
                path,
                f"timestamp {value!r:.40} is {off / 1e9:+.0f} s off receipt ({unit})",
            )
        )


@lru_cache(maxsize=1024)
def _rfc3339_ns(text: str) -> int:
    """RFC 3339 text (any fraction length, ``Z`` or offset) -> ns since the epoch.

    Cached: a checked frame repeats one time in many fields (a Coinbase snapshot
    states the same ``event_time`` on each of its thousands of levels)."""
    head, dot, frac = text.partition(".")
    tz = ""
    if dot:
        digits = frac.rstrip("Z")
        for sep in ("+", "-"):
            if sep in digits:
                digits, _, rest = digits.partition(sep)
                tz = sep + rest
        if frac.endswith("Z"):
            tz = "+00:00"
        fraction = int((digits + "000000000")[:9])
    else:
        fraction = 0
        if head.endswith("Z"):
            head, tz = head[:-1], "+00:00"
    moment = datetime.fromisoformat(head + (tz or "+00:00"))
    return int(moment.timestamp()) * 10**9 + fraction
