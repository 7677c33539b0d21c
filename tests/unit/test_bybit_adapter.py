"""Bybit adapter on literal frames (shapes from the recordings and the v5/v2 docs)."""

from __future__ import annotations

import json

import pytest
from support import pylist, run_frames

import adapters
from adapters.bybit.adapter import (
    MAX_ARGS_CHARS,
    PING,
    SPOT_ARGS_PER_REQUEST,
    TOPICS_PER_CONNECTION,
    BybitAdapter,
)
from collector.adapter import Subscription
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    Trade,
)
from collector.pipeline import Pipeline

TS = 1_700_000_000_000_000_000
LINEAR, SPOT, INVERSE, OPTION, LEGACY_USDT, LEGACY_INVERSE = 1, 2, 3, 4, 5, 6
URLS = {
    LINEAR: "wss://stream.bybit.com/v5/public/linear",
    SPOT: "wss://stream.bybit.com/v5/public/spot",
    INVERSE: "wss://stream-testnet.bybit.com/v5/public/inverse",
    OPTION: "wss://stream.bybit.com/v5/public/option",
    LEGACY_USDT: "wss://stream.bybit.com/realtime_public",
    LEGACY_INVERSE: "wss://stream.bybit.com/realtime",
}


@pytest.fixture
def bybit() -> BybitAdapter:
    adapter = BybitAdapter()
    for conn, url in URLS.items():
        adapter.connected(conn, url)
    return adapter


def one(adapter: BybitAdapter, frame: str, conn: int = LINEAR):
    (msg,) = adapter.decode(frame, TS, conn)
    return msg


def book(kind: str, u: int, b: str = '[["65114.20","6.054"]]', a: str = '[["65114.30","0"]]'):
    return (
        f'{{"topic":"orderbook.200.BTCUSDT","type":"{kind}","ts":1786310818130,'
        f'"data":{{"s":"BTCUSDT","b":{b},"a":{a},"u":{u},"seq":753843913870}},'
        '"cts":1786310818129}'
    )


# -- books -----------------------------------------------------------------------------


def test_snapshot_is_in_band_at_subscribed_depth_with_engine_time(bybit) -> None:
    assert one(bybit, book("snapshot", 15076952)) == BookSnapshot(
        "linear:BTCUSDT",
        1786310818129 * 10**6,  # cts, not the later publish ts
        TS,
        15076952,
        [("65114.20", "6.054")],
        [("65114.30", "0")],
        in_band=True,
        depth=200,
    )


def test_delta_carries_u_as_first_and_last_id(bybit) -> None:
    msg = one(bybit, book("delta", 15076953))
    assert msg == BookDelta(
        "linear:BTCUSDT",
        1786310818129 * 10**6,
        TS,
        15076953,
        15076953,
        None,
        [("65114.20", "6.054")],
        [("65114.30", "0")],
        depth=200,
    )


def test_delta_with_u_1_is_a_service_restart_snapshot(bybit) -> None:
    msg = one(bybit, book("delta", 1))
    assert isinstance(msg, BookSnapshot) and msg.in_band and msg.last_id == 1


def test_the_connection_url_names_the_market(bybit) -> None:
    spot = one(bybit, book("delta", 7), SPOT)
    linear = one(bybit, book("delta", 7), LINEAR)
    inverse = one(bybit, book("delta", 7), INVERSE)
    assert (spot.symbol, linear.symbol, inverse.symbol) == (
        "spot:BTCUSDT",
        "linear:BTCUSDT",
        "inverse:BTCUSDT",
    )


def test_frame_of_a_connection_with_unknown_url_is_not_guessed(bybit) -> None:
    msg = one(bybit, book("delta", 7), conn=99)
    assert isinstance(msg, DecodeFailed) and not msg.unknown and "connection 99" in msg.reason
    bybit.connected(98, "wss://stream.bybit.com/contract/usdt/public/v3")
    assert isinstance(one(bybit, book("delta", 7), conn=98), DecodeFailed)
    bybit.connected(97, "ws://127.0.0.1:9001/v5/public/spot?x=1")  # rewritten host
    assert one(bybit, book("delta", 7), conn=97).symbol == "spot:BTCUSDT"


def test_exponent_text_becomes_plain_decimal(bybit) -> None:
    msg = one(bybit, book("delta", 9, b='[["0.00001","1e-8"]]', a="[]"))
    assert msg.bids == [("0.00001", "0.00000001")]


def test_level_one_book_is_the_bbo_without_seq(bybit) -> None:
    frame = (
        '{"topic":"orderbook.1.ETHUSDT","type":"snapshot","ts":2,"data":{"s":"ETHUSDT",'
        '"b":[["1923.27","3.1"]],"a":[["1923.28","0.5"]],"u":77,"seq":9},"cts":1}'
    )
    assert one(bybit, frame, SPOT) == BestBidAsk(
        "spot:ETHUSDT", 10**6, TS, None, "1923.27", "3.1", "1923.28", "0.5"
    )
    one_sided = frame.replace('[["1923.28","0.5"]]', "[]")
    assert one(bybit, one_sided, SPOT).kind == "ignored"


#: A 2023-10-06 linear BTCUSDT ``orderbook.1`` session, verbatim: the snapshot, then four
#: one-sided deltas with consecutive ``u``. Logged in the comments of a public Codon
#: websocket client (GitHub code index, stored file id 6991562559; the index does not name
#: its repository). Bybit documents level 1 as snapshot-only; in 2023 it sent these.
LEVEL_ONE_2023 = [
    '{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1696581023728,"data":{"s":"BTCUSDT",'
    '"b":[["27646.80","5.317"]],"a":[["27646.90","18.740"]],"u":42452159,"seq":88215706297}}',
    '{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1696581023748,"data":{"s":"BTCUSDT",'
    '"b":[],"a":[["27646.90","20.396"]],"u":42452160,"seq":88215706351}}',
    '{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1696581023767,"data":{"s":"BTCUSDT",'
    '"b":[["27646.80","4.564"]],"a":[],"u":42452161,"seq":88215706385}}',
    '{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1696581023798,"data":{"s":"BTCUSDT",'
    '"b":[["27646.80","4.743"]],"a":[],"u":42452162,"seq":88215706473}}',
    '{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1696581023807,"data":{"s":"BTCUSDT",'
    '"b":[],"a":[["27646.90","19.615"]],"u":42452163,"seq":88215706515}}',
]


@pytest.mark.parametrize("conn", [LINEAR, SPOT])
def test_level_one_deltas_of_2023_update_the_quote(bybit, conn: int) -> None:
    quotes = [one(bybit, frame, conn) for frame in LEVEL_ONE_2023]
    category = "linear" if conn == LINEAR else "spot"
    assert [(q.symbol, q.bid_price, q.bid_size, q.ask_price, q.ask_size) for q in quotes] == [
        (f"{category}:BTCUSDT", "27646.80", "5.317", "27646.90", "18.740"),
        (f"{category}:BTCUSDT", "27646.80", "5.317", "27646.90", "20.396"),
        (f"{category}:BTCUSDT", "27646.80", "4.564", "27646.90", "20.396"),
        (f"{category}:BTCUSDT", "27646.80", "4.743", "27646.90", "20.396"),
        (f"{category}:BTCUSDT", "27646.80", "4.743", "27646.90", "19.615"),
    ]
    assert [q.ts_exchange for q in quotes][-1] == 1696581023807 * 10**6


def test_level_one_delta_without_its_predecessor_waits_for_a_snapshot(bybit) -> None:
    """A delta that does not follow the held quote (missed, or no snapshot yet) writes
    nothing until the next snapshot (re-sent every 3 s); a deletion empties a side."""
    snap, d1, d2, d3 = LEVEL_ONE_2023[:4]
    assert one(bybit, d1).kind == "ignored"  # no snapshot yet
    assert isinstance(one(bybit, snap), BestBidAsk)
    missed = one(bybit, d2)  # d1 lost
    assert missed.kind == "ignored" and "u=42452161 after u=42452159" in missed.detail
    assert one(bybit, d3).kind == "ignored"  # still unknown
    assert isinstance(one(bybit, snap), BestBidAsk)
    deleted = d1.replace('"20.396"', '"0"')
    assert one(bybit, deleted).detail.endswith("one-sided top of book")
    recorded = 1696581023750 * 10**6
    pipeline = run_frames(BybitAdapter(), LEVEL_ONE_2023, ts=recorded, url=URLS[LINEAR])
    assert dict(pipeline.problems) == {}
    assert pipeline.sink.table("bbo").num_rows == 5
    # The contract knows level-1 deltas; its one remark is that 2023 had no ``cts`` yet.
    quality = pylist(pipeline.sink.table("quality"))
    drift = {q["detail"].split(":")[0] for q in quality if q["kind"] == "drift"}
    assert drift == {"missing_field orderbook cts"}


# -- trades ----------------------------------------------------------------------------


def test_trades_use_S_as_taker_side() -> None:
    adapter = BybitAdapter()
    adapter.connected(0, URLS[SPOT])
    frame = (
        '{"topic":"publicTrade.ETHUSDT","ts":1786310821917,"type":"snapshot","data":['
        '{"i":"2280000001739247417","T":1786310821917,"p":"1923.28","v":"0.04537","S":"Sell",'
        '"seq":178477362706,"s":"ETHUSDT","BT":false,"RPI":false},'
        '{"i":"2280000001739247418","T":1786310821918,"p":"1923.29","v":"1","S":"Buy",'
        '"s":"ETHUSDT","BT":false}]}'
    )
    assert adapter.decode(frame, TS) == [
        Trade(
            "spot:ETHUSDT",
            1786310821917 * 10**6,
            TS,
            "2280000001739247417",
            "sell",
            "1923.28",
            "0.04537",
        ),
        Trade(
            "spot:ETHUSDT", 1786310821918 * 10**6, TS, "2280000001739247418", "buy", "1923.29", "1"
        ),
    ]


def test_unknown_taker_side_is_malformed(bybit) -> None:
    frame = (
        '{"topic":"publicTrade.X","ts":1,"type":"snapshot","data":[{"i":"1","T":1,"p":"1",'
        '"v":"1","S":"None","s":"X"}]}'
    )
    msg = one(bybit, frame)
    assert isinstance(msg, DecodeFailed) and not msg.unknown


# -- replies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame,kind",
    [
        ('{"success":true,"ret_msg":"","conn_id":"d8","req_id":"3","op":"subscribe"}', "ack"),
        ('{"success":true,"ret_msg":"subscribe","conn_id":"d9","op":"subscribe"}', "ack"),
        ('{"success":true,"ret_msg":"pong","conn_id":"0970","op":"ping"}', "heartbeat"),
        ('{"req_id":"","op":"pong","args":["1675418560633"],"conn_id":"cf"}', "heartbeat"),
        (
            '{"success":true,"ret_msg":"","conn_id":"38cf","request":{"op":"subscribe",'
            '"args":["trade.BCHUSDT"]}}',
            "ack",
        ),
        (
            '{"success":true,"ret_msg":"pong","conn_id":"38cf","request":{"op":"ping",'
            '"args":null}}',
            "heartbeat",
        ),
        (
            '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT"},"cs":1,"ts":1}',
            "ignored",
        ),
        ('{"topic":"kline.1.BTCUSDT","data":[],"ts":1,"type":"snapshot"}', "ignored"),
        ('{"topic":"allLiquidation.BTCUSDT","data":[],"ts":1,"type":"snapshot"}', "ignored"),
        ('{"topic":"orderbook.full.BTCUSDT","data":{},"ts":1,"type":"delta"}', "ignored"),
    ],
)
def test_controls(bybit, frame: str, kind: str) -> None:
    msg = one(bybit, frame)
    assert isinstance(msg, Control) and msg.kind == kind


def test_ack_detail_names_the_request(bybit) -> None:
    legacy = '{"success":true,"ret_msg":"","request":{"op":"subscribe","args":["trade.X"]}}'
    assert "trade.X" in one(bybit, legacy).detail
    assert "7" in one(bybit, '{"success":true,"ret_msg":"","req_id":"7","op":"subscribe"}').detail


def test_refused_subscription_is_an_error_naming_the_symbol(bybit) -> None:
    frame = (
        '{"success":false,"ret_msg":"error:handler not found,topic:orderbook.200.NOPEUSDT",'
        '"conn_id":"x","req_id":"","op":"subscribe"}'
    )
    msg = one(bybit, frame, SPOT)
    assert msg.kind == "error" and msg.symbol == "spot:NOPEUSDT" and "handler" in msg.detail


@pytest.mark.parametrize(
    "frame,unknown",
    [
        ("{not json", False),
        ('["a list"]', True),
        ('{"topic":7,"type":"delta","data":{}}', False),
        ('{"hello":1}', True),
        ('{"success":true,"op":"login"}', True),
        ('{"topic":"someNewTopic.BTCUSDT","type":"snapshot","data":{}}', True),
        ('{"topic":"orderbook.200.BTCUSDT","type":"snapshot","data":{"s":"BTCUSDT"}}', False),
        (
            '{"topic":"orderbook.200.BTCUSDT","type":"partial","data":{"s":"X","b":[],"a":[],"u":2}}',
            True,
        ),
        (
            '{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"X","b":[["1"]],"a":[],"u":2}}',
            False,
        ),
    ],
)
def test_bad_frames_never_raise(bybit, frame: str, unknown: bool) -> None:
    msg = one(bybit, frame)
    assert isinstance(msg, DecodeFailed) and msg.unknown is unknown
    assert msg.sample == frame[:200]


# -- legacy v2 -------------------------------------------------------------------------


def test_legacy_inverse_snapshot_list_with_numbers_kept_as_text(bybit) -> None:
    frame = (
        '{"topic":"orderBookL2_25.EOSUSD","type":"snapshot","data":['
        '{"price":"7.943","symbol":"EOSUSD","id":79430,"side":"Buy","size":154219},'
        '{"price":"7.971","symbol":"EOSUSD","id":79710,"side":"Sell","size":47766}],'
        '"cross_seq":1225777200,"timestamp_e6":1618677786598877}'
    )
    assert one(bybit, frame, LEGACY_INVERSE) == BookSnapshot(
        "inverse:EOSUSD",
        1618677786598877000,
        TS,
        1225777200,
        [("7.943", "154219")],
        [("7.971", "47766")],
        in_band=True,
        depth=25,
    )


def test_legacy_usdt_delta_by_id_covers_since_previous_cross_seq(bybit) -> None:
    snapshot = (
        '{"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","data":{"order_book":['
        '{"price":"1054.30","symbol":"BCHUSDT","id":"10543000","side":"Buy","size":2.63},'
        '{"price":"1054.75","symbol":"BCHUSDT","id":"10547500","side":"Sell","size":5}]},'
        '"cross_seq":"100","timestamp_e6":"1618677786000000"}'
    )
    assert one(bybit, snapshot, LEGACY_USDT).bids == [("1054.30", "2.63")]
    delta = (
        '{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{'
        '"delete":[{"symbol":"BCHUSDT","id":"10543000","side":"Buy"}],'
        '"update":[{"price":"1054.75","symbol":"BCHUSDT","id":"10547500","side":"Sell",'
        '"size":3.66}],'
        '"insert":[{"price":"1052.95","symbol":"BCHUSDT","id":"10529500","side":"Buy",'
        '"size":1e-3}]},"cross_seq":"104","timestamp_e6":"1618677786000001"}'
    )
    msg = one(bybit, delta, LEGACY_USDT)
    assert msg == BookDelta(
        "linear:BCHUSDT",
        1618677786000001000,
        TS,
        101,  # (previous cross_seq 100, 104]: the venue's numbering is not +1
        104,
        None,
        [("1054.30", "0"), ("1052.95", "0.001")],  # delete without price: by id
        [("1054.75", "3.66")],
        depth=25,
    )
    unseen = delta.replace('"id":"10543000"', '"id":"1"').replace('"104"', '"105"')
    assert isinstance(one(bybit, unseen, LEGACY_USDT), DecodeFailed)


def test_legacy_trade_with_numeric_price(bybit) -> None:
    frame = (
        '{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677786614,'
        '"timestamp":"2021-04-17T16:43:06.000Z","symbol":"BTCUSD","side":"Sell","size":4,'
        '"price":60621.5,"tick_direction":"PlusTick","trade_id":"5ffb","cross_seq":5}]}'
    )
    assert one(bybit, frame, LEGACY_INVERSE) == Trade(
        "inverse:BTCUSD", 1618677786614 * 10**6, TS, "5ffb", "sell", "60621.5", "4"
    )


# -- the engine with Bybit ids -------------------------------------------------------------


def _pipeline(frames: list[str]) -> Pipeline:
    return run_frames(BybitAdapter(), frames, ts=TS, url=URLS[LINEAR])


def test_missing_u_is_a_gap_and_snapshots_resync_including_u_1_restart() -> None:
    bid = '[["100","1"]]'
    ask = '[["101","1"]]'
    pipeline = _pipeline(
        [
            book("snapshot", 10, bid, ask),
            book("delta", 11, bid, "[]"),
            book("delta", 13, bid, "[]"),  # 12 missing: gap, book invalid
            book("snapshot", 20, bid, ask),  # resubscribed: fresh book, 13 is stale
            book("delta", 21, bid, "[]"),
            book("delta", 1, bid, ask),  # service restart: a fresh book at u=1
            book("delta", 2, "[]", ask),
        ]
    )
    stats = pipeline.engine.symbols["linear:BTCUSDT"].stats
    assert (stats.gaps, stats.snapshots_applied, stats.deltas_applied) == (1, 3, 3)
    assert pipeline.summary()["linear:BTCUSDT"].synced


# -- symbols and markets -----------------------------------------------------------------


def test_markets_from_instruments() -> None:
    adapter = BybitAdapter()
    linear = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "category": "linear",
            "list": [
                {"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "baseCoin": "BTC",
                 "quoteCoin": "USDT", "settleCoin": "USDT", "deliveryTime": "0"},
                {"symbol": "BTCUSDT-14AUG26", "contractType": "LinearFutures", "baseCoin": "BTC",
                 "quoteCoin": "USDT", "settleCoin": "USDT", "deliveryTime": "1786694400000"},
            ],
        },
    }  # fmt: skip
    option = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "category": "option",
            "list": [
                {"symbol": "BTC-26DEC25-100000-C", "optionsType": "Call", "baseCoin": "BTC",
                 "quoteCoin": "USD", "settleCoin": "USDC", "deliveryTime": "1766736000000"},
                {"symbol": "ETH-26DEC25-4000-P-USDT", "optionsType": "Put", "baseCoin": "ETH",
                 "quoteCoin": "USD", "settleCoin": "USDT", "deliveryTime": "1766736000000"},
            ],
        },
    }  # fmt: skip
    url = "https://api.bybit.com/v5/market/instruments-info?category="
    for body, category in ((linear, "linear"), (option, "option")):
        (msg,) = adapter.decode_rest(url + category, json.dumps(body), TS)
        assert msg.kind == "ignored"
    assert adapter.market("linear:BTCUSDT") == "BTC-USDT-PERP"
    assert adapter.market("linear:BTCUSDT-14AUG26") == "BTC-USDT-20260814"
    assert adapter.market("option:BTC-26DEC25-100000-C") == "BTC-USDC-20251226-100000-C"
    assert adapter.market("option:ETH-26DEC25-4000-P-USDT") == "ETH-USDT-20251226-4000-P"
    refused = '{"retCode":10001,"retMsg":"params error","result":{}}'
    assert adapter.decode_rest(url + "x", refused, TS)[0].kind == "error"
    assert adapter.decode_rest("https://api.bybit.com/v5/market/time", "{}", TS)[0].unknown


@pytest.mark.parametrize(
    "symbol,market",
    [
        ("spot:BTCUSDT", "BTC-USDT"),
        ("spot:ETHBTC", "ETH-BTC"),
        ("linear:1000PEPEUSDT", "1000PEPE-USDT-PERP"),
        ("linear:BTCPERP", "BTC-USDC-PERP"),
        ("linear:ETHUSDT-26DEC25", "ETH-USDT-20251226"),
        ("linear:BTC-26DEC25", "BTC-USDC-20251226"),
        ("inverse:BTCUSD", "BTC-USD-PERP"),
        ("inverse:BTCUSDH25", "BTC-USD-20250328"),
        ("inverse:ETHUSDZ25", "ETH-USD-20251226"),
        ("option:BTC-26DEC25-100000-C", "BTC-USDC-20251226-100000-C"),
        ("option:SOL-3JAN26-150-P-USDT", "SOL-USDT-20260103-150-P"),
        ("linear:???", "linear:???"),  # unsplittable: native name, never a guess
        ("BTCUSDT", "BTCUSDT"),
    ],
)
def test_best_effort_markets_without_instruments(symbol: str, market: str) -> None:
    assert BybitAdapter().market(symbol) == market


def test_legacy_symbols_endpoint_loads_markets() -> None:
    adapter = BybitAdapter()
    body = (
        '{"ret_code":0,"ret_msg":"OK","result":[{"name":"BTCUSD","alias":"BTCUSD",'
        '"base_currency":"BTC","quote_currency":"USD"},{"name":"ETHUSDT","alias":"ETHUSDT",'
        '"base_currency":"ETH","quote_currency":"USDT"}]}'
    )
    adapter.decode_rest("https://api.bybit.com/v2/public/symbols", body, TS)
    assert adapter.market("inverse:BTCUSD") == "BTC-USD-PERP"
    assert adapter.market("linear:ETHUSDT") == "ETH-USDT-PERP"


# -- plan --------------------------------------------------------------------------------


def test_plan_one_connection_per_category_with_documented_frames() -> None:
    subs = [
        Subscription("linear:BTCUSDT", "book"),
        Subscription("linear:BTCUSDT", "trades"),
        Subscription("linear:BTCUSDT", "bbo"),
        Subscription("spot:BTCUSDT", "book"),
        Subscription("option:BTC-26DEC25-100000-C", "book"),
    ]
    plans = {p.url: p for p in BybitAdapter().plan([*subs, subs[0]])}  # repeat: sent once
    assert set(plans) == {
        "wss://stream.bybit.com/v5/public/linear",
        "wss://stream.bybit.com/v5/public/spot",
        "wss://stream.bybit.com/v5/public/option",
    }
    linear = plans["wss://stream.bybit.com/v5/public/linear"]
    assert [json.loads(f) for f in linear.subscribe] == [
        {
            "op": "subscribe",
            "req_id": "1",
            "args": ["orderbook.200.BTCUSDT", "publicTrade.BTCUSDT", "orderbook.1.BTCUSDT"],
        }
    ]
    assert linear.subscriptions == subs[:3]
    assert (linear.app_ping, linear.app_ping_interval_s) == (PING, 20.0)
    assert json.loads(PING) == {"op": "ping"}
    option = plans["wss://stream.bybit.com/v5/public/option"]
    assert json.loads(option.subscribe[0])["args"] == ["orderbook.100.BTC-26DEC25-100000-C"]


def test_plan_spot_sends_at_most_10_args_per_request() -> None:
    subs = [Subscription(f"spot:C{i}USDT", "trades") for i in range(25)]
    (plan,) = BybitAdapter().plan(subs)
    args = [json.loads(f)["args"] for f in plan.subscribe]
    assert [len(a) for a in args] == [SPOT_ARGS_PER_REQUEST, SPOT_ARGS_PER_REQUEST, 5]
    assert [t for a in args for t in a] == [f"publicTrade.C{i}USDT" for i in range(25)]
    assert [json.loads(f)["req_id"] for f in plan.subscribe] == ["1", "2", "3"]


def test_plan_splits_connections_by_topic_count_and_args_length() -> None:
    many = [Subscription(f"linear:C{i}USDT", "book") for i in range(TOPICS_PER_CONNECTION + 1)]
    assert [len(p.subscriptions) for p in BybitAdapter().plan(many)] == [
        TOPICS_PER_CONNECTION,
        1,
    ]
    long = [Subscription("linear:" + "X" * 150 + str(i), "trades") for i in range(199)]
    plans = BybitAdapter().plan(long)
    assert len(plans) > 1
    for plan in plans:
        args = [t for f in plan.subscribe for t in json.loads(f)["args"]]
        assert len(json.dumps(args)) <= MAX_ARGS_CHARS
    assert sum(len(p.subscriptions) for p in plans) == 199


@pytest.mark.parametrize(
    "sub",
    [
        Subscription("BTCUSDT", "book"),  # no category: spot or linear?
        Subscription("futures:BTCUSDT", "book"),
        Subscription("option:BTC-26DEC25-100000-C", "bbo"),  # options have no level 1
    ],
)
def test_plan_refuses_what_bybit_cannot_serve(sub: Subscription) -> None:
    with pytest.raises(ValueError):
        BybitAdapter().plan([sub])


def test_depth_is_configurable_within_documented_values() -> None:
    (plan,) = BybitAdapter({"linear": 1000}).plan([Subscription("linear:X", "book")])
    assert json.loads(plan.subscribe[0])["args"] == ["orderbook.1000.X"]
    with pytest.raises(ValueError):
        BybitAdapter({"spot": 25})


def test_registered_and_in_band() -> None:
    adapter = adapters.create("bybit")
    assert isinstance(adapter, BybitAdapter) and adapter.slug == "bybit"
    assert adapter.snapshot_request("linear:BTCUSDT") is None
    assert adapter.book_checksum("linear:BTCUSDT", None) is None  # type: ignore[arg-type]
    assert adapter.rest_weight_per_minute == 7200
