/* bench/vs_pg.c -- the matcher against PostgreSQL 15 on the same data, with
 * the same answers (issue 4, point 2).
 *
 *   vs_pg dump DBDIR OUTDIR
 *     writes every worker and job of the store as the CSV files that
 *     bench/pg_schema.sql loads: workers, households, jobs, job_sites.
 *   vs_pg run DBDIR CONNINFO QUERIES AS_OF OUT.json [--pg-queries N]
 *     picks QUERIES seeking workers and QUERIES open jobs (fixed seed, the
 *     generator of bench/match_bench.c, so other benches can pick the same
 *     queries), times each in both systems -- 1 thread for latency, then 2
 *     threads for throughput -- and compares every PostgreSQL list with the
 *     matcher's, field by field.  Prints a Markdown table; writes OUT.json.
 *
 * Not a test: nothing here asserts about time.  It does fail when a list
 * differs (exit 3; 1 for any other error), since then the comparison of
 * times means nothing.  The
 * matcher's latency of every query is kept (time_matcher_query), so a
 * later measurement on the same queries can sit beside it. */
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "songgang/match.h"
#include "songgang/store.h"

#define MISMATCH_DETAIL 10 /* mismatches printed in full */

/* ---- Small helpers. ---- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        abort(); /* out of memory: nothing sensible to do in a bench */
    }
    return p;
}

/* ---- dump: the store as CSV for COPY. ---- */

/* hh_entry: one worker's household and whether the worker is employed;
 * sorted by household, they give the households table. */
typedef struct hh_entry {
    char id[SG_ID_MAX + 1]; /* household id */
    bool employed;          /* this member holds an employed status */
} hh_entry;

typedef struct dump_ctx {
    sg_txn *t;       /* the read transaction of the whole dump */
    FILE *workers;   /* workers.csv */
    FILE *jobs;      /* jobs.csv */
    FILE *sites;     /* job_sites.csv */
    hh_entry *hh;    /* one per worker */
    size_t nhh;      /* used */
    size_t caphh;    /* allocated */
    int bad;         /* records that SQL could not score as the matcher */
} dump_ctx;

/* put_date writes a day number, or nothing (NULL in CSV) when absent. */
static void put_date(FILE *f, int32_t d)
{
    if (d != SG_DATE_NONE) {
        fprintf(f, "%d", (int)d);
    }
}

/* put_geo writes lat_e6,lon_e6 rounded exactly as the matcher does
 * (sg__geo_of in matcher/view.c), or two NULLs. */
static void put_geo(FILE *f, bool has, double lat, double lon)
{
    if (has) {
        fprintf(f, "%d,%d", (int)(int32_t)llround(lat * 1e6),
                (int)(int32_t)llround(lon * 1e6));
    } else {
        fputc(',', f);
    }
}

/* put_skills writes a skill list as a quoted int[] literal.  It returns
 * false unless the list is strictly ascending: the matcher counts overlaps
 * by merging sorted lists, SQL by set intersection, and only on sorted
 * lists without repeats are they the same. */
static bool put_skills(FILE *f, const sg_skill *s, size_t n)
{
    bool sorted = true;
    fputs("\"{", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, i ? ",%u" : "%u", (unsigned)s[i]);
        sorted = sorted && (i == 0 || s[i - 1] < s[i]);
    }
    fputs("}\"", f);
    return sorted;
}

static int dump_worker(void *arg, const sg_worker *w)
{
    dump_ctx *d = arg;
    FILE *f = d->workers;
    int plen = sg_travel_prefix_len(w->travel);
    /* reach is quoted: an empty reach (travel "any") must load as '',
     * and an unquoted empty field is NULL in COPY's CSV. */
    fprintf(f, "%s,%s,%s,\"%.*s\",", w->id, w->household, w->region, plen,
            w->region);
    put_geo(f, w->has_geo, w->lat, w->lon);
    fprintf(f, ",%u,%u,%s,", (unsigned)w->labor_class, (unsigned)w->travel,
            w->category == SG_CAT_MONITORED && !w->risk_eliminated ? "t"
                                                                   : "f");
    if (!put_skills(f, w->skills, w->nskills)) {
        fprintf(stderr, "vs_pg: worker %s: skills not sorted\n", w->id);
        d->bad++;
    }
    fprintf(f, ",%d,", (int)w->expected_wage);
    put_date(f, w->available_from);
    fputc(',', f);
    put_date(f, w->available_to);
    /* The household flag as the matcher reads it: its own index. */
    bool employed;
    int rc = sg_txn_household_employed(d->t, w->household, &employed);
    if (rc != 0) {
        return rc;
    }
    fprintf(f, ",%s,%s\n", w->seeking ? "t" : "f", employed ? "t" : "f");
    if (d->nhh == d->caphh) {
        d->caphh = d->caphh ? 2 * d->caphh : 65536;
        d->hh = realloc(d->hh, d->caphh * sizeof(*d->hh));
        if (d->hh == NULL) {
            abort();
        }
    }
    hh_entry *h = &d->hh[d->nhh++];
    memcpy(h->id, w->household, sizeof(h->id));
    h->employed = sg_status_is_employed(w->status);
    return 0;
}

/* put_job_cols writes the job columns that ranking reads, from source to
 * pref (jobs.csv has wage_min too); false when a skill list is unsorted. */
static bool put_job_cols(FILE *f, const sg_job *j, bool with_wage_min)
{
    fprintf(f, "%u,%u,", (unsigned)j->source, (unsigned)j->labor_classes);
    put_date(f, j->starts);
    fputc(',', f);
    put_date(f, j->ends);
    if (with_wage_min) {
        fprintf(f, ",%d", (int)j->wage_min);
    }
    fprintf(f, ",%d,%d,", (int)j->wage_max, (int)sg_time_date(j->posted));
    bool sorted = put_skills(f, j->required, j->nrequired);
    fputc(',', f);
    return put_skills(f, j->preferred, j->npreferred) && sorted;
}

static int dump_job(void *arg, const sg_job *j)
{
    dump_ctx *d = arg;
    bool open = j->state == SG_JOB_OPEN && j->openings > 0;
    fprintf(d->jobs, "%s,", j->id);
    bool sorted = put_job_cols(d->jobs, j, true);
    fprintf(d->jobs, ",%s\n", open ? "t" : "f");
    if (!sorted) {
        fprintf(stderr, "vs_pg: job %s: skills not sorted\n", j->id);
        d->bad++;
    }
    /* Each site carries a copy of the job's columns (pg_schema.sql). */
    for (size_t i = 0; i < j->nsites; i++) {
        const sg_site *s = &j->sites[i];
        fprintf(d->sites, "%s,%zu,%s,", j->id, i, s->region);
        put_geo(d->sites, s->has_geo, s->lat, s->lon);
        fputc(',', d->sites);
        put_job_cols(d->sites, j, false);
        fprintf(d->sites, ",%s\n", open ? "t" : "f");
    }
    return 0;
}

static int cmp_hh(const void *a, const void *b)
{
    return strcmp(((const hh_entry *)a)->id, ((const hh_entry *)b)->id);
}

/* dump_households writes one row per household: employed when any member
 * is.  Each row is checked against the store's own household index (what
 * the matcher reads), so the two cannot silently disagree. */
static int dump_households(dump_ctx *d, sg_txn *t, FILE *f)
{
    qsort(d->hh, d->nhh, sizeof(*d->hh), cmp_hh);
    size_t rows = 0;
    for (size_t i = 0; i < d->nhh;) {
        size_t k = i;
        bool employed = false;
        for (; k < d->nhh && strcmp(d->hh[k].id, d->hh[i].id) == 0; k++) {
            employed = employed || d->hh[k].employed;
        }
        bool indexed;
        int rc = sg_txn_household_employed(t, d->hh[i].id, &indexed);
        if (rc != 0) {
            return rc;
        }
        if (indexed != employed) {
            fprintf(stderr, "vs_pg: household %s: store index says %s\n",
                    d->hh[i].id, indexed ? "employed" : "not employed");
            d->bad++;
        }
        fprintf(f, "%s,%s\n", d->hh[i].id, employed ? "t" : "f");
        rows++;
        i = k;
    }
    printf("households: %zu\n", rows);
    return 0;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    return f;
}

/* close_out closes f and reports a failed write (disk full...). */
static int close_out(FILE *f, const char *name)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "vs_pg: writing %s failed\n", name);
        return 1;
    }
    return 0;
}

static int cmd_dump(const char *dbdir, const char *outdir)
{
    sg_store *s;
    sg_txn *t;
    if (sg_store_open(&s, dbdir, SG_STORE_RDONLY) != 0) {
        fprintf(stderr, "vs_pg: cannot open %s\n", dbdir);
        return 1;
    }
    if (sg_txn_begin(s, false, &t) != 0) {
        fprintf(stderr, "vs_pg: cannot begin a read transaction\n");
        return 1;
    }
    dump_ctx d = {0};
    d.t = t;
    d.workers = open_out(outdir, "workers.csv");
    d.jobs = open_out(outdir, "jobs.csv");
    d.sites = open_out(outdir, "job_sites.csv");
    FILE *hh = open_out(outdir, "households.csv");
    size_t nw, nj;
    int rc = sg_txn_counts(t, &nw, &nj);
    if (rc == 0) {
        rc = sg_txn_each_worker(t, dump_worker, &d);
    }
    if (rc == 0) {
        rc = sg_txn_each_job(t, dump_job, &d);
    }
    if (rc == 0) {
        rc = dump_households(&d, t, hh);
    }
    sg_txn_abort(t);
    sg_store_close(s);
    int bad = close_out(d.workers, "workers.csv") +
              close_out(d.jobs, "jobs.csv") +
              close_out(d.sites, "job_sites.csv") +
              close_out(hh, "households.csv");
    free(d.hh);
    if (rc != 0) {
        fprintf(stderr, "vs_pg: reading the store: %s\n", sg_strerror(rc));
        return 1;
    }
    printf("workers: %zu\njobs: %zu\n", nw, nj);
    if (d.bad != 0) {
        fprintf(stderr, "vs_pg: %d records SQL would not score alike\n",
                d.bad);
        return 1;
    }
    return bad ? 1 : 0;
}

/* ---- run: the queries. ---- */

/* result: one ranked entry, as both systems report it (no reason: SQL
 * does not write the Chinese line, and it follows from these fields). */
typedef struct result {
    char id[SG_ID_MAX + 1];        /* job or worker id */
    int32_t score;                 /* sum of parts */
    int32_t parts[SG_PART__COUNT]; /* in enum sg_part order */
    int tier;                      /* enum sg_travel of the chosen site */
    char site[SG_REGION_LEN + 1];  /* its region */
    bool has_km;                   /* km known */
    double km;                     /* distance to it */
} result;

/* rlist: one query's answer. */
typedef struct rlist {
    result *r; /* owned, n entries */
    size_t n;  /* entries */
} rlist;

/* sysrun: one system's measurements in one direction. */
typedef struct sysrun {
    double *lat;  /* µs per query, 1 thread, in query order */
    rlist *res;   /* each query's list (1 thread) */
    size_t n;     /* queries run */
    double wall1; /* µs for all of them, 1 thread */
    double wall2; /* µs for all of them, 2 threads */
} sysrun;

/* direction: the queries one way and what each system did with them. */
typedef struct direction {
    bool workers;          /* worker -> jobs (else job -> workers) */
    const char *name;      /* JSON key */
    const char *label;     /* table row */
    const char *stmt;      /* prepared statement name */
    int limit;             /* top K */
    const char **q;        /* query ids (borrowed from the id lists) */
    size_t nq;             /* queries */
    size_t npg;            /* of them, run on PostgreSQL */
    size_t looked;         /* candidates the matcher read (1 thread) */
    sg_match_list *walks;  /* what each query read (for the floor), no items */
    double *flat;          /* µs per query to read the same entries */
    sysrun m;              /* the matcher */
    sysrun p;              /* PostgreSQL */
    size_t mismatches;     /* lists that differ */
} direction;

static void rlist_free(rlist *l)
{
    free(l->r);
    l->r = NULL;
    l->n = 0;
}

/* matcher_query runs query i of d in its own read transaction and fills
 * *l (owned by the caller: sg_match_list_free).  Exits on any error: a
 * bench that cannot query has nothing to report. */
static void matcher_query(sg_store *s, const direction *d, size_t i,
                          int32_t as_of, sg_match_list *l)
{
    sg_match_opts o = {.as_of = as_of, .limit = d->limit};
    sg_txn *t;
    int rc = sg_txn_begin(s, false, &t);
    if (rc == 0) {
        rc = d->workers ? sg_match_worker(t, d->q[i], &o, l)
                        : sg_match_job(t, d->q[i], &o, l);
        sg_txn_abort(t);
    }
    if (rc != 0) {
        fprintf(stderr, "vs_pg: matcher %s: %s\n", d->q[i], sg_strerror(rc));
        exit(1);
    }
}

/* rlist_of_matches copies the fields both systems report out of l. */
static void rlist_of_matches(rlist *out, const sg_match_list *l)
{
    out->r = xmalloc(l->n * sizeof(result));
    out->n = l->n;
    for (size_t k = 0; k < l->n; k++) {
        const sg_match *m = &l->items[k];
        result *r = &out->r[k];
        memcpy(r->id, m->id, sizeof(r->id));
        r->score = m->score;
        memcpy(r->parts, m->parts, sizeof(r->parts));
        r->tier = m->tier;
        memcpy(r->site, m->site, sizeof(r->site));
        r->has_km = m->has_km;
        r->km = m->has_km ? m->km : 0;
    }
}

/* time_matcher_query runs query i once, keeps its list in d->m.res[i],
 * and returns its latency in µs: from the transaction's start to the
 * list in hand, as time_pg_query.  One call per query, so a measurement
 * of another kind can be added beside it, query by query. */
static double time_matcher_query(sg_store *s, direction *d, size_t i,
                                 int32_t as_of)
{
    sg_match_list l = {0};
    double a = now_us();
    matcher_query(s, d, i, as_of, &l);
    double us = now_us() - a;
    rlist_of_matches(&d->m.res[i], &l);
    d->looked += l.looked_at;
    sg_match_list_free(&l);
    d->walks[i] = l; /* its walk, the items freed */
    return us;
}

/* time_floor_query returns the µs it takes to read the index entries
 * query i read in the matcher, without decoding or scoring them (the
 * record that says which entries those are is fetched first, untimed). */
static double time_floor_query(sg_store *s, direction *d, size_t i,
                               int32_t as_of)
{
    sg_match_opts o = {.as_of = as_of, .limit = d->limit};
    sg_txn *t;
    sg_worker w;
    sg_job j;
    size_t entries = 0;
    int rc = sg_txn_begin(s, false, &t);
    if (rc == 0) {
        rc = d->workers ? sg_txn_get_worker(t, d->q[i], &w)
                        : sg_txn_get_job(t, d->q[i], &j);
    }
    double a = now_us();
    if (rc == 0) {
        rc = d->workers
                 ? sg_match_floor_worker(t, &w, &o, &d->walks[i], &entries)
                 : sg_match_floor_job(t, &j, &o, &d->walks[i], &entries);
    }
    double us = now_us() - a;
    sg_txn_abort(t);
    if (rc != 0) {
        fprintf(stderr, "vs_pg: floor %s: %s\n", d->q[i], sg_strerror(rc));
        exit(1);
    }
    return us;
}

/* pg_query runs query i of d on conn and returns its result (owned:
 * PQclear), every row received. */
static PGresult *pg_query(PGconn *conn, const direction *d, size_t i,
                          const char *as_of)
{
    const char *params[2] = {d->q[i], as_of};
    PGresult *res = PQexecPrepared(conn, d->stmt, 2, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "vs_pg: postgres %s: %s", d->q[i],
                PQerrorMessage(conn));
        exit(1);
    }
    return res;
}

/* rlist_of_pg reads PostgreSQL's rows (columns as in pg_connect). */
static void rlist_of_pg(rlist *out, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    out->r = xmalloc(n * sizeof(result));
    out->n = n;
    for (size_t k = 0; k < n; k++) {
        result *r = &out->r[k];
        int row = (int)k;
        snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, row, 0));
        r->score = atoi(PQgetvalue(res, row, 1));
        for (int p = 0; p < SG_PART__COUNT; p++) {
            r->parts[p] = atoi(PQgetvalue(res, row, 2 + p));
        }
        r->tier = atoi(PQgetvalue(res, row, 8));
        snprintf(r->site, sizeof(r->site), "%s", PQgetvalue(res, row, 9));
        r->has_km = !PQgetisnull(res, row, 10);
        /* extra_float_digits = 3: the shortest text that reads back as
         * the same double, so strtod gives PostgreSQL's bits. */
        r->km = r->has_km ? strtod(PQgetvalue(res, row, 10), NULL) : 0;
    }
}

/* time_pg_query is time_matcher_query for PostgreSQL (the round trip over
 * the connection included, as any client of it pays). */
static double time_pg_query(PGconn *conn, direction *d, size_t i,
                            const char *as_of)
{
    double a = now_us();
    PGresult *res = pg_query(conn, d, i, as_of);
    double us = now_us() - a;
    rlist_of_pg(&d->p.res[i], res);
    PQclear(res);
    return us;
}

/* pg_connect opens a session with both statements prepared.  The part
 * order of the columns is that of enum sg_part. */
static PGconn *pg_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "vs_pg: connect: %s", PQerrorMessage(c));
        exit(1);
    }
    static const char *const sql[][2] = {
        {"SET extra_float_digits = 3", NULL},
        {"PREPARE w2j(text, int) AS SELECT id, score, skill, proximity, "
         "wage, channel, priority, freshness, tier, site, km "
         "FROM sg_jobs_for($1, $2, 20)",
         NULL},
        {"PREPARE j2w(text, int) AS SELECT id, score, skill, proximity, "
         "wage, channel, priority, freshness, tier, site, km "
         "FROM sg_workers_for($1, $2, 50)",
         NULL},
        {"PREPARE ping AS SELECT 1", NULL},
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        PGresult *r = PQexec(c, sql[i][0]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "vs_pg: %s: %s", sql[i][0], PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
    }
    return c;
}

/* ---- Two threads: throughput. ---- */

typedef struct pool {
    direction *d;        /* the queries */
    size_t n;            /* how many to run */
    atomic_size_t next;  /* next query to take */
    sg_store *s;         /* matcher: the store (else NULL) */
    int32_t as_of;       /* matcher's as_of */
    const char *as_of_s; /* PostgreSQL's as_of parameter */
} pool;

typedef struct worker_arg {
    pool *p;      /* shared */
    PGconn *conn; /* PostgreSQL: this thread's session */
} worker_arg;

static void *pool_thread(void *arg)
{
    worker_arg *w = arg;
    pool *p = w->p;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) {
            return NULL;
        }
        if (p->s != NULL) {
            sg_match_list l = {0};
            matcher_query(p->s, p->d, i, p->as_of, &l);
            sg_match_list_free(&l);
        } else {
            PQclear(pg_query(w->conn, p->d, i, p->as_of_s));
        }
    }
}

/* run_2threads runs the first n queries of d over 2 threads (the store's
 * when s is set, else one PostgreSQL session each) and returns the wall
 * time in µs. */
static double run_2threads(direction *d, size_t n, sg_store *s,
                           int32_t as_of, const char *as_of_s,
                           PGconn *conns[2])
{
    pool p = {.d = d, .n = n, .s = s, .as_of = as_of, .as_of_s = as_of_s};
    atomic_init(&p.next, 0);
    worker_arg wa[2] = {{&p, conns ? conns[0] : NULL},
                        {&p, conns ? conns[1] : NULL}};
    pthread_t th[2];
    double a = now_us();
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&th[i], NULL, pool_thread, &wa[i]) != 0) {
            fprintf(stderr, "vs_pg: pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    return now_us() - a;
}

/* ---- Comparison. ---- */

static void print_result(const char *who, const result *r)
{
    fprintf(stderr,
            "    %-8s %s score %d parts [%d %d %d %d %d %d] tier %d site %s "
            "km %s%.17g\n",
            who, r->id, (int)r->score, (int)r->parts[0], (int)r->parts[1],
            (int)r->parts[2], (int)r->parts[3], (int)r->parts[4],
            (int)r->parts[5], r->tier, r->site, r->has_km ? "" : "(none) ",
            r->km);
}

static bool result_eq(const result *a, const result *b)
{
    return strcmp(a->id, b->id) == 0 && a->score == b->score &&
           memcmp(a->parts, b->parts, sizeof(a->parts)) == 0 &&
           a->tier == b->tier && strcmp(a->site, b->site) == 0 &&
           a->has_km == b->has_km && (!a->has_km || a->km == b->km);
}

/* compare checks each list PostgreSQL gave against the matcher's and
 * reports the first MISMATCH_DETAIL differences in full on stderr. */
static void compare(direction *d, size_t *shown)
{
    for (size_t i = 0; i < d->npg; i++) {
        const rlist *m = &d->m.res[i], *p = &d->p.res[i];
        size_t n = m->n < p->n ? m->n : p->n, k = 0;
        while (k < n && result_eq(&m->r[k], &p->r[k])) {
            k++;
        }
        if (k == n && m->n == p->n) {
            continue;
        }
        d->mismatches++;
        if ((*shown)++ >= MISMATCH_DETAIL) {
            continue;
        }
        fprintf(stderr,
                "MISMATCH %s %s: matcher %zu results, postgres %zu; first "
                "difference at rank %zu\n",
                d->label, d->q[i], m->n, p->n, k + 1);
        if (k < m->n) {
            print_result("matcher", &m->r[k]);
        }
        if (k < p->n) {
            print_result("postgres", &p->r[k]);
        }
    }
}

/* ---- Statistics and output. ---- */

typedef struct stats {
    double p50, p99, mean; /* ms */
} stats;

static stats stats_of(const double *lat_us, size_t n)
{
    stats st = {0, 0, 0};
    if (n == 0) {
        return st;
    }
    double *v = xmalloc(n * sizeof(double)), sum = 0;
    memcpy(v, lat_us, n * sizeof(double));
    qsort(v, n, sizeof(double), cmp_d);
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
    }
    st.p50 = v[n / 2] / 1e3;
    st.p99 = v[(size_t)((double)n * 0.99)] / 1e3;
    st.mean = sum / (double)n / 1e3;
    free(v);
    return st;
}

static json_t *system_json(const sysrun *s, const stats *st)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f}", "p50_ms", st->p50, "p99_ms",
                     st->p99, "mean_ms", st->mean, "qps_1",
                     (double)s->n / (s->wall1 / 1e6), "qps_2",
                     (double)s->n / (s->wall2 / 1e6));
}

/* direction_json reports d; the ratios compare the same queries (the
 * first npg), the matcher's own figures cover all of its queries. */
static json_t *direction_json(const direction *d, double *p50r, double *p99r)
{
    stats ms = stats_of(d->m.lat, d->m.n);
    stats ps = stats_of(d->p.lat, d->p.n);
    stats same = stats_of(d->m.lat, d->npg);
    *p50r = ps.p50 / same.p50;
    *p99r = ps.p99 / same.p99;
    json_t *m = system_json(&d->m, &ms);
    json_object_set_new(m, "looked_at_mean",
                        json_real((double)d->looked / (double)d->m.n));
    stats fs = stats_of(d->flat, d->m.n);
    json_t *o = json_object();
    json_object_set_new(o, "matcher", m);
    json_object_set_new(o, "floor",
                        json_pack("{s:f,s:f,s:f}", "p50_ms", fs.p50,
                                  "p99_ms", fs.p99, "mean_ms", fs.mean));
    json_object_set_new(o, "floor_ratio", json_real(ms.p50 / fs.p50));
    json_object_set_new(o, "postgres", system_json(&d->p, &ps));
    json_object_set_new(o, "p50_ratio", json_real(*p50r));
    json_object_set_new(o, "p99_ratio", json_real(*p99r));
    json_object_set_new(o, "ratio_queries", json_integer((json_int_t)d->npg));
    json_object_set_new(o, "compared", json_integer((json_int_t)d->npg));
    json_object_set_new(o, "mismatches",
                        json_integer((json_int_t)d->mismatches));
    json_object_set_new(o, "identical", json_boolean(d->mismatches == 0));
    return o;
}

/* print_row writes one system's line of the table; queries per second
 * keep two decimals when below 10 (PostgreSQL at the province scale). */
static void print_row(const char *label, const char *sys, const sysrun *s)
{
    stats st = stats_of(s->lat, s->n);
    double q1 = (double)s->n / (s->wall1 / 1e6);
    double q2 = (double)s->n / (s->wall2 / 1e6);
    printf("| %s | %s | %zu | %.3f | %.3f | %.3f | %.*f | %.*f |\n", label,
           sys, s->n, st.p50, st.p99, st.mean, q1 < 10 ? 2 : 0, q1,
           q2 < 10 ? 2 : 0, q2);
}

static void print_rows(const direction *d, double p50r, double p99r)
{
    print_row(d->label, "songgang", &d->m);
    stats fs = stats_of(d->flat, d->m.n), ms = stats_of(d->m.lat, d->m.n);
    printf("| %s | floor: the same index entries, unscored | %zu | %.3f | "
           "%.3f | %.3f | songgang / floor at p50: %.1f× | |\n",
           d->label, d->m.n, fs.p50, fs.p99, fs.mean, ms.p50 / fs.p50);
    print_row(d->label, "PostgreSQL 15", &d->p);
    printf("| %s | **PostgreSQL / songgang** | %zu | **%.1f×** | **%.1f×** "
           "| | | |\n",
           d->label, d->npg, p50r, p99r);
}

/* ---- run. ---- */

static void system_init(sysrun *s, size_t n)
{
    s->lat = xmalloc(n * sizeof(double));
    s->res = xmalloc(n * sizeof(rlist));
    memset(s->res, 0, n * sizeof(rlist));
    s->n = n;
}

static void system_fini(sysrun *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rlist_free(&s->res[i]);
    }
    free(s->res);
    free(s->lat);
}

/* pg_roundtrip_p50 measures a prepared `SELECT 1` (ms, p50 of 1,000):
 * what every PostgreSQL query pays before any work. */
static double pg_roundtrip_p50(PGconn *c)
{
    enum { N = 1000 };
    double *lat = xmalloc(N * sizeof(double));
    for (int i = 0; i < N; i++) {
        double a = now_us();
        PGresult *r = PQexecPrepared(c, "ping", 0, NULL, NULL, NULL, 0);
        lat[i] = now_us() - a;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "vs_pg: ping: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
    }
    stats st = stats_of(lat, N);
    free(lat);
    return st.p50;
}

/* measure runs one direction through the four measurements. */
static void measure(direction *d, sg_store *s, int32_t as_of,
                    const char *as_of_s, PGconn *conns[2])
{
    fprintf(stderr, "%s: matcher, 1 thread, %zu queries\n", d->label, d->nq);
    double a = now_us();
    for (size_t i = 0; i < d->nq; i++) {
        d->m.lat[i] = time_matcher_query(s, d, i, as_of);
    }
    d->m.wall1 = now_us() - a;
    fprintf(stderr, "%s: the floor, 1 thread\n", d->label);
    for (size_t i = 0; i < d->nq; i++) {
        d->flat[i] = time_floor_query(s, d, i, as_of);
    }
    fprintf(stderr, "%s: matcher, 2 threads\n", d->label);
    d->m.wall2 = run_2threads(d, d->nq, s, as_of, as_of_s, NULL);
    fprintf(stderr, "%s: postgres, 1 connection, %zu queries\n", d->label,
            d->npg);
    a = now_us();
    for (size_t i = 0; i < d->npg; i++) {
        d->p.lat[i] = time_pg_query(conns[0], d, i, as_of_s);
    }
    d->p.wall1 = now_us() - a;
    fprintf(stderr, "%s: postgres, 2 connections\n", d->label);
    d->p.wall2 = run_2threads(d, d->npg, NULL, as_of, as_of_s, conns);
}

static int cmd_run(int argc, char **argv)
{
    const char *dbdir = argv[2], *conninfo = argv[3], *out_path = argv[6];
    long q = atol(argv[4]), npg = q;
    int32_t as_of;
    if (argc == 9 && strcmp(argv[7], "--pg-queries") == 0) {
        npg = atol(argv[8]);
    } else if (argc != 7) {
        q = 0;
    }
    if (q <= 0 || npg <= 0 || npg > q ||
        sg_date_parse(argv[5], strlen(argv[5]), &as_of) != 0) {
        fprintf(stderr, "vs_pg: bad arguments\n");
        return 2;
    }
    char as_of_s[16], as_of_date[11];
    snprintf(as_of_s, sizeof(as_of_s), "%d", (int)as_of);
    sg_date_format(as_of, as_of_date);

    sg_store *s;
    if (sg_store_open(&s, dbdir, SG_STORE_RDONLY) != 0) {
        fprintf(stderr, "vs_pg: cannot open %s\n", dbdir);
        return 1;
    }
    /* Candidate ids in store (ascending id) order; the queries are drawn
     * from them, workers first, then jobs. */
    ids wi = {0}, ji = {0};
    size_t nw = 0, nj = 0;
    sg_txn *t;
    if (sg_txn_begin(s, false, &t) != 0 || sg_txn_counts(t, &nw, &nj) != 0 ||
        sg_txn_each_worker(t, add_worker, &wi) != 0 ||
        sg_txn_each_job(t, add_job, &ji) != 0) {
        fprintf(stderr, "vs_pg: cannot read %s\n", dbdir);
        return 1;
    }
    sg_txn_abort(t);
    if (wi.n == 0 || ji.n == 0) {
        fprintf(stderr, "vs_pg: no seeking workers or open jobs\n");
        return 1;
    }
    /* PostgreSQL's tables and indexes are pg_prewarm'ed (pg_bench.sh);
     * the store is read through once likewise, so that the matcher's
     * first queries, the ones the ratios compare, do not start cold. */
    uint64_t warm = 0;
    if (sg_store_prewarm(s, &warm) != 0) {
        fprintf(stderr, "vs_pg: cannot prewarm %s\n", dbdir);
        return 1;
    }
    fprintf(stderr, "vs_pg: store prewarmed (%.0f MB)\n", (double)warm / 1e6);
    direction dirs[2] = {
        {.workers = true, .name = "worker_to_jobs",
         .label = "worker → top 20 jobs", .stmt = "w2j", .limit = 20},
        {.workers = false, .name = "job_to_workers",
         .label = "job → top 50 workers", .stmt = "j2w", .limit = 50},
    };
    for (int k = 0; k < 2; k++) {
        direction *d = &dirs[k];
        const ids *v = d->workers ? &wi : &ji;
        d->nq = (size_t)q;
        d->npg = (size_t)npg;
        d->q = xmalloc(d->nq * sizeof(char *));
        for (size_t i = 0; i < d->nq; i++) {
            d->q[i] = v->id[pick(v->n)];
        }
        system_init(&d->m, d->nq);
        system_init(&d->p, d->npg);
        d->walks = xmalloc(d->nq * sizeof(sg_match_list));
        d->flat = xmalloc(d->nq * sizeof(double));
    }

    PGconn *conns[2] = {pg_connect(conninfo), pg_connect(conninfo)};
    double ping = pg_roundtrip_p50(conns[0]);
    for (int k = 0; k < 2; k++) {
        measure(&dirs[k], s, as_of, as_of_s, conns);
    }
    size_t shown = 0;
    json_t *root = json_pack("{s:I,s:I,s:s,s:I,s:I,s:f}", "workers",
                             (json_int_t)nw, "jobs", (json_int_t)nj, "as_of",
                             as_of_date, "queries", (json_int_t)q,
                             "pg_queries", (json_int_t)npg,
                             "pg_roundtrip_p50_ms", ping);
    double p50r[2], p99r[2];
    bool identical = true;
    for (int k = 0; k < 2; k++) {
        compare(&dirs[k], &shown);
        identical = identical && dirs[k].mismatches == 0;
        json_object_set_new(root, dirs[k].name,
                            direction_json(&dirs[k], &p50r[k], &p99r[k]));
    }
    json_object_set_new(root, "identical", json_boolean(identical));

    printf("store: %zu workers (%zu seeking), %zu jobs (%zu open); as_of "
           "%s; %ld queries each way, %ld of them on PostgreSQL%s\n\n",
           nw, wi.n, nj, ji.n, as_of_date, q, npg,
           npg < q ? " (the ratios compare those)" : "");
    printf("| query | system | n | p50 ms | p99 ms | mean ms | q/s 1 thread "
           "| q/s 2 threads |\n|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < 2; k++) {
        print_rows(&dirs[k], p50r[k], p99r[k]);
    }
    printf("\nPostgreSQL round trip alone (prepared SELECT 1): p50 %.3f ms. "
           "Candidates the matcher read per query: %.0f (worker → jobs), "
           "%.0f (job → workers).\n",
           ping, (double)dirs[0].looked / (double)dirs[0].nq,
           (double)dirs[1].looked / (double)dirs[1].nq);
    for (int k = 0; k < 2; k++) {
        printf("%s: %zu lists compared, %zu differ%s\n", dirs[k].label,
               dirs[k].npg, dirs[k].mismatches,
               dirs[k].mismatches ? "" : " (identical)");
    }

    int rc = 0;
    if (json_dump_file(root, out_path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) !=
        0) {
        fprintf(stderr, "vs_pg: cannot write %s\n", out_path);
        rc = 1;
    }
    if (!identical) {
        fprintf(stderr, "vs_pg: FAILED: %zu+%zu result lists differ from the "
                        "matcher's\n",
                dirs[0].mismatches, dirs[1].mismatches);
        rc = 3;
    }
    json_decref(root);
    for (int k = 0; k < 2; k++) {
        system_fini(&dirs[k].m);
        system_fini(&dirs[k].p);
        free(dirs[k].walks);
        free(dirs[k].flat);
        free(dirs[k].q);
    }
    PQfinish(conns[0]);
    PQfinish(conns[1]);
    free(wi.id);
    free(ji.id);
    sg_store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "dump") == 0) {
        return cmd_dump(argv[2], argv[3]);
    }
    if ((argc == 7 || argc == 9) && strcmp(argv[1], "run") == 0) {
        return cmd_run(argc, argv);
    }
    fprintf(stderr,
            "usage: vs_pg dump DBDIR OUTDIR\n"
            "       vs_pg run DBDIR CONNINFO QUERIES AS_OF OUT.json "
            "[--pg-queries N]\n");
    return 2;
}
