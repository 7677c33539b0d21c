"""The adapter contract: what an exchange module must provide, and nothing more.

Adapters are sans-I/O. They never open a socket, sleep, log or read a clock; they
describe connections and translate bytes. Everything stateful about the network
(retries, timers, rate limits) lives in the transport, everything stateful about
books in the engine. That is what lets a recording replay through exactly the
code the daemon runs, with no patching.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from collector.book.book import OrderBook
from collector.book.sequence import SequenceRule
from collector.model import Message

#: Channels a user can ask for, per symbol, on every venue (the default set).
CHANNELS = ("book", "trades", "bbo")
#: Derivatives channels (tables ``derivative_ticker``, ``liquidations``, ``option_summary``):
#: only on the venues whose adapter lists them in ``derivative_channels``.
DERIVATIVE_CHANNELS = ("derivative_ticker", "liquidations", "options")
ALL_CHANNELS = CHANNELS + DERIVATIVE_CHANNELS


def market_channels(adapter: object) -> tuple[str, ...]:
    """The ``CHANNELS`` ``adapter`` serves: all of them, unless it lists fewer in
    ``market_channels`` (a venue with no best-bid/ask stream: Gemini, Phemex). The config
    then defaults to these and refuses the others, rather than subscribing nothing in silence."""
    return tuple(getattr(adapter, "market_channels", CHANNELS))


def derivative_channels(adapter: object) -> tuple[str, ...]:
    """The derivatives channels ``adapter`` serves (none for a spot-only venue)."""
    return tuple(getattr(adapter, "derivative_channels", ()))


class Subscription(msgspec.Struct, frozen=True):
    """One (symbol, channel) a user wants; ``symbol`` is the native symbol."""

    symbol: str
    channel: str


class ConnectionPlan(msgspec.Struct, frozen=True):
    """One websocket connection the transport should open and keep alive.

    ``subscribe`` frames are sent in order after the handshake (at most
    ``max_messages_per_second``); ``lifetime_s`` is how long the venue lets a
    connection live, so the transport can roll over before it is cut.

    ``fallbacks``: other documented routes (URL path, stream names) for exactly
    these subscriptions, next newest first. Venues move streams between paths
    and leave the old one accepting subscriptions in silence; the daemon tries
    them in order when this route stays silent (``collector.routes``). A plan
    with fallbacks carries one channel, or channels that always move together.
    """

    url: str
    subscribe: list[str]
    subscriptions: list[Subscription]
    max_messages_per_second: float
    lifetime_s: float
    app_ping: str | None = None
    app_ping_interval_s: float | None = None
    fallbacks: list[ConnectionPlan] = msgspec.field(default_factory=list)
    #: A REST call whose answer says where to connect (KuCoin's token call). The
    #: transport makes it before every connect, recorded, and connects where the
    #: adapter's ``endpoint`` says; ``url`` is then only the documented default,
    #: for logs and for pointing a config's ``rewrite`` at.
    bootstrap: RestRequest | None = None

    def routes(self) -> list[ConnectionPlan]:
        """This plan and its fallbacks, in the order they are tried."""
        return [self, *self.fallbacks]


class RestRequest(msgspec.Struct, frozen=True):
    """An HTTP request the transport performs; the body goes back to ``decode_rest``.

    ``method`` is GET but for the rare call a venue takes only as POST (KuCoin's
    token call, sent with an empty body).
    """

    url: str
    weight: int = 1
    method: str = "GET"


class Endpoint(msgspec.Struct, frozen=True):
    """Where a connection goes, as a venue's bootstrap answer gives it.

    ``ping_interval_s`` replaces the plan's ``app_ping_interval_s`` when the
    venue states it in the same answer (KuCoin's ``pingInterval``).
    """

    url: str
    ping_interval_s: float | None = None


class Bootstrapped(Protocol):
    """An adapter whose plans carry a ``bootstrap`` request (besides ``Adapter``).

    Sans-I/O like the rest: the daemon makes the call, and passes the answer here.
    """

    def endpoint(self, body: str | bytes, connect_id: str) -> Endpoint:
        """The URL to connect to, from the bootstrap answer ``body``.

        ``connect_id`` is unique per connection attempt (venues that take one, like
        KuCoin, echo it in their welcome). Raises ``ValueError`` for an answer that
        names no endpoint: the attempt then counts as a failed connect.
        """
        ...


class PollRequest(msgspec.Struct, frozen=True):
    """A REST request the daemon repeats every ``interval_s`` (open interest, ...).

    Declared by an adapter (``poll_requests``) for data a venue serves only over
    REST; the daemon polls it within the venue's weight budget and records each
    body, which then goes through ``decode_rest`` like any other.
    """

    request: RestRequest
    interval_s: float


def symbols_per_connection(
    subscriptions: list[Subscription], max_symbols: int, channels: Container[str]
) -> list[list[Subscription]]:
    """The subscriptions in ``channels``, split into connections of ``max_symbols`` symbols.

    Every channel of a symbol lands on the same connection (grouped by symbol,
    symbols in the order first asked for): on venues that resync a book by
    reconnecting, one reconnect then renews all of a symbol's streams together.
    """
    by_symbol: dict[str, list[Subscription]] = {}
    for sub in subscriptions:
        if sub.channel in channels:
            by_symbol.setdefault(sub.symbol, []).append(sub)
    symbols = list(by_symbol)
    return [
        [sub for symbol in symbols[i : i + max_symbols] for sub in by_symbol[symbol]]
        for i in range(0, len(symbols), max_symbols)
    ]


@dataclass(frozen=True)
class SymbolGrammar:
    """What a venue's native symbols look like, so the config check can refuse the rest.

    Data, not code, so that every venue states its form the same way and a config
    error can show it: ``form`` in words and ``examples`` that fit ``pattern``. It is
    deliberately no stricter than the venue's own lists (every symbol of every
    recorded instrument list fits): it catches typos, not unlisted markets.
    """

    pattern: re.Pattern[str]
    form: str
    examples: tuple[str, ...]

    def accepts(self, symbol: object) -> bool:
        return isinstance(symbol, str) and self.pattern.fullmatch(symbol) is not None

    def expected(self) -> str:
        """``form, e.g. 'A' or 'B'``: the end of a config error."""
        return f"{self.form}, e.g. {' or '.join(repr(e) for e in self.examples)}"


def grammar(pattern: str, form: str, *examples: str) -> SymbolGrammar:
    """A ``SymbolGrammar`` whose ``pattern`` must match a whole symbol."""
    return SymbolGrammar(re.compile(pattern), form, examples)


class Listings:
    """The native symbols each loaded instrument list names, by the list's scope.

    A venue splits its instruments over several lists (per category, per currency);
    a symbol can only be judged by the list that would name it. Until that list has
    loaded, ``listed`` says None (unknown): an unreachable REST host must never make
    the daemon drop a symbol.
    """

    def __init__(self) -> None:
        self._scopes: dict[str, set[str]] = {}

    def add(self, symbols: Iterable[str], scope: str = "") -> None:
        self._scopes.setdefault(scope, set()).update(symbols)

    def listed(self, symbol: str, scope: str = "") -> bool | None:
        names = self._scopes.get(scope)
        return None if names is None else symbol in names

    def names(self) -> set[str]:
        """Every symbol of every list loaded."""
        return set().union(*self._scopes.values())


class Adapter(Protocol):
    """What the engine and transport need from one exchange (or one market of it)."""

    #: Dataset name of the venue/market, e.g. ``binance-usdm``.
    slug: str
    #: How update ids chain snapshot and deltas.
    sequence_rule: SequenceRule
    #: REST request weight the venue allows per minute, or None when it has no such budget.
    rest_weight_per_minute: int | None
    #: The form of the venue's native symbols; the config check refuses others.
    symbol_grammar: SymbolGrammar
    #: The symbols of the instrument lists loaded so far (``decode_rest``), per list.
    listings: Listings

    def book_checksum(self, symbol: str, book: OrderBook) -> int | None:
        """The checksum the venue would send for ``book``, computed from its exact wire text.

        Called by the engine only for messages that carry a ``checksum``; venues
        without checksums return ``None`` (and never set one).
        """
        ...

    def connected(self, conn: int, url: str) -> None:
        """Connection ``conn`` opened to ``url`` (live, and in replay from the recording).

        For venues whose frames do not say which market they belong to (Bybit v5
        serves spot and linear ``BTCUSDT`` on different URLs with the same topic).
        """
        ...

    def decode(self, frame: str | bytes, ts_recv: int, conn: int = 0) -> list[Message]:
        """Translate one received websocket frame. Never raises for a peer's bad frame.

        ``conn`` tells connections apart, for venues whose sequence numbers are
        per connection (and during a make-before-break switch-over).
        """
        ...

    def decode_rest(self, url: str, body: str | bytes, ts_recv: int) -> list[Message]:
        """Translate one REST response body fetched from ``url``."""
        ...

    def market(self, symbol: str) -> str:
        """Normalized market name (``BTC-USDT``, ``BTC-USDT-PERP``) of a native symbol."""
        ...

    def instrument_requests(self) -> list[RestRequest]:
        """The REST requests whose bodies list the venue's instruments, in feeding order.

        The daemon fetches them once at start, before connecting, and passes each
        body to ``decode_rest`` (recording it, so a replay of the capture learns
        the same instruments): market names then come from the venue's metadata
        instead of being guessed from the symbol. Empty for venues that need none.
        """
        ...

    def listed(self, symbol: str) -> bool | None:
        """Whether the instrument lists loaded so far name ``symbol``.

        None when the list that would name it has not loaded (or the venue has none
        to judge by): the daemon then subscribes it anyway. False makes the daemon
        drop the symbol at start, with one ERROR, so it cannot break its connection.
        """
        ...

    def snapshot_request(self, symbol: str) -> RestRequest | None:
        """The REST request that returns a book snapshot for ``symbol``.

        ``None`` for venues that send their snapshots in-band: the transport then
        resyncs the symbol by reconnecting the connection that carries it.
        """
        ...

    def plan(self, subscriptions: list[Subscription]) -> list[ConnectionPlan]:
        """Split subscriptions into connections within the venue's limits."""
        ...


class MessageCounts:
    """Book messages numbered per (connection, symbol), for venues that send no update ids.

    The number is what orders a symbol's book messages in the ``seq`` column. It is per
    connection because a new connection starts with a new whole book (the venues' resync):
    ``forget`` it when the connection opens (the adapter's ``connected``), and it starts
    over, in the live run and in its replay alike.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str], int] = {}

    def next(self, conn: int, symbol: str) -> int:
        """The next number of ``symbol`` on ``conn``: 1 for its first message."""
        n = self._counts[conn, symbol] = self._counts.get((conn, symbol), 0) + 1
        return n

    def started(self, conn: int, symbol: str) -> bool:
        """Whether ``symbol`` has had a message numbered on ``conn``."""
        return (conn, symbol) in self._counts

    def forget(self, conn: int) -> None:
        """Start ``conn``'s numbers over (it is a new connection)."""
        for key in [k for k in self._counts if k[0] == conn]:
            del self._counts[key]
