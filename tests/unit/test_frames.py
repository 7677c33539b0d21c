"""Binary frames handled once, where frames enter the pipeline (``collector.frames``),
and replies an adapter asks the transport to send (``Control("reply")``).

A toy adapter stands in for a venue: it declares an encoding and echoes what it was
handed, so each test shows exactly what ``decode`` received.
"""

from __future__ import annotations

import gzip
import zlib

import pytest
from support import MemorySink, pylist

from collector.book.sequence import NoSequenceRule
from collector.capture.records import Record
from collector.frames import MAX_INFLATED_BYTES, FrameError, frame_encoding, inflater
from collector.model import Control, Message
from collector.pipeline import Pipeline


class Echo:
    """Decodes nothing: records each frame it is handed, answers ``ping`` with a reply."""

    slug = "echo"
    sequence_rule = NoSequenceRule()
    rest_weight_per_minute = None

    def __init__(self, encoding: str | None) -> None:
        if encoding is not None:
            self.frame_encoding = encoding
        self.seen: list[str | bytes] = []

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        self.seen.append(frame)
        if frame in ("ping", b"ping"):
            return [Control("reply", ts_recv, f"pong {conn}")]
        return [Control("heartbeat", ts_recv)]

    def book_checksum(self, symbol, book):  # type: ignore[no-untyped-def]
        return None

    def market(self, symbol: str) -> str:
        return symbol

    def connected(self, conn: int, url: str) -> None:
        pass


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def test_gzip_and_raw_deflate_inflate_and_text_passes() -> None:
    text = b'{"ping":1618678073643}'
    assert inflater("gzip")(gzip.compress(text)) == text  # type: ignore[misc]
    assert inflater("deflate")(_deflate(text)) == text  # type: ignore[misc]
    assert inflater("text") is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"plain":"json"}', "not gzip data"),
        (gzip.compress(b"x" * 1000)[:-12], "cut short"),
        (gzip.compress(b"{}") + b"junk", "bytes after the gzip stream"),
        (gzip.compress(b"0" * (MAX_INFLATED_BYTES + 1)), "more than"),
    ],
    ids=["not-gzip", "cut", "trailing", "bomb"],
)
def test_a_frame_that_does_not_inflate_says_why(data: bytes, why: str) -> None:
    with pytest.raises(FrameError, match=why):
        inflater("gzip")(data)  # type: ignore[misc]


def test_an_unknown_encoding_is_the_adapters_bug_and_fails_at_once() -> None:
    with pytest.raises(ValueError, match="frame_encoding is 'zstd'"):
        frame_encoding(Echo("zstd"))
    assert frame_encoding(Echo(None)) == "text"


def test_the_adapter_sees_the_inflated_text_and_text_frames_as_they_came() -> None:
    adapter = Echo("gzip")
    pipeline = Pipeline(adapter, MemorySink())  # type: ignore[arg-type]
    pipeline.on_frame(gzip.compress(b'{"a":1}'), 1, 1)
    pipeline.on_frame('{"b":2}', 2, 1)
    assert adapter.seen == [b'{"a":1}', '{"b":2}']


def test_a_text_venues_binary_frames_reach_the_adapter_untouched() -> None:
    adapter = Echo(None)  # Upbit: plain JSON in binary frames
    Pipeline(adapter, MemorySink()).on_frame(b'{"a":1}', 1, 1)  # type: ignore[arg-type]
    assert adapter.seen == [b'{"a":1}']


def test_a_bad_frame_is_a_counted_malformed_event_and_the_stream_goes_on() -> None:
    adapter = Echo("gzip")
    pipeline = Pipeline(adapter, MemorySink())  # type: ignore[arg-type]
    for ts, frame in enumerate([gzip.compress(b"1"), b"\x1f\x8b garbage", gzip.compress(b"3")]):
        pipeline.on_record(Record("recv", 10 + ts, 1, frame))
    pipeline.finish()
    assert adapter.seen == [b"1", b"3"]  # the bad one never reached the adapter
    assert pipeline.frames == 3
    (key,) = pipeline.problems
    assert key.startswith("malformed: binary frame does not inflate (gzip)")
    quality = pylist(pipeline.sink.table("quality"))  # type: ignore[attr-defined]
    (event,) = [q for q in quality if q["kind"] == "malformed"]
    assert "1f8b2067617262616765" in event["detail"]  # the frame's first bytes, in hex


def test_replies_are_queued_per_connection_live_and_only_counted_in_replay() -> None:
    live = Pipeline(Echo("gzip"), MemorySink(), collect_replies=True)  # type: ignore[arg-type]
    live.on_frame(gzip.compress(b"ping"), 1, 7)
    live.on_frame(gzip.compress(b"data"), 2, 7)
    live.on_frame(gzip.compress(b"ping"), 3, 9)
    assert live.take_replies() == [(7, "pong 7"), (9, "pong 9")]
    assert live.take_replies() == []
    replay = Pipeline(Echo("gzip"), MemorySink())  # type: ignore[arg-type]
    replay.on_frame(gzip.compress(b"ping"), 1, 7)
    assert replay.take_replies() == [] and replay.controls["reply"] == 1
