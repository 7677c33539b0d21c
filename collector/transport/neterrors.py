"""Network failures as one readable line, and "no network" said once.

Offline, every REST retry and every reconnect used to log a 300-character
``ClientConnectorDNSError(ConnectionKey(...))`` repr, several a second. A host
that does not resolve is almost always a machine without network (or a typo in
a ``rewrite``): that deserves one ERROR line per host, "cannot resolve HOST: no
network?", and silence (DEBUG) while the retries go on; once the host answers
again, a later failure is news again. Every other failure is summarised as
``Type: message``, short enough for a log line.
"""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import aiohttp

#: Hosts already reported unresolvable, process-wide: the REST client and every
#: websocket supervisor of a venue share the same few hosts.
_UNRESOLVED: set[str] = set()
_MAX_CHARS = 200


def unresolved_host(exc: BaseException, url: str) -> str | None:
    """The host ``exc`` failed to resolve (a DNS failure while opening ``url``), else None."""
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNSError (aiohttp >= 3.10) included
        return exc.host if isinstance(exc.os_error, socket.gaierror) else None
    if isinstance(exc, socket.gaierror):  # websockets lets the resolver's error through
        return urlsplit(url).hostname
    return None


def short_error(exc: BaseException, url: str) -> str:
    """``exc`` in one short line: "cannot resolve HOST", else its type and message."""
    host = unresolved_host(exc, url)
    if host is not None:
        return f"cannot resolve {host}"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 3] + "..."


def report_dns(log: logging.Logger, exc: BaseException, url: str) -> bool:
    """If ``exc`` is a DNS failure, log it (ERROR the first time for its host, DEBUG
    after) and return True; the caller logs any other failure its own way."""
    host = unresolved_host(exc, url)
    if host is None:
        return False
    if host in _UNRESOLVED:
        log.debug("cannot resolve %s (still); retrying", host)
    else:
        _UNRESOLVED.add(host)
        log.error("cannot resolve %s: no network? (retrying quietly)", host)
    return True


def reached(url: str) -> None:
    """``url``'s host answered: a later DNS failure of it is reported again."""
    _UNRESOLVED.discard(urlsplit(url).hostname or "")
