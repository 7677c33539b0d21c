"""Kraken Futures (Derivatives WebSocket v1): perpetuals and dated futures.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.kraken_futures.adapter import KrakenFuturesAdapter

__all__ = ["KrakenFuturesAdapter"]
