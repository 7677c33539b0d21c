"""Deribit adapter on literal frames (shapes from the 2021 recording and docs.deribit.com)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support import pylist, run_frames

import adapters
from adapters.deribit.adapter import (
    APP_PING,
    CHANNELS_PER_CONNECTION,
    CHANNELS_PER_REQUEST,
    HEARTBEAT_INTERVAL_S,
    DeribitAdapter,
)
from collector.adapter import Subscription
from collector.book.sequence import PreviousIdRule
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_700_000_000_000_000_000


def one(frame: str, adapter: DeribitAdapter | None = None):
    (msg,) = (adapter or DeribitAdapter()).decode(frame, TS)
    return msg


def note(channel: str, data: str) -> str:
    return (
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"'
        + channel
        + '","data":'
        + data
        + "}}"
    )


def test_snapshot_is_in_band_and_keeps_number_text() -> None:
    frame = note(
        "book.ETH-30JUL21-2800-C.raw",
        '{"type":"snapshot","timestamp":1626993723632,"instrument_name":"ETH-30JUL21-2800-C",'
        '"change_id":13169025645,"bids":[["new",0.0015,4714.0],["new",0.001,861]],'
        '"asks":[["new",0.0025,873.0]]}',
    )
    assert one(frame) == BookSnapshot(
        "ETH-30JUL21-2800-C",
        1626993723632 * 10**6,
        TS,
        13169025645,
        [("0.0015", "4714.0"), ("0.001", "861")],
        [("0.0025", "873.0")],
        in_band=True,
    )


def test_change_carries_change_ids_and_delete_means_zero() -> None:
    frame = note(
        "book.BTC-24SEP21-8000-P.raw",
        '{"type":"change","timestamp":1626993724337,"prev_change_id":33195894355,'
        '"instrument_name":"BTC-24SEP21-8000-P","change_id":33195894358,'
        '"bids":[["change",1e-05,2.5]],"asks":[["delete",0.001,0.0],["new",0.002,1]]}',
    )
    msg = one(frame)
    assert msg == BookDelta(
        "BTC-24SEP21-8000-P",
        1626993724337 * 10**6,
        TS,
        33195894358,
        33195894358,
        33195894355,
        [("0.00001", "2.5")],
        [("0.001", "0"), ("0.002", "1")],
    )
    rule = PreviousIdRule()
    assert rule.continues(msg, 33195894355) and not rule.continues(msg, 33195894354)


def test_change_with_prev_change_id_0_is_a_full_book() -> None:
    """Deribit starts some instruments' books with ``type: change, prev_change_id: 0``.

    The issue describes the message; its content here is the 2021 recording's
    BTC-24JUN22-15000-C snapshot (``deribit/DERIBIT.jsonl.gz``) in that form. It used
    to be a delta that continues nothing: a gap, a resync, and a book that never synced.
    """
    first = note(
        "book.BTC-24JUN22-15000-C.raw",
        '{"type":"change","timestamp":1626993720915,"prev_change_id":0,'
        '"instrument_name":"BTC-24JUN22-15000-C","change_id":33190041117,'
        '"bids":[["new",0.583,9.0],["new",0.0005,1.0]],"asks":[["new",0.6235,9.0]]}',
    )
    assert one(first) == BookSnapshot(
        "BTC-24JUN22-15000-C",
        1626993720915 * 10**6,
        TS,
        33190041117,
        [("0.583", "9.0"), ("0.0005", "1.0")],
        [("0.6235", "9.0")],
        in_band=True,
    )
    nxt = note(
        "book.BTC-24JUN22-15000-C.raw",
        '{"type":"change","timestamp":1626993721000,"prev_change_id":33190041117,'
        '"instrument_name":"BTC-24JUN22-15000-C","change_id":33190041120,'
        '"bids":[["delete",0.0005,0.0]],"asks":[]}',
    )
    pipeline = run_frames(DeribitAdapter(), [first, nxt], ts=1626993721000 * 10**6)
    kinds = [q["kind"] for q in pylist(pipeline.sink.table("quality"))]
    assert kinds == ["synced"]
    stats = pipeline.engine.symbols["BTC-24JUN22-15000-C"].stats
    assert (stats.snapshots_applied, stats.deltas_applied, stats.gaps) == (1, 1, 0)
    book = pipeline.engine.symbols["BTC-24JUN22-15000-C"].book.as_dict()
    assert book == {"bids": {Decimal("0.583"): 9}, "asks": {Decimal("0.6235"): 9}}


def test_grouped_book_channel_is_a_full_snapshot_each_time() -> None:
    frame = note(
        "book.BTC-PERPETUAL.none.10.100ms",
        '{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":5,'
        '"bids":[[30000.5,100]],"asks":[[30001,20]]}',
    )
    msg = one(frame)
    assert isinstance(msg, BookSnapshot) and msg.in_band and msg.last_id == 5
    assert msg.bids == [("30000.5", "100")] and msg.asks == [("30001", "20")]


@pytest.mark.parametrize("direction", ["buy", "sell"])
def test_trade_side_is_the_taker_direction(direction: str) -> None:
    frame = note(
        "trades.BTC-PERPETUAL.100ms",
        '[{"trade_seq":1,"trade_id":"125849069","timestamp":1626993724000,'
        '"tick_direction":0,"price":31950.5,"mark_price":31950.1,"iv":null,'
        '"instrument_name":"BTC-PERPETUAL","index_price":31951.2,'
        f'"direction":"{direction}","amount":1200.0}}]',
    )
    assert one(frame) == Trade(
        "BTC-PERPETUAL", 1626993724000 * 10**6, TS, "125849069", direction, "31950.5", "1200.0"
    )


def test_quote_is_bbo_without_seq_and_one_sided_quotes_are_skipped() -> None:
    frame = note(
        "quote.BTC-PERPETUAL",
        '{"timestamp":5,"instrument_name":"BTC-PERPETUAL","best_bid_price":30000.0,'
        '"best_bid_amount":10,"best_ask_price":30000.5,"best_ask_amount":2000.0}',
    )
    assert one(frame) == BestBidAsk(
        "BTC-PERPETUAL", 5 * 10**6, TS, None, "30000.0", "10", "30000.5", "2000.0"
    )
    empty = frame.replace('"best_bid_price":30000.0', '"best_bid_price":0.0').replace(
        '"best_bid_amount":10', '"best_bid_amount":0.0'
    )
    assert one(empty).kind == "ignored"


@pytest.mark.parametrize(
    "frame,kind",
    [
        ('{"jsonrpc":"2.0","id":0,"result":["book.X.raw"],"usIn":1,"usOut":2}', "ack"),
        ('{"jsonrpc":"2.0","id":1,"result":"ok"}', "ack"),
        ('{"jsonrpc":"2.0","id":2,"result":{"version":"1.2.26"}}', "heartbeat"),
        ('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}', "heartbeat"),
        ('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}', "heartbeat"),
        (
            '{"jsonrpc":"2.0","id":100,"error":{"code":13778,'
            '"message":"raw_subscriptions_not_available_for_unauthorized"}}',
            "error",
        ),
        (note("incremental_ticker.BTC-PERPETUAL", '{"timestamp":1}'), "ignored"),
        (note("deribit_price_index.btc_usd", '{"price":1}'), "ignored"),
    ],
)
def test_control_frames(frame: str, kind: str) -> None:
    msg = one(frame)
    assert isinstance(msg, Control) and msg.kind == kind, msg


@pytest.mark.parametrize(
    "frame,unknown",
    [
        (note("book.X.raw", '{"type":"change","timestamp":1'), False),  # truncated
        (
            note(
                "book.X.raw",
                '{"type":"change","timestamp":1,"instrument_name":"X","change_id":2,'
                '"prev_change_id":1,"bids":[["new","1.5",2]],"asks":[]}',
            ),
            False,
        ),  # price became a string
        (
            note(
                "book.X.raw",
                '{"type":"change","timestamp":1,"instrument_name":"X","change_id":2,'
                '"bids":[],"asks":[]}',
            ),
            False,
        ),  # change without prev_change_id
        (note("book.X.raw", '{"type":"bogus"}'), False),
        (note("brand_new.X", "{}"), True),
        ('{"jsonrpc":"2.0","method":"something_else","params":{}}', True),
        ('{"hello":1}', True),
        ("not json", False),
    ],
)
def test_bad_frames_become_values(frame: str, unknown: bool) -> None:
    msg = one(frame)
    assert isinstance(msg, DecodeFailed) and msg.unknown is unknown and msg.sample, msg


INSTRUMENTS = json.dumps(
    {
        "jsonrpc": "2.0",
        "result": [
            {
                "instrument_name": "BTC-24SEP21-34000-P",
                "kind": "option",
                "base_currency": "BTC",
                "quote_currency": "BTC",
                "expiration_timestamp": 1632470400000,
                "strike": 34000.0,
            },
            {
                "instrument_name": "SOL_USDC-PERPETUAL",
                "kind": "future",
                "base_currency": "SOL",
                "quote_currency": "USDC",
                "settlement_currency": "USDC",
                "counter_currency": "USDC",
            },
            {
                "instrument_name": "SOL-10JUN22-28-P",
                "kind": "option",
                "base_currency": "SOL",
                "quote_currency": "SOL",
                "counter_currency": "USD",
            },
        ],
    }
)


@pytest.mark.parametrize(
    "symbol,market",
    [
        ("BTC-24SEP21-34000-P", "BTC-USD-20210924-34000-P"),
        ("BTC-PERPETUAL", "BTC-USD-PERP"),
        ("BTC-24SEP21", "BTC-USD-20210924"),
        ("ETH-6AUG21", "ETH-USD-20210806"),
        ("BTC_USDC-PERPETUAL", "BTC-USDC-PERP"),
        ("SOL_USDC-PERPETUAL", "SOL-USDC-PERP"),
        ("SOL-10JUN22-28-P", "SOL-USD-20220610-28-P"),
        ("XRP_USDC-30JUN23-0d625-C", "XRP-USDC-20230630-0.625-C"),
        ("BTC_USDC", "BTC-USDC"),
        ("BTC-FS-24SEP21_PERP", "BTC-FS-24SEP21_PERP"),  # combo: native name
        ("WEIRD", "WEIRD"),
    ],
)
def test_markets_with_and_without_instruments(symbol: str, market: str) -> None:
    bare = adapters.create("deribit")
    loaded = DeribitAdapter()
    (ok,) = loaded.decode_rest(
        "https://www.deribit.com/api/v2/public/get_instruments?currency=BTC", INSTRUMENTS, TS
    )
    assert ok.kind == "ignored"
    assert bare.market(symbol) == market
    assert loaded.market(symbol) == market


def test_instruments_error_and_unknown_endpoint() -> None:
    a = DeribitAdapter()
    (err,) = a.decode_rest(
        "https://x/api/v2/public/get_instruments",
        '{"jsonrpc":"2.0","error":{"code":10009,"message":"too_many_requests"}}',
        TS,
    )
    assert err.kind == "error" and "10009" in err.detail
    (unk,) = a.decode_rest("https://x/api/v2/public/get_order_book", "{}", TS)
    assert isinstance(unk, DecodeFailed) and unk.unknown
    assert a.snapshot_request("BTC-PERPETUAL") is None


def test_plan_sets_heartbeat_then_subscribes_within_limits() -> None:
    subs = [Subscription(f"BTC-{i}", c) for i in range(300) for c in ("book", "trades")]
    subs.append(Subscription("BTC-PERPETUAL", "bbo"))
    plans = DeribitAdapter().plan(subs)
    assert [len(p.subscriptions) for p in plans] == [CHANNELS_PER_CONNECTION, 101]
    for plan in plans:
        assert plan.url == "wss://www.deribit.com/ws/api/v2"
        assert plan.app_ping == APP_PING and plan.app_ping_interval_s < HEARTBEAT_INTERVAL_S
        assert plan.max_messages_per_second <= 3.3
        first = json.loads(plan.subscribe[0])
        assert first["method"] == "public/set_heartbeat"
        assert first["params"]["interval"] >= 10
        requests = [json.loads(f) for f in plan.subscribe[1:]]
        assert all(r["method"] == "public/subscribe" for r in requests)
        assert all(len(r["params"]["channels"]) <= CHANNELS_PER_REQUEST for r in requests)
        assert len({r["id"] for r in requests}) == len(requests)
        channels = [c for r in requests for c in r["params"]["channels"]]
        assert len(channels) == len(plan.subscriptions)
    last = [c for f in plans[1].subscribe[1:] for c in json.loads(f)["params"]["channels"]]
    assert last[-3:] == ["book.BTC-299.100ms", "trades.BTC-299.100ms", "quote.BTC-PERPETUAL"]
    ping = json.loads(APP_PING)
    assert ping["method"] == "public/test" and ping["id"] not in {1, 100}
    # The app ping's reply is recognised as a heartbeat, by id.
    reply = json.dumps({"jsonrpc": "2.0", "id": ping["id"], "result": {"version": "1"}})
    assert one(reply).kind == "heartbeat"


def test_raw_book_interval_can_be_chosen() -> None:
    (plan,) = DeribitAdapter("raw").plan([Subscription("BTC-PERPETUAL", "book")])
    assert json.loads(plan.subscribe[1])["params"]["channels"] == ["book.BTC-PERPETUAL.raw"]
