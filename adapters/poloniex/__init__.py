"""Poloniex spot (API v3, 2022 onwards): ``book_lv2`` with ``id``/``lastId``, trades.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.
Only the adapter is imported here: the contract machinery loads on demand.
"""

from adapters.poloniex.adapter import PoloniexAdapter

__all__ = ["PoloniexAdapter"]
