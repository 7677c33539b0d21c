"""Kraken adapter on literal frames: v1 shapes from the recordings and docs, v2 from the docs.

The v2 book frames are the examples of
https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book
(MATIC/USD snapshot with checksum 2439117997, update with 2114181697); the v1
checksum frame is the example of
https://docs.kraken.com/exchange/guides/websockets/book-checksum-v1.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import pylist, run_frames

import adapters
from adapters.kraken.adapter import (
    APP_PING,
    MAX_SYMBOLS_PER_CONNECTION,
    URL_V2,
    KrakenAdapter,
)
from collector.adapter import Subscription
from collector.book.checksum import kraken_crc32
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade
from collector.pipeline import Pipeline

TS = 1_700_000_000_000_000_000


def one(adapter: KrakenAdapter, frame: str):
    (msg,) = adapter.decode(frame, TS)
    return msg


def run(adapter: KrakenAdapter, frames: list[str]) -> Pipeline:
    return run_frames(adapter, frames, ts=TS, conn=0)


# --- v1 --------------------------------------------------------------------------------


def v1_snapshot(pair: str, asks, bids, depth: int = 1000, channel: int = 0) -> str:
    body = {
        "as": [[p, s, "1618678123.481570"] for p, s in asks],
        "bs": [[p, s, "1618678132.136369"] for p, s in bids],
    }
    return json.dumps([channel, body, f"book-{depth}", pair])


#: The book the v1 docs' checksum example describes (0.04985 is not in it).
DOC_ASKS = [(f"0.0{5005 + 5 * i}", "0.00000500") for i in range(10)]
DOC_BIDS = [
    (f"0.0{p}", "0.00000500")
    for p in ("5000", "4995", "4990", "4980", "4975", "4970", "4965", "4960", "4955", "4950")
]
#: The docs' update frame verbatim: asks and bids in two dicts, "c" in the last one.
DOC_UPDATE = (
    '[0,{"a":[["0.05120","0.00000500","1582905486.493008"],'
    '["0.05275","0.00000500","1582905486.493034"]]},'
    '{"b":[["0.04765","0.00000500","1582905486.493008"],'
    '["0.04940","0.00000500","1582905486.493034"]],"c":"974947235"},"book-1000","BTC/USD"]'
)


def test_v1_snapshot_then_split_update_keeps_text_and_numbers_messages() -> None:
    a = KrakenAdapter()
    snap = one(a, v1_snapshot("BTC/USD", DOC_ASKS, DOC_BIDS))
    assert isinstance(snap, BookSnapshot)
    assert snap.in_band and snap.checksum is None and snap.depth == 1000 and snap.last_id == 0
    assert snap.asks[0] == ("0.05005", "0.00000500") and snap.bids[-1] == ("0.04950", "0.00000500")
    assert snap.ts_exchange == 1618678132136369000  # latest level time, exact
    delta = one(a, DOC_UPDATE)
    assert delta == BookDelta(
        "BTC/USD",
        1582905486493034000,
        TS,
        1,
        1,
        None,
        [("0.04765", "0.00000500"), ("0.04940", "0.00000500")],
        [("0.05120", "0.00000500"), ("0.05275", "0.00000500")],
        974947235,
        1000,
    )
    assert one(a, DOC_UPDATE).last_id == 2
    assert one(a, v1_snapshot("BTC/USD", DOC_ASKS, DOC_BIDS)).last_id == 0  # reset


def test_v1_docs_checksum_verifies_through_the_engine() -> None:
    pipeline = run(KrakenAdapter(), [v1_snapshot("BTC/USD", DOC_ASKS, DOC_BIDS), DOC_UPDATE])
    stats = pipeline.engine.symbols["BTC/USD"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (1, 0)
    bad = DOC_UPDATE.replace("974947235", "974947236")
    pipeline = run(KrakenAdapter(), [v1_snapshot("BTC/USD", DOC_ASKS, DOC_BIDS), bad])
    stats = pipeline.engine.symbols["BTC/USD"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (0, 1)


def test_v1_book_is_cut_to_the_subscribed_depth_before_the_checksum() -> None:
    """book-10: an 11th bid pushes the worst one out without a message (docs)."""
    asks = [(f"1.{i}0", "1.00000000") for i in range(1, 10)]
    bids = [(f"0.{i}0", "2.00000000") for i in range(1, 10)] + [("0.05", "2.00000000")]
    a = KrakenAdapter()
    kept = [*sorted(bids, reverse=True)[:9], ("0.95", "3.00000000")]
    expected = kraken_crc32(sorted(kept, reverse=True), sorted(asks))
    update = json.dumps(
        [
            7,
            {"b": [["0.95", "3.00000000", "1618678133.1", "r"]], "c": str(expected)},
            "book-10",
            "X/Y",
        ]
    )
    pipeline = run(a, [v1_snapshot("X/Y", asks, bids, depth=10), update])
    sync = pipeline.engine.symbols["X/Y"]
    assert sync.stats.checksums_verified == 1 and sync.stats.checksums_failed == 0
    assert len(sync.book.bids) == 10 and Decimal("0.05") not in sync.book.as_dict()["bids"]
    rows = pylist(pipeline.sink.table("book"))
    assert [(r["price"], r["size"]) for r in rows if not r["is_snapshot"]] == [
        (Decimal("0.95"), 3),
        (Decimal("0.05"), 0),  # the venue's silent cut, written as a deletion
    ]


def test_v1_snapshot_with_a_null_element_syncs_the_book() -> None:
    """2019 recordings: ``[channelID, {"as": ..., "bs": ...}, null, "book-1000", "ADA/CAD"]``.

    The frame's shape as issue 13 quotes it from a 2019 recording; its ``null`` carries
    nothing. It used to be rejected as malformed, so the book never synced.
    """
    body = {
        "as": [["0.067400", "1500.00000000", "1564358311.318474"]],
        "bs": [["0.066700", "7409.01000000", "1564358305.935117"]],
    }
    frame = json.dumps([342, body, None, "book-1000", "ADA/CAD"])
    snap = one(KrakenAdapter(), frame)
    assert snap == BookSnapshot(
        "ADA/CAD",
        1564358311318474000,
        TS,
        0,
        [("0.066700", "7409.01000000")],
        [("0.067400", "1500.00000000")],
        True,
        None,
        1000,
    )
    update = json.dumps(
        [342, {"b": [["0.066800", "20.00000000", "1564358312.100000"]]}, "book-1000", "ADA/CAD"]
    )
    pipeline = run(KrakenAdapter(), [frame, update])
    assert dict(pipeline.problems) == {}
    assert pylist(pipeline.sink.table("quality"))[0]["kind"] == "synced"
    assert pipeline.engine.symbols["ADA/CAD"].book.as_dict()["bids"] == {
        Decimal("0.066800"): 20,
        Decimal("0.066700"): Decimal("7409.01"),
    }


@pytest.mark.parametrize("side,taker", [("b", "buy"), ("s", "sell")])
def test_v1_trade_side_is_the_taker_and_has_no_id(side: str, taker: str) -> None:
    frame = (
        f'[993,[["354.11000000","0.89594024","1618678142.557535","{side}","l",""]],'
        '"trade","XMR/USD"]'
    )
    assert one(KrakenAdapter(), frame) == Trade(
        "XMR/USD", 1618678142557535000, TS, "", taker, "354.11000000", "0.89594024"
    )


def test_v1_ticker_and_spread_are_best_bid_ask_without_an_update_id() -> None:
    a = KrakenAdapter()
    ticker = (
        '[1668,{"a":["13.253900",35,"35.72892241"],"b":["13.232900",185,"185.18432037"],'
        '"c":["13.253900","3.71672000"],"v":["1","2"],"p":["1","2"],"t":[640,1353],'
        '"l":["1","2"],"h":["1","2"],"o":["1","2"]},"ticker","WAVES/EUR"]'
    )
    assert one(a, ticker) == BestBidAsk(
        "WAVES/EUR", None, TS, None, "13.232900", "185.18432037", "13.253900", "35.72892241"
    )
    spread = (
        '[0,["5698.40000","5700.00000","1542057299.545897","1.01234567","0.98765432"],'
        '"spread","XBT/USD"]'
    )
    assert one(a, spread) == BestBidAsk(
        "XBT/USD",
        1542057299545897000,
        TS,
        None,
        "5698.40000",
        "1.01234567",
        "5700.00000",
        "0.98765432",
    )


# --- v2 --------------------------------------------------------------------------------

DOC_INSTRUMENT = json.dumps(
    {
        "channel": "instrument",
        "type": "snapshot",
        "data": {
            "assets": [{"id": "MATIC", "status": "enabled", "precision": 10}],
            "pairs": [
                {
                    "symbol": "MATIC/USD",
                    "base": "MATIC",
                    "quote": "USD",
                    "status": "online",
                    "qty_precision": 8,
                    "qty_increment": 1e-08,
                    "price_precision": 4,
                    "price_increment": 0.0001,
                    "cost_precision": 5,
                    "qty_min": 4.5,
                }
            ],
        },
    }
)
DOC_ACK = (
    '{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,'
    '"symbol":"MATIC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.219022Z",'
    '"time_out":"2023-10-06T17:35:55.219067Z"}'
)
_BIDS = "0.5666:4831.75496356 0.5665:6658.22734739 0.5664:18724.91513344 0.5663:11563.92544914 0.5662:14006.65365711 0.5661:17454.85679807 0.566:18097.1547 0.5659:33644.89175666 0.5658:148.3464 0.5657:606.70854372"  # noqa: E501
_ASKS = "0.5668:4410.79769741 0.5669:4655.40412487 0.567:49844.89424998 0.5671:24306.41678 0.5672:29783.25223475 0.5673:57234.71239278 0.5674:45065.04744 0.5675:5912.76380354 0.5676:42514.92434778 0.5677:36304.0847022"  # noqa: E501


def _levels(spec: str) -> str:
    pairs = (x.split(":") for x in spec.split())
    return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in pairs)


DOC_SNAPSHOT = (
    '{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD",'
    f'"bids":[{_levels(_BIDS)}],"asks":[{_levels(_ASKS)}],'
    '"checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
)
DOC_V2_UPDATE = (
    '{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD",'
    '"bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,'
    '"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
)


def test_v2_docs_book_decodes_numbers_as_their_exact_text() -> None:
    a = KrakenAdapter()
    one(a, DOC_ACK)
    snap = one(a, DOC_SNAPSHOT)
    assert isinstance(snap, BookSnapshot) and snap.in_band
    assert snap.checksum == 2439117997 and snap.depth == 10  # depth from the ack
    assert snap.bids[6] == ("0.566", "18097.1547")  # as sent: no padding, no float
    assert snap.asks[9] == ("0.5677", "36304.0847022")
    assert snap.ts_exchange == 1696613755440295000
    delta = one(a, DOC_V2_UPDATE)
    assert isinstance(delta, BookDelta) and delta.last_id == 1
    assert delta.bids == [("0.5657", "1098.3947558")] and delta.checksum == 2114181697


def test_v2_docs_checksums_verify_at_the_instrument_precision() -> None:
    pipeline = run(KrakenAdapter(), [DOC_INSTRUMENT, DOC_ACK, DOC_SNAPSHOT, DOC_V2_UPDATE])
    stats = pipeline.engine.symbols["MATIC/USD"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (2, 0)
    wrong = DOC_V2_UPDATE.replace("2114181697", "2114181698")
    pipeline = run(KrakenAdapter(), [DOC_INSTRUMENT, DOC_ACK, DOC_SNAPSHOT, wrong])
    stats = pipeline.engine.symbols["MATIC/USD"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (1, 1)


def test_v2_checksum_is_unknown_without_precision_and_rest_precision_is_a_fallback() -> None:
    pipeline = run(KrakenAdapter(), [DOC_ACK, DOC_SNAPSHOT, DOC_V2_UPDATE])
    sync = pipeline.engine.symbols["MATIC/USD"]
    assert (sync.stats.checksums_verified, sync.stats.checksums_failed) == (0, 0)
    assert sync.state.value == "synced"
    a = KrakenAdapter()
    body = (
        '{"error":[],"result":{"MATICUSD":{"altname":"MATICUSD","wsname":"MATIC/USD",'
        '"pair_decimals":4,"lot_decimals":8}}}'
    )
    a.decode_rest("https://api.kraken.com/0/public/AssetPairs", body, TS)
    stats = run(a, [DOC_ACK, DOC_SNAPSHOT, DOC_V2_UPDATE]).engine.symbols["MATIC/USD"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (2, 0)


def test_v2_checksum_refuses_levels_finer_than_the_precision() -> None:
    a = KrakenAdapter()
    a.decode(DOC_INSTRUMENT, TS)
    one(a, DOC_SNAPSHOT)
    book = run(KrakenAdapter(), [DOC_SNAPSHOT]).engine.symbols["MATIC/USD"].book
    assert a.book_checksum("MATIC/USD", book) == 2439117997
    book.bids.apply([("0.56665", "1")])  # 5 decimals: the venue could not have sent it
    assert a.book_checksum("MATIC/USD", book) is None


def test_v2_exponent_numbers_are_stored_as_plain_decimals_and_strings_are_refused() -> None:
    a = KrakenAdapter()
    frame = (
        '{"channel":"book","type":"update","data":[{"symbol":"SHIB/USD",'
        '"bids":[{"price":1.2e-05,"qty":100}],"asks":[],"checksum":1}]}'
    )
    assert one(a, frame).bids == [("0.000012", "100")]
    quoted = frame.replace("1.2e-05", '"1.2e-05"')
    msg = one(a, quoted)
    assert isinstance(msg, DecodeFailed) and not msg.unknown


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_v2_trade_side_is_the_taker_and_id_is_text(side: str) -> None:
    frame = (
        '{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"SIDE",'
        '"price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,'
        '"timestamp":"2023-09-25T07:49:37.708706Z"}]}'
    ).replace("SIDE", side)
    assert one(KrakenAdapter(), frame) == Trade(
        "MATIC/USD", 1695628177708706000, TS, "4665906", side, "0.5117", "40.0"
    )


def test_v2_ticker_is_best_bid_ask() -> None:
    frame = (
        '{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,'
        '"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,'
        '"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,'
        '"change":-0.00017,"change_pct":-0.17}]}'
    )
    assert one(KrakenAdapter(), frame) == BestBidAsk(
        "ALGO/USD", None, TS, None, "0.10025", "740.0", "0.10036", "1361.44813783"
    )


#: A pair without a book, as the issue describes it: bid 0, ask 0, time 0 (1970).
ZERO_SPREAD = '[0,["0.00000","0.00000","0.000000","0.00000000","0.00000000"],"spread","XBT/USD"]'
ZERO_TICKER = (
    '{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0,'
    '"bid_qty":0,"ask":0,"ask_qty":0,"last":0,"volume":0,"vwap":0,"low":0,"high":0,'
    '"change":0,"change_pct":0,"timestamp":"1970-01-01T00:00:00.000000Z"}]}'
)


@pytest.mark.parametrize("frame", [ZERO_SPREAD, ZERO_TICKER])
def test_all_zero_quotes_are_counted_not_written(frame: str) -> None:
    """A 0/0 quote is no quote: no ``bbo`` row, an ``ignored`` control that says why."""
    msg = one(KrakenAdapter(), frame)
    assert isinstance(msg, Control) and msg.kind == "ignored" and "no quote" in msg.detail
    pipeline = run(KrakenAdapter(), [frame])
    assert pipeline.sink.table("bbo") is None and dict(pipeline.problems) == {}
    assert pipeline.controls["ignored"] == 1


#: The documentation's trade snapshot, verbatim
#: (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade).
TRADE_SNAPSHOT = (
    '{"channel":"trade","type":"snapshot","data":[{"symbol":"MATIC/USD","side":"buy",'
    '"price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,'
    '"timestamp":"2023-09-25T07:48:36.925533Z"},{"symbol":"MATIC/USD","side":"buy",'
    '"price":0.5147,"qty":1136.19677815,"ord_type":"limit","trade_id":4665847,'
    '"timestamp":"2023-09-25T07:49:36.925603Z"}]}'
)


def test_v2_trade_snapshot_is_history_and_never_joins_the_tape() -> None:
    """Sent on subscribe unless ``snapshot`` is false (our plan sends false: see
    ``test_plan_subscribes_v2_channels_instrument_first``); recordings made without it
    carry one per (re)connection, partly repeating trades stored before."""
    msg = one(KrakenAdapter(), TRADE_SNAPSHOT)
    assert isinstance(msg, Control) and msg.kind == "ignored"
    assert msg.detail == "trade snapshot: 2 historical trades"
    live = TRADE_SNAPSHOT.replace('"snapshot"', '"update"')
    pipeline = run(KrakenAdapter(), [TRADE_SNAPSHOT, live])
    rows = pylist(pipeline.sink.table("trades"))
    assert [r["trade_id"] for r in rows] == ["4665846", "4665847"]  # the update's, once


# --- control, errors, bad frames ---------------------------------------------------------


@pytest.mark.parametrize(
    "frame,kind",
    [
        ('{"event":"heartbeat"}', "heartbeat"),
        ('{"event":"pong","reqid":42}', "heartbeat"),
        (
            '{"connectionID":1,"event":"systemStatus","status":"online","version":"1.8.3"}',
            "ignored",
        ),
        (
            '{"connectionID":1,"event":"systemStatus","status":"maintenance","version":"1"}',
            "shutdown",
        ),
        (
            '{"channelID":3648,"channelName":"book-1000","event":"subscriptionStatus",'
            '"pair":"KSM/XBT","status":"subscribed","subscription":{"depth":1000,"name":"book"}}',
            "ack",
        ),
        (
            '{"errorMessage":"Currency pair not in ISO 4217-A3 format XBTUSD",'
            '"event":"subscriptionStatus","pair":"XBTUSD","status":"error",'
            '"subscription":{"name":"book"}}',
            "error",
        ),
        ('{"event":"error","errorMessage":"Malformed request","status":"error"}', "error"),
        ('[42,[["1.0","2.0","1.0","8.0","9.0","10.0"]],"ohlc-5","XBT/USD"]', "ignored"),
        ('{"channel":"heartbeat"}', "heartbeat"),
        (
            '{"channel":"status","type":"update","data":[{"api_version":"v2",'
            '"connection_id":1,"system":"online","version":"2.0.0"}]}',
            "ignored",
        ),
        ('{"channel":"status","type":"update","data":[{"system":"maintenance"}]}', "shutdown"),
        (DOC_ACK, "ack"),
        (
            '{"error":"Currency pair not supported BTC/UST","method":"subscribe","success":false,'
            '"symbol":"BTC/UST","time_in":"x","time_out":"y"}',
            "error",
        ),
        ('{"method":"pong","req_id":101,"time_in":"x","time_out":"y"}', "heartbeat"),
        ('{"Error":"Exceeded msg rate"}', "error"),
        (DOC_INSTRUMENT, "ignored"),
    ],
)
def test_control_frames(frame: str, kind: str) -> None:
    msg = one(KrakenAdapter(), frame)
    assert isinstance(msg, Control) and msg.kind == kind


def test_errors_name_their_symbol() -> None:
    msg = one(
        KrakenAdapter(), '{"error":"nope","method":"subscribe","success":false,"symbol":"A/B"}'
    )
    assert msg == Control("error", TS, "subscribe A/B: nope", "A/B")


@pytest.mark.parametrize(
    "frame,unknown",
    [
        ('[0,{"a":[["0.05120","0.00000500"', False),  # truncated
        ("not json", False),
        ('[0,{"a":[["1.0","2.0","1.0","x","y"]],"c":"1"},"book-10","X/Y"]', False),  # 5 elements
        ('[0,{"a":[["1.0","2.0","1.0"]],"c":"-1"},"book-10","X/Y"]', False),  # bad checksum
        ('[0,[["1.0","2.0","1.0","x","l",""]],"trade","X/Y"]', False),  # side neither b nor s
        ('[0,{"a":[]},"book-10"]', False),  # too short
        ('{"channel":"book","type":"partial","data":[]}', False),
        ('{"channel":"trade","type":"update","data":[{"symbol":"A/B"}]}', False),
        (
            '{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy",'
            '"price":1,"qty":1,"ord_type":"limit","trade_id":1,"timestamp":"yesterday"}]}',
            False,
        ),
        ('[0,{"x":1},"newchannel","X/Y"]', True),
        ('{"event":"newEvent"}', True),
        ('{"channel":"newchannel","type":"update","data":[]}', True),
        ('{"hello":1}', True),
    ],
)
def test_bad_frames_become_values(frame: str, unknown: bool) -> None:
    msg = one(KrakenAdapter(), frame)
    assert isinstance(msg, DecodeFailed) and msg.unknown is unknown and msg.sample


# --- symbols, REST, plan -----------------------------------------------------------------


@pytest.mark.parametrize(
    "symbol,market",
    [
        ("XBT/USD", "BTC-USD"),
        ("BTC/USD", "BTC-USD"),
        ("XDG/USD", "DOGE-USD"),
        ("ADA/XBT", "ADA-BTC"),
        ("ETH/CHF", "ETH-CHF"),
        ("NOSLASH", "NOSLASH"),
    ],
)
def test_markets(symbol: str, market: str) -> None:
    assert adapters.create("kraken").market(symbol) == market


def test_asset_pairs_and_instruments_name_markets() -> None:
    a = KrakenAdapter()
    body = (
        '{"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD",'
        '"pair_decimals":1,"lot_decimals":8},"XBTUSD.d":{"altname":"XBTUSD.d"}}}'
    )
    (msg,) = a.decode_rest("https://api.kraken.com/0/public/AssetPairs", body, TS)
    assert msg.kind == "ignored"
    assert a.market("XBT/USD") == a.market("BTC/USD") == "BTC-USD"
    a.decode(DOC_INSTRUMENT.replace('"base": "MATIC"', '"base": "POL"'), TS)
    assert a.market("MATIC/USD") == "POL-USD"
    (err,) = a.decode_rest(
        "https://api.kraken.com/0/public/AssetPairs", '{"error":["EGeneral:Busy"]}', TS
    )
    assert err == Control("error", TS, "AssetPairs: EGeneral:Busy")
    (bad,) = a.decode_rest("https://api.kraken.com/0/public/Depth?pair=XBTUSD", "{}", TS)
    assert isinstance(bad, DecodeFailed) and bad.unknown


def test_plan_subscribes_v2_channels_instrument_first() -> None:
    subs = [
        Subscription("BTC/USD", "book"),
        Subscription("BTC/USD", "trades"),
        Subscription("ETH/USD", "bbo"),
        Subscription("ETH/USD", "book"),
    ]
    (plan,) = KrakenAdapter(book_depth=100).plan(subs)
    assert plan.url == URL_V2 == "wss://ws.kraken.com/v2"
    assert [json.loads(f) for f in plan.subscribe] == [
        {"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}},
        {
            "method": "subscribe",
            "params": {
                "channel": "book",
                "symbol": ["BTC/USD", "ETH/USD"],
                "depth": 100,
                "snapshot": True,
            },
        },
        {
            "method": "subscribe",
            "params": {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": False},
        },
        {
            "method": "subscribe",
            "params": {
                "channel": "ticker",
                "symbol": ["ETH/USD"],
                "event_trigger": "bbo",
                "snapshot": True,
            },
        },
    ]
    assert plan.subscriptions == subs
    assert plan.app_ping == APP_PING == '{"method":"ping"}' and plan.app_ping_interval_s
    assert plan.max_messages_per_second <= 5 and plan.lifetime_s == 24 * 3600


def test_plan_splits_symbols_and_skips_instrument_without_books() -> None:
    subs = [Subscription(f"S{i}/USD", c) for i in range(120) for c in ("trades", "bbo")]
    plans = KrakenAdapter().plan(subs)
    assert [len(p.subscriptions) for p in plans] == [100, 100, 40]
    assert all(
        len({s.symbol for s in p.subscriptions}) <= MAX_SYMBOLS_PER_CONNECTION for p in plans
    )
    assert all('"instrument"' not in f for p in plans for f in p.subscribe)
    assert sum(len(json.loads(p.subscribe[0])["params"]["symbol"]) for p in plans) == 120
    with pytest.raises(ValueError):
        KrakenAdapter(book_depth=50)


def test_snapshots_are_in_band_only() -> None:
    a = KrakenAdapter()
    assert a.snapshot_request("XBT/USD") is None
    assert a.sequence_rule.name == "none" and a.slug == "kraken"


@pytest.mark.parametrize("frame", [DOC_UPDATE, DOC_V2_UPDATE, '{"event":"heartbeat"}', " [1,2"])
def test_bytes_frames_decode_like_text(frame: str) -> None:
    assert KrakenAdapter().decode(frame.encode(), TS) == KrakenAdapter().decode(frame, TS)
