"""Checkable shapes derived from msgspec wire structs (plus a contract's additions).

``msgspec.inspect.type_info`` already knows every field's wire name,
required-ness and type; this module turns that into a small tree of
:class:`Node` objects the validator walks, so a contract never restates a
struct. JSON kinds are ``string``, ``int``, ``number`` (an int is a number),
``bool``, ``null``, ``array``, ``object`` and ``any`` (a ``msgspec.Raw`` with
nothing declared about it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from msgspec import inspect as mi

from collector.contract.model import MessageContract


@dataclass(slots=True)
class Node:
    """Expected shape of one JSON value."""

    kinds: frozenset[str]
    fields: dict[str, Field] | None = None  # object members
    item: Node | None = None  # array: every element
    items: list[Field] | None = None  # array: positional elements (tuples, array_like structs)
    open: bool = False  # object: undeclared keys are fine
    enum: frozenset[Any] | None = None
    unit: str | None = None


@dataclass(slots=True)
class Field:
    node: Node
    required: bool
    documented_only: bool = False  # documented, not consumed by the adapter


ANY = frozenset({"any"})


class ContractError(ValueError):
    """A contract names a path its struct does not have (a bug in the contract)."""


def from_type(tp: Any) -> Node:
    """The shape of values msgspec would decode as ``tp``."""
    return _node(mi.type_info(tp))


def _node(t: mi.Type) -> Node:
    if isinstance(t, mi.StructType):
        fields = {f.encode_name: Field(_node(f.type), f.required) for f in t.fields}
        if t.array_like:
            return Node(frozenset({"array"}), items=list(fields.values()))
        return Node(frozenset({"object"}), fields=fields, open=not t.forbid_unknown_fields)
    if isinstance(t, mi.TupleType):
        return Node(frozenset({"array"}), items=[Field(_node(x), True) for x in t.item_types])
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return Node(frozenset({"array"}), item=_node(t.item_type))
    if isinstance(t, mi.DictType):
        return Node(frozenset({"object"}), fields={}, open=True)
    if isinstance(t, mi.LiteralType):
        kinds = {_kind_of(v) for v in t.values}
        return Node(frozenset(kinds), enum=frozenset(t.values))
    if isinstance(t, mi.UnionType):
        return _union([_node(x) for x in t.types])
    simple = {
        mi.StrType: "string",
        mi.IntType: "int",
        mi.FloatType: "number",
        mi.BoolType: "bool",
        mi.NoneType: "null",
    }
    for cls, kind in simple.items():
        if isinstance(t, cls):
            return Node(frozenset({kind}))
    return Node(ANY)  # Raw, Any and anything exotic: the contract may narrow it


def _union(nodes: list[Node]) -> Node:
    out = Node(frozenset().union(*(n.kinds for n in nodes)))
    enums = [n.enum for n in nodes if n.enum is not None]
    if enums and all(n.enum is not None or n.kinds == {"null"} for n in nodes):
        out.enum = frozenset().union(*enums)
    for n in nodes:
        out.fields = out.fields if n.fields is None else n.fields
        out.item = out.item or n.item
        out.items = out.items or n.items
        out.open = out.open or n.open
    return out


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return "string"


# --------------------------------------------------------------------------- contract


def compile_message(mc: MessageContract) -> Node:
    """The full shape of one message: struct, then the contract's additions, in order.

    Order matters: payloads first (they create the paths the rest refers to).
    Struct-level openness is dropped: a contract is strict unless it says ``open``.
    """
    root = from_type(mc.struct)
    _close(root)
    if root.fields is not None:
        for name in mc.omit:
            if root.fields.pop(name, None) is None:
                raise ContractError(f"{mc.name}: omit {name!r}: no such field")
    for path, tp in mc.payload.items():
        _set_node(root, path, _closed(from_type(tp)), mc.name)
    for path, tp in mc.documented.items():
        parent, key = _split(path)
        obj = _find(root, parent, mc.name)
        if obj.fields is None:
            raise ContractError(f"{mc.name}: documented {path!r}: parent is not an object")
        obj.fields[key] = Field(_closed(_documented(tp)), False, documented_only=True)
    for path, kinds in mc.types.items():
        _find(root, path, mc.name).kinds = frozenset(kinds.split("|"))
    for path, values in mc.enums.items():
        _find(root, path, mc.name).enum = frozenset(values)
    for path, unit in mc.units.items():
        _find(root, path, mc.name).unit = unit
    for path in mc.historic:
        _find(root, path, mc.name).unit = None
    for path in mc.required:
        _field(root, path, mc.name).required = True
    for path in mc.optional:
        _field(root, path, mc.name).required = False
    for path in mc.open:
        _find(root, path, mc.name).open = True
    return root


def _documented(tp: Any) -> Node:
    if isinstance(tp, str):
        return Node(frozenset(tp.split("|")))
    return from_type(tp)


def _closed(node: Node) -> Node:
    _close(node)
    return node


def _close(node: Node, seen: set[int] | None = None) -> None:
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if node.fields is not None and node.fields:
        node.open = False
    for f in (node.fields or {}).values():
        _close(f.node, seen)
    for f in node.items or ():
        _close(f.node, seen)
    if node.item is not None:
        _close(node.item, seen)


_STEP = re.compile(r"([^.\[\]]+)|\[(\d*)\]")


def _steps(path: str) -> list[str | int | None]:
    """``data[].b[][0]`` -> ["data", None, "b", None, 0] (None = every element)."""
    out: list[str | int | None] = []
    for key, index in _STEP.findall(path):
        if key:
            out.append(key)
        else:
            out.append(int(index) if index else None)
    return out


def _split(path: str) -> tuple[str, str]:
    head, _, key = path.rpartition(".")
    return head, key


def _find(root: Node, path: str, name: str) -> Node:
    node = root
    for step in _steps(path):
        node = _child(node, step, path, name).node
    return node


def _field(root: Node, path: str, name: str) -> Field:
    steps = _steps(path)
    node = root
    for step in steps[:-1]:
        node = _child(node, step, path, name).node
    return _child(node, steps[-1], path, name)


def _child(node: Node, step: str | int | None, path: str, name: str) -> Field:
    if isinstance(step, str) and node.fields is not None and step in node.fields:
        return node.fields[step]
    if step is None and node.item is not None:
        return Field(node.item, True)
    if isinstance(step, int) and node.items is not None and step < len(node.items):
        return node.items[step]
    raise ContractError(f"{name}: path {path!r}: no {step!r} in the struct")


def _set_node(root: Node, path: str, new: Node, name: str) -> None:
    steps = _steps(path)
    parent = root
    for step in steps[:-1]:
        parent = _child(parent, step, path, name).node
    last = steps[-1]
    if isinstance(last, str) and parent.fields is not None and last in parent.fields:
        parent.fields[last].node = new
    elif last is None and parent.item is not None:
        parent.item = new
    elif isinstance(last, int) and parent.items is not None and last < len(parent.items):
        parent.items[last].node = new
    else:
        raise ContractError(f"{name}: payload {path!r}: no such field in the struct")
