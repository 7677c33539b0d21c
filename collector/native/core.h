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

/* The plain shape Arrow's cast takes as is (schema._PLAIN_DECIMAL): at most 20
 * digits, optionally a point and at most 18 more; or a point and 1 to 18 digits. */
static int dec_parse_plain(const char *s, Py_ssize_t n, i128 *out) {
    Py_ssize_t i = 0;
    i128 v = 0;
    while (i < n && dec_is_digit(s[i])) v = v * 10 + (s[i++] - '0');
    Py_ssize_t int_digits = i;
    if (int_digits > 20) return -1;
    int frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && dec_is_digit(s[i])) {
            if (++frac > 18) return -1;
            v = v * 10 + (s[i++] - '0');
        }
        if (int_digits == 0 && frac == 0) return -1;
    } else if (int_digits == 0) {
        return -1;
    }
    if (i != n) return -1;
    for (int j = frac; j < 18; j++) v *= 10;
    *out = v;
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

/* -- book side ------------------------------------------------------------------ */

typedef struct {
    i128 rank;          /* key for bids, -key for asks: ascending, best last */
    PyObject *price;    /* price text as first sent (owned) */
    PyObject *size;     /* size text as last sent (owned) */
    uint64_t order;     /* insertion stamp: the reference book's dict order */
} Level;

typedef struct {
    Level *items;
    Py_ssize_t len, cap;
    uint64_t stamp;
} Side;

/* Index of the first level with rank >= r (len if none). */
static inline Py_ssize_t side_search(const Side *s, i128 r) {
    Py_ssize_t lo = 0, hi = s->len;
    /* Most updates hit the top of the book: check the best level's neighbourhood first. */
    if (hi > 0 && s->items[hi - 1].rank < r) return hi;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        if (s->items[mid].rank < r) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int side_reserve(Side *s, Py_ssize_t need) {
    if (need <= s->cap) return 0;
    Py_ssize_t cap = s->cap ? s->cap : 64;
    while (cap < need) cap *= 2;
    Level *items = (Level *)PyMem_Realloc(s->items, (size_t)cap * sizeof(Level));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->items = items;
    s->cap = cap;
    return 0;
}

/* Set a level's size (new levels take price as their text); delete it when zero. */
static int side_set(Side *s, i128 rank, PyObject *price, PyObject *size, int zero) {
    Py_ssize_t at = side_search(s, rank);
    int found = at < s->len && s->items[at].rank == rank;
    if (zero) {
        if (found) {
            Py_DECREF(s->items[at].price);
            Py_DECREF(s->items[at].size);
            memmove(&s->items[at], &s->items[at + 1], (size_t)(s->len - at - 1) * sizeof(Level));
            s->len--;
        }
        return 0;
    }
    if (found) {
        Py_INCREF(size);
        Py_SETREF(s->items[at].size, size);
        return 0;
    }
    if (side_reserve(s, s->len + 1) < 0) return -1;
    memmove(&s->items[at + 1], &s->items[at], (size_t)(s->len - at) * sizeof(Level));
    Py_INCREF(price);
    Py_INCREF(size);
    s->items[at].rank = rank;
    s->items[at].price = price;
    s->items[at].size = size;
    s->items[at].order = s->stamp++;
    s->len++;
    return 0;
}

/* Drop the lowest-ranked levels so at most keep remain (their references released). */
static void side_drop_worst(Side *s, Py_ssize_t drop) {
    for (Py_ssize_t j = 0; j < drop; j++) {
        Py_DECREF(s->items[j].price);
        Py_DECREF(s->items[j].size);
    }
    memmove(&s->items[0], &s->items[drop], (size_t)(s->len - drop) * sizeof(Level));
    s->len -= drop;
}

static void side_clear(Side *s) {
    for (Py_ssize_t j = 0; j < s->len; j++) {
        Py_DECREF(s->items[j].price);
        Py_DECREF(s->items[j].size);
    }
    s->len = 0;
}

static void side_free(Side *s) {
    side_clear(s);
    PyMem_Free(s->items);
    s->items = NULL;
    s->cap = 0;
}

#endif
