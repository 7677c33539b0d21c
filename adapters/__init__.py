"""Per-exchange adapters (sans-I/O) and the static registry of them.

Each venue is a package, ``adapters/<venue>/``: ``adapter.py`` (the sans-I/O
adapter), ``wire.py`` (its msgspec structs, one doc URL each), ``contract.py`` (what
the documentation promises, checked by ``collector contract-check``), and a
``symbols.py`` or similar only where the venue needs one. A new venue is one such
folder plus one line in ``REGISTRY`` (and one in ``adapters.contracts``): the slug
is the dataset's ``exchange`` partition and the name recordings carry in their header.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.binance import BinanceAdapter
from adapters.bitfinex import BitfinexAdapter
from adapters.bitmex import BitmexAdapter
from adapters.bybit import BybitAdapter
from adapters.coinbase import CoinbaseAdapter
from adapters.coinbase_exchange import CoinbaseExchangeAdapter
from adapters.deribit import DeribitAdapter
from adapters.htx import HtxAdapter
from adapters.kraken import KrakenAdapter
from adapters.okx import OkxAdapter
from adapters.upbit import UpbitAdapter
from collector.adapter import Adapter

REGISTRY: dict[str, Callable[[], Adapter]] = {
    "binance-spot": lambda: BinanceAdapter("binance-spot"),
    "binance-us": lambda: BinanceAdapter("binance-us"),
    "binance-tr": lambda: BinanceAdapter("binance-tr"),
    "binance-usdm": lambda: BinanceAdapter("binance-usdm"),
    "binance-coinm": lambda: BinanceAdapter("binance-coinm"),
    "bitfinex": BitfinexAdapter,
    "bybit": BybitAdapter,
    "coinbase": CoinbaseAdapter,
    "coinbase-exchange": CoinbaseExchangeAdapter,
    "bitmex": BitmexAdapter,
    "deribit": DeribitAdapter,
    "htx": lambda: HtxAdapter("htx"),
    "htx-swap": lambda: HtxAdapter("htx-swap"),
    "kraken": KrakenAdapter,
    "okx": OkxAdapter,
    "upbit": UpbitAdapter,
}


#: Names a venue's recordings (their header ``exchange``, their captures folder) carried
#: before it was renamed: Huobi became HTX in 2023, and its 2021-22 recordings say ``huobi``.
#: Every place that turns a recording's name into an adapter goes through ``canonical``.
FORMER_NAMES: dict[str, str] = {
    "huobi": "htx",
    "huobi-swap": "htx-swap",
}


def canonical(name: str) -> str:
    """The registered slug of ``name``: itself, or the slug a former name now goes by."""
    return FORMER_NAMES.get(name, name)


class UnknownExchange(KeyError):
    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug

    def __str__(self) -> str:
        return f"no adapter for exchange {self.slug!r}; known: {', '.join(sorted(REGISTRY))}"


def create(slug: str) -> Adapter:
    """A fresh adapter for ``slug`` or a former name of it (adapters hold per-session
    symbol metadata)."""
    try:
        factory = REGISTRY[canonical(slug)]
    except KeyError:
        raise UnknownExchange(slug) from None
    return factory()
