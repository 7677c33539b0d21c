"""Binance spot, Binance.US, Binance TR, USD-M and COIN-M futures.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.binance.adapter import BinanceAdapter

__all__ = ["BinanceAdapter"]
