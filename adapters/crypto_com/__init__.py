"""Crypto.com Exchange market data: API v1 deltas planned, the retired v2 decoded.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.
The package is ``crypto_com`` (a Python name); the slug and captures folder are
``crypto-com``.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.crypto_com.adapter import CryptoComAdapter

__all__ = ["CryptoComAdapter"]
