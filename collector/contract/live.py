"""The live contract check: connect, record a session as a capture, check the capture.

``collector contract-check EXCHANGE --duration 60s`` runs the daemon's own
machinery (:class:`~collector.daemon.Daemon` with a config built in memory,
capture on) against the real exchange, or against ``--url`` (the simulator:
every URL origin the adapter uses is rewritten to ``URL/<slug>``, as
``config/demo.toml`` does). The capture it wrote is then checked twice:

* :func:`~collector.contract.check.check_recording`, the offline check, so a
  live session and a recording are judged by the same code (shapes, enums,
  timestamps, sequence and checksum rules);
* a replay through :class:`LivePipeline` for what only a session can show:
  how soon each channel delivered its first message (a silent handshake is a
  failure), which route delivered it, whether every book synced (the REST
  snapshot, or the in-band one, bridged the stream) and whether trade sides
  agree with the rebuilt book.

A channel with several documented routes (``ConnectionPlan.fallbacks``) is
given half the deadline per route in the session: the daemon moves it off a
silent route as it would in production, the check reports the route that
delivered, and a move is drift (``first_route_delivers``): the plan's newest
route is silent and the adapter's order wants revisiting.

Derivative channels (``derivative_ticker``, ``liquidations``, ``options``) are
checked where the adapter serves them for every symbol of the session (the
daemon subscribes each symbol to each channel): ``options`` only for option
symbols (Deribit's ``ticker`` would accept a perpetual and send no option
summary), none for spot markets. ``derivative_ticker`` and ``options`` must
deliver within the deadline like the book; ``liquidations`` arrive only when
someone is liquidated, so their silence is reported, not judged
(:data:`EVENT_DRIVEN`). A venue that polls REST for part of a channel (Binance
open interest, ``poll_requests``) is polled every half deadline in the session,
so its answers are timed as ``derivative_ticker (poll)`` and validated like any
REST body. ``--channels`` narrows the check.

Those findings become ``rule_violation`` entries of the same
:class:`~collector.contract.report.DriftReport` plus its ``live`` section.
Exit codes (:func:`exit_code`): 0 pass, 1 drift, 3 unreachable (no connection
opened and no REST answer came back); 2 stays for usage errors.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import adapters
from collector.adapter import ALL_CHANNELS, Subscription, derivative_channels, market_channels
from collector.capture.records import Record
from collector.config import Config, parse_config
from collector.contract.check import check_recording
from collector.contract.model import RULE_VIOLATION, Drift
from collector.contract.report import (
    SAMPLE_CHARS,
    ChannelLatency,
    DriftReport,
    Entry,
    LiveFindings,
)
from collector.markets import option_terms
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    DerivativeTicker,
    Liquidation,
    Message,
    OptionSummary,
    Trade,
)
from collector.pipeline import Pipeline
from collector.replay import load_instruments
from collector.routes import RouteLog, parse_route_note, route_label

#: Symbols checked when none are given: each venue's most liquid pair or two, in its
#: own spelling (as ``config/venues.toml``), so every channel has data within seconds.
DEFAULT_SYMBOLS: Final[dict[str, tuple[str, ...]]] = {
    "binance-spot": ("BTCUSDT", "ETHUSDT"),
    "binance-us": ("BTCUSD", "ETHUSD"),
    "binance-tr": ("BTCTRY", "ETHTRY"),
    "binance-usdm": ("BTCUSDT", "ETHUSDT"),
    "binance-coinm": ("BTCUSD_PERP", "ETHUSD_PERP"),
    "bitfinex": ("tBTCUSD", "tETHUSD"),
    "bitmex": ("XBTUSD", "ETHUSD"),
    "bitstamp": ("btcusd", "ethusd"),
    "bybit": ("linear:BTCUSDT", "spot:BTCUSDT"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "coinbase-exchange": ("BTC-USD", "ETH-USD"),
    "deribit": ("BTC-PERPETUAL", "ETH-PERPETUAL"),
    "gateio": ("BTC_USDT", "ETH_USDT"),
    "gateio-futures": ("BTC_USDT", "ETH_USDT"),
    "kraken": ("BTC/USD", "ETH/USD"),
    "kraken-futures": ("PF_XBTUSD", "PF_ETHUSD"),
    "gemini": ("BTCUSD", "ETHUSD"),
    "hyperliquid": ("BTC", "ETH"),
    "bitflyer": ("BTC_JPY", "FX_BTC_JPY"),
    "kucoin": ("BTC-USDT", "ETH-USDT"),
    "okx": ("BTC-USDT", "BTC-USDT-SWAP"),
    "okcoin": ("BTC-USD", "ETH-USD"),
    "bitget": ("SPOT:BTCUSDT", "USDT-FUTURES:BTCUSDT"),
    "crypto-com": ("BTC_USDT", "BTCUSD-PERP"),
    "phemex": ("BTCUSD", "sBTCUSDT"),
    "poloniex": ("BTC_USDT", "ETH_USDT"),
    "htx": ("btcusdt", "ethusdt"),
    "htx-swap": ("BTC-USDT", "BTC-USD"),
    "upbit": ("KRW-BTC", "KRW-ETH"),
}

#: A channel whose first message comes later than this after connecting is silent
#: (capped at the session's duration).
DEFAULT_DEADLINE_S: Final = 15.0
#: Without any connection opened or REST answer by then, the venue is unreachable
#: (capped at the session's duration).
CONNECT_TIMEOUT_S: Final = 10.0
#: A live message whose exchange time is further than this from its receipt (median per
#: channel and symbol) has insane timestamps: the recording check's 24 h window catches
#: unit mistakes, this catches a clock or time zone shift on a live feed.
LAG_MAX_S: Final = 30.0
#: Exchange-time lags kept per (channel, symbol) for the median.
LAG_SAMPLES: Final = 10_000
#: Fewer trades judged against the book than this: side agreement is reported, not judged.
SIDE_MIN_TRADES: Final = 10
#: Below this fraction of judged trades on their stated side of the book, the sides drifted
#: (an inverted ``m``/``side`` flag gives about 0; honest feeds about 1: trades are
#: judged only when their price is at or through a touch, see :class:`LivePipeline`).
SIDE_AGREEMENT_MIN: Final = 0.9

#: Channels whose messages follow events, not time: silence is reported, never drift.
EVENT_DRIVEN: Final = frozenset({"liquidations"})
#: The channel name under which REST-polled derivative state is timed.
POLLED: Final = "derivative_ticker (poll)"

#: The session's channel per normalized message type (what a message proves delivered).
CHANNEL_OF: Final[dict[type, str]] = {
    Trade: "trades",
    BestBidAsk: "bbo",
    BookDelta: "book",
    BookSnapshot: "book",
    DerivativeTicker: "derivative_ticker",
    Liquidation: "liquidations",
    OptionSummary: "options",
}

PASS: Final = 0
DRIFT: Final = 1
USAGE: Final = 2
UNREACHABLE: Final = 3


class LiveCheckError(ValueError):
    """Bad arguments for a live check (unknown exchange, channel-less symbols)."""


def channels_of(slug: str, symbol: str) -> list[str]:
    """The channels the adapter can subscribe ``symbol`` to (its contracted streams)."""
    adapter = adapters.create(slug)
    return [c for c in market_channels(adapter) if adapter.plan([Subscription(symbol, c)])]


def _serves(adapter: object, symbol: str, channel: str) -> bool:
    """Whether a derivative ``channel`` can deliver anything for ``symbol``.

    The adapter's ``plan`` refuses what it does not serve; beyond that, a spot market
    has no derivative state (its market id has no ``-PERP`` or expiry part) and only
    an option has an option summary.
    """
    try:
        adapter.plan([Subscription(symbol, channel)])  # type: ignore[attr-defined]
    except ValueError:
        return False
    if channel == "options":
        return option_terms(symbol.rpartition(":")[2]) is not None
    return adapter.market(symbol).count("-") >= 2  # type: ignore[attr-defined]


def session_channels(
    slug: str, symbols: Sequence[str], wanted: Sequence[str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The channels to check for ``symbols`` (all the venue serves, or ``wanted``), and
    why each derivative channel the venue lists is left out (channel -> reason).

    One session subscribes every symbol to every channel, so a channel is checked
    only when every symbol has it. Raises :class:`LiveCheckError` for a symbol the
    adapter refuses, or a ``wanted`` channel that is unknown or not served here.
    """
    adapter = adapters.create(slug)
    derivative = derivative_channels(adapter)
    served = market_channels(adapter) + derivative
    for channel in wanted or ():
        if channel not in ALL_CHANNELS:
            raise LiveCheckError(f"{channel!r} is not a channel: {', '.join(ALL_CHANNELS)}")
        if channel not in served:
            raise LiveCheckError(f"{slug} does not serve {channel!r}: {', '.join(served)}")
    try:  # the adapter refuses symbols it cannot subscribe (e.g. Bybit's without category)
        base = [
            c for c in market_channels(adapter) if all(c in channels_of(slug, s) for s in symbols)
        ]
    except ValueError as exc:
        raise LiveCheckError(str(exc)) from None
    channels, left_out = list(base), {}
    for channel in derivative:
        serving = [s for s in symbols if _serves(adapter, s, channel)]
        if len(serving) == len(symbols):
            channels.append(channel)
        elif serving:
            only = " ".join(serving)
            left_out[channel] = f"served for {only} only (check it with --symbols {only})"
        else:
            left_out[channel] = f"not served for {', '.join(symbols)}"
    if wanted:
        for channel in wanted:
            if channel not in channels:
                raise LiveCheckError(
                    f"{slug}: {channel} cannot be checked with {', '.join(symbols)}: "
                    + left_out.get(channel, "no stream for these symbols")
                )
        channels = [c for c in channels if c in wanted]
        left_out = {c: r for c, r in left_out.items() if c in wanted}
    return channels, left_out


def streamed_channels(slug: str, symbols: Sequence[str], channels: Sequence[str]) -> list[str]:
    """The ``channels`` that add a stream of their own when all are subscribed together.

    Bitfinex serves ``bbo`` from a one-level book only for symbols without a full
    book: with ``book`` subscribed, ``bbo`` plans nothing more and sends nothing,
    which must not be judged a silent channel.
    """

    def wire(chosen: Sequence[str]) -> list[tuple[str, list[str]]]:
        subs = [Subscription(s, c) for s in symbols for c in chosen]
        return sorted((p.url, sorted(p.subscribe)) for p in adapters.create(slug).plan(subs))

    everything = wire(channels)
    return [c for c in channels if wire([x for x in channels if x != c]) != everything]


def origins(slug: str, symbols: Sequence[str], channels: Sequence[str]) -> list[str]:
    """Every URL origin of the adapter's plans, snapshot and instrument requests."""
    adapter = adapters.create(slug)
    plans = adapter.plan([Subscription(s, c) for s in symbols for c in channels])
    urls = [r.url for p in plans for r in p.routes()]
    urls += [r.url for r in adapter.instrument_requests()]
    for symbol in symbols:
        request = adapter.snapshot_request(symbol)
        if request is not None:
            urls.append(request.url)
    return sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls})


def rewrite_rules(
    slug: str, symbols: Sequence[str], channels: Sequence[str], url: str
) -> dict[str, str]:
    """``origin -> URL/<slug>`` for every origin the adapter uses (ws and http kept apart)."""
    base = urlsplit(url.rstrip("/"))
    secure = base.scheme in ("https", "wss")
    rest = f"{base.netloc}{base.path}/{slug}"
    rules = {}
    for origin in origins(slug, symbols, channels):
        is_ws = origin.startswith(("ws:", "wss:"))
        scheme = ("wss" if secure else "ws") if is_ws else ("https" if secure else "http")
        rules[origin] = f"{scheme}://{rest}"
    return rules


def session_config(
    slug: str,
    symbols: Sequence[str],
    channels: Sequence[str],
    work: Path,
    rewrite: dict[str, str],
    stale_after_s: dict[str, float] | None = None,
    poll_interval_s: float | None = None,
) -> Config:
    """The daemon config of one check session: capture on, metrics off, all under ``work``.

    ``stale_after_s``: per-channel deadlines (the routed channels' time per route);
    ``poll_interval_s``: how often the daemon polls REST derivative state."""
    q = json.dumps  # TOML basic strings take JSON's escapes
    stale = ", ".join(f"{c} = {s}" for c, s in (stale_after_s or {}).items())
    rules = ", ".join(f"{q(k)} = {q(v)}" for k, v in rewrite.items())
    text = "\n".join(
        [
            f"[output]\ndir = {q(str(work / 'data'))}",
            f"[capture]\nenabled = true\ndir = {q(str(work / 'capture'))}",
            "[daemon]\nflush_interval_s = 0.5\nuvloop = false",
            "[metrics]\nenabled = false",
            "[[exchange]]",
            f"name = {q(slug)}",
            f"symbols = [{', '.join(q(s) for s in symbols)}]",
            f"channels = [{', '.join(q(c) for c in channels)}]",
            f"rewrite = {{ {rules} }}",
            f"stale_after_s = {{ {stale} }}",
        ]
        + ([f"poll_interval_s = {poll_interval_s}"] if poll_interval_s else [])
    )
    return parse_config(text, "contract-check")


class Session:
    """What the recording session itself saw (beyond what the capture holds)."""

    def __init__(self) -> None:
        self.opened = 0
        self.frames = 0
        self.http_ok = 0
        self.capture: list[Path] = []
        self.stopped_early = ""


async def record_session(
    config: Config, duration_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> Session:
    """Run the daemon for ``duration_s`` (less if nothing connects); return what it captured."""
    from collector.daemon import Daemon

    daemon = Daemon(config)
    session = Session()
    (runner,) = daemon.runners
    on_open, record = runner.on_open, runner._record

    def opened(conn: int, url: str, ts: int) -> None:
        session.opened += 1
        on_open(conn, url, ts)

    def recorded(rec: Record) -> None:
        if rec.kind == "http" and rec.status is not None and 200 <= rec.status < 300:
            session.http_ok += 1
        record(rec)

    # Instance attributes: the supervisors call ``handler.on_open``, the runner its own
    # ``_record``; the daemon itself is unchanged.
    runner.on_open = opened  # type: ignore[method-assign]
    runner._record = recorded  # type: ignore[method-assign]
    task = asyncio.create_task(daemon.run())
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < duration_s and not task.done():
            if elapsed >= connect_timeout_s and not session.opened and not session.http_ok:
                session.stopped_early = f"nothing connected within {connect_timeout_s:g} s"
                break
            await asyncio.sleep(0.05)
        session.frames = runner.pipeline.frames
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
    if runner.capture is not None:
        session.capture = list(runner.capture.completed_paths)
    return session


class LivePipeline(Pipeline):
    """A pipeline that also times each channel's first message and judges trade sides.

    A trade is judged against the book as rebuilt from everything received before
    its frame: a taker buy at or above the best ask agrees, at or below the best bid
    it contradicts (sells the other way round). A trade strictly inside the spread
    is not judged: the venue's book update for the liquidity it took may simply
    have arrived first, on the same or another connection.
    """

    def __init__(self, adapter: object, sink: object) -> None:
        super().__init__(adapter, sink)  # type: ignore[arg-type]
        self.first_open: int | None = None
        self.first: dict[tuple[str, str], int] = {}  # (channel, symbol) -> ts_recv
        self.count: dict[tuple[str, str], int] = {}
        self.lags: dict[tuple[str, str], list[int]] = {}  # ts_recv - ts_exchange, ns
        self.judged = 0
        self.agreeing = 0
        self.inside = 0
        self.unjudged = 0  # no synced book at the time
        self.contradiction: str | None = None  # first one, with its frame
        self.http_snapshots = 0
        #: Each channel's last data message came on this connection (its route: ``conn_routes``).
        self.last_conn: dict[str, int] = {}
        self.conn_routes: dict[int, str] = {}  # conn -> the route it was opened on
        self.moves: list[str] = []  # the daemon's route moves, as its drift events say
        self._route_log = RouteLog()
        self._frame: str | bytes = ""
        self._from_frame = False
        self._from_http = False
        self._conn = 0

    def on_record(self, record: Record) -> None:
        if record.kind == "open":
            if self.first_open is None:
                self.first_open = record.ts
            data = record.data if isinstance(record.data, str) else ""
            note = parse_route_note(data)
            self.conn_routes[record.conn] = note[3] if note else route_label(record.url)
            if (moved := self._route_log.opened(data, record.ts)) is not None:
                self.moves.append(moved.detail)
        self._conn = record.conn
        self._from_frame = record.kind == "recv"
        self._from_http = record.kind == "http"
        self._frame = record.data if record.kind == "recv" else ""
        super().on_record(record)

    def _dispatch(self, messages: list[Message]) -> None:
        for msg in messages:
            cls = type(msg)
            channel = CHANNEL_OF.get(cls)
            if channel is None:
                continue
            if cls is Trade:
                self._judge(msg)  # type: ignore[arg-type]
            elif cls is BookSnapshot and not self._from_frame:
                self.http_snapshots += 1
                continue
            if self._from_http and cls is DerivativeTicker:
                key = (POLLED, msg.symbol)  # type: ignore[union-attr]
                self.first.setdefault(key, msg.ts_recv)  # type: ignore[union-attr]
                self.count[key] = self.count.get(key, 0) + 1
            elif self._from_frame:
                self.last_conn[channel] = self._conn
                key = (channel, msg.symbol)  # type: ignore[union-attr]
                self.first.setdefault(key, msg.ts_recv)  # type: ignore[union-attr]
                self.count[key] = self.count.get(key, 0) + 1
                ts = msg.ts_exchange  # type: ignore[union-attr]
                if ts is not None:
                    lags = self.lags.setdefault(key, [])
                    if len(lags) < LAG_SAMPLES:
                        lags.append(msg.ts_recv - ts)  # type: ignore[union-attr]
        super()._dispatch(messages)

    def _judge(self, trade: Trade) -> None:
        sync = self.engine.symbols.get(trade.symbol)
        if sync is None or sync.state.value != "synced":
            self.unjudged += 1
            return
        bid, ask = sync.book.bids.best(), sync.book.asks.best()
        try:
            price = Decimal(trade.price)
        except InvalidOperation:
            self.unjudged += 1
            return
        if bid is None or ask is None:
            self.unjudged += 1
            return
        buy = trade.side == "buy"
        if (price >= ask[0]) if buy else (price <= bid[0]):
            self.judged += 1
            self.agreeing += 1
        elif (price <= bid[0]) if buy else (price >= ask[0]):
            self.judged += 1
            if self.contradiction is None:
                frame = self._frame if isinstance(self._frame, str) else repr(self._frame)
                self.contradiction = (
                    f"{trade.symbol} {trade.side} at {trade.price} with the book at "
                    f"{bid[0]} / {ask[0]}; frame: {frame}"
                )
        else:
            self.inside += 1


class _NoSink:
    def write(self, table: str, exchange: str, data: object) -> None:
        pass


def analyse(
    capture: Path,
    slug: str,
    symbols: Sequence[str],
    channels: Sequence[str],
    deadline_s: float,
) -> tuple[LiveFindings, list[tuple[Drift, str]]]:
    """The live-only findings of a session's capture, and the drifts they amount to."""
    from collector.capture.reader import open_recording

    adapter = adapters.create(slug)
    load_instruments(adapter, capture)
    pipeline = LivePipeline(adapter, _NoSink())
    sends: list[str] = []
    opens: list[str] = []
    _, records = open_recording(capture)
    for record in records:
        if record.kind == "open" and record.url not in opens:
            opens.append(record.url)
        elif record.kind == "send" and isinstance(record.data, str):
            sends.append(record.data)
        pipeline.on_record(record)
    pipeline.finish()
    drifts: list[tuple[Drift, str]] = []
    start = pipeline.first_open
    latencies: list[ChannelLatency] = []
    silent: list[str] = []
    subscribe = (
        f"connected to {', '.join(opens) or 'nothing'}; sent: {'; '.join(sends) or 'nothing'}"
    )
    for channel in channels:
        for symbol in symbols:
            first = pipeline.first.get((channel, symbol))
            # A REST poll may answer before the first connection opens: that is at once.
            after = None if first is None or start is None else max(0.0, (first - start) / 1e9)
            n = pipeline.count.get((channel, symbol), 0)
            lags = sorted(pipeline.lags.get((channel, symbol), ()))
            lag = lags[len(lags) // 2] / 1e9 if lags else None
            latencies.append(ChannelLatency(channel, symbol, after, n, lag))
            if lag is not None and abs(lag) > LAG_MAX_S:
                detail = (
                    f"{channel} {symbol}: received {lag:+.1f} s after the exchange time "
                    f"(median of {len(lags)}); more than {LAG_MAX_S:g} s either way"
                )
                drifts.append(
                    (Drift(RULE_VIOLATION, channel, "timestamps_near_receipt", detail), detail)
                )
            if channel in EVENT_DRIVEN:
                continue  # data whenever someone is liquidated: no deadline
            if after is None or after > deadline_s:
                what = f"no data on {channel} for {symbol} within {deadline_s:g} s of connecting"
                if after is not None:
                    what += f" (first after {after:.1f} s)"
                silent.append(f"{channel} {symbol}")
                drifts.append((Drift(RULE_VIOLATION, channel, "delivers_data", what), subscribe))
    books: dict[str, str] = {}
    summary = pipeline.summary()
    if "book" in channels:
        for symbol in symbols:
            s = summary.get(symbol)
            messages = pipeline.count.get(("book", symbol), 0)
            if s is None or not messages:
                books[symbol] = "no book data"
                continue  # already a silent channel
            if s.book_rows or s.synced:
                books[symbol] = "synced"
                continue
            books[symbol] = (
                f"never synced: {messages} book messages, {s.snapshots_applied} snapshots "
                f"applied, {s.gaps} gaps, {s.resyncs} resyncs"
            )
            detail = f"{symbol} {books[symbol]}"
            drifts.append((Drift(RULE_VIOLATION, "book", "snapshot_bridges", detail), detail))
    routes = {c: pipeline.conn_routes.get(conn, "") for c, conn in pipeline.last_conn.items()}
    for detail in pipeline.moves:
        channel = detail.partition(":")[0]
        drifts.append((Drift(RULE_VIOLATION, channel, "first_route_delivers", detail), detail))
    agreement = pipeline.agreeing / pipeline.judged if pipeline.judged else None
    if (
        agreement is not None
        and pipeline.judged >= SIDE_MIN_TRADES
        and agreement < SIDE_AGREEMENT_MIN
    ):
        detail = (
            f"{pipeline.agreeing} of {pipeline.judged} trades at or through the touch are on "
            f"their stated side ({agreement:.0%} < {SIDE_AGREEMENT_MIN:.0%})"
        )
        sample = pipeline.contradiction or detail
        drifts.append((Drift(RULE_VIOLATION, "trade", "side_agrees_with_book", detail), sample))
    findings = LiveFindings(
        capture=str(capture),
        deadline_s=deadline_s,
        channels=latencies,
        silent=silent,
        event_driven=[c for c in channels if c in EVENT_DRIVEN],
        books=books,
        routes={c: routes[c] for c in channels if c in routes},
        route_moves=pipeline.moves,
        snapshots_fetched=pipeline.http_snapshots,
        trades_judged=pipeline.judged,
        trades_agreeing=pipeline.agreeing,
        trades_inside_spread=pipeline.inside,
        trades_unjudged=pipeline.unjudged,
        side_agreement=agreement,
        side_agreement_min=SIDE_AGREEMENT_MIN,
    )
    return findings, drifts


def live_check(
    slug: str,
    symbols: Sequence[str] | None = None,
    *,
    duration_s: float = 60.0,
    url: str | None = None,
    record_dir: Path | None = None,
    deadline_s: float | None = None,
    connect_timeout_s: float | None = None,
    channels: Sequence[str] | None = None,
) -> DriftReport:
    """Record a session of ``slug`` and check it; see the module docstring."""
    return asyncio.run(
        live_check_async(
            slug,
            symbols,
            duration_s=duration_s,
            url=url,
            record_dir=record_dir,
            deadline_s=deadline_s,
            connect_timeout_s=connect_timeout_s,
            channels=channels,
        )
    )


async def live_check_async(
    slug: str,
    symbols: Sequence[str] | None = None,
    *,
    duration_s: float = 60.0,
    url: str | None = None,
    record_dir: Path | None = None,
    deadline_s: float | None = None,
    connect_timeout_s: float | None = None,
    channels: Sequence[str] | None = None,
) -> DriftReport:
    """:func:`live_check` inside a running event loop (tests run the simulator beside it)."""
    if slug not in adapters.REGISTRY:
        raise LiveCheckError(str(adapters.UnknownExchange(slug)))
    symbols = list(symbols or DEFAULT_SYMBOLS.get(slug, ()))
    if not symbols:
        raise LiveCheckError(f"no default symbols for {slug}; pass --symbols")
    channels, left_out = session_channels(slug, symbols, channels)
    if not channels:
        raise LiveCheckError(f"{slug}: no channel can subscribe {', '.join(symbols)}")
    timed = streamed_channels(slug, symbols, channels)
    deadline = min(deadline_s or DEFAULT_DEADLINE_S, duration_s)
    connect = min(connect_timeout_s or CONNECT_TIMEOUT_S, duration_s)
    rewrite = rewrite_rules(slug, symbols, channels, url) if url else {}
    adapter = adapters.create(slug)
    subs = [Subscription(s, c) for s in symbols for c in channels]
    routed = {s.channel for p in adapter.plan(subs) if p.fallbacks for s in p.subscriptions}
    # Polled state (Binance open interest): every symbol's first poll within half the deadline.
    polls = getattr(adapter, "poll_requests", lambda subs: [])(subs)
    poll_interval = deadline / 2 if polls else None
    with tempfile.TemporaryDirectory(prefix="contract-check-") as tmp:
        work = record_dir or Path(tmp)
        per_route = {c: deadline / 2 for c in sorted(routed)}
        config = session_config(slug, symbols, channels, work, rewrite, per_route, poll_interval)
        session = await record_session(config, duration_s, connect)
        where = url or "the exchange"
        if not session.capture:
            report = DriftReport(path=f"{slug}: live session", exchange=slug, venue=slug)
            report.live = LiveFindings(
                capture="", deadline_s=deadline, unreachable=True, url=where,
                duration_s=duration_s, symbols=symbols, stopped_early=session.stopped_early,
                not_checked=left_out,
            )  # fmt: skip
            return report
        capture = session.capture[-1]
        report = await asyncio.to_thread(check_recording, capture, slug)
        findings, drifts = await asyncio.to_thread(
            analyse, capture, slug, symbols, timed + ([POLLED] if polls else []), deadline
        )
    findings.url = where
    findings.duration_s = duration_s
    findings.symbols = symbols
    findings.connections = session.opened
    findings.not_streamed = [c for c in channels if c not in timed]
    findings.not_checked = left_out
    findings.stopped_early = session.stopped_early
    findings.unreachable = not session.opened and not session.http_ok
    if record_dir is None:
        findings.capture = ""  # it was in a temporary directory, gone now
        report.path = f"{slug}: live session (capture not kept; --record DIR keeps it)"
    report.live = findings
    if not findings.unreachable:
        _add(report, drifts)
    return report


def _add(report: DriftReport, drifts: list[tuple[Drift, str]]) -> None:
    """Fold live findings into the report's entries, aggregated as the builder does."""
    by_key = {e.key: e for e in report.entries}
    for drift, sample in drifts:
        key = (drift.kind, drift.message_type, drift.field)
        if key in by_key:
            by_key[key].count += 1
            continue
        entry = Entry(*key, 1, drift.detail, sample[:SAMPLE_CHARS])
        by_key[key] = entry
        report.entries.append(entry)


def exit_code(report: DriftReport) -> int:
    """0 pass, 1 drift, 3 unreachable (nothing connected and no REST answer)."""
    if report.live is not None and report.live.unreachable:
        return UNREACHABLE
    return PASS if report.passed else DRIFT
