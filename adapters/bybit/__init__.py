"""Bybit v5 (and legacy v2 decoding).

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.bybit.adapter import BybitAdapter

__all__ = ["BybitAdapter"]
