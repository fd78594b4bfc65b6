/* bench/match_bench.c -- time per ranked query on a loaded data directory.
 * Picks Q random workers and Q random open jobs (fixed seed), runs
 * worker -> top 20 jobs and job -> top 50 workers in one read transaction
 * each, and prints p50 / p99 / mean latency, queries per second and the
 * candidates each query looked at, and the floor: the time to read the
 * same index entries without scoring them.  Not a test: it asserts nothing about
 * time.  With --dump it times nothing and prints every result of the
 * same queries instead (ids, scores, parts, tier, site, km, reason), one
 * line each, so that two builds can be diffed for identical answers.
 * --workers or --jobs times one direction only (for a profiler).
 * Usage: match_bench DIR [QUERIES] [AS_OF] [--dump|--workers|--jobs] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "songgang/match.h"
#include "songgang/store.h"

static void run(sg_store *s, const ids *v, bool workers, int q, int32_t as_of,
                const char *label)
{
    double *lat = malloc((size_t)q * sizeof(double));
    double *flat = malloc((size_t)q * sizeof(double));
    sg_match_opts o = {.as_of = as_of, .limit = workers ? 20 : 50};
    size_t looked = 0, results = 0;
    for (int i = 0; i < q; i++) {
        const char *id = v->id[pick(v->n)];
        sg_txn *t;
        sg_match_list l = {0};
        double a = now_us();
        if (sg_txn_begin(s, false, &t) != 0) {
            abort();
        }
        int rc = workers ? sg_match_worker(t, id, &o, &l)
                         : sg_match_job(t, id, &o, &l);
        sg_txn_abort(t);
        lat[i] = now_us() - a;
        if (rc != 0) {
            fprintf(stderr, "query %s: %s\n", id, sg_strerror(rc));
            exit(1);
        }
        looked += l.looked_at;
        results += l.n;
        /* The floor: the same index entries, read and not scored, with the
         * record fetched outside the timed part. */
        sg_worker wr;
        sg_job jr;
        size_t entries;
        if (sg_txn_begin(s, false, &t) != 0 ||
            (workers ? sg_txn_get_worker(t, id, &wr)
                     : sg_txn_get_job(t, id, &jr)) != 0) {
            abort();
        }
        double f0 = now_us();
        if ((workers ? sg_match_floor_worker(t, &wr, &o, &l, &entries)
                     : sg_match_floor_job(t, &jr, &o, &l, &entries)) != 0 ||
            entries != l.looked_at) {
            fprintf(stderr, "floor %s: %zu entries, %zu looked at\n", id,
                    entries, l.looked_at);
            exit(1);
        }
        flat[i] = now_us() - f0;
        sg_txn_abort(t);
        sg_match_list_free(&l);
    }
    double total = 0; /* the queries alone, not the floor reads */
    for (int i = 0; i < q; i++) {
        total += lat[i];
    }
    qsort(flat, (size_t)q, sizeof(double), cmp_d);
    double fp50 = flat[q / 2];
    free(flat);
    qsort(lat, (size_t)q, sizeof(double), cmp_d);
    printf("| %s | %d | %.1f | %.1f | %.1f | %.0f | %.0f | %.1f | %.1f |\n",
           label, q, lat[q / 2], lat[(size_t)(q * 0.99)], total / q,
           q / (total / 1e6), (double)looked / q, (double)results / q, fp50);
    free(lat);
}

/* dump prints the results of q queries picked as run() picks them. */
static void dump(sg_store *s, const ids *v, bool workers, int q, int32_t as_of)
{
    sg_match_opts o = {.as_of = as_of, .limit = workers ? 20 : 50};
    for (int i = 0; i < q; i++) {
        const char *id = v->id[pick(v->n)];
        sg_txn *t;
        sg_match_list l = {0};
        if (sg_txn_begin(s, false, &t) != 0) {
            abort();
        }
        int rc = workers ? sg_match_worker(t, id, &o, &l)
                         : sg_match_job(t, id, &o, &l);
        sg_txn_abort(t);
        printf("%s %s rc=%d n=%zu looked=%zu walked=%u\n",
               workers ? "worker" : "job", id, rc, l.n, l.looked_at,
               (unsigned)l.walked);
        for (size_t k = 0; k < l.n; k++) {
            const sg_match *m = &l.items[k];
            printf("  %s %d [%d %d %d %d %d %d] %u %s %d %.17g %s\n", m->id,
                   (int)m->score, (int)m->parts[0], (int)m->parts[1],
                   (int)m->parts[2], (int)m->parts[3], (int)m->parts[4],
                   (int)m->parts[5], (unsigned)m->tier, m->site,
                   (int)m->has_km, m->km, m->reason);
        }
        sg_match_list_free(&l);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 4 ? argv[4] : "";
    bool dumping = strcmp(mode, "--dump") == 0;
    bool only_w = strcmp(mode, "--workers") == 0;
    bool only_j = strcmp(mode, "--jobs") == 0;
    if (argc < 2) {
        fprintf(stderr,
                "usage: match_bench DIR [QUERIES] [AS_OF] "
                "[--dump|--workers|--jobs]\n");
        return 2;
    }
    int q = argc > 2 ? atoi(argv[2]) : 10000;
    int32_t as_of;
    if (sg_date_parse(argc > 3 ? argv[3] : "2026-12-01", 10, &as_of) != 0 ||
        q <= 0 || (*mode != '\0' && !dumping && !only_w && !only_j)) {
        fprintf(stderr, "match_bench: bad arguments\n");
        return 2;
    }
    sg_store *s;
    if (sg_store_open(&s, argv[1], SG_STORE_RDONLY) != 0) {
        fprintf(stderr, "match_bench: cannot open %s\n", argv[1]);
        return 1;
    }
    ids w = {0}, j = {0};
    sg_txn *t;
    size_t nw, nj;
    sg_txn_begin(s, false, &t);
    sg_txn_counts(t, &nw, &nj);
    sg_txn_each_worker(t, add_worker, &w);
    sg_txn_each_job(t, add_job, &j);
    sg_txn_abort(t);
    if (w.n == 0 || j.n == 0) {
        fprintf(stderr, "match_bench: no seeking workers or open jobs\n");
        return 1;
    }
    if (dumping) {
        dump(s, &w, true, q, as_of);
        dump(s, &j, false, q, as_of);
        free(w.id);
        free(j.id);
        sg_store_close(s);
        return 0;
    }
    printf("store: %zu workers (%zu seeking), %zu jobs (%zu open)\n\n", nw,
           w.n, nj, j.n);
    printf("| query | n | p50 µs | p99 µs | mean µs | queries/s | "
           "candidates looked at | results | floor p50 µs |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    if (!only_j) {
        run(s, &w, true, q, as_of, "worker -> top 20 jobs");
    }
    if (!only_w) {
        run(s, &j, false, q, as_of, "job -> top 50 workers");
    }
    free(w.id);
    free(j.id);
    sg_store_close(s);
    return 0;
}
