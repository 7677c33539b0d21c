"""Kraken Futures ``ticker`` and liquidation trades on documented frames.

The recording carries no ``ticker`` (only ``ticker_lite``) and no liquidation. The frames
follow https://docs.kraken.com/exchange/api-reference/futures-websocket/ticker and
.../futures-websocket/trade; every written value is compared with the frame's text.
"""

from __future__ import annotations

import json
from decimal import Decimal

from support import pylist, run_frames

from adapters.kraken_futures.adapter import URL, KrakenFuturesAdapter

TS = 1_612_270_826_000_000_000
MS = 1_000_000

#: The ticker page's example of a perpetual's ticker.
TICKER = (
    '{"time":1612270825253,"feed":"ticker","product_id":"PI_XBTUSD","bid":34832.5,'
    '"ask":34847.5,"bid_size":42864,"ask_size":2300,"volume":6461962,"dtm":0,"leverage":"50x",'
    '"index":34828.0,"premium":0.1,"last":34852,"change":2.995109121267192,'
    '"funding_rate":3.891007752e-9,"funding_rate_prediction":4.2233756e-9,"suspended":false,'
    '"tag":"perpetual","pair":"XBT:USD","openInterest":9865520,"markPrice":34844.5,'
    '"maturityTime":0,"relative_funding_rate":0.000135484,'
    '"relative_funding_rate_prediction":0.000147077,"next_funding_rate_time":1612281600000,'
    '"post_only":false}'
)
_DATED = json.loads(TICKER)
for _key in ("relative_funding_rate", "relative_funding_rate_prediction", "next_funding_rate_time"):
    del _DATED[_key]
_DATED.update(product_id="FI_XBTUSD_210625", tag="quarter", funding_rate=0)
DATED = json.dumps(_DATED)


def test_tickers_write_what_each_states() -> None:
    """The perpetual's row has the relative funding, its prediction and the next funding
    time; the dated future's has none of them (no carrying over from the perpetual)."""
    pipeline = run_frames(KrakenFuturesAdapter(), [TICKER, DATED], ts=TS, url=URL)
    rows = pylist(pipeline.sink.table("derivative_ticker"))
    keys = (
        "symbol",
        "market",
        "ts_exchange",
        "mark_price",
        "index_price",
        "last_price",
        "open_interest",
        "funding_rate",
        "predicted_funding_rate",
        "funding_time",
    )
    assert [tuple(r[k] for k in keys) for r in rows] == [
        (
            "PI_XBTUSD",
            "BTC-USD-PERP",
            1612270825253 * MS,
            Decimal("34844.5"),
            Decimal("34828.0"),
            Decimal("34852"),
            Decimal("9865520"),
            Decimal("0.000135484"),
            Decimal("0.000147077"),
            1612281600000 * MS,
        ),
        (
            "FI_XBTUSD_210625",
            "BTC-USD-20210625",
            1612270825253 * MS,
            Decimal("34844.5"),
            Decimal("34828.0"),
            Decimal("34852"),
            Decimal("9865520"),
            None,
            None,
            None,
        ),
    ]
    quotes = pylist(pipeline.sink.table("bbo"))
    assert [(q["bid_price"], q["ask_size"]) for q in quotes] == [
        (Decimal("34832.5"), Decimal("2300"))
    ] * 2


def test_liquidation_trades_are_trades_and_liquidations() -> None:
    """The trade page's example with ``type`` ``liquidation``: the liquidated position's
    order is the taker, so the liquidation's side is the trade's ``side``."""
    frame = (
        '{"feed":"trade","product_id":"PI_XBTUSD","uid":"05af78ac-a774-478c-a50c-8b9c234e071e",'
        '"side":"sell","type":"liquidation","seq":653355,"time":1612266317519,"qty":15000,'
        '"price":34969.5}'
    )
    pipeline = run_frames(
        KrakenFuturesAdapter(),
        [frame, frame.replace("liquidation", "fill").replace("05af", "15af")],
        ts=TS,
    )
    (liq,) = pylist(pipeline.sink.table("liquidations"))
    assert (liq["liquidation_id"], liq["side"], liq["price"], liq["size"]) == (
        "05af78ac-a774-478c-a50c-8b9c234e071e",
        "sell",
        Decimal("34969.5"),
        Decimal("15000"),
    )
    assert liq["ts_exchange"] == 1612266317519 * MS and liq["market"] == "BTC-USD-PERP"
    assert len(pylist(pipeline.sink.table("trades"))) == 2
