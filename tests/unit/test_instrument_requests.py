"""Every adapter asks for the instrument lists its corpus sidecar recorded, and can read them.

The daemon fetches ``instrument_requests()`` at start and a replay feeds the
sidecar's responses: for live and replay to name markets alike, the two must be
the same endpoints, and every recorded body must decode without a failure.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from support import CAPTURES, needs_captures

import adapters
from collector.capture.reader import open_recording
from collector.model import DecodeFailed

pytestmark = needs_captures

#: slug -> the sidecar the live endpoints were taken from (the venue's current API).
SIDECARS = {
    "binance-spot": "binance-spot/BINANCE.instruments.jsonl.gz",
    "binance-us": "binance-us/BINANCE_US.instruments.jsonl.gz",
    "binance-tr": "binance-tr/BINANCE_TR.instruments.jsonl.gz",
    "binance-usdm": "binance-usdm/BINANCE_FUTURES.instruments.jsonl.gz",
    "binance-coinm": "binance-coinm/BINANCE_DELIVERY.instruments.jsonl.gz",
    "bitfinex": "bitfinex/BITFINEX.instruments.jsonl.gz",
    "bitmex": "bitmex/BITMEX.instruments.jsonl.gz",
    "bitstamp": "bitstamp/BITSTAMP.instruments.jsonl.gz",
    "bybit": "bybit/BYBIT_2026.instruments.jsonl.gz",  # BYBIT.* is the retired v2 API
    "coinbase": "coinbase/COINBASE_2026.instruments.jsonl.gz",
    "coinbase-exchange": "coinbase-exchange/COINBASE.instruments.jsonl.gz",
    "deribit": "deribit/DERIBIT.instruments.jsonl.gz",
    "gateio": "gateio/GATEIO.instruments.jsonl.gz",
    "gateio-futures": "gateio-futures/GATEIO_FUTURES.instruments.jsonl.gz",
    "kraken": "kraken/KRAKEN.instruments.jsonl.gz",
    "kraken-futures": "kraken-futures/KRAKEN_FUTURES.instruments.jsonl.gz",
    "gemini": "gemini/GEMINI_2026.instruments.jsonl.gz",
    "bitflyer": "bitflyer/BITFLYER.instruments.jsonl.gz",
    "kucoin": "kucoin/KUCOIN.instruments.jsonl.gz",
    "okx": "okx/OKX.instruments.jsonl.gz",
    "okcoin": "okcoin/OKCOIN.instruments.jsonl.gz",
    "bitget": "bitget/BITGET.instruments.jsonl.gz",  # API v1: see SUPERSEDED
    "crypto-com": "crypto-com/CRYPTO.COM.instruments.jsonl.gz",  # API v2: see SUPERSEDED
    "phemex": "phemex/PHEMEX.instruments.jsonl.gz",
    "poloniex": "poloniex/POLONIEX.instruments.jsonl.gz",
    "htx": "huobi/HUOBI.instruments.jsonl.gz",  # recorded before Huobi became HTX
    "htx-swap": "huobi-swap/HUOBI_SWAP.instruments.jsonl.gz",
    "upbit": "upbit/UPBIT.instruments.jsonl.gz",
}
#: Lists fetched beyond the sidecar's: Bitfinex's currency alias map, which
#: ``decode_rest`` reads too (the corpus did not record it); Bitget's USDC futures list;
#: Phemex's documented product list, beside the configuration list the 2021 recording
#: fetched.
EXTRA = {
    "bitfinex": {"https://api-pub.bitfinex.com/v2/conf/pub:map:currency:sym"},
    "bitget": {"https://api.bitget.com/api/v2/mix/market/contracts?productType=USDC-FUTURES"},
    "phemex": {"https://api.phemex.com/public/products"},
}
#: Lists the venue moved to a new API version since the recording: the live request ->
#: the one the sidecar recorded (Bitget v2 -> v1, Crypto.com Exchange v1 -> the retired
#: v2, KuCoin v2 -> v1; the adapters decode both bodies).
SUPERSEDED = {
    "bitget": {
        "https://api.bitget.com/api/v2/spot/public/symbols": (
            "https://api.bitget.com/api/spot/v1/public/products"
        ),
        "https://api.bitget.com/api/v2/mix/market/contracts?productType=USDT-FUTURES": (
            "https://api.bitget.com/api/mix/v1/market/contracts?productType=umcbl"
        ),
        "https://api.bitget.com/api/v2/mix/market/contracts?productType=COIN-FUTURES": (
            "https://api.bitget.com/api/mix/v1/market/contracts?productType=dmcbl"
        ),
    },
    "crypto-com": {
        "https://api.crypto.com/exchange/v1/public/get-instruments": (
            "https://api.crypto.com/v2/public/get-instruments"
        ),
    },
    "kucoin": {"https://api.kucoin.com/api/v2/symbols": "https://api.kucoin.com/api/v1/symbols"},
}
#: Hosts the venue has retired since the recording: the path is compared.
MOVED = {"coinbase-exchange"}
#: Recorded lists the adapter does not ask for, by path prefix: Gemini's one-request-per-
#: symbol details (names come from the symbol; details refine them when recorded) and
#: bitFlyer's old ``getmarkets`` aliases of the ``markets`` lists it does ask for.
NOT_ASKED = {"gemini": "/v1/symbols/details/", "bitflyer": "/v1/getmarkets"}
#: Venues whose instrument lists are served by POST only (a ``RestRequest`` is a GET):
#: they ask for none, and no sidecar was recorded.
POST_ONLY = {"hyperliquid"}


def _recorded(slug: str) -> list[tuple[str, str]]:
    info, records = open_recording(CAPTURES / SIDECARS[slug])
    assert info.exchange is not None and adapters.canonical(info.exchange) == slug
    return [(r.url, r.data) for r in records if r.kind == "http"]


def test_every_adapter_is_covered() -> None:
    assert set(SIDECARS) | POST_ONLY == set(adapters.REGISTRY)


@pytest.mark.parametrize("slug", sorted(POST_ONLY))
def test_post_only_venues_ask_for_no_list(slug: str) -> None:
    adapter = adapters.create(slug)
    assert adapter.instrument_requests() == []
    assert adapter.listed("BTC") is None  # nothing to judge by: the daemon subscribes anyway


@pytest.mark.parametrize("slug", sorted(SIDECARS))
def test_instrument_requests_are_the_sidecar_endpoints(slug: str) -> None:
    asked = [r.url for r in adapters.create(slug).instrument_requests()]
    recorded = list(dict.fromkeys(url for url, _ in _recorded(slug)))  # OKX recorded 5 times
    if slug in NOT_ASKED:
        recorded = [u for u in recorded if not urlsplit(u).path.startswith(NOT_ASKED[slug])]
    assert len(asked) == len(set(asked)), asked
    asked = [SUPERSEDED.get(slug, {}).get(url, url) for url in asked]
    if slug in MOVED:
        asked = [urlsplit(u).path + urlsplit(u).query for u in asked]
        recorded = [urlsplit(u).path + urlsplit(u).query for u in recorded]
    assert sorted(set(asked) - EXTRA.get(slug, set())) == sorted(recorded)


@pytest.mark.parametrize("slug", sorted(SIDECARS))
def test_recorded_instrument_lists_decode(slug: str) -> None:
    adapter = adapters.create(slug)
    for url, body in _recorded(slug):
        failed = [m for m in adapter.decode_rest(url, body, 0) if isinstance(m, DecodeFailed)]
        assert not failed, (url, failed[:1])
