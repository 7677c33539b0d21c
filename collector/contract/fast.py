"""A C-speed fast path for frames that match their contract.

The walker in ``validate`` explains every difference but costs tens of µs on a
deep book frame. Most frames match, so each compiled shape is also turned into
an equivalent *strict* msgspec type (unknown fields forbidden, exact kinds,
``Literal`` enums, absent-able optional fields that still refuse ``null``):
``msgspec.convert`` accepting a value proves the walker would find nothing, and
only a rejected value is walked. Shapes msgspec cannot express exactly (such as
a union of two object shapes) get no fast type and are always walked.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal, Union

import msgspec

from collector.contract.schema import Node

_counter = itertools.count()


class _Inexpressible(Exception):
    """The node has no exact msgspec equivalent."""


def strict_type(node: Node) -> Any | None:
    """The strict msgspec type equivalent to ``node``, or None when there is none."""
    try:
        tp = _type(node)
        msgspec.json.Decoder(tp)  # msgspec rejects some unions only when compiling
    except (_Inexpressible, TypeError):
        return None
    return tp


def _type(node: Node) -> Any:
    kinds = node.kinds
    if "any" in kinds:
        return Any
    options: list[Any] = []
    for kind in sorted(kinds):
        if kind == "object":
            options.append(_object(node))
        elif kind == "array":
            options.append(_array(node))
        elif kind == "string":
            options.append(_enum(node, str))
        elif kind == "int":
            options.append(_enum(node, int))
        elif kind == "number":
            if node.enum is not None:
                raise _Inexpressible("enum of numbers")
            options.append(float)  # msgspec float accepts ints, as the walker does
        elif kind == "bool":
            options.append(bool)
        elif kind == "null":
            options.append(type(None))
    if "number" in kinds and "int" in kinds:
        options.remove(int)
    if len(options) == 1:
        return options[0]
    return Union[tuple(options)]  # noqa: UP007 - built from a runtime list


def _enum(node: Node, base: type) -> Any:
    if node.enum is None:
        return base
    values = [v for v in node.enum if type(v) is base]
    if len(values) != len(node.enum):
        raise _Inexpressible("mixed enum")
    return Literal[tuple(sorted(values))]  # type: ignore[valid-type]


def _object(node: Node) -> Any:
    if node.fields is None or (node.open and not node.fields):
        return dict[str, Any]
    fields = []
    rename = {}
    for i, (wire, f) in enumerate(node.fields.items()):
        name = f"f{i}"
        rename[name] = wire
        tp = _type(f.node)
        if f.required:
            fields.append((name, tp))
        else:
            fields.append((name, Union[tp, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
    fields.sort(key=lambda f: len(f) == 3)  # required fields first
    return msgspec.defstruct(
        f"Strict{next(_counter)}", fields, rename=rename, forbid_unknown_fields=not node.open
    )


def _array(node: Node) -> Any:
    if node.item is not None:
        return list[_type(node.item)]
    if node.items is not None:
        if not all(f.required for f in node.items):
            raise _Inexpressible("optional positions")
        return tuple[tuple(_type(f.node) for f in node.items)]
    return list[Any]


def matches(tp: Any, value: Any) -> bool:
    """True when ``value`` converts to the strict type (so it matches its contract)."""
    try:
        msgspec.convert(value, tp, strict=True)
    except msgspec.ValidationError:
        return False
    return True
