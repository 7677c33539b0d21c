"""Registry of exchange contracts, by adapter slug (mirrors ``adapters.REGISTRY``)."""

from __future__ import annotations

from adapters import REGISTRY
from adapters.binance import contract as binance_contract
from adapters.bitfinex import contract as bitfinex_contract
from adapters.bitflyer import contract as bitflyer_contract
from adapters.bitget import contract as bitget_contract
from adapters.bitmex import contract as bitmex_contract
from adapters.bitstamp import contract as bitstamp_contract
from adapters.bybit import contract as bybit_contract
from adapters.coinbase import contract as coinbase_contract
from adapters.coinbase_exchange import contract as coinbase_exchange_contract
from adapters.crypto_com import contract as crypto_com_contract
from adapters.deribit import contract as deribit_contract
from adapters.gateio import contract as gateio_contract
from adapters.gemini import contract as gemini_contract
from adapters.htx import contract as htx_contract
from adapters.hyperliquid import contract as hyperliquid_contract
from adapters.kraken import contract as kraken_contract
from adapters.kraken_futures import contract as kraken_futures_contract
from adapters.kucoin import contract as kucoin_contract
from adapters.okcoin import contract as okcoin_contract
from adapters.okx import contract as okx_contract
from adapters.phemex import contract as phemex_contract
from adapters.poloniex import contract as poloniex_contract
from adapters.upbit import contract as upbit_contract
from collector.contract.model import VenueContract

CONTRACTS: dict[str, VenueContract] = {
    "binance-spot": binance_contract.SPOT,
    "binance-us": binance_contract.SPOT,
    "binance-tr": binance_contract.SPOT,
    "binance-usdm": binance_contract.USDM,
    "binance-coinm": binance_contract.COINM,
    "bitfinex": bitfinex_contract.CONTRACT,
    "bitflyer": bitflyer_contract.CONTRACT,
    "bitmex": bitmex_contract.CONTRACT,
    "bitstamp": bitstamp_contract.CONTRACT,
    "bybit": bybit_contract.CONTRACT,
    "coinbase": coinbase_contract.CONTRACT,
    "coinbase-exchange": coinbase_exchange_contract.CONTRACT,
    "deribit": deribit_contract.CONTRACT,
    "gateio": gateio_contract.SPOT,
    "gateio-futures": gateio_contract.FUTURES,
    "gemini": gemini_contract.CONTRACT,
    "htx": htx_contract.CONTRACT,
    "htx-swap": htx_contract.CONTRACT,
    "hyperliquid": hyperliquid_contract.CONTRACT,
    "kraken": kraken_contract.CONTRACT,
    "kraken-futures": kraken_futures_contract.CONTRACT,
    "kucoin": kucoin_contract.CONTRACT,
    "okx": okx_contract.CONTRACT,
    "bitget": bitget_contract.CONTRACT,
    "crypto-com": crypto_com_contract.CONTRACT,
    "okcoin": okcoin_contract.CONTRACT,
    "phemex": phemex_contract.CONTRACT,
    "poloniex": poloniex_contract.CONTRACT,
    "upbit": upbit_contract.CONTRACT,
}


class NoContract(KeyError):
    def __str__(self) -> str:
        return f"no contract for exchange {self.args[0]!r}; known: {', '.join(sorted(CONTRACTS))}"


def contract_for(slug: str) -> VenueContract:
    """The contract of adapter ``slug``; every registered adapter must have one."""
    try:
        return CONTRACTS[slug]
    except KeyError:
        raise NoContract(slug) from None


__all__ = ["CONTRACTS", "REGISTRY", "NoContract", "contract_for"]
