"""Registry of exchange contracts, by adapter slug (mirrors ``adapters.REGISTRY``)."""

from __future__ import annotations

from adapters import (
    REGISTRY,
    binance_contract,
    bitfinex_contract,
    bitmex_contract,
    bybit_contract,
    coinbase_contract,
    coinbase_exchange_contract,
    deribit_contract,
    kraken_contract,
    okx_contract,
)
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
    "kraken": kraken_contract.CONTRACT,
    "okx": okx_contract.CONTRACT,
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
