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
        #: Each message's fast path: its strict type and its times.
        self._roots = {name: _Shortcut(shape) for name, shape in self.shapes.items()}
        self._shortcuts: dict[int, _Shortcut] = {}  # the walker's, by array node
        for shape in self.shapes.values():
            _find_shortcuts(shape, self._shortcuts)
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
        drifts = self._roots[name].drifts(value, "", name, ts_recv)
        if drifts is None:
            return self.walk(name, value, ts_recv)
        self.fast_hits += 1
        return drifts

    def walk(self, name: str, value: Any, ts_recv: int) -> list[Drift]:
        """The walker :meth:`check` falls back to: exactly :meth:`check_slow`'s drifts,
        in its order, with arrays proven clean skipped and repeated rows judged once."""
        shape = self.shapes.get(name)
        if shape is None:
            return self.check(name, value, ts_recv)
        out: list[Drift] = []
        _walk(shape, value, "", name, ts_recv, out, self._shortcuts)
        return out

    def check_slow(self, name: str, value: Any, ts_recv: int) -> list[Drift]:
        """:meth:`check` without any fast path: every value walked (tests prove both agree)."""
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


class _Shortcut:
    """What spares walking a value of one node: a message's fast path, or an array's
    below it that the walker tries first."""

    __slots__ = ("care", "strict", "times")

    def __init__(self, node: Node) -> None:
        #: The node's strict type (``fast.strict_type``), None when it has none.
        self.strict = strict_type(node)
        #: (steps, unit, path below the node) of every time in it.
        self.times = _unit_paths(node)
        #: For an array of flat objects: member name -> does its value (not only its
        #: type) decide what the walker reports (an enum or a time). None otherwise.
        self.care = _value_decides(node.item) if node.item is not None else None

    def drifts(self, value: Any, path: str, name: str, ts: int) -> list[Drift] | None:
        """None when ``value`` does not convert to the strict type (it must be walked);
        else its only possible drifts, those of its times (none: it is clean)."""
        if self.strict is None or not matches(self.strict, value):
            return None
        out: list[Drift] = []
        for steps, unit, where in self.times:
            _check_times(unit, _leaves(value, steps), path + where, name, ts, out)
        return out


def _value_decides(item: Node) -> dict[str, bool] | None:
    fields = item.fields
    if item.kinds != frozenset({"object"}) or fields is None or item.open:
        return None
    care = {}
    for key, f in fields.items():
        sub = f.node
        if sub.fields is not None or sub.item is not None or sub.items is not None:
            return None  # a nested shape: its contents, not its type, decide
        care[key] = sub.enum is not None or sub.unit is not None
    return care


def _find_shortcuts(node: Node, out: dict[int, _Shortcut]) -> None:
    """A shortcut for every array node below ``node``, by node id.

    Why: a frame with one drifted field fails the whole frame's fast path, and the
    walker then visited every level of its book in Python: a 400-level OKX
    snapshot whose only drift is a missing ``seqId`` cost 0.1-0.2 ms, a BitMEX
    partial whose 9,346 rows each lack ``timestamp`` 26 ms. A drifting venue is
    what the monitor is for, and it samples such frames all day.
    """
    if node.item is not None or node.items is not None:
        out[id(node)] = _Shortcut(node)
    for f in (node.fields or {}).values():
        _find_shortcuts(f.node, out)
    if node.item is not None:
        _find_shortcuts(node.item, out)
    for f in node.items or ():
        _find_shortcuts(f.node, out)


def _walk_flat_items(
    item: Node, care: dict[str, bool], value: list, path: str, name: str, ts: int, out: list
) -> None:
    """Walk an array of flat objects, each distinct element once.

    An element's drifts follow from its member names in order, each member's type,
    and the values of those whose value matters (enums, times, undeclared members,
    which a drift quotes); rows of one book differ in none of these but price and
    size. So each element is reduced to that key, and elements with a key seen
    before in this array (same frame, same receive time) repeat its drifts (the
    same ``Drift`` objects: nothing downstream changes one).
    """
    seen: dict[tuple, list[Drift]] = {}
    for element in value:
        if type(element) is dict:
            key = tuple(
                [(k, type(v), v if care.get(k, True) else None) for k, v in element.items()]
            )
            try:
                drifts = seen.get(key)
            except TypeError:  # an object or array where a scalar belongs: walk it
                _walk(item, element, path, name, ts, out)
                continue
            if drifts is None:
                drifts = seen[key] = []
                _walk(item, element, path, name, ts, drifts)
            out += drifts
        else:
            _walk(item, element, path, name, ts, out)


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


def _walk(
    node: Node,
    value: Any,
    path: str,
    name: str,
    ts: int,
    out: list[Drift],
    shortcuts: dict[int, _Shortcut] | None = None,
) -> None:
    """Append every drift of ``value`` against ``node`` to ``out``, in document order.

    ``shortcuts`` (see ``_find_shortcuts``) lets it skip arrays proven clean; without
    them every value is visited, the reference the tests hold the shortcuts to.
    """
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
                where = f"{path}.{key}" if path else key
                _walk(f.node, value[key], where, name, ts, out, shortcuts)
            elif f.required:
                out.append(Drift(MISSING_FIELD, name, f"{path}.{key}" if path else key, "absent"))
        if not node.open:
            for key in value:
                if key not in fields:
                    where = f"{path}.{key}" if path else key
                    out.append(Drift(NEW_FIELD, name, where, f"undocumented: {value[key]!r:.60}"))
    elif kind == "array":
        shortcut = shortcuts.get(id(node)) if shortcuts is not None else None
        if shortcut is not None:
            if shortcut.drifts(value, path, name, ts) == []:
                return  # clean; with a time off, it is walked for the drifts' order
            if shortcut.care is not None and node.item is not None:
                _walk_flat_items(node.item, shortcut.care, value, path + "[]", name, ts, out)
                return
        if node.item is not None:
            item, sub = node.item, path + "[]"
            for element in value:
                _walk(item, element, sub, name, ts, out, shortcuts)
        elif node.items is not None:
            _walk_positions(node.items, value, path, name, ts, out, shortcuts)


def _walk_positions(
    items: list,
    value: list,
    path: str,
    name: str,
    ts: int,
    out: list,
    shortcuts: dict[int, _Shortcut] | None,
) -> None:
    for i, f in enumerate(items):
        if i < len(value):
            _walk(f.node, value[i], f"{path}[{i}]", name, ts, out, shortcuts)
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
