"""KuCoin adapter on the documentation's examples (each test names its page) and literal frames."""

from __future__ import annotations

import json

import pytest
from support import CAPTURES, MemorySink, load_records, needs_captures

import adapters
from adapters.kucoin.adapter import PING, TOKEN_URL, TOPICS_PER_CONNECTION, KucoinAdapter
from collector.adapter import Subscription
from collector.book.sequence import FirstLastRule
from collector.capture.records import Record
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade
from collector.pipeline import Pipeline

TS = 1_729_816_425_700_000_000
#: Orderbook - Increment (https://www.kucoin.com/docs-new/3470068w0; the classic page
#: https://www.kucoin.com/docs/websocket/spot-trading/public-channels/level2-market-data
#: shows the same message with two asks).
L2_DOC = """{"type":"message","topic":"/market/level2:BTC-USDT","subject":"trade.l2update",
"data":{"changes":{"asks":[["18906","0.00331","14103845"],["18907.3","0.58751503","14103844"]],
"bids":[["18891.9","0.15688","14103847"]]},"sequenceEnd":14103847,"sequenceStart":14103844,
"symbol":"BTC-USDT","time":1663747970273}}"""


def one(frame: str, adapter: KucoinAdapter | None = None):
    (msg,) = (adapter or KucoinAdapter()).decode(frame, TS)
    return msg


def test_registered_with_the_first_last_rule() -> None:
    adapter = adapters.create("kucoin")
    assert isinstance(adapter, KucoinAdapter)
    assert isinstance(adapter.sequence_rule, FirstLastRule)


def test_level2_increment_doc_example() -> None:
    """https://www.kucoin.com/docs/websocket/spot-trading/public-channels/level2-market-data"""
    msg = one(L2_DOC)
    assert msg == BookDelta(
        "BTC-USDT",
        1663747970273 * 10**6,
        TS,
        14103844,
        14103847,
        None,
        [("18891.9", "0.15688")],
        [("18906", "0.00331"), ("18907.3", "0.58751503")],
    )


def test_calibration_doc_example_rebuilds_the_documented_book() -> None:
    """https://www.kucoin.com/docs-new/3470068w0, "calibration": a REST book at sequence 16,
    then one update whose changes at or below 16 are already in it. The docs list the
    update's range as sequenceStart 19 / sequenceEnd 15 (swapped); its changes run 15..19."""
    book = {
        "sequence": "16",
        "asks": [["3988.62", "8"], ["3988.61", "32"], ["3988.60", "47"], ["3988.59", "3"]],
        "bids": [["3988.51", "56"], ["3988.50", "15"], ["3988.49", "100"], ["3988.48", "10"]],
    }
    update = {
        "type": "message",
        "topic": "/market/level2:ETH-USDT",
        "subject": "trade.l2update",
        "data": {
            "symbol": "ETH-USDT",
            "sequenceStart": 15,
            "sequenceEnd": 19,
            "changes": {
                "asks": [["3988.59", "3", "16"], ["3988.61", "0", "19"], ["3988.62", "8", "15"]],
                "bids": [["3988.50", "44", "18"]],
            },
        },
    }
    url = "https://api.kucoin.com/api/v1/market/orderbook/level2_100?symbol=ETH-USDT"
    pipeline = Pipeline(KucoinAdapter(), MemorySink())
    pipeline.on_record(Record("recv", TS, 1, json.dumps(update)))
    body = json.dumps({"code": "200000", "data": book})
    pipeline.on_record(Record("http", TS + 1, 0, body, url, 200))
    pipeline.on_record(Record("recv", TS + 2, 1, json.dumps(update)))  # a repeat: outdated
    pipeline.finish()
    sym = pipeline.engine.symbols["ETH-USDT"]
    assert sym.stats.snapshots_applied == 1 and sym.stats.gaps == 0
    # The documentation's table after the update:
    assert sym.book.asks.top_levels(10) == [("3988.59", "3"), ("3988.60", "47"), ("3988.62", "8")]
    assert sym.book.bids.top_levels(10) == [
        ("3988.51", "56"),
        ("3988.50", "44"),
        ("3988.49", "100"),
        ("3988.48", "10"),
    ]


def test_a_zero_price_change_only_moves_the_sequence() -> None:
    """Docs (level2 page): "If the price is 0, ignore the messages and update the sequence".
    The frame is the 2021 recording's first BCHSV-USDT update."""
    frame = (
        '{"data":{"sequenceStart":1613277183874,"symbol":"BCHSV-USDT","changes":{"asks":'
        '[["0","0","1613277183874"]],"bids":[]},"sequenceEnd":1613277183874},"subject":'
        '"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}'
    )
    msg = one(frame)
    assert isinstance(msg, BookDelta)
    assert (msg.first_id, msg.last_id, msg.bids, msg.asks) == (1613277183874,) * 2 + ([], [])
    assert msg.ts_exchange is None  # the 2021 feed sent no time


def test_match_doc_example_is_a_taker_trade_in_ns() -> None:
    """https://www.kucoin.com/docs/websocket/spot-trading/public-channels/match-execution-data"""
    frame = (
        '{"type":"message","topic":"/market/match:BTC-USDT","subject":"trade.l3match","data":'
        '{"makerOrderId":"6287c3015c27f000017d0c2f","price":"31078.6","sequence":"1621383297064",'
        '"side":"sell","size":"0.0163","symbol":"BTC-USDT","takerOrderId":'
        '"6287c30e5c27f000017d0c8f","time":"1653064366013547018","tradeId":'
        '"6287c30e5c27f000017d0c99","type":"match"}}'
    )
    assert one(frame) == Trade(
        "BTC-USDT", 1653064366013547018, TS, "6287c30e5c27f000017d0c99", "sell", "31078.6", "0.0163"
    )


def test_ticker_doc_example_is_a_best_bid_ask() -> None:
    """https://www.kucoin.com/docs/websocket/spot-trading/public-channels/ticker"""
    frame = (
        '{"type":"message","topic":"/market/ticker:BTC-USDT","subject":"trade.ticker","data":'
        '{"sequence":"1545896668986","price":"0.08","size":"0.011","bestAsk":"0.08",'
        '"bestAskSize":"0.18","bestBid":"0.049","bestBidSize":"0.036","Time":1704873323416,'
        '"time":1704873323416}}'
    )
    assert one(frame) == BestBidAsk(
        "BTC-USDT", 1704873323416 * 10**6, TS, 1545896668986, "0.049", "0.036", "0.08", "0.18"
    )
    empty = frame.replace('"bestBid":"0.049"', '"bestBid":null')
    assert isinstance(one(empty), Control)


def test_token_doc_example_gives_the_url_and_ping_interval() -> None:
    """https://www.kucoin.com/docs/websocket/basic-info/apply-connect-token/
    public-token-no-authentication-required-"""
    body = (
        '{"code":"200000","data":{"token":"2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2'
        "LEsEWU64mdzUOPusi34M_wGoSf7iNyEWJ4aBZXpWhrmY9jKtqkdWoFa75w3istPvPtiYB9J6i9GjsxUuhPw3Bl"
        'rzazF6ghq4L_Fnk8tn5THA8eS4nIqDxAWfHa_H27-9AD4lI3iSp6i7.fz6bD6aWW0ND3q1R-mXGZg==",'
        '"instanceServers":[{"endpoint":"wss://ws-api-spot.kucoin.com/","encrypt":true,'
        '"protocol":"websocket","pingInterval":18000,"pingTimeout":10000}]}}'
    )
    endpoint = KucoinAdapter().endpoint(body, "c1")
    assert endpoint.url.startswith("wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61")
    assert endpoint.url.endswith("mXGZg==&connectId=c1")
    assert endpoint.ping_interval_s == 18.0
    with pytest.raises(ValueError, match="refused"):
        KucoinAdapter().endpoint('{"code":"429000","msg":"Too many requests"}', "c")
    with pytest.raises(ValueError, match="no server"):
        KucoinAdapter().endpoint('{"code":"200000","data":{"token":"t","instanceServers":[]}}', "")
    with pytest.raises(ValueError, match="not understood"):
        KucoinAdapter().endpoint("<html>", "c")


def test_plan_subscribes_within_the_topic_limit_with_a_token_call_and_pings() -> None:
    symbols = [f"C{i}-USDT" for i in range(40)]
    subs = [Subscription(s, c) for s in symbols for c in ("book", "trades", "bbo")]
    plans = KucoinAdapter().plan(subs)
    assert [len({s.symbol for s in p.subscriptions}) for p in plans] == [33, 7]
    for plan in plans:
        assert len(plan.subscriptions) <= TOPICS_PER_CONNECTION
        assert plan.bootstrap is not None and plan.bootstrap.url == TOKEN_URL
        assert plan.bootstrap.method == "POST"
        assert (plan.app_ping, plan.app_ping_interval_s) == (PING, 18.0)
    first = [json.loads(f) for f in plans[0].subscribe]
    assert [f["topic"].split(":")[0] for f in first] == [
        "/market/level2",
        "/market/match",
        "/market/ticker",
    ]
    assert first[0]["topic"] == "/market/level2:" + ",".join(symbols[:33])
    assert all(f["type"] == "subscribe" and f["response"] is True for f in first)


def test_snapshot_request_is_the_public_top_100_book() -> None:
    request = KucoinAdapter().snapshot_request("BTC-USDT")
    assert request is not None
    assert request.url == (
        "https://api.kucoin.com/api/v1/market/orderbook/level2_100?symbol=BTC-USDT"
    )


def test_rest_books_of_both_versions_decode_and_a_refusal_names_the_symbol() -> None:
    """level2_100 (https://www.kucoin.com/docs/rest/spot-trading/market-data/
    get-part-order-book-aggregated-) and v3 level2 share the shape."""
    body = (
        '{"code":"200000","data":{"time":1550653727731,"sequence":"1550653727731",'
        '"bids":[["6500.12","0.45054140"]],"asks":[["6500.16","0.57753524"]]}}'
    )
    for path in ("/api/v1/market/orderbook/level2_100", "/api/v3/market/orderbook/level2"):
        (snap,) = KucoinAdapter().decode_rest(f"https://api.kucoin.com{path}?symbol=X-Y", body, TS)
        assert snap == BookSnapshot(
            "X-Y",
            1550653727731 * 10**6,
            TS,
            1550653727731,
            [("6500.12", "0.45054140")],
            [("6500.16", "0.57753524")],
        )
    url = "https://api.kucoin.com/api/v3/market/orderbook/level2?symbol=X-Y"
    (refused,) = KucoinAdapter().decode_rest(url, '{"code":"400003","msg":"KC-API-KEY"}', TS)
    assert refused == Control("error", TS, "X-Y: 400003: KC-API-KEY", "X-Y")


def test_controls_and_bad_frames() -> None:
    assert one('{"id":"NSkIrWGB1s","type":"welcome"}').kind == "ack"
    assert one('{"id":"1","type":"ack"}').kind == "ack"
    assert one('{"id":"ping","type":"pong"}').kind == "heartbeat"
    error = one('{"id":"1","type":"error","code":404,"data":"topic /market/level2:X is not found"}')
    assert error == Control("error", TS, "404: topic /market/level2:X is not found")
    unknown = one('{"type":"notice"}')
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    topic = one('{"type":"message","topic":"/market/other:X","subject":"s","data":{}}')
    assert isinstance(topic, DecodeFailed) and topic.unknown
    broken = one(L2_DOC.replace('"sequenceStart":14103844,', ""))
    assert isinstance(broken, DecodeFailed) and not broken.unknown
    assert isinstance(one("not json"), DecodeFailed)
    side = one(
        '{"type":"message","topic":"/market/match:A-B","subject":"trade.l3match","data":'
        '{"symbol":"A-B","sequence":"1","side":"both","price":"1","size":"1","tradeId":"t",'
        '"time":"1"}}'
    )
    assert isinstance(side, DecodeFailed) and not side.unknown


@needs_captures
def test_market_names_come_from_the_symbol_list() -> None:
    """The recorded list names BCHSV-USDT's base BSV; unlisted symbols keep their own name."""
    adapter = KucoinAdapter()
    _, records = load_records(CAPTURES / "kucoin" / "KUCOIN.instruments.jsonl.gz")
    for r in records:
        if r.kind == "http":
            assert all(
                not isinstance(m, DecodeFailed) for m in adapter.decode_rest(r.url, r.data, 0)
            )
    assert adapter.market("BCHSV-USDT") == "BSV-USDT"
    assert adapter.market("BTC-USDT") == "BTC-USDT"
    assert adapter.listed("BCHSV-USDT") is True and adapter.listed("NOPE-USDT") is False
