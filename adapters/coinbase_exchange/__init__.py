"""Coinbase Exchange (legacy feed); borrows Coinbase's wire structs.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.coinbase_exchange.adapter import CoinbaseExchangeAdapter

__all__ = ["CoinbaseExchangeAdapter"]
