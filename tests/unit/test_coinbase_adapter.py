"""Coinbase adapters on literal frames (shapes from the 2026 / 2021 recordings and the docs)."""

from __future__ import annotations

import json

import pytest

import adapters
from adapters.coinbase.adapter import PRODUCTS_PER_CONNECTION, CoinbaseAdapter
from adapters.coinbase.wire import TradeFilter, parse_rfc3339_ns
from adapters.coinbase_exchange.adapter import CoinbaseExchangeAdapter
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

TS = 1_786_309_548_000_000_000
T0 = 1_786_309_548_170_326_000  # 2026-08-09T21:05:48.170326Z


def frame(channel: str, seq: int, events: list, ts: str = "2026-08-09T21:05:48.228568804Z") -> str:
    return json.dumps({"channel": channel, "timestamp": ts, "sequence_num": seq, "events": events})


def level(side: str, price: str, qty: str, t: str = "2026-08-09T21:05:48.170326Z") -> dict:
    return {"side": side, "event_time": t, "price_level": price, "new_quantity": qty}


def l2(seq: int, kind: str, product: str, *levels: dict) -> str:
    return frame("l2_data", seq, [{"type": kind, "product_id": product, "updates": list(levels)}])


def trade(tid: str, side: str, product: str = "BTC-USD", price: str = "65083.67") -> dict:
    return {
        "product_id": product,
        "trade_id": tid,
        "price": price,
        "size": "0.002186",
        "time": "2026-08-09T21:05:42.514318Z",
        "side": side,
    }


def trades(seq: int, kind: str, *rows: dict) -> str:
    return frame("market_trades", seq, [{"type": kind, "trades": list(rows)}])


# -- timestamps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,ns",
    [
        ("2026-08-09T21:05:48.228568804Z", 1_786_309_548_228_568_804),
        ("2026-08-09T21:05:38.50436Z", 1_786_309_538_504_360_000),  # trailing zeros trimmed
        ("2026-08-09T21:05:38Z", 1_786_309_538_000_000_000),
        ("2026-08-09T23:05:38.1+02:00", 1_786_309_538_100_000_000),
        ("2026-08-09T21:05:38.1234567891Z", 1_786_309_538_123_456_789),  # truncated to ns
        ("1970-01-01T00:00:00.000000001Z", 1),
        ("0001-01-01T00:00:00.000000Z", None),  # legacy feed's "no time"
        ("2026-08-09 21:05:48.85 +0000 UTC m=+41691.26", None),  # Go time.String()
        ("", None),
        (None, None),
        ("2026-13-09T21:05:38Z", None),
        ("2026-02-29T00:00:00Z", None),  # not a leap year
        ("2024-02-29T00:00:00Z", 1_709_164_800_000_000_000),
    ],
)
def test_rfc3339_is_exact_integer_nanoseconds(text: str | None, ns: int | None) -> None:
    assert parse_rfc3339_ns(text) == ns


# -- Advanced Trade: book ---------------------------------------------------------------


def test_snapshot_then_updates_numbered_per_product() -> None:
    a = CoinbaseAdapter()
    assert isinstance(a.sequence_rule, NoSequenceRule)
    (snap,) = a.decode(
        l2(
            0,
            "snapshot",
            "BTC-USD",
            level("bid", "65083.66", "0.20371215"),
            level("offer", "65083.67", "0.24"),
        ),
        TS,
        1,
    )
    assert snap == BookSnapshot(
        "BTC-USD", T0, TS, 0, [("65083.66", "0.20371215")], [("65083.67", "0.24")], in_band=True
    )
    (d1,) = a.decode(l2(1, "update", "BTC-USD", level("bid", "65061.91", "0")), TS, 1)
    (d2,) = a.decode(l2(2, "update", "BTC-USD", level("offer", "65090", "1.5")), TS, 1)
    assert d1 == BookDelta("BTC-USD", T0, TS, 1, 1, None, [("65061.91", "0")], [])
    assert (d2.first_id, d2.last_id, d2.bids, d2.asks) == (2, 2, [], [("65090", "1.5")])
    # A new snapshot restarts the count.
    (snap2,) = a.decode(l2(3, "snapshot", "BTC-USD"), TS, 1)
    assert snap2.last_id == 0 and snap2.ts_exchange == 1_786_309_548_228_568_804  # envelope time
    (d3,) = a.decode(l2(4, "update", "BTC-USD", level("bid", "1", "1")), TS, 1)
    assert d3.last_id == 1


def test_sequence_gap_invalidates_every_book_of_that_connection_only() -> None:
    a = CoinbaseAdapter()
    a.decode(l2(0, "snapshot", "BTC-USD"), TS, 1)
    a.decode(l2(1, "snapshot", "ETH-USD"), TS, 1)
    a.decode(l2(0, "snapshot", "SOL-USD"), TS, 2)
    a.decode(frame("heartbeats", 2, [{"current_time": "x", "heartbeat_counter": 7}]), TS, 1)
    out = a.decode(l2(4, "update", "BTC-USD", level("bid", "1", "1")), TS, 1)  # 3 is missing
    invalid = [m for m in out if isinstance(m, BookInvalid)]
    assert sorted(m.symbol for m in invalid) == ["BTC-USD", "ETH-USD"]
    assert "sequence_num 4 after 2 on connection 1" in invalid[0].reason
    assert isinstance(out[-1], BookDelta)  # the frame's own data follows the invalidation
    assert a.sequence_gaps == 1
    # Continuity resumes from the new number; connection 2 is unaffected.
    assert a.decode(frame("heartbeats", 5, []), TS, 1)[0].kind == "heartbeat"
    assert a.decode(frame("heartbeats", 1, []), TS, 2)[0].kind == "heartbeat"
    assert a.sequence_gaps == 1


def test_a_repeated_or_backwards_sequence_num_is_a_gap_too() -> None:
    a = CoinbaseAdapter()
    a.decode(l2(0, "snapshot", "BTC-USD"), TS, 1)
    out = a.decode(l2(0, "update", "BTC-USD"), TS, 1)
    assert isinstance(out[0], BookInvalid) and a.sequence_gaps == 1


def test_new_connection_starts_counting_again() -> None:
    a = CoinbaseAdapter()
    a.decode(l2(0, "snapshot", "BTC-USD"), TS, 1)
    a.decode(l2(1, "update", "BTC-USD"), TS, 1)
    a.connected(1, "wss://advanced-trade-ws.coinbase.com")  # conn id reused after reconnect
    out = a.decode(l2(0, "snapshot", "BTC-USD"), TS, 1)
    assert [type(m) for m in out] == [BookSnapshot] and a.sequence_gaps == 0


def test_switch_over_takes_the_book_from_the_newest_snapshot() -> None:
    a = CoinbaseAdapter()
    a.decode(l2(0, "snapshot", "BTC-USD"), TS, 1)
    (d,) = a.decode(l2(1, "update", "BTC-USD", level("bid", "1", "1")), TS, 1)
    assert isinstance(d, BookDelta)
    a.decode(l2(0, "snapshot", "BTC-USD"), TS, 2)  # make-before-break: conn 2 takes over
    (old,) = a.decode(l2(2, "update", "BTC-USD", level("bid", "1", "2")), TS, 1)
    assert isinstance(old, Control) and old.kind == "ignored" and old.symbol == "BTC-USD"
    (new,) = a.decode(l2(1, "update", "BTC-USD", level("bid", "1", "2")), TS, 2)
    assert isinstance(new, BookDelta) and new.last_id == 1
    # A gap on the replaced connection no longer concerns that book.
    out = a.decode(l2(9, "update", "BTC-USD"), TS, 1)
    assert not [m for m in out if isinstance(m, BookInvalid)]


def test_malformed_l2_frame_invalidates_books_it_may_have_carried() -> None:
    a = CoinbaseAdapter()
    a.decode(l2(0, "snapshot", "BTC-USD"), TS, 1)
    bad = frame(
        "l2_data", 1, [{"type": "update", "product_id": "BTC-USD", "updates": [{"side": "ask"}]}]
    )
    out = a.decode(bad, TS, 1)
    assert [type(m) for m in out] == [BookInvalid, DecodeFailed]
    assert out[1].unknown is False


# -- Advanced Trade: trades -----------------------------------------------------------------


@pytest.mark.parametrize("maker,taker", [("SELL", "buy"), ("BUY", "sell")])
def test_trade_side_is_the_opposite_of_the_maker_side(maker: str, taker: str) -> None:
    a = CoinbaseAdapter()
    (t,) = a.decode(trades(0, "update", trade("1068572091", maker)), TS, 1)
    assert t == Trade(
        "BTC-USD", 1_786_309_542_514_318_000, TS, "1068572091", taker, "65083.67", "0.002186"
    )


def test_trade_snapshots_and_duplicates() -> None:
    a = CoinbaseAdapter()
    # The first snapshot is history from before the session: not emitted.
    (c,) = a.decode(trades(0, "snapshot", trade("12", "SELL"), trade("11", "BUY")), TS, 1)
    assert isinstance(c, Control) and c.kind == "ignored"
    # Updates come newest first; emitted in trade-id order.
    out = a.decode(trades(1, "update", trade("14", "SELL"), trade("13", "BUY")), TS, 1)
    assert [(t.trade_id, t.side) for t in out] == [("13", "sell"), ("14", "buy")]
    # After a reconnect the snapshot fills the gap with what is newer than the last seen.
    out = a.decode(
        trades(0, "snapshot", trade("16", "SELL"), trade("15", "SELL"), trade("14", "SELL")), TS, 2
    )
    assert [t.trade_id for t in out] == ["15", "16"]
    # The old connection's copy of a trade already written is dropped.
    (c,) = a.decode(trades(2, "update", trade("16", "SELL")), TS, 1)
    assert isinstance(c, Control)
    # Products are tracked separately.
    (e,) = a.decode(trades(3, "update", trade("5", "BUY", "ETH-USD")), TS, 1)
    assert e.symbol == "ETH-USD" and e.trade_id == "5"


def test_trade_filter_admits_non_numeric_ids_from_live_updates() -> None:
    f = TradeFilter()
    assert f.admit("X", ["a", "b"], replay=False) == [True, True]
    assert f.admit("X", ["a"], replay=True) == [False]


def test_unknown_trade_side_is_malformed() -> None:
    (m,) = CoinbaseAdapter().decode(trades(0, "update", trade("1", "UNKNOWN")), TS, 1)
    assert isinstance(m, DecodeFailed) and not m.unknown


# -- Advanced Trade: other channels ------------------------------------------------------------


def test_ticker_becomes_best_bid_ask_without_seq() -> None:
    tick = {
        "type": "ticker",
        "product_id": "ETH-USD",
        "price": "1919.41",
        "best_bid": "1919.44",
        "best_ask": "1919.49",
        "best_bid_quantity": "0.02858092",
        "best_ask_quantity": "0.07814824",
    }
    a = CoinbaseAdapter()
    (q,) = a.decode(frame("ticker", 0, [{"type": "snapshot", "tickers": [tick]}]), TS, 1)
    assert q == BestBidAsk(
        "ETH-USD",
        1_786_309_548_228_568_804,
        TS,
        None,
        "1919.44",
        "0.02858092",
        "1919.49",
        "0.07814824",
    )
    batch = {"product_id": "ETH-USD", "price": "1919.41"}
    (c,) = a.decode(frame("ticker_batch", 1, [{"type": "update", "tickers": [batch]}]), TS, 1)
    assert isinstance(c, Control) and c.kind == "ignored"


@pytest.mark.parametrize(
    "text,kind",
    [
        (
            frame(
                "heartbeats",
                0,
                [{"current_time": "2026-08-09 21:05:48 +0000 UTC", "heartbeat_counter": 41691}],
            ),
            "heartbeat",
        ),
        (frame("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD"]}}]), "ack"),
        (frame("candles", 0, [{"type": "update", "candles": []}]), "ignored"),
        (frame("status", 0, [{"type": "snapshot", "products": []}]), "ignored"),
        ('{"type":"error","message":"too many L2 streams requested in a single session"}', "error"),
    ],
)
def test_control_frames(text: str, kind: str) -> None:
    (m,) = CoinbaseAdapter().decode(text, TS, 1)
    assert isinstance(m, Control) and m.kind == kind
    if kind == "heartbeat":
        assert m.detail == "heartbeat_counter=41691"
    if kind == "error":
        assert "too many L2 streams" in m.detail


@pytest.mark.parametrize(
    "text,unknown",
    [
        (frame("brand_new_channel", 0, []), True),
        ('{"hello":1}', True),
        ('{"channel":"l2_data","sequence_num":"one"}', False),
        ('{"channel":"l2_data","sequence_num":1,"events":[{"type":"snapshot"', False),
        ("not json", False),
        (frame("market_trades", 0, [{"type": "update", "trades": [{"trade_id": "1"}]}]), False),
    ],
)
def test_bad_frames_become_values(text: str, unknown: bool) -> None:
    out = CoinbaseAdapter().decode(text, TS, 1)
    failed = [m for m in out if isinstance(m, DecodeFailed)]
    assert len(failed) == 1 and failed[0].unknown is unknown and failed[0].sample


def test_exponent_text_is_stored_plain() -> None:
    a = CoinbaseAdapter()
    (s,) = a.decode(l2(0, "snapshot", "X-USD", level("bid", "1E+1", "1e-8")), TS, 1)
    assert s.bids == [("10", "0.00000001")]


# -- Advanced Trade: markets, plan ----------------------------------------------------------


PRODUCTS = {
    "products": [
        {
            "product_id": "BTC-USD",
            "base_currency_id": "BTC",
            "quote_currency_id": "USD",
            "product_type": "SPOT",
        },
        {
            "product_id": "BTC-USDC",
            "base_currency_id": "BTC",
            "quote_currency_id": "USDC",
            "product_type": "SPOT",
        },
        {
            "product_id": "BIP-20DEC30-CDE",
            "base_currency_id": "",
            "quote_currency_id": "USD",
            "product_type": "FUTURE",
            "future_product_details": {
                "contract_root_unit": "BTC",
                "contract_expiry": "2030-12-20T16:00:00Z",
                "contract_expiry_type": "EXPIRING",
            },
        },
        {
            "product_id": "BTC-PERP-INTX",
            "base_currency_id": "BTC",
            "quote_currency_id": "USDC",
            "product_type": "FUTURE",
            "future_product_details": {
                "contract_root_unit": "BTC",
                "contract_expiry_type": "PERPETUAL",
            },
        },
    ],
    "num_products": 4,
}


def test_markets_from_products_sidecar() -> None:
    a = CoinbaseAdapter()
    url = "https://api.coinbase.com/api/v3/brokerage/market/products"
    (c,) = a.decode_rest(url, json.dumps(PRODUCTS), TS)
    assert c.kind == "ignored"
    assert a.market("BTC-USD") == "BTC-USD"
    assert a.market("BTC-USDC") == "BTC-USDC"
    assert a.market("BIP-20DEC30-CDE") == "BTC-USD-20301220"
    assert a.market("BTC-PERP-INTX") == "BTC-USDC-PERP"
    (bad,) = a.decode_rest(url, "{}", TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown
    (unknown,) = a.decode_rest("https://api.coinbase.com/api/v3/brokerage/time", "{}", TS)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown


@pytest.mark.parametrize(
    "symbol,market",
    [
        ("ETH-USD", "ETH-USD"),
        ("ETH-PERP-INTX", "ETH-USDC-PERP"),
        ("BIT-31JAN25-CDE", "BIT-USD-20250131"),
        ("weird", "weird"),
        ("", ""),
    ],
)
def test_markets_best_effort_without_sidecar(symbol: str, market: str) -> None:
    assert adapters.create("coinbase").market(symbol) == market


def test_plan_subscribes_per_channel_with_heartbeats_and_caps_products() -> None:
    subs = [Subscription("BTC-USD", c) for c in ("book", "trades", "bbo")]
    subs += [Subscription("ETH-USD", "book")]
    (plan,) = CoinbaseAdapter().plan(subs)
    assert plan.url == "wss://advanced-trade-ws.coinbase.com"
    assert [json.loads(f) for f in plan.subscribe] == [
        {"type": "subscribe", "channel": "heartbeats"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "level2"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"},
    ]
    assert plan.subscriptions == subs and plan.max_messages_per_second == 8
    assert CoinbaseAdapter().snapshot_request("BTC-USD") is None

    many = [Subscription(f"C{i}-USD", c) for i in range(40) for c in ("book", "trades")]
    plans = CoinbaseAdapter().plan(many)
    assert [len({s.symbol for s in p.subscriptions}) for p in plans] == [16, 16, 8]
    assert PRODUCTS_PER_CONNECTION == 16
    # The per-IP message budget is shared by the connections.
    assert sum(p.max_messages_per_second for p in plans) == pytest.approx(8)
    for p in plans:
        books = [s.symbol for s in p.subscriptions if s.channel == "book"]
        assert json.loads(p.subscribe[1])["product_ids"] == books


# -- legacy Coinbase Exchange feed -------------------------------------------------------------


def test_exchange_snapshot_and_l2update() -> None:
    a = CoinbaseExchangeAdapter()
    snap_frame = (
        '{"type":"snapshot","product_id":"BAND-GBP","asks":[["14.8024","12.77"]],'
        '"bids":[["14.7550","1.5"]]}'
    )
    (snap,) = a.decode(snap_frame, TS, 1)
    assert snap == BookSnapshot(
        "BAND-GBP", None, TS, 0, [("14.7550", "1.5")], [("14.8024", "12.77")], in_band=True
    )
    upd = (
        '{"type":"l2update","product_id":"BAND-GBP","changes":[["sell","14.8024","0"],'
        '["buy","14.76","3"]],"time":"2021-04-17T16:43:37.075687Z"}'
    )
    (d,) = a.decode(upd, TS, 1)
    assert d == BookDelta(
        "BAND-GBP", 1_618_677_817_075_687_000, TS, 1, 1, None, [("14.76", "3")], [("14.8024", "0")]
    )
    zero_time = upd.replace("2021-04-17T16:43:37.075687Z", "0001-01-01T00:00:00.000000Z")
    (d2,) = a.decode(zero_time, TS, 1)
    assert d2.ts_exchange is None and d2.last_id == 2


@pytest.mark.parametrize("kind", ["match", "last_match"])
@pytest.mark.parametrize("maker,taker", [("sell", "buy"), ("buy", "sell")])
def test_exchange_match_taker_is_opposite_of_maker(kind: str, maker: str, taker: str) -> None:
    a = CoinbaseExchangeAdapter()
    if kind == "last_match":  # only a reconnect's last_match newer than what was seen is emitted
        a.decode(_match("match", "sell", 280231), TS, 1)
    (t,) = a.decode(_match(kind, maker, 280232), TS, 1)
    assert t == Trade(
        "SKL-BTC", 1_618_677_817_089_723_000, TS, "280232", taker, "0.00001305", "985"
    )


def test_exchange_first_last_match_is_history() -> None:
    a = CoinbaseExchangeAdapter()
    (c,) = a.decode(_match("last_match", "sell", 10), TS, 1)
    assert isinstance(c, Control) and c.kind == "ignored"
    (t,) = a.decode(_match("match", "sell", 11), TS, 1)
    assert t.trade_id == "11"
    (dup,) = a.decode(_match("match", "sell", 11), TS, 2)
    assert isinstance(dup, Control)


def _match(kind: str, side: str, tid: int) -> str:
    return json.dumps(
        {
            "type": kind,
            "trade_id": tid,
            "maker_order_id": "a",
            "taker_order_id": "b",
            "side": side,
            "size": "985",
            "price": "0.00001305",
            "product_id": "SKL-BTC",
            "sequence": 177100030,
            "time": "2021-04-17T16:43:37.089723Z",
        }
    )


@pytest.mark.parametrize(
    "text,kind",
    [
        (
            '{"type":"subscriptions","channels":[{"name":"level2","product_ids":["BAND-GBP"]}]}',
            "ack",
        ),
        (
            '{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2021-04-17T16:43:37Z"}',
            "heartbeat",
        ),
        (
            '{"type":"error","message":"Failed to subscribe","reason":"level2, level3, and full '
            'channels now require authentication"}',
            "error",
        ),
        (
            '{"type":"ticker","sequence":1,"product_id":"BAND-GBP","price":"14.7775","best_bid":"14.7550","best_ask":"14.8060","side":"buy","time":"2021-04-17T16:43:30.244075Z","trade_id":881613,"last_size":"0.04"}',
            "ignored",
        ),
        ('{"type":"status","products":[],"currencies":[]}', "ignored"),
        ('{"type":"received","product_id":"BTC-USD","sequence":1}', "ignored"),
    ],
)
def test_exchange_control_frames(text: str, kind: str) -> None:
    (m,) = CoinbaseExchangeAdapter().decode(text, TS, 1)
    assert isinstance(m, Control) and m.kind == kind
    if kind == "error":
        assert "require authentication" in m.detail


def test_exchange_ticker_with_sizes_is_best_bid_ask() -> None:
    text = (
        '{"type":"ticker","sequence":1,"product_id":"BTC-USD","price":"1","best_bid":"1.0",'
        '"best_bid_size":"2","best_ask":"1.1","best_ask_size":"3","time":"2021-04-17T16:43:30Z"}'
    )
    (q,) = CoinbaseExchangeAdapter().decode(text, TS, 1)
    assert q == BestBidAsk("BTC-USD", 1_618_677_810_000_000_000, TS, None, "1.0", "2", "1.1", "3")


@pytest.mark.parametrize(
    "text,unknown",
    [
        ('{"type":"brand_new"}', True),
        ('{"no_type":1}', False),
        (
            '{"type":"l2update","product_id":"X","changes":[["up","1","2"]],"time":"2021-04-17T16:43:37Z"}',
            False,
        ),
        (
            '{"type":"match","product_id":"X","trade_id":1,"price":"1","size":"1","time":"2021-04-17T16:43:37Z"}',
            False,
        ),
        ('{"type":"snapshot","product_id":"X"}', False),
        ("[1,2", False),
    ],
)
def test_exchange_bad_frames_become_values(text: str, unknown: bool) -> None:
    (m,) = CoinbaseExchangeAdapter().decode(text, TS, 1)
    assert isinstance(m, DecodeFailed) and m.unknown is unknown and m.sample


def test_exchange_markets_and_plan() -> None:
    a = CoinbaseExchangeAdapter()
    assert a.market("BAND-GBP") == "BAND-GBP"
    body = '[{"id":"SKL-EUR","base_currency":"SKL","quote_currency":"EUR"}]'
    (c,) = a.decode_rest("https://api.pro.coinbase.com/products", body, TS)
    assert c.kind == "ignored" and a.market("SKL-EUR") == "SKL-EUR"
    subs = [Subscription("BTC-USD", c) for c in ("book", "trades", "bbo")]
    (plan,) = a.plan(subs)
    assert plan.url == "wss://ws-feed.exchange.coinbase.com"
    (msg,) = [json.loads(f) for f in plan.subscribe]
    assert msg == {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channels": ["heartbeat", "level2_batch", "matches", "ticker"],
    }
    assert a.snapshot_request("BTC-USD") is None and isinstance(a.sequence_rule, NoSequenceRule)
    assert adapters.create("coinbase-exchange").slug == "coinbase-exchange"
