"""Numbers for book messages that carry no update id (whole-book pushes: HTX, Upbit).

Such a venue's ``seq`` is the adapter's own: the position of the message among the
symbol's books on its connection, from 1. Per connection because a reconnect starts the
venue's stream over: the first book of a new connection is book 1 again, so a replay
of the capture, or of the venue's recording played back, numbers every book the same
way the live run did, and the number says where in its session a book came.
"""

from __future__ import annotations


class BookNumbers:
    """``next(conn, symbol)``: 1, 2, 3, ... for each symbol on each connection."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, str], int] = {}

    def next(self, conn: int, symbol: str) -> int:
        key = (conn, symbol)
        number = self._last.get(key, 0) + 1
        self._last[key] = number
        return number
