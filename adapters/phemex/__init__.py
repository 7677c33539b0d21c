"""Phemex contracts and spot: scaled-integer prices and sizes.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.
Only the adapter is imported here: the contract machinery loads on demand.
"""

from adapters.phemex.adapter import PhemexAdapter

__all__ = ["PhemexAdapter"]
