"""Behavioural rules checked offline by replaying through the real pipeline.

Sequence continuity, checksums, crossed books and quote/book agreement are
already implemented once, in the adapter's ``sequence_rule`` and
``book_checksum`` and the book engine; restating them here would test a copy.
So the contract check feeds each record to a :class:`~collector.pipeline.Pipeline`
with a sink that keeps only the quality events, and turns the rule-breaking
ones into ``rule_violation`` drifts.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa

from collector.contract.model import RULE_VIOLATION, Drift
from collector.model import QualityKind

#: quality kind -> (message type, rule name) of the contract rule it breaks.
RULE_OF: Final = {
    QualityKind.GAP: ("book", "sequence"),
    QualityKind.DUPLICATE: ("book", "sequence"),
    QualityKind.CHECKSUM_MISMATCH: ("book", "checksum"),
    QualityKind.CROSSED_BOOK: ("book", "uncrossed"),
    QualityKind.BBO_MISMATCH: ("bbo", "matches_book"),
    QualityKind.MALFORMED: ("decode", "adapter_decodes"),
    QualityKind.EXCHANGE_ERROR: ("control", "no_exchange_error"),
}


class RuleSink:
    """A pipeline sink that keeps rule-breaking quality events as drifts (and no data)."""

    def __init__(self) -> None:
        self.drifts: list[tuple[Drift, str]] = []  # (drift, sample: the event's detail)
        self.checked: dict[str, int] = {}

    def write(self, table: str, exchange: str, data: pa.Table) -> None:
        if table != "quality":
            return
        for row in data.select(["symbol", "kind", "detail"]).to_pylist():
            rule = RULE_OF.get(row["kind"])
            if rule is None:
                continue
            detail = f"{row['symbol'] or ''} {row['detail']}".strip()
            self.drifts.append((Drift(RULE_VIOLATION, rule[0], rule[1], detail), detail))


def rule_counts(summary: dict[str, Any]) -> dict[str, int]:
    """How much the rules were exercised (a rule never exercised proves nothing)."""
    books = sum(s.book_rows > 0 or s.snapshots_applied > 0 for s in summary.values())
    return {
        "books_rebuilt": books,
        "checksums_verified": sum(s.checksums_verified for s in summary.values()),
        "bbo_matched": sum(s.bbo_matched for s in summary.values()),
    }
