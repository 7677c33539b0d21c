"""OKCoin v5 public market data: the OKX protocol family on OKCoin's hosts.

``adapter`` is the sans-I/O adapter (a variant of ``adapters.okx``), ``contract`` the
docs' terms. The wire structs are OKX's (``adapters.okx.wire``): the protocol is one.

Only the adapter is imported here: the contract machinery loads on demand
(``adapters.contracts``), so that importing a venue stays cheap.
"""

from adapters.okcoin.adapter import OkcoinAdapter

__all__ = ["OkcoinAdapter"]
