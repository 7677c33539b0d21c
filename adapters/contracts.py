"""Registry of exchange contracts, by adapter slug (mirrors ``adapters.REGISTRY``)."""

from __future__ import annotations

from adapters import REGISTRY
from adapters import bybit_contract
from collector.contract.model import VenueContract

CONTRACTS: dict[str, VenueContract] = {
    "bybit": bybit_contract.CONTRACT,
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
