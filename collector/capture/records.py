"""The raw capture record and the on-disk naming shared by writer and readers.

A capture is the ground truth the rest of the system is rebuilt from (replay,
crash recovery), so the record keeps exactly what crossed the wire: a text
frame stays ``str`` and a binary frame stays ``bytes``. Both the own capture
format (msgpack) and the shared corpus format (JSON Lines) decode into the same
:class:`Record`, so replay never needs to know where a recording came from.

File naming lives here as well because the writer produces the names and the
readers sort and recognise them; one definition keeps the two in step.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec

#: Value of ``"format"`` in the header item of every own capture file written now.
#: v2 adds checkpoints (a CRC-32 over each flush's records) and ``connecting`` records.
CAPTURE_FORMAT: Final = "collector-capture-v2"

#: Every own format the reader accepts: v1 files (no checkpoints) stay readable.
CAPTURE_FORMATS: Final = frozenset({"collector-capture-v1", CAPTURE_FORMAT})

#: Deflate level of new capture files (``[capture] compression_level``): level 5 costs
#: 30 % less CPU than 6 for under 1 % more bytes (README "Configuration").
DEFAULT_COMPRESSION_LEVEL: Final = 5

#: The record kinds: the corpus format's, plus ``connecting`` (v2: a websocket
#: connection attempt starts; see ``collector.overlap`` for why it is recorded).
KINDS: Final = frozenset({"connecting", "open", "send", "recv", "http", "close"})

#: Suffix of a finished capture file.
CAPTURE_SUFFIX: Final = ".capture.gz"

#: Suffix of a capture file still being written (or left behind by a crash).
INPROGRESS_SUFFIX: Final = ".inprogress"

_SLUG_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._]*(?:-[A-Za-z0-9._]+)*")
_NAME_RE: Final = re.compile(
    r"^\.?(?P<prefix>.+)-(?P<stamp>\d{8}T\d{12}Z)(?:-(?P<seq>\d+))?"
    + re.escape(CAPTURE_SUFFIX)
    + r"(?P<inprogress>"
    + re.escape(INPROGRESS_SUFFIX)
    + r")?$"
)
_NS_PER_S: Final = 1_000_000_000


class CaptureFormatError(ValueError):
    """A file is not a readable recording (wrong format, corrupt header or body).

    Raised instead of a bare zlib/msgpack/JSON error so callers get the file
    name and a hint of what was expected, and can catch one type.
    """


class Record(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One captured event: a websocket open/send/recv/close or an HTTP response.

    ``array_like`` keeps the msgpack encoding compact (no field names per
    record). ``gc=False`` is safe because the fields are only scalars, ``str``
    and ``bytes`` (no reference cycles possible), and it roughly halves the
    cost of creating the millions of records a replay produces.
    """

    kind: str
    """``"connecting"``, ``"open"``, ``"send"``, ``"recv"``, ``"http"`` or ``"close"``."""
    ts: int
    """Local wall clock at receipt (or send), ns since the Unix epoch, UTC."""
    conn: int = 0
    """Websocket connection number (1-based); 0 for HTTP."""
    data: str | bytes = ""
    """Text frame (``str``), binary frame (``bytes``) or HTTP body, verbatim."""
    url: str = ""
    """Target URL for ``connecting``, ``open`` and ``http``."""
    status: int | None = None
    """HTTP status when known."""


def check_slug(value: str, what: str) -> str:
    """Return ``value`` if it is safe inside a file name, else raise ``ValueError``.

    Exchange slugs and instance names become path components; rejecting
    separators and odd characters up front avoids writing outside the capture
    directory or producing names the readers cannot parse.
    """
    if not _SLUG_RE.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not usable in a file name "
            "(letters, digits, '.', '_' and single '-' between them)"
        )
    return value


def exchange_dir(directory: str | Path, exchange: str) -> Path:
    """Folder holding one exchange's capture files (Hive-style ``exchange=<slug>``)."""
    return Path(directory) / f"exchange={exchange}"


def ts_stamp(ts: int) -> str:
    """Render a ns timestamp as ``YYYYMMDDTHHMMSSffffffZ`` (UTC, microseconds).

    Fixed width and zero padded, so lexical order is time order.
    """
    seconds, ns = divmod(ts, _NS_PER_S)
    day_time = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y%m%dT%H%M%S")
    return f"{day_time}{ns // 1000:06d}Z"


def capture_file_name(exchange: str, instance: str, first_ts: int, seq: int = 0) -> str:
    """Final name of a capture file whose first record has ``first_ts``.

    ``seq`` > 0 disambiguates files whose first records fall in the same
    microsecond (size rotation of a fast stream), so no file is ever replaced.
    """
    suffix = f"-{seq}" if seq else ""
    return f"{exchange}-{instance}-{ts_stamp(first_ts)}{suffix}{CAPTURE_SUFFIX}"


def inprogress_name(final_name: str) -> str:
    """Hidden temporary name used while the file with ``final_name`` is written."""
    return f".{final_name}{INPROGRESS_SUFFIX}"


def capture_sort_key(path: Path) -> tuple[str, int, str] | None:
    """Sort key (first-record stamp, seq, name) of a capture file, or ``None``.

    ``None`` means the name is not one the writer produces, which is how
    :func:`~collector.capture.reader.list_capture_files` ignores stray files.
    """
    match = _NAME_RE.match(path.name)
    if match is None:
        return None
    return (match["stamp"], int(match["seq"] or 0), path.name.lstrip("."))
