"""Binance adapter decoding on literal frames (shapes taken from the recordings and docs)."""

from __future__ import annotations

import pytest
from support import run_frames

import adapters
from adapters.binance.adapter import BinanceAdapter
from collector import levels
from collector.adapter import Subscription
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_700_000_000_000_000_000


def one(adapter: BinanceAdapter, frame: str):
    (msg,) = adapter.decode(frame, TS)
    return msg


def test_combined_futures_depth_keeps_text_and_engine_time() -> None:
    frame = (
        '{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,'
        '"T":1723161256298,"s":"BTCUSDT","U":5,"u":9,"pu":4,"b":[["61496.50","0.010"]],'
        '"a":[]}}'
    )
    msg = one(BinanceAdapter("binance-usdm"), frame)
    # The level arrays stay JSON text until the pipeline reads them (collector.levels).
    assert bytes(msg.bids) == b'[["61496.50","0.010"]]' and bytes(msg.asks) == b"[]"
    assert levels.read(msg) == BookDelta(
        "BTCUSDT", 1723161256298 * 10**6, TS, 5, 9, 4, [("61496.50", "0.010")], []
    )


def test_raw_spot_frames_without_envelope() -> None:
    a = BinanceAdapter("binance-spot")
    depth = one(a, '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[["1.0","2"]]}')
    assert isinstance(depth, BookDelta) and depth.prev_id is None and depth.ts_exchange == 10**6
    quote = one(a, '{"u":400900217,"s":"BNBUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}')
    assert quote == BestBidAsk("BNBUSDT", None, TS, 400900217, "25.35", "31.21", "25.36", "40.66")


@pytest.mark.parametrize("m,side", [("true", "sell"), ("false", "buy")])
def test_taker_side_from_buyer_is_maker(m: str, side: str) -> None:
    frame = (
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":2,"s":"BTCUSDT","t":12,'
        f'"p":"0.001","q":"100","T":1,"m":{m},"M":true}}}}'
    )
    assert one(BinanceAdapter("binance-spot"), frame) == Trade(
        "BTCUSDT", 10**6, TS, "12", side, "0.001", "100"
    )


def test_agg_trade_uses_aggregate_id() -> None:
    frame = (
        '{"stream":"x@aggTrade","data":{"e":"aggTrade","E":2,"s":"X","a":77,"p":"1",'
        '"q":"2","f":1,"l":3,"T":1,"m":false}}'
    )
    msg = one(BinanceAdapter("binance-usdm"), frame)
    assert isinstance(msg, Trade) and msg.trade_id == "77" and msg.side == "buy"


def test_non_market_futures_fill_is_not_a_trade() -> None:
    frame = (
        '{"stream":"x@trade","data":{"e":"trade","E":2,"T":1,"s":"X","t":1,"p":"1",'
        '"q":"1","X":"INSURANCE_FUND","m":true}}'
    )
    assert one(BinanceAdapter("binance-usdm"), frame).kind == "ignored"


@pytest.mark.parametrize(
    "frame,kind",
    [
        ('{"result":null,"id":1}', "ack"),
        ('{"error":{"code":2,"msg":"Invalid request"},"id":3}', "error"),
        ('{"e":"serverShutdown","E":1}', "shutdown"),
        ('{"stream":"x@kline_1m","data":{"e":"kline","E":1,"s":"X","k":{}}}', "ignored"),
        ('{"stream":"x@depth20@100ms","data":{"lastUpdateId":1,"bids":[],"asks":[]}}', "ignored"),
    ],
)
def test_control_frames(frame: str, kind: str) -> None:
    msg = one(BinanceAdapter("binance-spot"), frame)
    assert isinstance(msg, Control) and msg.kind == kind


#: Real combined-stream 24h ticker frames (2022-05-29) from crypto-crawler's parser tests,
#: crypto-crawler/crypto-msg-parser ``tests/binance.rs`` (``mod ticker``): spot, USD-M and
#: COIN-M. The mini ticker is the documentation's example payload in its combined envelope
#: (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams, "Individual
#: Symbol Mini Ticker Stream").
TICKERS = {
    "binance-spot": (
        '{"stream":"ethusdt@ticker","data":{"e":"24hrTicker","E":1653812650349,"s":"ETHUSDT",'
        '"p":"28.23000000","P":"1.600","w":"1781.16275609","x":"1764.61000000",'
        '"c":"1792.84000000","Q":"0.55720000","b":"1792.83000000","B":"1.62740000",'
        '"a":"1792.84000000","A":"20.29140000","o":"1764.61000000","h":"1808.98000000",'
        '"l":"1748.94000000","v":"471703.53110000","q":"840180761.51358100","O":1653726250344,'
        '"C":1653812650344,"F":841094172,"L":841646650,"n":552479}}'
    ),
    "binance-usdm": (
        '{"stream":"ethusdt@ticker","data":{"e":"24hrTicker","E":1653815205866,"s":"ETHUSDT",'
        '"p":"24.69","P":"1.405","w":"1782.01","c":"1782.02","Q":"0.003","o":"1757.33",'
        '"h":"1809.33","l":"1750.45","v":"1678290.411","q":"2990736920.72","O":1653728760000,'
        '"C":1653815205856,"F":1689354205,"L":1691266554,"n":1912297}}'
    ),
    "binance-coinm": (
        '{"stream":"btcusd_perp@ticker","data":{"e":"24hrTicker","E":1653815020148,'
        '"s":"BTCUSD_PERP","ps":"BTCUSD","p":"238.2","P":"0.827","w":"28943.21988874",'
        '"c":"29031.8","Q":"83","o":"28793.6","h":"29222.8","l":"28728.4","v":"12229247",'
        '"q":"42252.54497257","O":1653728580000,"C":1653815020145,"F":442530608,'
        '"L":442717685,"n":187078}}'
    ),
}
MINI_TICKER = (
    '{"stream":"bnbbtc@miniTicker","data":{"e":"24hrMiniTicker","E":1672515782136,'
    '"s":"BNBBTC","c":"0.0025","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18"}}'
)


@pytest.mark.parametrize("slug", sorted(TICKERS))
def test_combined_ticker_streams_are_known_and_not_stored(slug: str) -> None:
    """Combined frames name the stream (``@ticker``), not the event (``24hrTicker``).

    The adapter ignores them as a known channel, and the drift monitor (the venue's
    contract, run by the pipeline on every frame it flags) does not call them unknown.
    """
    frames = [TICKERS[slug], MINI_TICKER]
    for frame in frames:
        msg = one(BinanceAdapter(slug), frame)
        assert isinstance(msg, Control) and msg.kind == "ignored", msg
    window = TICKERS[slug].replace("@ticker", "@ticker_1h", 1)  # rolling-window statistics
    assert one(BinanceAdapter(slug), window).kind == "ignored"
    pipeline = run_frames(BinanceAdapter(slug), [*frames, window], ts=TS)
    assert dict(pipeline.problems) == {}
    assert pipeline.controls["ignored"] == 3
    assert pipeline.sink.table("quality") is None  # no drift event either


@pytest.mark.parametrize(
    "frame,unknown",
    [
        ('{"stream":"x@depth","data":{"e":"depthUpdate","E":1', False),  # truncated
        (
            '{"stream":"x@depth","data":{"e":"depthUpdate","E":"1","s":"X","U":1,"u":1,'
            '"b":[],"a":[]}}',
            False,
        ),  # number became a string
        ('{"stream":"x@newThing","data":{}}', True),
        ('{"hello":1}', True),
        ("not json", False),
    ],
)
def test_bad_frames_become_values(frame: str, unknown: bool) -> None:
    msg = one(BinanceAdapter("binance-spot"), frame)
    assert isinstance(msg, DecodeFailed) and msg.unknown is unknown and msg.sample


def test_rest_snapshot_symbol_from_url_and_errors() -> None:
    a = BinanceAdapter("binance-usdm")
    body = '{"lastUpdateId":7,"E":3,"T":2,"bids":[["1.0","2"]],"asks":[]}'
    (snap,) = a.decode_rest(
        "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000", body, TS
    )
    assert snap == BookSnapshot("BTCUSDT", 2 * 10**6, TS, 7, [("1.0", "2")], [])
    (err,) = a.decode_rest(
        "https://x/fapi/v1/depth?symbol=NOPE", '{"code":-1121,"msg":"Invalid symbol."}', TS
    )
    assert err == Control("error", TS, "NOPE: -1121: Invalid symbol.", "NOPE")


@pytest.mark.parametrize(
    "slug,symbol,market",
    [
        ("binance-spot", "BTCUSDT", "BTC-USDT"),
        ("binance-spot", "ELFBUSD", "ELF-BUSD"),
        ("binance-spot", "RUNEEUR", "RUNE-EUR"),
        ("binance-usdm", "BTCUSDT", "BTC-USDT-PERP"),
        ("binance-usdm", "BTCUSDT_261225", "BTC-USDT-20261225"),
        ("binance-coinm", "BTCUSD_PERP", "BTC-USD-PERP"),
        ("binance-coinm", "ETHUSD_210924", "ETH-USD-20210924"),
    ],
)
def test_markets(slug: str, symbol: str, market: str) -> None:
    assert adapters.create(slug).market(symbol) == market


def test_exchange_info_overrides_guessing() -> None:
    a = BinanceAdapter("binance-spot")
    a.decode_rest(
        "https://api.binance.com/api/v3/exchangeInfo",
        '{"symbols":[{"symbol":"ABCDUSDT","baseAsset":"ABCDU","quoteAsset":"SDT"}]}',
        TS,
    )
    assert a.market("ABCDUSDT") == "ABCDU-SDT"


def test_usdm_plan_keeps_public_and_market_paths_apart() -> None:
    subs = [
        Subscription("BTCUSDT", "book"),
        Subscription("BTCUSDT", "bbo"),
        Subscription("BTCUSDT", "trades"),
    ]
    plans = BinanceAdapter("binance-usdm").plan(subs)
    routes = sorted([p.url for p in plan.routes()] for plan in plans)
    assert routes == [
        ["wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"],
        [  # raw trades: seen on /public by 2026-09 reports, routed to /market by others
            "wss://fstream.binance.com/public/stream?streams=btcusdt@trade",
            "wss://fstream.binance.com/market/stream?streams=btcusdt@trade",
        ],
    ]


def test_coinm_plan_tries_the_routed_paths_before_the_unrouted_one() -> None:
    subs = [Subscription("BTCUSD_PERP", c) for c in ("book", "trades")]
    plans = BinanceAdapter("binance-coinm").plan(subs)
    routes = {p.subscriptions[0].channel: [r.url for r in p.routes()] for p in plans}
    assert routes == {
        "book": [
            "wss://dstream.binance.com/public/stream?streams=btcusd_perp@depth@100ms",
            "wss://dstream.binance.com/stream?streams=btcusd_perp@depth@100ms",
        ],
        "trades": [
            "wss://dstream.binance.com/public/stream?streams=btcusd_perp@trade",
            "wss://dstream.binance.com/market/stream?streams=btcusd_perp@trade",
            "wss://dstream.binance.com/stream?streams=btcusd_perp@trade",
        ],
    }
    # Every route carries exactly the same subscriptions: a move changes the path only.
    assert all(r.subscriptions == p.subscriptions for p in plans for r in p.routes())


def test_spot_plan_has_one_route_and_one_connection() -> None:
    subs = [Subscription("BTCUSDT", c) for c in ("book", "bbo", "trades")]
    (plan,) = BinanceAdapter("binance-spot").plan(subs)
    assert plan.fallbacks == []


def test_snapshot_request_url() -> None:
    assert BinanceAdapter("binance-spot").snapshot_request("BTCUSDT").url == (
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000"
    )


def test_plan_splits_streams_across_connections() -> None:
    subs = [Subscription(f"S{i}USDT", c) for i in range(150) for c in ("book", "bbo")]
    plans = BinanceAdapter("binance-spot").plan(subs)
    assert [len(p.subscriptions) for p in plans] == [200, 100]
    assert sum(len(p.url.split("=", 1)[1].split("/")) for p in plans) == 300
    assert all(p.lifetime_s == 24 * 3600 and p.max_messages_per_second == 5 for p in plans)


def test_microsecond_time_unit_is_recognized() -> None:
    frame = (
        '{"stream":"x@trade","data":{"e":"trade","E":1723161255343123,"s":"X","t":1,'
        '"p":"1","q":"1","T":1723161255342999,"m":true}}'
    )
    assert one(BinanceAdapter("binance-spot"), frame).ts_exchange == 1723161255342999000
