"""What a simulator serves: exchanges, symbols, recordings, pace and faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from collector.simulator.faults import Faults

#: Every exchange the simulator can speak.
ALL_EXCHANGES = ("binance-spot", "binance-us", "binance-tr", "binance-usdm", "binance-coinm")


@dataclass
class SimulatorConfig:
    """Settings of one simulator; the CLI flags map onto these one to one."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port, see ``Simulator.port``
    #: Exchanges served from generated books. ``None``: all of them, unless
    #: recordings are given, in which case only the recordings' exchanges.
    exchanges: tuple[str, ...] | None = None
    #: Symbols of every generated exchange; ``None``: two per exchange (BTC, ETH).
    symbols: tuple[str, ...] | None = None
    recordings: tuple[str | Path, ...] = ()
    speed: float = 1.0  # recording pace: 1 real time, 10 ten times faster, 0 no waiting
    loop: bool = False  # restart a recording at its end instead of going silent
    seed: int = 0
    interval_ms: float = 100.0  # one depth event per symbol this often
    history: int = 2000  # depth events per symbol kept for /_truth/<slug>/<symbol>/<id>
    trade_probability: float = 0.5  # chance of a taker trade with each depth event
    #: Put the send time (ns, ``time.time_ns``) first in every market-data frame, as
    #: ``{"sent":<ns>,...}``: latency benchmarks subtract it from ``ts_recv``. Off by
    #: default, since no venue sends such a field.
    send_stamps: bool = False
    faults: Faults = field(default_factory=Faults)

    def generated_exchanges(self) -> tuple[str, ...]:
        if self.exchanges is not None:
            return self.exchanges
        return () if self.recordings else ALL_EXCHANGES

    def check(self) -> None:
        """Refuse settings that would silently serve nothing or spin."""
        unknown = [e for e in self.generated_exchanges() if e not in ALL_EXCHANGES]
        if unknown:
            raise ValueError(
                f"unknown exchange(s) {', '.join(unknown)}; known: {', '.join(ALL_EXCHANGES)}"
            )
        if self.speed < 0:
            raise ValueError("speed must be >= 0")
        if self.interval_ms <= 0:
            raise ValueError("interval_ms must be > 0")
        if self.history < 1:
            raise ValueError("history must be >= 1")
