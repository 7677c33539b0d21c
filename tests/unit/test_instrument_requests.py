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
    "bybit": "bybit/BYBIT_2026.instruments.jsonl.gz",  # BYBIT.* is the retired v2 API
    "coinbase": "coinbase/COINBASE_2026.instruments.jsonl.gz",
    "coinbase-exchange": "coinbase-exchange/COINBASE.instruments.jsonl.gz",
    "deribit": "deribit/DERIBIT.instruments.jsonl.gz",
    "kraken": "kraken/KRAKEN.instruments.jsonl.gz",
    "okx": "okx/OKX.instruments.jsonl.gz",
    "htx": "huobi/HUOBI.instruments.jsonl.gz",  # recorded before Huobi became HTX
    "htx-swap": "huobi-swap/HUOBI_SWAP.instruments.jsonl.gz",
    "upbit": "upbit/UPBIT.instruments.jsonl.gz",
}
#: Lists fetched beyond the sidecar's: Bitfinex's currency alias map, which
#: ``decode_rest`` reads too (the corpus did not record it).
EXTRA = {"bitfinex": {"https://api-pub.bitfinex.com/v2/conf/pub:map:currency:sym"}}
#: Hosts the venue has retired since the recording: the path is compared.
MOVED = {"coinbase-exchange"}


def _recorded(slug: str) -> list[tuple[str, str]]:
    info, records = open_recording(CAPTURES / SIDECARS[slug])
    assert info.exchange is not None and adapters.canonical(info.exchange) == slug
    return [(r.url, r.data) for r in records if r.kind == "http"]


def test_every_adapter_is_covered() -> None:
    assert set(SIDECARS) == set(adapters.REGISTRY)


@pytest.mark.parametrize("slug", sorted(SIDECARS))
def test_instrument_requests_are_the_sidecar_endpoints(slug: str) -> None:
    asked = [r.url for r in adapters.create(slug).instrument_requests()]
    recorded = list(dict.fromkeys(url for url, _ in _recorded(slug)))  # OKX recorded 5 times
    assert len(asked) == len(set(asked)), asked
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
