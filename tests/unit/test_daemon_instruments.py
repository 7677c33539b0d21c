"""``ExchangeRunner.load_instruments``: fetched once, recorded, bounded, failures logged once;
then ``drop_unlisted``: symbols the lists do not name are dropped, the rest planned.

The REST client is replaced by a scripted one, so no socket is opened: what is
checked is the runner's part (rewrite, recording, feeding the adapter, giving up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from collector.capture.records import Record
from collector.config import parse_config
from collector.daemon import Daemon, ExchangeRunner
from collector.model import QualityEvent, QualityKind
from collector.transport.rest import RestResponse

EXCHANGE_INFO = '{"symbols": [{"symbol": "BTCUSD_PERP", "baseAsset": "BTC", "quoteAsset": "USD", "contractType": "PERPETUAL", "pair": "BTCUSD", "marginAsset": "BTC"}]}'  # noqa: E501


class ScriptedRest:
    """Answers GETs from a list: a status and body, an exception, or a long stall."""

    def __init__(self, *answers: tuple[int, str] | Exception | float) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int, int | None]] = []

    async def get(self, url: str, weight: int = 1, *, max_attempts: int | None = None):
        self.asked.append((url, weight, max_attempts))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, float):
            await asyncio.sleep(answer)
            answer = (200, "{}")
        return RestResponse(url, answer[0], answer[1].encode(), 123, {})

    async def close(self) -> None:
        pass


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for daemon in made:
        daemon.sink.close()


def runner(
    tmp_path: Path,
    rest: ScriptedRest,
    daemons: list[Daemon],
    symbols: tuple[str, ...] = ("BTCUSD_PERP",),
) -> tuple[ExchangeRunner, list[Record]]:
    config = parse_config(
        f'[output]\ndir = "{tmp_path / "data"}"\n[capture]\nenabled = false\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n[[exchange]]\nname = "binance-coinm"\n'
        f"symbols = {list(symbols)!r}\n".replace("'", '"')
        + 'rewrite = { "https://dapi.binance.com" = "http://127.0.0.1:9/coinm" }\n',
        "test",
    )
    daemon = Daemon(config)
    daemons.append(daemon)
    run = daemon.runners[0]
    run.rest = rest  # type: ignore[assignment]
    recorded: list[Record] = []
    feed = run.pipeline.on_record
    run.pipeline.on_record = lambda r: (recorded.append(r), feed(r))[1]  # type: ignore[method-assign]
    return run, recorded


def test_lists_are_fetched_rewritten_recorded_and_fed(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    rest = ScriptedRest((200, EXCHANGE_INFO))
    run, recorded = runner(tmp_path, rest, daemons)
    asyncio.run(run.load_instruments())
    url = "http://127.0.0.1:9/coinm/dapi/v1/exchangeInfo"
    assert rest.asked == [(url, 1, 3)]  # bounded retries, venue weight
    assert [(r.kind, r.url, r.status, r.data) for r in recorded] == [
        ("http", url, 200, EXCHANGE_INFO)
    ]
    assert run.pipeline.problems == {}


@pytest.mark.parametrize(
    "answer", [(404, "Not Found"), (503, "busy"), aiohttp.ClientConnectionError("refused")]
)
def test_a_failed_list_is_logged_once_and_not_recorded(
    tmp_path: Path,
    answer: tuple[int, str] | Exception,
    caplog: pytest.LogCaptureFixture,
    daemons: list[Daemon],
) -> None:
    run, recorded = runner(tmp_path, ScriptedRest(answer), daemons)
    with caplog.at_level(logging.WARNING, logger="collector.daemon"):
        asyncio.run(run.load_instruments())
    assert recorded == []
    assert len(caplog.records) == 1 and "instrument lists incomplete" in caplog.text
    assert run.adapter.market("BTCUSD_PERP")  # the fallback name still works


def test_a_stalled_list_gives_up_after_the_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, daemons: list[Daemon]
) -> None:
    run, recorded = runner(tmp_path, ScriptedRest(60.0), daemons)
    with caplog.at_level(logging.WARNING, logger="collector.daemon"):
        asyncio.run(run.load_instruments(timeout_s=0.05))
    assert recorded == []
    assert "timed out after 0.05 s" in caplog.text


def _streams(run: ExchangeRunner) -> tuple[set[str], str]:
    """The symbols the runner's connections subscribe, and their URLs."""
    plans = [s.plan for s in run.supervisors]
    return {sub.symbol for p in plans for sub in p.subscriptions}, " ".join(p.url for p in plans)


def test_a_symbol_the_lists_do_not_name_is_dropped_with_one_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, daemons: list[Daemon]
) -> None:
    rest = ScriptedRest((200, EXCHANGE_INFO))
    run, _ = runner(tmp_path, rest, daemons, ("NOPEUSD_PERP", "BTCUSD_PERP"))
    assert _streams(run)[0] == {"NOPEUSD_PERP", "BTCUSD_PERP"}  # planned from the config
    events: list[QualityEvent] = []
    run.pipeline.out.add_quality = events.append  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="collector.daemon"):
        asyncio.run(run.load_instruments())
        assert run.drop_unlisted() == ["NOPEUSD_PERP"]
        assert run.drop_unlisted() == []  # once
    symbols, urls = _streams(run)
    assert symbols == {"BTCUSD_PERP"} and "nopeusd_perp" not in urls
    assert run.symbols == run.book_symbols == ["BTCUSD_PERP"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "ERROR",
            "binance-coinm: the venue does not list NOPEUSD_PERP: not subscribed (check the "
            "spelling in the config); its other 1 symbol(s) stream as usual",
        )
    ]
    assert [(e.symbol, e.kind) for e in events] == [("NOPEUSD_PERP", QualityKind.EXCHANGE_ERROR)]
    assert events[0].ts_recv > 0 and "not in binance-coinm's instrument lists" in events[0].detail
    daemon = daemons[0]
    assert daemon.metrics.books["binance-coinm"] == ["BTCUSD_PERP"]
    _, report = daemon.health()
    assert report["binance-coinm"]["books"] == {"BTCUSD_PERP": "unsynced"}  # type: ignore[index]


@pytest.mark.parametrize("answer", [(404, "Not Found"), aiohttp.ClientConnectionError("refused")])
def test_nothing_is_dropped_when_no_list_arrived(
    tmp_path: Path, answer: tuple[int, str] | Exception, daemons: list[Daemon]
) -> None:
    run, _ = runner(tmp_path, ScriptedRest(answer), daemons, ("NOPEUSD_PERP", "BTCUSD_PERP"))
    asyncio.run(run.load_instruments())
    assert run.drop_unlisted() == []
    assert _streams(run)[0] == {"NOPEUSD_PERP", "BTCUSD_PERP"}
    assert run.book_symbols == ["NOPEUSD_PERP", "BTCUSD_PERP"]
