"""Counters served at ``/_stats``: what the simulator did, so tests can assert on it."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    """Connections, frames per stream, REST answers by status; faults live in ``FaultState``."""

    def __init__(self) -> None:
        self.connections_opened = 0
        self.connections_open = 0
        self.frames: Counter[str] = Counter()  # "<slug> <stream>" -> frames sent
        self.rest: Counter[str] = Counter()  # HTTP status -> answers

    def as_json(self, fired: Counter[str]) -> dict[str, Any]:
        per_stream: dict[str, dict[str, int]] = {}
        for key, count in sorted(self.frames.items()):
            slug, _, stream = key.partition(" ")
            per_stream.setdefault(slug, {})[stream] = count
        return {
            "connections": {"opened": self.connections_opened, "open": self.connections_open},
            "frames": per_stream,
            "frames_total": sum(self.frames.values()),
            "rest": dict(self.rest),
            "faults_fired": dict(fired),
        }
