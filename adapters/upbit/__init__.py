"""Upbit spot: full-book ``orderbook`` messages and ``trade``, JSON in binary frames.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.
"""

from adapters.upbit.adapter import UpbitAdapter

__all__ = ["UpbitAdapter"]
