"""Deribit API v2 (JSON-RPC over websocket).

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.deribit.adapter import DeribitAdapter

__all__ = ["DeribitAdapter"]
