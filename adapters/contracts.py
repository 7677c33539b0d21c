"""Registry of exchange contracts, by adapter slug (mirrors ``adapters.REGISTRY``)."""

from __future__ import annotations

from adapters import REGISTRY
from adapters.binance import contract as binance_contract
from adapters.bitfinex import contract as bitfinex_contract
from adapters.bitmex import contract as bitmex_contract
from adapters.bybit import contract as bybit_contract
from adapters.coinbase import contract as coinbase_contract
from adapters.coinbase_exchange import contract as coinbase_exchange_contract
from adapters.deribit import contract as deribit_contract
from adapters.htx import contract as htx_contract
from adapters.kraken import contract as kraken_contract
from adapters.okx import contract as okx_contract
from adapters.upbit import contract as upbit_contract
from collector.contract.model import VenueContract

CONTRACTS: dict[str, VenueContract] = {
    "binance-spot": binance_contract.SPOT,
    "binance-us": binance_contract.SPOT,
    "binance-tr": binance_contract.SPOT,
    "binance-usdm": binance_contract.USDM,
    "binance-coinm": binance_contract.COINM,
    "bitfinex": bitfinex_contract.CONTRACT,
    "bitmex": bitmex_contract.CONTRACT,
    "bybit": bybit_contract.CONTRACT,
    "coinbase": coinbase_contract.CONTRACT,
    "coinbase-exchange": coinbase_exchange_contract.CONTRACT,
    "deribit": deribit_contract.CONTRACT,
    "htx": htx_contract.CONTRACT,
    "htx-swap": htx_contract.CONTRACT,
    "kraken": kraken_contract.CONTRACT,
    "okx": okx_contract.CONTRACT,
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
