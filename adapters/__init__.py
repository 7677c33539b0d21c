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
from adapters.bitflyer import BitflyerAdapter
from adapters.bitget import BitgetAdapter
from adapters.bitmex import BitmexAdapter
from adapters.bitstamp import BitstampAdapter
from adapters.bybit import BybitAdapter
from adapters.coinbase import CoinbaseAdapter
from adapters.coinbase_exchange import CoinbaseExchangeAdapter
from adapters.crypto_com import CryptoComAdapter
from adapters.deribit import DeribitAdapter
from adapters.gateio import GateioAdapter
from adapters.gemini import GeminiAdapter
from adapters.htx import HtxAdapter
from adapters.hyperliquid import HyperliquidAdapter
from adapters.kraken import KrakenAdapter
from adapters.kraken_futures import KrakenFuturesAdapter
from adapters.kucoin import KucoinAdapter
from adapters.okcoin import OkcoinAdapter
from adapters.okx import OkxAdapter
from adapters.phemex import PhemexAdapter
from adapters.poloniex import PoloniexAdapter
from adapters.upbit import UpbitAdapter
from collector.adapter import Adapter

REGISTRY: dict[str, Callable[[], Adapter]] = {
    "binance-spot": lambda: BinanceAdapter("binance-spot"),
    "binance-us": lambda: BinanceAdapter("binance-us"),
    "binance-tr": lambda: BinanceAdapter("binance-tr"),
    "binance-usdm": lambda: BinanceAdapter("binance-usdm"),
    "binance-coinm": lambda: BinanceAdapter("binance-coinm"),
    "bitfinex": BitfinexAdapter,
    "bitflyer": BitflyerAdapter,
    "bybit": BybitAdapter,
    "coinbase": CoinbaseAdapter,
    "coinbase-exchange": CoinbaseExchangeAdapter,
    "bitmex": BitmexAdapter,
    "bitstamp": BitstampAdapter,
    "deribit": DeribitAdapter,
    "gateio": lambda: GateioAdapter("gateio"),
    "gateio-futures": lambda: GateioAdapter("gateio-futures"),
    "gemini": GeminiAdapter,
    "htx": lambda: HtxAdapter("htx"),
    "htx-swap": lambda: HtxAdapter("htx-swap"),
    "hyperliquid": HyperliquidAdapter,
    "kraken": KrakenAdapter,
    "kraken-futures": KrakenFuturesAdapter,
    "kucoin": KucoinAdapter,
    "okx": OkxAdapter,
    "bitget": BitgetAdapter,
    "crypto-com": CryptoComAdapter,
    "okcoin": OkcoinAdapter,
    "phemex": PhemexAdapter,
    "poloniex": PoloniexAdapter,
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
