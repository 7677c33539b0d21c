"""KuCoin spot (classic websocket API, token from ``bullet-public``).

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.kucoin.adapter import KucoinAdapter

__all__ = ["KucoinAdapter"]
