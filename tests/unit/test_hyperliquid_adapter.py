"""Hyperliquid adapter on literal frames, in the shapes of the documented types.

Subscriptions page: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions
(``WsBook``, ``WsTrade``, ``WsBbo``, ``WsActiveAssetCtx``, ``subscriptionResponse``);
heartbeats page: .../websocket/heartbeats (``{"method":"ping"}`` and ``{"channel":"pong"}``).
"""

from __future__ import annotations

import json
from decimal import Decimal

from support import run_frames, table_rows

from adapters.hyperliquid.adapter import APP_PING, HyperliquidAdapter
from collector.adapter import Subscription
from collector.book.sequence import NoSequenceRule
from collector.model import (
    BestBidAsk,
    BookSnapshot,
    Control,
    DecodeFailed,
    Trade,
)

TS = 1_737_918_843_893_000_000


def l2book(time: int, bid: str = "105055.0") -> str:
    levels = [
        [{"px": bid, "sz": "3.03622", "n": 5}, {"px": "105054.0", "sz": "0.1428", "n": 1}],
        [{"px": "105056.0", "sz": "0.5", "n": 2}],
    ]
    return json.dumps(
        {"channel": "l2Book", "data": {"coin": "BTC", "levels": levels, "time": time}}
    )


def test_every_l2book_is_a_whole_book_numbered_per_connection() -> None:
    """Subscriptions page, ``WsBook``: ``levels`` is [bids, asks], each the whole side."""
    a = HyperliquidAdapter()
    (first,) = a.decode(l2book(1737918843542), TS, conn=1)
    assert first == BookSnapshot(
        "BTC",
        1_737_918_843_542_000_000,
        TS,
        1,
        [("105055.0", "3.03622"), ("105054.0", "0.1428")],
        [("105056.0", "0.5")],
        in_band=True,
    )
    (same_time,) = a.decode(l2book(1737918843542), TS, conn=1)  # time repeats: no id
    assert same_time.last_id == 2
    a.connected(2, "wss://api.hyperliquid.xyz/ws")
    (other,) = a.decode(l2book(1737918844035), TS, conn=2)
    assert other.last_id == 1  # a new connection starts over
    assert isinstance(HyperliquidAdapter.sequence_rule, NoSequenceRule)


def test_each_book_replaces_the_last() -> None:
    """A level missing from the next ``WsBook`` is gone: the rows say so."""
    frames = [l2book(1, bid="105055.0"), l2book(2, bid="105053.0")]
    pipeline = run_frames(HyperliquidAdapter(), frames, ts=TS)
    book = pipeline.engine.symbols["BTC"].book.as_dict()
    assert set(book["bids"]) == {Decimal("105053.0"), Decimal("105054.0")}
    assert {seq for (seq,) in table_rows(pipeline, "book", "seq")} == {1, 2}


def test_trades_side_is_the_aggressors() -> None:
    """Subscriptions page, ``WsTrade``: ``side`` B (bought) / A (sold), ``tid`` the id."""
    frame = {
        "channel": "trades",
        "data": [
            {
                "coin": "BTC",
                "side": "B",
                "px": "105056.0",
                "sz": "0.00219",
                "hash": "0xde47",
                "time": 1737918794873,
                "tid": 121451470284048,
                "users": ["0xbuyer", "0xseller"],
            },
            {
                "coin": "BTC",
                "side": "A",
                "px": "105055.0",
                "sz": "0.1",
                "hash": "0x5392",
                "time": 1737918796007,
                "tid": 588047386913648,
                "users": ["0xbuyer", "0xseller"],
            },
        ],
    }
    buy, sell = HyperliquidAdapter().decode(json.dumps(frame), TS)
    assert buy == Trade(
        "BTC", 1_737_918_794_873_000_000, TS, "121451470284048", "buy", "105056.0", "0.00219"
    )
    assert (sell.side, sell.trade_id, sell.price) == ("sell", "588047386913648", "105055.0")


def test_bbo_and_a_one_sided_bbo() -> None:
    """Subscriptions page, ``WsBbo``: ``bbo`` is [bid, ask], null for an empty side."""
    bid, ask = {"px": "105055.0", "sz": "3.0", "n": 5}, {"px": "105056.0", "sz": "0.5", "n": 2}
    frame = {"channel": "bbo", "data": {"coin": "BTC", "time": 1737918843542, "bbo": [bid, ask]}}
    (quote,) = HyperliquidAdapter().decode(json.dumps(frame), TS)
    assert quote == BestBidAsk(
        "BTC", 1_737_918_843_542_000_000, TS, None, "105055.0", "3.0", "105056.0", "0.5"
    )
    frame["data"]["bbo"] = [bid, None]
    (msg,) = HyperliquidAdapter().decode(json.dumps(frame), TS)
    assert msg == Control("ignored", TS, "one-sided bbo", "BTC")


def test_control_frames() -> None:
    a = HyperliquidAdapter()
    ack = (
        '{"channel":"subscriptionResponse","data":{"method":"subscribe",'
        '"subscription":{"type":"trades","coin":"SOL"}}}'
    )
    assert a.decode(ack, TS) == [Control("ack", TS, "subscribe trades SOL")]
    assert a.decode('{"channel":"pong"}', TS) == [Control("heartbeat", TS, "pong")]
    (err,) = a.decode('{"channel":"error","data":"Invalid subscription"}', TS)
    assert err == Control("error", TS, "Invalid subscription")
    (unknown,) = a.decode('{"channel":"candle","data":{}}', TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    (bad,) = a.decode('{"channel":"l2Book","data":{"coin":"BTC"}}', TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown


def test_plan_subscribes_each_type_and_coin_and_pings() -> None:
    """Subscriptions page: one ``subscribe`` per (type, coin); heartbeats page: the ping."""
    subs = [
        Subscription(coin, c)
        for coin in ("BTC", "ETH")
        for c in ("book", "trades", "bbo", "derivative_ticker")
    ]
    (plan,) = HyperliquidAdapter().plan(subs)
    assert plan.url == "wss://api.hyperliquid.xyz/ws"
    assert [json.loads(f)["subscription"] for f in plan.subscribe] == [
        {"type": t, "coin": coin}
        for coin in ("BTC", "ETH")
        for t in ("l2Book", "trades", "bbo", "activeAssetCtx")
    ]
    assert plan.app_ping == APP_PING == '{"method":"ping"}' and plan.app_ping_interval_s < 60


def test_markets() -> None:
    a = HyperliquidAdapter()
    assert a.market("BTC") == "BTC-USDC-PERP"
    assert a.market("kPEPE") == "kPEPE-USDC-PERP"
    assert a.market("PURR/USDC") == "PURR-USDC"
    assert a.market("@107") == "@107" and a.market("xyz:HOOD") == "xyz:HOOD"
    assert a.instrument_requests() == [] and a.listed("BTC") is None


def test_a_resubscriptions_repeated_trades_are_not_stored_twice() -> None:
    """The first ``trades`` push after subscribing repeats recent trades (the recording's
    first push spans 49 s): after a reconnect, those already stored are dropped."""
    row = {"coin": "BTC", "side": "B", "px": "1", "sz": "1", "hash": "0x0", "users": []}
    first = [{**row, "tid": 1, "time": 10}, {**row, "tid": 2, "time": 11}]
    again = [*first, {**row, "tid": 3, "time": 12}]
    a = HyperliquidAdapter()

    def push(rows: list[dict], conn: int = 1) -> list:
        return a.decode(json.dumps({"channel": "trades", "data": rows}), TS, conn=conn)

    assert [t.trade_id for t in push(first)] == ["1", "2"]
    a.connected(2, "wss://api.hyperliquid.xyz/ws")
    new, note = push(again, conn=2)
    assert new.trade_id == "3"
    assert note == Control("ignored", TS, "2 trades already received")
    # ``tid`` is unique only with its time: the same tid at another time is another trade.
    (other,) = push([{**row, "tid": 1, "time": 99}], conn=2)
    assert other.trade_id == "1"
