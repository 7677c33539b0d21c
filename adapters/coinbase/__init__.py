"""Coinbase Advanced Trade.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.coinbase.adapter import CoinbaseAdapter

__all__ = ["CoinbaseAdapter"]
