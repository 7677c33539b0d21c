"""Bitfinex WebSocket API v2.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.bitfinex.adapter import BitfinexAdapter

__all__ = ["BitfinexAdapter"]
