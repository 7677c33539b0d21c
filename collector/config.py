"""The daemon's TOML config, checked completely before anything starts.

A collector that dies an hour in because of a typo loses an hour of data, so
every rule is checked up front and *all* problems are reported at once, each on
its own line naming the key path, the bad value and what would be accepted.
Unknown keys are errors too: a misspelt optional key would otherwise silently
fall back to its default.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

import adapters
from collector.adapter import ALL_CHANNELS, CHANNELS, derivative_channels, market_channels
from collector.book.engine import SNAPSHOT_WITH
from collector.capture.records import DEFAULT_COMPRESSION_LEVEL
from collector.storage import is_remote, redact, uri_problem

MIB = 1024 * 1024
#: keys: ALL_CHANNELS. Liquidations can be rare for hours on a quiet contract.
DEFAULT_STALE_AFTER_S = {
    "book": 30.0,
    "trades": 120.0,
    "bbo": 30.0,
    "derivative_ticker": 60.0,
    "liquidations": 3600.0,
    "options": 60.0,
}


class ConfigError(ValueError):
    """Every problem found in one config, one per line (``.problems``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


GIB = 1024 * MIB


class OutputConfig(msgspec.Struct, frozen=True):
    """``dir`` is a path or an ``s3://``/``gs://`` URI; object storage is written via
    ``spool_dir`` (see ``collector.spool``), holding at most ``spool_max_bytes`` of
    finished files before the daemon's budget policy applies."""

    dir: str = "data"
    #: Minutes, not an hour: a file's rows are held in memory until it is published
    #: (so a failed write loses nothing), and published files survive anything.
    rotate_seconds: float = 300.0
    rotate_bytes: int = 256 * MIB
    #: Rows held in memory while writing fails; past it the oldest rows of the
    #: busiest table are dropped, with a ``buffer_overflow`` quality event.
    max_buffered_bytes: int = 1 * GIB
    endpoint_url: str | None = None
    region: str | None = None
    spool_dir: str = "spool/output"
    spool_max_bytes: int = 10 * GIB


class CaptureConfig(msgspec.Struct, frozen=True):
    enabled: bool = True
    dir: str = "data/capture"
    rotate_seconds: float = 3600.0
    #: Deflate level of the capture's gzip stream (1-9): one of the daemon's largest costs
    #: per frame; README "Configuration" has the measured trade-off.
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    endpoint_url: str | None = None
    region: str | None = None
    spool_dir: str = "spool/capture"
    spool_max_bytes: int = 10 * GIB


class DaemonConfig(msgspec.Struct, frozen=True):
    instance: str = "0"
    flush_interval_s: float = 1.0
    status: bool = False
    uvloop: bool = True
    #: Encode and write Parquet on a writer thread (``collector.sinks.threaded``), so
    #: the event loop never waits for it; false writes on the loop (for comparison).
    writer_thread: bool = True


class MetricsConfig(msgspec.Struct, frozen=True):
    enabled: bool = True
    listen: str = "127.0.0.1:9464"


class ExchangeConfig(msgspec.Struct, frozen=True):
    """One venue; ``stale_after_s`` holds a watchdog timeout for each of ``channels``."""

    name: str
    symbols: list[str]
    channels: list[str] = msgspec.field(default_factory=lambda: list(CHANNELS))
    stale_after_s: dict[str, float] = msgspec.field(
        default_factory=lambda: {c: DEFAULT_STALE_AFTER_S[c] for c in CHANNELS}
    )
    rewrite: dict[str, str] = msgspec.field(default_factory=dict)
    #: Overrides the venue's connection lifetime (planned reconnects happen before
    #: it ends); for tests and venues whose limit changed. None: the adapter's.
    connection_lifetime_s: float | None = None
    #: Interval of the REST polls the venue's data needs (Binance open interest); None:
    #: the adapter's. Stretched if the polls would exceed a quarter of the weight budget.
    poll_interval_s: float | None = None

    def rewrite_url(self, url: str) -> str:
        return rewrite_url(url, self.rewrite)


class SnapshotConfig(msgspec.Struct, frozen=True):
    """One ``[[book_snapshots]]`` sampling: top ``depth`` levels every ``interval_ms``,
    ``with`` the symbol's latest ``mark_price``/``funding_rate`` when asked."""

    depth: int = 25
    interval_ms: int = 100
    with_: tuple[str, ...] = msgspec.field(default=(), name="with")


class Config(msgspec.Struct, frozen=True):
    output: OutputConfig
    capture: CaptureConfig
    daemon: DaemonConfig
    metrics: MetricsConfig
    exchanges: list[ExchangeConfig]
    path: str  # where it was read from, for messages
    book_snapshots: list[SnapshotConfig] = msgspec.field(default_factory=list)

    @property
    def snapshot_specs(self) -> list[tuple[int, int, tuple[str, ...]]]:
        """``[[book_snapshots]]`` as the pipeline takes them; the daemon and crash
        recovery must pass the same, or recovered sample tables would differ."""
        return [(s.depth, s.interval_ms, s.with_) for s in self.book_snapshots]


def rewrite_url(url: str, rules: dict[str, str]) -> str:
    """``url`` with its longest matching prefix replaced; unchanged when none matches.

    Longest wins so a specific rule (one path) can override a host-wide one.
    """
    prefix = max((p for p in rules if url.startswith(p)), key=len, default=None)
    return url if prefix is None else rules[prefix] + url[len(prefix) :]


# --- rules: (accepts the value?, "is not ...; use ...") ---------------------------

Rule = tuple[Callable[[Any], bool], str]


def _host_port(v: Any) -> bool:
    host, _, port = v.rpartition(":") if isinstance(v, str) else ("", "", "")
    return bool(host) and port.isascii() and port.isdigit() and int(port) <= 65535


_POSITIVE: Rule = (
    lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf,
    "is not a positive number; use a number > 0",
)
_BOOL: Rule = (lambda v: isinstance(v, bool), "is not a boolean; use true or false")
_ZLIB_LEVEL: Rule = (
    lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 9,
    "is not a zlib level; use an integer from 1 (fastest) to 9 (smallest)",
)
_DIR: Rule = (lambda v: isinstance(v, str) and v != "", "is not a path; use a non-empty string")
_BYTES: Rule = (
    lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= MIB,
    f"is below 1 MiB or not whole; use an integer >= {MIB}",
)
_ENDPOINT: Rule = (
    lambda v: (
        isinstance(v, str)
        and v.startswith(("http://", "https://"))
        and "@" not in v
        and v.split("://", 1)[1].strip("/") != ""
    ),
    "is not an endpoint URL; use e.g. 'http://127.0.0.1:9000' (credentials come from "
    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment, never the URL)",
)
_REGION: Rule = (
    lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9-]+", v) is not None,
    "is not a region; use e.g. 'us-east-1'",
)
_STORE = {
    "endpoint_url": _ENDPOINT,
    "region": _REGION,
    "spool_dir": _DIR,
    "spool_max_bytes": _BYTES,
}
_INSTANCE: Rule = (
    lambda v: isinstance(v, str) and re.fullmatch(r"[\w-][\w.-]*", v, re.ASCII) is not None,
    "is not an instance name; use letters, digits, '.', '_' or '-', not starting with '.'",
)
_LISTEN: Rule = (_host_port, "is not host:port; use e.g. '127.0.0.1:9464' (port 0: any free port)")
_SYMBOL: Rule = (
    lambda v: isinstance(v, str) and v != "",
    "is not a symbol; use a non-empty string such as 'BTCUSDT'",
)


@functools.cache
def _venue_symbol(exchange: str) -> Rule:
    """The symbols ``exchange`` can have, in the venue's own grammar (``symbol_grammar``).

    A symbol outside it (a space, lower case on an upper-case venue, a path) can never
    be subscribed: the connection carrying it would fail forever and take the valid
    symbols on it down too, so it is refused here, before anything starts.
    """
    grammar = adapters.create(exchange).symbol_grammar
    return grammar.accepts, f"is not a {exchange} symbol; use {grammar.expected()}"


_SNAPSHOT_WITH: Rule = (
    lambda v: v in SNAPSHOT_WITH,
    f"is not a derivative_ticker column a sample can carry; use one of: {', '.join(SNAPSHOT_WITH)}",
)
_CHANNEL: Rule = (
    lambda v: v in ALL_CHANNELS,
    f"is not a channel; use one of: {', '.join(ALL_CHANNELS)}",
)


@functools.cache
def _served(exchange: str) -> tuple[str, ...]:
    """The channels ``exchange`` serves: the market-data ones its adapter has (all of
    ``CHANNELS`` on most venues), and on derivatives venues the ones it lists."""
    adapter = adapters.create(exchange)
    return market_channels(adapter) + derivative_channels(adapter)


@functools.cache
def _venue_channel(exchange: str) -> Rule:
    served = _served(exchange)
    unserved = [c for c in ALL_CHANNELS if c not in served]
    return (
        lambda v: v in served or v not in unserved,  # other values: _CHANNEL says why
        f"is not served by {exchange}; use one of: {', '.join(served)}",
    )


_SCHEMES = ("ws://", "wss://", "http://", "https://")
_SCHEMES_TEXT = "ws://, wss://, http:// or https://"
_URL: Rule = (
    lambda v: isinstance(v, str) and v.startswith(_SCHEMES),
    f"is not a URL; use one starting with {_SCHEMES_TEXT}",
)
_URL_PREFIX: Rule = (_URL[0], f"is not a URL prefix; use one starting with {_SCHEMES_TEXT}")
_REWRITE_EXAMPLE = '{ "wss://host" = "ws://127.0.0.1:18080/slug" }'
_NAMES = ", ".join(sorted(adapters.REGISTRY))
_EXCHANGE: Rule = (
    lambda v: isinstance(v, str) and v in adapters.REGISTRY,
    f"is not an exchange; use one of: {_NAMES}",
)
_EXCHANGE_REQUIRED = {
    "name": f"one of: {_NAMES}",
    "symbols": 'a non-empty list such as ["BTCUSDT"]',
}
_SECTIONS: dict[str, tuple[type[msgspec.Struct], dict[str, Rule]]] = {
    "output": (
        OutputConfig,
        {
            "dir": _DIR,
            "rotate_seconds": _POSITIVE,
            "rotate_bytes": _BYTES,
            "max_buffered_bytes": _BYTES,
            **_STORE,
        },
    ),
    "capture": (
        CaptureConfig,
        {
            "enabled": _BOOL,
            "dir": _DIR,
            "rotate_seconds": _POSITIVE,
            "compression_level": _ZLIB_LEVEL,
            **_STORE,
        },
    ),
    "daemon": (
        DaemonConfig,
        {
            "instance": _INSTANCE,
            "flush_interval_s": _POSITIVE,
            "status": _BOOL,
            "uvloop": _BOOL,
            "writer_thread": _BOOL,
        },
    ),
    "metrics": (MetricsConfig, {"enabled": _BOOL, "listen": _LISTEN}),
}
_EXCHANGE_KEYS = [f.name for f in msgspec.structs.fields(ExchangeConfig)]


class _Checker:
    """Walks the parsed TOML, collecting problems instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.exchange_at: dict[str, str] = {}  # name -> path of its first [[exchange]]

    def say(self, path: str, text: str) -> None:
        self.problems.append(f"{self.source}: {path}: {text}")

    def check(self, path: str, value: Any, rule: Rule) -> bool:
        """Whether ``rule`` accepts ``value``, reporting it when not."""
        accepted, why = rule
        if not accepted(value):
            shown = redact(value) if isinstance(value, str) else value  # never echo a secret
            self.say(path, f"{shown!r} {why}")
        return accepted(value)

    def table(self, raw: Any, path: str, keys: list[str], hint: str) -> dict[str, Any]:
        """``raw``'s known keys, with unknown ones reported (empty when not a table)."""
        if not isinstance(raw, dict):
            self.say(path, f"{raw!r} is not a table; use {hint}")
            return {}
        for key in [k for k in raw if k not in keys]:
            close = difflib.get_close_matches(key, keys, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            where = f"{path}.{key}" if path else key
            self.say(where, f"unknown key; {guess}use one of: {', '.join(keys)}")
        return {k: v for k, v in raw.items() if k in keys}

    def section(self, name: str, raw: Any) -> Any:
        cls, rules = _SECTIONS[name]
        table = self.table(raw, name, list(rules), f"an [{name}] table")
        good = {k: v for k, v in table.items() if self.check(f"{name}.{k}", v, rules[k])}
        return msgspec.convert(good, cls)  # defaults for the rest; ints become floats

    def items(self, raw: Any, path: str, rule: Rule, example: str) -> list[Any]:
        """A non-empty list of unique items, each accepted by ``rule``."""
        if not isinstance(raw, list) or not raw:
            self.say(path, f"{raw!r} is not a non-empty list; use e.g. {example}")
            return []
        first: dict[Any, int] = {}
        for i, item in enumerate(raw):
            if self.check(f"{path}[{i}]", item, rule) and first.setdefault(item, i) != i:
                self.say(f"{path}[{i}]", f"{item!r} repeats {path}[{first[item]}]; list it once")
        return list(first)

    def exchange(self, raw: Any, path: str) -> ExchangeConfig | None:
        """One ``[[exchange]]`` table, or None when it has problems (already reported)."""
        before = len(self.problems)
        table = self.table(raw, path, _EXCHANGE_KEYS, "an [[exchange]] table")
        for key, example in _EXCHANGE_REQUIRED.items():
            if isinstance(raw, dict) and key not in table:
                self.say(f"{path}.{key}", f"missing; use {example}")
        name = table.get("name")
        valid_name = "name" in table and self.check(f"{path}.name", name, _EXCHANGE)
        if valid_name and (first := self.exchange_at.setdefault(name, path)) != path:
            self.say(f"{path}.name", f"{name!r} is already in {first}; list each exchange once")
        symbols = []
        channels = [c for c in _served(name) if c in CHANNELS] if valid_name else list(CHANNELS)
        if "symbols" in table:
            rule = _venue_symbol(name) if valid_name else _SYMBOL
            symbols = self.items(table["symbols"], f"{path}.symbols", rule, '["BTCUSDT"]')
        if "channels" in table:
            channels = self.items(table["channels"], f"{path}.channels", _CHANNEL, '["book"]')
            if valid_name and channels:
                for i, channel in enumerate(table["channels"]):
                    if channel in ALL_CHANNELS:
                        self.check(f"{path}.channels[{i}]", channel, _venue_channel(name))
        where = f"{path}.stale_after_s"
        given = self.table(
            table.get("stale_after_s", {}), where, list(ALL_CHANNELS), "{ book = 30.0 }"
        )
        stale = DEFAULT_STALE_AFTER_S | {
            k: v for k, v in given.items() if self.check(f"{where}.{k}", v, _POSITIVE)
        }
        rewrite = table.get("rewrite", {})
        if not isinstance(rewrite, dict):
            self.say(f"{path}.rewrite", f"{rewrite!r} is not a table; use {_REWRITE_EXAMPLE}")
        else:
            for prefix, target in rewrite.items():
                self.check(f"{path}.rewrite", prefix, _URL_PREFIX)
                self.check(f'{path}.rewrite."{prefix}"', target, _URL)
        lifetime = table.get("connection_lifetime_s")
        if lifetime is not None:
            self.check(f"{path}.connection_lifetime_s", lifetime, _POSITIVE)
        poll = table.get("poll_interval_s")
        if poll is not None:
            self.check(f"{path}.poll_interval_s", poll, _POSITIVE)
        if len(self.problems) > before:
            return None
        fields = {
            "name": name,
            "symbols": symbols,
            "channels": channels,
            "rewrite": rewrite,
            "connection_lifetime_s": lifetime,
            "poll_interval_s": poll,
        }
        stale_after_s = {c: stale[c] for c in channels}  # just this exchange's channels
        return msgspec.convert(fields | {"stale_after_s": stale_after_s}, ExchangeConfig)

    def config(self, doc: dict[str, Any]) -> Config:
        table = self.table(doc, "", [*_SECTIONS, "exchange", "book_snapshots"], "")
        sections = {name: self.section(name, table.get(name, {})) for name in _SECTIONS}
        self.stores(sections["output"], sections["capture"])
        raw = table.get("exchange")
        exchanges: list[ExchangeConfig | None] = []
        if raw is None:
            self.say("exchange", "missing; add at least one [[exchange]] with name and symbols")
        elif not isinstance(raw, list) or not raw:
            self.say("exchange", f"{raw!r} is not a non-empty array of tables; use [[exchange]]")
        else:
            exchanges = [self.exchange(item, f"exchange[{i}]") for i, item in enumerate(raw)]
        snapshots = self.snapshots(table.get("book_snapshots", []))
        if self.problems:
            raise ConfigError(self.problems)
        return Config(
            **sections,
            exchanges=[e for e in exchanges if e],
            path=self.source,
            book_snapshots=snapshots,
        )

    def stores(self, output: OutputConfig, capture: CaptureConfig) -> None:
        """Where the dataset and the capture go: a usable location, store keys only for
        object storage, and spools that cannot pick up each other's files."""
        spools = []
        for name, cfg in (("output", output), ("capture", capture)):
            problem = uri_problem(cfg.dir)
            if problem is not None:
                self.say(f"{name}.dir", f"{redact(cfg.dir)!r} {problem}")
                continue
            if is_remote(cfg.dir):
                spools.append((name, Path(cfg.spool_dir).absolute()))
                continue
            for key in ("endpoint_url", "region"):
                if getattr(cfg, key) is not None:
                    self.say(
                        f"{name}.{key}",
                        f"only applies to object storage, but {name}.dir is the local path "
                        f"{cfg.dir!r}; remove {key} or set dir = 's3://bucket/prefix'",
                    )
        if len(spools) == 2:
            (_, a), (_, b) = spools
            if a == b or a in b.parents or b in a.parents:
                self.say(
                    "capture.spool_dir",
                    f"{str(b)!r} overlaps output.spool_dir {str(a)!r}: each spool would "
                    "upload the other's files; use two separate directories",
                )

    def snapshots(self, raw: Any) -> list[SnapshotConfig]:
        """``[[book_snapshots]]`` tables: depth 1..1000 levels, interval 1 ms..1 h, no repeats."""
        if not isinstance(raw, list):
            self.say("book_snapshots", f"{raw!r} is not an array of tables; use [[book_snapshots]]")
            return []
        out: list[SnapshotConfig] = []
        for i, item in enumerate(raw):
            path = f"book_snapshots[{i}]"
            table = self.table(item, path, ["depth", "interval_ms", "with"], "{ depth = 25 }")
            good = True
            for key, low, high in (("depth", 1, 1000), ("interval_ms", 1, 3_600_000)):
                value = table.get(key, getattr(SnapshotConfig(), key))
                if type(value) is not int or not low <= value <= high:
                    self.say(
                        f"{path}.{key}", f"{value!r} is not a whole number from {low} to {high}"
                    )
                    good = False
            if "with" in table:
                example = '["mark_price", "funding_rate"]'
                before = len(self.problems)
                table["with"] = self.items(table["with"], f"{path}.with", _SNAPSHOT_WITH, example)
                good = good and len(self.problems) == before
            if good:
                spec = msgspec.convert(table, SnapshotConfig)
                if any((s.depth, s.interval_ms) == (spec.depth, spec.interval_ms) for s in out):
                    self.say(path, "repeats an earlier [[book_snapshots]]; list each once")
                else:
                    out.append(spec)
        return out


def parse_config(text: str, source: str = "<config>") -> Config:
    """The checked config in ``text``; ``source`` (a file name) starts every message."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # its message ends "(at line N, column M)"
        raise ConfigError([f"{source}: invalid TOML: {e}"]) from None
    return _Checker(source).config(doc)


def load_config(path: str | Path) -> Config:
    """The checked config read from ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"{path}: cannot read the config: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: the config is not UTF-8 text: {e}"]) from None
    return parse_config(text, str(path))
