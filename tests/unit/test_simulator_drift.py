"""The simulator's ``drift`` knob: each mode, seen by a real client over loopback.

Every test runs an in-process ``Simulator`` (books stepping every 10 ms) inside
``asyncio.run`` with a timeout. The last group records what a client received
under each mode and runs the offline contract check on it, so the simulator's
drift and the checker's classification are tested against each other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from support import CAPTURES, load_records, needs_captures

import adapters
from collector.book.sequence import FirstLastRule, PreviousIdRule
from collector.capture.records import Record
from collector.capture.writer import CaptureWriter
from collector.contract.check import check_recording
from collector.contract.model import (
    MISSING_FIELD,
    NEW_FIELD,
    RULE_VIOLATION,
    TYPE_CHANGE,
    UNKNOWN_MESSAGE_TYPE,
)
from collector.model import BookDelta, BookSnapshot, DecodeFailed
from collector.simulator import Simulator, SimulatorConfig
from collector.simulator.cli import build_parser, config_from_args
from collector.simulator.cli import main as simulate_main
from collector.simulator.faults import (
    DRIFT_MODES,
    SNAPSHOT_SKIP,
    UNKNOWN_EVERY,
    Faults,
    parse_faults,
)
from collector.simulator.playback import zero_checksums

T = TypeVar("T")

SPOT = "binance-spot"
USDM = "binance-usdm"
STREAMS = ["btcusdt@depth@100ms", "btcusdt@trade"]
OKX = CAPTURES / "okx" / "OKX.jsonl.gz"
KRAKEN = CAPTURES / "kraken" / "KRAKEN.ws.50.jsonl.gz"
DECODE_VIOLATION = (RULE_VIOLATION, "decode", "adapter_decodes")


def run(coro: Awaitable[T], timeout: float = 10.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def config(**kw: Any) -> SimulatorConfig:
    kw.setdefault("interval_ms", 10)
    kw.setdefault("seed", 7)
    kw.setdefault("exchanges", (SPOT, USDM))
    kw.setdefault("trade_probability", 1.0)
    return SimulatorConfig(**kw)


async def receive(ws: Any, count: int, timeout: float = 5.0) -> list[str]:
    frames = []
    for _ in range(count):
        msg = await ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frames.append(msg.data)
    return frames


def datas(frames: list[str], stream_kind: str) -> list[dict[str, Any]]:
    """Payloads of the frames on streams of one kind ("depth", "trade")."""
    out = []
    for f in frames:
        doc = json.loads(f)
        if doc.get("stream", "").partition("@")[2].partition("@")[0] == stream_kind:
            out.append(doc["data"])
    return out


async def session_frames(
    sim: Simulator, count: int, slug: str = SPOT, path: str = "stream", streams: list[str] = STREAMS
) -> list[str]:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_url(slug, streams, path)) as ws:
        return await receive(ws, count)


# -- the knob ----------------------------------------------------------------------------


def test_unknown_mode_is_refused_listing_the_modes() -> None:
    with pytest.raises(ValueError) as err:
        parse_faults({"drift": "renamed"})
    assert all(mode in str(err.value) for mode in DRIFT_MODES)
    with pytest.raises(ValueError, match="unknown drift mode"):
        parse_faults({"drift": 3})
    assert parse_faults({"drift": "new_field"})[0].drift == "new_field"
    assert parse_faults({"drift": None})[0].drift is None
    args = build_parser().parse_args(["--faults", '{"drift": "moved_endpoint"}'])
    assert config_from_args(args).faults.drift == "moved_endpoint"
    with pytest.raises(ValueError, match="unknown drift mode"):
        config_from_args(build_parser().parse_args(["--faults", '{"drift": "x"}']))

    async def body() -> None:
        async with Simulator(config()) as sim, aiohttp.ClientSession() as s:
            async with s.post(f"{sim.url}/_faults", json={"drift": "nope"}) as resp:
                assert resp.status == 400
                assert "renamed_field" in (await resp.json())["error"]
            async with s.post(f"{sim.url}/_faults", json={"drift": "new_field"}) as resp:
                assert resp.status == 200 and (await resp.json())["faults"]["drift"] == "new_field"
            assert sim.faults.drift == "new_field"

    run(body())


def test_checksum_zero_is_refused_for_the_binance_family(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ValueError, match="Binance family sends no book checksum"):
        Simulator(config(faults=Faults(drift="checksum_zero")))
    assert simulate_main(["--port", "0", "--faults", '{"drift": "checksum_zero"}']) == 2
    assert "no book checksum" in capsys.readouterr().err

    async def body() -> None:
        async with Simulator(config()) as sim, aiohttp.ClientSession() as s:
            with pytest.raises(ValueError, match="no book checksum"):
                sim.set_faults(drift="checksum_zero")
            async with s.post(f"{sim.url}/_faults", json={"drift": "checksum_zero"}) as resp:
                assert resp.status == 400 and "checksum" in (await resp.json())["error"]
            assert sim.faults.drift is None  # a refused change changes nothing

    run(body())


# -- shape modes on the generated source ------------------------------------------------


def test_clean_simulator_serves_the_documented_shapes() -> None:
    async def body() -> None:
        async with Simulator(config()) as sim:
            frames = await session_frames(sim, 60)
            assert sim.stats_json()["drift"] == {"mode": None, "fired": {}}
        depth, trades = datas(frames, "depth"), datas(frames, "trade")
        assert depth and trades
        assert all(d["e"] == "depthUpdate" and {"b", "a"} <= d.keys() for d in depth)
        assert all("bids" not in d and "X" not in d and isinstance(d["E"], int) for d in depth)
        assert all(isinstance(t["p"], str) for t in trades)

    run(body())


def after_first(payloads: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """From the first payload with ``key`` on (frames queued before a change are older)."""
    first = next(i for i, d in enumerate(payloads) if key in d)
    return payloads[first:]


def test_renamed_field_applies_to_an_open_connection_until_cleared() -> None:
    async def body() -> None:
        async with Simulator(config()) as sim, aiohttp.ClientSession() as s:
            async with s.ws_connect(sim.ws_url(SPOT, STREAMS)) as ws:
                await receive(ws, 5)
                sim.set_faults(drift="renamed_field")
                drifted = after_first(datas(await receive(ws, 60), "depth"), "bids")
                sim.set_faults(drift=None)
                clean = after_first(datas(await receive(ws, 60), "depth"), "b")
            stats = sim.stats_json()
        assert drifted and all({"bids", "asks"} <= d.keys() for d in drifted)
        assert all("b" not in d and "a" not in d for d in drifted)
        assert clean and all({"b", "a"} <= d.keys() and "bids" not in d for d in clean)
        assert stats["drift"]["mode"] is None
        assert stats["drift"]["fired"]["renamed_field"] >= len(drifted)
        assert stats["faults_fired"]["drift_renamed_field"] >= len(drifted)

    run(body())


def test_number_as_string_and_new_field() -> None:
    async def body() -> dict[str, list[str]]:
        got = {}
        async with Simulator(config()) as sim:
            for mode in ("number_as_string", "new_field"):
                sim.set_faults(drift=mode)
                got[mode] = await session_frames(sim, 60)
        return got

    got = run(body())
    depth = datas(got["number_as_string"], "depth")
    trades = datas(got["number_as_string"], "trade")
    assert depth and all(isinstance(d["E"], str) and d["E"].isdigit() for d in depth)
    assert trades and all(isinstance(t["p"], float) for t in trades)
    # The price keeps its wire digits: it is the same text, unquoted.
    raw = [f for f in got["number_as_string"] if "@trade" in f]
    assert all(re.search(r'"p":\d+\.\d+,', f) for f in raw)
    new = datas(got["new_field"], "depth")
    assert new and all(d["X"] == "new" and {"b", "a"} <= d.keys() for d in new)


def test_unknown_message_every_n_depth_events() -> None:
    async def body() -> list[str]:
        async with Simulator(config(faults=Faults(drift="unknown_message"))) as sim:
            return await session_frames(sim, 200, streams=["btcusdt@depth"])

    frames = run(body())
    events = [d["e"] for d in datas(frames, "depth")]
    unknown = [i for i, e in enumerate(events) if e == "depthUpdateV2"]
    assert len(unknown) >= 200 // (UNKNOWN_EVERY + 1) - 1
    # Exactly UNKNOWN_EVERY real depth events between two unknown ones.
    assert all(b - a == UNKNOWN_EVERY + 1 for a, b in itertools.pairwise(unknown))
    # Our adapter cannot read it as a depth update (it says malformed, not unknown).
    odd = next(f for f in frames if "depthUpdateV2" in f)
    (msg,) = adapters.create(SPOT).decode(odd, 0)
    assert isinstance(msg, DecodeFailed)


# -- silence and the moved endpoint -------------------------------------------------------


def test_silent_after_handshake_answers_requests_and_rest_but_sends_no_data() -> None:
    async def body() -> None:
        async with Simulator(config(faults=Faults(drift="silent_after_handshake"))) as sim:
            async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_url(SPOT, [])) as ws:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": STREAMS, "id": 1}))
                assert json.loads((await ws.receive(timeout=2)).data) == {"result": None, "id": 1}
                with pytest.raises(asyncio.TimeoutError):
                    await ws.receive(timeout=2.0)
                async with s.get(sim.rest_url(SPOT, "BTCUSDT")) as resp:
                    assert resp.status == 200 and "lastUpdateId" in await resp.json()
                sim.set_faults(drift=None)  # the same connection resumes
                assert json.loads((await ws.receive(timeout=2)).data)["stream"] in STREAMS
            assert sim.stats_json()["drift"]["fired"]["silent_after_handshake"] > 0

    run(body())


@pytest.mark.parametrize(
    ("slug", "documented", "moved"),
    [
        (SPOT, "stream", "ws2/stream"),
        (USDM, "public/stream", "ws2/public/stream"),
        (USDM, "public/stream", "ws2/stream"),
    ],
)
def test_moved_endpoint(slug: str, documented: str, moved: str) -> None:
    streams = ["btcusdt@depth@100ms"]

    async def body() -> None:
        async with Simulator(config()) as sim, aiohttp.ClientSession() as s:
            # Before the move the new path does not exist.
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(sim.ws_url(slug, streams, moved))
            assert err.value.status == 404
            sim.set_faults(drift="moved_endpoint")
            async with (
                s.ws_connect(sim.ws_url(slug, streams, documented)) as old,
                s.ws_connect(sim.ws_url(slug, streams, moved)) as new,
            ):
                frames = await receive(new, 20)
                assert all("depthUpdate" in f for f in frames)
                with pytest.raises(asyncio.TimeoutError):
                    await old.receive(timeout=1.0)  # handshake done, nothing since
                sim.set_faults(drift=None)  # moved back: the documented path resumes
                assert "depthUpdate" in (await old.receive(timeout=2)).data
            assert sim.stats_json()["drift"]["fired"]["moved_endpoint"] > 0

    run(body())


COINM = "binance-coinm"
PATHS = ("public/stream", "market/stream", "stream")


async def delivers(sim: Simulator, slug: str, streams: list[str], path: str) -> bool:
    """Whether a connection to ``path`` naming ``streams`` gets a frame within 0.5 s."""
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_url(slug, streams, path)) as ws:
        try:
            await ws.receive(timeout=0.5)
        except TimeoutError:
            return False
        return True


@pytest.mark.parametrize(
    ("faults", "usdm", "coinm"),
    [
        # Without the mode: raw trades on both routed paths (and COIN-M's unrouted one).
        (Faults(), {"public/stream", "market/stream"}, set(PATHS)),
        # The split: USD-M's only on /public, COIN-M's only on /market.
        (Faults(drift="route_split"), {"public/stream"}, {"market/stream"}),
        (Faults(drift="route_split", trade_route="market"), {"market/stream"}, {"market/stream"}),
        (Faults(drift="route_split", trade_route="stream"), set(), {"stream"}),
    ],
)
def test_route_split_serves_trades_on_one_path(
    faults: Faults, usdm: set[str], coinm: set[str]
) -> None:
    async def body() -> None:
        async with Simulator(config(exchanges=(USDM, COINM), faults=faults)) as sim:
            for slug, symbol, serving in ((USDM, "btcusdt", usdm), (COINM, "btcusd_perp", coinm)):
                trades = [await delivers(sim, slug, [f"{symbol}@trade"], p) for p in PATHS]
                assert {p for p, got in zip(PATHS, trades, strict=True) if got} == serving, slug
                # Books stay where they were: /public (and COIN-M's unrouted path).
                assert await delivers(sim, slug, [f"{symbol}@depth@100ms"], "public/stream")
            if faults.drift:
                assert sim.stats_json()["drift"]["fired"]["route_split"] > 0

    run(body(), timeout=30)


def test_trade_route_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown trade_route 'private'"):
        parse_faults({"trade_route": "private"})


# -- the bridge rule --------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "rule"), [(SPOT, FirstLastRule()), (USDM, PreviousIdRule())])
def test_first_delta_rule_no_delta_bridges_the_snapshot(slug: str, rule: Any) -> None:
    path = "public/stream" if slug == USDM else "stream"
    adapter = adapters.create(slug)

    async def body() -> tuple[BookSnapshot, list[BookDelta], int]:
        drifted = Simulator(config(faults=Faults(drift="first_delta_rule")))
        async with drifted as sim, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(sim.ws_url(slug, ["btcusdt@depth@100ms"], path))
            first = await receive(ws, 5)
            url = sim.rest_url(slug, "BTCUSDT")
            async with s.get(url) as resp:
                (snap,) = adapter.decode_rest(url, await resp.text(), 0)
            later = await receive(ws, 50)
            await ws.close()
            true_id = sim.truth(slug, "BTCUSDT")["lastUpdateId"]
        deltas = [m for f in first + later for m in adapter.decode(f, 0)]
        return snap, deltas, true_id

    snap, deltas, true_id = run(body())
    assert isinstance(snap, BookSnapshot) and snap.last_id > true_id + SNAPSHOT_SKIP // 2
    assert deltas and all(isinstance(d, BookDelta) for d in deltas)
    assert not any(rule.bridges(d, snap.last_id) for d in deltas)
    assert all(rule.stale(d, snap.last_id) for d in deltas)  # a client waits forever
    # Without the mode the same client bridges (the books themselves are sound).
    clean = run(_bridges_when_clean(slug, rule))
    assert clean


async def _bridges_when_clean(slug: str, rule: Any) -> bool:
    path = "public/stream" if slug == USDM else "stream"
    adapter = adapters.create(slug)
    async with (
        Simulator(config()) as sim,
        aiohttp.ClientSession() as s,
        s.ws_connect(sim.ws_url(slug, ["btcusdt@depth@100ms"], path)) as ws,
    ):
        await receive(ws, 2)
        url = sim.rest_url(slug, "BTCUSDT")
        async with s.get(url) as resp:
            (snap,) = adapter.decode_rest(url, await resp.text(), 0)
        deltas = [m for f in await receive(ws, 40) for m in adapter.decode(f, 0)]
    return any(rule.bridges(d, snap.last_id) for d in deltas)


# -- checksum_zero on played-back venues --------------------------------------------------


def _recorded_frames(path: Path) -> list[str]:
    _, records = load_records(path)
    first = next(r.conn for r in records if r.kind == "open")
    return [r.data for r in records if r.kind == "recv" and r.conn == first]


async def _played(path: Path, slug: str, ws_path: str, drift: str | None) -> tuple[list[str], Any]:
    cfg = SimulatorConfig(recordings=(path,), speed=0, faults=Faults(drift=drift))
    count = len(_recorded_frames(path))
    async with Simulator(cfg) as sim, aiohttp.ClientSession() as s:
        async with s.ws_connect(f"ws://127.0.0.1:{sim.port}/{slug}{ws_path}") as ws:
            frames = await receive(ws, count)
        return frames, sim.stats_json()


@needs_captures
def test_checksum_zero_on_okx_books_and_nothing_else() -> None:
    recorded = _recorded_frames(OKX)
    frames, stats = run(_played(OKX, "okx", "/ws/v5/public", "checksum_zero"))
    books = [i for i, f in enumerate(recorded) if '"channel":"books"' in f and "checksum" in f]
    assert books and len(frames) == len(recorded)
    for i, (got, want) in enumerate(zip(frames, recorded, strict=True)):
        if i not in books:
            assert got == want  # byte-identical
            continue
        doc = json.loads(got)
        assert all(d["checksum"] == 0 for d in doc["data"])
        assert re.sub(r'"checksum":-?\d+', '"checksum":0', want) == got
    assert stats["drift"]["fired"]["checksum_zero"] == len(books)
    clean, _ = run(_played(OKX, "okx", "/ws/v5/public", None))
    assert clean == recorded


@needs_captures
def test_checksum_zero_on_kraken_v1() -> None:
    recorded = _recorded_frames(KRAKEN)
    frames, _ = run(_played(KRAKEN, "kraken", "", "checksum_zero"))
    changed = [(g, w) for g, w in zip(frames, recorded, strict=True) if g != w]
    assert changed and all('"c":"0"' in g and '"c":"0"' not in w for g, w in changed)
    assert all(re.sub(r'"c":"\d+"', '"c":"0"', w) == g for g, w in changed)
    assert zero_checksums("kraken", '{"checksum":123,"x":1}') == ('{"checksum":0,"x":1}', 1)


@needs_captures
def test_checksum_zero_is_accepted_beside_generated_binance() -> None:
    async def body() -> None:
        async with Simulator(config(recordings=(OKX,), speed=0)) as sim:
            sim.set_faults(drift="checksum_zero")  # applies to OKX; Binance frames unchanged
            frames = await session_frames(sim, 20)
            assert all('"checksum"' not in f for f in frames)

    run(body())


# -- what the offline contract check makes of a drifted simulator --------------------------


async def _record(sim: Simulator, slug: str, streams: list[str], count: int, out: Path) -> Path:
    """Receive ``count`` frames and a REST snapshot as a client would; write a project capture."""
    path = "public/stream" if slug == USDM else "stream"
    url = sim.ws_url(slug, streams, path)
    rest = sim.rest_url(slug, "BTCUSDT")
    records = [Record("open", time.time_ns(), 1, "", url)]
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        for frame in await receive(ws, 3):
            records.append(Record("recv", time.time_ns(), 1, frame))
        async with s.get(rest) as resp:
            records.append(Record("http", time.time_ns(), 0, await resp.text(), rest, resp.status))
        for _ in range(count):
            frame = (await ws.receive(timeout=5)).data
            records.append(Record("recv", time.time_ns(), 1, frame))
    with CaptureWriter(out, slug) as writer:
        for r in records:
            writer.write(r)
    (capture,) = writer.completed_paths
    return capture


def _check(tmp_path: Path, drift: str | None, slug: str = SPOT) -> Any:
    streams = ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker"]

    async def body() -> Path:
        async with Simulator(config(faults=Faults(drift=drift))) as sim:
            return await _record(sim, slug, streams, 150, tmp_path / (drift or "clean"))

    return check_recording(run(body()))


def test_contract_check_passes_the_clean_simulator(tmp_path: Path) -> None:
    report = _check(tmp_path, None)
    assert report.passed, report.entries
    assert report.rules_checked["books_rebuilt"] == 1
    assert {"depthUpdate", "trade", "bookTicker", "rest:depth"} <= report.message_types.keys()


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        (
            "renamed_field",
            {
                (MISSING_FIELD, "depthUpdate", "data.b"),
                (MISSING_FIELD, "depthUpdate", "data.a"),
                (NEW_FIELD, "depthUpdate", "data.bids"),
                (NEW_FIELD, "depthUpdate", "data.asks"),
            },
        ),
        (
            "number_as_string",
            {(TYPE_CHANGE, "depthUpdate", "data.E"), (TYPE_CHANGE, "trade", "data.p")},
        ),
        ("new_field", {(NEW_FIELD, "depthUpdate", "data.X")}),
        ("unknown_message", {(UNKNOWN_MESSAGE_TYPE, "depthUpdateV2", "")}),
    ],
)
def test_contract_check_classifies_each_shape_mode(
    tmp_path: Path, drift: str, expected: set[tuple[str, str, str]]
) -> None:
    report = _check(tmp_path, drift)
    assert not report.passed
    shape = {k for k in report.drift_keys() if k[0] != RULE_VIOLATION}
    assert shape == expected, report.drift_keys()
    # The replay also says whether our adapter could still decode the frames: a new
    # field it ignores, anything else it reports as malformed.
    rules = report.drift_keys() - shape
    assert rules == (set() if drift == "new_field" else {DECODE_VIOLATION}), rules


def test_contract_check_on_first_delta_rule_never_syncs(tmp_path: Path) -> None:
    report = _check(tmp_path, "first_delta_rule")
    # No shape drifts, and the book is never rebuilt: every delta is older than the
    # snapshot, so the engine waits (unsynced_at_end); the contract check has no rule
    # that turns "never synced" into a drift, so the report itself still passes.
    assert {k for k in report.drift_keys() if k[0] != RULE_VIOLATION} == set()
    assert report.rules_checked["books_rebuilt"] == 0


def _playback_capture(tmp_path: Path, slug: str, drift: str | None) -> Path:
    """What a client of a played-back recording received, as a project capture."""
    recording, ws_path, url = {
        "okx": (OKX, "/ws/v5/public", "wss://ws.okx.com:8443/ws/v5/public"),
        "kraken": (KRAKEN, "", "wss://ws.kraken.com"),
    }[slug]

    async def body() -> list[str]:
        frames, _ = await _played(recording, slug, ws_path, drift)
        return frames

    frames = run(body())
    with CaptureWriter(tmp_path / (drift or "clean"), slug) as writer:
        writer.write(Record("open", time.time_ns(), 1, "", url))
        for frame in frames:
            writer.write(Record("recv", time.time_ns(), 1, frame))
    (capture,) = writer.completed_paths
    return capture


@needs_captures
def test_contract_check_on_okx_checksum_zero(tmp_path: Path) -> None:
    clean = check_recording(_playback_capture(tmp_path, "okx", None))
    zeroed = check_recording(_playback_capture(tmp_path, "okx", "checksum_zero"))
    # The OKX contract documents the checksum as deprecated, "0 means not sent" (the live
    # venue sends 0 since 2026): a zeroed checksum is no drift, the shapes are unchanged,
    # and the books are still rebuilt; only the checksum verification silently stops.
    assert zeroed.drift_keys() == clean.drift_keys()
    assert zeroed.rules_checked["books_rebuilt"] == clean.rules_checked["books_rebuilt"] > 0
    assert clean.rules_checked["checksums_verified"] > 0
    assert zeroed.rules_checked["checksums_verified"] == 0


@needs_captures
def test_contract_check_on_kraken_checksum_zero(tmp_path: Path) -> None:
    clean = check_recording(_playback_capture(tmp_path, "kraken", None))
    zeroed = check_recording(_playback_capture(tmp_path, "kraken", "checksum_zero"))
    # Kraken's checksum is live: 0 disagrees with every book, a checksum rule violation.
    # (The 2021 recording is v1, which the v2 contract reports as unknown in both.)
    checksum = (RULE_VIOLATION, "book", "checksum")
    assert zeroed.drift_keys() - clean.drift_keys() == {checksum}
    assert clean.rules_checked["checksums_verified"] > 0
    assert zeroed.rules_checked["checksums_verified"] == 0
