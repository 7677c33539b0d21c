"""The compiled core against the pure-Python reference, on arbitrary input.

Decimal text: the native parser accepts exactly what ``decimal_text.parse_exact``
accepts, with the same value, and refuses with the same error. The book: random
sequences of updates, snapshots, truncations, crossed books and bad text leave
both implementations in the same state, with the same answers to every query and
the same exceptions, in the same order.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import subprocess
import sys
from decimal import Context

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import decimal_text, native, row_columns, schema
from collector.book import book as reference
from collector.book import engine, seq_map
from collector.levels import REFERENCE
from collector.model import BestBidAsk, DerivativeTicker, Trade
from collector.tables import TableBuffers, decimal_array

pytestmark = pytest.mark.skipif(not native.available(), reason="the native core is not built here")

core = native.core(True) if native.available() else None
_EXACT = Context(prec=80)

#: Characters decimal text is made of, and the ones that make it wrong.
_DECIMAL_CHARS = "0123456789" * 4 + ".eE+-_ \u0661x"
DECIMAL_LIKE = st.one_of(
    st.text(alphabet=_DECIMAL_CHARS, max_size=45),
    st.from_regex(r"\A[+-]?[0-9]{0,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,4})?\Z"),
    st.from_regex(r"\A[+-]?0*\.?0*([eE][+-]?[0-9]{17,22})?\Z"),  # zeros, libmpdec's limits
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=12),
)


def _reference(text: object, signed: bool) -> int | str:
    """The reference's scaled value, or its error message."""
    try:
        value = decimal_text.parse_exact(text, signed)  # type: ignore[arg-type]
    except decimal_text.InvalidDecimalText as exc:
        return str(exc)
    return int(_EXACT.scaleb(value, 18))


def _native(text: object, signed: bool) -> int | str:
    try:
        return core.scaled(text, signed)
    except decimal_text.InvalidDecimalText as exc:
        return str(exc)


@settings(max_examples=3000)
@given(DECIMAL_LIKE, st.booleans())
def test_decimal_text_accepted_and_refused_alike(text: str, signed: bool) -> None:
    assert _native(text, signed) == _reference(text, signed)


@pytest.mark.parametrize(
    "text",
    [
        "0e999999999999999999",
        "0e1000000000000000000",
        "0.000e-1999999999999999994",
        "0.000e-1999999999999999995",
        "1e-18",
        "1e-19",
        "10e-19",
        "99999999999999999999.999999999999999999",
        "100000000000000000000",
        "00000000000000000000000000001.5",
        "0.1000000000000000000000",
        "-0",
        "+.5",
        "5.",
        ".",
        "Infinity",
        "1_0",
        "",
        "١",
    ],
)
def test_decimal_text_edges(text: str) -> None:
    for signed in (False, True):
        assert _native(text, signed) == _reference(text, signed)


def test_non_text_is_refused_like_the_reference() -> None:
    assert _native(5, False) == _reference(5, False)


_PLAIN = re.compile(schema._PLAIN_DECIMAL)


@settings(max_examples=2000)
@given(DECIMAL_LIKE, DECIMAL_LIKE)
def test_book_columns_take_plain_text_only_and_exactly(price: str, size: str) -> None:
    columns, odd = _book_rows([(price, size)])
    if not (_PLAIN.match(price) and _PLAIN.match(size)):
        assert odd == 1  # set aside for the reference's conversion
        return
    assert odd == 0
    values = [int.from_bytes(columns[name][0], "little", signed=True) for name in ("price", "size")]
    assert values == [_reference(price, False), _reference(size, False)]


def _book_rows(bids: object) -> tuple[dict, int]:
    """``BookRows``' columns for one message of ``bids``, and how many messages it set aside."""
    rows = core.BookRows()
    rows.append("X", "X-Y", None, 1, 2, 3, False, bids, [])
    return rows.columns(), len(rows.odd)


@settings(max_examples=1500)
@given(st.lists(st.one_of(st.none(), DECIMAL_LIKE), max_size=12), st.booleans())
def test_decimal_columns_equal_the_reference_or_defer_to_it(texts: list, signed: bool) -> None:
    """A column the core builds equals ``exact_decimals``' value for value, nulls included;
    a column it declines has a text outside the plain shape, and the reference decides."""
    plain = re.compile(schema._PLAIN_SIGNED if signed else schema._PLAIN_DECIMAL)
    try:
        expected = schema.exact_decimals("price", texts, signed)
    except schema.ValueDoesNotFit:
        expected = None
    if core.decimal_column(texts, signed) is None:
        assert any(t is not None and not plain.match(t) for t in texts)
    else:
        assert all(t is None or plain.match(t) for t in texts)
        assert expected is not None
    if expected is not None:
        built = decimal_array(core, "price", texts, signed)
        assert built.equals(expected)
        assert built.to_pylist() == expected.to_pylist()


# -- JSON numbers as text ------------------------------------------------------------

JSON_NUMBER_LIKE = st.one_of(
    st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?\Z"),
    st.text(alphabet='0123456789.-+eE nul\t"x', max_size=14),
    st.sampled_from(["null", " 1", "1 ", "-", "-0", "00", "1.", ".5", "1e", "\u0661"]),
)


def _json_outcome(call, raw: object) -> object:
    try:
        return call(raw)
    except decimal_text.InvalidDecimalText as exc:
        return "raised", str(exc)


@settings(max_examples=3000)
@given(JSON_NUMBER_LIKE, st.sampled_from(["raw", "bytes", "str"]))
def test_json_numbers_read_like_the_reference(text: str, form: str) -> None:
    """``json_number`` and ``json_decimal``: the same text, ``None`` or error."""
    if form == "raw":
        try:
            raw: object = msgspec.json.decode(f"[{text}]", type=list[msgspec.Raw])
        except msgspec.DecodeError:
            return
        if len(raw) != 1:  # type: ignore[arg-type]
            return
        raw = raw[0]  # type: ignore[index]
    else:
        raw = text.encode() if form == "bytes" else text
    for native_call, reference_call in (
        (core.json_number, decimal_text.json_number),
        (core.json_decimal, decimal_text.json_decimal),
    ):
        assert _json_outcome(native_call, raw) == _json_outcome(reference_call, raw)


# -- level arrays read from frame text --------------------------------------------------

_WS = st.sampled_from(["", "", " ", "\n", "\t ", "\r\n"])
_LEVEL_TEXT = st.one_of(
    DECIMAL_LIKE,
    st.sampled_from(["1\\u0030", 'a\\"b', "\\\\", "é", "", "1.0"]),  # escapes: JSON text
)


@st.composite
def level_arrays(draw: st.DrawFn) -> str:
    """JSON text of a level array, mostly well formed, with spacing and oddities."""
    pairs = draw(st.lists(st.tuples(_LEVEL_TEXT, _LEVEL_TEXT), max_size=6))

    def text(t: str) -> str:  # keep the escapes above as written, quote the rest
        return f'"{t}"' if "\\" in t else json.dumps(t, ensure_ascii=draw(st.booleans()))

    items = [f"[{draw(_WS)}{text(p)}{draw(_WS)},{draw(_WS)}{text(s)}{draw(_WS)}]" for p, s in pairs]
    out = f"{draw(_WS)}[{draw(_WS)}" + f"{draw(_WS)},{draw(_WS)}".join(items) + f"{draw(_WS)}]"
    mutation = draw(st.sampled_from(["none"] * 6 + ["cut", "number", "triple", "extra", "comma"]))
    if mutation == "cut" and out:
        out = out[: draw(st.integers(0, len(out) - 1))]
    elif mutation == "number":
        out = out.replace('"', "", 2)
    elif mutation == "triple":
        out = out.replace("]", ',"1"]', 1)
    elif mutation == "extra":
        out += draw(st.sampled_from(["x", "]", "[]", " 1"]))
    elif mutation == "comma":
        out = out.replace("]", ",]", 1)
    return out


def _read_outcome(read, text: str) -> object:
    try:
        return [tuple(level) for level in read(text)]
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return type(exc), str(exc)


@settings(max_examples=3000)
@given(level_arrays())
def test_level_arrays_read_like_msgspec(text: str) -> None:
    """Read from frame text, a level array gives msgspec's pairs, or its exact error."""
    assert _read_outcome(core.read_levels, text) == _read_outcome(REFERENCE.decode, text)


@settings(max_examples=1500)
@given(level_arrays(), st.booleans())
def test_a_side_applies_spans_as_it_applies_text(text: str, is_bid: bool) -> None:
    """``BookSide.apply`` on spans of the frame: the same levels, texts and errors."""
    try:
        as_list = REFERENCE.decode(text)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return
    spans, texts = core.BookSide(is_bid), core.BookSide(is_bid)
    assert _outcome(spans.apply, core.read_levels(text)) == _outcome(texts.apply, as_list)
    assert (spans.levels, spans.texts) == (texts.levels, texts.texts)
    assert _book_rows(core.read_levels(text)) == _book_rows(as_list)


# -- the book -------------------------------------------------------------------------

#: Prices with several spellings of one value, and text the book must refuse.
PRICES = st.one_of(
    st.integers(95, 105).map(str),
    st.integers(950, 1050).map(lambda v: f"{v / 10:.1f}"),
    st.sampled_from(["100.0", "100.00", "1e2", "1E+2", "099", "+101", "abc", "-1", "1e-30", ""]),
)
SIZES = st.one_of(
    st.sampled_from(["0", "0.000", "00", ".0", "0.", "0e5", "-0", "", "1", "2.50", "0.001"]),
    st.sampled_from(["1e-3", "1x", "x", "-2", "..", "0.0.0", "1.2.3", " 1", "Infinity", "0E-7"]),
)
LEVELS = st.lists(st.tuples(PRICES, SIZES), max_size=8)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), st.booleans(), LEVELS),
        st.tuples(st.just("snapshot"), LEVELS, LEVELS),
        st.tuples(st.just("truncate"), st.booleans(), st.integers(-2, 12)),
        st.tuples(st.just("clear")),
    ),
    max_size=60,
)


def _outcome(call, *args) -> object:
    try:
        return ("ok", call(*args))
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


def _step(book, op: tuple) -> object:
    """Do ``op`` to ``book``; what it returned or raised."""
    if op[0] == "apply":
        return _outcome((book.bids if op[1] else book.asks).apply, op[2])
    if op[0] == "snapshot":
        book.clear()
        return _outcome(book.bids.apply, op[1]), _outcome(book.asks.apply, op[2])
    if op[0] == "truncate":
        return _outcome((book.bids if op[1] else book.asks).truncate, op[2])
    return book.clear()


def _state(book) -> list:
    """Every answer a caller can get from a book; texts only for live levels."""
    out = [book.is_crossed(), _outcome(book.as_dict)]
    for side in (book.bids, book.asks):
        levels = side.levels
        out += [
            list(levels.items()),
            {k: side.texts[k] for k in levels},
            len(side),
            side.best_level(),
            side.best(),
            side.top_levels(3),
            side.top_levels(100),
            side.top(4),
        ]
    return out


@settings(max_examples=400, deadline=None)
@given(OPS)
def test_random_operations_leave_both_books_alike(ops: list) -> None:
    books = (reference.OrderBook(), core.OrderBook())
    for op in ops:
        want, got = ((_step(book, op), _state(book)) for book in books)
        assert got == want, op


def test_deep_book_splits_and_merges_blocks_like_the_reference() -> None:
    """Thousands of levels (many storage blocks), then churn and cuts at every depth."""
    books = (reference.OrderBook(), core.OrderBook())
    snapshot = [(f"{1000 + i * 0.5:.1f}", str(i % 7 + 1)) for i in range(3000)]
    churn = [(f"{1000 + (i * 37 % 3000) * 0.5:.1f}", str(i % 3)) for i in range(20_000)]
    for book in books:
        book.bids.apply(snapshot)
        book.bids.apply(churn)
    assert _state(books[0]) == _state(books[1])
    for depth in (2500, 700, 64, 63, 1, 0):
        assert books[0].bids.truncate(depth) == books[1].bids.truncate(depth)
        assert _state(books[0]) == _state(books[1])


# -- checksums ------------------------------------------------------------------------

TEXT_LEVELS = st.lists(
    st.tuples(
        st.one_of(st.text(alphabet="0123456789.", max_size=12), st.text(max_size=4)),
        st.one_of(st.text(alphabet="0123456789.-", max_size=12), st.text(max_size=4)),
    ),
    max_size=26,
)


@settings(max_examples=1000)
@given(TEXT_LEVELS, TEXT_LEVELS)
def test_checksums_equal_the_reference_on_any_text(bids: list, asks: list) -> None:
    from collector.book import checksum

    assert core.kraken_crc32(bids, asks) == checksum.kraken_crc32_reference(bids, asks)
    assert core.interleaved_crc32(bids, asks) == checksum.interleaved_crc32_reference(bids, asks)


@pytest.mark.parametrize("setting,expected", [("0", "collector.decimal_text"), ("1", "native")])
def test_json_numbers_follow_the_process_setting(setting: str, expected: str) -> None:
    """``collector.json_numbers`` picks its functions as ``COLLECTOR_NATIVE`` says."""
    code = (
        "from collector import json_numbers as j, decimal_text as d; "
        "print('collector.decimal_text' if j.json_number is d.json_number "
        "and j.json_decimal is d.json_decimal else 'native')"
    )
    env = {**os.environ, native.ENV: setting}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected


# -- trades, bbo and derivative rows in column buffers --------------------------------

_SYMBOLS = st.sampled_from(["BTCUSDT", "ETHUSDT", "X"])
_TIMES = st.one_of(st.none(), st.integers(0, 2**63 - 1))
_MESSAGE_ROWS = st.one_of(
    st.builds(
        Trade,
        _SYMBOLS,
        _TIMES,
        st.integers(0, 2**62),
        st.text(max_size=4),
        st.sampled_from(["buy", "sell", "other"]),
        DECIMAL_LIKE,
        DECIMAL_LIKE,
    ),
    st.builds(
        BestBidAsk,
        _SYMBOLS,
        _TIMES,
        st.integers(0, 2**62),
        st.one_of(st.none(), st.integers(0, 2**62)),
        DECIMAL_LIKE,
        DECIMAL_LIKE,
        DECIMAL_LIKE,
        DECIMAL_LIKE,
    ),
    st.builds(
        DerivativeTicker,
        _SYMBOLS,
        _TIMES,
        st.integers(0, 2**62),
        mark_price=st.one_of(st.none(), DECIMAL_LIKE),
        funding_rate=st.one_of(st.none(), DECIMAL_LIKE),
        funding_time=_TIMES,
    ),
)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _drained(native_path: bool, rows: list) -> tuple:
    out = TableBuffers(native=native_path)
    for message, market in rows:
        if type(message) is Trade:
            out.add_trade(message, market)
        elif type(message) is BestBidAsk:
            out.add_bbo(message, market)
        else:
            out.add_derivative(message, market)
    warnings = _Warnings()
    logger = logging.getLogger("collector.tables")
    logger.addHandler(warnings)
    try:
        tables = out.drain()
    finally:
        logger.removeHandler(warnings)
    return tables, warnings.lines


@settings(max_examples=400)
@given(st.lists(st.tuples(_MESSAGE_ROWS, st.sampled_from(["BTC-USDT", "ETH-USDT"])), max_size=8))
def test_message_rows_build_the_reference_tables(rows: list) -> None:
    """Trades, quotes and derivative rows buffered in C give the reference's tables:
    the same rows and values, label dictionaries, dropped rows, warnings and quality events."""
    reference_tables, reference_log = _drained(False, rows)
    native_tables, native_log = _drained(True, rows)
    assert sorted(native_tables) == sorted(reference_tables)
    for name, want in reference_tables.items():
        got = native_tables[name]
        assert got.schema == want.schema, name
        assert got.equals(want), f"{name}: reference {want}, native {got}"
    assert native_log == reference_log


def test_a_row_that_cannot_be_read_leaves_the_columns_as_they_were() -> None:
    """A missing field or an integer beyond int64 raises before anything is written:
    the rows around it build the table the reference builds from them alone."""
    good = Trade("X", 1, 2, "a", "buy", "1.5", "2")
    rows = row_columns.buffers(core, "trades")
    rows.append((good, "X-Y"))
    with pytest.raises(AttributeError):
        rows.append((BestBidAsk("Q", None, 3, None, "1", "1", "2", "2"), "Q-R"))
    with pytest.raises(OverflowError):
        rows.append((Trade("Y", 2**64, 3, "b", "sell", "1e5", "2"), "Y-Z"))
    rows.append((good, "X-Y"))
    reference = TableBuffers(native=False)
    reference.add_trade(good, "X-Y")
    reference.add_trade(good, "X-Y")
    built = row_columns.table("trades", rows, lambda *dropped: None)
    assert built is not None and built.equals(reference.drain()["trades"])
    assert rows.odd == []


class _PlainTrade:
    """A trade that is not a msgspec struct: its fields live in an instance dict."""

    def __init__(self, trade: Trade) -> None:
        for name in trade.__struct_fields__:
            setattr(self, name, getattr(trade, name))


class _PricedTrade(Trade):
    """A struct whose ``price`` is a property over the struct's field."""

    @property  # type: ignore[override]
    def price(self) -> str:
        return "7.25"


def test_fields_read_from_slots_and_by_name_give_the_same_rows() -> None:
    """Struct fields are read at their slot's offset, anything else by name: rows from
    structs, plain objects and a subclass that shadows a field with a property,
    alternating, build the reference's table."""
    trades = [Trade("X", 1, 2, "a", "buy", "1.5", "2"), Trade("Y", None, 3, "b", "sell", "3", "4")]
    messages = [
        trades[0],
        _PlainTrade(trades[1]),
        _PricedTrade("Z", 5, 6, "c", "buy", "9", "1"),
        trades[1],
        _PlainTrade(trades[0]),
    ]
    rows = row_columns.buffers(core, "trades")
    reference = TableBuffers(native=False)
    for message in messages:
        rows.append((message, "M-N"))
        reference.add_trade(message, "M-N")  # type: ignore[arg-type]
    built = row_columns.table("trades", rows, lambda *dropped: None)
    expected = reference.drain()["trades"]
    assert built is not None and built.equals(expected)
    assert [str(p) for p in built.column("price").to_pylist()] == [
        "1.500000000000000000",
        "3.000000000000000000",
        "7.250000000000000000",
        "3.000000000000000000",
        "1.500000000000000000",
    ]


def test_seq_map_clear_lets_values_go_only_once_it_is_empty() -> None:
    """A value's destructor that reads the map during ``clear`` finds it empty (before,
    it found a released slot and crashed the process)."""
    m = core.SeqMap()
    seen: list[tuple] = []

    class Value:
        def __init__(self, key: int) -> None:
            self.key = key

        def __del__(self) -> None:
            seen.append((self.key, m.get(self.key), len(m)))

    m.put(1, Value(1), 10)
    m.put(2, Value(2), 10)
    m.clear()
    assert sorted(seen) == [(1, None, 0), (2, None, 0)]


def test_fields_are_read_as_attribute_access_reads_them() -> None:
    """The slot offsets are used only where attribute access would use that slot: not
    for a member descriptor of an unrelated class, not past a class attribute set to
    None, not after the class changed."""

    class Slotted:
        __slots__ = ("a", "b", "c", "d", "e", "f", "g", "h", "seq")

    class Borrowing:  # a descriptor of another class: attribute access refuses it
        __slots__ = ()
        seq = Slotted.__dict__["seq"]

    class Hiding(Slotted):
        __slots__ = ()
        seq = None

    rows = core.RowColumns(("seq",), b"O")
    with pytest.raises(TypeError, match="doesn't apply"):
        rows.append((Borrowing(), None))
    hidden = Hiding()
    Slotted.__dict__["seq"].__set__(hidden, "slot")
    rows.append((hidden, None))
    plain = Slotted()
    plain.seq = "slot"
    rows.append((plain, None))
    Slotted.seq = property(lambda self: "property")  # type: ignore[assignment,method-assign]
    rows.append((plain, None))
    assert rows.column(0)[2] == [None, "slot", "property"]


_BOOK_MESSAGES = st.lists(
    st.tuples(
        _SYMBOLS,
        _TIMES,
        st.booleans(),
        st.lists(st.tuples(PRICES, SIZES), max_size=4),
        st.lists(st.tuples(PRICES, SIZES), max_size=4),
    ),
    max_size=8,
)


def _book_drained(native_path: bool, messages: list) -> tuple:
    out = TableBuffers(native=native_path)
    for i, (symbol, ts_exchange, is_snapshot, bids, asks) in enumerate(messages):
        out.add_book(
            symbol, symbol + "-M", ts_exchange, i, 100 + i, 10 * i, is_snapshot, bids, asks
        )
    reported: list[tuple] = []
    tables = out.drain(lambda *bad: reported.append(bad))
    return tables, reported


@settings(max_examples=600)
@given(_BOOK_MESSAGES)
def test_book_rows_build_the_reference_table(messages: list) -> None:
    """Book messages buffered level by level in C give the reference's book table, and
    a message with text that cannot be stored drops its symbol's rows from there on,
    reported to the engine with the reference's reason and row count."""
    reference_tables, reference_reported = _book_drained(False, messages)
    native_tables, native_reported = _book_drained(True, messages)
    assert native_reported == reference_reported
    assert ("book" in native_tables) == ("book" in reference_tables)
    if "book" in reference_tables:
        want, got = reference_tables["book"], native_tables["book"]
        assert got.equals(want), f"reference {want}, native {got}"


#: SeqMap operations over a few ids, so that ids repeat, evict and leave holes.
_SEQ_IDS = st.integers(min_value=-3, max_value=40)
_SEQ_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _SEQ_IDS, st.integers(1, 12)),
        st.tuples(st.just("hold"), _SEQ_IDS, st.integers(1, 12)),
        st.tuples(st.just("pop"), _SEQ_IDS),
        st.tuples(st.just("get"), _SEQ_IDS),
        st.tuples(st.just("drop_below"), _SEQ_IDS),
        st.tuples(st.just("clear")),
    ),
    max_size=300,
)


@settings(max_examples=500, deadline=None)
@given(_SEQ_OPS)
def test_seq_map_answers_as_the_ordered_dict_reference(ops: list) -> None:
    """Every answer and every length equal, and so the order of eviction: the ring's
    holes, its rebuilds and the index's back-shifts never show."""
    ours, theirs = seq_map.SeqMap(), core.SeqMap()
    for step, (name, *args) in enumerate(ops):
        if name in ("put", "hold"):
            args = [args[0], f"v{step}", args[1]]
        assert getattr(ours, name)(*args) == getattr(theirs, name)(*args), (step, name, args)
        assert len(ours) == len(theirs)
        assert [ours.get(k) for k in range(-3, 41)] == [theirs.get(k) for k in range(-3, 41)]


def test_seq_map_grows_and_keeps_arrival_order_through_rebuilds() -> None:
    """Thousands of ids with holes in the middle: the ring rebuilds and grows, and the
    oldest entry is still the first to go."""
    ours, theirs = seq_map.SeqMap(), core.SeqMap()
    for m in (ours, theirs):
        for i in range(5000):
            m.hold(i, i, 4096)
            if i % 3 == 0:
                m.pop(i // 2)
        m.drop_below(2000)
    assert len(ours) == len(theirs)
    assert [ours.get(k) for k in range(5000)] == [theirs.get(k) for k in range(5000)]
    rng = random.Random(12)  # churn in a small map: probe runs wrap around its index
    ours, theirs = seq_map.SeqMap(), core.SeqMap()
    for step in range(30_000):
        key, hold = rng.randrange(200), rng.random() < 0.5
        for m in (ours, theirs):
            (m.hold(key, step, 12) if hold else m.pop(key))
        if step % 10 == 0:
            assert [ours.get(k) for k in range(200)] == [theirs.get(k) for k in range(200)]
    assert core.SeqMap().get(2**63 - 1) is None
    with pytest.raises(TypeError, match="int, not float"):
        core.SeqMap().get(1.0)
    for m in (seq_map.SeqMap(), core.SeqMap()):
        with pytest.raises(ValueError, match="at least 1"):
            m.hold(1, "v", 0)
    with pytest.raises(OverflowError):
        core.SeqMap().get(2**63)


#: Level texts a snapshot may hold, commas included (a comma must not split a text).
_SNAPSHOT_TEXT = st.one_of(DECIMAL_LIKE, st.sampled_from(["1,2", ",", "1.5,", ",7"]))


@settings(max_examples=1500)
@given(st.lists(st.lists(_SNAPSHOT_TEXT, max_size=3), max_size=6))
def test_snapshot_texts_are_judged_plain_as_the_reference_judges_them(levels: list) -> None:
    """The engine's check of a snapshot's texts: where the core answers, its answer is
    the reference regex's; it leaves only texts other than ASCII to the regex."""
    answer = core.plain_levels(levels)
    assert answer is None or answer == engine._all_plain(levels)
    assert (answer is None) == any(not t.isascii() for level in levels for t in level)


@settings(max_examples=800)
@given(st.lists(st.tuples(*[st.text(alphabet="0123456789.,-e", max_size=24)] * 2), max_size=6))
def test_spans_are_judged_plain_as_their_texts(pairs: list) -> None:
    spans = core.read_levels(json.dumps(pairs))
    assert type(spans) is core.Levels
    assert core.plain_levels(spans) == engine._all_plain(pairs)
