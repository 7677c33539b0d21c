"""The quality report states exactly the problems a dataset was built with.

A real Binance USD-M recording is damaged in known ways, one symbol per fault,
replayed through the normal path, and the report must name each fault with its
number and its place: a 60 s outage for everyone, a dropped depth frame
(SUSHIUSDT: one gap, out of sync until a snapshot), a crossed book (AKROUSDT:
out of sync to the end), 2 s of extra latency (CTKUSDT) and a trade received
twice (KEEPUSDT). The clean recording must come out with no holes and an A or
B. The pure rules (holes, grades) are also tested on hand-made events.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import CAPTURES, snapshot_http

from collector.capture.records import Record
from collector.model import BestBidAsk, QualityEvent
from collector.quality import build_report, grade, holes
from collector.quality.cli import main
from collector.quality.facts import bucket_seconds
from collector.quality.holes import Event
from collector.quality.model import Hole, Report, SymbolReport, to_json_dict
from collector.replay import replay
from collector.sinks.parquet import ParquetSink
from collector.tables import TableBuffers

RECORDING = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
needs_recording = pytest.mark.skipif(
    not RECORDING.exists(),
    reason=f"recording {RECORDING} not found (set COLLECTOR_CAPTURES to the shared captures)",
)
S = 1_000_000_000
OUTAGE_S = 60
CUT_AFTER_S = 15  # the outage starts this long after the first record


def read_corpus(path: Path) -> tuple[dict, list[dict]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh]
    return lines[0], lines[1:]


def write_corpus(path: Path, header: dict, lines: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for line in [header, *lines]:
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
    sidecar = RECORDING.with_name("BINANCE_FUTURES.instruments.jsonl.gz")
    if sidecar.exists():  # market names from the exchange's own list
        shutil.copy(
            sidecar, path.with_name(path.name.replace(".jsonl.gz", ".instruments.jsonl.gz"))
        )


def frames(lines: list[dict], symbol: str, event: str) -> list[int]:
    """Indexes of the recv lines of one symbol and event type (depthUpdate, aggTrade...)."""
    return [
        i
        for i, r in enumerate(lines)
        if r["kind"] == "recv" and f'"s":"{symbol}"' in r["data"] and f'"e":"{event}"' in r["data"]
    ]


def shift_exchange_times(data: str, ms: int) -> str:
    """Move every E/T (exchange event and transaction time, ms) of a frame by ``ms``."""
    return re.sub(r'"([ET])":(\d+)', lambda m: f'"{m[1]}":{int(m[2]) + ms}', data)


def as_record(line: dict) -> Record:
    return Record(
        line["kind"], line["ts"], line.get("conn", 0), line.get("data", ""), line.get("url", "")
    )


def snapshot_line(lines: list[dict], upto: int, symbol: str) -> dict:
    """A REST snapshot of the clean book right after line ``upto``, received 1 ns later."""
    prefix = [as_record(r) for r in lines[: upto + 1]]
    record = snapshot_http("binance-usdm", prefix, symbol, lines[upto]["ts"] + 1)
    return {"kind": "http", "ts": record.ts, "url": record.url, "data": record.data}


@dataclass
class Faulty:
    """The damaged dataset and where each fault was put (times after the outage shift)."""

    report: Report
    cut_ns: int
    gap_ns: int  # the SUSHIUSDT frame after the dropped one: the gap is seen there
    resynced_ns: int  # the recovery snapshot's receive time
    crossed_ns: int  # the AKROUSDT frame with a bid above the best ask
    end_ns: int  # the last record
    duplicate_trade_id: str

    def symbol(self, name: str) -> SymbolReport:
        (ex,) = self.report.exchanges
        return next(s for s in ex.symbols if s.symbol == name)


def build_faulty(tmp: Path) -> Faulty:
    header, lines = read_corpus(RECORDING)
    t0 = lines[0]["ts"]
    cut = t0 + CUT_AFTER_S * S
    # Latency: CTKUSDT's exchange times 2 s earlier, so each message arrives 2 s later.
    for i in (
        frames(lines, "CTKUSDT", "depthUpdate")
        + frames(lines, "CTKUSDT", "aggTrade")
        + (frames(lines, "CTKUSDT", "bookTicker"))
    ):
        lines[i]["data"] = shift_exchange_times(lines[i]["data"], -2000)
    # Crossed book: a bid far above the best ask in one AKROUSDT update, well after the sync.
    crossed = frames(lines, "AKROUSDT", "depthUpdate")[60]
    frame = json.loads(lines[crossed]["data"])
    frame["data"]["b"].insert(0, ["1000.00000", "1"])
    lines[crossed]["data"] = json.dumps(frame, separators=(",", ":"))
    crossed_ts = lines[crossed]["ts"]
    # Duplicate trade: one KEEPUSDT aggTrade received twice, 1 us apart.
    trade = frames(lines, "KEEPUSDT", "aggTrade")[2]
    trade_id = str(json.loads(lines[trade]["data"])["data"]["a"])
    copy = dict(lines[trade], ts=lines[trade]["ts"] + 1000)
    # Gap: drop SUSHIUSDT depth frame 40; a snapshot after frame 45 brings the book back.
    depth = frames(lines, "SUSHIUSDT", "depthUpdate")
    snapshot = snapshot_line(lines, depth[45], "SUSHIUSDT")
    gap_ts, resynced_ts = lines[depth[41]]["ts"], snapshot["ts"]
    # Edits from the last index back, so every index still points where it was taken.
    edits = [(depth[45] + 1, snapshot), (trade + 1, copy), (depth[40], None)]
    for index, line in sorted(edits, key=lambda e: e[0], reverse=True):
        if line is None:
            del lines[index]
        else:
            lines.insert(index, line)
    assert max(crossed_ts, gap_ts, resynced_ts) < cut, "faults must precede the outage"
    # Outage: every record from the cut on arrives 60 s later, exchange times included.
    for line in lines:
        if line["ts"] >= cut:
            line["ts"] += OUTAGE_S * S
            if "data" in line:
                line["data"] = shift_exchange_times(line["data"], OUTAGE_S * 1000)
    path = tmp / "faulty.jsonl.gz"
    write_corpus(path, header, lines)
    replay([path], tmp / "data")
    report, _ = build_report(tmp / "data")
    return Faulty(report, cut, gap_ts, resynced_ts, crossed_ts, lines[-1]["ts"], trade_id)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Faulty:
    return build_faulty(tmp_path_factory.mktemp("faulty"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    out = tmp_path_factory.mktemp("clean") / "data"
    replay([RECORDING], out)
    return build_report(out)[0], out


def only(holes_: list[Hole], cause: str) -> list[Hole]:
    return [h for h in holes_ if h.cause == cause]


# -- the damaged recording ----------------------------------------------------------


@needs_recording
def test_outage_is_one_no_data_hole_per_symbol(faulty: Faulty) -> None:
    (ex,) = faulty.report.exchanges
    assert [s.symbol for s in ex.symbols] == ["AKROUSDT", "CTKUSDT", "KEEPUSDT", "SUSHIUSDT"]
    for sym in ex.symbols:
        (hole,) = only(sym.holes, "no_data")
        assert hole.start_ns < faulty.cut_ns, sym.symbol
        assert hole.end_ns >= faulty.cut_ns + OUTAGE_S * S, sym.symbol
        assert OUTAGE_S <= hole.duration_s < OUTAGE_S + 5, sym.symbol  # 5 s: the threshold
    assert ex.downtime == []  # the recording has no disconnect


@needs_recording
def test_dropped_frame_is_one_gap_and_a_bounded_out_of_sync_hole(faulty: Faulty) -> None:
    sushi = faulty.symbol("SUSHIUSDT")
    assert (sushi.counts["gap"], sushi.counts["resync"]) == (1, 1)
    assert sushi.counts["unsynced_at_end"] == 0
    (hole,) = only(sushi.holes, "out_of_sync")
    assert hole.trigger == "gap"
    assert (hole.start_ns, hole.end_ns) == (faulty.gap_ns, faulty.resynced_ns)
    assert "1 gap" in " ".join(sushi.reasons)
    for other in ("AKROUSDT", "CTKUSDT", "KEEPUSDT"):
        assert faulty.symbol(other).counts["gap"] == 0


@needs_recording
def test_crossed_book_is_out_of_sync_to_the_end(faulty: Faulty) -> None:
    akro = faulty.symbol("AKROUSDT")
    assert akro.counts["crossed_book"] == 1
    assert akro.counts["unsynced_at_end"] == 1
    (hole,) = only(akro.holes, "out_of_sync")
    assert hole.trigger == "crossed_book"
    assert (hole.start_ns, hole.end_ns) == (faulty.crossed_ns, faulty.end_ns)
    # The outage lies inside this hole: the union counts it once.
    assert akro.holes_s == pytest.approx(hole.duration_s)
    span = akro.last_ns - akro.first_ns
    assert akro.coverage_pct == pytest.approx(100 * (1 - (hole.end_ns - hole.start_ns) / span))
    assert any("1 crossed book" in r for r in akro.reasons)
    assert sum(faulty.symbol(s).counts["crossed_book"] for s in ("CTKUSDT", "KEEPUSDT")) == 0


@needs_recording
def test_latency_is_shifted_by_exactly_two_seconds(faulty: Faulty, clean: tuple) -> None:
    report, _ = clean
    (clean_ex,) = report.exchanges
    base = next(s for s in clean_ex.symbols if s.symbol == "CTKUSDT")
    ctk = faulty.symbol("CTKUSDT")
    assert ctk.latency.p50_s == pytest.approx(base.latency.p50_s + 2, abs=1e-6)
    assert ctk.latency.p99_s == pytest.approx(base.latency.p99_s + 2, abs=1e-6)
    assert 2 < ctk.latency.p50_s < 2.5
    for table, lat in ctk.latency_by_table.items():
        assert lat.p50_s == pytest.approx(base.latency_by_table[table].p50_s + 2, abs=1e-6)
    assert any(r.startswith("p99 latency 2.") for r in ctk.reasons)
    for other in ("AKROUSDT", "KEEPUSDT", "SUSHIUSDT"):
        assert faulty.symbol(other).latency.p50_s < 0.5


@needs_recording
def test_duplicate_trade_is_counted_once(faulty: Faulty) -> None:
    keep = faulty.symbol("KEEPUSDT")
    assert keep.duplicate_trades == 1
    assert keep.duplicate_trade_ids == [faulty.duplicate_trade_id]
    assert any("1 duplicate trade " in r for r in keep.reasons)
    for other in ("AKROUSDT", "CTKUSDT", "SUSHIUSDT"):
        assert faulty.symbol(other).duplicate_trades == 0


@needs_recording
def test_faulty_grade_and_reasons(faulty: Faulty) -> None:
    # Coverage ~34% after a 60 s outage in a 91 s recording: an F, explained first.
    assert faulty.report.grade == "F"
    assert faulty.report.reasons[0].startswith("binance-usdm ")
    assert "coverage" in faulty.report.reasons[0]
    for sym in faulty.report.exchanges[0].symbols:
        assert sym.grade == "F" and sym.reasons[0].startswith("coverage ")
        assert sym.checksum_mismatches == 0 and sym.checksum_pass_rate is None


@needs_recording
def test_clean_recording_has_no_holes_and_a_good_grade(clean: tuple) -> None:
    report, _ = clean
    assert report.grade in ("A", "B")
    (ex,) = report.exchanges
    assert len(ex.symbols) == 4
    for sym in ex.symbols:
        assert sym.holes == [] and sym.coverage_pct == 100.0
        assert sym.counts["gap"] == sym.counts["crossed_book"] == sym.duplicate_trades == 0
        assert sym.latency.samples > 0 and sym.latency.negative == 0
        assert sym.spread is not None and sym.spread.crossed_quotes == 0
    sushi = next(s for s in ex.symbols if s.symbol == "SUSHIUSDT")
    assert sushi.rows["bbo"] == 305 and sushi.spread.quotes == 305  # the README's count
    assert sushi.spread.spread_min == pytest.approx(0.001)  # one tick, exact decimals
    assert ex.rates is not None and set(ex.rates.values) >= {"book", "trades", "bbo"}


@needs_recording
def test_cli_json_and_filters(clean: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    _, data = clean
    assert main([str(data), "--json", "--symbol", "CTKUSDT", "--hole-seconds", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hole_seconds"] == 2 and doc["filters"]["symbol"] == ["CTKUSDT"]
    (ex,) = doc["exchanges"]
    assert [s["symbol"] for s in ex["symbols"]] == ["CTKUSDT"]
    sym = ex["symbols"][0]
    assert sym["checksum_pass_rate"] is None and sym["counts"]["gap"] == 0
    assert sym["first"].endswith("Z") and sym["latency"]["p50_s"] > 0
    assert main([str(data), "--exchange", "binance-spot", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exchanges"] == []
    assert main([str(data / "missing")]) == 2
    assert main([str(data), "--fail-under", "A"]) in (0, 1)


@needs_recording
def test_cli_json_lists_every_hole_with_times(faulty: Faulty) -> None:
    doc = to_json_dict(faulty.report)
    holes_ = [h for s in doc["exchanges"][0]["symbols"] for h in s["holes"]]
    assert len(holes_) == 6  # 4 outage + 1 gap + 1 crossed
    for h in holes_:
        assert h["start"] < h["end"] and h["duration_s"] > 0 and h["cause"]
    json.dumps(doc)  # all builtins


# -- a hand-built dataset: connection downtime applies to every symbol ---------------


def test_downtime_from_connection_events(tmp_path: Path) -> None:
    t0 = 1_700_000_000 * S
    out = TableBuffers()
    for symbol in ("AAAUSDT", "BBBUSDT"):
        for sec in [*range(0, 40), *range(50, 100)]:
            ts = t0 + sec * S
            out.add_bbo(BestBidAsk(symbol, ts - 1000, ts, None, "1.0", "2", "1.5", "3"), "X-Y")
    for sec, kind, detail in (
        (0, "connect", "connection 1 open wss://x"),
        (40.5, "disconnect", "connection 1 closed: timeout"),
        (49.5, "connect", "connection 2 open wss://x"),
        (60, "connect", "connection 3 open wss://x"),  # switch-over: 3 opens, then 2 closes
        (61, "disconnect", "connection 2 closed"),
    ):
        out.add_quality(QualityEvent(None, t0 + int(sec * S), kind, detail))
    with ParquetSink(tmp_path) as sink:
        for table, data in out.drain().items():
            sink.write(table, "binance-spot", data)
    report, _ = build_report(tmp_path)
    (ex,) = report.exchanges
    assert [(h.start_ns - t0, h.end_ns - t0) for h in ex.downtime] == [
        (40_500_000_000, 49_500_000_000)
    ]
    assert ex.events == {"disconnect": 2}
    for sym in ex.symbols:
        assert [(h.cause, h.start_ns - t0, h.end_ns - t0) for h in sym.holes] == [
            ("no_data", 39 * S, 50 * S),
            ("disconnected", 40_500_000_000, 49_500_000_000),
        ]
        assert sym.holes_s == 11.0  # the downtime lies inside the silence
        assert sym.coverage_pct == pytest.approx(100 * (1 - 11 / 99))
        assert sym.latency.p50_s == pytest.approx(1e-6)
        assert sym.spread is not None and sym.spread.spread_median == 0.5
    assert ex.grade == "D" and any("2 disconnects" in r for r in ex.reasons)  # 88.9%


# -- pure rules -------------------------------------------------------------------


def test_out_of_sync_rules() -> None:
    ev = [
        Event(1, "gap", "before the first sync: start-up"),
        Event(2, "synced", "", 100),
        Event(5, "gap", "lost 7"),
        Event(5, "resync"),
        Event(6, "bbo_mismatch"),  # already out of sync: same hole
        Event(8, "synced", "", 200),
        Event(9, "crossed_book", "bid >= ask"),
        Event(9, "resync"),
        Event(12, "unsynced_at_end"),
    ]
    got = holes.out_of_sync_holes(ev, 0, 15, snapshot_ns={200: 8_5})
    assert [(h.start_ns, h.end_ns, h.trigger) for h in got] == [
        (5, 85, "gap"),
        (9, 12, "crossed_book"),
    ]
    never = holes.out_of_sync_holes([Event(3, "gap"), Event(10, "unsynced_at_end")], 1, 10)
    assert [(h.start_ns, h.end_ns, h.trigger) for h in never] == [(1, 10, "never_synced")]
    open_end = holes.out_of_sync_holes([Event(1, "synced"), Event(4, "malformed")], 0, 20)
    assert [(h.start_ns, h.end_ns) for h in open_end] == [(4, 20)]


def test_downtime_rules() -> None:
    ev = [
        Event(0, "connect", "connection 1 open"),
        Event(10, "disconnect", "server shutdown notice"),  # names no connection: all closed
        Event(12, "connect", "connection 2 open"),
        Event(13, "disconnect", "connection 1 closed"),  # already counted closed
        Event(20, "disconnect", "connection 2 closed"),
    ]
    got = holes.downtime_holes(ev, last_ns=30)
    assert [(h.start_ns, h.end_ns) for h in got] == [(10, 12), (20, 30)]
    assert holes.clip(got, 11, 25)[0].start_ns == 11 and holes.clip(got, 11, 25)[1].end_ns == 25


def test_silence_edges_and_union() -> None:
    got = holes.silence_holes([(20, 40)], 10, 50, 0, 70, threshold_ns=5)
    assert [(h.start_ns, h.end_ns) for h in got] == [(0, 10), (20, 40), (50, 70)]
    assert holes.union_ns([Hole(0, 10, "x"), Hole(5, 20, "y"), Hole(30, 31, "z")]) == 21
    assert holes.coverage_pct([Hole(0, 25, "x")], 0, 100) == 75.0
    assert holes.coverage_pct([], 5, 5) == 100.0


def test_grade_rubric() -> None:
    assert grade.coverage(99.95).grade == "A"
    assert grade.coverage(97.2) == grade.Finding("C", "coverage 97.2% (< 99%)")
    assert grade.coverage(50).grade == "F"
    assert grade.incidents({"gap": 3}) == grade.Finding("C", "3 gaps")
    assert grade.incidents({"gap": 1, "crossed_book": 1}).grade == "B"
    assert grade.latency(0.4).grade == "A"
    assert grade.latency(2.1) == grade.Finding("C", "p99 latency 2.10 s (>= 2 s)")
    assert grade.latency(None).grade == "A"
    assert grade.clock_skew(5, 1000).grade == "B" and grade.clock_skew(50, 1000).grade == "C"
    assert grade.duplicate_trades(1, 10_000).grade == "B"
    assert grade.operational({"rate_limited": 2}) == grade.Finding("B", "2 rate-limited requests")
    assert grade.worst(["B", "D", "A"]) == "D"


def test_bucket_width_is_round_and_bounded() -> None:
    assert bucket_seconds(30 * S) == 1
    assert bucket_seconds(3600 * S) == 15
    assert bucket_seconds(86_400 * S) == 600
    assert bucket_seconds(400 * 86_400 * S) * 240 >= 400 * 86_400
