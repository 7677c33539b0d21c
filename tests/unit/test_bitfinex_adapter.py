"""Bitfinex v2 adapter on literal frames (shapes from BITFINEX.jsonl.gz and docs.bitfinex.com)."""

from __future__ import annotations

import json
import zlib

import pytest
from support import run_frames

import adapters
from adapters.bitfinex import wire as wire
from adapters.bitfinex.adapter import INSTRUMENT_URLS, MAX_CHANNELS_PER_CONNECTION, BitfinexAdapter
from collector.adapter import Subscription
from collector.book.book import OrderBook
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Control,
    DecodeFailed,
    Trade,
)

TS = 1_618_677_543_000_000_000
CONF = '{"event":"conf","status":"OK","flags":65536}'


def sub_ack(chan: int, channel: str, symbol: str, length: str = "100") -> str:
    extra = f',"prec":"P0","freq":"F0","len":"{length}"' if channel == "book" else ""
    return (
        f'{{"event":"subscribed","channel":"{channel}","chanId":{chan},'
        f'"symbol":"{symbol}"{extra},"pair":"{symbol[1:]}"}}'
    )


def session(*acks: str, conn: int = 1, conf: bool = True) -> BitfinexAdapter:
    a = BitfinexAdapter()
    a.connected(conn, "wss://api-pub.bitfinex.com/ws/2")
    for frame in ((CONF,) if conf else ()) + acks:
        (ack,) = a.decode(frame, TS, conn)
        assert isinstance(ack, Control) and ack.kind == "ack", ack
    return a


def one(a: BitfinexAdapter, frame: str, conn: int = 1):
    (msg,) = a.decode(frame, TS, conn)
    return msg


def test_registered() -> None:
    assert isinstance(adapters.create("bitfinex"), BitfinexAdapter)


# -- books -----------------------------------------------------------------------------


def test_book_snapshot_then_updates_keep_exact_text() -> None:
    a = session(sub_ack(17, "book", "tBFTUSD"))
    snap = one(a, "[17,[[0.068965,3,6098.17017201],[1e-7,1,5],[0.0774,2,-48578.5],[9,1,-2e-8]],1]")
    assert snap == BookSnapshot(
        "tBFTUSD",
        None,
        TS,
        0,
        [("0.068965", "6098.17017201"), ("0.0000001", "5")],
        [("0.0774", "48578.5"), ("9", "0.00000002")],
        in_band=True,
    )
    assert one(a, "[17,[0.069,1,-1.7023900800000002],2]") == BookDelta(
        "tBFTUSD", None, TS, 1, 1, None, [], [("0.069", "1.7023900800000002")]
    )
    # COUNT 0 deletes: AMOUNT 1 from the bids, -1 from the asks.
    assert one(a, "[17,[0.068965,0,1],3]").bids == [("0.068965", "0")]
    removed = one(a, "[17,[0.0774,0,-1],4]")
    assert (removed.bids, removed.asks, removed.last_id) == ([], [("0.0774", "0")], 3)


def test_checksum_message_is_an_empty_delta_carrying_it() -> None:
    a = session(sub_ack(17, "book", "tBTCUSD"))
    one(a, "[17,[[100,1,1]],1]")
    assert one(a, "[17,[101,1,-2],2]").last_id == 1
    assert one(a, '[17,"cs",-1234567,3]') == BookDelta(
        "tBTCUSD", None, TS, 2, 2, None, [], [], checksum=-1234567
    )
    # A new snapshot restarts the symbol's numbering.
    a.connected(2, "wss://api-pub.bitfinex.com/ws/2")
    for frame in (CONF, sub_ack(5, "book", "tBTCUSD")):
        a.decode(frame, TS, 2)
    assert one(a, "[5,[[100,1,1]],1]", conn=2).last_id == 0
    assert one(a, "[5,[100,2,2],2]", conn=2).last_id == 1


def test_bulk_updates_after_the_snapshot_are_one_delta() -> None:
    a = session(sub_ack(17, "book", "tBTCUSD"))
    one(a, "[17,[],1]")
    msg = one(a, "[17,[[100,1,1],[101,1,-1]],2]")
    assert isinstance(msg, BookDelta) and msg.bids == [("100", "1")] and msg.asks == [("101", "1")]


def test_without_seq_all_the_last_element_is_data() -> None:
    a = session(sub_ack(17, "book", "tBTCUSD"), conf=False)
    one(a, "[17,[[100,1,1]]]")
    assert one(a, "[17,[100,2,3]]").bids == [("100", "3")]
    assert one(a, '[17,"hb"]').kind == "heartbeat"
    assert one(a, '[17,"cs",42]').checksum == 42
    assert a.seq_checked == 0


# -- connection-wide sequence numbers -----------------------------------------------------


def test_sequence_gap_invalidates_every_book_of_that_connection_only() -> None:
    a = session(
        sub_ack(1, "book", "tBTCUSD"), sub_ack(2, "book", "tETHUSD"), sub_ack(3, "trades", "tXRP")
    )
    a.connected(2, "wss://api-pub.bitfinex.com/ws/2")
    for frame in (CONF, sub_ack(1, "book", "tLTCUSD")):
        a.decode(frame, TS, 2)
    assert one(a, "[1,[[100,1,1]],1]").symbol == "tBTCUSD"
    assert one(a, "[2,[[10,1,1]],2]").symbol == "tETHUSD"
    assert one(a, '[3,"hb",3]').kind == "heartbeat"  # heartbeats count
    assert one(a, "[1,[[50,1,1]],1]", conn=2).symbol == "tLTCUSD"  # own counter per conn
    assert one(a, "[1,[50,2,1],2]", conn=2).bids == [("50", "1")]
    out = a.decode("[1,[100,2,1],5]", TS, 1)
    reason = "connection sequence jumped from 3 to 5 (SEQ_ALL)"
    assert out[:2] == [BookInvalid("tBTCUSD", TS, reason), BookInvalid("tETHUSD", TS, reason)]
    assert isinstance(out[2], BookDelta) and len(out) == 3
    assert one(a, "[1,[100,3,1],6]").bids == [("100", "1")]  # continues from the new number
    assert (a.seq_checked, a.seq_gaps) == (7, 1)


def test_switch_over_follows_the_newest_snapshot_connection() -> None:
    """Make-before-break: both connections carry tBTCUSD under their own chanIds."""
    a = session(sub_ack(1, "book", "tBTCUSD"), sub_ack(2, "trades", "tBTCUSD"))
    one(a, "[1,[[100,1,1]],1]")
    a.connected(2, "wss://api-pub.bitfinex.com/ws/2")
    for frame in (CONF, sub_ack(7, "book", "tBTCUSD"), sub_ack(8, "trades", "tBTCUSD")):
        a.decode(frame, TS, 2)
    assert one(a, "[1,[101,1,-1],2]").asks == [("101", "1")]  # still the followed copy
    assert isinstance(one(a, "[7,[[100,1,1],[101,1,-1]],1]", conn=2), BookSnapshot)
    assert one(a, "[1,[102,1,-1],3]", conn=1).kind == "ignored"  # old copy from now on
    assert one(a, "[7,[102,1,-1],2]", conn=2).asks == [("102", "1")]
    assert one(a, "[1,[103,1,-1],9]", conn=1).kind == "ignored"  # a gap there: not our book
    te = "[670143480,1618677030000,0.5,0.00103]"
    assert isinstance(one(a, f'[8,"te",{te},3]', conn=2), Trade)
    assert one(a, f'[2,"te",{te},10]', conn=1).kind == "ignored"  # same trade id


def test_connected_forgets_channels_and_sequence() -> None:
    a = session(sub_ack(1, "book", "tBTCUSD"))
    one(a, "[1,[[100,1,1]],7]")
    a.connected(1, "wss://api-pub.bitfinex.com/ws/2")
    a.decode(CONF, TS, 1)
    msg = one(a, "[1,[[100,1,1]],1]")
    assert isinstance(msg, DecodeFailed) and not msg.unknown  # chanId 1 is not subscribed now


def test_heartbeat_before_its_subscription_ack() -> None:
    a = session()
    assert one(a, '[232954,"hb",139]') == Control("heartbeat", TS, "chanId=232954")


# -- trades -------------------------------------------------------------------------------


def test_trades_te_stored_tu_ignored_history_only_to_fill_a_reconnect() -> None:
    a = session(sub_ack(9, "trades", "tIOTETH"))
    history = "[[670143472,1618677027100,-11.24,0.0010245],[670143471,1618677027099,2,1]]"
    assert one(a, f"[9,{history},1]").kind == "ignored"  # history before we subscribed
    te = "[670143480,1618677030000,-2e-7,1e-7]"
    stored = Trade(
        "tIOTETH", 1618677030000 * 10**6, TS, "670143480", "sell", "0.0000001", "0.0000002"
    )
    assert one(a, f'[9,"te",{te},2]') == stored
    assert one(a, f'[9,"tu",{te},3]').kind == "ignored"
    assert one(a, f'[9,"te",{te},4]').kind == "ignored"  # the same trade id again
    a.connected(2, "wss://api-pub.bitfinex.com/ws/2")
    for frame in (CONF, sub_ack(3, "trades", "tIOTETH")):
        a.decode(frame, TS, 2)
    missed = "[670143499,1618677040001,0.5,0.00103],[670143490,1618677040000,-1,0.00102]"
    snapshot = f"[3,[{missed},{te},[670143470,1618677000000,1,1]],1]"
    assert a.decode(snapshot, TS, 2) == [  # oldest first; older history and repeats left out
        Trade("tIOTETH", 1618677040000 * 10**6, TS, "670143490", "sell", "0.00102", "1"),
        Trade("tIOTETH", 1618677040001 * 10**6, TS, "670143499", "buy", "0.00103", "0.5"),
    ]


# -- top of book (len 1 books) and ignored channels ----------------------------------------------


def test_len_1_book_is_best_bid_ask() -> None:
    a = session(sub_ack(4, "book", "tBTCUSD", length="1"))
    assert one(a, "[4,[[60400,1,0.68],[60406,2,-1.5]],1]") == BestBidAsk(
        "tBTCUSD", None, TS, None, "60400", "0.68", "60406", "1.5"
    )
    assert one(a, "[4,[60400,0,1],2]").kind == "ignored"  # bid side empty for a moment
    assert one(a, "[4,[60401,1,2],3]") == BestBidAsk(
        "tBTCUSD", None, TS, None, "60401", "2", "60406", "1.5"
    )


def test_ticker_and_funding_channels_are_ignored() -> None:
    a = session(sub_ack(3, "ticker", "tBFTUSD"), sub_ack(8, "book", "fUSD"))
    ticker = "[3,[0.068965,60157.36709703,0.0774,48578.5,0.001969,0.0262,0.07,1.0,0.08,0.06],1]"
    assert one(a, ticker).kind == "ignored"
    assert one(a, "[8,[[0.0002,30,1,-100]],2]").kind == "ignored"


# -- events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame,kind",
    [
        ('{"event":"info","version":2,"serverId":"x","platform":{"status":1}}', "ignored"),
        ('{"event":"info","version":2,"platform":{"status":0}}', "error"),
        ('{"event":"info","version":3,"platform":{"status":1}}', "error"),
        ('{"event":"info","code":20051,"msg":"Stop/Restart Websocket Server"}', "shutdown"),
        ('{"event":"info","code":20060,"msg":"Entering in Maintenance mode"}', "shutdown"),
        ('{"event":"info","code":20061,"msg":"Maintenance ended"}', "shutdown"),
        ('{"event":"conf","status":"FAILED","flags":65536}', "error"),
        ('{"event":"pong","ts":1511545528111,"cid":1234}', "heartbeat"),
    ],
)
def test_events(frame: str, kind: str) -> None:
    msg = one(BitfinexAdapter(), frame)
    assert isinstance(msg, Control) and msg.kind == kind


def test_error_names_the_symbol_and_unsubscribe_forgets_the_channel() -> None:
    a = session(sub_ack(3, "trades", "tBTCUSD"))
    err = '{"event":"error","msg":"symbol: invalid","code":10300,"symbol":"tNOPE"}'
    assert one(a, err) == Control("error", TS, "10300: symbol: invalid", "tNOPE")
    assert one(a, '{"event":"unsubscribed","status":"OK","chanId":3}').symbol == "tBTCUSD"
    assert isinstance(one(a, '[3,"te",[1,2,3,4],1]'), DecodeFailed)


@pytest.mark.parametrize(
    "frame,unknown",
    [
        ("not json", False),
        ('[17,[["x",1,2]],1]', False),  # a price that is not a number
        ("[17,[[1,1]],1]", False),  # entry too short
        ('[17,[[1,1,1]],"x"]', False),  # sequence number not an integer
        ('{"event":"mystery"}', True),
        ('{"event":"subscribed","channel":"book"}', False),
        ('"hello"', True),
        ('[17,"zz",1,1]', True),  # unknown tag on a book channel
        ('[17,"tu",[1,2,3,4],1]', True),  # a trades tag on a book channel
    ],
)
def test_bad_frames(frame: str, unknown: bool) -> None:
    a = session(sub_ack(17, "book", "tBTCUSD"))
    out = a.decode(frame, TS, 1)
    assert isinstance(out[-1], DecodeFailed) and out[-1].unknown is unknown, out


# -- symbols --------------------------------------------------------------------------------


def test_markets_without_and_with_instrument_lists() -> None:
    a = BitfinexAdapter()
    assert a.market("tBTCUSD") == "BTC-USD"
    assert a.market("tBTCUST") == "BTC-USDT"
    assert a.market("tTESTBTC:TESTUSD") == "TESTBTC-TESTUSD"
    assert a.market("tBTCF0:USTF0") == "BTC-USDT-PERP"
    assert a.market("tIOTETH") == "IOTA-ETH"
    assert a.market("fUSD") == "fUSD"
    assert a.market("tABCDE") == "tABCDE"  # unsplittable: native name kept
    base = "https://api-pub.bitfinex.com/v2/conf/"
    a.decode_rest(base + "pub:list:currency", '[["ABCD","E","BTC","USD"]]', TS)
    a.decode_rest(base + "pub:list:pair:future", '[["BTCDOMF0:USTF0"]]', TS)
    a.decode_rest(base + "pub:map:currency:sym", '[[["ABCD","AbCdX"],["E","LEO-EOS"]]]', TS)
    assert a.market("tABCDE") == "ABCDX-E"
    assert a.market("tBTCDOMF0:USTF0") == "BTCDOM-USDT-PERP"
    for url in INSTRUMENT_URLS[:3]:
        (loaded,) = a.decode_rest(url, '[["BTCF0:USTF0","BTC"]]', TS)
        assert loaded.kind == "ignored", loaded
    (bad,) = a.decode_rest(INSTRUMENT_URLS[2], '{"error":"ERR_RATE_LIMIT"}', TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown
    (failed,) = a.decode_rest("https://api-pub.bitfinex.com/v2/book/tBTCUSD/P0", "[]", TS)
    assert isinstance(failed, DecodeFailed) and failed.unknown


# -- plan -----------------------------------------------------------------------------------


def test_plan_frames_limits_and_grouping() -> None:
    subs = [Subscription(f"tS{i:02d}USD", ch) for i in range(13) for ch in ("book", "trades")]
    subs += [Subscription("tS00USD", "bbo"), Subscription("tONLYBBO", "bbo")]
    subs += [Subscription("fUSD", "book")]
    plans = BitfinexAdapter(book_len=100).plan(subs)
    assert len(plans) == 2
    first = [json.loads(f) for f in plans[0].subscribe]
    assert first[0] == {"event": "conf", "flags": 65536 + 131072}
    assert first[1] == {
        "event": "subscribe",
        "channel": "book",
        "symbol": "tS00USD",
        "prec": "P0",
        "freq": "F0",
        "len": "100",
    }
    assert first[2] == {"event": "subscribe", "channel": "trades", "symbol": "tS00USD"}
    frames = [json.loads(f) for p in plans for f in p.subscribe[1:]]
    assert all(len(p.subscribe) - 1 <= MAX_CHANNELS_PER_CONNECTION for p in plans)
    # 26 + the len-1 book of tONLYBBO; tS00USD's bbo rides its full book.
    assert len(frames) == 27 and [len(p.subscribe) - 1 for p in plans] == [24, 3]
    assert {"len": "1", "symbol": "tONLYBBO"}.items() <= frames[-1].items()
    for p in plans:  # a symbol's channels never span connections
        assert {s.symbol for s in p.subscriptions}.isdisjoint(
            {s.symbol for q in plans if q is not p for s in q.subscriptions}
        )
    assert all(not s.symbol.startswith("f") for p in plans for s in p.subscriptions)
    assert json.loads(plans[0].app_ping) == {"event": "ping", "cid": 1}
    assert plans[0].app_ping_interval_s and plans[0].url == "wss://api-pub.bitfinex.com/ws/2"
    assert BitfinexAdapter().snapshot_request("tBTCUSD") is None
    with pytest.raises(ValueError):
        BitfinexAdapter(book_len=30)


# -- checksum -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,js",
    [
        ("60400", "60400"),
        ("1.7023900800000002", "1.7023900800000002"),
        ("0.0000001", "1e-7"),
        ("0.00000012", "1.2e-7"),
        ("0.000001", "0.000001"),
        ("1e-7", "1e-7"),
        ("1.50", "1.5"),
        ("-0.00000002", "-2e-8"),
        ("1000000000000000000000", "1e+21"),
        ("100000000000000000000", "100000000000000000000"),
        ("0", "0"),
    ],
)
def test_js_number(text: str, js: str) -> None:
    assert wire.js_number(text) == js


def test_checksum_against_a_hand_spelled_string() -> None:
    """No Bitfinex checksum exists in the corpus and the docs give no worked value: the
    expected value is the signed CRC32 of the string the docs' JS would build, by hand."""
    a = session(sub_ack(17, "book", "tBTCUSD"))
    snap = one(
        a, "[17,[[7254.7,3,3.3],[7254.5,1,1e-7],[7254.8,1,-1.2e-7],[7255,2,-0.5],[7256,1,-4]],1]"
    )
    book = OrderBook()
    book.bids.apply(snap.bids)
    book.asks.apply(snap.asks)
    spelled = "7254.7:3.3:7254.8:-1.2e-7:7254.5:1e-7:7255:-0.5:7256:-4"
    unsigned = zlib.crc32(spelled.encode())
    expected = unsigned - 2**32 if unsigned >= 2**31 else unsigned
    assert a.book_checksum("tBTCUSD", book) == expected
    # Only the first 25 levels of a side count.
    book.bids.apply([(f"{7000 - i}", "1") for i in range(30)])
    deep = OrderBook()
    deep.bids.apply(book.bids.top_levels(25))
    deep.asks.apply(book.asks.top_levels(25))
    assert a.book_checksum("tBTCUSD", book) == a.book_checksum("tBTCUSD", deep)


def test_engine_verifies_cs_messages() -> None:
    frames = [CONF, sub_ack(17, "book", "tBTCUSD"), "[17,[[100,1,2],[101,1,-1e-7]],1]"]
    good = zlib.crc32(b"100:2:101:-1e-7")
    good = good - 2**32 if good >= 2**31 else good
    frames += [f'[17,"cs",{good},2]', "[17,[100,0,1],3]", f'[17,"cs",{good},4]']
    pipeline = run_frames(BitfinexAdapter(), frames, ts=TS, url="wss://api-pub.bitfinex.com/ws/2")
    stats = pipeline.engine.symbols["tBTCUSD"].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (1, 1)
