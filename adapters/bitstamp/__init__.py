"""Bitstamp spot: diff order book bridged to the REST book by ``microtimestamp``, trades.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.
Only the adapter is imported here: the contract machinery loads on demand.
"""

from adapters.bitstamp.adapter import BitstampAdapter

__all__ = ["BitstampAdapter"]
