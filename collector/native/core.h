/* The per-level work of the native core, in C: exact decimal text and L2 book sides.
 *
 * Decimal text: the accept/reject rules of collector/decimal_text.py's parse_exact
 * (Python's Decimal grammar without spaces or underscores, finite, a sign only when
 * allowed, at most 20 integer and 18 significant fractional digits), giving the value
 * scaled by 10**18 as a 128-bit integer: decimal128(38, 18)'s own representation.
 *
 * A book side is an array sorted by rank (the key for bids, minus the key for asks),
 * so the best level is the last element: updates near the top, by far the most
 * common, move few elements, and best level / top-N are reads, not searches.
 */
#ifndef COLLECTOR_NATIVE_CORE_H
#define COLLECTOR_NATIVE_CORE_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef __int128 i128;

/* libmpdec's exponent range for a zero written with an exponent (Decimal refuses
 * the rest); nonzero values are bounded far tighter by decimal128(38, 18). */
#define DEC_ZERO_EXP_MAX 999999999999999999LL
#define DEC_ZERO_EXP_MIN (-1999999999999999997LL)
#define DEC_EXP_SATURATE 4000000000000000000LL

static inline int dec_is_digit(char c) { return c >= '0' && c <= '9'; }

/* Parse s[0:n]; 0 and *out set when storable exactly, -1 otherwise. */
static int dec_parse(const char *s, Py_ssize_t n, int allow_sign, i128 *out) {
    Py_ssize_t i = 0, int_start, int_end, frac_start, frac_end;
    int negative = 0;
    long long exp = 0;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        i = 1;
    }
    int_start = i;
    while (i < n && dec_is_digit(s[i])) i++;
    int_end = i;
    frac_start = frac_end = i;
    if (i < n && s[i] == '.') {
        i++;
        frac_start = i;
        while (i < n && dec_is_digit(s[i])) i++;
        frac_end = i;
    }
    if (int_end == int_start && frac_end == frac_start) return -1; /* no digits */
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int exp_negative = 0;
        Py_ssize_t exp_start;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            exp_negative = s[i] == '-';
            i++;
        }
        exp_start = i;
        while (i < n && dec_is_digit(s[i])) {
            if (exp < DEC_EXP_SATURATE / 10) exp = exp * 10 + (s[i] - '0');
            else exp = DEC_EXP_SATURATE;
            i++;
        }
        if (i == exp_start) return -1;
        if (exp_negative) exp = -exp;
    }
    if (i != n) return -1;
    if (negative && !allow_sign) return -1; /* -0 too: a sign means a misread field */
    /* The digits are int part then fraction part; value = digits * 10**e. */
    long long e = exp - (long long)(frac_end - frac_start);
    Py_ssize_t total = (int_end - int_start) + (frac_end - frac_start);
#define DIGIT(k) ((k) < int_end - int_start ? s[int_start + (k)] : s[frac_start + (k) - (int_end - int_start)])
    Py_ssize_t first = 0, last = total - 1;
    while (first < total && DIGIT(first) == '0') first++;
    if (first == total) {
        if (e < DEC_ZERO_EXP_MIN || e > DEC_ZERO_EXP_MAX) return -1;
        *out = 0;
        return 0;
    }
    while (DIGIT(last) == '0') last--;
    long long k = (long long)(last - first + 1);
    e += (long long)(total - 1 - last);
    if (e < -18 || k + e > 20) return -1;
    i128 v = 0;
    for (Py_ssize_t j = first; j <= last; j++) v = v * 10 + (DIGIT(j) - '0');
    for (long long j = 0; j < e + 18; j++) v *= 10;
#undef DIGIT
    *out = negative ? -v : v;
    return 0;
}

/* 10**k for k in 0..18: scaling to 18 fractional digits is one multiply. */
static const uint64_t POW10[19] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
    10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL, 1000000000000000000ULL};

/* The plain shape Arrow's cast takes as is (schema._PLAIN_DECIMAL): at most 20
 * digits, optionally a point and at most 18 more; or a point and 1 to 18 digits.
 * Digits add up in 64 bits while they fit (19 of them: every price and size seen),
 * in 128 bits beyond. */
static int dec_parse_plain(const char *s, Py_ssize_t n, i128 *out) {
    Py_ssize_t i = 0, frac_start, k;
    int int_digits, frac = 0;
    while (i < n && i <= 20 && dec_is_digit(s[i])) i++;
    int_digits = (int)i;
    if (int_digits > 20) return -1;
    frac_start = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && dec_is_digit(s[i])) {
            if (++frac > 18) return -1;
            i++;
        }
        if (int_digits == 0 && frac == 0) return -1;
    } else if (int_digits == 0) {
        return -1;
    }
    if (i != n) return -1;
    if (int_digits + frac <= 19) {
        uint64_t u = 0;
        for (k = 0; k < int_digits; k++) u = u * 10 + (uint64_t)(s[k] - '0');
        for (k = frac_start; k < frac_start + frac; k++) u = u * 10 + (uint64_t)(s[k] - '0');
        *out = (i128)u * (i128)POW10[18 - frac];
        return 0;
    }
    i128 v = 0;
    for (k = 0; k < int_digits; k++) v = v * 10 + (s[k] - '0');
    for (k = frac_start; k < frac_start + frac; k++) v = v * 10 + (s[k] - '0');
    *out = v * (i128)POW10[18 - frac];
    return 0;
}

/* Digits of a decimal as text, for error-free conversion to a Python int. */
static PyObject *i128_to_pylong(i128 v) {
    unsigned char bytes[16];
    memcpy(bytes, &v, 16); /* little-endian two's complement on every supported target */
    return _PyLong_FromByteArray(bytes, 16, 1, 1);
}

static int pylong_to_i128(PyObject *o, i128 *out) {
    unsigned char bytes[16];
    if (_PyLong_AsByteArray((PyLongObject *)o, bytes, 16, 1, 1) < 0) return -1;
    memcpy(out, bytes, 16);
    return 0;
}

/* -- CRC32 (zlib's: polynomial 0xEDB88320, chained like zlib.crc32(data, previous)) -- */

static uint32_t crc32_table[256];

static void crc32_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc32_table[i] = c;
    }
}

static inline uint32_t crc32_update(uint32_t previous, const char *s, Py_ssize_t n) {
    uint32_t c = previous ^ 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < n; i++) c = crc32_table[(c ^ (unsigned char)s[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* Kraken's digits of a decimal text: the point removed, then the leading zeros. */
static inline uint32_t crc32_kraken_digits(uint32_t crc, const char *s, Py_ssize_t n) {
    Py_ssize_t i = 0, start;
    while (i < n && (s[i] == '0' || s[i] == '.')) i++;
    while (i < n) {
        start = i;
        while (i < n && s[i] != '.') i++;
        crc = crc32_update(crc, s + start, i - start);
        if (i < n) i++; /* skip a point */
    }
    return crc;
}

/* -- book side ------------------------------------------------------------------ */

typedef struct {
    i128 rank;          /* key for bids, -key for asks: ascending, best last */
    PyObject *price;    /* price text as first sent (owned) */
    PyObject *size;     /* size text as last sent (owned) */
    uint64_t order;     /* insertion stamp: the reference book's dict order */
} Level;

/* Levels live in blocks of at most BLOCK_MAX, each sorted, in ascending order: an
 * insert or delete at any depth moves at most one block's levels (a flat array moved
 * ~100 kB per deep update on a 5,000-level Binance book). */
#define BLOCK_MAX 64

typedef struct {
    Py_ssize_t n;
    Level items[BLOCK_MAX];
} Block;

typedef struct {
    Block **blocks;
    Py_ssize_t nblocks, cap, len;
    uint64_t stamp;
} Side;

/* The block that holds rank r, or where it goes: the first whose last rank >= r. */
static inline Py_ssize_t side_block(const Side *s, i128 r) {
    Py_ssize_t lo = 0, hi = s->nblocks - 1;
    if (s->blocks[hi]->items[s->blocks[hi]->n - 1].rank < r) return hi; /* beyond the best */
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        const Block *b = s->blocks[mid];
        if (b->items[b->n - 1].rank < r) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static inline Py_ssize_t block_search(const Block *b, i128 r) {
    Py_ssize_t lo = 0, hi = b->n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        if (b->items[mid].rank < r) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Room for one more block pointer at index at; the new block is returned, empty. */
static Block *side_new_block(Side *s, Py_ssize_t at) {
    if (s->nblocks == s->cap) {
        Py_ssize_t cap = s->cap ? 2 * s->cap : 16;
        Block **blocks = (Block **)PyMem_Realloc(s->blocks, (size_t)cap * sizeof(Block *));
        if (blocks == NULL) return (Block *)PyErr_NoMemory();
        s->blocks = blocks;
        s->cap = cap;
    }
    Block *b = (Block *)PyMem_Malloc(sizeof(Block));
    if (b == NULL) return (Block *)PyErr_NoMemory();
    b->n = 0;
    memmove(&s->blocks[at + 1], &s->blocks[at], (size_t)(s->nblocks - at) * sizeof(Block *));
    s->blocks[at] = b;
    s->nblocks++;
    return b;
}

static void side_remove_block(Side *s, Py_ssize_t at) {
    PyMem_Free(s->blocks[at]);
    memmove(&s->blocks[at], &s->blocks[at + 1], (size_t)(s->nblocks - at - 1) * sizeof(Block *));
    s->nblocks--;
}

/* A text of a frame as a str: the scanner let only printable ASCII through. */
static inline PyObject *ascii_text(const char *t, Py_ssize_t n) {
    PyObject *o = PyUnicode_New(n, 127);
    if (o != NULL) memcpy(PyUnicode_DATA(o), t, (size_t)n);
    return o;
}

/* Set a level's size (a new level takes price as its text); delete it when zero.
 * A NULL price or size is made from its span of frame text (pt/pn, st/sn) when, and
 * only when, the side keeps it: a deletion or an update of a known price makes none. */
static int side_set_span(Side *s, i128 rank, PyObject *price, const char *pt, Py_ssize_t pn,
                         PyObject *size, const char *st, Py_ssize_t sn, int zero) {
    Py_ssize_t bi, at;
    Block *b;
    if (s->nblocks == 0) {
        if (zero) return 0;
        if (side_new_block(s, 0) == NULL) return -1;
        bi = 0;
        at = 0;
        b = s->blocks[0];
    } else {
        bi = side_block(s, rank);
        b = s->blocks[bi];
        at = block_search(b, rank);
        if (at < b->n && b->items[at].rank == rank) {
            Level *lv = &b->items[at];
            if (!zero) {
                if (size == NULL) {
                    if ((size = ascii_text(st, sn)) == NULL) return -1;
                } else {
                    Py_INCREF(size);
                }
                Py_SETREF(lv->size, size);
                return 0;
            }
            Py_DECREF(lv->price);
            Py_DECREF(lv->size);
            memmove(lv, lv + 1, (size_t)(b->n - at - 1) * sizeof(Level));
            b->n--;
            s->len--;
            if (b->n == 0) side_remove_block(s, bi);
            return 0;
        }
        if (zero) return 0;
        if (b->n == BLOCK_MAX) { /* split: the upper half moves to a new block after it */
            Block *upper = side_new_block(s, bi + 1);
            if (upper == NULL) return -1;
            upper->n = BLOCK_MAX / 2;
            memcpy(upper->items, &b->items[BLOCK_MAX / 2], (BLOCK_MAX / 2) * sizeof(Level));
            b->n = BLOCK_MAX / 2;
            if (at > BLOCK_MAX / 2) {
                b = upper;
                at -= BLOCK_MAX / 2;
            }
        }
    }
    if (price == NULL) {
        if ((price = ascii_text(pt, pn)) == NULL) return -1;
    } else {
        Py_INCREF(price);
    }
    if (size == NULL) {
        if ((size = ascii_text(st, sn)) == NULL) {
            Py_DECREF(price);
            return -1;
        }
    } else {
        Py_INCREF(size);
    }
    memmove(&b->items[at + 1], &b->items[at], (size_t)(b->n - at) * sizeof(Level));
    b->items[at].rank = rank;
    b->items[at].price = price;
    b->items[at].size = size;
    b->items[at].order = s->stamp++;
    b->n++;
    s->len++;
    return 0;
}

static inline int side_set(Side *s, i128 rank, PyObject *price, PyObject *size, int zero) {
    return side_set_span(s, rank, price, NULL, 0, size, NULL, 0, zero);
}

/* The reference's zero test on size text: strip '0' and '.' from both ends; nothing
 * left is zero, a leading 1-9 is not; -1 for anything else (the reference decides). */
static inline int size_zero_text(const char *t, Py_ssize_t n) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi && (t[lo] == '0' || t[lo] == '.')) lo++;
    while (hi > lo && (t[hi - 1] == '0' || t[hi - 1] == '.')) hi--;
    if (lo == hi) return 1;
    return (t[lo] >= '1' && t[lo] <= '9') ? 0 : -1;
}

/* -- JSON numbers as text ---------------------------------------------------------- */

/* Whether s[0:n] is a JSON number without an exponent, -?(0|[1-9][0-9]*)(.[0-9]+)?:
 * the text decimal_text.json_number returns as it is. */
static int json_plain_number(const char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && dec_is_digit(s[i])) i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        Py_ssize_t start = ++i;
        while (i < n && dec_is_digit(s[i])) i++;
        if (i == start) return 0;
    }
    return i == n;
}

/* -- level arrays read from frame text -------------------------------------------- */

/* Where one level's price and size texts lie in the array's text and, when both are
 * of the plain shape (dec_parse_plain), their values: parsed while the text is in
 * cache, used by the book and the book table alike. */
typedef struct {
    i128 pv, sv;
    Py_ssize_t p, pn, s, sn;
    int plain;
} Span;

static inline Py_ssize_t json_ws(const char *t, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) i++;
    return i;
}

/* A string's content from t[i] == '"': its start and length, the index after it; -1
 * for an escape, a control character or a non-ASCII byte (the general decoder's job). */
static inline Py_ssize_t json_plain_string(const char *t, Py_ssize_t i, Py_ssize_t n,
                                           Py_ssize_t *start, Py_ssize_t *len) {
    if (i >= n || t[i] != '"') return -1;
    Py_ssize_t j = ++i;
    while (j < n) {
        unsigned char c = (unsigned char)t[j];
        if (c == '"') {
            *start = i;
            *len = j - i;
            return j + 1;
        }
        if (c == '\\' || c < 0x20 || c >= 0x80) return -1;
        j++;
    }
    return -1;
}

/* Read t[0:n] as a JSON array of [price, size] string pairs into *out, which holds
 * *cap levels and grows (PyMem_Realloc) as needed. Returns the number of levels, -1
 * when the text is anything else (the caller then decodes it with msgspec, whose
 * value or error is the reference's), -2 when out of memory. */
static Py_ssize_t levels_scan(const char *t, Py_ssize_t n, Span **out, Py_ssize_t *cap) {
    Py_ssize_t i = json_ws(t, 0, n), k = 0;
    Span *sp;
    if (i >= n || t[i] != '[') return -1;
    i = json_ws(t, i + 1, n);
    if (i < n && t[i] == ']') return json_ws(t, i + 1, n) == n ? 0 : -1;
    for (;;) {
        if (i >= n || t[i] != '[') return -1;
        if (k == *cap) {
            Span *grown = (Span *)PyMem_Realloc(*out, (size_t)(2 * *cap) * sizeof(Span));
            if (grown == NULL) return -2;
            *out = grown;
            *cap *= 2;
        }
        sp = &(*out)[k];
        i = json_plain_string(t, json_ws(t, i + 1, n), n, &sp->p, &sp->pn);
        if (i < 0) return -1;
        i = json_ws(t, i, n);
        if (i >= n || t[i] != ',') return -1;
        i = json_plain_string(t, json_ws(t, i + 1, n), n, &sp->s, &sp->sn);
        if (i < 0) return -1;
        i = json_ws(t, i, n);
        if (i >= n || t[i] != ']') return -1;
        sp->plain = dec_parse_plain(t + sp->p, sp->pn, &sp->pv) == 0 &&
                    dec_parse_plain(t + sp->s, sp->sn, &sp->sv) == 0;
        k++;
        i = json_ws(t, i + 1, n);
        if (i < n && t[i] == ',') {
            i = json_ws(t, i + 1, n);
            continue;
        }
        if (i < n && t[i] == ']') return json_ws(t, i + 1, n) == n ? k : -1;
        return -1;
    }
}

/* The best level, or NULL when the side is empty. */
static inline Level *side_best(const Side *s) {
    if (s->nblocks == 0) return NULL;
    const Block *b = s->blocks[s->nblocks - 1];
    return (Level *)&b->items[b->n - 1];
}

/* Drop the `drop` worst levels (drop <= len), releasing their texts. */
static void side_drop_worst(Side *s, Py_ssize_t drop) {
    while (drop > 0) {
        Block *b = s->blocks[0];
        Py_ssize_t k = drop < b->n ? drop : b->n;
        for (Py_ssize_t j = 0; j < k; j++) {
            Py_DECREF(b->items[j].price);
            Py_DECREF(b->items[j].size);
        }
        memmove(&b->items[0], &b->items[k], (size_t)(b->n - k) * sizeof(Level));
        b->n -= k;
        s->len -= k;
        drop -= k;
        if (b->n == 0) side_remove_block(s, 0);
    }
}

static void side_clear(Side *s) {
    side_drop_worst(s, s->len);
}

static void side_free(Side *s) {
    side_clear(s);
    PyMem_Free(s->blocks);
    s->blocks = NULL;
    s->cap = 0;
}

#endif
