"""Upbit adapter on frames in the documented shapes.

The field lists are those of https://global-docs.upbit.com/reference/websocket-orderbook
and https://global-docs.upbit.com/reference/websocket-trade (``DEFAULT`` format, and the
``SIMPLE`` abbreviations of https://global-docs.upbit.com/reference/websocket-request-format).
The values in these frames are *derived* (ours, in the documented shape): the docs'
examples could not be reread verbatim this session. The 2021 recording (``SIMPLE``) is
covered by ``tests/replay/test_upbit_recordings.py``.
"""

from __future__ import annotations

import json

from adapters.upbit import UpbitAdapter
from collector.adapter import Subscription
from collector.model import BestBidAsk, BookSnapshot, Control, DecodeFailed, Trade

BOOK = (
    '{"type":"orderbook","code":"KRW-BTC","timestamp":1704867306396,"total_ask_size":7.37,'
    '"total_bid_size":13.52,"orderbook_units":[{"ask_price":61454000,"bid_price":61453000,'
    '"ask_size":0.01162479,"bid_size":0.11431017},{"ask_price":61455000.0,'
    '"bid_price":61452000,"ask_size":1E-8,"bid_size":0.5}],"stream_type":"REALTIME",'
    '"level":0}'
)
TRADE = (
    '{"type":"trade","code":"KRW-BTC","timestamp":1704867306400,"trade_date":"2024-01-10",'
    '"trade_time":"06:15:06","trade_timestamp":1704867306391,"trade_price":61453000,'
    '"trade_volume":0.00081362,"ask_bid":"ASK","prev_closing_price":61400000,'
    '"change":"RISE","change_price":53000,"sequential_id":17048673063910000,'
    '"stream_type":"REALTIME"}'
)


def test_an_orderbook_is_the_whole_book_in_exact_text() -> None:
    """https://global-docs.upbit.com/reference/websocket-orderbook (binary frame of JSON)"""
    snap, quote = UpbitAdapter().decode(BOOK.encode(), 7, conn=1)
    assert isinstance(snap, BookSnapshot) and snap.in_band
    assert (snap.symbol, snap.ts_exchange, snap.last_id) == ("KRW-BTC", 1704867306396 * 10**6, 1)
    assert snap.bids == [("61453000", "0.11431017"), ("61452000", "0.5")]
    assert snap.asks == [("61454000", "0.01162479"), ("61455000.0", "0.00000001")]
    # The first unit is the best bid/offer Upbit states (it has no bbo stream).
    ts = 1704867306396 * 10**6
    assert quote == BestBidAsk(
        "KRW-BTC", ts, 7, None, "61453000", "0.11431017", "61454000", "0.01162479"
    )
    again, _ = UpbitAdapter().decode(BOOK, 8, conn=1)
    assert again.bids == snap.bids  # text frames decode alike


def test_a_trade_takes_its_side_and_id_from_ask_bid_and_sequential_id() -> None:
    """https://global-docs.upbit.com/reference/websocket-trade: ASK = the taker sold"""
    (trade,) = UpbitAdapter().decode(TRADE.encode(), 9)
    assert trade == Trade(
        "KRW-BTC", 1704867306391 * 10**6, 9, "17048673063910000", "sell", "61453000", "0.00081362"
    )
    (bought,) = UpbitAdapter().decode(TRADE.replace('"ASK"', '"BID"'), 9)
    assert bought.side == "buy"
    (again,) = UpbitAdapter().decode(TRADE.replace('"REALTIME"', '"SNAPSHOT"'), 9)
    assert again == Control("ignored", 9, "KRW-BTC: the last trade, repeated on subscribe")


def test_the_simple_format_decodes_to_the_same_messages() -> None:
    """SIMPLE abbreviations: https://global-docs.upbit.com/reference/websocket-request-format"""
    simple = (
        '{"ty":"trade","cd":"KRW-BTC","tms":1704867306400,"ttms":1704867306391,'
        '"tp":61453000,"tv":0.00081362,"ab":"ASK","sid":17048673063910000,"st":"REALTIME"}'
    )
    assert UpbitAdapter().decode(simple, 9) == UpbitAdapter().decode(TRADE, 9)


def test_the_plan_is_one_request_in_the_default_format_with_a_keepalive_ping() -> None:
    subs = [Subscription(s, c) for s in ("KRW-BTC", "BTC-ETH") for c in ("book", "trades")]
    subs.append(Subscription("KRW-ETH", "bbo"))  # rides on the orderbook
    (plan,) = UpbitAdapter().plan(subs)
    assert plan.url == "wss://api.upbit.com/websocket/v1"
    assert json.loads(plan.subscribe[0]) == [
        {"ticket": "collector"},
        {"type": "orderbook", "codes": ["KRW-BTC", "BTC-ETH", "KRW-ETH"]},
        {"type": "trade", "codes": ["KRW-BTC", "BTC-ETH"], "is_only_realtime": True},
        {"format": "DEFAULT"},
    ]
    assert (plan.app_ping, plan.app_ping_interval_s) == ("PING", 60.0)


def test_status_errors_and_bad_frames_are_told_apart() -> None:
    adapter = UpbitAdapter()
    assert adapter.decode(b'{"status":"UP"}', 1) == [Control("heartbeat", 1, "UP")]
    error = '{"error":{"name":"INVALID_PARAM","message":"bad codes"}}'
    (told,) = adapter.decode(error, 1)
    assert told.kind == "error" and "INVALID_PARAM" in told.detail
    (bad,) = adapter.decode(TRADE.replace('"ASK"', '"XYZ"'), 1)
    assert isinstance(bad, DecodeFailed) and not bad.unknown
    (unknown,) = adapter.decode('{"type":"candle.1s"}', 1)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown


def test_markets_are_base_quote_and_listed_from_market_all() -> None:
    adapter = UpbitAdapter()
    assert adapter.market("KRW-BTC") == "BTC-KRW"
    assert adapter.listed("KRW-BTC") is None
    adapter.decode_rest("https://api.upbit.com/v1/market/all", '[{"market":"KRW-BTC"}]', 1)
    assert adapter.listed("KRW-BTC") is True and adapter.listed("KRW-XYZ") is False
