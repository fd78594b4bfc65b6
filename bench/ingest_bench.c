/* bench/ingest_bench.c -- durable upserts per second, through the API.
 * Sends each line of an NDJSON file of workers and jobs (`songgang gen`)
 * as the request the HTTP API would get (PUT /v1/workers/{id} or
 * PUT /v1/jobs/{id}, the line as the JSON body, an admin key), the way
 * the service's writer thread runs writes (matcher/service.c): BATCH
 * requests per write transaction, each straight in it (a group in which
 * one fails is begun again with that one in a nested transaction of its
 * own), one durable commit per group, and only then the replies.  So every
 * index, the pushed sets and the push inboxes are maintained, and a
 * job upsert pays for its push ranking (top 50 -> `match` events).
 * A batch holds one kind only, so that its time is that kind's.
 * Workers and jobs are reported apart: records, seconds, upserts/s, the
 * time in the requests (those that appended events apart) and in the
 * commits (fsync), events appended and commits, as one JSON object, then
 * one Markdown table row per kind.
 * Any reply other than 200/201 is printed with its body and makes the
 * exit status 1.  Single-threaded; not a test (asserts nothing on time).
 *
 * Usage: ingest_bench DBDIR FILE.ndjson BATCH [--limit N] [--push-top K]
 *                     [--store-only] [--rank]
 *   --limit N     only the first N lines of FILE
 *   --push-top K  candidates pushed per job write (sg_api_opts.push_top)
 *   --store-only  decode and put the records straight into the store (no
 *                 API, no auth, no push): the cost of the store writes
 *   --rank        afterwards, time the push rankings alone, each in its
 *                 own read transaction: sg_match_job (top K) for every job
 *                 sent, sg_match_worker (top 20, a `list` event's) for
 *                 every worker sent */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "songgang/api.h"
#include "songgang/auth.h"
#include "songgang/match.h"
#include "songgang/msg.h"
#include "songgang/store.h"

#define BATCH_MAX 100000 /* requests in one group commit */
#define SHOW_FAILS 20    /* failed replies printed in full */
#define LIST_TOP 20      /* matches in a `list` event (matcher/push.c) */
#define RESTARTS_MAX 4   /* as matcher/service.c: then every request nested */

/* rec is one line of the file, located before the clock starts. */
typedef struct rec {
    const char *line;       /* into the file's bytes */
    size_t len;             /* without the newline */
    long lineno;            /* 1-based, for messages */
    sg_kind kind;           /* worker or job */
    char id[SG_ID_MAX + 1]; /* the record's id, for the path */
} rec;

/* tally is what one kind's batches add up to. */
typedef struct tally {
    long records;    /* requests sent */
    long failed;     /* replies other than 200/201 */
    long commits;    /* durable commits */
    uint64_t events; /* events appended (seq advance) */
    double seconds;  /* whole batches: begin to replies */
    double handle_s; /* inside the requests (begin to commit) */
    double commit_s; /* inside the durable commits */
    long pushed;     /* requests that appended events */
    double pushed_s; /* their time (nested begin to nested commit) */
    long ranked;     /* --rank: records ranked */
    double rank_s;   /* --rank: time in sg_match_job / sg_match_worker */
    long restarts;   /* groups begun again after a request failed */
} tally;

/* reply_at is one request's outcome, kept until its batch commits. */
typedef struct reply_at {
    int status;  /* HTTP status */
    bool pushed; /* the request appended events */
    size_t off;  /* its body in the batch's body buffer */
    size_t len;  /* body bytes */
} reply_at;

typedef struct bench {
    sg_store *s;              /* the store, writable */
    sg_api *api;              /* the API over it */
    char key[SG_KEY_LEN + 1]; /* the admin key the requests carry */
    bool store_only;          /* bypass the API */
    int push_top;             /* 0 = the API's default */
    sg_msg_req req;           /* reused for every request */
    sg_buf body;              /* a batch's reply bodies */
    reply_at *rep;            /* [batch] outcomes */
    bool *alone;              /* [batch] run nested (failed once) */
    tally t[3];               /* indexed by sg_kind */
    long shown;               /* failures printed so far */
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "ingest_bench: %s: %s\n", what, sg_strerror(rc));
    exit(1);
}

static const char *kind_name(sg_kind k)
{
    return k == SG_KIND_WORKER ? "workers" : "jobs";
}

/* ---- Loading: the file's lines, their kinds and ids (not timed). ---- */

/* read_file returns FILE's bytes, NUL-terminated, owned. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ingest_bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1 << 20, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    if (buf == NULL) {
        abort(); /* out of memory */
    }
    if (ferror(f)) {
        fprintf(stderr, "ingest_bench: %s: read error\n", path);
        exit(1);
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* locate fills r's kind and id from its JSON text; the API parses the
 * line again when the clock runs, as it would parse an HTTP body. */
static void locate(rec *r, const char *path)
{
    json_error_t je;
    json_t *o = json_loadb(r->line, r->len, 0, &je);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *id = json_string_value(json_object_get(o, "id"));
    if (kind == NULL || id == NULL || strlen(id) > SG_ID_MAX ||
        (strcmp(kind, "worker") != 0 && strcmp(kind, "job") != 0)) {
        fprintf(stderr, "ingest_bench: %s:%ld: not a worker or job record\n",
                path, r->lineno);
        exit(1);
    }
    r->kind = strcmp(kind, "worker") == 0 ? SG_KIND_WORKER : SG_KIND_JOB;
    snprintf(r->id, sizeof r->id, "%s", id);
    json_decref(o);
}

/* load_recs splits buf into at most limit records (limit < 0: all). */
static rec *load_recs(char *buf, size_t len, long limit, const char *path,
                      size_t *n)
{
    size_t cap = 1024, k = 0;
    rec *v = malloc(cap * sizeof *v);
    char *p = buf, *end = buf + len;
    long lineno = 0;
    while (v != NULL && p < end && (limit < 0 || (long)k < limit)) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (l > 0 && p[l - 1] == '\r') {
            l--;
        }
        if (l > 0) {
            if (k == cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                if (v == NULL) {
                    break;
                }
            }
            v[k] = (rec){.line = p, .len = l, .lineno = lineno};
            locate(&v[k++], path);
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (v == NULL) {
        abort(); /* out of memory */
    }
    *n = k;
    return v;
}

/* ---- Set-up: store, API, key. ---- */

/* make_key stores a new admin key (everywhere) through the auth API, as
 * `songgang key create --role admin` does, in its own durable commit. */
static void make_key(bench *b)
{
    sg_cred tmpl;
    char id[SG_CRED_ID_LEN + 1];
    sg_error e;
    sg_txn *t;
    int rc;

    memset(&tmpl, 0, sizeof tmpl);
    tmpl.role = SG_ROLE_ADMIN;
    sg_error_clear(&e);
    if ((rc = sg_txn_begin(b->s, true, &t)) != 0) {
        die("begin", rc);
    }
    if ((rc = sg_auth_key_create(t, &tmpl, b->key, id, &e)) != 0) {
        sg_txn_abort(t);
        die("key create", rc);
    }
    if ((rc = sg_txn_commit(t)) != 0) {
        die("commit of the key", rc);
    }
}

/* ---- One request. ---- */

/* send_api answers r through the API in child, as the service would. */
static int send_api(bench *b, sg_txn *child, const rec *r, reply_at *out)
{
    sg_msg_req *q = &b->req;
    sg_msg_reply reply;
    uint64_t seq = 0;

    memset(q, 0, sizeof *q);
    strcpy(q->method, "PUT");
    snprintf(q->path, sizeof q->path, "/v1/%s/%s", kind_name(r->kind), r->id);
    strcpy(q->cred, b->key);
    strcpy(q->host, "127.0.0.1");
    q->ctype = SG_FMT_JSON;
    q->accept = SG_FMT_JSON;
    q->body = (const uint8_t *)r->line;
    q->body_len = r->len;
    out->off = b->body.len;
    int rc = sg_api_handle(b->api, child, q, &reply, &b->body, &seq);
    out->status = reply.status;
    out->pushed = seq > 0;
    out->len = b->body.len - out->off;
    return rc;
}

/* send_store decodes r and puts it straight into the store: what a
 * request costs without auth, replies and push. */
static int send_store(bench *b, sg_txn *child, const rec *r, reply_at *out)
{
    sg_worker w;
    sg_job j;
    sg_kind kind;
    sg_error e;

    sg_error_clear(&e);
    int rc = sg_json_decode(r->line, r->len, r->kind, sg_store_idkey(b->s),
                            &kind, &w, &j, &e);
    if (rc == 0) {
        rc = kind == SG_KIND_WORKER ? sg_txn_put_worker(child, &w, &e)
                                    : sg_txn_put_job(child, &j, &e);
    }
    out->status = rc == 0 ? 200 : rc == SG_EEXIST ? 409 : 400;
    out->pushed = false;
    out->off = b->body.len;
    if (rc != 0) {
        char msg[320];
        int n = snprintf(msg, sizeof msg, "%s: %s", e.field,
                         e.reason[0] ? e.reason : sg_strerror(rc));
        sg_buf_append(&b->body, msg,
                      (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    }
    out->len = b->body.len - out->off;
    return rc;
}

/* send_one runs r as the service's writer does (matcher/service.c
 * run_batch): straight in the group's transaction parent, or when it
 * failed once in this group (alone) in a nested transaction of its own,
 * kept only if it succeeded.  Returns nonzero when r failed straight in
 * parent, which must then be begun again.  The requests that appended
 * events are timed apart: they are the ones that paid for a push. */
static int send_one(bench *b, sg_txn *parent, const rec *r, bool alone,
                    reply_at *out, long *pushed, double *pushed_s)
{
    double t0 = now_s();
    sg_txn *t = parent;
    int rc;

    if (alone && (rc = sg_txn_begin_nested(parent, &t)) != 0) {
        die("nested begin", rc);
    }
    rc = b->store_only ? send_store(b, t, r, out) : send_api(b, t, r, out);
    if (rc != 0) {
        if (!alone) {
            return rc;
        }
        sg_txn_abort(t);
        return 0;
    }
    if (alone && (rc = sg_txn_commit(t)) != 0) {
        die("nested commit", rc);
    }
    if (out->pushed) {
        (*pushed)++;
        *pushed_s += now_s() - t0;
    }
    return 0;
}

/* ---- One group commit. ---- */

/* check_replies counts and prints every reply but 200/201, once the
 * batch is durable (when the service would send them). */
static void check_replies(bench *b, const rec *r, size_t n, tally *t)
{
    for (size_t i = 0; i < n; i++) {
        const reply_at *a = &b->rep[i];
        if (a->status == 200 || a->status == 201) {
            continue;
        }
        t->failed++;
        if (b->shown++ < SHOW_FAILS) {
            fprintf(stderr, "line %ld (%s %s): status %d: %.*s\n", r[i].lineno,
                    kind_name(r[i].kind), r[i].id, a->status, (int)a->len,
                    (const char *)b->body.data + a->off);
        }
    }
}

/* run_batch sends r[0..n) (one kind) in one durable group commit,
 * starting the group over when a request fails straight in it, as the
 * service's writer does; alone[i] marks the requests that failed. */
static void run_batch(bench *b, const rec *r, size_t n, bool *alone)
{
    tally *t = &b->t[r[0].kind];
    uint64_t seq0, seq1;
    sg_txn *parent;
    double t0 = now_s(), t1, t2, pushed_s;
    long pushed;
    int rc, restarts = 0;

    memset(alone, 0, n * sizeof *alone);
restart:
    b->body.len = 0;
    pushed = 0;
    pushed_s = 0;
    if ((rc = sg_txn_begin(b->s, true, &parent)) != 0 ||
        (rc = sg_txn_last_seq(parent, &seq0)) != 0) {
        die("begin", rc);
    }
    for (size_t i = 0; i < n; i++) {
        if (send_one(b, parent, &r[i], alone[i], &b->rep[i], &pushed,
                     &pushed_s) != 0) {
            sg_txn_abort(parent);
            alone[i] = true;
            if (++restarts >= RESTARTS_MAX) {
                memset(alone, 1, n * sizeof *alone);
            }
            t->restarts++;
            goto restart;
        }
    }
    if ((rc = sg_txn_last_seq(parent, &seq1)) != 0) {
        die("last seq", rc);
    }
    t1 = now_s();
    if ((rc = sg_txn_commit(parent)) != 0) {
        die("durable commit", rc);
    }
    t2 = now_s();
    check_replies(b, r, n, t);
    t->seconds += now_s() - t0;
    t->handle_s += t1 - t0;
    t->commit_s += t2 - t1;
    t->commits++;
    t->records += (long)n;
    t->events += seq1 - seq0;
    t->pushed += pushed;
    t->pushed_s += pushed_s;
}

/* run_all cuts the records into batches of at most batch, each of one
 * kind (a batch ends where the kind changes). */
static void run_all(bench *b, const rec *v, size_t n, size_t batch)
{
    size_t i = 0;
    while (i < n) {
        size_t k = 1;
        while (k < batch && i + k < n && v[i + k].kind == v[i].kind) {
            k++;
        }
        run_batch(b, &v[i], k, b->alone);
        i += k;
    }
}

/* rank_all times the push rankings alone: for every job sent, the one
 * its write runs (sg_match_job, top push_top); for every worker sent, the
 * one of a `list` event (sg_match_worker, top 20), which a worker write
 * runs only when its status turns returned or idle.  Each in its own read
 * transaction, after the run. */
static void rank_all(bench *b, const rec *v, size_t n)
{
    int32_t today = sg_today();
    sg_match_opts oj = {.as_of = today,
                        .limit = b->push_top > 0 ? b->push_top : 50};
    sg_match_opts ow = {.as_of = today, .limit = LIST_TOP};

    for (size_t i = 0; i < n; i++) {
        tally *t = &b->t[v[i].kind];
        sg_match_list l = {0};
        sg_txn *rt;
        double t0 = now_s();
        int rc;

        if ((rc = sg_txn_begin(b->s, false, &rt)) != 0) {
            die("read begin", rc);
        }
        rc = v[i].kind == SG_KIND_JOB ? sg_match_job(rt, v[i].id, &oj, &l)
                                      : sg_match_worker(rt, v[i].id, &ow, &l);
        sg_txn_abort(rt);
        if (rc != 0 && rc != SG_ENOTFOUND) {
            die("rank", rc);
        }
        sg_match_list_free(&l);
        t->rank_s += now_s() - t0;
        t->ranked++;
    }
}

/* ---- Report. ---- */

static double per_s(long n, double s)
{
    return s > 0 ? (double)n / s : 0;
}

static json_t *tally_jv(const tally *t)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "records",
        (json_int_t)t->records, "failed", (json_int_t)t->failed, "commits",
        (json_int_t)t->commits, "events", (json_int_t)t->events, "seconds",
        t->seconds, "per_s", per_s(t->records, t->seconds), "handle_s",
        t->handle_s, "commit_s", t->commit_s, "handle_ms_per_record",
        t->records > 0 ? 1e3 * t->handle_s / (double)t->records : 0.0,
        "commit_ms_per_commit",
        t->commits > 0 ? 1e3 * t->commit_s / (double)t->commits : 0.0);
    /* The requests that pushed, and the others (handle_s covers both). */
    json_object_set_new(o, "pushed", json_integer(t->pushed));
    json_object_set_new(o, "restarts", json_integer(t->restarts));
    json_object_set_new(
        o, "pushed_ms_per_record",
        json_real(t->pushed > 0 ? 1e3 * t->pushed_s / (double)t->pushed : 0));
    json_object_set_new(o, "unpushed_ms_per_record",
                        json_real(t->records > t->pushed
                                      ? 1e3 * (t->handle_s - t->pushed_s) /
                                            (double)(t->records - t->pushed)
                                      : 0));
    if (t->ranked > 0) {
        json_object_set_new(o, "rank_ms_per_record",
                            json_real(1e3 * t->rank_s / (double)t->ranked));
    }
    return o;
}

/* md_row prints kind k's row of the Markdown table (bench/ingest_bench.sh
 * writes its header). */
static void md_row(const bench *b, int k, size_t batch, const char *mode,
                   const char *top)
{
    const tally *t = &b->t[k];
    char rank[32] = "";

    if (t->ranked > 0) {
        snprintf(rank, sizeof rank, "%.3f",
                 1e3 * t->rank_s / (double)t->ranked);
    }
    printf("| %s | %zu | %s | %s | %ld | %.3f | %.0f | %.3f | %.3f | %llu | "
           "%ld | %s | %ld |\n",
           kind_name((sg_kind)k), batch, mode, top, t->records, t->seconds,
           per_s(t->records, t->seconds),
           1e3 * t->handle_s / (double)t->records,
           1e3 * t->commit_s / (double)t->commits,
           (unsigned long long)t->events, t->commits, rank, t->failed);
}

/* report prints the JSON object on one line, then a row per kind sent. */
static void report(const bench *b, size_t batch, const char *file)
{
    const char *mode = b->store_only ? "store-only" : "api";
    int top = b->push_top > 0 ? b->push_top : 50;
    char tops[16] = "-";
    json_t *o = json_pack("{s:s,s:I,s:s,s:o,s:o,s:o}", "file", file, "batch",
                          (json_int_t)batch, "mode", mode, "push_top",
                          b->store_only ? json_null() : json_integer(top),
                          "workers", tally_jv(&b->t[SG_KIND_WORKER]), "jobs",
                          tally_jv(&b->t[SG_KIND_JOB]));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));

    if (s == NULL) {
        abort(); /* out of memory */
    }
    puts(s);
    free(s);
    json_decref(o);
    if (!b->store_only) {
        snprintf(tops, sizeof tops, "%d", top);
    }
    for (int k = SG_KIND_WORKER; k <= SG_KIND_JOB; k++) {
        if (b->t[k].records > 0) {
            md_row(b, k, batch, mode, tops);
        }
    }
}

/* ---- Main. ---- */

static int usage(void)
{
    fputs("usage: ingest_bench DBDIR FILE.ndjson BATCH [--limit N] "
          "[--push-top K] [--store-only] [--rank]\n",
          stderr);
    return 2;
}

/* num parses a whole decimal in lo..hi, or returns -1. */
static long num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi ? -1
                                                                        : v;
}

int main(int argc, char **argv)
{
    static bench b;
    long limit = -1, batch;
    bool rank = false;
    sg_api_opts ao = {0};
    int rc;

    if (argc < 4 || (batch = num(argv[3], 1, BATCH_MAX)) < 0) {
        return usage();
    }
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            limit = num(argv[++i], 0, 1000000000);
        } else if (strcmp(argv[i], "--push-top") == 0 && i + 1 < argc) {
            b.push_top = (int)num(argv[++i], 1, SG_MATCH_LIMIT_MAX);
        } else if (strcmp(argv[i], "--store-only") == 0) {
            b.store_only = true;
        } else if (strcmp(argv[i], "--rank") == 0) {
            rank = true;
        } else {
            return usage();
        }
        if (limit < -1 || b.push_top < 0) {
            return usage();
        }
    }

    /* Step 1: the records, located before the clock starts. */
    size_t len, n;
    char *buf = read_file(argv[2], &len);
    rec *v = load_recs(buf, len, limit, argv[2], &n);

    /* Step 2: the store, the API and an admin key. */
    if ((rc = sg_store_open(&b.s, argv[1], 0)) != 0) {
        die(argv[1], rc);
    }
    ao.push_top = b.push_top;
    if ((rc = sg_api_open(&b.api, b.s, &ao)) != 0) {
        die("api open", rc);
    }
    make_key(&b);
    sg_buf_init(&b.body);
    b.rep = calloc((size_t)batch, sizeof *b.rep);
    b.alone = calloc((size_t)batch, sizeof *b.alone);
    if (b.rep == NULL || b.alone == NULL) {
        abort();
    }

    /* Step 3: the timed run, then the ranking alone if asked. */
    run_all(&b, v, n, (size_t)batch);
    if (rank) {
        rank_all(&b, v, n);
    }
    report(&b, (size_t)batch, argv[2]);

    long failed = b.t[SG_KIND_WORKER].failed + b.t[SG_KIND_JOB].failed;
    if (failed > 0) {
        fprintf(stderr, "ingest_bench: %ld replies other than 200/201\n",
                failed);
    }
    memset(b.key, 0, sizeof b.key);
    free(b.rep);
    free(b.alone);
    sg_buf_free(&b.body);
    sg_api_close(b.api);
    sg_store_close(b.s);
    free(v);
    free(buf);
    return failed > 0 ? 1 : 0;
}
