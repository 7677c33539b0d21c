"""A local Binance-family exchange (websocket + REST) with fault injection.

It generates live-like books or replays recordings, and can be told to
misbehave at a chosen moment, so the live path can be tested without reaching
an exchange. See ``server`` for the routes, ``faults`` for the knobs and
``cli`` for ``collector simulate``.
"""

from collector.simulator.config import ALL_EXCHANGES, SimulatorConfig
from collector.simulator.faults import Faults
from collector.simulator.server import Simulator

__all__ = ["ALL_EXCHANGES", "Faults", "Simulator", "SimulatorConfig"]
