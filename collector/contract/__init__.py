"""Exchange contracts: what each adapter relies on, checked against real frames.

``model`` holds the declarative contract and the drift vocabulary, ``schema``
turns the adapters' msgspec wire structs into checkable shapes, ``validate`` is
the strict per-frame validator, ``rules`` replays a recording through the real
pipeline for sequence/checksum rules, ``check`` runs both over a recording and
``report`` aggregates and renders the result.
"""
