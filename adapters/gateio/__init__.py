"""Gate.io v4: spot (``gateio``) and USDT-settled futures (``gateio-futures``).

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.gateio.adapter import GateioAdapter

__all__ = ["GateioAdapter"]
