"""``collector contract-check EXCHANGE`` without ``--capture``: a live session, checked.

Against the in-process simulator (``--url``), through the real command line: the
clean generated Binance feed passes, a silent handshake and a renamed field are
drift (exit 1), an unreachable URL is exit 3. The silent and renamed conditions
are made two ways: without the simulator's ``drift`` knob (the ``silent`` fault
after 0 frames; a recording with the field renamed, played back), and with it;
every other drift mode of the knob is checked too. Tests marked ``live`` run
against the real exchanges and skip without network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest
from support import CAPTURES, needs_captures

import adapters
from collector.adapter import market_channels
from collector.cli import main
from collector.contract.live import (
    DEFAULT_SYMBOLS,
    POLLED,
    channels_of,
    origins,
    rewrite_rules,
    session_channels,
    streamed_channels,
)
from collector.contract.report import DriftReport, render_text
from collector.simulator import Faults, Simulator, SimulatorConfig, wire

#: id(simulator) -> the event loop it runs on.
LOOPS: dict[int, asyncio.AbstractEventLoop] = {}


@contextmanager
def simulator(config: SimulatorConfig) -> Iterator[Simulator]:
    """A simulator on its own event loop in a thread, so ``main()`` can run its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> Simulator:
        sim = Simulator(config)
        await sim.start()
        return sim

    sim = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    LOOPS[id(sim)] = loop
    try:
        yield sim
    finally:
        del LOOPS[id(sim)]
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def set_faults(sim: Simulator, **knobs: object) -> None:
    """``sim.set_faults`` on the simulator's own loop (it touches its connections)."""

    async def apply() -> None:
        sim.set_faults(**knobs)

    asyncio.run_coroutine_threadsafe(apply(), LOOPS[id(sim)]).result(5)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, float]:
    """Run ``collector contract-check ... --json``: (exit code, report, seconds)."""
    started = time.monotonic()
    code = main(["contract-check", *args, "--json"])
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    return code, json.loads(out), elapsed


def keys(report: dict) -> set[tuple[str, str, str]]:
    return {(e["kind"], e["message_type"], e["field"]) for e in report["entries"]}


# -- pieces ------------------------------------------------------------------------------


#: Venues whose one subscription carries the book and the trades together (neither is a
#: stream of its own): Gemini's market data v2 ``l2``.
ONE_STREAM = {"gemini"}


def test_every_venue_has_default_symbols_with_streams() -> None:
    assert set(DEFAULT_SYMBOLS) == set(adapters.REGISTRY)
    for slug, symbols in DEFAULT_SYMBOLS.items():
        served = list(market_channels(adapters.create(slug)))  # all three but on Gemini and Phemex
        assert {"book", "trades"} <= set(served), slug
        for symbol in symbols:
            assert channels_of(slug, symbol) == served, (slug, symbol)
        streamed = set(streamed_channels(slug, symbols, ["book", "trades"]))
        assert {"book", "trades"} <= streamed or (slug in ONE_STREAM and not streamed), slug


def test_bitfinex_bbo_rides_on_the_book() -> None:
    """With the full book subscribed, Bitfinex plans no bbo stream: not a silent channel."""
    channels = ["book", "trades", "bbo"]
    assert streamed_channels("bitfinex", ["tBTCUSD"], channels) == ["book", "trades"]
    assert streamed_channels("binance-spot", ["BTCUSDT"], channels) == channels


def test_url_rewrites_every_origin_the_adapter_uses() -> None:
    channels = ["book", "trades", "bbo"]
    assert origins("binance-usdm", ["BTCUSDT"], channels) == [
        "https://fapi.binance.com",
        "wss://fstream.binance.com",
    ]
    assert rewrite_rules("binance-usdm", ["BTCUSDT"], channels, "http://127.0.0.1:9/") == {
        "https://fapi.binance.com": "http://127.0.0.1:9/binance-usdm",
        "wss://fstream.binance.com": "ws://127.0.0.1:9/binance-usdm",
    }
    secure = rewrite_rules("okx", ["BTC-USDT"], channels, "https://sim.example")
    assert set(secure.values()) == {"https://sim.example/okx", "wss://sim.example/okx"}


# -- against the simulator -------------------------------------------------------------


def test_clean_simulator_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with simulator(SimulatorConfig(exchanges=("binance-spot",))) as sim:
        args = ["binance-spot", "--url", sim.url, "--duration", "3s", "--record", str(tmp_path)]
        code, report, elapsed = check(capsys, *args)
    assert code == 0, report["entries"]
    assert report["passed"] and elapsed < 10
    live = report["live"]
    assert live["connections"] >= 1 and not live["silent"] and not live["unreachable"]
    assert {(c["channel"], c["symbol"]) for c in live["channels"]} == {
        (c, s) for c in ("book", "trades", "bbo") for s in ("BTCUSDT", "ETHUSDT")
    }
    assert all(c["first_data_s"] < 2 and c["messages"] > 0 for c in live["channels"])
    # Generated exchange times are the send times: lag well under a second.
    assert all(abs(c["lag_s"]) < 1 for c in live["channels"] if c["channel"] != "bbo")
    assert live["books"] == {"BTCUSDT": "synced", "ETHUSDT": "synced"}
    assert live["snapshots_fetched"] >= 2
    # The generated taker trades take the touch, so every judged side agrees.
    assert live["trades_judged"] >= 10 and live["side_agreement"] == 1.0
    # The session's capture is kept with --record, and checks offline the same way.
    assert Path(live["capture"]).exists() and report["path"] == live["capture"]
    assert main(["contract-check", "binance-spot", "--capture", live["capture"]]) == 0
    assert "PASS" in capsys.readouterr().out


def test_text_report_shows_the_live_findings(capsys: pytest.CaptureFixture[str]) -> None:
    with simulator(SimulatorConfig(exchanges=("binance-usdm",))) as sim:
        code = main(["contract-check", "binance-usdm", "--url", sim.url, "--duration", "2s"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "first book BTCUSDT: after" in out and "book ETHUSDT: synced" in out
    assert "trade sides:" in out and "PASS" in out


def _assert_silent(code: int, report: dict) -> None:
    assert code == 1
    assert report["live"]["connections"] >= 1 and not report["live"]["unreachable"]
    silent = [e for e in report["entries"] if e["field"] == "delivers_data"]
    assert {e["message_type"] for e in silent} == {"book", "trades", "bbo"}
    assert all("no data on" in e["detail"] and "within 3 s" in e["detail"] for e in silent)
    assert "binance-spot/stream" in silent[0]["sample"]  # where it connected, as the sample
    assert len(report["live"]["silent"]) == 6


def test_silent_handshake_is_drift(capsys: pytest.CaptureFixture[str]) -> None:
    """The websocket opens, then nothing: exit 1 naming each silent channel (not 3)."""
    config = SimulatorConfig(exchanges=("binance-spot",), faults=Faults(silent_after_frames=0))
    with simulator(config) as sim:
        code, report, _ = check(capsys, "binance-spot", "--url", sim.url, "--duration", "3s")
    _assert_silent(code, report)


def test_silent_after_handshake_knob_is_drift(capsys: pytest.CaptureFixture[str]) -> None:
    with simulator(SimulatorConfig(exchanges=("binance-spot",))) as sim:
        set_faults(sim, drift="silent_after_handshake")
        code, report, _ = check(capsys, "binance-spot", "--url", sim.url, "--duration", "3s")
    _assert_silent(code, report)


def _renamed_copy(src: Path, dst: Path) -> Path:
    """``src`` with every Bybit orderbook ``data.b`` sent as ``data.bids``."""
    with gzip.open(src, "rt") as fin, gzip.open(dst, "wt") as fout:
        for line in fin:
            rec = json.loads(line)
            if rec.get("kind") == "recv" and '"topic":"orderbook.' in rec["data"]:
                frame = json.loads(rec["data"])
                frame["data"]["bids"] = frame["data"].pop("b")
                rec["data"] = json.dumps(frame, separators=(",", ":"))
            fout.write(json.dumps(rec) + "\n")
    return dst


@needs_captures
def test_renamed_field_in_a_played_back_recording_is_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recording with ``b`` renamed, played back: missing ``data.b``, new ``data.bids``.

    The recording is months old, so its timestamps are also (correctly) reported as
    insane, and its feed has no bbo stream; the test looks for the rename only.
    """
    source = _renamed_copy(CAPTURES / "bybit" / "BYBIT_2026.jsonl.gz", tmp_path / "b.jsonl.gz")
    with simulator(SimulatorConfig(recordings=(source,), speed=10)) as sim:
        args = ["bybit", "--symbols", "linear:BTCUSDT", "--url", sim.url, "--duration", "3s"]
        code, report, _ = check(capsys, *args)
    assert code == 1
    found = keys(report)
    assert ("missing_field", "orderbook", "data.b") in found
    assert ("new_field", "orderbook", "data.bids") in found
    new = next(e for e in report["entries"] if e["field"] == "data.bids")
    assert new["detail"].startswith("undocumented: [[")  # the value, in the detail
    assert new["sample"].startswith('{"topic":"orderbook.200.BTCUSDT"')  # and a sample frame
    assert report["live"]["books"]["linear:BTCUSDT"] == "no book data"
    # Months-old exchange times, live: the 24 h rule per frame and the lag rule per channel.
    assert ("rule_violation", "orderbook", "ts") in found
    assert ("rule_violation", "trades", "timestamps_near_receipt") in found


def test_renamed_field_knob_is_drift(capsys: pytest.CaptureFixture[str]) -> None:
    with simulator(SimulatorConfig(exchanges=("binance-spot",))) as sim:
        set_faults(sim, drift="renamed_field")
        code, report, _ = check(capsys, "binance-spot", "--url", sim.url, "--duration", "3s")
    assert code == 1
    fields = {(e["kind"], e["field"].rsplit(".", 1)[-1]) for e in report["entries"]}
    assert {("missing_field", "b"), ("new_field", "bids")} <= fields
    assert {("missing_field", "a"), ("new_field", "asks")} <= fields


#: Every other drift mode of the generated Binance feed -> a drift key it must produce
#: (kind, and the field's last part or the rule's name).
KNOB_MODES = {
    "number_as_string": ("type_change", "E"),
    "new_field": ("new_field", "X"),
    "unknown_message": ("unknown_message_type", ""),
    "first_delta_rule": ("rule_violation", "snapshot_bridges"),
    "moved_endpoint": ("rule_violation", "delivers_data"),
}


@pytest.mark.parametrize("mode", sorted(KNOB_MODES))
def test_other_drift_modes_are_classified(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    with simulator(SimulatorConfig(exchanges=("binance-spot",))) as sim:
        set_faults(sim, drift=mode)
        code, report, _ = check(capsys, "binance-spot", "--url", sim.url, "--duration", "3s")
    assert code == 1
    fields = {(e["kind"], e["field"].rsplit(".", 1)[-1]) for e in report["entries"]}
    assert KNOB_MODES[mode] in fields, fields


def test_derivative_channels_pass_on_the_clean_futures_simulator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """markPrice, forceOrder and the polled openInterest: subscribed, timed, validated."""
    with simulator(SimulatorConfig(exchanges=("binance-usdm",))) as sim:
        code, report, _ = check(capsys, "binance-usdm", "--url", sim.url, "--duration", "4s")
    assert code == 0, report["entries"]
    live = report["live"]
    timed = {c["channel"]: c for c in live["channels"] if c["symbol"] == "BTCUSDT"}
    assert set(timed) == {"book", "trades", "bbo", "derivative_ticker", "liquidations", POLLED}
    assert live["event_driven"] == ["liquidations"] and live["not_checked"] == {}
    # markPrice each second, a liquidation every 5th trade, a poll every half deadline (2 s).
    for channel in ("derivative_ticker", "liquidations", POLLED):
        assert timed[channel]["messages"] > 0 and timed[channel]["first_data_s"] < 2.5, channel
    assert abs(timed["derivative_ticker"]["lag_s"]) < 1
    # Every derivative frame and REST body went through the contract check.
    types = report["message_types"]
    assert types["markPrice"] > 0 and types["forceOrder"] > 0 and types["rest:openInterest"] >= 2
    text = render_text(msgspec.convert(report, DriftReport))
    assert "first derivative_ticker BTCUSDT: after" in text
    assert f"first {POLLED} ETHUSDT: after" in text and "PASS" in text


def test_renamed_field_in_mark_price_is_drift(capsys: pytest.CaptureFixture[str]) -> None:
    """``--channels derivative_ticker``: only markPrice is subscribed, and its rename is seen."""
    with simulator(SimulatorConfig(exchanges=("binance-usdm",))) as sim:
        set_faults(sim, drift="renamed_field")
        args = ["binance-usdm", "--url", sim.url, "--duration", "3s"]
        code, report, _ = check(capsys, *args, "--channels", "derivative_ticker")
    assert code == 1
    assert {
        ("missing_field", "markPrice", "data.p"),
        ("new_field", "markPrice", "data.markPrice"),
    } <= keys(report)
    assert not any(e["message_type"] == "depthUpdate" for e in report["entries"])
    assert {c["channel"] for c in report["live"]["channels"]} == {"derivative_ticker", POLLED}


def test_silent_liquidations_are_not_drift(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody liquidated (the simulator emits no forceOrder): reported as such, exit 0."""
    monkeypatch.setattr(wire, "LIQUIDATION_EVERY", 10**12)
    with simulator(SimulatorConfig(exchanges=("binance-usdm",))) as sim:
        args = ["binance-usdm", "--url", sim.url, "--duration", "3s"]
        code, report, _ = check(capsys, *args, "--channels", "liquidations", "trades")
    assert code == 0, report["entries"]
    live = report["live"]
    quiet = [c for c in live["channels"] if c["channel"] == "liquidations"]
    assert len(quiet) == 2 and all(c["first_data_s"] is None for c in quiet)
    assert live["silent"] == [] and "forceOrder" not in report["message_types"]
    text = render_text(msgspec.convert(report, DriftReport))
    assert "first liquidations BTCUSDT: never, 0 messages  no data (expected: event-driven)" in text


def test_session_channels_follow_what_each_symbol_serves() -> None:
    """One session subscribes every symbol to every channel: only shared ones are checked."""
    assert session_channels("binance-spot", ["BTCUSDT"]) == (["book", "trades", "bbo"], {})
    usdm = ["book", "trades", "bbo", "derivative_ticker", "liquidations"]
    assert session_channels("binance-usdm", ["BTCUSDT"]) == (usdm, {})
    channels, left_out = session_channels("okx", ["BTC-USDT", "BTC-USDT-SWAP"])
    assert channels == ["book", "trades", "bbo"]
    assert left_out["derivative_ticker"].startswith("served for BTC-USDT-SWAP only")
    assert left_out["options"] == "not served for BTC-USDT, BTC-USDT-SWAP"
    # Deribit's ticker would take a perpetual for options, but sends no option summary.
    channels, left_out = session_channels("deribit", ["BTC-PERPETUAL"])
    assert "derivative_ticker" in channels and "options" in left_out
    assert "options" in session_channels("deribit", ["BTC-27DEC30-100000-C"])[0]
    # Bitfinex plans status/liq for a spot pair, which never carries derivative state.
    assert session_channels("bitfinex", ["tBTCUSD"])[0] == ["book", "trades", "bbo"]
    assert session_channels("bitfinex", ["tBTCF0:USTF0"])[0][3:] == usdm[3:]
    assert session_channels("binance-usdm", ["BTCUSDT"], ["liquidations"]) == (
        ["liquidations"],
        {},
    )


def test_channels_that_cannot_be_checked_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--duration", "1s", "--url", "http://127.0.0.1:9", "--channels"]
    assert main(["contract-check", "binance-spot", *base, "derivative_ticker"]) == 2
    assert "does not serve 'derivative_ticker'" in capsys.readouterr().err
    assert main(["contract-check", "okx", *base, "liquidations"]) == 2
    assert "served for BTC-USDT-SWAP only" in capsys.readouterr().err
    assert main(["contract-check", "okx", *base, "funding"]) == 2
    assert "'funding' is not a channel" in capsys.readouterr().err


def test_unreachable_url_exits_3_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    code, report, elapsed = check(capsys, "binance-spot", "--url", url, "--duration", "30s")
    assert code == 3 and elapsed < 15  # the connect window (10 s), not the 30 s session
    assert report["live"]["unreachable"] and report["live"]["connections"] == 0
    assert main(["contract-check", "binance-spot", "--url", url, "--duration", "2s"]) == 3
    assert "UNREACHABLE" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract-check", "nosuchvenue", "--duration", "1s"]) == 2
    assert "no adapter" in capsys.readouterr().err
    assert main(["contract-check", "bybit", "--symbols", "BTCUSDT", "--duration", "1s"]) == 2
    assert "must name its category" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["contract-check", "okx", "--duration", "soon"])
    assert exc.value.code == 2


# -- against the real exchanges --------------------------------------------------------


def _reachable(slug: str, timeout_s: float = 3.0) -> str | None:
    """None when the venue's stream host resolves and accepts TCP; else why not."""
    symbols = DEFAULT_SYMBOLS[slug]
    ws = next(o for o in origins(slug, symbols, ["book"]) if o.startswith("ws"))
    host = urlsplit(ws).hostname or ""
    port = urlsplit(ws).port or 443
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:  # getaddrinfo ignores socket timeouts: bound it from outside
        pool.submit(socket.create_connection, (host, port), timeout_s).result(timeout_s + 1).close()
    except (OSError, concurrent.futures.TimeoutError) as exc:
        return f"no network: {host}:{port} unreachable ({exc!r:.80})"
    finally:
        pool.shutdown(wait=False)
    return None


@pytest.mark.live
@pytest.mark.parametrize("slug", sorted(DEFAULT_SYMBOLS))
def test_live_exchange_matches_its_contract(
    slug: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    why = _reachable(slug)
    if why is not None:
        pytest.skip(why)
    args = [slug, "--duration", "20s", "--record", str(tmp_path)]
    code, report, _ = check(capsys, *args)
    assert code != 3, f"{slug} unreachable although its host answered"
    assert code == 0, json.dumps(report["entries"], indent=1)[:4000]


def test_an_unknown_binance_event_on_a_known_stream_is_an_unknown_message_type() -> None:
    """The simulator's ``unknown_message`` drift: ``depthUpdateV2`` pushed on the depth stream.

    Classified by its event type, not its stream (else it reads as a depthUpdate
    with an odd ``e`` and missing fields); futures' partial depth (``e`` =
    ``depthUpdate`` on a ``@depth5`` stream) keeps its stream's name.
    """
    from adapters.contracts import contract_for
    from collector.contract.validate import Validator

    validator = Validator(contract_for("binance-spot"))
    frame = '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdateV2","E":1,"s":"BTCUSDT"}}'
    name, drifts = validator.frame(frame, 10**6)
    assert name == "depthUpdateV2"
    assert [d.kind for d in drifts] == ["unknown_message_type"]
    usdm = Validator(contract_for("binance-usdm"))
    partial = '{"stream":"btcusdt@depth5@100ms","data":{"e":"depthUpdate","E":1}}'
    assert usdm.frame(partial, 10**6)[0] == "depthN"


@needs_captures
def test_checksum_zero_knob_on_played_back_kraken_is_a_checksum_violation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Kraken checksums all "0": the book rule fails. (The recording is Kraken v1, so its
    frames are also unknown to today's v2 contract; the test looks for the checksum.
    OKX is no case for this mode: its ``books`` checksum has been 0 since its 2026
    deprecation, which the adapter and contract already take as "absent".)"""
    source = CAPTURES / "kraken" / "KRAKEN.ws.50.jsonl.gz"
    with simulator(SimulatorConfig(recordings=(source,), speed=10)) as sim:
        set_faults(sim, drift="checksum_zero")
        args = ["kraken", "--symbols", "ETH/CHF", "--url", sim.url, "--duration", "3s"]
        code, report, _ = check(capsys, *args)
    assert code == 1
    (entry,) = [e for e in report["entries"] if e["field"] == "checksum"]
    assert entry["kind"] == "rule_violation" and "the exchange says 0" in entry["detail"]


def test_route_split_reports_the_route_that_delivered(capsys: pytest.CaptureFixture[str]) -> None:
    """USD-M trades on their first route pass; COIN-M's move to /market: drift naming both."""
    config = SimulatorConfig(exchanges=("binance-usdm", "binance-coinm"))
    with simulator(config) as sim:
        set_faults(sim, drift="route_split")
        usdm = check(capsys, "binance-usdm", "--url", sim.url, "--duration", "4s")
        coinm = check(capsys, "binance-coinm", "--url", sim.url, "--duration", "4s")
    code, report, _ = usdm
    assert code == 0, report["entries"]
    assert report["live"]["routes"] == {
        "book": "wss://fstream.binance.com/public/stream",
        "bbo": "wss://fstream.binance.com/public/stream",
        "trades": "wss://fstream.binance.com/public/stream",
        "derivative_ticker": "wss://fstream.binance.com/market/stream",
        "liquidations": "wss://fstream.binance.com/market/stream",
    }
    assert report["live"]["route_moves"] == []
    code, report, _ = coinm
    assert code == 1
    assert report["live"]["routes"]["trades"] == "wss://dstream.binance.com/market/stream"
    assert report["live"]["routes"]["book"] == "wss://dstream.binance.com/public/stream"
    (moved,) = [e for e in report["entries"] if e["field"] == "first_route_delivers"]
    assert moved["message_type"] == "trades"
    assert moved["detail"].startswith("trades: route wss://dstream.binance.com/public/stream ")
    market = "wss://dstream.binance.com/market/stream"
    assert moved["detail"].endswith(f"moved to route {market} (2 of 3)")
    # Moved within the session's deadline: the trades themselves were not late.
    assert not report["live"]["silent"], report["live"]["silent"]
