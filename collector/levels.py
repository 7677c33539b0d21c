"""Book levels an adapter leaves as JSON text, read once the path is known.

A depth update holds most of a feed's bytes in its level arrays. An adapter may
declare them ``msgspec.Raw`` (a JSON array of ``[price, size]`` string pairs) in the
``BookDelta`` it returns, and so make no ``str`` or tuple per level while decoding.
The pipeline reads them before the engine sees the delta: the compiled core into
spans of the frame (``collector.native``'s ``Levels``), the reference into the very
list a whole-frame decode gives. An array that is not such pairs is the frame's
decode failure, with msgspec's message, on both paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType

import msgspec

from collector.model import BookDelta, Level

#: The reference reading: what ``list[tuple[str, str]]`` in a wire struct would decode.
REFERENCE = msgspec.json.Decoder(list[tuple[str, str]])

LevelReader = Callable[[msgspec.Raw], Sequence[Level]]


def reader(core: ModuleType | None) -> LevelReader:
    """How a pipeline on ``core`` (None: the reference path) reads raw level arrays."""
    return REFERENCE.decode if core is None else core.read_levels


def read(delta: BookDelta, read_levels: LevelReader = REFERENCE.decode) -> BookDelta:
    """``delta`` with the level arrays its adapter left as JSON read by ``read_levels``.

    Raises msgspec's ``ValidationError``/``DecodeError`` for an array that is not
    ``[price, size]`` string pairs.
    """
    bids, asks = delta.bids, delta.asks
    if type(bids) is msgspec.Raw:
        bids = read_levels(bids)
    if type(asks) is msgspec.Raw:
        asks = read_levels(asks)
    return msgspec.structs.replace(delta, bids=bids, asks=asks)
