"""Deterministic sharding of the configured subscriptions across collector instances.

A fleet of ``N`` collectors shares one config; instance ``I`` keeps only its
share of it. Every instance computes the whole assignment from the config
alone, so the fleet agrees without talking to each other.

The unit of assignment is ``(exchange, symbol)``, carrying all of that
symbol's channels. The book engine cross-checks a symbol's book against the
exchange's best bid/ask (``bbo``) on the same runner, so book and bbo must
stay together; trades could go elsewhere, but splitting them would give one
symbol two shards' quality events and connection figures for no real balance
gain. Keeping the unit a symbol also means a shard is just a smaller config
(fewer symbols per exchange): the daemon needs no sharding logic at all.

The assignment is rendezvous (highest-random-weight) hashing made exactly
balanced: every unit ranks the shards by ``blake2b("exchange|symbol|shard")``
(stable across processes and Python versions, unlike the salted ``hash()``),
and units are matched to shards by deferred acceptance (Gale-Shapley): the
first ``units % N`` shards hold ``ceil(units / N)`` units, the others
``floor(units / N)`` (so with fewer units than shards the highest-numbered
shards idle), and a shard prefers the units that weigh most for it. The
result does not depend on the order of the config, every shard's load is
within one unit of every other's, and when ``N`` grows the units that move
are mostly those whose first choice is the new shard (the minimum), plus a
few percent displaced by the lower capacities (``tests/unit/test_sharding.py``
measures it). Pure rendezvous hashing moves exactly the minimum but leaves
loads to chance: with 8 symbols over 3 shards one of them is left empty about
one time in eight.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from collector.config import Config

#: (exchange slug, native symbol): what moves between shards as one piece.
Unit = tuple[str, str]

#: Environment variables read by ``resolve_shard``, in order of precedence.
SHARD_ENV = "COLLECTOR_SHARD"
SHARDS_ENV = "COLLECTOR_SHARDS"

_SPEC = re.compile(r"(\d+)/(\d+)")
_ORDINAL = re.compile(r".*-(\d+)")


class ShardError(ValueError):
    """A shard given badly; the message names where it came from and the fix."""


@dataclass(frozen=True)
class Shard:
    """Instance ``index`` of ``count``; ``source`` says where it was read, for logs."""

    index: int
    count: int
    source: str = "--shard"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def tag(self) -> str:
        """Goes into every file name, so shards (and fleets of other sizes) never collide."""
        return f"shard{self.index}of{self.count}"


def weight(unit: Unit, shard: int) -> int:
    """How much ``unit`` wants ``shard``: a stable 64-bit hash, the same in every process."""
    exchange, symbol = unit
    key = f"{exchange}|{symbol}|{shard}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def assign(units: Iterable[Unit], count: int) -> dict[Unit, int]:
    """The shard (0..count-1) of every unit; loads differ by at most one unit.

    Deferred acceptance: each unit proposes to shards in its rendezvous order;
    a full shard keeps the units that weigh most for it and turns away the
    lightest, which proposes to its next choice. The outcome is the unique
    unit-optimal stable matching, so the input order does not matter.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    todo = sorted(set(units))
    base, extra = divmod(len(todo), count)
    capacity = [base + (s < extra) for s in range(count)]
    ranking = {u: sorted(range(count), key=lambda s, u=u: (-weight(u, s), s)) for u in todo}
    tried = dict.fromkeys(todo, 0)
    held: list[list[tuple[int, Unit]]] = [[] for _ in range(count)]  # min-heaps
    while todo:
        unit = todo.pop()
        shard = ranking[unit][tried[unit]]
        tried[unit] += 1
        heapq.heappush(held[shard], (weight(unit, shard), unit))
        if len(held[shard]) > capacity[shard]:
            todo.append(heapq.heappop(held[shard])[1])
    return {unit: s for s, heap in enumerate(held) for _, unit in heap}


def units_of(config: Config) -> list[Unit]:
    """Every configured (exchange, symbol), in config order."""
    return [(ex.name, symbol) for ex in config.exchanges for symbol in ex.symbols]


def shard_config(config: Config, shard: Shard) -> Config:
    """``config`` cut down to ``shard``'s units, with the shard tag in its instance name.

    An exchange left with no symbol is dropped (the daemon then opens nothing
    for it); a shard left with no exchange at all runs idle.
    """
    owner = assign(units_of(config), shard.count)
    exchanges = []
    for ex in config.exchanges:
        mine = [s for s in ex.symbols if owner[(ex.name, s)] == shard.index]
        if mine:
            exchanges.append(msgspec.structs.replace(ex, symbols=mine))
    instance = f"{config.daemon.instance}-{shard.tag}"
    daemon = msgspec.structs.replace(config.daemon, instance=instance)
    return msgspec.structs.replace(config, exchanges=exchanges, daemon=daemon)


def parse_shard(text: str, source: str) -> Shard:
    """``"I/N"`` with 0 <= I < N; errors name ``source`` (the flag or variable) and the fix."""
    match = _SPEC.fullmatch(text.strip())
    if match is None:
        raise ShardError(
            f"{source}={text!r} is not I/N; "
            f"use e.g. {source}=0/3 (instance 0 of 3, counting from 0)"
        )
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise ShardError(f"{source}={text!r}: N must be at least 1; use e.g. {source}=0/1")
    if index >= count:
        raise ShardError(
            f"{source}={text!r}: I must be 0..{count - 1} (0 <= I < N, counting from 0); "
            f"use {source}={count - 1}/{count} for the last of {count}"
        )
    return Shard(index, count, source)


def resolve_shard(flag: str | None, env: Mapping[str, str], hostname: str) -> Shard | None:
    """The shard this instance is, or None to take the whole config.

    Precedence: ``--shard I/N``, then ``COLLECTOR_SHARD=I/N``, then
    ``COLLECTOR_SHARDS=N`` with I the ordinal a StatefulSet puts at the end of
    the pod's hostname (``collector-3`` -> 3). The explicit forms win so a
    one-off run inside a pod can still pick its shard.
    """
    if flag is not None:
        return parse_shard(flag, "--shard")
    if env.get(SHARD_ENV, "").strip():
        return parse_shard(env[SHARD_ENV], SHARD_ENV)
    total = env.get(SHARDS_ENV, "").strip()
    if not total:
        return None
    if not total.isdigit() or int(total) < 1:
        raise ShardError(
            f"{SHARDS_ENV}={total!r} is not a whole number >= 1; "
            "set it to the StatefulSet's replicas"
        )
    name = hostname.split(".", 1)[0]
    match = _ORDINAL.fullmatch(name)
    if match is None:
        raise ShardError(
            f"{SHARDS_ENV}={total} is set but hostname {name!r} does not end in -<ordinal> "
            f"as StatefulSet pods do (collector-3); set {SHARD_ENV}=I/N or pass --shard I/N"
        )
    source = f"{SHARDS_ENV} and hostname {name}"
    if int(match[1]) >= int(total):
        raise ShardError(
            f"hostname {name!r} is ordinal {int(match[1])} but {SHARDS_ENV}={total}: "
            f"set {SHARDS_ENV} to the StatefulSet's replicas (more than {int(match[1])})"
        )
    return Shard(int(match[1]), int(total), source)


def describe(config: Config, shard: Shard) -> str:
    """One log line for the full ``config``: which units ``shard`` takes, out of how many."""
    total = len(units_of(config))
    mine = units_of(shard_config(config, shard))
    head = f"shard {shard} (from {shard.source}) takes {len(mine)} of {total} (exchange, symbol)"
    if not mine:
        return f"{head}: nothing assigned, running idle (healthy); fewer shards would do"
    return f"{head}: " + ", ".join(f"{ex} {symbol}" for ex, symbol in mine)
