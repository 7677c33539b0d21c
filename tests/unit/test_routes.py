"""The route chooser (pure) and the drift event a capture's open records imply."""

from __future__ import annotations

import pytest

from collector.model import QualityKind
from collector.routes import (
    Delivered,
    Move,
    RouteChooser,
    RouteLog,
    parse_route_note,
    route_label,
    route_note,
)

PUBLIC, MARKET, LEGACY = "wss://d/public/stream", "wss://d/market/stream", "wss://d/stream"


def chooser(alone: bool = False) -> RouteChooser:
    c = RouteChooser()
    c.add("trades", [PUBLIC, MARKET, LEGACY], 10.0, alone=alone)
    return c


def test_a_silent_route_is_left_at_the_deadline_while_the_venue_streams() -> None:
    c = chooser()
    c.acknowledged("trades", PUBLIC, 100.0)
    c.others_streaming("trades", 105.0)
    assert c.tick(109.9) == []
    c.others_streaming("trades", 110.0)
    assert c.tick(110.0) == [Move("trades", 1, MARKET, PUBLIC, 10.0, False)]
    assert c.active("trades") == (1, MARKET)
    assert c.tick(130.0) == []  # the next route's deadline counts from its own acknowledgement


def test_no_move_while_the_whole_venue_is_silent() -> None:
    c = chooser()
    c.acknowledged("trades", PUBLIC, 0.0)
    assert c.tick(100.0) == []  # nothing streams at all: an outage, not a moved stream
    c.others_streaming("trades", 50.0)
    assert c.tick(100.0) == []  # the others stopped too long ago
    c.others_streaming("trades", 95.0)
    assert [m.route for m in c.tick(100.0)] == [MARKET]


def test_a_channel_alone_moves_on_its_deadline() -> None:
    c = chooser(alone=True)
    c.acknowledged("trades", PUBLIC, 0.0)
    assert [m.route for m in c.tick(10.0)] == [MARKET]


def test_the_first_route_that_delivers_is_kept_and_reported_once() -> None:
    c = chooser()
    c.acknowledged("trades", PUBLIC, 0.0)
    assert c.data("trades", PUBLIC, 1.0) is None  # the newest route works: nothing to say
    c.others_streaming("trades", 100.0)
    assert c.tick(100.0) == []
    assert not c.waiting("trades")

    c = chooser()
    c.acknowledged("trades", PUBLIC, 0.0)
    c.others_streaming("trades", 10.0)
    c.tick(10.0)
    assert c.data("trades", PUBLIC, 10.5) is None  # late data from the route it left
    c.acknowledged("trades", MARKET, 11.0)
    assert c.data("trades", MARKET, 12.0) == Delivered("trades", MARKET, (PUBLIC,))
    assert c.data("trades", MARKET, 13.0) is None
    c.others_streaming("trades", 500.0)
    assert c.tick(500.0) == []  # remembered for the rest of the run
    assert c.problems() == []


def test_acknowledgements_after_the_first_do_not_reset_the_deadline() -> None:
    c = chooser()
    c.acknowledged("trades", PUBLIC, 0.0)
    c.acknowledged("trades", PUBLIC, 8.0)  # the watchdog reconnected the silent route
    c.acknowledged("trades", MARKET, 8.0)  # not the active route: ignored
    c.others_streaming("trades", 10.0)
    assert [m.failed for m in c.tick(10.0)] == [PUBLIC]


def test_when_no_route_delivers_health_says_so_and_rounds_slow_down() -> None:
    c = chooser(alone=True)
    t = 0.0
    moves = []
    for _ in range(3):
        c.acknowledged("trades", c.active("trades")[1], t)
        t += 10.0
        moves += c.tick(t)
    assert [(m.route, m.exhausted) for m in moves] == [
        (MARKET, False),
        (LEGACY, False),
        (PUBLIC, True),
    ]
    assert c.problems() == [f"trades: no route delivers (silent: {PUBLIC}, {MARKET}, {LEGACY})"]
    c.acknowledged("trades", PUBLIC, t)
    assert c.tick(t + 10.0) == []  # the retry round waits twice as long
    assert [m.route for m in c.tick(t + 20.0)] == [MARKET]
    c.acknowledged("trades", MARKET, t + 21.0)
    delivered = c.data("trades", MARKET, t + 22.0)
    assert delivered == Delivered("trades", MARKET, (PUBLIC, MARKET, LEGACY))
    assert c.problems() == []


def test_a_single_route_is_refused() -> None:
    with pytest.raises(ValueError, match="one route"):
        RouteChooser().add("book", [PUBLIC], 1.0, alone=False)


def test_route_notes_round_trip() -> None:
    label = route_label("wss://fstream.binance.com/public/stream?streams=btcusdt@trade")
    assert label == "wss://fstream.binance.com/public/stream"
    note = route_note(3, "trades", 1, 2, label)
    assert note == "plan 3 route trades 2/2 wss://fstream.binance.com/public/stream"
    assert parse_route_note(note) == ("trades", 1, 2, label)
    assert parse_route_note("plan 3") is None


def test_route_log_writes_one_drift_event_per_move() -> None:
    log = RouteLog()
    s = 10**9
    assert log.opened(route_note(0, "book+bbo", 0, 2, PUBLIC), 0) is None
    assert log.opened(route_note(1, "trades", 0, 3, PUBLIC), 1 * s) is None
    assert log.opened(route_note(2, "trades", 0, 3, PUBLIC), 2 * s) is None  # another plan
    assert log.opened(route_note(1, "trades", 0, 3, PUBLIC), 5 * s) is None  # a reconnect
    assert log.opened("plan 4", 6 * s) is None
    event = log.opened(route_note(1, "trades", 1, 3, MARKET), 11 * s)
    assert event is not None
    assert (event.kind, event.symbol, event.ts_recv) == (QualityKind.DRIFT, None, 11 * s)
    assert event.detail == (
        f"trades: route {PUBLIC} acknowledged and silent for 10.0 s; "
        f"moved to route {MARKET} (2 of 3)"
    )
    assert log.opened(route_note(2, "trades", 1, 3, MARKET), 12 * s) is None  # same move
