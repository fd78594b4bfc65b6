/* bench/bench_util.h -- what the benchmarks that pick queries share:
 * growable id lists filled from the store (seeking workers, open jobs, in
 * id order), the clock, and the fixed generator that picks the same
 * queries in every bench (so their figures sit side by side).  Static
 * functions: each bench is one translation unit. */
#ifndef SG_BENCH_UTIL_H
#define SG_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "songgang/store.h"

typedef struct ids {
    char (*id)[SG_ID_MAX + 1]; /* ids */
    size_t n;                  /* used */
    size_t cap;                /* allocated */
} ids;

static inline void ids_add(ids *v, const char *id)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 1024;
        v->id = realloc(v->id, v->cap * sizeof(*v->id));
        if (v->id == NULL) {
            abort();
        }
    }
    snprintf(v->id[v->n++], SG_ID_MAX + 1, "%s", id);
}

static inline int add_worker(void *arg, const sg_worker *w)
{
    if (w->seeking) {
        ids_add(arg, w->id);
    }
    return 0;
}

static inline int add_job(void *arg, const sg_job *j)
{
    if (j->state == SG_JOB_OPEN && j->openings > 0) {
        ids_add(arg, j->id);
    }
    return 0;
}

static inline double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 42;
static inline size_t pick(size_t n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((rng >> 33) % n);
}

#endif /* SG_BENCH_UTIL_H */
