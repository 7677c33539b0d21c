"""OKCoin: the OKX adapter on OKCoin's hosts (docs: https://www.okcoin.com/docs-v5/en/).

What is OKCoin's own is tested here: its endpoints, spot-only markets, the resync by
reconnecting, and the trades push on subscribe. The protocol itself (books, checksum,
events) is OKX's, tested in ``test_okx_adapter.py``; one checksum vector below proves
the variant computes it through the same code, on the docs' own example.
"""

from __future__ import annotations

import json

import pytest
from support import run_frames

import adapters
import adapters.okcoin.adapter as okcoin_module
from adapters.okcoin.adapter import BOOKS_URL, INSTRUMENTS_URL, PUBLIC_URL, OkcoinAdapter
from adapters.okx import wire as okx_wire
from adapters.okx.adapter import OkxAdapter
from collector.adapter import Subscription
from collector.book.book import OrderBook
from collector.model import BookSnapshot, Control, Trade

TS = 1_685_221_666_000_000_000


def trades_frame(trade_id: str, ts: str, inst: str = "BTC-USD") -> str:
    """A ``trades`` push as the docs show it (``#websocket-api-public-channel-trades-channel``)."""
    row = {"instId": inst, "tradeId": trade_id, "px": "26800", "sz": "0.0092", "side": "sell"}
    return json.dumps({"arg": {"channel": "trades", "instId": inst}, "data": [{**row, "ts": ts}]})


def test_a_variant_of_the_okx_adapter_not_a_copy() -> None:
    a = adapters.create("okcoin")
    assert isinstance(a, OkcoinAdapter) and isinstance(a, OkxAdapter)
    assert a.slug == "okcoin" and a.derivative_channels == ()
    assert okcoin_module.wire is okx_wire  # OKX's wire structs, not a second set


def test_plan_subscribes_on_okcoins_public_endpoint_with_the_text_ping() -> None:
    """https://www.okcoin.com/docs-v5/en/#websocket-api-connect: the public URL, ``ping``."""
    subs = [Subscription("BTC-USD", c) for c in ("book", "trades", "bbo")]
    (plan,) = OkcoinAdapter().plan(subs)
    assert plan.url == PUBLIC_URL == "wss://real.okcoin.com:8443/ws/v5/public"
    assert json.loads(plan.subscribe[0]) == {
        "op": "subscribe",
        "args": [
            {"channel": "books", "instId": "BTC-USD"},
            {"channel": "trades", "instId": "BTC-USD"},
            {"channel": "bbo-tbt", "instId": "BTC-USD"},
        ],
    }
    assert plan.app_ping == "ping"


def test_spot_list_only_and_no_rest_resync() -> None:
    a = OkcoinAdapter()
    assert [r.url for r in a.instrument_requests()] == [f"{INSTRUMENTS_URL}?instType=SPOT"]
    assert INSTRUMENTS_URL.startswith("https://www.okcoin.com/") and "okcoin" in BOOKS_URL
    assert a.snapshot_request("BTC-USD") is None  # a broken book resyncs by reconnecting
    with pytest.raises(ValueError, match="okcoin has no channel"):
        a.plan([Subscription("BTC-USD", "derivative_ticker")])


def test_the_docs_checksum_example_through_the_variant() -> None:
    """OKX/OKCoin v5 checksum section (even example): bids 3366.1:7, 3366:6 and asks
    3366.8:9, 3368:8 hash to -1881014294 (https://www.okcoin.com/docs-v5/en/#websocket-api-checksum)."""
    a = OkcoinAdapter()
    (snap,) = a.decode(
        json.dumps(
            {
                "arg": {"channel": "books", "instId": "BTC-USD"},
                "action": "snapshot",
                "data": [
                    {
                        "asks": [["3366.8", "9", "0", "1"], ["3368", "8", "0", "1"]],
                        "bids": [["3366.1", "7", "0", "1"], ["3366", "6", "0", "1"]],
                        "ts": "1685221666576",
                        "checksum": -1881014294,
                    }
                ],
            }
        ),
        TS,
    )
    assert isinstance(snap, BookSnapshot) and snap.checksum == -1881014294
    book = OrderBook()
    book.bids.apply(snap.bids)
    book.asks.apply(snap.asks)
    assert a.book_checksum("BTC-USD", book) == -1881014294


def test_the_trades_push_on_subscribe_is_ignored_then_trades_are_stored() -> None:
    """The first push per connection and instrument repeats the last trade from before
    subscribing (hours old in the recording); later pushes are the session's trades."""
    a = OkcoinAdapter()
    (first,) = a.decode(trades_frame("14552067", "1685220774696"), TS, conn=1)
    assert isinstance(first, Control) and first.kind == "ignored" and first.symbol == "BTC-USD"
    (trade,) = a.decode(trades_frame("14552068", "1685221670000"), TS, conn=1)
    assert trade == Trade(
        "BTC-USD", 1685221670000 * 10**6, TS, "14552068", "sell", "26800", "0.0092"
    )
    # A new connection subscribes afresh: its first push is history again.
    (again,) = a.decode(trades_frame("14552068", "1685221670000"), TS, conn=2)
    assert isinstance(again, Control)
    pipeline = run_frames(OkcoinAdapter(), [trades_frame("1", "1685220774696")], ts=TS)
    assert pipeline.sink.table("trades") is None
