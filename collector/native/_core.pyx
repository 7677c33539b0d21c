# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled per-level core: exact decimal text, L2 book sides, level arrays read from
frame text, decimal columns, trade/quote/derivative row columns, JSON numbers as text,
checksums.

Everything here mirrors a pure-Python reference (``collector.decimal_text``,
``collector.book.book``, ``collector.tables``) value for value; the differential
tests hold the two together. Text the fast paths do not take (non-ASCII, odd
shapes, anything to be refused) is handed to the reference, so errors carry the
reference's exact messages and the rare paths exist once.
"""

from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_Check
from cpython.long cimport PyLong_Check
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject_GetAttr
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.string cimport memcpy, memset

from decimal import Decimal
from sys import intern as sys_intern
from types import MemberDescriptorType

from collector import decimal_text as _decimal_text
from collector import levels as _levels
from collector.book import book as _reference

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    enum:
        T_OBJECT
        T_OBJECT_EX

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member
    ctypedef struct PyTypeObjectVersion "PyTypeObject":
        unsigned long tp_flags
        unsigned int tp_version_tag
    unsigned long Py_TPFLAGS_VALID_VERSION_TAG
    PyTypeObjectVersion *Py_TYPE_VERSIONED "Py_TYPE"(object o)

#: A name no class dictionary holds (a class attribute may well be None).
cdef object _MISSING = object()


cdef inline bint _same_version(object message, unsigned int version):
    """The message's type is unchanged since it had tag ``version``."""
    cdef PyTypeObjectVersion *tp = Py_TYPE_VERSIONED(message)
    return (tp.tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) != 0 and tp.tp_version_tag == version

cdef extern from "core.h":
    ctypedef long long i128  # __int128 in C; never converted by Cython itself
    ctypedef struct Level:
        i128 rank
        PyObject *price
        PyObject *size
        uint64_t order
    ctypedef struct Block:
        Py_ssize_t n
        Level items[1]  # BLOCK_MAX in C; Cython only indexes it
    ctypedef struct Side:
        Block **blocks
        Py_ssize_t nblocks
        Py_ssize_t len
    int dec_parse(const char *s, Py_ssize_t n, int allow_sign, i128 *out)
    int dec_parse_plain(const char *s, Py_ssize_t n, i128 *out)
    object i128_to_pylong(i128 v)
    int pylong_to_i128(object o, i128 *out) except -1
    int side_set(Side *s, i128 rank, object price, object size, int zero) except -1
    int side_set_span(Side *s, i128 rank, PyObject *price, const char *pt, Py_ssize_t pn,
                      PyObject *size, const char *st, Py_ssize_t sn, int zero) except -1
    int size_zero_text(const char *t, Py_ssize_t n)
    ctypedef struct Span:
        i128 pv, sv
        Py_ssize_t p, pn, s, sn
        int plain
    Py_ssize_t levels_scan(const char *t, Py_ssize_t n, Span **out, Py_ssize_t *cap)
    object ascii_text(const char *t, Py_ssize_t n)
    int json_plain_number(const char *s, Py_ssize_t n)
    Level *side_best(const Side *s)
    void side_drop_worst(Side *s, Py_ssize_t drop)
    void side_clear(Side *s)
    void side_free(Side *s)
    void crc32_init()
    uint32_t crc32_update(uint32_t previous, const char *s, Py_ssize_t n)
    uint32_t crc32_kraken_digits(uint32_t crc, const char *s, Py_ssize_t n)

crc32_init()

cdef object _price_key_ref = _reference.price_key
cdef object _levels_reference = _levels.REFERENCE
cdef object _json_number_ref = _decimal_text.json_number
cdef object _json_decimal_ref = _decimal_text.json_decimal
cdef object _size_is_zero_ref = _decimal_text.size_is_zero
cdef object _parse_exact_ref = _decimal_text.parse_exact
cdef str _ZERO = "0"


def _stamp(row):
    return row[0]


cdef inline bint _ascii(object text):
    return PyUnicode_Check(text) and PyUnicode_IS_COMPACT_ASCII(text)


def scaled(object text, bint signed=False):
    """The exact value of decimal text times 10**18, as ``int``; refused text raises.

    Accepts and refuses exactly what ``decimal_text.parse_exact`` does; a refusal
    is raised by the reference itself, so its ``InvalidDecimalText`` message is the same.
    """
    cdef i128 v
    if _ascii(text) and dec_parse(<const char *>PyUnicode_DATA(text),
                                  PyUnicode_GET_LENGTH(text), signed, &v) == 0:
        return i128_to_pylong(v)
    value = _parse_exact_ref(text, signed)  # raises for everything refused
    raise AssertionError(f"native decimal parser refused {text!r}, the reference took {value}")


cdef i128 _price_rank(object price, bint is_bid) except? -1:
    cdef i128 key
    if not (_ascii(price) and dec_parse(<const char *>PyUnicode_DATA(price),
                                        PyUnicode_GET_LENGTH(price), 0, &key) == 0):
        pylong_to_i128(_price_key_ref(price), &key)  # raises for refused text
    return key if is_bid else -key


cdef int _size_zero(object size) except -1:
    """The reference's zero test: strip "0" and "."; empty is zero, a 1-9 is not."""
    cdef const char *s
    cdef Py_ssize_t lo = 0, hi
    cdef char c
    if _ascii(size):
        s = <const char *>PyUnicode_DATA(size)
        hi = PyUnicode_GET_LENGTH(size)
        while lo < hi and (s[lo] == 48 or s[lo] == 46):
            lo += 1
        while hi > lo and (s[hi - 1] == 48 or s[hi - 1] == 46):
            hi -= 1
        if lo == hi:
            return 1
        c = s[lo]
        if 49 <= c <= 57:
            return 0
        return 1 if _size_is_zero_ref(size) else 0
    rest = size.strip("0.")
    if rest and rest[0] not in "123456789":
        return 1 if _size_is_zero_ref(size) else 0
    return 0 if rest else 1


cdef class Levels:
    """A book message's ``[price, size]`` pairs as spans of the frame's own text.

    No ``str`` or tuple per level is made to read them: the book takes its decimals
    from the spans and makes a ``str`` only for the texts it keeps, and the book table
    writes its decimal128 columns from them. As a sequence it gives ``(price, size)``
    tuples, equal to the reference's list, for the rare paths that want Python objects.
    """

    cdef bytes text
    cdef Span *spans
    cdef readonly Py_ssize_t n

    def __dealloc__(self):
        PyMem_Free(self.spans)

    def __len__(self):
        return self.n

    cdef inline tuple _pair(self, Py_ssize_t i):
        cdef const char *t = PyBytes_AS_STRING(self.text)
        cdef Span *sp = &self.spans[i]
        return (ascii_text(t + sp.p, sp.pn), ascii_text(t + sp.s, sp.sn))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._pair(i) for i in range(*index.indices(self.n))]
        cdef Py_ssize_t i = index
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError("level index out of range")
        return self._pair(i)

    def __iter__(self):
        cdef Py_ssize_t i
        for i in range(self.n):
            yield self._pair(i)

    def __eq__(self, other):
        if isinstance(other, (Levels, list, tuple)):
            return len(other) == self.n and all(
                tuple(a) == tuple(b) for a, b in zip(self, other)
            )
        return NotImplemented

    def __repr__(self):
        return f"Levels({list(self)!r})"


def read_levels(object raw):
    """A JSON array of ``[price, size]`` string pairs (a ``msgspec.Raw``, bytes or str).

    Plain arrays (no escapes, ASCII) become ``Levels``; anything else is decoded by
    msgspec into the reference's list, or raises its ``ValidationError``/``DecodeError``.
    """
    cdef bytes text = raw.encode() if isinstance(raw, str) else bytes(raw)
    cdef Py_ssize_t n = len(text), k
    cdef Py_ssize_t cap = n // 20 + 8  # a level is ~20 characters; the scan grows it
    cdef Span *spans = <Span *>PyMem_Malloc(cap * sizeof(Span))
    if spans == NULL:
        raise MemoryError()
    k = levels_scan(PyBytes_AS_STRING(text), n, &spans, &cap)
    if k < 0:
        PyMem_Free(spans)
        if k == -2:
            raise MemoryError()
        return _levels_reference.decode(text)
    cdef Levels levels = Levels.__new__(Levels)
    levels.text = text
    levels.spans = spans
    levels.n = k
    return levels


def plain_levels(levels):
    """True when every text of every level is plain decimal text (at most 20 digits, a
    point, at most 18 more: the engine's ``_PLAIN``), False when one is not; None when
    a text is not an ASCII ``str``, for the reference's regex to judge.

    Why: the engine checks a snapshot's texts before applying it, and a Coinbase
    snapshot joined into one string for that regex was a tenth of its replay.
    """
    cdef i128 v
    cdef Py_ssize_t i
    cdef bint plain = True, seen = False  # as the regex, which wants one text at least
    if type(levels) is Levels:
        for i in range((<Levels>levels).n):
            if not (<Levels>levels).spans[i].plain:
                return False
        return (<Levels>levels).n > 0
    for level in levels:
        for text in level:
            if type(text) is not str or not _ascii(text):
                return None
            seen = True
            if plain and dec_parse_plain(<const char *>PyUnicode_DATA(text),
                                         PyUnicode_GET_LENGTH(text), &v):
                plain = False
    return plain and seen

cdef class BookSide:
    """Price -> size text for one side, in C: the reference ``BookSide``'s behaviour.

    Levels are (rank, price text, size text, insertion stamp) in sorted blocks of
    up to 64 (see ``core.h``); the texts are the wire's own ``str`` objects, kept
    for output and checksums, so no text is ever re-rendered.
    """

    cdef Side side
    cdef readonly bint is_bid

    def __cinit__(self, bint is_bid):
        self.is_bid = is_bid  # self.side: zeroed with the object, an empty side

    def __dealloc__(self):
        side_free(&self.side)

    def clear(self):
        side_clear(&self.side)

    def apply(self, updates):
        """Set each level's absolute size; a zero size removes the level.

        As the reference: the first bad price (or a size neither plainly positive
        nor zero) raises ``InvalidDecimalText`` with the side partly updated.
        """
        cdef i128 rank
        cdef bint is_bid = self.is_bid
        if type(updates) is Levels:
            self._apply_levels(<Levels>updates)
            return
        for price, size in updates:
            rank = _price_rank(price, is_bid)
            side_set(&self.side, rank, price, size, _size_zero(size))

    cdef _apply_levels(self, Levels levels):
        """``apply`` on spans: a ``str`` only for a text the side keeps."""
        cdef const char *t = PyBytes_AS_STRING(levels.text)
        cdef Span *sp
        cdef Py_ssize_t i
        cdef i128 rank
        cdef int zero
        for i in range(levels.n):
            sp = &levels.spans[i]
            if sp.plain:  # the common case: values parsed when the array was read
                side_set_span(&self.side, sp.pv if self.is_bid else -sp.pv, NULL, t + sp.p,
                              sp.pn, NULL, t + sp.s, sp.sn, sp.sv == 0)
                continue
            if dec_parse(t + sp.p, sp.pn, 0, &rank) != 0:
                rank = _price_rank(ascii_text(t + sp.p, sp.pn), self.is_bid)  # raises
            elif not self.is_bid:
                rank = -rank
            zero = size_zero_text(t + sp.s, sp.sn)
            if zero < 0:
                zero = _size_zero(ascii_text(t + sp.s, sp.sn))
            side_set_span(&self.side, rank, NULL, t + sp.p, sp.pn, NULL, t + sp.s, sp.sn, zero)

    cdef inline object _key(self, const Level *lv):
        return i128_to_pylong(lv.rank if self.is_bid else -lv.rank)

    def best_level(self):
        """Best (key, size text), or ``None`` for an empty side."""
        cdef Level *lv = side_best(&self.side)
        if lv == NULL:
            return None
        return (self._key(lv), <object>lv.size)

    def best(self):
        """Best (exact price, size text), or ``None`` for an empty side."""
        cdef Level *lv = side_best(&self.side)
        if lv == NULL:
            return None
        return (Decimal(<object>lv.price), <object>lv.size)

    def top_levels(self, Py_ssize_t n):
        """The ``n`` best levels as (price text, size text), best first."""
        cdef Py_ssize_t bi = self.side.nblocks - 1, j, k = 0
        cdef Block *b
        cdef Level *lv
        out = []
        while bi >= 0 and k < n:
            b = self.side.blocks[bi]
            j = b.n - 1
            while j >= 0 and k < n:
                lv = &b.items[j]
                out.append((<object>lv.price, <object>lv.size))
                j -= 1
                k += 1
            bi -= 1
        return out

    def top(self, Py_ssize_t n):
        """The ``n`` best levels as (exact price, size text), best first."""
        return [(Decimal(p), s) for p, s in self.top_levels(n)]

    def truncate(self, Py_ssize_t depth):
        """Delete every level beyond the best ``depth``; return them as deletions.

        In insertion order, as the reference's dict iterates them, so the rows
        written for the deletions come out in the same order.
        """
        cdef Py_ssize_t drop = self.side.len - depth
        if drop <= 0:
            return []
        if drop > self.side.len:  # a negative depth: the reference keeps nothing
            drop = self.side.len
        stamped = self._in_insertion_order(drop, False)
        side_drop_worst(&self.side, drop)
        return [(price, _ZERO) for _, _, price, _ in stamped]

    @property
    def levels(self):
        """Key -> size text, in the reference's dict order (a copy, for tools and tests)."""
        return {key: size for _, key, _, size in self._in_insertion_order(self.side.len, True)}

    @property
    def texts(self):
        """Key -> price text of the live levels (a copy)."""
        return {key: price for _, key, price, _ in self._in_insertion_order(self.side.len, True)}

    cdef list _in_insertion_order(self, Py_ssize_t count, bint keys):
        """(stamp, key or None, price, size) of the ``count`` worst levels, oldest first."""
        cdef Py_ssize_t bi, j
        cdef Block *b
        cdef Level *lv
        rows = []
        for bi in range(self.side.nblocks):
            b = self.side.blocks[bi]
            for j in range(b.n):
                if len(rows) == count:
                    break
                lv = &b.items[j]
                rows.append(
                    (lv.order, self._key(lv) if keys else None, <object>lv.price, <object>lv.size)
                )
        rows.sort(key=_stamp)
        return rows

    def __len__(self):
        return self.side.len

    cdef inline bint _crosses(self, BookSide asks):
        cdef Level *bid = side_best(&self.side)
        cdef Level *ask = side_best(&asks.side)
        if bid == NULL or ask == NULL:
            return False
        return bid.rank >= -ask.rank  # bid key >= ask key; ranks are key and -key


cdef class OrderBook:
    """Bids and asks of one symbol."""

    cdef readonly BookSide bids
    cdef readonly BookSide asks

    def __init__(self):
        self.bids = BookSide(True)
        self.asks = BookSide(False)

    def clear(self):
        self.bids.clear()
        self.asks.clear()

    def is_crossed(self):
        """True when the best bid is at or above the best ask: a book that cannot be right."""
        return self.bids._crosses(self.asks)

    def as_dict(self):
        """Exact numeric view, for comparisons in tests and tools."""
        out = {}
        for name, side in (("bids", self.bids), ("asks", self.asks)):
            texts = side.texts  # a fresh copy per access: read it once per side
            out[name] = {Decimal(texts[k]): Decimal(s) for k, s in side.levels.items()}
        return out



cdef inline Py_ssize_t _seq_slot(int64_t key, int shift):
    """Fibonacci hashing: the product's top bits, so every bit of the id counts."""
    return <Py_ssize_t>(((<uint64_t>key) * 0x9E3779B97F4A7C15ULL) >> shift)


cdef inline int64_t _seq_key(object key) except? -1:
    if not PyLong_Check(key):
        raise TypeError(f"an update id is an int, not {type(key).__name__}")
    return key  # OverflowError beyond int64


cdef inline int _seq_limit(Py_ssize_t limit) except -1:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return 0


cdef class SeqMap:
    """Update id -> object, oldest first: ``collector.book.seq_map.SeqMap`` in C.

    A ring of (id, value) in arrival order, holes where ``pop`` took one from the
    middle, and a linear-probing index from id to ring position. Every operation is
    one call with no iterator or node object, which is what the ordered dict cost.
    """

    cdef int64_t *keys
    cdef PyObject **vals  # NULL: a hole
    cdef int64_t *index  # ring position of each id, -1 for a free slot
    cdef Py_ssize_t mask, imask  # ring size - 1, index size - 1
    cdef int shift  # 64 - log2(index size)
    cdef int64_t head, tail  # ring positions of the oldest entry and the next free one
    cdef Py_ssize_t n

    def __cinit__(self):
        self._allocate(16)

    def __dealloc__(self):
        self._detach()
        PyMem_Free(self.keys)
        PyMem_Free(self.vals)
        PyMem_Free(self.index)

    cdef int _allocate(self, Py_ssize_t ring) except -1:
        cdef Py_ssize_t i
        self.keys = <int64_t *>PyMem_Malloc(ring * sizeof(int64_t))
        self.vals = <PyObject **>PyMem_Malloc(ring * sizeof(PyObject *))
        self.index = <int64_t *>PyMem_Malloc(2 * ring * sizeof(int64_t))
        if self.keys == NULL or self.vals == NULL or self.index == NULL:
            raise MemoryError()
        for i in range(ring):
            self.vals[i] = NULL
        for i in range(2 * ring):
            self.index[i] = -1
        self.mask = ring - 1
        self.imask = 2 * ring - 1
        self.shift = 64
        while (<Py_ssize_t>1 << (64 - self.shift)) < 2 * ring:
            self.shift -= 1
        self.head = self.tail = 0
        self.n = 0
        return 0

    cdef list _detach(self):
        """Empty every slot and return the values it held: dropping the list lets them
        go, once the caller has made the map consistent (a value's destructor may look)."""
        cdef int64_t a
        cdef PyObject *v
        values = []
        for a in range(self.head, self.tail):
            v = self.vals[a & self.mask]
            if v != NULL:
                self.vals[a & self.mask] = NULL
                values.append(<object>v)
                Py_DECREF(<object>v)  # the list holds it now
        return values

    cdef int64_t _find(self, int64_t key, Py_ssize_t *slot):
        cdef Py_ssize_t i = _seq_slot(key, self.shift)
        cdef int64_t a
        while True:
            a = self.index[i]
            if a < 0 or self.keys[a & self.mask] == key:
                slot[0] = i
                return a
            i = (i + 1) & self.imask

    cdef void _unindex(self, Py_ssize_t i):
        """Free index slot ``i``, shifting later entries of its probe run back."""
        cdef Py_ssize_t j = i, home
        cdef int64_t a
        while True:
            j = (j + 1) & self.imask
            a = self.index[j]
            if a < 0:
                self.index[i] = -1
                return
            home = _seq_slot(self.keys[a & self.mask], self.shift)
            # The entry at j may move to i unless its home lies cyclically in (i, j].
            if (j > i and (home <= i or home > j)) or (j < i and home <= i and home > j):
                self.index[i] = a
                i = j

    cdef void _remove(self, int64_t a, Py_ssize_t slot):
        cdef PyObject *v = self.vals[a & self.mask]
        self.vals[a & self.mask] = NULL
        self.n -= 1
        self._unindex(slot)
        while self.head < self.tail and self.vals[self.head & self.mask] == NULL:
            self.head += 1
        Py_DECREF(<object>v)

    cdef void _remove_oldest(self):
        cdef Py_ssize_t slot
        self._find(self.keys[self.head & self.mask], &slot)
        self._remove(self.head, slot)

    cdef int _set(self, int64_t key, object value) except -1:
        cdef Py_ssize_t slot
        cdef int64_t a = self._find(key, &slot)
        cdef PyObject *old
        if a >= 0:
            old = self.vals[a & self.mask]
            Py_INCREF(value)
            self.vals[a & self.mask] = <PyObject *>value
            Py_DECREF(<object>old)
            return 0
        if self.tail - self.head > self.mask:  # the ring is full, holes included
            self._rebuild(self.mask + 1 if 2 * self.n <= self.mask else 2 * (self.mask + 1))
            self._find(key, &slot)
        a = self.tail
        self.tail += 1
        self.keys[a & self.mask] = key
        Py_INCREF(value)
        self.vals[a & self.mask] = <PyObject *>value
        self.index[slot] = a
        self.n += 1
        return 0

    cdef int _rebuild(self, Py_ssize_t ring) except -1:
        """Move the live entries, oldest first, into a ring of ``ring`` slots."""
        cdef int64_t *keys = self.keys
        cdef PyObject **vals = self.vals
        cdef int64_t *index = self.index
        cdef int64_t head = self.head, tail = self.tail, a
        cdef Py_ssize_t mask = self.mask, slot
        cdef int shift = self.shift
        self.keys = NULL
        self.vals = NULL
        self.index = NULL
        try:
            self._allocate(ring)
        except MemoryError:
            PyMem_Free(self.keys)
            PyMem_Free(self.vals)
            PyMem_Free(self.index)
            self.keys, self.vals, self.index = keys, vals, index
            self.mask, self.imask, self.shift = mask, 2 * mask + 1, shift
            self.head, self.tail = head, tail
            raise
        for a in range(head, tail):
            if vals[a & mask] != NULL:
                self._find(keys[a & mask], &slot)
                self.keys[self.tail] = keys[a & mask]
                self.vals[self.tail] = vals[a & mask]  # the reference moves with it
                self.index[slot] = self.tail
                self.tail += 1
                self.n += 1
        PyMem_Free(keys)
        PyMem_Free(vals)
        PyMem_Free(index)
        return 0

    def __len__(self):
        return self.n

    def get(self, key):
        """The value of ``key``, or None."""
        cdef Py_ssize_t slot
        cdef int64_t a = self._find(_seq_key(key), &slot)
        return None if a < 0 else <object>self.vals[a & self.mask]

    def put(self, key, value, Py_ssize_t limit):
        """Set ``key``, then drop the oldest entry if there are more than ``limit``."""
        _seq_limit(limit)
        self._set(_seq_key(key), value)
        if self.n > limit:
            self._remove_oldest()

    def hold(self, key, value, Py_ssize_t limit):
        """Drop the oldest entry if there are ``limit`` already, then set ``key``."""
        cdef int64_t k = _seq_key(key)
        _seq_limit(limit)
        if self.n >= limit:
            self._remove_oldest()
        self._set(k, value)

    def pop(self, key):
        """Remove ``key`` and return its value, or None."""
        cdef Py_ssize_t slot
        cdef int64_t a = self._find(_seq_key(key), &slot)
        if a < 0:
            return None
        value = <object>self.vals[a & self.mask]
        self._remove(a, slot)
        return value

    def drop_below(self, key):
        """Drop entries from the oldest on while their id is below ``key``."""
        cdef int64_t k = _seq_key(key)
        while self.n and self.keys[self.head & self.mask] < k:
            self._remove_oldest()

    def clear(self):
        """Empty the map first, then let the values go: a value's destructor that
        looks at the map finds it empty, never a slot already released."""
        cdef Py_ssize_t i
        values = self._detach()
        for i in range(self.imask + 1):
            self.index[i] = -1
        self.head = self.tail = 0
        self.n = 0
        del values

cdef inline int _put_plain(object text, char *out, bint signed=False):
    """Write the decimal128 value of plain decimal text (a leading "-" when ``signed``)
    at ``out``; -1, nothing written, when the text is not of that shape."""
    cdef i128 v
    cdef const char *s
    cdef Py_ssize_t length
    cdef bint negative
    if not _ascii(text):
        return -1
    s = <const char *>PyUnicode_DATA(text)
    length = PyUnicode_GET_LENGTH(text)
    negative = signed and length > 0 and s[0] == 45  # "-"
    if dec_parse_plain(s + negative, length - negative, &v):
        return -1
    if negative:
        v = -v
    memcpy(out, &v, 16)
    return 0


def decimal_column(list texts, bint signed=False):
    """One decimal128(38, 18) column of decimal text (``None`` is null), without an
    Arrow cast per column.

    Returns ``(data bytes, validity bytes or None)``, or ``None`` when a text is not
    of the plain shape (optionally signed) Arrow's cast takes as is: the reference
    (``schema.exact_decimals``) then converts the column, or refuses it, with its rules.
    """
    cdef Py_ssize_t i, n = len(texts)
    cdef unsigned char *valid = NULL
    data_bytes = PyBytes_FromStringAndSize(NULL, n * 16)
    cdef char *data = PyBytes_AS_STRING(data_bytes)
    validity = None
    for i in range(n):
        text = texts[i]
        if text is None:
            if validity is None:
                validity = PyBytes_FromStringAndSize(NULL, (n + 7) // 8)
                valid = <unsigned char *>PyBytes_AS_STRING(validity)
                memset(valid, 0xFF, (n + 7) // 8)
            valid[i >> 3] &= ~(1 << (i & 7))
            memset(data + 16 * i, 0, 16)
            continue
        if _put_plain(text, data + 16 * i, signed):
            return None
    return data_bytes, validity


# -- row columns: trades, bbo and the derivative tables, one value at a time ---------

#: Column kinds of ``RowColumns`` (the letters its constructor takes).
cdef enum:
    K_LABEL = 76      # "L": dictionary-encoded text, dictionary in order of first appearance
    K_BUY_SELL = 66   # "B": 0 for "buy", 1 for anything else (the trades table's sides)
    K_INT = 73        # "I": int64, None is null (timestamps too)
    K_DEC = 68        # "D": decimal128(38, 18) from plain decimal text, None is null
    K_SDEC = 100      # "d": the same, a leading "-" allowed
    K_OBJ = 79        # "O": kept as the Python value, converted by Arrow at the end

cdef void *_grown(void *p, Py_ssize_t nbytes) except NULL:
    cdef void *q = PyMem_Realloc(p, nbytes if nbytes else 1)
    if q == NULL:
        raise MemoryError()
    return q


cdef int32_t _label_index(dict codes, object value) except -1:
    found = codes.get(value)
    if found is None:
        index = len(codes)
        codes[value] = index
        return index
    return found


cdef inline void _set_bit(unsigned char *bits, Py_ssize_t i, bint on):
    """Set or clear bit ``i``: a row rewritten after a failed append keeps no stale bit."""
    if on:
        bits[i >> 3] |= <unsigned char>(1 << (i & 7))
    else:
        bits[i >> 3] &= <unsigned char>~(1 << (i & 7))


cdef Py_ssize_t _width(int kind):
    if kind == K_DEC or kind == K_SDEC:
        return 16
    if kind == K_INT:
        return 8
    if kind == K_LABEL or kind == K_BUY_SELL:
        return 4
    return 0


cdef class RowColumns:
    """One table's rows, each value written to its column's C buffer as it arrives.

    Why: the reference buffers a ``(message, market)`` tuple per row and walks the rows
    once per column when it drains, which cost more per bbo row than decoding its frame
    (issue 12), and all of it on the daemon's event loop. Here a row is read straight
    from the message's fields (``names``; ``"market"`` is the argument) into
    dictionary indices, int64 values and decimal128 bytes, and ``collector.tables``
    turns the buffers into Arrow arrays without a Python object per row. Decimal text
    that is not plain (an exponent, junk) is set aside per cell in ``odd`` for the
    reference's conversion, which also decides whether the row can be stored.
    """

    cdef readonly tuple names
    cdef readonly bytes kinds
    cdef readonly Py_ssize_t rows
    cdef readonly list odd
    cdef Py_ssize_t ncols, cap, market_column
    cdef char **data
    cdef unsigned char **valid
    cdef list codes  # per column: value -> index (labels), else None
    cdef list objects  # per column: the values (K_OBJ), else None
    cdef list nulls  # per column: a null was seen
    cdef list _values  # the row being appended, one value per column
    cdef int64_t *_ints  # its integers, converted before anything is written
    cdef object _type  # the message type ``_offsets`` was resolved for
    cdef unsigned int _version  # its version tag then
    cdef Py_ssize_t *_offsets  # per column: its field's slot offset in ``_type``, or -1

    def __cinit__(self, tuple names, bytes kinds):
        if len(names) != len(kinds):
            raise ValueError("one kind per column")
        self.ncols = len(names)
        self.data = <char **>PyMem_Malloc(self.ncols * sizeof(char *))
        self.valid = <unsigned char **>PyMem_Malloc(self.ncols * sizeof(unsigned char *))
        self._ints = <int64_t *>PyMem_Malloc(self.ncols * sizeof(int64_t) + 1)
        self._offsets = <Py_ssize_t *>PyMem_Malloc(self.ncols * sizeof(Py_ssize_t) + 1)
        if (self.data == NULL or self.valid == NULL or self._ints == NULL
                or self._offsets == NULL):
            raise MemoryError()
        memset(self.data, 0, self.ncols * sizeof(char *))
        memset(self.valid, 0, self.ncols * sizeof(unsigned char *))

    def __init__(self, tuple names, bytes kinds):
        for kind in kinds:
            if kind not in b"LBIDdO":
                raise ValueError(f"unknown column kind {chr(kind)!r}")
        self.names = tuple(sys_intern(n) for n in names)
        self.market_column = names.index("market") if "market" in names else -1
        self.kinds = kinds
        self.rows = 0
        self.cap = 0
        self.odd = []
        self.codes = [{} if k == K_LABEL else None for k in kinds]
        self.objects = [[] if k == K_OBJ else None for k in kinds]
        self.nulls = [False] * self.ncols
        self._values = [None] * self.ncols

    def __dealloc__(self):
        cdef Py_ssize_t c
        if self.data != NULL and self.valid != NULL:
            for c in range(self.ncols):
                PyMem_Free(self.data[c])
                PyMem_Free(self.valid[c])
        PyMem_Free(self.data)
        PyMem_Free(self.valid)
        PyMem_Free(self._ints)
        PyMem_Free(self._offsets)

    cdef int _resolve(self, object message_type) except -1:
        """Find where each column's field lives in instances of ``message_type``.

        Reading a field by name costs a type lookup and a descriptor call, about 25 ns,
        nine times a bbo row. A field that is a plain slot (a msgspec struct field is
        one: a member descriptor) is read at its offset instead, which is what the
        descriptor itself would do; any other attribute keeps the lookup by name.
        """
        cdef Py_ssize_t c
        cdef PyMemberDef *member
        generic = message_type.__getattribute__ is object.__getattribute__
        for c in range(self.ncols):
            self._offsets[c] = -1
            if c == self.market_column or not generic:
                continue
            descriptor = _MISSING
            for klass in message_type.__mro__:
                descriptor = klass.__dict__.get(self.names[c], _MISSING)
                if descriptor is not _MISSING:
                    break
            if type(descriptor) is MemberDescriptorType and issubclass(
                message_type, descriptor.__objclass__
            ):
                member = (<PyMemberDescrObject *>descriptor).d_member
                if member.type == T_OBJECT_EX or member.type == T_OBJECT:
                    self._offsets[c] = member.offset
        self._type = message_type
        # Looking ``__getattribute__`` up gave the type a version tag if it had none;
        # a change to the class (a field replaced by a property, say) changes the tag.
        self._version = (<PyTypeObjectVersion *>message_type).tp_version_tag
        return 0

    cdef inline object _field(self, object message, Py_ssize_t c):
        cdef Py_ssize_t offset = self._offsets[c]
        cdef PyObject *slot
        if offset >= 0:
            slot = (<PyObject **>((<char *><PyObject *>message) + offset))[0]
            if slot != NULL:
                return <object>slot
        return PyObject_GetAttr(message, self.names[c])  # the attribute's own answer

    cdef int _grow(self) except -1:
        cdef Py_ssize_t c, cap = self.cap * 2 if self.cap else 1024
        cdef Py_ssize_t old_bits = (self.cap + 7) // 8, bits = (cap + 7) // 8
        cdef const char *kinds = self.kinds
        for c in range(self.ncols):
            if _width(kinds[c]):
                self.data[c] = <char *>_grown(self.data[c], cap * _width(kinds[c]))
            self.valid[c] = <unsigned char *>_grown(self.valid[c], bits)
            memset(self.valid[c] + old_bits, 0, bits - old_bits)
        self.cap = cap
        return 0

    def __len__(self):
        return self.rows

    def append(self, tuple row_source):
        """One ``(message, market)`` row, as the reference's lists take it: each column
        is the like-named field of ``message``, and ``market`` the market column.

        All or nothing: every value is read (and each integer converted) before any
        is written, so a missing field or an integer beyond int64 raises with the
        buffers as they were."""
        cdef Py_ssize_t c, row = self.rows
        cdef int kind
        cdef const char *kinds = self.kinds
        cdef list values = self._values
        cdef int32_t index
        cdef char *cell
        message, market = row_source
        if type(message) is not self._type or not _same_version(message, self._version):
            self._resolve(type(message))
        for c in range(self.ncols):
            value = market if c == self.market_column else self._field(message, c)
            if kinds[c] == K_INT and value is not None:
                self._ints[c] = value
            values[c] = value
        if row == self.cap:
            self._grow()
        for c in range(self.ncols):
            value = values[c]
            kind = kinds[c]
            if kind == K_OBJ:
                (<list>self.objects[c]).append(value)
                continue
            _set_bit(self.valid[c], row, value is not None)
            if value is None:
                self.nulls[c] = True
                if _width(kind):
                    memset(self.data[c] + row * _width(kind), 0, _width(kind))
                continue
            if kind == K_DEC or kind == K_SDEC:
                cell = self.data[c] + 16 * row
                if _put_plain(value, cell, kind == K_SDEC):
                    memset(cell, 0, 16)
                    self.odd.append((row, c, value))
            elif kind == K_INT:
                memcpy(self.data[c] + 8 * row, &self._ints[c], 8)
            elif kind == K_LABEL:
                index = _label_index(<dict>self.codes[c], value)
                memcpy(self.data[c] + 4 * row, &index, 4)
            else:  # K_BUY_SELL
                index = 0 if value == "buy" else 1
                memcpy(self.data[c] + 4 * row, &index, 4)
        self.rows = row + 1

    def column(self, Py_ssize_t c):
        """Column ``c`` as ``(data bytes, validity bytes or None, extra)``: ``extra`` is
        the label dictionary's values in index order, or the values of an ``O`` column
        (whose data and validity are then None)."""
        cdef int kind = self.kinds[c]
        if not 0 <= c < self.ncols:
            raise IndexError("column index out of range")
        if kind == K_OBJ:
            return None, None, list(self.objects[c])
        data = PyBytes_FromStringAndSize(self.data[c], self.rows * _width(kind))
        validity = None
        if self.nulls[c]:
            validity = PyBytes_FromStringAndSize(<char *>self.valid[c], (self.rows + 7) // 8)
        extra = list(self.codes[c]) if kind == K_LABEL else None
        return data, validity, extra


cdef class BookRows:
    """The book table's rows, written level by level into C column buffers as each
    message is buffered.

    Why: the reference keeps each message's level lists until the drain, then expands
    the message values to rows with numpy and frees every level object at once; in
    the daemon both ran on the event loop, the larger part of a hand-off's pause.
    Here a message's levels are read once, from their spans (or their text), while
    they are still in cache, and a drain is a copy per column. A message with a
    price or size that is not plain text keeps its level lists in ``odd``, its
    decimal cells zero: ``collector.row_columns`` converts (or refuses) them with the
    reference's rules.
    """

    cdef readonly Py_ssize_t rows
    cdef readonly list odd
    cdef Py_ssize_t cap
    cdef int32_t *symbol
    cdef int32_t *market
    cdef int32_t *side
    cdef int64_t *ts_exchange
    cdef int64_t *ts_recv
    cdef int64_t *seq
    cdef int64_t *apply_seq
    cdef unsigned char *exchange_valid
    cdef unsigned char *snapshot_bits
    cdef char *price
    cdef char *size
    cdef readonly bint exchange_nulls
    cdef dict symbols, markets

    def __init__(self):
        self.odd = []
        self.symbols = {}
        self.markets = {}

    def __dealloc__(self):
        PyMem_Free(self.symbol)
        PyMem_Free(self.market)
        PyMem_Free(self.side)
        PyMem_Free(self.ts_exchange)
        PyMem_Free(self.ts_recv)
        PyMem_Free(self.seq)
        PyMem_Free(self.apply_seq)
        PyMem_Free(self.exchange_valid)
        PyMem_Free(self.snapshot_bits)
        PyMem_Free(self.price)
        PyMem_Free(self.size)

    def __len__(self):
        return self.rows

    cdef int _reserve(self, Py_ssize_t more) except -1:
        cdef Py_ssize_t cap = self.cap if self.cap else 4096
        cdef Py_ssize_t old_bits = (self.cap + 7) // 8, bits
        while cap < self.rows + more:
            cap *= 2
        if cap == self.cap:
            return 0
        bits = (cap + 7) // 8
        self.symbol = <int32_t *>_grown(self.symbol, cap * 4)
        self.market = <int32_t *>_grown(self.market, cap * 4)
        self.side = <int32_t *>_grown(self.side, cap * 4)
        self.ts_exchange = <int64_t *>_grown(self.ts_exchange, cap * 8)
        self.ts_recv = <int64_t *>_grown(self.ts_recv, cap * 8)
        self.seq = <int64_t *>_grown(self.seq, cap * 8)
        self.apply_seq = <int64_t *>_grown(self.apply_seq, cap * 8)
        self.price = <char *>_grown(self.price, cap * 16)
        self.size = <char *>_grown(self.size, cap * 16)
        self.exchange_valid = <unsigned char *>_grown(self.exchange_valid, bits)
        self.snapshot_bits = <unsigned char *>_grown(self.snapshot_bits, bits)
        memset(self.exchange_valid + old_bits, 0, bits - old_bits)
        memset(self.snapshot_bits + old_bits, 0, bits - old_bits)
        self.cap = cap
        return 0

    def append(self, str symbol, str market, object ts_exchange, int64_t ts_recv,
               int64_t seq, int64_t apply_seq, bint is_snapshot, object bids, object asks):
        """One message's rows: bids then asks, ``apply_seq`` counting up from the first."""
        cdef Py_ssize_t first = self.rows, row = first, n_bids = len(bids)
        cdef Py_ssize_t n = n_bids + len(asks)
        cdef int32_t symbol_index, market_index
        cdef int64_t exchange_time = 0 if ts_exchange is None else ts_exchange
        cdef bint plain, has_time = ts_exchange is not None
        if not n:
            return  # no row: its labels do not enter the dictionaries either
        symbol_index = _label_index(self.symbols, symbol)
        market_index = _label_index(self.markets, market)
        self._reserve(n)
        plain = self._put_levels(bids, first) == 0  # both sides written, whatever the first
        plain = (self._put_levels(asks, first + n_bids) == 0) and plain
        for row in range(first, first + n):
            self.symbol[row] = symbol_index
            self.market[row] = market_index
            self.ts_exchange[row] = exchange_time
            self.ts_recv[row] = ts_recv
            self.seq[row] = seq
            self.apply_seq[row] = apply_seq + (row - first)
            self.side[row] = 0 if row - first < n_bids else 1
            _set_bit(self.exchange_valid, row, has_time)
            _set_bit(self.snapshot_bits, row, is_snapshot)
        if not has_time:
            self.exchange_nulls = True
        self.rows = first + n
        if not plain:
            self.odd.append((first, symbol, ts_recv, seq, list(bids), list(asks)))

    cdef Py_ssize_t _put_levels(self, object levels, Py_ssize_t row) except -2:
        """Prices and sizes of one level list from ``row`` on (zero where a text is not
        plain); -1 when one is not."""
        cdef Levels spans
        cdef Py_ssize_t i
        cdef int result = 0
        if type(levels) is Levels:
            spans = <Levels>levels
            for i in range(spans.n):
                if spans.spans[i].plain:
                    memcpy(self.price + 16 * (row + i), &spans.spans[i].pv, 16)
                    memcpy(self.size + 16 * (row + i), &spans.spans[i].sv, 16)
                else:
                    memset(self.price + 16 * (row + i), 0, 16)
                    memset(self.size + 16 * (row + i), 0, 16)
                    result = -1
            return result
        for price, size in levels:
            if _put_plain(price, self.price + 16 * row) or _put_plain(size, self.size + 16 * row):
                memset(self.price + 16 * row, 0, 16)  # as for a span that is not plain
                memset(self.size + 16 * row, 0, 16)
                result = -1
            row += 1
        return result

    def columns(self):
        """Every column's buffers by name: ``(data, validity or None)``; the label columns'
        dictionaries as ``symbol_values`` and ``market_values``."""
        cdef Py_ssize_t n = self.rows, bits = (self.rows + 7) // 8
        return {
            "symbol": (PyBytes_FromStringAndSize(<char *>self.symbol, 4 * n), None),
            "market": (PyBytes_FromStringAndSize(<char *>self.market, 4 * n), None),
            "ts_exchange": (
                PyBytes_FromStringAndSize(<char *>self.ts_exchange, 8 * n),
                PyBytes_FromStringAndSize(<char *>self.exchange_valid, bits)
                if self.exchange_nulls else None,
            ),
            "ts_recv": (PyBytes_FromStringAndSize(<char *>self.ts_recv, 8 * n), None),
            "seq": (PyBytes_FromStringAndSize(<char *>self.seq, 8 * n), None),
            "apply_seq": (PyBytes_FromStringAndSize(<char *>self.apply_seq, 8 * n), None),
            "is_snapshot": (PyBytes_FromStringAndSize(<char *>self.snapshot_bits, bits), None),
            "side": (PyBytes_FromStringAndSize(<char *>self.side, 4 * n), None),
            "price": (PyBytes_FromStringAndSize(self.price, 16 * n), None),
            "size": (PyBytes_FromStringAndSize(self.size, 16 * n), None),
            "symbol_values": list(self.symbols),
            "market_values": list(self.markets),
        }


# -- JSON numbers as text (venues that send prices as numbers) ----------------------


cdef object _plain_number(object raw):
    """The text of ``raw`` (a ``msgspec.Raw`` or bytes) when it is a JSON number without
    an exponent, else None."""
    cdef Py_buffer view
    if isinstance(raw, str):
        return None
    PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE)
    try:
        if json_plain_number(<const char *>view.buf, view.len):
            return ascii_text(<const char *>view.buf, view.len)
        return None
    finally:
        PyBuffer_Release(&view)


def json_number(object raw):
    """``decimal_text.json_number``: a plain number's own text without a regex and a
    decode; ``null``, exponents and anything refused go to the reference, so every
    value and every error is the reference's."""
    text = _plain_number(raw)
    return text if text is not None else _json_number_ref(raw)


def json_decimal(object raw):
    """``decimal_text.json_decimal``, the same way."""
    text = _plain_number(raw)
    return text if text is not None else _json_decimal_ref(raw)


# -- checksums over the book's own texts --------------------------------------------


cdef bint _all_ascii(levels):
    for price, size in levels:
        if not (_ascii(price) and _ascii(size)):
            return False
    return True


def kraken_crc32(bids, asks):
    """``checksum.kraken_crc32`` without building the digit string in Python."""
    cdef uint32_t crc = 0
    if not (_all_ascii(asks) and _all_ascii(bids)):
        from collector.book.checksum import kraken_crc32_reference  # imports this module

        return kraken_crc32_reference(bids, asks)
    for levels in (asks, bids):
        for price, size in levels:
            crc = crc32_kraken_digits(
                crc, <const char *>PyUnicode_DATA(price), PyUnicode_GET_LENGTH(price)
            )
            crc = crc32_kraken_digits(
                crc, <const char *>PyUnicode_DATA(size), PyUnicode_GET_LENGTH(size)
            )
    return crc


cdef inline uint32_t _crc_text(uint32_t crc, object text):
    return crc32_update(crc, <const char *>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text))


def interleaved_crc32(bids, asks):
    """``checksum.interleaved_crc32`` without building the ``price:size`` string in Python."""
    cdef uint32_t crc = 0
    cdef Py_ssize_t i, nb = len(bids), na = len(asks)
    cdef bint first = True
    if not (_all_ascii(asks) and _all_ascii(bids)):
        from collector.book.checksum import interleaved_crc32_reference

        return interleaved_crc32_reference(bids, asks)
    for i in range(max(nb, na)):
        for levels, n in ((bids, nb), (asks, na)):
            if i < n:
                price, size = levels[i]
                if not first:
                    crc = crc32_update(crc, b":", 1)
                first = False
                crc = _crc_text(crc, price)
                crc = crc32_update(crc, b":", 1)
                crc = _crc_text(crc, size)
    return <long long>crc - (1 << 32) if crc >= (1u << 31) else <long long>crc
