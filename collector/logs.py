"""Log set-up of the command line: human text or one JSON object per line.

Text is for a person at a terminal; JSON is for log shippers (journald, Loki,
Elasticsearch), which otherwise have to guess where a multi-line message or an
exception ends. A JSON line carries ``ts`` (ISO 8601 UTC, milliseconds),
``level``, ``logger``, ``msg`` and every field passed with ``extra=``, so a
call like ``log.info("gap", extra={"symbol": "BTCUSDT"})`` is queryable by
symbol without parsing the message.

With the live status view on, records go through the view's rich console:
rich then prints them above the table instead of tearing through it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Literal, TextIO

from rich.console import Console
from rich.logging import RichHandler

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")

#: The format the command line has always used for text logs.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

#: Marks the handlers this module installed, so a second call replaces them
#: (and leaves alone handlers others installed, such as pytest's).
_MARK = "_collector_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside strings are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC)
        doc: dict[str, object] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            # An extra field named like a core one must not overwrite it.
            if key not in _STANDARD and not key.startswith("_"):
                doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class _ConsoleLineHandler(logging.Handler):
    """Writes each formatted record to a rich console as is: no wrapping, no markup.

    For JSON under the status view: the line must stay one parseable line, and
    going through the console puts it above the live table.
    """

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.out(self.format(record), highlight=False)
        except Exception:
            self.handleError(record)


def setup_logging(
    fmt: LogFormat = "text",
    level: int | str = "INFO",
    *,
    console: Console | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send the root logger's records to stderr (or ``stream``) as ``fmt``; return the handler.

    With ``console`` (the live status view's), records are printed through it:
    text via :class:`rich.logging.RichHandler`, JSON as plain lines. Calling it
    again replaces the handler it installed before.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of: {', '.join(FORMATS)}")
    handler: logging.Handler
    if console is not None and fmt == "text":
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    elif console is not None:
        handler = _ConsoleLineHandler(console)
        handler.setFormatter(JsonFormatter())
    else:
        handler = logging.StreamHandler(sys.stderr if stream is None else stream)
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
