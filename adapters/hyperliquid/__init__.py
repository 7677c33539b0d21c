"""Hyperliquid (perpetuals and spot on its L1), public websocket subscriptions.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.hyperliquid.adapter import HyperliquidAdapter

__all__ = ["HyperliquidAdapter"]
