"""Check one recording against its adapter's contract: shapes per frame, rules by replay."""

from __future__ import annotations

from pathlib import Path

from adapters.contracts import NoContract, contract_for
from collector.capture.records import CaptureFormatError
from collector.contract.report import DriftReport, ReportBuilder
from collector.contract.rules import RuleSink, rule_counts
from collector.contract.validate import Validator
from collector.frames import FrameError
from collector.pipeline import Pipeline
from collector.replay import ReplayError, load_instruments, open_with_adapter


class CheckError(RuntimeError):
    """The recording cannot be checked at all (unreadable, no adapter, no contract)."""


def check_recording(path: Path, exchange: str | None = None) -> DriftReport:
    """Validate every recv frame and REST body of ``path`` and replay it for the rules.

    ``exchange`` overrides the slug named in the file's header. Instrument
    sidecars are loaded into the replaying adapter (as replay does) but are
    checked as recordings of their own, not as part of this one.
    """
    try:
        info, records, slug, adapter = open_with_adapter(path, exchange)
    except ReplayError as exc:
        raise CheckError(str(exc)) from None
    try:
        contract = contract_for(slug)
    except NoContract as exc:
        raise CheckError(str(exc)) from None
    validator = Validator(contract)
    builder = ReportBuilder(str(path), slug, contract.venue)
    builder.report.recorded_exchange = info.exchange
    sink = RuleSink()
    if not path.name.endswith(".instruments.jsonl.gz"):
        load_instruments(adapter, path)
    pipeline = Pipeline(adapter, sink, drift=None)  # every frame is validated above
    report = builder.report
    try:
        for record in records:
            if record.kind == "recv":
                report.frames += 1
                try:  # the venue's text, as the adapter reads it (collector.frames)
                    text = pipeline.inflate(record.data)
                except FrameError:
                    text = record.data  # reported by the validator as an unreadable frame
                name, drifts = validator.frame(text, record.ts, record.conn)
            elif record.kind == "http":
                report.rest_bodies += 1
                text = record.data
                name, drifts = validator.rest(record.url, text, record.ts)
            else:
                pipeline.on_record(record)
                continue
            builder.seen(name)
            if drifts:
                builder.add(drifts, text)
            pipeline.on_record(record)
        pipeline.finish()
    except CaptureFormatError as exc:
        raise CheckError(str(exc)) from None
    for drift, sample in sink.drifts:
        builder.add([drift], sample)
    report.rules_checked = rule_counts(pipeline.summary())
    return builder.build()
