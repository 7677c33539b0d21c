"""Bitget public market data: API v2 planned, API v1 (the recording's) decoded.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.bitget.adapter import BitgetAdapter

__all__ = ["BitgetAdapter"]
