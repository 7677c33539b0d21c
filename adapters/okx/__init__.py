"""OKX v5 public market data.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.okx.adapter import OkxAdapter

__all__ = ["OkxAdapter"]
