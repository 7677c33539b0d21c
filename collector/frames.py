"""Binary frame encodings: compressed frames are inflated once, where frames enter the pipeline.

Some venues compress every websocket message themselves, inside binary frames, rather than
through permessage-deflate (which the transport negotiates and undoes on its own): HTX
gzips each frame, OKX's retired v3 API sent raw DEFLATE. An adapter says how its binary
frames are encoded in its ``frame_encoding`` attribute (``"text"`` when it has none), and
:class:`~collector.pipeline.Pipeline` inflates them before ``adapter.decode`` sees them.

Why here and not in the transport or the adapter: the capture keeps the bytes exactly as
they arrived (the ground truth), so a replay inflates exactly what the live run inflated,
through the same function; and adapters stay byte-agnostic, each unpacking nothing.

A frame that does not inflate (torn, not gzip, bigger than ``MAX_INFLATED_BYTES`` once
inflated) raises :class:`FrameError`, which the pipeline turns into a counted ``malformed``
quality event: a peer's bad frame is data, never an exception that stops a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from zlib_ng import zlib_ng  # zlib's API and error messages; inflates in half the time

#: ``frame_encoding`` values: what a venue's binary frames hold.
#: ``text``: the payload itself (JSON in a binary frame, Upbit); ``gzip``: RFC 1952 (HTX);
#: ``deflate``: raw RFC 1951 DEFLATE without a zlib header (OKX v3).
WBITS: Final = {"gzip": 16 + zlib_ng.MAX_WBITS, "deflate": -zlib_ng.MAX_WBITS}
FRAME_ENCODINGS: Final = ("text", *WBITS)
#: Largest inflated frame accepted: the transport's own bound on a received message, so a
#: compressed frame cannot smuggle in more than an uncompressed one could (a zip bomb).
MAX_INFLATED_BYTES: Final = 16 * 2**20

Inflate = Callable[[bytes], bytes]


class FrameError(ValueError):
    """A binary frame that does not inflate under the venue's declared encoding."""


def frame_encoding(adapter: object) -> str:
    """The adapter's declared ``frame_encoding`` (``"text"`` when it declares none).

    An unknown value is a bug in the adapter, not in a frame: it raises ``ValueError``
    when the pipeline is built, never later on a frame.
    """
    encoding = getattr(adapter, "frame_encoding", "text")
    if encoding not in FRAME_ENCODINGS:
        raise ValueError(
            f"{type(adapter).__name__}.frame_encoding is {encoding!r}; "
            f"use one of {', '.join(FRAME_ENCODINGS)}"
        )
    return encoding


def inflater(encoding: str) -> Inflate | None:
    """The function inflating a binary frame of ``encoding``; None for ``"text"``."""
    wbits = WBITS.get(encoding)
    if wbits is None:
        return None

    def inflate(data: bytes) -> bytes:
        decompressor = zlib_ng.decompressobj(wbits)
        try:
            out = decompressor.decompress(data, MAX_INFLATED_BYTES)
        except zlib_ng.error as exc:
            raise FrameError(f"not {encoding} data: {exc}") from None
        if decompressor.unconsumed_tail:
            raise FrameError(f"inflates to more than {MAX_INFLATED_BYTES} bytes")
        if not decompressor.eof:
            raise FrameError(f"the {encoding} stream is cut short ({len(data)} bytes)")
        if decompressor.unused_data:
            raise FrameError(f"{len(decompressor.unused_data)} bytes after the {encoding} stream")
        return out

    return inflate
