"""Poloniex spot adapter on literal frames.

``book_lv2`` updates and trades are verbatim frames of the recording
(``poloniex/POLONIEX.jsonl.gz``, 2022-08-21). The snapshot, the ``book`` (top 5) push,
``pong`` and the error reply are written in the shapes of
https://api-docs.poloniex.com/spot/websocket/market-data ("Book Level 2", "Book") and
https://api-docs.poloniex.com/spot/websocket/ ("Ping", "Error"); the snapshot's values
are the BTC_USDT ones of the update after it, so that the two chain.
"""

from __future__ import annotations

import json

from support import pylist, run_frames

from adapters.poloniex.adapter import (
    APP_PING,
    BOOK_DEPTH,
    MAX_SYMBOLS_PER_CONNECTION,
    URL,
    PoloniexAdapter,
)
from collector.adapter import Subscription
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed, Trade

TS = 1_661_123_517_853_324_000
SNAPSHOT = json.dumps(
    {
        "channel": "book_lv2",
        "data": [
            {
                "symbol": "BTC_USDT",
                "createTime": 1661123517800,
                "asks": [["21612.27", "0.5"], ["21617.15", "0.1"]],
                "bids": [["21601.01", "0.2"]],
                "lastId": 4485674,
                "id": 4485675,
                "ts": 1661123517810,
            }
        ],
        "action": "snapshot",
    },
    separators=(",", ":"),
)
#: Recorded (POLONIEX.jsonl.gz): the two updates after id 4485675.
UPDATE_1 = (
    '{"channel":"book_lv2","data":[{"symbol":"BTC_USDT","createTime":1661123517832,"asks":'
    '[["21617.15","0.34"]],"bids":[],"lastId":4485675,"id":4485676,"ts":1661123517837}],'
    '"action":"update"}'
)
UPDATE_2 = (
    '{"channel":"book_lv2","data":[{"symbol":"BTC_USDT","createTime":1661123517846,"asks":'
    '[["21612.27","0.68"]],"bids":[],"lastId":4485676,"id":4485677,"ts":1661123517851}],'
    '"action":"update"}'
)
TRADE = (
    '{"channel":"trades","data":[{"symbol":"BTC_USDT","amount":"248.3516391","quantity":'
    '"0.01149","takerSide":"sell","createTime":1661123520381,"price":"21614.59","id":'
    '"60184114","ts":1661123520386}]}'
)


def test_snapshot_then_updates_chained_by_last_id() -> None:
    adapter = PoloniexAdapter()
    (snap,) = adapter.decode(SNAPSHOT, TS)
    assert snap == BookSnapshot(
        "BTC_USDT",
        1661123517810_000_000,  # the push time: createTime is the book's last change
        TS,
        4485675,
        [("21601.01", "0.2")],
        [("21612.27", "0.5"), ("21617.15", "0.1")],
        True,
        depth=BOOK_DEPTH,
    )
    (delta,) = adapter.decode(UPDATE_1, TS)
    assert delta == BookDelta(
        "BTC_USDT",
        1661123517832_000_000,
        TS,
        4485676,
        4485676,
        4485675,
        [],
        [("21617.15", "0.34")],
        depth=20,
    )


def test_the_engine_follows_the_chain_and_finds_a_gap() -> None:
    pipeline = run_frames(PoloniexAdapter(), [SNAPSHOT, UPDATE_1, UPDATE_2], ts=TS)
    st = pipeline.engine.symbols["BTC_USDT"].stats
    assert (st.snapshots_applied, st.deltas_applied, st.gaps) == (1, 2, 0)
    rows = pylist(pipeline.sink.table("book"))
    assert [(r["seq"], r["side"], str(r["size"])) for r in rows[-2:]] == [
        (4485676, "ask", "0.340000000000000000"),
        (4485677, "ask", "0.680000000000000000"),
    ]
    # An update whose lastId is not the last id applied: the documented "lost connection".
    lost = run_frames(PoloniexAdapter(), [SNAPSHOT, UPDATE_2], ts=TS)
    sync = lost.engine.symbols["BTC_USDT"]
    assert sync.stats.gaps == 1 and sync.state.value != "synced"


def test_trades_keep_their_id_and_the_takers_side() -> None:
    (t,) = PoloniexAdapter().decode(TRADE, TS)
    assert t == Trade(
        "BTC_USDT", 1661123520381_000_000, TS, "60184114", "sell", "21614.59", "0.01149"
    )
    (bad,) = PoloniexAdapter().decode(TRADE.replace('"sell"', '"short"'), TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown


def test_book_top_five_gives_the_best_bid_and_ask() -> None:
    top = json.dumps(
        {
            "channel": "book",
            "data": [
                {
                    "symbol": "BTC_USDT",
                    "createTime": 1661123517846,
                    "asks": [["21612.27", "0.68"], ["21617.15", "0.34"]],
                    "bids": [["21601.01", "0.2"]],
                    "id": 4485677,
                    "ts": 1661123517851,
                }
            ],
        }
    )
    (q,) = PoloniexAdapter().decode(top, TS)
    assert q == BestBidAsk(
        "BTC_USDT", 1661123517846_000_000, TS, None, "21601.01", "0.2", "21612.27", "0.68"
    )
    empty = top.replace('[["21601.01", "0.2"]]', "[]")
    assert PoloniexAdapter().decode(empty, TS)[0].kind == "ignored"


def test_events() -> None:
    adapter = PoloniexAdapter()
    ack = '{"event":"subscribe","channel":"trades","symbols":["BTC_USDT"]}'
    assert adapter.decode(ack, TS)[0].kind == "ack"
    assert adapter.decode('{"event":"pong"}', TS) == [Control("heartbeat", TS, "pong")]
    error = '{"event":"error","message":"Subscription failed: unknown symbol"}'
    assert adapter.decode(error, TS) == [
        Control("error", TS, "Subscription failed: unknown symbol")
    ]
    (unknown,) = adapter.decode('{"channel":"candles_minute_1","data":[]}', TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown
    (no_action,) = adapter.decode(UPDATE_1.replace(',"action":"update"', ""), TS)
    assert isinstance(no_action, DecodeFailed) and not no_action.unknown


def test_plan_one_subscribe_per_channel_and_the_ping() -> None:
    subs = [Subscription(s, c) for s in ("BTC_USDT", "ETH_USDT") for c in ("book", "trades", "bbo")]
    (plan,) = PoloniexAdapter().plan(subs)
    assert plan.url == URL == "wss://ws.poloniex.com/ws/public"
    assert [json.loads(f) for f in plan.subscribe] == [
        {"event": "subscribe", "channel": [name], "symbols": ["BTC_USDT", "ETH_USDT"]}
        for name in ("book_lv2", "trades", "book")
    ]
    assert plan.app_ping == APP_PING == '{"event":"ping"}'
    many = [Subscription(f"C{i}_USDT", "book") for i in range(MAX_SYMBOLS_PER_CONNECTION + 1)]
    assert [len(p.subscriptions) for p in PoloniexAdapter().plan(many)] == [50, 1]


def test_markets_from_the_list_and_from_the_symbol() -> None:
    adapter = PoloniexAdapter()
    assert adapter.market("BTC_USDT") == "BTC-USDT" and adapter.listed("BTC_USDT") is None
    markets = json.dumps(
        [
            {
                "symbol": "BTC_USDT",
                "baseCurrencyName": "BTC",
                "quoteCurrencyName": "USDT",
                "displayName": "BTC/USDT",
                "state": "NORMAL",
                "visibleStartTime": 1659018819512,
                "tradableStartTime": 1659018819512,
                "symbolTradeLimit": {
                    "symbol": "BTC_USDT",
                    "priceScale": 2,
                    "quantityScale": 6,
                    "amountScale": 2,
                    "minQuantity": "0.000001",
                    "minAmount": "1",
                    "highestBid": "0",
                    "lowestAsk": "0",
                },
            }
        ]
    )
    out = adapter.decode_rest("https://api.poloniex.com/markets", markets, TS)
    assert out[0].kind == "ignored" and adapter.listed("BTC_USDT") and not adapter.listed("X_Y")
    (other,) = adapter.decode_rest("https://api.poloniex.com/currencies", "[]", TS)
    assert isinstance(other, DecodeFailed) and other.unknown
