"""Level arrays an adapter leaves as JSON: read by the pipeline, alike on both paths.

``collector.levels``: the native core reads a plain array into spans of the frame,
the reference decodes it with msgspec; an array that is not ``[price, size]`` string
pairs makes the frame a counted ``malformed`` event and leaves the book alone.
"""

from __future__ import annotations

import json

import pytest
from support import MemorySink, pylist

import adapters
from collector import native
from collector.capture.records import Record
from collector.pipeline import Pipeline

PATHS = [False, True] if native.available() else [False]
SNAPSHOT = '{"lastUpdateId":10,"E":1,"T":1,"bids":[["100.0","1"]],"asks":[["101.0","1"]]}'
URL = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"


def _depth(first: int, last: int, prev: int, bids: object, asks: object) -> str:
    data = {"e": "depthUpdate", "E": 2, "T": 2, "s": "BTCUSDT", "U": first, "u": last}
    body = json.dumps(data | {"pu": prev})[:-1]
    return f'{{"stream":"btcusdt@depth@0ms","data":{body},"b":{bids},"a":{asks}}}}}'


FRAMES = [
    _depth(9, 11, 8, '[["100.0","2"]]', "[]"),  # bridges the snapshot
    _depth(12, 12, 11, '[["99.5", 3]]', "[]"),  # a number: malformed, skipped
    _depth(13, 13, 12, "[]", '[ ["101.0" , "0"] , ["102.5","4.25"] ]'),  # spaces: still read
]
#: A well-formed array holding text that is no decimal: found at flush, the book resyncs.
BAD_TEXT = [
    _depth(9, 11, 8, '[["100.0","2"]]', "[]"),
    _depth(12, 12, 11, '[["99.0","1.2.3"]]', "[]"),
    _depth(13, 13, 12, '[["98.0","1"]]', "[]"),
]


def _run(native_path: bool, frames: list[str] = FRAMES) -> Pipeline:
    pipeline = Pipeline(adapters.create("binance-usdm"), MemorySink(), native=native_path)
    pipeline.on_record(Record("http", 1, 0, SNAPSHOT, URL, 200))
    for i, frame in enumerate(frames):
        pipeline.on_record(Record("recv", 2 + i, 1, frame))
    pipeline.finish()
    return pipeline


@pytest.mark.parametrize("native_path", PATHS)
def test_a_bad_level_array_is_the_frames_malformed_event(native_path: bool) -> None:
    pipeline = _run(native_path)
    quality = pylist(pipeline.sink.table("quality"))  # type: ignore[attr-defined]
    malformed = [q for q in quality if q["kind"] == "malformed"]
    assert len(malformed) == 1
    assert "book levels: Expected `str`, got `int`" in malformed[0]["detail"]
    assert 'bids=[["99.5", 3]]' in malformed[0]["detail"]
    assert sum(n for key, n in pipeline.problems.items() if key.startswith("malformed")) == 1
    # The skipped frame is a gap for the next one: the book resyncs, nothing is invented.
    book = pylist(pipeline.sink.table("book"))  # type: ignore[attr-defined]
    assert [(r["seq"], r["side"], str(r["price"])) for r in book if not r["is_snapshot"]] == [
        (11, "bid", "100.000000000000000000")
    ]


@pytest.mark.parametrize("native_path", PATHS)
def test_bad_text_in_a_read_array_unsyncs_the_book_at_flush(native_path: bool) -> None:
    pipeline = _run(native_path, BAD_TEXT)
    quality = pylist(pipeline.sink.table("quality"))  # type: ignore[attr-defined]
    kinds = [q["kind"] for q in quality]
    assert "malformed" in kinds and "resync" in kinds
    assert any("'1.2.3' is not a storable decimal" in q["detail"] for q in quality)
    book = pylist(pipeline.sink.table("book"))  # type: ignore[attr-defined]
    assert max(r["seq"] for r in book) == 11  # nothing from the bad update on


@pytest.mark.parametrize("frames", [FRAMES, BAD_TEXT], ids=["malformed", "bad-text"])
def test_both_paths_write_the_same_tables(frames: list[str]) -> None:
    if len(PATHS) < 2:
        pytest.skip("the native core is not built here")
    tables = [_run(p, frames).sink.tables for p in PATHS]  # type: ignore[attr-defined]
    assert tables[0].keys() == tables[1].keys()
    for name in tables[0]:
        assert [pylist(t) for t in tables[0][name]] == [pylist(t) for t in tables[1][name]]
