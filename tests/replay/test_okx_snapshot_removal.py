"""Every OKX recording, rewritten to OKX's announced protocol, replays to the same books.

The rewriting (``tests/okx_rewrite.py``): checksum keys removed; ``seqId``/``prevSeqId``
added; in-band snapshots replaced by recorded REST books. Each variant must end with
every book equal to the original recording's, with no drift beyond the recording's own.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
from okx_rewrite import TAKEN_AFTER, book_push, rest_seeded, strip_checksums, with_seq_ids
from support import load_records, needs_captures, recordings, rel, run_records

from collector.capture.records import Record
from collector.model import QualityKind
from collector.pipeline import Pipeline

pytestmark = needs_captures

FILES = recordings(("okx",))


def books_of(pipeline: Pipeline) -> dict[str, dict]:
    return {symbol: sync.book.as_dict() for symbol, sync in pipeline.engine.symbols.items()}


def drift(pipeline: Pipeline) -> list[str]:
    """Details of the pipeline's ``drift`` quality events, in order."""
    table = pipeline.sink.table("quality")
    if table is None:
        return []
    rows = table.to_pydict()
    return [d for k, d in zip(rows["kind"], rows["detail"], strict=True) if k == "drift"]


@pytest.fixture(scope="module", params=FILES, ids=rel)
def original(request: pytest.FixtureRequest) -> tuple[list[Record], Pipeline]:
    exchange, records = load_records(request.param)
    assert exchange == "okx"
    pipeline = run_records(exchange, records)
    assert books_of(pipeline), f"{rel(request.param)} builds no book"
    return records, pipeline


def assert_same_books(pipeline: Pipeline, original: Pipeline) -> None:
    assert books_of(pipeline) == books_of(original)
    for symbol, sync in pipeline.engine.symbols.items():
        assert sync.state is original.engine.symbols[symbol].state, symbol
        assert (sync.stats.crossed, sync.stats.checksums_failed) == (0, 0), symbol


def test_recordings_exist() -> None:
    assert FILES, "no OKX recordings found"


def test_without_checksum_keys_books_sync_with_no_new_drift(original) -> None:
    records, source = original
    stripped = strip_checksums(records)
    assert sum('"checksum"' in r.data for r in stripped if r.kind == "recv") == 0
    pipeline = run_records("okx", stripped)
    assert_same_books(pipeline, source)
    assert all(s.stats.checksums_verified == 0 for s in pipeline.engine.symbols.values())
    # The recording's own drift (a 2022 recording lacks seqId/prevSeqId) and nothing else.
    assert drift(pipeline) == drift(source) and not any("checksum" in d for d in drift(pipeline))
    assert pipeline.problems == source.problems


@pytest.mark.parametrize("checksums", [True, False], ids=["checksums", "no-checksums"])
def test_with_seq_ids_books_sync_with_no_drift(original, checksums: bool) -> None:
    records, source = original
    rewritten = with_seq_ids(records if checksums else strip_checksums(records))
    pipeline = run_records("okx", rewritten)
    assert_same_books(pipeline, source)
    assert drift(pipeline) == [] and not pipeline.problems
    for sync in pipeline.engine.symbols.values():
        assert (sync.stats.gaps, sync.stats.duplicates) == (0, 0)


@pytest.mark.parametrize("checksums", [True, False], ids=["checksums", "no-checksums"])
def test_rest_seeded_books_end_equal_to_the_original(original, checksums: bool) -> None:
    records, source = original
    rewritten = rest_seeded(with_seq_ids(records if checksums else strip_checksums(records)))
    rest = Counter(parse_qs(urlsplit(r.url).query)["instId"][0] for r in rewritten
                   if r.kind == "http")  # fmt: skip
    in_band = Counter(f["arg"]["instId"] for f in map(book_push, rewritten)
                      if f is not None and f.get("action") == "snapshot")  # fmt: skip
    assert rest, "no session of this recording is long enough to seed from REST"
    pipeline = run_records("okx", rewritten)
    assert_same_books(pipeline, source)
    assert drift(pipeline) == [] and not pipeline.problems
    for symbol, sync in pipeline.engine.symbols.items():
        stats = sync.stats
        assert (stats.snapshots_too_old, stats.duplicates) == (0, 0), symbol
        assert stats.stale_dropped == TAKEN_AFTER * rest[symbol], symbol
        assert stats.snapshots_applied == rest[symbol] + in_band[symbol], symbol
        assert (stats.checksums_verified > 0) is checksums, symbol  # they check the bridge
    kinds = pipeline.sink.table("quality").column("kind").to_pylist()
    assert kinds.count(QualityKind.SYNCED) == sum((rest + in_band).values())
