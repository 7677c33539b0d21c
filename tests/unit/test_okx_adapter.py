"""OKX v5 adapter on literal frames (shapes from the v5 docs and the 2022-05 capture)."""

from __future__ import annotations

import json

import pytest
from support import MemorySink, run_frames

import adapters
from adapters.okx.adapter import (
    APP_PING_INTERVAL_S,
    ARGS_PER_FRAME,
    PUBLIC_URL,
    SUBSCRIPTIONS_PER_CONNECTION,
    OkxAdapter,
)
from adapters.okx.wire import market_from_inst_id
from collector.adapter import Subscription
from collector.book.book import OrderBook
from collector.book.sequence import SeqIdRule
from collector.book.state import SyncState
from collector.capture.records import Record
from collector.model import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Control,
    DecodeFailed,
    QualityKind,
    Trade,
)
from collector.pipeline import Pipeline

TS = 1_700_000_000_000_000_000
INST = "BTC-USDT"


def book_frame(
    action: str | None,
    bids=(),
    asks=(),
    *,
    channel: str = "books",
    seq: int | None = None,
    prev: int | None = None,
    checksum: int | None = None,
    inst: str = INST,
    ts: str = "1652459225464",
) -> str:
    data: dict = {
        "asks": [[p, s, "0", "1"] for p, s in asks],
        "bids": [[p, s, "0", "1"] for p, s in bids],
        "ts": ts,
    }
    if checksum is not None:
        data["checksum"] = checksum
    if seq is not None:
        data["seqId"] = seq
    if prev is not None:
        data["prevSeqId"] = prev
    frame: dict = {"arg": {"channel": channel, "instId": inst}}
    if action is not None:
        frame["action"] = action
    frame["data"] = [data]
    return json.dumps(frame)


def one(adapter: OkxAdapter, frame: str | bytes):
    (msg,) = adapter.decode(frame, TS)
    return msg


# -- books ---------------------------------------------------------------------------


def test_snapshot_and_update_keep_text_ids_and_time() -> None:
    a = OkxAdapter()
    snap = one(
        a,
        book_frame(
            "snapshot", [("30000.1", "2")], [("30000.5", "0.010")], seq=10, prev=-1, checksum=-5
        ),
    )
    assert snap == BookSnapshot(
        INST,
        1652459225464 * 10**6,
        TS,
        10,
        [("30000.1", "2")],
        [("30000.5", "0.010")],
        in_band=True,
        checksum=-5,
        depth=400,
    )
    delta = one(a, book_frame("update", [("30000.1", "0")], [], seq=15, prev=10, checksum=7))
    assert delta == BookDelta(
        INST, 1652459225464 * 10**6, TS, 15, 15, 10, [("30000.1", "0")], [], 7, 400
    )


def test_checksum_zero_is_absent_and_prev_minus_one_resets() -> None:
    a = OkxAdapter()
    delta = one(a, book_frame("update", [("1", "1")], [], seq=5, prev=4, checksum=0))
    assert isinstance(delta, BookDelta) and delta.checksum is None
    reset = one(a, book_frame("update", [("1", "1")], [], seq=9, prev=-1, checksum=0))
    assert isinstance(reset, BookSnapshot) and reset.in_band and reset.last_id == 9


def test_pushes_without_seq_ids_are_numbered_per_symbol() -> None:
    """2022 recordings: snapshot 0, then 1, 2, ...; a new snapshot restarts the count."""
    a = OkxAdapter()
    msgs = [
        one(a, book_frame("snapshot", [("1", "1")], [("2", "1")])),
        one(a, book_frame("update", [("1", "2")], [])),
        one(a, book_frame("update", [], [("2", "3")])),
        one(a, book_frame("update", [], [], inst="ETH-USDT")),
        one(a, book_frame("snapshot", [("1", "1")], [("2", "1")])),
        one(a, book_frame("update", [("1", "2")], [])),
    ]
    assert [(type(m).__name__, m.last_id) for m in msgs] == [
        ("BookSnapshot", 0),
        ("BookDelta", 1),
        ("BookDelta", 2),
        ("BookDelta", 1),
        ("BookSnapshot", 0),
        ("BookDelta", 1),
    ]
    assert all(m.prev_id is None for m in msgs if isinstance(m, BookDelta))


def test_books5_every_push_is_a_snapshot() -> None:
    frame = (
        '{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["8446","95","0","3"]],'
        '"bids":[["8445","1","0","1"]],"instId":"BTC-USDT","ts":"1597026383085","seqId":123}]}'
    )
    msg = one(OkxAdapter(), frame)
    assert msg == BookSnapshot(
        "BTC-USDT", 1597026383085 * 10**6, TS, 123, [("8445", "1")], [("8446", "95")], True, None, 5
    )


def test_l2_tbt_books_are_decoded_at_their_depth() -> None:
    msg = one(OkxAdapter(), book_frame("update", [("1", "1")], [], channel="books50-l2-tbt"))
    assert isinstance(msg, BookDelta) and msg.depth == 50


# -- bbo, trades --------------------------------------------------------------------


def test_bbo_tbt_is_a_quote_at_the_book_sequence_id() -> None:
    frame = (
        '{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["8476.98","415",'
        '"0","13"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085","seqId":77}]}'
    )
    assert one(OkxAdapter(), frame) == BestBidAsk(
        "BTC-USDT", 1597026383085 * 10**6, TS, 77, "8476.97", "256", "8476.98", "415"
    )
    assert one(OkxAdapter(bbo_seq=False), frame).seq is None
    one_sided = one(OkxAdapter(), book_frame(None, [("1", "1")], [], channel="bbo-tbt"))
    assert one_sided == Control("ignored", TS, "one-sided bbo-tbt", INST)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_trades_keep_the_taker_side_and_every_trade_of_a_push(side: str) -> None:
    frame = (
        '{"arg":{"channel":"trades","instId":"BTC-USD-220527"},"data":['
        f'{{"instId":"BTC-USD-220527","tradeId":"7850","px":"30217.7","sz":"2","side":"{side}",'
        '"ts":"1652459234339"},{"instId":"BTC-USD-220527","tradeId":"7851","px":"30217.9",'
        f'"sz":"0.5","side":"{side}","ts":"1652459234340","count":"3","seqId":9}}]}}'
    )
    msgs = OkxAdapter().decode(frame, TS)
    assert msgs == [
        Trade("BTC-USD-220527", 1652459234339 * 10**6, TS, "7850", side, "30217.7", "2"),
        Trade("BTC-USD-220527", 1652459234340 * 10**6, TS, "7851", side, "30217.9", "0.5"),
    ]


# -- control frames and failures ------------------------------------------------------


@pytest.mark.parametrize(
    "frame,kind",
    [
        ("pong", "heartbeat"),
        (b"pong", "heartbeat"),
        ('{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a"}', "ack"),
        ('{"event":"unsubscribe","arg":{"channel":"trades","instId":"BTC-USDT"}}', "ack"),
        ('{"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}', "error"),
        (
            '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a '
            'service upgrade. Please reconnect.","connId":"a4d3ae55"}',
            "shutdown",
        ),
        (
            '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"1","ts":"1"}]}',
            "ignored",
        ),
        ('{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1","2"]]}', "ignored"),
    ],
)
def test_control_frames(frame: str | bytes, kind: str) -> None:
    msg = one(OkxAdapter(), frame)
    assert isinstance(msg, Control) and msg.kind == kind


def test_error_and_ack_details_name_the_code_and_channel() -> None:
    a = OkxAdapter()
    ack = one(a, '{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}')
    assert ack == Control("ack", TS, "subscribe books BTC-USDT", "BTC-USDT")
    err = one(a, '{"event":"error","code":"60018","msg":"Wrong URL or channel"}')
    assert err == Control("error", TS, "60018: Wrong URL or channel")


@pytest.mark.parametrize(
    "frame,unknown",
    [
        ('{"arg":{"channel":"books","instId":"X"},"action":"update","data":[{"asks":', False),
        (
            '{"arg":{"channel":"books","instId":"X"},"action":"update","data":[{"asks":[],'
            '"bids":[["1"]],"ts":"1"}]}',
            False,
        ),  # level without size
        (book_frame("update", [("1", "1")], [], ts="16524592254.64"), False),
        (book_frame("partial", [("1", "1")], []), False),  # unknown action of a known channel
        (book_frame("update", [("1", "1")], [], inst=""), False),
        (
            '{"arg":{"channel":"trades","instId":"X"},"data":[{"instId":"X","tradeId":"1",'
            '"px":"1","sz":"1","side":"taker","ts":"1"}]}',
            False,
        ),
        ('{"arg":{"channel":"books","instId":"X"},"action":"update","data":[{"bids":[]}]}', False),
        ("not json", False),
        ('{"arg":{"channel":"new-channel","instId":"X"},"data":[{}]}', True),
        ('{"event":"surprise"}', True),
        ('{"hello":1}', True),
    ],
)
def test_bad_frames_become_values(frame: str, unknown: bool) -> None:
    msg = one(OkxAdapter(), frame)
    assert isinstance(msg, DecodeFailed) and msg.unknown is unknown and msg.sample


# -- checksum -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bids,asks,expected",
    [
        # The two examples of the OKX checksum documentation.
        ([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")], -1881014294),
        ([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")], 831078360),
    ],
)
def test_book_checksum_matches_the_documented_vectors(bids, asks, expected) -> None:
    book = OrderBook()
    book.bids.apply(bids)
    book.asks.apply(asks)
    assert OkxAdapter().book_checksum(INST, book) == expected


def test_book_checksum_covers_only_the_best_25_levels() -> None:
    book = OrderBook()
    book.bids.apply([(str(100 - i), "1") for i in range(30)])
    book.asks.apply([(str(200 + i), "1") for i in range(30)])
    a = OkxAdapter()
    before = a.book_checksum(INST, book)
    book.bids.apply([("60", "5")])  # 41st bid: outside the checksum
    assert a.book_checksum(INST, book) == before
    book.bids.apply([("76", "5")])  # 25th bid: inside
    assert a.book_checksum(INST, book) != before


# -- sequence chain through the real pipeline ----------------------------------------------


def run(frames: list[str]) -> Pipeline:
    return run_frames(adapters.create("okx"), frames, ts=TS)


def quality_kinds(pipeline: Pipeline) -> list[str]:
    table = pipeline.sink.table("quality")
    return [] if table is None else table.column("kind").to_pylist()


B, A = [("100", "1")], [("101", "1")]


def test_seq_chain_heartbeat_and_documented_reset_continue_the_book() -> None:
    p = run(
        [
            book_frame("snapshot", B, A, seq=10, prev=-1),
            book_frame("update", [("99", "2")], [], seq=15, prev=10),
            book_frame("update", [], [], seq=15, prev=15),  # no change: seqId == prevSeqId
            book_frame("update", [], [("102", "3")], seq=3, prev=15),  # sequence restart
            book_frame("update", [("99", "0")], [], seq=5, prev=3),
        ]
    )
    sync = p.engine.symbols[INST]
    assert sync.state is SyncState.SYNCED
    assert (sync.stats.deltas_applied, sync.stats.gaps, sync.stats.duplicates) == (4, 0, 0)
    assert sync.last_id == 5
    assert sync.book.as_dict()["bids"] == {100: 1}
    assert QualityKind.GAP not in quality_kinds(p)


def test_seq_gap_requests_a_resync_and_a_snapshot_resets() -> None:
    p = Pipeline(adapters.create("okx"), MemorySink())
    frames = [
        book_frame("snapshot", B, A, seq=10, prev=-1),
        book_frame("update", [("99", "2")], [], seq=15, prev=10),
        book_frame("update", [("98", "2")], [], seq=30, prev=20),  # 15 -> 20 missing
        book_frame("update", [("97", "2")], [], seq=35, prev=30),  # buffered, not written
    ]
    for i, frame in enumerate(frames):
        p.on_record(Record("recv", TS + i, 1, frame))
    sync = p.engine.symbols[INST]
    assert sync.state is not SyncState.SYNCED
    assert (sync.stats.gaps, sync.stats.resyncs) == (1, 1)
    assert p.engine.snapshot_requests() == [INST]  # the daemon fetches the REST book...
    assert p.adapter.snapshot_request(INST).url == (
        "https://www.okx.com/api/v5/market/books?instId=BTC-USDT&sz=400"
    )  # ...and an in-band snapshot that comes first resets the book, as it always did
    p.on_record(Record("recv", TS + 10, 1, book_frame("snapshot", B, A, seq=40, prev=-1)))
    p.on_record(
        Record("recv", TS + 11, 1, book_frame("update", [("96", "1")], [], seq=41, prev=40))
    )
    p.finish()
    assert sync.state is SyncState.SYNCED and sync.last_id == 41
    # The two updates buffered while out of sync are dropped: the new subscription resends.
    assert sync.stats.snapshots_applied == 2 and sync.stats.stale_dropped == 2
    book = p.sink.table("book")
    assert 30 not in book.column("seq").to_pylist() and 35 not in book.column("seq").to_pylist()
    kinds = quality_kinds(p)
    assert kinds.count(QualityKind.GAP) == 1 and kinds.count(QualityKind.SYNCED) == 2


def test_lagging_copy_of_an_applied_update_is_ignored_not_a_gap() -> None:
    """A switch-over's old connection may deliver pushes the new snapshot already covers."""
    p = run(
        [
            book_frame("snapshot", B, A, seq=50, prev=-1),
            book_frame("update", [("99", "2")], [], seq=45, prev=40),
            book_frame("update", [("99", "3")], [], seq=55, prev=50),
        ]
    )
    stats = p.engine.symbols[INST].stats
    assert (stats.duplicates, stats.gaps, stats.deltas_applied) == (1, 0, 1)


def test_checksum_mismatch_unsyncs_and_matching_ones_verify() -> None:
    a = OkxAdapter()
    book = OrderBook()
    book.bids.apply(B)
    book.asks.apply(A)
    good = a.book_checksum(INST, book)
    p = run(
        [
            book_frame("snapshot", B, A, seq=1, prev=-1, checksum=good),
            book_frame("update", [("99", "1")], [], seq=2, prev=1, checksum=good),  # stale value
        ]
    )
    stats = p.engine.symbols[INST].stats
    assert (stats.checksums_verified, stats.checksums_failed) == (1, 1)
    assert QualityKind.CHECKSUM_MISMATCH in quality_kinds(p)


def test_rule_answers_on_ids_alone() -> None:
    rule = SeqIdRule()

    def d(seq: int, prev: int | None) -> BookDelta:
        return BookDelta(INST, None, TS, seq, seq, prev, [], [])

    assert rule.continues(d(15, 10), 10) and not rule.continues(d(30, 20), 15)
    assert rule.continues(d(15, 15), 15) and rule.continues(d(3, 15), 15)
    assert rule.continues(d(7, None), 6) and not rule.outdated(d(7, None), 9)
    assert rule.outdated(d(45, 40), 50) and not rule.outdated(d(3, 15), 15)
    assert rule.stale(d(9, 8), 10) and not rule.stale(d(11, 10), 10) and rule.stale(d(1, None), 0)


# -- REST snapshots (the in-band snapshot's successor) ---------------------------------

BOOKS_URL = "https://www.okx.com/api/v5/market/books?instId=BTC-USDT&sz=400"
NOW_MS = str(TS // 10**6)  # exchange times at the receive time: no timestamp drift


def books_body(bids, asks, seq: int | None, ts: str = NOW_MS) -> str:
    book: dict = {
        "asks": [[p, s, "0", "1"] for p, s in asks],
        "bids": [[p, s, "0", "1"] for p, s in bids],
        "ts": ts,
    }
    if seq is not None:
        book["seqId"] = seq
    return json.dumps({"code": "0", "msg": "", "data": [book]})


@pytest.mark.parametrize(("channel", "sz"), [("books", 400), ("books5", 5)])
def test_snapshot_request_is_the_rest_book_at_the_channel_depth(channel: str, sz: int) -> None:
    request = OkxAdapter(book_channel=channel).snapshot_request("BTC-USD-SWAP")
    assert request.url == f"https://www.okx.com/api/v5/market/books?instId=BTC-USD-SWAP&sz={sz}"
    assert request.weight == 1  # 20 requests / 2 s per IP; the adapter spends 10 / s


def test_rest_book_decodes_to_a_snapshot_to_bridge() -> None:
    (msg,) = OkxAdapter().decode_rest(BOOKS_URL, books_body(B, A, 123), TS)
    assert msg == BookSnapshot(INST, TS, TS, 123, B, A)
    assert not msg.in_band  # a delta must bridge it


def test_rest_book_errors_are_values() -> None:
    a = OkxAdapter()
    error = '{"code":"51001","msg":"Instrument ID does not exist","data":[]}'
    (err,) = a.decode_rest(BOOKS_URL, error, TS)
    assert err == Control("error", TS, "BTC-USDT: 51001: Instrument ID does not exist", INST)
    (no_seq,) = a.decode_rest(BOOKS_URL, books_body(B, A, None), TS)
    assert isinstance(no_seq, DecodeFailed) and "without seqId" in no_seq.reason
    (no_inst,) = a.decode_rest(BOOKS_URL.split("?")[0], books_body(B, A, 1), TS)
    assert isinstance(no_inst, DecodeFailed) and "instId" in no_inst.reason
    (bad,) = a.decode_rest(BOOKS_URL, "<html>busy</html>", TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown


def test_updates_without_a_snapshot_sync_from_the_rest_book() -> None:
    """The announced regime: no snapshot push; the daemon fetches REST and records it."""
    p = Pipeline(adapters.create("okx"), MemorySink())
    frames = [
        book_frame("update", [("99", "2")], [], seq=15, prev=10, ts=NOW_MS),
        book_frame("update", [("98", "2")], [], seq=21, prev=15, ts=NOW_MS),  # REST inside
        book_frame("update", [], [], seq=21, prev=21, ts=NOW_MS),  # no-change push
        book_frame("update", [("97", "2")], [], seq=30, prev=21, ts=NOW_MS),
    ]
    p.on_record(Record("recv", TS, 1, frames[0]))
    assert p.engine.snapshot_requests() == [INST]
    p.on_record(Record("recv", TS + 1, 1, frames[1]))
    # The REST book is at seqId 18: push 21 (prevSeqId 15 <= 18 < 21) bridges it.
    body = books_body([("100", "1"), ("99", "2")], A, 18)
    p.on_record(Record("http", TS + 2, 0, body, BOOKS_URL, 200))
    for i, frame in enumerate(frames[2:], 3):
        p.on_record(Record("recv", TS + i, 1, frame))
    p.finish()
    sync = p.engine.symbols[INST]
    assert sync.state is SyncState.SYNCED and sync.last_id == 30
    assert sync.book.bids.top_levels(5) == [("100", "1"), ("99", "2"), ("98", "2"), ("97", "2")]
    assert (sync.stats.stale_dropped, sync.stats.deltas_applied, sync.stats.gaps) == (1, 3, 0)
    assert quality_kinds(p) == [QualityKind.SYNCED] and not p.problems
    seqs = p.sink.table("book").column("seq").to_pylist()
    assert seqs == [18, 18, 18, 21, 30]  # the snapshot's rows, then the pushes after it


def test_books_push_without_checksum_key_is_valid_and_unchecked() -> None:
    frames = [
        book_frame("snapshot", B, A, seq=10, prev=-1, ts=NOW_MS),
        book_frame("update", [("99", "2")], [], seq=15, prev=10, ts=NOW_MS),
    ]
    p = run(frames)  # book_frame sends no checksum key unless asked
    assert all('"checksum"' not in f for f in frames)
    sync = p.engine.symbols[INST]
    assert sync.state is SyncState.SYNCED and sync.stats.checksums_verified == 0
    assert not p.problems and QualityKind.DRIFT not in quality_kinds(p)


# -- markets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inst,market",
    [
        ("BTC-USDT", "BTC-USDT"),
        ("BTC-USDT-SWAP", "BTC-USDT-PERP"),
        ("BTC-USD-SWAP", "BTC-USD-PERP"),
        ("BTC-USD-220527", "BTC-USD-20220527"),
        ("BTC-USD-220527-30000-C", "BTC-USD-20220527-30000-C"),
        ("ETH-USD-220514-1300-P", "ETH-USD-20220514-1300-P"),
        ("WEIRD", "WEIRD"),
        ("BTC-USD-NOTADATE", "BTC-USD-NOTADATE"),
    ],
)
def test_market_from_inst_id(inst: str, market: str) -> None:
    assert market_from_inst_id(inst) == market
    assert OkxAdapter().market(inst) == market


def test_instruments_list_overrides_parsing() -> None:
    a = OkxAdapter()
    rows = [
        {"instId": "ABC-XYZ-SWAP", "instType": "SWAP", "ctType": "linear", "settleCcy": "USDC",
         "uly": "ABC-XYZ", "instFamily": "ABC-XYZ", "expTime": ""},
        {"instId": "BTC-USD-SWAP", "instType": "SWAP", "ctType": "inverse", "settleCcy": "BTC",
         "uly": "BTC-USD"},
        {"instId": "BTC-USD-220520", "instType": "FUTURES", "ctType": "inverse",
         "settleCcy": "BTC", "uly": "BTC-USD", "expTime": "1653033600000"},
        {"instId": "BTC-USD-220514-22000-C", "instType": "OPTION", "settleCcy": "BTC",
         "uly": "BTC-USD", "expTime": "1652515200000", "stk": "22000", "optType": "C"},
        {"instId": "1INCH-USDT", "instType": "SPOT", "baseCcy": "1INCH", "quoteCcy": "USDT"},
        {"instId": "FOO-BAR", "instType": "SPOT", "baseCcy": "FOO2", "quoteCcy": "BAR"},
    ]  # fmt: skip
    body = json.dumps({"code": "0", "msg": "", "data": rows})
    (msg,) = a.decode_rest("https://www.okx.com/api/v5/public/instruments?instType=SWAP", body, TS)
    assert msg == Control("ignored", TS, "6 instruments loaded")
    assert [a.market(r["instId"]) for r in rows] == [
        "ABC-USDC-PERP",
        "BTC-USD-PERP",
        "BTC-USD-20220520",
        "BTC-USD-20220514-22000-C",
        "1INCH-USDT",
        "FOO2-BAR",
    ]


def test_rest_errors_and_unknown_endpoints() -> None:
    a = OkxAdapter()
    url = "https://www.okx.com/api/v5/public/instruments?instType=X"
    (err,) = a.decode_rest(url, '{"code":"51000","msg":"Parameter instType error","data":[]}', TS)
    assert err == Control("error", TS, f"{url}: 51000: Parameter instType error")
    (bad,) = a.decode_rest(url, "{", TS)
    assert isinstance(bad, DecodeFailed) and not bad.unknown
    (other,) = a.decode_rest("https://www.okx.com/api/v5/market/tickers?instId=X", "{}", TS)
    assert isinstance(other, DecodeFailed) and other.unknown


# -- plan -----------------------------------------------------------------------------


def test_plan_subscribes_public_channels_with_app_ping() -> None:
    subs = [Subscription("BTC-USDT", c) for c in ("book", "trades", "bbo")]
    (plan,) = OkxAdapter().plan(subs)
    assert plan.url == PUBLIC_URL == "wss://ws.okx.com:8443/ws/v5/public"
    assert [json.loads(f) for f in plan.subscribe] == [
        {
            "op": "subscribe",
            "args": [
                {"channel": "books", "instId": "BTC-USDT"},
                {"channel": "trades", "instId": "BTC-USDT"},
                {"channel": "bbo-tbt", "instId": "BTC-USDT"},
            ],
        }
    ]
    assert plan.app_ping == "ping" and plan.app_ping_interval_s == APP_PING_INTERVAL_S < 30
    assert plan.subscriptions == subs


def test_plan_splits_connections_and_frames_within_limits() -> None:
    subs = [Subscription(f"C{i}-USDT", c) for i in range(150) for c in ("book", "trades")]
    plans = OkxAdapter(book_channel="books5").plan(subs)
    assert [len(p.subscriptions) for p in plans] == [SUBSCRIPTIONS_PER_CONNECTION, 100]
    for plan in plans:
        args = [arg for f in plan.subscribe for arg in json.loads(f)["args"]]
        assert len(args) == len(plan.subscriptions)
        assert all(len(json.loads(f)["args"]) <= ARGS_PER_FRAME for f in plan.subscribe)
        assert all(len(f.encode()) < 64 * 1024 for f in plan.subscribe)
        assert len(plan.subscribe) <= 480  # subscribe requests per connection per hour
    first = json.loads(plans[0].subscribe[0])["args"][:2]
    assert first == [
        {"channel": "books5", "instId": "C0-USDT"},
        {"channel": "trades", "instId": "C0-USDT"},
    ]


def test_plan_rejects_unknown_channels_and_book_channels() -> None:
    with pytest.raises(ValueError):
        OkxAdapter().plan([Subscription("BTC-USDT", "candles")])
    with pytest.raises(ValueError):
        OkxAdapter(book_channel="books-l2-tbt")


def test_registered() -> None:
    a = adapters.create("okx")
    assert isinstance(a, OkxAdapter) and a.slug == "okx" and a.book_channel == "books"
    assert a.sequence_rule.name == "okx-seqid" and a.rest_weight_per_minute == 600


def test_bbo_tbt_quote_is_checked_against_the_book_at_its_seq_id() -> None:
    bbo = book_frame(None, B, A, channel="bbo-tbt", seq=15)
    wrong = book_frame(None, [("100", "9")], A, channel="bbo-tbt", seq=16)
    p = run(
        [
            book_frame("snapshot", B, A, seq=10, prev=-1),
            bbo,  # quote arrives before its book push: held until seq 15 applies
            book_frame("update", [("99", "2")], [], seq=15, prev=10),
            book_frame("update", [("98", "2")], [], seq=16, prev=15),
            wrong,
        ]
    )
    stats = p.engine.symbols[INST].stats
    assert (stats.bbo_matched, stats.bbo_mismatched) == (1, 1)
    assert QualityKind.BBO_MISMATCH in quality_kinds(p)
