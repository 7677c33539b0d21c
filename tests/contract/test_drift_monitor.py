"""The runtime drift monitor (``collector.contract.monitor``) inside the pipeline.

* every recording of every registered venue: the monitor checking every frame
  finds exactly the pinned shape drift of ``expected_drift.toml``, and sampled
  as in production a subset of it (nothing else, so clean recordings say nothing);
* each drift kind injected into a real recording is counted under the right
  (kind, message type, field), written once as a ``drift`` quality event and
  logged once with a sample; a drift that lasts gets one more event per interval
  with the count, and one at the end;
* an unknown message type the adapter rejects is reported once, by the monitor,
  not a second time by the pipeline's own ``DecodeFailed`` handling;
* sampling is a function of the frames only: two runs write identical events.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from support import CAPTURES, MemorySink, needs_captures

import adapters
from adapters.contracts import CONTRACTS, contract_for
from collector.capture.reader import open_recording
from collector.capture.records import Record
from collector.contract.monitor import EVERY, FIRST, DriftMonitor, monitor_for
from collector.contract.rules import RULE_OF
from collector.pipeline import Pipeline
from collector.replay import load_instruments

EXPECTED_FILE = Path(__file__).with_name("expected_drift.toml")
FUTURES = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
BTC = CAPTURES / "binance-usdm" / "btcusdt_20240808.jsonl.gz"
#: Drift the engine reports as rule violations (gap, checksum...): never the monitor's.
ENGINE_RULES = {message_type for message_type, _ in RULE_OF.values()}


def _expected() -> dict[str, set[tuple[str, str, str]]]:
    import tomllib

    doc = tomllib.loads(EXPECTED_FILE.read_text())
    return {
        name: {(e["kind"], e["type"], e["field"]) for e in spec["drift"]}
        for name, spec in doc["files"].items()
    }


def _recordings() -> list[Path]:
    if not CAPTURES.exists():
        return []
    return sorted(p for slug in sorted(CONTRACTS) for p in (CAPTURES / slug).glob("*.jsonl.gz"))


def run(
    path: Path, records: list[Record] | None = None, **monitor: Any
) -> tuple[Pipeline, MemorySink]:
    """Replay ``path`` (or ``records`` as if from it) through a pipeline with a monitor."""
    info, it = open_recording(path)
    slug = info.exchange
    assert slug
    adapter = adapters.create(slug)
    if not path.name.endswith(".instruments.jsonl.gz"):
        load_instruments(adapter, path)
    sink = MemorySink()
    pipeline = Pipeline(adapter, sink, drift=DriftMonitor(contract_for(slug), **monitor))
    for record in records if records is not None else it:
        pipeline.on_record(record)
    pipeline.finish()
    return pipeline, sink


def drift_events(sink: MemorySink) -> list[dict]:
    table = sink.table("quality")
    if table is None:
        return []
    table = table.filter(pa.compute.equal(table["kind"], "drift"))
    ts = table["ts_recv"].cast(pa.int64()).to_pylist()
    details = table["detail"].to_pylist()
    return [{"ts_recv": t, "detail": d} for t, d in zip(ts, details, strict=True)]


def edit_frames(path: Path, edit, start: int = 0) -> list[Record]:
    """The recording's records, with each recv frame from the ``start``-th passed through edit."""
    out = []
    n = 0
    for record in open_recording(path)[1]:
        if record.kind == "recv":
            n += 1
            if n > start:
                value = edit(msgspec.json.decode(record.data))
                if value is not None:
                    data = msgspec.json.encode(value).decode()
                    record = msgspec.structs.replace(record, data=data)
        out.append(record)
    return out


# -- the corpus -------------------------------------------------------------------


@needs_captures
@pytest.mark.parametrize("path", _recordings(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_monitor_finds_the_pinned_drift_and_nothing_else(path: Path) -> None:
    name = f"{path.parent.name}/{path.name}"
    pinned = {
        k
        for k in _expected().get(name, set())
        if not (k[0] == "rule_violation" and k[1] in ENGINE_RULES)
    }
    exhaustive, _ = run(path, every=1)
    assert set(exhaustive.drift.counts) == pinned, name
    sampled, sink = run(path)
    assert set(sampled.drift.counts) <= pinned, name
    assert len(drift_events(sink)) >= len(sampled.drift.counts)
    if not pinned:
        assert drift_events(sink) == [], name


# -- injected drift -----------------------------------------------------------------


def _data(frame: dict, event: str) -> dict | None:
    data = frame.get("data") if isinstance(frame, dict) else None
    return data if isinstance(data, dict) and data.get("e") == event else None


def _rename_b(frame: dict) -> dict:
    if (data := _data(frame, "depthUpdate")) is not None:
        data["bids"] = data.pop("b")
    return frame


def _new_field(frame: dict) -> dict:
    if (data := _data(frame, "depthUpdate")) is not None:
        data["X"] = "new"
    return frame


def _number_as_string(frame: dict) -> dict:
    if (data := _data(frame, "depthUpdate")) is not None:
        data["E"] = str(data["E"])
    return frame


def _enum(frame: dict) -> dict:
    """aggTrade frames become trade frames whose ``X`` (order type) is a value never documented.

    The recording has no trade stream, and an unknown ``e`` on a known stream is
    an unknown message type, not an enum value: ``X`` is the enum there is.
    """
    if (data := _data(frame, "aggTrade")) is not None:
        frame["stream"] = frame["stream"].replace("@aggTrade", "@trade")
        data["e"], data["t"], data["X"] = "trade", data.pop("a"), "DARK_POOL"
        del data["f"], data["l"]
    return frame


def _seconds(frame: dict) -> dict:
    if (data := _data(frame, "depthUpdate")) is not None:
        data["E"] = data["E"] // 1000  # milliseconds become seconds: a unit change
    return frame


def _unknown(frame: dict) -> dict:
    if isinstance(frame, dict) and str(frame.get("stream", "")).endswith("@bookTicker"):
        frame["stream"] = frame["stream"].replace("@bookTicker", "@bookTickerV2")
    return frame


INJECTED = {
    "renamed_field": (
        _rename_b,
        {("missing_field", "depthUpdate", "data.b"), ("new_field", "depthUpdate", "data.bids")},
    ),
    "new_field": (_new_field, {("new_field", "depthUpdate", "data.X")}),
    "type_change": (_number_as_string, {("type_change", "depthUpdate", "data.E")}),
    "enum_value": (_enum, {("enum_value", "trade", "data.X")}),
    "rule_violation": (_seconds, {("rule_violation", "depthUpdate", "data.E")}),
    "unknown_message_type": (_unknown, {("unknown_message_type", "bookTickerV2", "")}),
}


@needs_captures
@pytest.mark.parametrize("case", sorted(INJECTED))
def test_injected_drift_is_counted_written_once_and_logged_once(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    edit, keys = INJECTED[case]
    records = edit_frames(FUTURES, edit)
    with caplog.at_level(logging.WARNING, logger="collector.contract.monitor"):
        pipeline, sink = run(FUTURES, records)
    counts = pipeline.drift.counts
    assert set(counts) == keys
    assert all(n > 0 for n in counts.values())
    events = drift_events(sink)
    for kind, message_type, field in keys:
        label = f"{kind} {message_type}{' ' + field if field else ''}: "
        mine = [e for e in events if e["detail"].startswith(label)]
        # The recording lasts 31 s, under the 60 s interval: the first sighting, and
        # (when more followed) one closing count from finish().
        assert mine[0]["detail"].startswith(label + "first seen: ")
        assert "; frame: {" in mine[0]["detail"]
        assert len(mine) == (2 if counts[kind, message_type, field] > 1 else 1), mine
        if len(mine) == 2:
            assert f"{counts[kind, message_type, field] - 1} more since" in mine[1]["detail"]
        logged = [r for r in caplog.records if f"{kind} {message_type} {field}" in r.getMessage()]
        assert len(logged) == 1
        assert "sample: {" in logged[0].getMessage()


@needs_captures
def test_an_unknown_type_the_adapter_rejects_is_reported_once_not_twice() -> None:
    """``DecodeFailed(unknown=True)`` and the monitor used to be two reports of one drift."""
    pipeline, sink = run(FUTURES, edit_frames(FUTURES, _unknown))
    assert any(k.startswith("drift:") for k in pipeline.problems)  # still counted
    details = [e["detail"] for e in drift_events(sink)]
    assert details and all(d.startswith("unknown_message_type bookTickerV2: ") for d in details)
    # every such frame was checked (rejected frames always are), not one in EVERY
    rejected = sum(n for k, n in pipeline.problems.items() if k.startswith("drift:"))
    assert pipeline.drift.counts["unknown_message_type", "bookTickerV2", ""] == rejected
    _, bare = run_without_monitor(FUTURES, edit_frames(FUTURES, _unknown))
    assert len(drift_events(bare)) == rejected  # the old way: one event per frame


def run_without_monitor(path: Path, records: list[Record]) -> tuple[Pipeline, MemorySink]:
    sink = MemorySink()
    pipeline = Pipeline(adapters.create("binance-usdm"), sink, drift=None)
    for record in records:
        pipeline.on_record(record)
    pipeline.finish()
    return pipeline, sink


@needs_captures
def test_a_lasting_drift_is_written_once_per_interval_with_its_count() -> None:
    """btcusdt_20240808 spans hours: a new field from the start is one event per minute."""
    records = edit_frames(BTC, _new_field)
    pipeline, sink = run(BTC, records)
    key = ("new_field", "depthUpdate", "data.X")
    events = drift_events(sink)
    assert set(pipeline.drift.counts) == {key}
    ts = [e["ts_recv"] for e in events]
    assert all(b - a >= 60 * 10**9 for a, b in itertools.pairwise(ts[:-1]))  # then finish()
    counted = [int(e["detail"].split(": ")[1].split()[0]) for e in events[1:]]
    assert 1 + sum(counted) == pipeline.drift.counts[key]  # the events add up to the metric
    span_s = (records[-1].ts - records[0].ts) / 1e9
    assert len(events) <= span_s / 60 + 2


@needs_captures
def test_sampling_finds_a_lasting_drift_soon_and_checks_few() -> None:
    start = FIRST + 1000  # the drift starts long after the full-check phase
    records = list(open_recording(BTC)[1])
    depth = [i for i, r in enumerate(records) if r.kind == "recv" and "@depth" in r.data]
    assert len(depth) > start
    for i in depth[start:]:
        frame = _new_field(msgspec.json.decode(records[i].data))
        records[i] = msgspec.structs.replace(records[i], data=msgspec.json.encode(frame).decode())
    pipeline, sink = run(BTC, records)
    assert pipeline.drift.checked < pipeline.frames / 10
    first = drift_events(sink)[0]["ts_recv"]
    late = [records[i].ts for i in depth[start:]].index(first)
    # one depth frame in EVERY is checked on average (depth is 7% of this file's frames):
    # missing it for 8 x EVERY frames in a row has odds (1 - 1/32)^256, about 3e-4
    assert late < 8 * EVERY, late


@needs_captures
def test_the_monitor_is_deterministic() -> None:
    records = edit_frames(FUTURES, _new_field)
    a = drift_events(run(FUTURES, records)[1])
    b = drift_events(run(FUTURES, records)[1])
    assert a == b and a


def test_a_pipeline_gets_its_venues_monitor_by_default() -> None:
    for slug in adapters.REGISTRY:
        assert Pipeline(adapters.create(slug), MemorySink()).drift is not None, slug
    assert Pipeline(adapters.create("okx"), MemorySink(), drift=None).drift is None
    assert monitor_for("no-such-venue") is None  # a venue without a contract: no monitor
