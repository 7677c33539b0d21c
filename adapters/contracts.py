"""Registry of exchange contracts, by adapter slug (mirrors ``adapters.REGISTRY``)."""

from __future__ import annotations

from adapters import REGISTRY, binance_contract, bybit_contract, okx_contract
from collector.contract.model import VenueContract

CONTRACTS: dict[str, VenueContract] = {
    "binance-spot": binance_contract.SPOT,
    "binance-us": binance_contract.SPOT,
    "binance-tr": binance_contract.SPOT,
    "binance-usdm": binance_contract.USDM,
    "binance-coinm": binance_contract.COINM,
    "bybit": bybit_contract.CONTRACT,
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
