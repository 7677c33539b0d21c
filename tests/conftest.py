"""Fixtures shared by every test folder."""

from __future__ import annotations

from types import ModuleType

import pytest

from collector import native
from collector.book import book as reference_book


@pytest.fixture(params=["reference", "native"])
def book_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run a test once on the pure-Python reference and once on the compiled core.

    Sets ``COLLECTOR_NATIVE`` so every engine and table buffer the test builds takes
    that path, and returns the module whose ``OrderBook``/``BookSide`` it should use.
    The native run is skipped where the core is not built.
    """
    if request.param == "reference":
        monkeypatch.setenv(native.ENV, "0")
        return reference_book
    if not native.available():
        pytest.skip("the native core is not built here")
    monkeypatch.setenv(native.ENV, "1")
    return native.core(True)
