"""Gemini, market data websocket v2 (spot and perpetuals).

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.gemini.adapter import GeminiAdapter

__all__ = ["GeminiAdapter"]
