"""Gate.io spot and USDT futures adapter on the documentation's examples and literal frames.

Spot examples: https://www.gate.io/docs/developers/apiv4/ws/en/ ; futures examples:
https://www.gate.io/docs/developers/futures/ws/en/ (each test names its section).
"""

from __future__ import annotations

import json

import pytest
from support import CAPTURES, MemorySink, load_records, needs_captures

import adapters
from adapters.gateio.adapter import GateioAdapter
from collector.adapter import Subscription
from collector.book.sequence import FirstLastRule
from collector.capture.records import Record
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade
from collector.pipeline import Pipeline

TS = 1_606_294_781_500_000_000
SPOT = "https://www.gate.io/docs/developers/apiv4/ws/en/"
FUTURES = "https://www.gate.io/docs/developers/futures/ws/en/"


def spot() -> GateioAdapter:
    return GateioAdapter("gateio")


def futures() -> GateioAdapter:
    return GateioAdapter("gateio-futures")


def one(adapter: GateioAdapter, frame: str):
    (msg,) = adapter.decode(frame, TS)
    return msg


def test_both_markets_are_registered_with_the_first_last_rule() -> None:
    for slug in ("gateio", "gateio-futures"):
        adapter = adapters.create(slug)
        assert isinstance(adapter, GateioAdapter) and adapter.slug == slug
        assert isinstance(adapter.sequence_rule, FirstLastRule)
    with pytest.raises(ValueError, match=r"Gate\.io"):
        GateioAdapter("gateio-options")


def test_spot_order_book_update_doc_example() -> None:
    """SPOT + #changed-order-book-levels"""
    frame = (
        '{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update",'
        '"event":"update","result":{"t":1606294781123,"e":"depthUpdate","E":1606294781,'
        '"s":"BTC_USDT","U":48776301,"u":48776306,"b":[["19137.74","0.0001"],'
        '["19088.37","0"]],"a":[["19137.75","0.6135"]]}}'
    )
    assert one(spot(), frame) == BookDelta(
        "BTC_USDT",
        1606294781123 * 10**6,
        TS,
        48776301,
        48776306,
        None,
        [("19137.74", "0.0001"), ("19088.37", "0")],
        [("19137.75", "0.6135")],
    )


def test_spot_trade_doc_example_keeps_the_taker_side_and_sub_ms_time() -> None:
    """SPOT + #public-trades-channel"""
    frame = (
        '{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades","event":"update",'
        '"result":{"id":309143071,"create_time":1606292218,"create_time_ms":"1606292218213.4578",'
        '"side":"sell","currency_pair":"GT_USDT","amount":"16.4700000000","price":"0.4705000000"}}'
    )
    assert one(spot(), frame) == Trade(
        "GT_USDT", 1606292218213457800, TS, "309143071", "sell", "0.4705000000", "16.4700000000"
    )


def test_spot_book_ticker_doc_example() -> None:
    """SPOT + #best-bid-or-ask-price"""
    frame = (
        '{"time":1606293275,"time_ms":1606293275723,"channel":"spot.book_ticker",'
        '"event":"update","result":{"t":1606293275123,"u":48733182,"s":"BTC_USDT",'
        '"b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}'
    )
    assert one(spot(), frame) == BestBidAsk(
        "BTC_USDT",
        1606293275123 * 10**6,
        TS,
        48733182,
        "19177.79",
        "0.0003341504",
        "19179.38",
        "0.09",
    )


def test_futures_order_book_update_doc_example_keeps_contract_sizes() -> None:
    """FUTURES + #order-book-update-subscription: sizes are integers of contracts."""
    frame = (
        '{"time":1615366381,"time_ms":1615366381123,"channel":"futures.order_book_update",'
        '"event":"update","result":{"t":1615366381417,"s":"BTC_USD","U":2517661101,'
        '"u":2517661113,"b":[{"p":"54672.1","s":0},{"p":"54664.5","s":58794}],'
        '"a":[{"p":"54743.6","s":0},{"p":"54742","s":95}]}}'
    )
    assert one(futures(), frame) == BookDelta(
        "BTC_USD",
        1615366381417 * 10**6,
        TS,
        2517661101,
        2517661113,
        None,
        [("54672.1", "0"), ("54664.5", "58794")],
        [("54743.6", "0"), ("54742", "95")],
    )


def test_futures_trades_doc_example_sign_is_the_taker_side() -> None:
    """FUTURES + #trades-subscription: a negative ``size`` is a taker sell."""
    frame = (
        '{"channel":"futures.trades","event":"update","time":1541503698,"time_ms":1541503698123,'
        '"result":[{"size":-108,"id":27753479,"create_time":1545136464,'
        '"create_time_ms":1545136464123,"price":"96.4","contract":"BTC_USD","is_internal":true},'
        '{"size":3,"id":27753480,"create_time":1545136464,"price":"96.5","contract":"BTC_USD"}]}'
    )
    sell, buy = futures().decode(frame, TS)
    assert sell == Trade("BTC_USD", 1545136464123 * 10**6, TS, "27753479", "sell", "96.4", "108")
    assert buy == Trade("BTC_USD", 1545136464000 * 10**6, TS, "27753480", "buy", "96.5", "3")


def test_futures_book_ticker_doc_example() -> None:
    """FUTURES + #best-ask-bid-subscription"""
    frame = (
        '{"time":1615366379,"time_ms":1615366379123,"channel":"futures.book_ticker",'
        '"event":"update","result":{"t":1615366379123,"u":2517661076,"s":"BTC_USD",'
        '"b":"54696.6","B":37000,"a":"54696.7","A":47061}}'
    )
    assert one(futures(), frame) == BestBidAsk(
        "BTC_USD", 1615366379123 * 10**6, TS, 2517661076, "54696.6", "37000", "54696.7", "47061"
    )


def test_rest_books_bridge_by_id_and_a_book_without_id_is_refused() -> None:
    """A REST id, then the update whose range holds id + 1 (docs: "maintain local book")."""
    url = (
        "https://api.gateio.ws/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true"
    )
    body = '{"id":100,"current":1,"update":1,"asks":[["2","1"]],"bids":[["1","1"]]}'
    (snap,) = spot().decode_rest(url, body, TS)
    assert snap == BookSnapshot("BTC_USDT", 10**6, TS, 100, [("1", "1")], [("2", "1")])
    (missing,) = spot().decode_rest(url, '{"asks":[],"bids":[]}', TS)
    assert missing == Control("error", TS, "BTC_USDT: order book without id", "BTC_USDT")
    futures_url = (
        "https://api.gateio.ws/api/v4/futures/usdt/order_book?contract=A_USDT&with_id=true"
    )
    futures_body = (
        '{"current":1684930166.384,"update":1684930166.35,"asks":[{"s":803,"p":"0.2974"}],'
    )
    futures_body += '"bids":[{"s":12,"p":"0.2972"}],"id":203083287}'
    (contracts,) = futures().decode_rest(futures_url, futures_body, TS)
    assert contracts == BookSnapshot(  # the time exactly, no float on the way
        "A_USDT", 1684930166350000000, TS, 203083287, [("0.2972", "12")], [("0.2974", "803")]
    )
    (refused,) = spot().decode_rest(url, '{"label":"INVALID_CURRENCY","message":"x"}', TS)
    assert refused == Control("error", TS, "BTC_USDT: INVALID_CURRENCY: x", "BTC_USDT")

    def update(first: int, last: int, bid: str) -> str:
        result = {"t": 1, "s": "BTC_USDT", "U": first, "u": last, "b": [["1", bid]], "a": []}
        return json.dumps(
            {"channel": "spot.order_book_update", "event": "update", "result": result}
        )

    frames = [
        update(99, 100, "5"),  # covered by id 100: dropped
        update(101, 102, "7"),  # holds 101: bridges
        update(103, 103, "0"),
        update(105, 105, "1"),  # 104 is missing: a gap
    ]
    pipeline = Pipeline(spot(), MemorySink())
    pipeline.on_record(Record("recv", TS, 1, frames[0]))
    pipeline.on_record(Record("http", TS + 1, 0, body, url, 200))
    for i, frame in enumerate(frames[1:]):
        pipeline.on_record(Record("recv", TS + 2 + i, 1, frame))
    pipeline.finish()
    stats = pipeline.engine.symbols["BTC_USDT"].stats
    assert (stats.snapshots_applied, stats.stale_dropped, stats.gaps) == (1, 1, 1)


def test_plan_one_book_frame_per_symbol_and_shared_trade_and_ticker_frames() -> None:
    subs = [Subscription(s, c) for s in ("BTC_USDT", "ETH_USDT") for c in ("book", "trades", "bbo")]
    (plan,) = futures().plan(subs)
    assert plan.url == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    assert [json.loads(f) for f in plan.subscribe] == [
        {
            "channel": "futures.order_book_update",
            "event": "subscribe",
            "payload": ["BTC_USDT", "100ms"],
        },
        {
            "channel": "futures.order_book_update",
            "event": "subscribe",
            "payload": ["ETH_USDT", "100ms"],
        },
        {"channel": "futures.trades", "event": "subscribe", "payload": ["BTC_USDT", "ETH_USDT"]},
        {
            "channel": "futures.book_ticker",
            "event": "subscribe",
            "payload": ["BTC_USDT", "ETH_USDT"],
        },
    ]
    (spot_plan,) = spot().plan(subs[:1])
    assert spot_plan.url == "wss://api.gateio.ws/ws/v4/"
    assert json.loads(spot_plan.subscribe[0])["channel"] == "spot.order_book_update"
    request = futures().snapshot_request("BTC_USDT")
    assert request is not None and request.url == (
        "https://api.gateio.ws/api/v4/futures/usdt/order_book?contract=BTC_USDT&limit=100&with_id=true"
    )


def test_controls_and_bad_frames() -> None:
    ack = (
        '{"time":1606292218,"channel":"spot.trades","event":"subscribe",'
        '"result":{"status":"success"}}'
    )
    assert one(spot(), ack) == Control("ack", TS, "subscribe spot.trades")
    failed = (
        '{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades","event":"subscribe",'
        '"error":{"code":2,"message":"unknown currency pair GIBBERISH_USD"},"result":null}'
    )
    assert one(spot(), failed) == Control(
        "error", TS, "spot.trades: 2 unknown currency pair GIBBERISH_USD"
    )
    assert (
        one(spot(), '{"time":1,"channel":"spot.pong","event":"","result":null}').kind == "heartbeat"
    )
    candles = '{"time":1,"channel":"spot.candlesticks","event":"update","result":{"n":"1m_A_B"}}'
    assert one(spot(), candles).kind == "ignored"
    unknown = one(spot(), '{"time":1,"channel":"spot.obu","event":"update","result":{}}')
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    broken = one(
        futures(), '{"channel":"futures.order_book_update","event":"update","result":{"s":"A_B"}}'
    )
    assert isinstance(broken, DecodeFailed) and not broken.unknown
    side = one(
        spot(),
        '{"channel":"spot.trades","event":"update","result":{"id":1,"create_time":1,'
        '"create_time_ms":"1","side":"both","currency_pair":"A_B","amount":"1","price":"1"}}',
    )
    assert isinstance(side, DecodeFailed) and not side.unknown


@needs_captures
@pytest.mark.parametrize(
    ("slug", "sidecar", "symbol", "market"),
    [
        ("gateio", "gateio/GATEIO.instruments.jsonl.gz", "QTUM3S_USDT", "QTUM3S-USDT"),
        (
            "gateio-futures",
            "gateio-futures/GATEIO_FUTURES.instruments.jsonl.gz",
            "RDNT_USDT",
            "RDNT-USDT-PERP",
        ),
    ],
)
def test_market_names_come_from_the_instrument_lists(
    slug: str, sidecar: str, symbol: str, market: str
) -> None:
    adapter = GateioAdapter(slug)
    assert adapter.listed(symbol) is None
    _, records = load_records(CAPTURES / sidecar)
    for r in records:
        if r.kind == "http":
            assert not any(
                isinstance(m, DecodeFailed) for m in adapter.decode_rest(r.url, r.data, 0)
            )
    assert adapter.market(symbol) == market
    assert adapter.listed(symbol) is True and adapter.listed("NOPE_USDT") is False
