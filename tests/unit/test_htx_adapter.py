"""HTX adapter on the documentation's examples (what only the docs show: MBP, ``req``).

Sources, each named again where it is used:

* MBP announcement (HTX's own): https://www.htx.com/support/900000047626 ("Sample A -
  refresh message upon req": seqNum 100020142010, bids from 618.37 x 71.594; the
  incremental push of https://huobiapi.github.io/docs/spot/v1/en/#market-by-price-incremental-update
  with seqNum 100020146795 / prevSeqNum 100020146794, quoted in the same announcement
  series). Sample A is cut to its first five levels per side here.
* Heartbeat: https://huobiapi.github.io/docs/spot/v1/en/#heartbeat-and-connection
  (``{"ping": 1492420473027}`` answered ``{"pong": 1492420473027}``).
* Subscription answer: https://www.huobi.com/support/en-us/detail/900000455606/
  (``{"id": "id1", "status": "ok", "subbed": ..., "ts": 1489474081631}``).

Frames marked *derived* are not verbatim: they continue a doc example's ids so the
engine's bridging can be shown (the docs give no chained pair).
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

from support import run_frames, table_rows

from adapters.htx import HtxAdapter
from collector.adapter import Subscription
from collector.model import BestBidAsk, BookDelta, BookSnapshot, Control, DecodeFailed

SAMPLE_A = (
    "{'id': 'id21', 'rep': 'market.btcusdt.mbp.150', 'status': 'ok', 'data': {'seqNum': "
    "100020142010, 'bids': [[618.37, 71.594], [423.33, 77.726], [223.18, 47.997], "
    "[219.34, 24.82], [210.34, 94.463]], 'asks': [[650.59, 14.909733438479636], "
    "[650.63, 97.996], [650.77, 97.465], [651.23, 83.973], [651.42, 34.465]]}}"
).replace("'", '"')
PUSH = (
    '{"ch": "market.btcusdt.mbp.150", "ts": 1573199608679, "tick": {"seqNum": 100020146795, '
    '"prevSeqNum": 100020146794, "bids": [[618.37, 0]], "asks": [[650.59, 12.5]]}}'
)


def _push(prev: int, seq: int, bids: str = "[]", asks: str = "[]") -> str:
    """A *derived* MBP push in the documented shape, chained by ``prevSeqNum``."""
    return (
        f'{{"ch": "market.btcusdt.mbp.150", "ts": 1573199608679, "tick": {{"seqNum": {seq}, '
        f'"prevSeqNum": {prev}, "bids": {bids}, "asks": {asks}}}}}'
    )


def test_a_server_ping_is_answered_with_its_number() -> None:
    """https://huobiapi.github.io/docs/spot/v1/en/#heartbeat-and-connection"""
    (reply,) = HtxAdapter().decode(b'{"ping": 1492420473027}', 1)
    assert reply == Control("reply", 1, '{"pong":1492420473027}')
    assert json.loads(reply.detail) == {"pong": 1492420473027}


def test_a_subscription_answer_is_an_ack() -> None:
    """https://www.huobi.com/support/en-us/detail/900000455606/"""
    frame = (
        '{"id": "id1", "status": "ok", "subbed": "market.btcusdt.mbp.refresh.20", '
        '"ts": 1489474081631}'
    )
    assert HtxAdapter().decode(frame, 1) == [Control("ack", 1, "market.btcusdt.mbp.refresh.20")]


def test_the_req_answer_is_a_snapshot_at_its_seqnum_with_exact_text() -> None:
    """https://www.htx.com/support/900000047626 (Sample A)"""
    (snap,) = HtxAdapter("htx", book_channel="mbp").decode(SAMPLE_A, 5)
    assert isinstance(snap, BookSnapshot) and not snap.in_band
    assert (snap.symbol, snap.last_id, snap.ts_exchange) == ("btcusdt", 100020142010, None)
    assert snap.bids[0] == ("618.37", "71.594")
    assert snap.asks[0] == ("650.59", "14.909733438479636")  # every digit, no float


def test_an_mbp_push_is_a_delta_naming_its_predecessor() -> None:
    """https://huobiapi.github.io/docs/spot/v1/en/#market-by-price-incremental-update"""
    (delta,) = HtxAdapter("htx", book_channel="mbp").decode(PUSH, 5)
    assert delta == BookDelta(
        "btcusdt",
        1573199608679 * 10**6,
        5,
        100020146795,
        100020146795,
        100020146794,
        [("618.37", "0")],
        [("650.59", "12.5")],
    )


def test_mbp_is_planned_on_feed_with_sub_then_req_and_trades_on_ws() -> None:
    """The docs serve MBP incremental on /feed only; the full book is a ``req`` on the
    same connection as the ``sub`` (https://www.huobi.com/support/en-us/detail/900001078223/)."""
    subs = [Subscription("btcusdt", "book"), Subscription("btcusdt", "trades")]
    feed, ws = HtxAdapter("htx", book_channel="mbp").plan(subs)
    assert feed.url == "wss://api.huobi.pro/feed"
    assert [json.loads(f) for f in feed.subscribe] == [
        {"sub": "market.btcusdt.mbp.150", "id": "1"},
        {"req": "market.btcusdt.mbp.150", "id": "2"},
    ]
    assert ws.url == "wss://api.huobi.pro/ws"
    assert [json.loads(f) for f in ws.subscribe] == [
        {"sub": "market.btcusdt.trade.detail", "id": "1"}
    ]


def test_the_default_plan_is_full_books_and_swaps_go_by_margin() -> None:
    (spot,) = HtxAdapter().plan([Subscription("btcusdt", "book")])
    assert json.loads(spot.subscribe[0])["sub"] == "market.btcusdt.depth.step0"
    subs = [Subscription("BTC-USDT", "book"), Subscription("BTC-USD", "trades")]
    linear, inverse = HtxAdapter("htx-swap").plan(subs)
    assert linear.url == "wss://api.hbdm.com/linear-swap-ws"
    assert inverse.url == "wss://api.hbdm.com/swap-ws"
    assert json.loads(inverse.subscribe[0])["sub"] == "market.BTC-USD.trade.detail"


def test_gzip_frames_bridge_the_req_answer_and_then_chain() -> None:
    """The docs' recipe through the whole pipeline, gzip as on the wire: pushes buffered,
    the ``req`` answer (Sample A), the push whose ``prevSeqNum`` is its ``seqNum`` bridges,
    the next continues, and one naming a push never received is a gap. Pushes *derived*."""
    older = _push(100020142000, 100020142005, asks="[[650.59, 1]]")  # before the snapshot
    bridge = _push(100020142010, 100020142019, bids="[[618.37, 0]]")
    then = _push(100020142019, 100020142030, asks="[[650.60, 3.5]]")
    lost = _push(100020142044, 100020142050)
    frames = [gzip.compress(f.encode()) for f in (older, bridge, SAMPLE_A, then, lost)]
    adapter = HtxAdapter("htx", book_channel="mbp")
    pipeline = run_frames(adapter, frames, ts=1573199608700 * 10**6)  # type: ignore[arg-type]
    stats = pipeline.engine.symbols["btcusdt"].stats
    assert (stats.snapshots_applied, stats.gaps) == (1, 1)
    assert not pipeline.problems
    rows = table_rows(pipeline, "book", "seq", "is_snapshot", "side", "price", "size")
    assert {r[0] for r in rows} == {100020142010, 100020142019, 100020142030}
    assert (100020142019, False, "bid", Decimal("618.37"), Decimal(0)) in rows
    assert (100020142030, False, "ask", Decimal("650.60"), Decimal("3.5")) in rows


def test_bbo_in_the_spot_and_the_swap_shapes() -> None:
    """*Derived* frames in the shapes of https://huobiapi.github.io/docs/spot/v1/en/#best-bid-offer
    (numbers and sizes) and https://huobiapi.github.io/docs/usdt_swap/v1/en/#subscribe-market-bbo-data-push
    (``[price, size]`` pairs); a side with no quote gives no row."""
    spot = (
        '{"ch":"market.btcusdt.bbo","ts":1630983549503,"tick":{"seqId":136998124621,'
        '"ask":52690.7,"askSize":0.372591,"bid":52690.69,"bidSize":0.36281,'
        '"quoteTime":1630983549501,"symbol":"btcusdt"}}'
    )
    (quote,) = HtxAdapter().decode(spot, 9)
    assert quote == BestBidAsk(
        "btcusdt", 1630983549501 * 10**6, 9, None, "52690.69", "0.36281", "52690.7", "0.372591"
    )
    swap = (
        '{"ch":"market.BTC-USDT.bbo","ts":1603707934529,"tick":{"mrid":131471,'
        '"id":1603707934,"bid":[13140,36],"ask":[13141,20],"ts":1603707934525,'
        '"version":131471,"ch":"market.BTC-USDT.bbo"}}'
    )
    (quote,) = HtxAdapter("htx-swap").decode(swap, 9)
    assert (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size) == (
        "13140",
        "36",
        "13141",
        "20",
    )
    empty = swap.replace('"bid":[13140,36]', '"bid":null')
    assert HtxAdapter("htx-swap").decode(empty, 9)[0].kind == "ignored"  # type: ignore[union-attr]
    (plan,) = HtxAdapter().plan([Subscription("btcusdt", "bbo")])
    assert json.loads(plan.subscribe[0])["sub"] == "market.btcusdt.bbo"


def test_errors_bad_frames_and_unknown_topics_are_told_apart() -> None:
    adapter = HtxAdapter()
    error = '{"status":"error","ts":1,"id":"3","err-code":"bad-request","err-msg":"invalid topic"}'
    assert adapter.decode(error, 1) == [Control("error", 1, "bad-request: invalid topic")]
    (bad,) = adapter.decode(b'{"ch":"market.btcusdt.depth.step0","tick":{"bids":"x"}}', 1)
    assert isinstance(bad, DecodeFailed) and not bad.unknown
    (unknown,) = adapter.decode('{"ch":"market.btcusdt.kline.1min","tick":{}}', 1)
    assert isinstance(unknown, DecodeFailed) and unknown.unknown


def test_the_first_trade_push_on_a_connection_repeats_history_and_is_skipped() -> None:
    """tardis-node's HTX mapper drops it; the swap recording shows one 39 minutes old."""
    frame = (
        '{"ch":"market.btcusdt.trade.detail","ts":2,"tick":{"id":1,"ts":2,"data":[{"id":'
        '1.3700544510935929e+26,"ts":2,"tradeId":102523573486,"amount":0.006754,'
        '"price":52648.62,"direction":"buy"}]}}'
    )
    adapter = HtxAdapter()
    assert isinstance(adapter.decode(frame, 5, conn=1)[0], Control)
    (trade,) = adapter.decode(frame, 6, conn=1)
    assert (trade.trade_id, trade.side, trade.price, trade.size) == (
        "102523573486",
        "buy",
        "52648.62",
        "0.006754",
    )
    assert isinstance(adapter.decode(frame, 7, conn=2)[0], Control)  # a new connection


def test_market_names_come_from_the_symbol_list_and_else_from_the_quote() -> None:
    adapter = HtxAdapter()
    assert adapter.market("btcusdt") == "BTC-USDT"
    body = (
        '{"status":"ok","data":[{"symbol":"fil3susdt","base-currency":"fil3s",'
        '"quote-currency":"usdt"}]}'
    )
    adapter.decode_rest("https://api.huobi.pro/v1/common/symbols", body, 1)
    assert adapter.market("fil3susdt") == "FIL3S-USDT"
    assert adapter.listed("fil3susdt") is True and adapter.listed("nosuchusdt") is False
    assert HtxAdapter("htx-swap").market("BTC-USD") == "BTC-USD-PERP"
    assert HtxAdapter("htx-swap").listed("BTC-USD") is None  # its list never loaded
