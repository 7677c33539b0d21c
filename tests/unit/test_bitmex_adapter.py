"""BitMEX adapter on literal frames (shapes from the 2021 recording and bitmex.com/app/wsAPI)."""

from __future__ import annotations

import json

import pytest

import adapters
from adapters.bitmex.adapter import (
    APP_PING,
    TOPICS_PER_CONNECTION,
    TOPICS_PER_REQUEST,
    BitmexAdapter,
)
from collector.adapter import Subscription
from collector.book.sequence import NoSequenceRule
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
    Trade,
)

TS = 1_700_000_000_000_000_000

PARTIAL = (
    '{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],'
    '"types":{},"foreignKeys":{},"attributes":{},"filter":{"symbol":"XBTUSD"},"data":['
    '{"symbol":"XBTUSD","id":8796323950,"side":"Sell","size":200,"price":32040.5},'
    '{"symbol":"XBTUSD","id":8796323951,"side":"Sell","size":50,"price":32040},'
    '{"symbol":"XBTUSD","id":8796324000,"side":"Buy","size":1000,"price":1e-8}]}'
)


def rows(action: str, body: str) -> str:
    return '{"table":"orderBookL2","action":"' + action + '","data":[' + body + "]}"


def decode(adapter: BitmexAdapter, frame: str) -> list:
    return adapter.decode(frame, TS)


def test_partial_is_an_in_band_snapshot_numbered_zero() -> None:
    (snap,) = decode(BitmexAdapter(), PARTIAL)
    assert snap == BookSnapshot(
        "XBTUSD",
        None,
        TS,
        0,
        [("0.00000001", "1000")],
        [("32040.5", "200"), ("32040", "50")],
        in_band=True,
    )
    assert isinstance(BitmexAdapter.sequence_rule, NoSequenceRule)


def test_updates_and_deletes_take_their_price_from_the_level_id() -> None:
    a = BitmexAdapter()
    decode(a, PARTIAL)
    (upd,) = decode(a, rows("update", '{"symbol":"XBTUSD","id":8796323950,"side":"Sell","size":7}'))
    assert upd == BookDelta("XBTUSD", None, TS, 1, 1, 0, [], [("32040.5", "7")])
    (ins,) = decode(
        a, rows("insert", '{"symbol":"XBTUSD","id":8796324100,"side":"Buy","size":3,"price":0.5}')
    )
    assert ins == BookDelta("XBTUSD", None, TS, 2, 2, 1, [("0.5", "3")], [])
    (dele,) = decode(
        a,
        rows(
            "delete",
            '{"symbol":"XBTUSD","id":8796324100,"side":"Buy"},'
            '{"symbol":"XBTUSD","id":8796323951,"side":"Sell"}',
        ),
    )
    assert dele == BookDelta("XBTUSD", None, TS, 3, 3, 2, [("0.5", "0")], [("32040", "0")])
    assert a.unknown_ids == 0
    # The id was deleted: a later update of it cannot be placed.
    (bad,) = decode(a, rows("update", '{"symbol":"XBTUSD","id":8796324100,"side":"Buy","size":1}'))
    assert isinstance(bad, BookInvalid) and bad.symbol == "XBTUSD" and "8796324100" in bad.reason
    assert a.unknown_ids == 1
    # A new partial resets the id map and the numbering.
    decode(a, PARTIAL)
    (again,) = decode(
        a, rows("update", '{"symbol":"XBTUSD","id":8796323951,"side":"Sell","size":9}')
    )
    assert (again.first_id, again.prev_id, again.asks) == (1, 0, [("32040", "9")])


def test_2023_rows_with_price_and_timestamp() -> None:
    a = BitmexAdapter()
    (msg,) = decode(
        a,
        rows(
            "update",
            '{"symbol":"ETHUSDT","id":1,"side":"Buy","size":2,"price":1800.25,'
            '"timestamp":"2023-10-01T00:00:00.050Z"},'
            '{"symbol":"ETHUSDT","id":2,"side":"Buy","size":3,"price":1800.2,'
            '"timestamp":"2023-10-01T00:00:00.100Z"}',
        ),
    )
    assert msg.bids == [("1800.25", "2"), ("1800.2", "3")]
    assert msg.ts_exchange == 1696118400100 * 10**6
    assert a.unknown_ids == 2  # priced, so applicable, but counted: no partial announced them


def test_one_frame_for_two_symbols_gives_one_message_each() -> None:
    a = BitmexAdapter()
    msgs = decode(
        a,
        rows(
            "insert",
            '{"symbol":"A","id":1,"side":"Buy","size":1,"price":1},'
            '{"symbol":"B","id":2,"side":"Sell","size":2,"price":2},'
            '{"symbol":"A","id":3,"side":"Sell","size":3,"price":3}',
        ),
    )
    assert [(m.symbol, m.bids, m.asks) for m in msgs] == [
        ("A", [("1", "1")], [("3", "3")]),
        ("B", [], [("2", "2")]),
    ]


def test_empty_partial_uses_the_filter_symbol() -> None:
    frame = '{"table":"orderBookL2","action":"partial","filter":{"symbol":"TRXU21"},"data":[]}'
    (snap,) = decode(BitmexAdapter(), frame)
    assert isinstance(snap, BookSnapshot) and snap.symbol == "TRXU21" and not snap.bids


@pytest.mark.parametrize("side,taker", [("Buy", "buy"), ("Sell", "sell")])
def test_trade_side_is_the_aggressor(side: str, taker: str) -> None:
    frame = (
        '{"table":"trade","action":"insert","data":[{"timestamp":"2021-07-22T22:36:10.014Z",'
        f'"symbol":"UNIUSDT","side":"{side}","size":52,"price":17.297,"tickDirection":"PlusTick",'
        '"trdMatchID":"39744121-c20e-44ba-8cc8-a6b8cdf72885","grossValue":899444,'
        '"homeNotional":16.73101673101673,"foreignNotional":289.39639639639637}]}'
    )
    (trade,) = decode(BitmexAdapter(), frame)
    assert trade == Trade(
        "UNIUSDT",
        1626993370014 * 10**6,
        TS,
        "39744121-c20e-44ba-8cc8-a6b8cdf72885",
        taker,
        "17.297",
        "52",
    )


def test_trade_partial_is_history_and_not_stored() -> None:
    frame = (
        '{"table":"trade","action":"partial","keys":[],"data":[{"timestamp":'
        '"2021-07-22T22:24:15.328Z","symbol":"XRPU21","side":"Sell","size":15,'
        '"price":0.00001819,"trdMatchID":"8f8fe9db"}]}'
    )
    (msg,) = decode(BitmexAdapter(), frame)
    assert isinstance(msg, Control) and msg.kind == "ignored"


def test_quotes_are_bbo_without_seq() -> None:
    frame = (
        '{"table":"quote","action":"insert","data":[{"timestamp":"2021-07-22T22:36:10.014Z",'
        '"symbol":"UNIUSDT","bidSize":750,"bidPrice":17.277,"askPrice":17.297,"askSize":123},'
        '{"timestamp":"2021-07-22T22:36:10.140Z","symbol":"UNIUSDT","bidSize":null,'
        '"bidPrice":null,"askPrice":17.301,"askSize":638}]}'
    )
    (quote,) = decode(BitmexAdapter(), frame)  # the one-sided row is skipped
    assert quote == BestBidAsk(
        "UNIUSDT", 1626993370014 * 10**6, TS, None, "17.277", "750", "17.297", "123"
    )


@pytest.mark.parametrize(
    "frame,kind",
    [
        ("pong", "heartbeat"),
        (b"pong", "heartbeat"),
        (
            '{"info":"Welcome to the BitMEX Realtime API.","version":"2021-07-14T01:26:29.000Z",'
            '"timestamp":"2021-07-22T22:36:07.865Z","docs":"https://www.bitmex.com/app/wsAPI",'
            '"limit":{"remaining":39}}',
            "ack",
        ),
        (
            '{"success":true,"subscribe":"orderBookL2:XRPU21","request":{"op":"subscribe",'
            '"args":["orderBookL2:XRPU21"]}}',
            "ack",
        ),
        (
            '{"status":400,"error":"Unknown or expired symbol XBTZ20","meta":{},'
            '"request":{"op":"subscribe","args":"trade:XBTZ20"}}',
            "error",
        ),
        ('{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD"}]}', "ignored"),
        ('{"table":"funding","action":"partial","data":[]}', "ignored"),
    ],
)
def test_control_frames(frame: str, kind: str) -> None:
    (msg,) = decode(BitmexAdapter(), frame)
    assert isinstance(msg, Control) and msg.kind == kind, msg


@pytest.mark.parametrize(
    "frame,unknown",
    [
        ('{"table":"orderBookL2","action":"update","data":[{"symbol":"X"', False),  # truncated
        (rows("insert", '{"symbol":"X","id":1,"side":"Buy","size":"5","price":1}'), False),
        (rows("insert", '{"symbol":"X","id":1,"side":"Middle","size":5,"price":1}'), False),
        (rows("insert", '{"symbol":"X","id":1,"side":"Buy","price":1}'), False),  # no size
        (rows("sideways", '{"symbol":"X","id":1,"side":"Buy","size":5,"price":1}'), True),
        ('{"table":"brandNewTable","action":"partial","data":[]}', True),
        ('{"hello":1}', True),
        ("not json", False),
    ],
)
def test_bad_frames_become_values(frame: str, unknown: bool) -> None:
    (msg,) = decode(BitmexAdapter(), frame)
    assert isinstance(msg, DecodeFailed) and msg.unknown is unknown and msg.sample, msg


INSTRUMENTS = json.dumps(
    [
        {
            "symbol": "XBTUSD",
            "typ": "FFWCSX",
            "underlying": "XBT",
            "quoteCurrency": "USD",
            "settlCurrency": "XBt",
            "expiry": None,
        },
        {
            "symbol": "TRXU21",
            "typ": "FFCCSX",
            "underlying": "TRX",
            "quoteCurrency": "XBT",
            "settlCurrency": "XBt",
            "expiry": "2021-09-24T12:00:00.000Z",
        },
        {"symbol": "ETHUSDT", "typ": "FFWCSX", "underlying": "ETH", "quoteCurrency": "USDT"},
        {"symbol": "XBT_USDT", "typ": "IFXXXP", "underlying": "XBT", "quoteCurrency": "USDT"},
        {"symbol": ".BXBT", "typ": "MRCXXX", "underlying": "XBT", "quoteCurrency": "USD"},
    ]
)


@pytest.mark.parametrize(
    "symbol,market",
    [
        ("XBTUSD", "BTC-USD-PERP"),
        ("ETHUSDT", "ETH-USDT-PERP"),
        ("XBTU21", "BTC-USD-20210924"),
        ("TRXU21", "TRX-BTC-20210924"),
        ("XBT_USDT", "BTC-USDT"),
        (".BXBT", ".BXBT"),
    ],
)
def test_markets_with_and_without_instruments(symbol: str, market: str) -> None:
    loaded = BitmexAdapter()
    (ok,) = loaded.decode_rest("https://www.bitmex.com/api/v1/instrument/active", INSTRUMENTS, TS)
    assert ok.kind == "ignored"
    assert adapters.create("bitmex").market(symbol) == market
    if symbol != "XBTU21":
        assert loaded.market(symbol) == market


def test_guessed_expiry_is_the_last_friday_and_rest_errors() -> None:
    a = BitmexAdapter()
    assert a.market("XBTZ21") == "BTC-USD-20211231"
    assert a.market("ETHUSDTH24") == "ETH-USDT-20240329"
    assert a.market("NOTHING") == "NOTHING"
    (err,) = a.decode_rest(
        "https://www.bitmex.com/api/v1/instrument/active",
        '{"error":{"message":"Rate limit exceeded","name":"HTTPError"}}',
        TS,
    )
    assert err.kind == "error" and "Rate limit" in err.detail
    (unk,) = a.decode_rest("https://www.bitmex.com/api/v1/orderBook/L2", "[]", TS)
    assert isinstance(unk, DecodeFailed) and unk.unknown
    assert a.snapshot_request("XBTUSD") is None


def test_plan_subscribes_in_batches_with_text_ping() -> None:
    subs = [Subscription(f"S{i}", c) for i in range(110) for c in ("book", "trades")]
    subs.append(Subscription("XBTUSD", "bbo"))
    plans = BitmexAdapter().plan(subs)
    assert [len(p.subscriptions) for p in plans] == [TOPICS_PER_CONNECTION, 21]
    for plan in plans:
        assert plan.url == "wss://ws.bitmex.com/realtime"
        assert plan.app_ping == APP_PING == "ping" and plan.app_ping_interval_s == 5
        frames = [json.loads(f) for f in plan.subscribe]
        assert all(f["op"] == "subscribe" for f in frames)
        assert all(len(f["args"]) <= TOPICS_PER_REQUEST for f in frames)
        assert sum(len(f["args"]) for f in frames) == len(plan.subscriptions)
    last = [a for f in plans[1].subscribe for a in json.loads(f)["args"]]
    assert last[-3:] == ["orderBookL2:S109", "trade:S109", "quote:XBTUSD"]
