"""bitFlyer Lightning (spot, FX and futures), Realtime API over JSON-RPC 2.0.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.bitflyer.adapter import BitflyerAdapter

__all__ = ["BitflyerAdapter"]
