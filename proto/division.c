/* proto/division.c -- reading the compiled national division table
 * (layout in include/songgang/division.h).  No I/O: the caller hands in
 * the bytes; they are checked once by sg_division_load, so that a
 * look-up never reads outside them. */
#include <string.h>

#include "songgang/division.h"
#include "songgang/err.h"

#define MAGIC "SGDIV1\0\0"
#define HEAD_LEN (8 + 4 + 12 + 4 + 4 + 4)
#define ENTRY_LEN 28

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static const uint8_t *entry(const sg_division *d, uint32_t i)
{
    return d->entries + (size_t)i * ENTRY_LEN;
}

/* Digits of each level's codes, and the power of ten that pads a code of
 * that level to 12 digits. */
static const int digits[6] = {0, 2, 4, 6, 9, 12};
static const uint64_t pad[6] = {0, 10000000000ULL, 100000000ULL, 1000000ULL,
                                1000ULL, 1ULL};

int sg_division_load(sg_division *d, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    memset(d, 0, sizeof(*d));
    if (len < HEAD_LEN || memcmp(p, MAGIC, 8) != 0) {
        return SG_ECORRUPT;
    }
    d->buf = p;
    d->len = len;
    d->edition = ld32(p + 8);
    memcpy(d->cutoff, p + 12, 12);
    if (d->cutoff[11] != '\0') {
        return SG_ECORRUPT;
    }
    d->n = ld32(p + 24);
    d->nchildren = ld32(p + 28);
    d->names_len = ld32(p + 32);
    uint64_t need = HEAD_LEN + (uint64_t)d->n * ENTRY_LEN +
                    (uint64_t)d->nchildren * 4 + (uint64_t)d->n * 4 +
                    d->names_len;
    if (need != len || d->nchildren > d->n || d->n == SG_DIVISION_NONE) {
        return SG_ECORRUPT;
    }
    d->entries = p + HEAD_LEN;
    d->children = d->entries + (size_t)d->n * ENTRY_LEN;
    d->byname = d->children + (size_t)d->nchildren * 4;
    d->names = d->byname + (size_t)d->n * 4;
    /* Every entry: in order, its name inside the pool, its parent one
     * level up and before it, its children inside the children array. */
    uint64_t prev = 0;
    int prev_level = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        const uint8_t *e = entry(d, i);
        uint64_t key = ld64(e);
        int level = e[24];
        uint32_t parent = ld32(e + 12), first = ld32(e + 16),
                 nch = ld32(e + 20);
        if (level < SG_DIV_PROVINCE || level > SG_DIV_VILLAGE ||
            key > 999999999999ULL || key % pad[level] != 0 ||
            (i > 0 && (key < prev || (key == prev && level <= prev_level))) ||
            (uint64_t)ld32(e + 8) + e[25] > d->names_len || e[25] == 0 ||
            (uint64_t)first + nch > d->nchildren || e[26] || e[27]) {
            return SG_ECORRUPT;
        }
        if (level == SG_DIV_PROVINCE ? parent != SG_DIVISION_NONE
                                     : parent >= i ||
                                           entry(d, parent)[24] != level - 1) {
            return SG_ECORRUPT;
        }
        prev = key;
        prev_level = level;
    }
    for (uint32_t k = 0; k < d->nchildren; k++) {
        if (ld32(d->children + 4 * (size_t)k) >= d->n) {
            return SG_ECORRUPT;
        }
    }
    for (uint32_t i = 0; i < d->n; i++) { /* a child's parent is i */
        for (uint32_t k = 0; k < sg_division_nchildren(d, i); k++) {
            if (sg_division_parent(d, sg_division_child(d, i, k)) != i) {
                return SG_ECORRUPT;
            }
        }
    }
    for (uint32_t k = 0; k < d->n; k++) {
        if (ld32(d->byname + 4 * (size_t)k) >= d->n) {
            return SG_ECORRUPT;
        }
    }
    return 0;
}

int sg_division_find(const sg_division *d, const char *code, size_t len,
                     uint32_t *at)
{
    int level = 0;
    for (int l = 1; l <= SG_DIV_VILLAGE; l++) {
        level = (size_t)digits[l] == len ? l : level;
    }
    if (level == 0) {
        return SG_EINVAL;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return SG_EINVAL;
        }
        v = v * 10 + (uint64_t)(code[i] - '0');
    }
    uint64_t key = v * pad[level];
    /* The first entry not below (key, level). */
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *e = entry(d, mid);
        uint64_t k = ld64(e);
        if (k < key || (k == key && e[24] < level)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == d->n || ld64(entry(d, lo)) != key || entry(d, lo)[24] != level) {
        return SG_ENOTFOUND;
    }
    *at = lo;
    return 0;
}

int sg_division_level(const sg_division *d, uint32_t i)
{
    return entry(d, i)[24];
}

void sg_division_code(const sg_division *d, uint32_t i, char out[13])
{
    const uint8_t *e = entry(d, i);
    int level = e[24];
    uint64_t v = ld64(e) / pad[level];
    for (int k = digits[level] - 1; k >= 0; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
    out[digits[level]] = '\0';
}

const char *sg_division_name(const sg_division *d, uint32_t i, size_t *len)
{
    const uint8_t *e = entry(d, i);
    *len = e[25];
    return (const char *)d->names + ld32(e + 8);
}

uint32_t sg_division_parent(const sg_division *d, uint32_t i)
{
    return ld32(entry(d, i) + 12);
}

uint32_t sg_division_nchildren(const sg_division *d, uint32_t i)
{
    return ld32(entry(d, i) + 20);
}

uint32_t sg_division_child(const sg_division *d, uint32_t i, uint32_t k)
{
    return ld32(d->children + 4 * ((size_t)ld32(entry(d, i) + 16) + k));
}

/* put appends s (n bytes) to out as far as cap - 1 allows, counting all
 * of it in *used. */
static void put(char *out, size_t cap, size_t *used, const char *s, size_t n)
{
    for (size_t c = 0; c < n; c++, (*used)++) {
        if (*used + 1 < cap) {
            out[*used] = s[c];
        }
    }
}

size_t sg_division_path(const sg_division *d, uint32_t i, char *out,
                        size_t cap)
{
    uint32_t chain[SG_DIV_VILLAGE];
    int n = 0;
    for (uint32_t at = i; at != SG_DIVISION_NONE && n < SG_DIV_VILLAGE;
         at = sg_division_parent(d, at)) {
        chain[n++] = at;
    }
    static const char sep[] = " › ";
    size_t used = 0;
    for (int k = n - 1; k >= 0; k--) {
        size_t nl;
        const char *name = sg_division_name(d, chain[k], &nl);
        if (k < n - 1) {
            put(out, cap, &used, sep, sizeof(sep) - 1);
        }
        put(out, cap, &used, name, nl);
    }
    if (cap > 0) {
        out[used < cap ? used : cap - 1] = '\0';
    }
    return used;
}

/* name_cmp compares entry i's name with prefix p (len): its first len
 * bytes, so that 0 means it begins with p. */
static int name_cmp(const sg_division *d, uint32_t i, const char *p,
                    size_t len)
{
    size_t nl;
    const char *name = sg_division_name(d, i, &nl);
    int c = memcmp(name, p, nl < len ? nl : len);
    return c != 0 ? c : nl < len ? -1 : 0;
}

size_t sg_division_search(const sg_division *d, const char *prefix,
                          size_t len, uint32_t *out, size_t max)
{
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (name_cmp(d, ld32(d->byname + 4 * (size_t)mid), prefix, len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    size_t n = 0;
    for (uint32_t k = lo; k < d->n; k++, n++) {
        uint32_t i = ld32(d->byname + 4 * (size_t)k);
        if (name_cmp(d, i, prefix, len) != 0) {
            break;
        }
        if (n < max) {
            out[n] = i;
        }
    }
    return n;
}
