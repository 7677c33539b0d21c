"""Daemon config: shipped files load, and every rule fails with a message that
names the key path, the bad value and what is accepted (all problems at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

import adapters
from collector.adapter import Subscription
from collector.config import (
    CaptureConfig,
    Config,
    ConfigError,
    DaemonConfig,
    ExchangeConfig,
    MetricsConfig,
    OutputConfig,
    load_config,
    parse_config,
    rewrite_url,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXCHANGE = '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n'
NAMES = ", ".join(sorted(adapters.REGISTRY))  # the fix lists every registered exchange
CHANNELS = "book, trades, bbo, derivative_ticker, liquidations, options"
SCHEMES = "ws://, wss://, http:// or https://"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.toml")
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


# --- shipped configs ---------------------------------------------------------------


def test_default_config_loads() -> None:
    config = load_config(REPO_ROOT / "config" / "default.toml")
    assert config.path.endswith("default.toml")
    assert [(e.name, e.symbols, e.channels) for e in config.exchanges] == [
        ("binance-spot", ["BTCUSDT", "ETHUSDT"], ["book", "bbo", "trades"]),
        ("binance-usdm", ["BTCUSDT", "ETHUSDT"], ["book", "bbo", "trades"]),
    ]
    assert config.output.dir == "data"
    assert config.output.rotate_seconds == 300.0
    assert isinstance(config.output.rotate_seconds, float)
    assert all(e.rewrite == {} for e in config.exchanges)


def test_demo_config_points_every_binance_url_at_the_simulator() -> None:
    demo = load_config(REPO_ROOT / "config" / "demo.toml")
    default = load_config(REPO_ROOT / "config" / "default.toml")
    assert [(e.name, e.symbols, e.channels) for e in demo.exchanges] == [
        (e.name, e.symbols, e.channels) for e in default.exchanges
    ]
    assert (demo.output.dir, demo.capture.dir) == ("data/demo", "data/demo/capture")
    assert demo.metrics.listen == "127.0.0.1:0"
    for exchange in demo.exchanges:
        venue = adapters.create(exchange.name).venue
        prefix = f"127.0.0.1:18080/{exchange.name}"
        for route in (*venue.ws_book, *venue.ws_trades):
            assert exchange.rewrite_url(route).startswith(f"ws://{prefix}")
        depth = exchange.rewrite_url(venue.rest_depth)
        assert depth == f"http://{prefix}" + venue.rest_depth.split(".com", 1)[1]
    usdm = demo.exchanges[1]
    assert usdm.rewrite_url("wss://fstream.binance.com/market") == (
        "ws://127.0.0.1:18080/binance-usdm/market"
    )


# --- defaults and shapes -----------------------------------------------------------


def test_minimal_config_takes_every_default() -> None:
    config = parse_config(EXCHANGE, "min.toml")
    assert config == Config(
        output=OutputConfig(),
        capture=CaptureConfig(),
        daemon=DaemonConfig(),
        metrics=MetricsConfig(),
        exchanges=[ExchangeConfig("binance-usdm", ["BTCUSDT"])],
        path="min.toml",
    )
    assert (config.output.dir, config.output.rotate_seconds) == ("data", 300.0)
    assert config.output.rotate_bytes == 256 * 1024 * 1024
    assert (config.capture.enabled, config.capture.dir) == (True, "data/capture")
    assert config.capture.rotate_seconds == 3600.0
    assert config.capture.compression_level == 5
    daemon = config.daemon
    assert (daemon.instance, daemon.flush_interval_s, daemon.status, daemon.uvloop) == (
        "0",
        1.0,
        False,
        True,
    )
    assert (config.metrics.enabled, config.metrics.listen) == (True, "127.0.0.1:9464")
    exchange = config.exchanges[0]
    assert exchange.channels == ["book", "trades", "bbo"]
    assert exchange.stale_after_s == {"book": 30.0, "trades": 120.0, "bbo": 30.0}
    assert exchange.rewrite == {}


def test_config_is_frozen() -> None:
    config = parse_config(EXCHANGE)
    with pytest.raises(AttributeError):
        config.output.dir = "elsewhere"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.exchanges[0].name = "binance-spot"  # type: ignore[misc]


def test_stale_after_s_is_filled_for_the_exchanges_channels_only() -> None:
    text = EXCHANGE + 'channels = ["trades", "book"]\nstale_after_s = { book = 5 }\n'
    exchange = parse_config(text).exchanges[0]
    assert exchange.stale_after_s == {"trades": 120.0, "book": 5.0}
    assert isinstance(exchange.stale_after_s["book"], float)


def test_accepted_edge_values() -> None:
    text = (
        '[output]\nrotate_bytes = 1048576\n[daemon]\ninstance = "eu-1_b.2"\n'
        '[metrics]\nlisten = "[::1]:0"\n' + EXCHANGE
    )
    config = parse_config(text + "[capture]\ncompression_level = 1\n")
    assert config.capture.compression_level == 1
    assert config.output.rotate_bytes == 1024 * 1024
    assert config.daemon.instance == "eu-1_b.2"
    assert config.metrics.listen == "[::1]:0"


def test_object_storage_keys() -> None:
    text = (
        "[output]\ndir = 's3://bucket/data'\nendpoint_url = 'http://127.0.0.1:9000'\n"
        "region = 'eu-west-1'\nspool_dir = '/var/spool/out'\nspool_max_bytes = 1048576\n"
        "[capture]\ndir = 'gs://bucket/capture'\n" + EXCHANGE
    )
    config = parse_config(text)
    assert config.output == OutputConfig(
        dir="s3://bucket/data",
        endpoint_url="http://127.0.0.1:9000",
        region="eu-west-1",
        spool_dir="/var/spool/out",
        spool_max_bytes=1048576,
    )
    assert (config.capture.dir, config.capture.spool_dir) == (
        "gs://bucket/capture",
        "spool/capture",
    )
    assert config.capture.spool_max_bytes == 10 * 1024**3
    assert parse_config("[output]\ndir = 'file:///srv/data'\n" + EXCHANGE).output.dir


def test_spools_must_not_overlap() -> None:
    text = (
        "[output]\ndir = 's3://b/d'\nspool_dir = '/srv/spool'\n"
        "[capture]\ndir = 's3://b/c'\nspool_dir = '/srv/spool/capture'\n" + EXCHANGE
    )
    assert problems(text) == [
        "c.toml: capture.spool_dir: '/srv/spool/capture' overlaps output.spool_dir "
        "'/srv/spool': each spool would upload the other's files; use two separate directories"
    ]


# --- every rule: exact message with key path, value and what is accepted -------------

POSITIVE = "is not a positive number; use a number > 0"
BOOLEAN = "is not a boolean; use true or false"
ZLIB_LEVEL = "is not a zlib level; use an integer from 1 (fastest) to 9 (smallest)"
PATH = "is not a path; use a non-empty string"
BYTES = "is below 1 MiB or not whole; use an integer >= 1048576"
INSTANCE = "is not an instance name; use letters, digits, '.', '_' or '-', not starting with '.'"
LISTEN = "is not host:port; use e.g. '127.0.0.1:9464' (port 0: any free port)"
SCHEME = "has the unknown scheme 'ftp'; use a path, file://, s3:// or gs://"
QUERY = "has a query string; use the endpoint_url and region keys instead"
CREDENTIALS = (
    "holds credentials; remove them and set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
    "(or GOOGLE_APPLICATION_CREDENTIALS) in the environment"
)
ENDPOINT = (
    "is not an endpoint URL; use e.g. 'http://127.0.0.1:9000' (credentials come from "
    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment, never the URL)"
)
REGION = "is not a region; use e.g. 'us-east-1'"
LOCAL_ONLY = (
    "only applies to object storage, but output.dir is the local path 'data'; "
    "remove endpoint_url or set dir = 's3://bucket/prefix'"
)
SECTION_CASES = [
    ("output", "dir = ''", "output.dir: '' " + PATH),
    ("output", "rotate_seconds = 0", "output.rotate_seconds: 0 " + POSITIVE),
    ("output", "rotate_seconds = -1.5", "output.rotate_seconds: -1.5 " + POSITIVE),
    ("output", "rotate_seconds = nan", "output.rotate_seconds: nan " + POSITIVE),
    ("output", "rotate_seconds = inf", "output.rotate_seconds: inf " + POSITIVE),
    ("output", "rotate_seconds = '60'", "output.rotate_seconds: '60' " + POSITIVE),
    ("output", "rotate_bytes = 1048575", "output.rotate_bytes: 1048575 " + BYTES),
    ("output", "rotate_bytes = 2e9", "output.rotate_bytes: 2000000000.0 " + BYTES),
    ("capture", "enabled = 'yes'", "capture.enabled: 'yes' " + BOOLEAN),
    ("capture", "dir = 3", "capture.dir: 3 " + PATH),
    ("capture", "rotate_seconds = 0.0", "capture.rotate_seconds: 0.0 " + POSITIVE),
    ("capture", "compression_level = 0", "capture.compression_level: 0 " + ZLIB_LEVEL),
    ("capture", "compression_level = 10", "capture.compression_level: 10 " + ZLIB_LEVEL),
    ("capture", "compression_level = 6.0", "capture.compression_level: 6.0 " + ZLIB_LEVEL),
    ("capture", "compression_level = true", "capture.compression_level: True " + ZLIB_LEVEL),
    ("daemon", "instance = '.hidden'", "daemon.instance: '.hidden' " + INSTANCE),
    ("daemon", "instance = 'a b'", "daemon.instance: 'a b' " + INSTANCE),
    ("daemon", "instance = 'é'", "daemon.instance: 'é' " + INSTANCE),
    ("daemon", "instance = ''", "daemon.instance: '' " + INSTANCE),
    ("daemon", "instance = 1", "daemon.instance: 1 " + INSTANCE),
    ("daemon", "flush_interval_s = 0", "daemon.flush_interval_s: 0 " + POSITIVE),
    ("daemon", "flush_interval_s = true", "daemon.flush_interval_s: True " + POSITIVE),
    ("daemon", "status = 1", "daemon.status: 1 " + BOOLEAN),
    ("daemon", "uvloop = 'true'", "daemon.uvloop: 'true' " + BOOLEAN),
    ("metrics", "enabled = 0", "metrics.enabled: 0 " + BOOLEAN),
    ("metrics", "listen = 'localhost'", "metrics.listen: 'localhost' " + LISTEN),
    ("metrics", "listen = ':9464'", "metrics.listen: ':9464' " + LISTEN),
    ("metrics", "listen = 'host:65536'", "metrics.listen: 'host:65536' " + LISTEN),
    ("metrics", "listen = 'host:http'", "metrics.listen: 'host:http' " + LISTEN),
    ("metrics", "listen = 9464", "metrics.listen: 9464 " + LISTEN),
    ("output", "dir = 'ftp://h/x'", "output.dir: 'ftp://h/x' " + SCHEME),
    (
        "capture",
        "dir = 's3://'",
        "capture.dir: 's3://' names no bucket; use e.g. 's3://bucket/prefix'",
    ),
    ("output", "dir = 's3://b/p?region=x'", "output.dir: 's3://b/p' " + QUERY),
    ("output", "dir = 's3://AK:SECRET@b/p'", "output.dir: 's3://b/p' " + CREDENTIALS),
    ("output", "endpoint_url = 'http://h:9'", "output.endpoint_url: " + LOCAL_ONLY),
    (
        "output",
        "dir = 's3://b/p'\nendpoint_url = '127.0.0.1:9000'",
        "output.endpoint_url: '127.0.0.1:9000' " + ENDPOINT,
    ),
    (
        "output",
        "dir = 's3://b/p'\nendpoint_url = 'http://u:SECRET@h:9'",
        "output.endpoint_url: 'http://h:9' " + ENDPOINT,
    ),
    ("capture", "dir = 'gs://b/p'\nregion = 'EU West'", "capture.region: 'EU West' " + REGION),
    (
        "capture",
        "region = 'us-east-1'",
        "capture.region: "
        + LOCAL_ONLY.replace("endpoint_url", "region")
        .replace("output", "capture")
        .replace("'data'", "'data/capture'"),
    ),
    ("output", "dir = 's3://b/p'\nspool_max_bytes = 1000", "output.spool_max_bytes: 1000 " + BYTES),
    ("output", "dir = 's3://b/p'\nspool_dir = ''", "output.spool_dir: '' " + PATH),
]


@pytest.mark.parametrize(("section", "line", "expected"), SECTION_CASES)
def test_section_rule(section: str, line: str, expected: str) -> None:
    assert problems(f"[{section}]\n{line}\n" + EXCHANGE) == [f"c.toml: {expected}"]


CHANNEL = f"is not a channel; use one of: {CHANNELS}"
URL_PREFIX = f"is not a URL prefix; use one starting with {SCHEMES}"
URL = f"is not a URL; use one starting with {SCHEMES}"
EXCHANGE_CASES = [
    ('channels = ["book2"]', "exchange[0].channels[0]: 'book2' " + CHANNEL),
    ('channels = ["BOOK"]', "exchange[0].channels[0]: 'BOOK' " + CHANNEL),
    (
        'channels = ["book", "trades", "book"]',
        "exchange[0].channels[2]: 'book' repeats exchange[0].channels[0]; list it once",
    ),
    ("channels = []", 'exchange[0].channels: [] is not a non-empty list; use e.g. ["book"]'),
    (
        'channels = "book"',
        "exchange[0].channels: 'book' is not a non-empty list; use e.g. [\"book\"]",
    ),
    ("stale_after_s = { book = 0 }", "exchange[0].stale_after_s.book: 0 " + POSITIVE),
    ("stale_after_s = { trades = 'x' }", "exchange[0].stale_after_s.trades: 'x' " + POSITIVE),
    (
        "stale_after_s = { books = 1.0 }",
        "exchange[0].stale_after_s.books: unknown key; did you mean 'book'? "
        f"use one of: {CHANNELS}",
    ),
    ("stale_after_s = 30", "exchange[0].stale_after_s: 30 is not a table; use { book = 30.0 }"),
    ('rewrite = { "ftp://x" = "ws://y" }', "exchange[0].rewrite: 'ftp://x' " + URL_PREFIX),
    (
        'rewrite = { "wss://x" = "localhost:1" }',
        "exchange[0].rewrite.\"wss://x\": 'localhost:1' " + URL,
    ),
    ('rewrite = { "wss://x" = 1 }', 'exchange[0].rewrite."wss://x": 1 ' + URL),
    (
        'rewrite = "wss://x"',
        "exchange[0].rewrite: 'wss://x' is not a table; "
        'use { "wss://host" = "ws://127.0.0.1:18080/slug" }',
    ),
]


@pytest.mark.parametrize(("line", "expected"), EXCHANGE_CASES)
def test_exchange_rule(line: str, expected: str) -> None:
    assert problems(EXCHANGE + line + "\n") == [f"c.toml: {expected}"]


SYMBOL = (
    "is not a binance-usdm symbol; use upper-case letters and digits, futures with a "
    "_PERP or _YYMMDD suffix, e.g. 'BTCUSDT' or 'BTCUSD_PERP'"
)
NOT_A_LIST = 'is not a non-empty list; use e.g. ["BTCUSDT"]'
SYMBOLS_CASES = [
    ("[]", "exchange[0].symbols: [] " + NOT_A_LIST),
    ('"BTCUSDT"', "exchange[0].symbols: 'BTCUSDT' " + NOT_A_LIST),
    ('["BTCUSDT", ""]', "exchange[0].symbols[1]: '' " + SYMBOL),
    ('["BTCUSDT", 5]', "exchange[0].symbols[1]: 5 " + SYMBOL),
    ('["BTCUSDT", "BTC USDT"]', "exchange[0].symbols[1]: 'BTC USDT' " + SYMBOL),
    ('["BTCUSDT", "btcusdt"]', "exchange[0].symbols[1]: 'btcusdt' " + SYMBOL),
    ('["BTCUSDT", "BTC/USDT"]', "exchange[0].symbols[1]: 'BTC/USDT' " + SYMBOL),
    ('["BTCUSDT", "..\\\\BTC"]', "exchange[0].symbols[1]: '..\\\\BTC' " + SYMBOL),
    ('["BTCUSDT", "BTCUSDT\\n"]', "exchange[0].symbols[1]: 'BTCUSDT\\n' " + SYMBOL),
    (
        '["BTCUSDT", "ETHUSDT", "BTCUSDT"]',
        "exchange[0].symbols[2]: 'BTCUSDT' repeats exchange[0].symbols[0]; list it once",
    ),
]


@pytest.mark.parametrize(("value", "expected"), SYMBOLS_CASES)
def test_symbols_rule(value: str, expected: str) -> None:
    text = f'[[exchange]]\nname = "binance-usdm"\nsymbols = {value}\n'
    assert problems(text) == [f"c.toml: {expected}"]


def test_exchange_name_rules() -> None:
    assert problems('[[exchange]]\nname = "binance-usd"\nsymbols = ["BTCUSDT"]\n') == [
        f"c.toml: exchange[0].name: 'binance-usd' is not an exchange; use one of: {NAMES}"
    ]
    assert problems('[[exchange]]\nname = ["binance-usdm"]\nsymbols = ["BTCUSDT"]\n') == [
        f"c.toml: exchange[0].name: ['binance-usdm'] is not an exchange; use one of: {NAMES}"
    ]
    assert problems('[[exchange]]\nsymbols = ["BTCUSDT"]\n') == [
        f"c.toml: exchange[0].name: missing; use one of: {NAMES}"
    ]
    assert problems('[[exchange]]\nname = "binance-usdm"\n') == [
        """c.toml: exchange[0].symbols: missing; use a non-empty list such as ["BTCUSDT"]"""
    ]


def test_names_come_from_the_adapter_registry() -> None:
    assert ", ".join(sorted(adapters.REGISTRY)) == NAMES


def test_each_exchange_name_only_once() -> None:
    spot = '[[exchange]]\nname = "binance-spot"\nsymbols = ["BTCUSDT"]\n'
    assert problems(EXCHANGE + spot + EXCHANGE.replace("BTCUSDT", "ETHUSDT")) == [
        "c.toml: exchange[2].name: 'binance-usdm' is already in exchange[0]; "
        "list each exchange once"
    ]


def test_exchange_table_is_required() -> None:
    missing = "c.toml: exchange: missing; add at least one [[exchange]] with name and symbols"
    assert problems("") == [missing]
    assert problems("[output]\ndir = 'x'\n") == [missing]
    assert problems("exchange = []\n") == [
        "c.toml: exchange: [] is not a non-empty array of tables; use [[exchange]]"
    ]
    assert problems('[exchange]\nname = "binance-usdm"\n') == [
        "c.toml: exchange: {'name': 'binance-usdm'} is not a non-empty array of tables; "
        "use [[exchange]]"
    ]
    assert problems("exchange = [1]\n") == [
        "c.toml: exchange[0]: 1 is not a table; use an [[exchange]] table"
    ]


def test_section_must_be_a_table() -> None:
    assert problems("output = 3\n" + EXCHANGE) == [
        "c.toml: output: 3 is not a table; use an [output] table"
    ]


# --- unknown keys ------------------------------------------------------------------


def test_unknown_keys_suggest_the_closest_known_key() -> None:
    text = "[daemon]\nflush_interval = 2\n" + EXCHANGE + "symbol = ['ETHUSDT']\n"
    assert problems(text) == [
        "c.toml: daemon.flush_interval: unknown key; did you mean 'flush_interval_s'? "
        "use one of: instance, flush_interval_s, status, uvloop, writer_thread",
        "c.toml: exchange[0].symbol: unknown key; did you mean 'symbols'? "
        "use one of: name, symbols, channels, stale_after_s, rewrite, connection_lifetime_s, "
        "poll_interval_s",
    ]
    assert problems("[[exchanges]]\nname = 'binance-usdm'\n" + EXCHANGE) == [
        "c.toml: exchanges: unknown key; did you mean 'exchange'? "
        "use one of: output, capture, daemon, metrics, exchange, book_snapshots"
    ]


def test_unknown_key_without_a_close_match() -> None:
    assert problems("[metrics]\nzzz = 1\n" + EXCHANGE) == [
        "c.toml: metrics.zzz: unknown key; use one of: enabled, listen"
    ]


# --- all problems at once ----------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "[output]\nrotate_seconds = 0\nrotate_bytes = 1\n"
        "[daemon]\ninstance = '.x'\nuvlop = false\n"
        '[[exchange]]\nname = "binance-usdm"\nsymbols = []\nchannels = ["book2"]\n'
        '[[exchange]]\nname = "nope"\nsymbols = ["BTCUSDT"]\n'
        '[[exchange]]\nname = "binance-usdm"\nsymbols = ["ETHUSDT"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "config/x.toml")
    assert isinstance(caught.value, ValueError)
    assert caught.value.problems == [
        "config/x.toml: output.rotate_seconds: 0 is not a positive number; use a number > 0",
        "config/x.toml: output.rotate_bytes: 1 is below 1 MiB or not whole; "
        "use an integer >= 1048576",
        "config/x.toml: daemon.uvlop: unknown key; did you mean 'uvloop'? "
        "use one of: instance, flush_interval_s, status, uvloop, writer_thread",
        "config/x.toml: daemon.instance: '.x' is not an instance name; "
        "use letters, digits, '.', '_' or '-', not starting with '.'",
        """config/x.toml: exchange[0].symbols: [] is not a non-empty list; use e.g. ["BTCUSDT"]""",
        f"config/x.toml: exchange[0].channels[0]: 'book2' is not a channel; use one of: {CHANNELS}",
        f"config/x.toml: exchange[1].name: 'nope' is not an exchange; use one of: {NAMES}",
        "config/x.toml: exchange[2].name: 'binance-usdm' is already in exchange[0]; "
        "list each exchange once",
    ]
    assert str(caught.value).count("\n") == 7


# --- unreadable files --------------------------------------------------------------


def test_toml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('[output]\ndir = "data"\nrotate_seconds = \n', "bad.toml")
    [problem] = caught.value.problems
    assert problem.startswith("bad.toml: invalid TOML: ")
    assert "line 3" in problem


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: cannot read the config: No such file or directory"]


def test_load_config_reports_problems_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\nchannels = [1]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: exchange[0].channels[0]: 1 is not a channel; use one of: {CHANNELS}"
    ]
    path.write_text(EXCHANGE)
    assert load_config(str(path)).path == str(path)


# --- URL rewriting -----------------------------------------------------------------


def test_rewrite_url_longest_prefix_wins() -> None:
    rules = {
        "wss://fstream.binance.com": "ws://sim/usdm",
        "wss://fstream.binance.com/market": "ws://other/market",
        "https://fapi.binance.com": "http://sim/usdm",
    }
    assert rewrite_url("wss://fstream.binance.com/public/ws", rules) == "ws://sim/usdm/public/ws"
    assert rewrite_url("wss://fstream.binance.com/market/ws", rules) == "ws://other/market/ws"
    assert rewrite_url("https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT", rules) == (
        "http://sim/usdm/fapi/v1/depth?symbol=BTCUSDT"
    )


def test_rewrite_url_unchanged_when_nothing_matches() -> None:
    url = "wss://stream.binance.com:9443/stream"
    assert rewrite_url(url, {"wss://fstream.binance.com": "ws://sim"}) == url
    assert rewrite_url(url, {}) == url


def test_exchange_rewrite_url_uses_its_rules() -> None:
    text = EXCHANGE + 'rewrite = { "wss://fstream.binance.com" = "ws://127.0.0.1:18080/x" }\n'
    exchange = parse_config(text).exchanges[0]
    assert exchange.rewrite_url("wss://fstream.binance.com/public") == (
        "ws://127.0.0.1:18080/x/public"
    )
    assert exchange.rewrite_url("https://fapi.binance.com/x") == "https://fapi.binance.com/x"


def test_connection_lifetime_override() -> None:
    text = '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\nconnection_lifetime_s = 5\n'
    assert parse_config(text).exchanges[0].connection_lifetime_s == 5.0
    bad = text.replace("= 5", "= -1")
    with pytest.raises(ConfigError, match=r"connection_lifetime_s: -1"):
        parse_config(bad)


def test_book_snapshots() -> None:
    base = '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n'
    config = parse_config(
        base + "[[book_snapshots]]\n[[book_snapshots]]\ndepth = 5\ninterval_ms = 1000\n"
    )
    assert [(s.depth, s.interval_ms) for s in config.book_snapshots] == [(25, 100), (5, 1000)]
    assert parse_config(base).book_snapshots == []
    with pytest.raises(ConfigError) as err:
        parse_config(
            base
            + "[[book_snapshots]]\ndepth = 0\ninterval_ms = 1.5\n[[book_snapshots]]\nevery = 3\n"
        )
    assert err.value.problems == [
        "<config>: book_snapshots[0].depth: 0 is not a whole number from 1 to 1000",
        "<config>: book_snapshots[0].interval_ms: 1.5 is not a whole number from 1 to 3600000",
        "<config>: book_snapshots[1].every: unknown key; use one of: depth, interval_ms, with",
    ]


def test_book_snapshots_with_derivative_columns() -> None:
    base = '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n[[book_snapshots]]\n'
    config = parse_config(base + 'with = ["mark_price", "funding_rate"]\n')
    assert config.book_snapshots[0].with_ == ("mark_price", "funding_rate")
    with pytest.raises(ConfigError) as err:
        parse_config(base + 'with = ["index_price"]\n[[book_snapshots]]\nwith = ["mark_price"]\n')
    assert err.value.problems == [
        "<config>: book_snapshots[0].with[0]: 'index_price' is not a derivative_ticker column "
        "a sample can carry; use one of: mark_price, funding_rate",
    ]
    with pytest.raises(ConfigError, match="repeats an earlier"):  # same table, other columns
        parse_config(base + '[[book_snapshots]]\nwith = ["mark_price"]\n')


def test_venues_config_runs_every_registered_exchange() -> None:
    """`collector run` can be configured for any adapter: each plans real connections."""
    config = load_config(REPO_ROOT / "config" / "venues.toml")
    assert sorted(e.name for e in config.exchanges) == sorted(adapters.REGISTRY)
    for exchange in config.exchanges:
        adapter = adapters.create(exchange.name)
        subs = [Subscription(s, c) for s in exchange.symbols for c in exchange.channels]
        plans = adapter.plan(subs)
        assert plans, exchange.name
        assert all(p.url.startswith("wss://") and p.subscriptions for p in plans), exchange.name
        planned = sorted((s.symbol, s.channel) for p in plans for s in p.subscriptions)
        assert planned == sorted((s.symbol, s.channel) for s in subs), exchange.name


def test_derivative_channels_only_where_the_venue_serves_them() -> None:
    usdm_text = (
        '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n'
        'channels = ["book", "derivative_ticker", "liquidations"]\npoll_interval_s = 30\n'
    )
    text = usdm_text + (
        '[[exchange]]\nname = "binance-spot"\nsymbols = ["BTCUSDT"]\n'
        'channels = ["trades", "liquidations"]\n'
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    assert err.value.problems == [
        "c.toml: exchange[1].channels[1]: 'liquidations' is not served by binance-spot; "
        "use one of: book, trades, bbo"
    ]
    usdm = parse_config(usdm_text).exchanges[0]
    assert usdm.channels == ["book", "derivative_ticker", "liquidations"]
    assert usdm.poll_interval_s == 30.0
    assert usdm.stale_after_s == {"book": 30.0, "derivative_ticker": 60.0, "liquidations": 3600.0}


def test_options_channel_and_bad_poll_interval() -> None:
    text = (
        '[[exchange]]\nname = "binance-coinm"\nsymbols = ["BTCUSD_PERP"]\n'
        'channels = ["options"]\npoll_interval_s = 0\n'
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    assert err.value.problems == [
        "c.toml: exchange[0].channels[0]: 'options' is not served by binance-coinm; "
        "use one of: book, trades, bbo, derivative_ticker, liquidations",
        "c.toml: exchange[0].poll_interval_s: 0 is not a positive number; use a number > 0",
    ]
    ok = '[[exchange]]\nname = "deribit"\nsymbols = ["BTC-26DEC25-100000-C"]\n'
    ok += 'channels = ["options"]\n'
    assert parse_config(ok).exchanges[0].channels == ["options"]


def test_a_venue_without_a_market_channel_refuses_it_and_leaves_it_out_by_default() -> None:
    """Gemini's market data v2 has no best bid/offer stream: asking for ``bbo`` is a
    config error naming the key, and a table without ``channels`` asks for book and trades."""
    with pytest.raises(ConfigError) as err:
        parse_config(
            '[[exchange]]\nname = "gemini"\nsymbols = ["BTCUSD"]\nchannels = ["book", "bbo"]\n',
            "c.toml",
        )
    assert err.value.problems == [
        "c.toml: exchange[0].channels[1]: 'bbo' is not served by gemini; use one of: book, trades"
    ]
    gemini = parse_config('[[exchange]]\nname = "gemini"\nsymbols = ["BTCUSD"]\n').exchanges[0]
    assert gemini.channels == ["book", "trades"]
    assert set(gemini.stale_after_s) == {"book", "trades"}
