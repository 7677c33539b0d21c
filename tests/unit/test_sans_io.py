"""Sans-I/O: adapters and the book engine never touch sockets, clocks, tasks or logs.

That is what lets a recording replay through exactly the code the daemon runs.
The scan walks every venue package, and checks that it saw one ``adapter.py`` per
venue package, so that a new folder layout cannot make it pass by scanning nothing.
"""

from __future__ import annotations

import ast
import pathlib

import adapters

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORBIDDEN = {"asyncio", "socket", "time", "random", "logging", "aiohttp", "websockets"}


def _imports(path: pathlib.Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_adapters_and_book_engine_do_no_io() -> None:
    files = [*(ROOT / "adapters").rglob("*.py"), *(ROOT / "collector" / "book").rglob("*.py")]
    for path in files:
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.relative_to(ROOT)} imports {name}"


def test_the_scan_sees_every_venue_package() -> None:
    packages = {p.parent.name for p in (ROOT / "adapters").glob("*/__init__.py")}
    scanned = {p.parent.name for p in (ROOT / "adapters").rglob("adapter.py")}
    assert packages and scanned == packages
    # Every registered slug is served by one of those packages.
    for slug, factory in adapters.REGISTRY.items():
        adapter = factory()
        module = type(adapter).__module__
        assert module.startswith("adapters.") and module.endswith(".adapter"), (slug, module)
        assert module.split(".")[1] in packages, slug
