"""Every symbol the venues stream or list fits its adapter's grammar, and is listed.

The grammars (``symbol_grammar``) let the config check refuse a symbol before
anything starts, so one that is too strict would refuse a real market. This holds
them to every recording: each symbol a recording streams, as its adapter names it,
and each symbol of its instrument sidecar fits. And it holds ``listed`` (which the
daemon uses to drop unlisted symbols at start) to the same data: no symbol a venue
streamed is ever judged unlisted by the lists fetched with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import CAPTURES, needs_captures, rel, run_recording

import adapters
from collector.replay import instruments_sidecar

pytestmark = needs_captures


def _cases() -> list[tuple[str, Path]]:
    return [
        (slug, path)
        for slug in sorted(adapters.REGISTRY)
        for path in sorted((CAPTURES / slug).glob("*.jsonl.gz"))
        if not path.name.endswith(".instruments.jsonl.gz")
    ]


@pytest.mark.parametrize(("slug", "path"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_recorded_and_listed_symbols_fit_the_grammar_and_are_listed(slug: str, path: Path) -> None:
    _, pipeline = run_recording(path, slug)
    adapter = pipeline.adapter
    grammar = adapter.symbol_grammar
    streamed = set(pipeline.frames_by_symbol) | set(pipeline.engine.symbols)
    assert streamed, rel(path)
    assert sorted(s for s in streamed if not grammar.accepts(s)) == [], rel(path)
    assert sorted(s for s in streamed if adapter.listed(s) is False) == [], rel(path)

    listed = adapter.listings.names()
    assert sorted(s for s in listed if not grammar.accepts(s)) == [], rel(path)
    if instruments_sidecar(path) is None:
        assert not listed and all(adapter.listed(s) is None for s in streamed)
    elif listed:  # the lists judged this recording's symbols, rather than abstaining
        assert any(adapter.listed(s) for s in streamed), rel(path)


def test_the_lists_name_thousands_of_symbols() -> None:
    """The sidecars really were read as lists: a grammar checked against nothing proves
    nothing. (Kraken's ``AssetPairs`` names pairs the v1 way and judges nothing.)"""
    names: dict[str, int] = {}
    for slug, path in _cases():
        if instruments_sidecar(path) is not None:
            _, pipeline = run_recording(path, slug)
            names[slug] = max(names.get(slug, 0), len(pipeline.adapter.listings.names()))
    assert {s for s, n in names.items() if n == 0} == {"kraken"}
    assert sum(names.values()) > 5000, names
