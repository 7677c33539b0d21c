"""Phemex adapter on literal frames.

USDT-M frames (``orderbook_p``, ``trades_p``) are the samples of
https://github.com/phemex/phemex-api-docs/blob/master/Public-Hedged-Perpetual-API.md
("Subscribe OrderBook", "Subscribe Trade"), verbatim. The scaled-integer frames
(``book``, ``trades`` of COIN-M contracts and spot) are verbatim frames of the 2021
recording (``phemex/PHEMEX.jsonl.gz``), whose shape
https://github.com/phemex/phemex-api-docs/blob/master/Public-Contract-API-en.md documents;
the refusal ``6001 invalid argument`` is the one that page lists for a bad request. The
product list is a hand-made excerpt of the recorded one (same fields, two products).
"""

from __future__ import annotations

import json

import pytest
from support import pylist, run_frames

import adapters
from adapters.phemex import adapter as phemex
from adapters.phemex.adapter import APP_PING, MAX_SYMBOLS_PER_CONNECTION, URL, PhemexAdapter
from collector.adapter import Subscription
from collector.config import ConfigError, parse_config
from collector.model import BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_700_000_000_000_000_000
PRODUCTS_URL = "https://api.phemex.com/exchange/public/cfg/v2/products"
PRODUCTS = json.dumps(
    {
        "code": 0,
        "msg": "OK",
        "data": {
            "ratioScale": 8,
            "currencies": [
                {"currency": "GRT", "valueScale": 8, "name": "The Graph"},
                {"currency": "USDT", "valueScale": 8, "name": "TetherUS"},
                {"currency": "USD", "valueScale": 4, "name": "USD"},
            ],
            "products": [
                {
                    "symbol": "XTZUSD",
                    "type": "Perpetual",
                    "quoteCurrency": "USD",
                    "settleCurrency": "USD",
                    "contractUnderlyingAssets": "XTZ",
                    "priceScale": 4,
                    "status": "Listed",
                },
                {
                    "symbol": "sGRTUSDT",
                    "type": "Spot",
                    "quoteCurrency": "USDT",
                    "baseCurrency": "GRT",
                    "status": "Listed",
                },
            ],
        },
    }
)
#: Recorded frames (PHEMEX.jsonl.gz): a spot incremental, a contract incremental, a trade.
SPOT_BOOK = (
    '{"book":{"asks":[],"bids":[[67182000,452276000000],[66936000,0]]},"depth":30,'
    '"sequence":175932828,"symbol":"sGRTUSDT","timestamp":1625342241840459601,'
    '"type":"incremental"}'
)
XTZ_BOOK = (
    '{"book":{"asks":[[30170,42007]],"bids":[]},"depth":30,"sequence":4899654234,'
    '"symbol":"XTZUSD","timestamp":1625342241732802237,"type":"incremental"}'
)
SPOT_TRADE = (
    '{"sequence":146074875,"symbol":"sSUSHIUSDT","trades":[[1625342244127840967,"Buy",'
    '769100000,168200000]],"type":"incremental"}'
)
#: Public-Hedged-Perpetual-API.md, "Subscribe OrderBook" sample (first frame) and
#: "Subscribe Trade" samples.
DOC_BOOK_P = (
    '{"depth":30,"orderbook_p":{"asks":[["20702.9","0.718"],["20703.9","0.524"],'
    '["20704.9","0"],["20720.8","0"]],"bids":[["20703.1","0"],["20701.3","0"],'
    '["20701.2","0"],["20700.5","1.622"],["20473.7","1.074"],["20441.3","0.904"]]},'
    '"sequence":77668172,"symbol":"BTCUSDT","timestamp":1666854171201355264,'
    '"type":"incremental"}'
)
DOC_TRADE_P = json.dumps(
    {
        "sequence": 77702250,
        "symbol": "BTCUSDT",
        "trades_p": [[1666856076819029800, "Sell", "20700.3", "0.649"]],
        "type": "incremental",
    }
)
DOC_TRADE_P_SNAPSHOT = json.dumps(
    {
        "sequence": 77663551,
        "symbol": "BTCUSDT",
        "trades_p": [
            [1666856062351916300, "Sell", "20703.6", "0.669"],
            [1666854025545354000, "Buy", "20699", "0.001"],
        ],
        "type": "snapshot",
    }
)


def loaded() -> PhemexAdapter:
    adapter = PhemexAdapter()
    adapter.decode_rest(PRODUCTS_URL, PRODUCTS, TS)
    return adapter


def test_scaled_levels_become_exact_text() -> None:
    """Spot: price by the quote currency's valueScale (8), size by the base's (8)."""
    (delta,) = loaded().decode(SPOT_BOOK, TS)
    assert delta == BookDelta(
        "sGRTUSDT",
        1625342241840459601,
        TS,
        175932828,
        175932828,
        None,
        [("0.67182", "4522.76"), ("0.66936", "0")],
        [],
        depth=30,
    )
    # Contract: price by the product's priceScale (4), size in whole contracts.
    (xtz,) = loaded().decode(XTZ_BOOK, TS)
    assert xtz.asks == [("3.017", "42007")] and xtz.bids == []


def test_doc_orderbook_p_is_text_already() -> None:
    """USDT-M frames need no scale: decoded before any product list."""
    (delta,) = PhemexAdapter().decode(DOC_BOOK_P, TS)
    assert isinstance(delta, BookDelta)
    assert (delta.symbol, delta.last_id, delta.ts_exchange) == (
        "BTCUSDT",
        77668172,
        1666854171201355264,
    )
    assert delta.asks[0] == ("20702.9", "0.718") and delta.bids[3] == ("20700.5", "1.622")
    snapshot = DOC_BOOK_P.replace('"incremental"', '"snapshot"')
    (snap,) = PhemexAdapter().decode(snapshot, TS)
    assert isinstance(snap, BookSnapshot) and snap.in_band and snap.depth == 30


def test_trades_are_the_takers_and_carry_no_id() -> None:
    (t,) = loaded().decode(DOC_TRADE_P, TS)
    assert t == Trade("BTCUSDT", 1666856076819029800, TS, "", "sell", "20700.3", "0.649")
    (history,) = loaded().decode(DOC_TRADE_P_SNAPSHOT, TS)
    assert history == Control("ignored", TS, "trade snapshot: 2 historical trades")


def test_scaled_trade_waits_for_its_scales() -> None:
    adapter = PhemexAdapter()
    adapter.decode_rest(
        PRODUCTS_URL,
        PRODUCTS.replace('"GRT"', '"SUSHI"').replace("sGRTUSDT", "sSUSHIUSDT"),
        TS,
    )
    (t,) = adapter.decode(SPOT_TRADE, TS)
    assert (t.price, t.size, t.side) == ("7.691", "1.682", "buy")


def test_frames_before_the_product_list_are_held_then_decoded_in_order() -> None:
    adapter = PhemexAdapter()
    assert adapter.decode(SPOT_BOOK, TS) == []
    assert adapter.decode(XTZ_BOOK, TS + 1) == []
    out = adapter.decode_rest(PRODUCTS_URL, PRODUCTS, TS + 2)
    assert isinstance(out[0], Control) and out[0].detail == "products loaded: 2 scaled"
    assert [(m.symbol, m.ts_recv) for m in out[1:]] == [("sGRTUSDT", TS), ("XTZUSD", TS + 1)]
    assert out[1:] == [*loaded().decode(SPOT_BOOK, TS), *loaded().decode(XTZ_BOOK, TS + 1)]


def test_the_lists_are_polled_only_while_none_has_loaded() -> None:
    """A failed start-up fetch is retried by the daemon's poll; a good one needs none."""
    subs = [Subscription("BTCUSD", "book")]
    polls = PhemexAdapter().poll_requests(subs)
    assert [p.request.url for p in polls] == [r.url for r in PhemexAdapter().instrument_requests()]
    assert {p.interval_s for p in polls} == {60.0}
    assert loaded().poll_requests(subs) == []


def test_a_symbol_the_list_does_not_scale_stays_held() -> None:
    adapter = PhemexAdapter()
    unknown = SPOT_BOOK.replace("sGRTUSDT", "sNEWUSDT")
    assert adapter.decode(unknown, TS) == []
    assert adapter.decode_rest(PRODUCTS_URL, PRODUCTS, TS)[1:] == []
    assert adapter.decode(unknown, TS) == []  # still waiting for a list that names it


def test_holding_is_bounded_and_every_drop_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phemex, "HOLD_LIMIT", 2)
    adapter = PhemexAdapter()
    assert adapter.decode(SPOT_BOOK, TS) == adapter.decode(SPOT_BOOK, TS + 1) == []
    (dropped,) = adapter.decode(XTZ_BOOK, TS + 2)
    assert isinstance(dropped, DecodeFailed) and not dropped.unknown
    assert dropped.ts_recv == TS and "the product list has not loaded" in dropped.reason
    released = adapter.decode_rest(PRODUCTS_URL, PRODUCTS, TS + 3)[1:]
    assert [m.ts_recv for m in released] == [TS + 1, TS + 2]


def test_replies_heartbeats_and_errors() -> None:
    adapter = PhemexAdapter()
    ack = '{"error":null,"id":1,"result":{"status":"success"}}'
    assert adapter.decode(ack, TS) == [Control("ack", TS, 'id=1: {"status":"success"}')]
    pong = '{"error":null,"id":0,"result":"pong"}'
    assert adapter.decode(pong, TS) == [Control("heartbeat", TS, "server.ping reply")]
    refused = '{"error":{"code":6001,"message":"invalid argument"},"id":106,"result":null}'
    assert adapter.decode(refused, TS) == [Control("error", TS, "id=106 6001: invalid argument")]
    kline = '{"kline":[[1625342220,60,1,2,3,4,5,6,7]],"sequence":1,"symbol":"XTZUSD",'
    kline += '"type":"incremental"}'
    assert adapter.decode(kline, TS)[0].kind == "ignored"
    tick = '{"tick":{"last":1},"symbol":"X","sequence":1,"type":"incremental"}'
    (unknown,) = adapter.decode(tick, TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    (bad,) = loaded().decode(SPOT_BOOK.replace("67182000", "67182000.5"), TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown  # a float is no scaled integer


def test_product_lists_of_both_paths_and_a_refusal() -> None:
    adapter = PhemexAdapter()
    out = adapter.decode_rest("https://api.phemex.com/public/products", PRODUCTS, TS)
    assert out[0].kind == "ignored" and adapter.listed("XTZUSD") and adapter.listed("X") is False
    assert adapter.market("XTZUSD") == "XTZ-USD-PERP" and adapter.market("sGRTUSDT") == "GRT-USDT"
    refused = adapter.decode_rest(PRODUCTS_URL, '{"code":10001,"msg":"busy","data":null}', TS)
    assert refused == [Control("error", TS, "/exchange/public/cfg/v2/products: 10001 busy")]
    (other,) = adapter.decode_rest("https://api.phemex.com/md/orderbook", "{}", TS)
    assert isinstance(other, DecodeFailed) and other.unknown


def test_markets_without_a_list_follow_the_symbol() -> None:
    adapter = PhemexAdapter()
    assert adapter.market("sBTCUSDT") == "BTC-USDT"
    assert adapter.market("BTCUSD") == "BTC-USD-PERP"
    assert adapter.market("BTCUSDT") == "BTC-USDT-PERP"


def test_plan_one_request_per_symbol_and_channel() -> None:
    subs = [Subscription(s, c) for s in ("BTCUSD", "BTCUSDT") for c in ("book", "trades")]
    (plan,) = PhemexAdapter().plan(subs)
    assert plan.url == URL == "wss://ws.phemex.com"
    assert [json.loads(f)["method"] for f in plan.subscribe] == [
        "orderbook.subscribe",
        "trade.subscribe",
        "orderbook_p.subscribe",
        "trade_p.subscribe",
    ]
    assert plan.app_ping == APP_PING and plan.app_ping_interval_s == 5.0
    many = [Subscription(f"S{i}USD", c) for i in range(25) for c in ("book", "trades")]
    plans = PhemexAdapter().plan(many)
    # The venue's cap is 20 subscriptions a connection: 10 symbols of two channels.
    assert [len(p.subscribe) for p in plans] == [20, 20, 10]
    assert MAX_SYMBOLS_PER_CONNECTION * 2 == 20


def test_bbo_is_refused_by_the_plan_and_the_config() -> None:
    with pytest.raises(ValueError, match="no bbo channel"):
        PhemexAdapter().plan([Subscription("BTCUSD", "bbo")])
    text = '[[exchange]]\nname = "phemex"\nsymbols = ["BTCUSD"]\n'
    assert parse_config(text, "t.toml").exchanges[0].channels == ["book", "trades"]
    with pytest.raises(ConfigError, match="is not served by phemex"):
        parse_config(text + 'channels = ["book", "bbo"]\n', "t.toml")


def test_engine_keeps_the_book_from_scaled_frames() -> None:
    snapshot = XTZ_BOOK.replace('"incremental"', '"snapshot"').replace(
        '"bids":[]', '"bids":[[30020,2300]]'
    )
    adapter = adapters.create("phemex")
    adapter.decode_rest(PRODUCTS_URL, PRODUCTS, TS)
    pipeline = run_frames(adapter, [snapshot, XTZ_BOOK.replace("42007", "0")], ts=TS)
    rows = pylist(pipeline.sink.table("book"))
    assert [(r["is_snapshot"], r["side"], str(r["price"]), str(r["size"])) for r in rows] == [
        (True, "bid", "3.002000000000000000", "2300.000000000000000000"),
        (True, "ask", "3.017000000000000000", "42007.000000000000000000"),
        (False, "ask", "3.017000000000000000", "0E-18"),
    ]
    assert rows[0]["market"] == "XTZ-USD-PERP"
