"""Which implementation does the per-level work: the compiled core or the reference.

The compiled core (``_core``, built from ``_core.pyx`` on install when a compiler
is there) and the pure-Python reference (``collector.book.book``,
``collector.tables``) give identical tables; the differential tests replay every
recording through both (and property tests hold each function to its reference,
among them ``json_number``, which ``collector.json_numbers`` picks once per process
for the adapters). ``COLLECTOR_NATIVE`` chooses: ``0`` the reference, ``1``
the core or an error if it was not built, unset (or ``auto``) the core when built.
Which one runs is logged once per process, when it is first asked.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

log = logging.getLogger(__name__)

ENV = "COLLECTOR_NATIVE"

try:
    _built: ModuleType | None = importlib.import_module("collector.native._core")
except ImportError as exc:  # not compiled on this machine (or built for another Python)
    _built = None
    _MISSING = f"{type(exc).__name__}: {exc}"
else:
    _MISSING = ""

_announced = False


class NativeUnavailable(RuntimeError):
    """``COLLECTOR_NATIVE=1`` but the compiled core was not built or does not load."""


def _setting() -> bool | None:
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value in ("0", "1"):
        return value == "1"
    raise ValueError(f"{ENV}={value!r}: use 0 (reference path), 1 (native core) or auto")


def core(native: bool | None = None, *, announce: bool = True) -> ModuleType | None:
    """The compiled core module, or ``None`` for the reference path.

    ``native`` overrides the environment (tests run both paths in one process);
    ``None`` follows ``COLLECTOR_NATIVE``; ``announce=False`` leaves the one log
    line to a later caller. Raises ``NativeUnavailable`` when the
    core is required and missing.
    """
    # Said once, when the process's setting is first applied (not when tests ask).
    quiet = native is not None or not announce
    if native is None:
        native = _setting()
    if native is False:
        if not quiet:
            _announce(None, f"{ENV}=0")
        return None
    if _built is None:
        if native:
            raise NativeUnavailable(
                f"the native core is required ({ENV}=1 or asked for) but does not load: "
                f"{_MISSING}; reinstall with a C compiler, or set {ENV}=0"
            )
        if not quiet:
            _announce(None, f"native core not built ({_MISSING})")
        return None
    if not quiet:
        _announce(_built, "")
    return _built


def available() -> bool:
    """Whether the compiled core loads on this machine."""
    return _built is not None


def _announce(module: ModuleType | None, why: str) -> None:
    global _announced
    if _announced:
        return
    _announced = True
    if module is not None:  # the normal case: nothing to say unless asked (--log-level)
        log.debug("per-level work on the native core (%s)", module.__file__)
    elif why.startswith(ENV):
        log.info("%s: running on the pure-Python reference path", why)
    else:
        log.warning("%s: running on the pure-Python reference path (slower)", why)
