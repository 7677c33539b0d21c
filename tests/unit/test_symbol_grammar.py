"""Each venue's symbol grammar: what the config check accepts as a native symbol.

The grammars are derived from the venues' own lists (see
``tests/replay/test_symbols_listed.py``: every recorded and listed symbol fits);
here they are held to the other side: the shipped configs fit, and the typos a
person makes (a space, lower case on an upper-case venue, an empty string, a path)
never do, for any text around them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import adapters
from collector.adapter import Listings
from collector.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
VENUES = sorted(adapters.REGISTRY)
#: Venues whose native symbols are lower case (HTX spot's ``btcusdt``, Bitstamp's ``btcusd``).
LOWER_CASE = {"bitstamp", "htx"}
GRAMMARS = {slug: adapters.create(slug).symbol_grammar for slug in VENUES}

#: Symbols each venue names them, from the reference fact sheet and the venues' docs.
VALID = {
    "binance-spot": ["BTCUSDT", "ETHBTC", "1INCHUSDT"],
    "binance-us": ["BTCUSD", "ETHUSD"],
    "binance-tr": ["BTCTRY"],
    "binance-usdm": ["BTCUSDT", "BTCUSDT_261225", "1000PEPEUSDT", "币安人生USDT"],
    "binance-coinm": ["BTCUSD_PERP", "ETHUSD_261225"],
    "bitfinex": ["tBTCUSD", "tBTCF0:USTF0", "tAVAX:USD"],
    "bitmex": ["XBTUSD", "XBTUSDT", "XBTZ26"],
    "bitstamp": ["btcusd", "etheur", "usdtusd"],
    "bybit": ["linear:BTCUSDT", "spot:BTCUSDT", "inverse:BTCUSD", "option:BTC-26DEC25-100000-C"],
    "coinbase": ["BTC-USD", "ETH-USDC", "BIT-27DEC24-CDE"],
    "coinbase-exchange": ["BTC-USD", "ETH-EUR"],
    "deribit": [
        "BTC-PERPETUAL",
        "BTC_USDC-PERPETUAL",
        "BTC-27DEC24",
        "BTC-27DEC24-60000-C",
        "XRP_USDC-27DEC24-0d5-P",
    ],
    "gateio": ["BTC_USDT", "QTUM3S_USDT", "1INCH_USDT"],
    "gateio-futures": ["BTC_USDT", "1000PEPE_USDT"],
    "kraken": ["BTC/USD", "XBT/USD", "ETH2.S/ETH"],
    "kraken-futures": ["PI_XBTUSD", "PF_ETHUSD", "FI_XBTUSD_210730", "FF_XBTUSD_260925"],
    "gemini": ["BTCUSD", "ETHUSDCPERP", "2ZGUSD", "1INCHUSD"],
    "hyperliquid": ["BTC", "kPEPE", "@107", "PURR/USDC", "xyz:HOOD"],
    "bitflyer": ["BTC_JPY", "FX_BTC_JPY", "BTCJPY24DEC2021", "ETH_BTC"],
    "kucoin": ["BTC-USDT", "BCHSV-USDT", "1INCH-USDT"],
    "okx": ["BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-261225", "BTC-USD-261225-100000-C"],
    "okcoin": ["BTC-USD", "USDC-USDT"],
    "bitget": ["SPOT:BTCUSDT", "USDT-FUTURES:BTCUSDT", "COIN-FUTURES:BTCUSD", "SPOT:1INCHUSDT"],
    "crypto-com": ["BTC_USDT", "1INCH_USD", "BTCUSD-PERP", "BTCUSD-261225"],
    "phemex": ["BTCUSD", "sBTCUSDT", "BTCUSDT", "u1000PEPEUSDT", "cETHUSD"],
    "poloniex": ["BTC_USDT", "ETH_BTC", "1INCH_USDT"],
    "htx": ["btcusdt", "fil3susdt", "yfihusd"],
    "htx-swap": ["BTC-USDT", "BTC-USD", "1INCH-USDT"],
    "upbit": ["KRW-BTC", "BTC-ETH", "USDT-BTC", "KRW-1INCH"],
}
#: What a person gets wrong: per venue, a lower-cased symbol and one with a separator.
TYPOS = {
    "binance-spot": ["btcusdt", "BTC-USDT", "BTC/USDT"],
    "binance-us": ["btcusd"],
    "binance-tr": ["BtcTRY"],
    "binance-usdm": ["btcusdt", "BTCUSDT_"],
    "binance-coinm": ["btcusd_perp"],
    "bitfinex": ["BTCUSD", "tbtcusd", "fUSD"],
    "bitmex": ["xbtusd", "XBT/USD"],
    "bitstamp": ["BTCUSD", "btc/usd", "btc-usd", "btc_usd"],
    "bybit": ["BTCUSDT", "linear:btcusdt", "futures:BTCUSDT", "linear:"],
    "coinbase": ["btc-usd", "BTCUSD", "BTC_USD"],
    "coinbase-exchange": ["btc-usd", "BTC-USD-PERP"],
    "deribit": ["btc-perpetual", "BTC"],
    "gateio": ["btc_usdt", "BTC-USDT", "BTCUSDT", "BTC__USDT"],
    "gateio-futures": ["btc_usdt", "BTC-USDT", "BTCUSDT"],
    "kraken": ["btc/usd", "BTCUSD", "BTC/USD/EUR", "../USD"],
    "kraken-futures": ["pi_xbtusd", "XBTUSD", "PI-XBTUSD", "PF_XBTUSD_"],
    "gemini": ["btcusd", "BTC-USD", "BTC/USD"],
    "hyperliquid": ["btc", "BTC-PERP", "BTC-USD", "@"],
    "bitflyer": ["btc_jpy", "BTC-JPY", "BTCJPY", "BTC_"],
    "kucoin": ["btc-usdt", "BTCUSDT", "BTC_USDT", "BTC-USDT-"],
    "okx": ["btc-usdt", "BTCUSDT", "BTC--USDT"],
    "okcoin": ["btc-usd", "BTCUSD", "BTC-USD-SWAP"],
    "bitget": ["BTCUSDT", "spot:BTCUSDT", "SPOT:btcusdt", "MIX:BTCUSDT", "SPOT:"],
    "crypto-com": ["btc_usdt", "BTC-USDT-PERP", "BTC_", "BTC/USDT"],
    "phemex": ["btcusd", "sbtcusdt", "BTC-USD", "BTC_USDT"],
    "poloniex": ["btc_usdt", "BTC-USDT", "BTCUSDT", "BTC__USDT"],
    "htx": ["BTCUSDT", "btc-usdt", "btc/usdt"],
    "htx-swap": ["btc-usdt", "BTCUSDT", "BTC-USDT-SWAP"],
    "upbit": ["krw-btc", "KRWBTC", "KRW-BTC-X"],
}


def test_every_venue_has_cases() -> None:
    assert set(VALID) == set(TYPOS) == set(VENUES)


@pytest.mark.parametrize("slug", VENUES)
def test_the_venues_symbols_fit_and_typos_do_not(slug: str) -> None:
    grammar = GRAMMARS[slug]
    assert all(grammar.accepts(e) for e in grammar.examples), grammar.examples
    assert [s for s in VALID[slug] if not grammar.accepts(s)] == []
    assert [s for s in TYPOS[slug] if grammar.accepts(s)] == []


@pytest.mark.parametrize("slug", VENUES)
@given(
    symbol=st.text(min_size=0, max_size=30),
    bad=st.sampled_from([" ", "\t", "\n", "\\", "\x00", "..", "a", "z", "$", "*", "%"]),
    where=st.integers(min_value=0, max_value=30),
)
def test_no_symbol_with_a_space_a_path_or_lower_case_ascii_fits(
    slug: str, symbol: str, bad: str, where: int
) -> None:
    """Wherever one of these lands in any text, the result is no symbol of any venue.

    (``a`` is lower case on every venue but for Bitfinex's leading ``t``, Deribit's
    ``d`` inside a decimal strike and Phemex's ``s``/``u``/``c`` prefixes, which are not
    ``a``; on the venues whose symbols are lower case (``LOWER_CASE``) the letter is
    upper case instead. ``..`` makes a path, even on Kraken, whose symbols may hold one dot.)
    """
    if slug in LOWER_CASE and bad in ("a", "z"):
        bad = bad.upper()
    assert not GRAMMARS[slug].accepts(symbol[:where] + bad + symbol[where:])


@pytest.mark.parametrize("slug", VENUES)
def test_nothing_that_is_not_a_string_or_is_empty_fits(slug: str) -> None:
    for value in ("", None, 5, ["BTCUSDT"], b"BTCUSDT"):
        assert not GRAMMARS[slug].accepts(value)


def _deploy_configs() -> list[tuple[str, str]]:
    out = []
    for path in sorted((REPO / "deploy").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ConfigMap":
                out += [(f"{path.name}:{k}", v) for k, v in doc["data"].items()]
    return out


def test_every_shipped_config_passes_the_check() -> None:
    """``config/*.toml`` and the ConfigMap in ``deploy/``: every symbol fits its venue."""
    tomls = sorted((REPO / "config").glob("*.toml"))
    deploy = _deploy_configs()
    assert tomls and deploy
    symbols = 0
    for path in tomls:
        symbols += sum(len(e.symbols) for e in load_config(path).exchanges)
    for name, text in deploy:
        symbols += sum(len(e.symbols) for e in parse_config(text, name).exchanges)
    assert symbols >= 20


@pytest.mark.parametrize("slug", VENUES)
def test_a_config_error_names_the_key_the_value_and_the_venues_form(slug: str) -> None:
    grammar = GRAMMARS[slug]
    symbols = [grammar.examples[0], "BTC USD", grammar.examples[-1], ""]
    text = f'[[exchange]]\nname = "{slug}"\nsymbols = {symbols!r}\n'.replace("'", '"')
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    why = f"is not a {slug} symbol; use {grammar.expected()}"
    assert err.value.problems == [
        f"c.toml: exchange[0].symbols[1]: 'BTC USD' {why}",
        f"c.toml: exchange[0].symbols[3]: '' {why}",
    ]
    assert " e.g. " in why and repr(grammar.examples[0]) in why


def test_listings_say_unknown_until_the_list_that_would_name_a_symbol_loads() -> None:
    listings = Listings()
    assert listings.listed("BTCUSDT") is None and listings.names() == set()
    listings.add(["BTCUSDT"], "spot")
    assert listings.listed("BTCUSDT", "spot") is True
    assert listings.listed("ETHUSDT", "spot") is False
    assert listings.listed("BTCUSDT", "linear") is None  # that list never arrived
    listings.add([], "linear")  # an empty list did arrive: nothing on it is listed
    assert listings.listed("BTCUSDT", "linear") is False
    assert listings.names() == {"BTCUSDT"}
