"""HTX (formerly Huobi): spot and perpetual swaps, gzip-compressed frames.

``adapter`` is the sans-I/O adapter, ``wire`` its structs, ``contract`` the docs' terms.
Recordings made before the rename say ``huobi``/``huobi-swap`` (``adapters.FORMER_NAMES``).
"""

from adapters.htx.adapter import HtxAdapter

__all__ = ["HtxAdapter"]
