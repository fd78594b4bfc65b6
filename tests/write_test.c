/* tests/write_test.c -- the one write path (songgang/write.h): the same
 * generated county written into store A by the CLI's import path (with
 * pushes on) and into store B by POSTs and PUTs through sg_api_handle must
 * leave identical stores -- every record of the export and every event of
 * the log (seq, type, worker, region, data); likewise close-job and
 * delete against the API's DELETE.  SG_WRITE_NO_PUSH writes no events,
 * leaves the store check-clean, and keeps pushed sets so that a later
 * close tells exactly those that were told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/gen.h"
#include "songgang/api.h"
#include "songgang/auth.h"
#include "songgang/store.h"
#include "songgang/write.h"
#include "testutil.h"

#define NWORKERS 240
#define NJOBS 24

typedef struct side {
    char dir[256]; /* data directory */
    sg_store *s;   /* store */
} side;

/* lines is the generated county, one NDJSON line each (owned). */
typedef struct lines {
    char *text;   /* the whole output */
    char **v;     /* line starts, NUL-terminated in text */
    size_t n;     /* lines */
} lines;

static void gen_lines(lines *l, uint64_t seed)
{
    size_t size;
    FILE *f = open_memstream(&l->text, &size);
    sg_gen_opts o = {.county = "360425",
                     .counties = 1,
                     .workers = NWORKERS,
                     .jobs = NJOBS,
                     .seed = seed};
    assert_int_equal(sg_gen_write(f, &o), 0);
    fclose(f);
    l->v = calloc(NWORKERS + NJOBS + 1, sizeof(char *));
    l->n = 0;
    for (char *p = l->text, *nl; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        l->v[l->n++] = p;
    }
    assert_int_equal(l->n, NWORKERS + NJOBS);
}

static void lines_free(lines *l)
{
    free(l->v);
    free(l->text);
}

/* open_side opens a fresh store; with key_from, it takes that store's
 * ID-number key, so that the exported hashes can be compared. */
static void open_side(side *x, const side *key_from)
{
    tu_tempdir(x->dir, sizeof(x->dir));
    if (key_from != NULL) {
        char a[300], b[300], cmd[700];
        snprintf(a, sizeof(a), "%s/idnum.key", key_from->dir);
        snprintf(b, sizeof(b), "%s/idnum.key", x->dir);
        snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s'", a, b);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(sg_store_open(&x->s, x->dir, 0), 0);
}

static void print_problem(void *arg, const char *p)
{
    (void)arg;
    fprintf(stderr, "check: %s\n", p);
}

static void close_side(side *x)
{
    assert_int_equal(sg_store_check(x->s, print_problem, NULL), 0);
    sg_store_close(x->s);
    tu_rmrf(x->dir);
}

/* ---- What a store holds, as text. ---- */

static int dump_worker(void *arg, const sg_worker *w)
{
    sg_worker_to_json(w, arg);
    sg_buf_append(arg, "\n", 1);
    return 0;
}

static int dump_job(void *arg, const sg_job *j)
{
    sg_job_to_json(j, arg);
    sg_buf_append(arg, "\n", 1);
    return 0;
}

static int dump_event(void *arg, const sg_event *ev, const uint8_t *raw,
                      size_t n)
{
    (void)raw;
    (void)n;
    char head[128];
    int k = snprintf(head, sizeof(head), "%llu %s %s %s ",
                     (unsigned long long)ev->seq, ev->type, ev->worker,
                     ev->region);
    sg_buf_append(arg, head, (size_t)k);
    sg_buf_append(arg, ev->data, ev->data_len);
    sg_buf_append(arg, "\n", 1);
    return 0;
}

/* dump gives every record (export order) and every event, as text
 * (malloc'd, NUL-terminated), and the number of events. */
static void dump(side *x, char **records, char **events, size_t *nevents)
{
    sg_txn *t;
    sg_buf r, e;
    sg_buf_init(&r);
    sg_buf_init(&e);
    assert_int_equal(sg_txn_begin(x->s, false, &t), 0);
    assert_int_equal(sg_txn_each_worker(t, dump_worker, &r), 0);
    assert_int_equal(sg_txn_each_job(t, dump_job, &r), 0);
    assert_int_equal(sg_txn_events_after(t, 0, dump_event, &e), 0);
    uint64_t last;
    assert_int_equal(sg_txn_last_seq(t, &last), 0);
    sg_txn_abort(t);
    sg_buf_append(&r, "", 1);
    sg_buf_append(&e, "", 1);
    *records = strdup((const char *)r.data);
    *events = strdup((const char *)e.data);
    *nevents = (size_t)last;
    sg_buf_free(&r);
    sg_buf_free(&e);
}

static size_t count_type(const char *events, const char *type)
{
    char pat[16];
    size_t n = 0;
    snprintf(pat, sizeof(pat), " %s ", type);
    for (const char *p = events; (p = strstr(p, pat)) != NULL; p++) {
        n++;
    }
    return n;
}

/* ---- Side A: the CLI's paths (songgang import --push, close-job,
 * delete), through the shared functions in group commits. ---- */

static void cli_import(side *x, char **v, size_t n, unsigned flags)
{
    sg_txn *t;
    sg_write wr;
    assert_int_equal(sg_txn_begin(x->s, true, &t), 0);
    sg_write_init(&wr, t, flags, 0, NULL);
    for (size_t i = 0; i < n; i++) {
        sg_error e;
        sg_error_clear(&e);
        int rc = sg_write_import_line(&wr, v[i], strlen(v[i]), 0,
                                      sg_store_idkey(x->s), NULL, &e);
        if (rc != 0) {
            fprintf(stderr, "line %zu: %s: %s\n", i + 1, e.field, e.reason);
        }
        assert_int_equal(rc, 0);
        if ((i + 1) % 100 == 0) { /* a group commit, as the CLI's */
            assert_int_equal(sg_txn_commit(t), 0);
            assert_int_equal(sg_txn_begin(x->s, true, &t), 0);
            wr.t = t;
        }
    }
    assert_int_equal(sg_txn_commit(t), 0);
}

/* cli_one runs close-job (del false) or delete of a job, in its own
 * transaction as `songgang close-job` / `songgang delete` do. */
static int cli_one(side *x, const char *job, bool del)
{
    sg_txn *t;
    sg_write wr;
    assert_int_equal(sg_txn_begin(x->s, true, &t), 0);
    sg_write_init(&wr, t, 0, 0, NULL);
    int rc = del ? sg_write_delete_job(&wr, job)
                 : sg_write_close_job(&wr, job, NULL);
    if (rc == 0) {
        assert_int_equal(sg_txn_commit(t), 0);
    } else {
        sg_txn_abort(t);
    }
    return rc;
}

/* ---- Side B: the API, request by request as the service runs them. */

typedef struct api_side {
    side x;                        /* the store */
    sg_api *a;                     /* the API over it */
    char key[SG_TOKEN_MAX + 1];    /* an admin key */
} api_side;

static void api_open(api_side *b, const side *key_from)
{
    open_side(&b->x, key_from);
    sg_txn *t;
    sg_cred tmpl;
    char id[SG_CRED_ID_LEN + 1];
    sg_error e;
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.role = SG_ROLE_ADMIN;
    assert_int_equal(sg_txn_begin(b->x.s, true, &t), 0);
    assert_int_equal(sg_auth_key_create(t, &tmpl, b->key, id, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(sg_api_open(&b->a, b->x.s, NULL), 0);
}

static int api_req(api_side *b, const char *method, const char *path,
                   const char *body)
{
    sg_msg_req q;
    sg_msg_reply rep;
    sg_buf out;
    memset(&q, 0, offsetof(sg_msg_req, qstore));
    snprintf(q.method, sizeof(q.method), "%s", method);
    snprintf(q.path, sizeof(q.path), "%s", path);
    snprintf(q.cred, sizeof(q.cred), "%s", b->key);
    q.accept = SG_FMT_JSON;
    if (body != NULL) {
        q.ctype = SG_FMT_JSON;
        q.body = (const uint8_t *)body;
        q.body_len = strlen(body);
    }
    sg_buf_init(&out);
    sg_txn *t, *child;
    assert_int_equal(sg_txn_begin(b->x.s, true, &t), 0);
    assert_int_equal(sg_txn_begin_nested(t, &child), 0);
    uint64_t seq = 0;
    int rc = sg_api_handle(b->a, child, &q, &rep, &out, &seq);
    if (rc == 0) {
        assert_int_equal(sg_txn_commit(child), 0);
        assert_int_equal(sg_txn_commit(t), 0);
    } else {
        fprintf(stderr, "%s %s: %d %.*s\n", method, path, rep.status,
                (int)rep.body_len, (const char *)rep.body);
        sg_txn_abort(child);
        sg_txn_abort(t);
    }
    int status = rep.status;
    sg_buf_free(&out);
    return status;
}

static void api_close(api_side *b)
{
    sg_api_close(b->a);
    close_side(&b->x);
}

/* api_write POSTs a new record or PUTs a known one (by its "kind"). */
static void api_write(api_side *b, const char *line, bool put)
{
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    bool job = strcmp(json_string_value(json_object_get(o, "kind")), "job") == 0;
    char path[128];
    if (put) {
        snprintf(path, sizeof(path), "/v1/%s/%s", job ? "jobs" : "workers",
                 json_string_value(json_object_get(o, "id")));
    } else {
        snprintf(path, sizeof(path), "/v1/%s", job ? "jobs" : "workers");
    }
    json_decref(o);
    assert_int_equal(api_req(b, put ? "PUT" : "POST", path, line),
                     put ? 200 : 201);
}

/* changes makes update lines from some generated ones: workers turned
 * "returned" (a `list` each), jobs with fewer openings or closed (re-
 * ranked or taken back).  Owned strings, n of them. */
static char **changes(const lines *l, size_t *n)
{
    char **v = calloc(l->n, sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        json_t *o = json_loads(l->v[i], 0, NULL);
        assert_non_null(o);
        const char *kind = json_string_value(json_object_get(o, "kind"));
        bool keep = false;
        if (strcmp(kind, "worker") == 0 && i % 17 == 0) {
            json_object_set_new(o, "status", json_string("returned"));
            json_object_set_new(o, "seeking", json_true());
            /* An ID number goes in once; an update leaves it out. */
            json_object_del(o, "id_number");
            keep = true;
        } else if (strcmp(kind, "job") == 0 && i % 3 == 0) {
            json_object_set_new(o, "openings", json_integer(1));
            keep = true;
        } else if (strcmp(kind, "job") == 0 && i % 3 == 1) {
            json_object_set_new(o, "state", json_string("closed"));
            keep = true;
        }
        if (keep) {
            v[(*n)++] = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                          JSON_REAL_PRECISION(17));
        }
        json_decref(o);
    }
    return v;
}

static void free_changes(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static void assert_same(side *a, side *b, size_t *nevents)
{
    char *ra, *ea, *rb, *eb;
    size_t na, nb;
    dump(a, &ra, &ea, &na);
    dump(b, &rb, &eb, &nb);
    assert_string_equal(ra, rb);
    assert_string_equal(ea, eb);
    assert_int_equal(na, nb);
    *nevents = na;
    free(ra);
    free(ea);
    free(rb);
    free(eb);
}

/* both_ways generates the county of seed into l and writes it into a by
 * the CLI's import and into b by POSTs, then checks that the two stores
 * and event logs are the same; *nevents: how many events each has. */
static void both_ways(lines *l, uint64_t seed, side *a, api_side *b,
                      size_t *nevents)
{
    gen_lines(l, seed);
    open_side(a, NULL);
    api_open(b, a);
    cli_import(a, l->v, l->n, 0);
    for (size_t i = 0; i < l->n; i++) {
        api_write(b, l->v[i], false);
    }
    assert_same(a, &b->x, nevents);
}

/* The generated county through both paths: same records, same events. */
static void test_import_vs_api(void **state)
{
    (void)state;
    lines l;
    side a;
    api_side b;
    size_t nev;
    both_ways(&l, 11, &a, &b, &nev);
    assert_true(nev > 0); /* the jobs reached someone */

    /* Updates: import (upsert) on A, PUT on B. */
    size_t nc;
    char **c = changes(&l, &nc);
    assert_true(nc > 10);
    cli_import(&a, c, nc, 0);
    for (size_t i = 0; i < nc; i++) {
        api_write(&b, c[i], true);
    }
    size_t nev2;
    assert_same(&a, &b.x, &nev2);
    assert_true(nev2 > nev);
    char *ra, *ea;
    size_t n;
    dump(&a, &ra, &ea, &n);
    assert_true(count_type(ea, "list") > 0);
    assert_true(count_type(ea, "removed") > 0);
    free(ra);
    free(ea);

    free_changes(c, nc);
    lines_free(&l);
    api_close(&b);
    close_side(&a);
}

/* close-job and delete (CLI) against DELETE /v1/jobs/{id} (API), which
 * closes: the same `removed` events to the same workers. */
static void test_close_and_delete_vs_api(void **state)
{
    (void)state;
    lines l;
    side a;
    api_side b;
    size_t before;
    both_ways(&l, 12, &a, &b, &before);

    /* close-job on A, DELETE on B, for every job; twice (idempotent). */
    for (int round = 0; round < 2; round++) {
        for (size_t i = NWORKERS; i < l.n; i += 2) {
            json_t *o = json_loads(l.v[i], 0, NULL);
            const char *id = json_string_value(json_object_get(o, "id"));
            char path[128];
            snprintf(path, sizeof(path), "/v1/jobs/%s", id);
            assert_int_equal(cli_one(&a, id, false), 0);
            assert_int_equal(api_req(&b, "DELETE", path, NULL), 200);
            json_decref(o);
        }
    }
    size_t after;
    assert_same(&a, &b.x, &after);
    char *ra, *ea;
    size_t n;
    dump(&a, &ra, &ea, &n);
    assert_true(count_type(ea, "removed") > 0);
    free(ra);
    free(ea);

    /* delete on A: the events are DELETE's on B; the job is gone on A
     * (closed on B) and deleting it again is not found. */
    json_t *o = json_loads(l.v[NWORKERS + 1], 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    char path[128];
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    assert_int_equal(cli_one(&a, id, true), 0);
    assert_int_equal(api_req(&b, "DELETE", path, NULL), 200);
    assert_int_equal(cli_one(&a, id, true), SG_ENOTFOUND);
    char *rb, *eb;
    dump(&a, &ra, &ea, &n);
    dump(&b.x, &rb, &eb, &n);
    assert_string_equal(ea, eb);
    assert_true(strlen(ra) < strlen(rb));
    assert_null(strstr(ra, id));
    assert_non_null(strstr(rb, id));
    free(ra);
    free(ea);
    free(rb);
    free(eb);
    json_decref(o);

    lines_free(&l);
    api_close(&b);
    close_side(&a);
}

/* SG_WRITE_NO_PUSH: the same records, no events, a clean store. */
static void test_no_push(void **state)
{
    (void)state;
    lines l;
    gen_lines(&l, 13);
    side a, c;
    open_side(&a, NULL);
    open_side(&c, &a);
    cli_import(&a, l.v, l.n, 0);
    cli_import(&c, l.v, l.n, SG_WRITE_NO_PUSH);
    char *ra, *ea, *rc, *ec;
    size_t na, nc;
    dump(&a, &ra, &ea, &na);
    dump(&c, &rc, &ec, &nc);
    assert_true(na > 0);
    assert_int_equal(nc, 0);
    assert_string_equal(ec, "");
    assert_string_equal(ra, rc); /* same records, same indexes checked */
    assert_int_equal(sg_store_check(c.s, print_problem, NULL), 0);
    free(ra);
    free(ea);
    free(rc);
    free(ec);
    lines_free(&l);
    close_side(&c);
    close_side(&a);
}

static int count_id(void *arg, const char *id)
{
    (void)id;
    (*(size_t *)arg)++;
    return 0;
}

/* Pushed sets after a no-push write: a job imported without pushes and
 * then closed tells nobody; a job pushed, changed without pushes and
 * then closed tells exactly those it was pushed to. */
static void test_no_push_then_close(void **state)
{
    (void)state;
    lines l;
    gen_lines(&l, 14);
    side a;
    open_side(&a, NULL);
    /* Workers and half the jobs with pushes, the other half without. */
    size_t half = NWORKERS + NJOBS / 2;
    cli_import(&a, l.v, half, 0);
    cli_import(&a, l.v + half, l.n - half, SG_WRITE_NO_PUSH);
    char *r, *e0;
    size_t n0;
    dump(&a, &r, &e0, &n0);
    free(r);
    assert_true(n0 > 0);

    sg_txn *t;
    for (size_t i = NWORKERS; i < l.n; i++) {
        json_t *o = json_loads(l.v[i], 0, NULL);
        const char *id = json_string_value(json_object_get(o, "id"));
        size_t pushed = 0, matched = 0;
        assert_int_equal(sg_txn_begin(a.s, false, &t), 0);
        assert_int_equal(sg_txn_pushed_each(t, id, count_id, &pushed), 0);
        sg_txn_abort(t);
        char pat[64];
        snprintf(pat, sizeof(pat), "{\"job\":\"%s\"", id);
        for (const char *p = e0; (p = strstr(p, pat)) != NULL; p++) {
            matched++;
        }
        if (i >= half) {
            assert_int_equal(pushed, 0);
            assert_int_equal(matched, 0);
        } else {
            assert_int_equal(pushed, matched);
        }
        /* A change without pushes keeps the set as it is. */
        json_object_set_new(o, "openings", json_integer(0));
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
        char *one[1] = {line};
        cli_import(&a, one, 1, SG_WRITE_NO_PUSH);
        size_t still = 0;
        assert_int_equal(sg_txn_begin(a.s, false, &t), 0);
        assert_int_equal(sg_txn_pushed_each(t, id, count_id, &still), 0);
        sg_txn_abort(t);
        assert_int_equal(still, pushed);
        /* Closing with pushes tells exactly them. */
        uint64_t seq0, seq1;
        assert_int_equal(sg_txn_begin(a.s, false, &t), 0);
        assert_int_equal(sg_txn_last_seq(t, &seq0), 0);
        sg_txn_abort(t);
        assert_int_equal(cli_one(&a, id, false), 0);
        assert_int_equal(sg_txn_begin(a.s, false, &t), 0);
        assert_int_equal(sg_txn_last_seq(t, &seq1), 0);
        still = 0;
        assert_int_equal(sg_txn_pushed_each(t, id, count_id, &still), 0);
        sg_txn_abort(t);
        assert_int_equal(seq1 - seq0, pushed);
        assert_int_equal(still, 0);
        free(line);
        json_decref(o);
    }
    free(e0);
    lines_free(&l);
    close_side(&a);
}

/* A rejected line is the line's: 1, the field named, nothing written. */
static void test_import_line_rejects(void **state)
{
    (void)state;
    side a;
    open_side(&a, NULL);
    sg_txn *t;
    sg_write wr;
    sg_error e;
    assert_int_equal(sg_txn_begin(a.s, true, &t), 0);
    sg_write_init(&wr, t, 0, 0, NULL);
    const char *bad = "{\"kind\":\"worker\",\"id\":\"x\"}";
    sg_error_clear(&e);
    assert_int_equal(sg_write_import_line(&wr, bad, strlen(bad), 0,
                                          sg_store_idkey(a.s), NULL, &e),
                     1);
    assert_true(e.reason[0] != '\0');
    const char *w =
        "{\"kind\":\"worker\",\"id\":\"w1\",\"name\":\"甲\",\"region\":"
        "\"360425108201\",\"labor_class\":\"half\",\"category\":"
        "\"low_income\",\"household\":\"h1\",\"travel\":\"township\","
        "\"expected_wage\":2000,\"status\":\"idle\",\"seeking\":true}";
    /* Outside the scope: rejected naming the region. */
    wr.scope = "360425110";
    sg_error_clear(&e);
    assert_int_equal(sg_write_import_line(&wr, w, strlen(w), SG_KIND_WORKER,
                                          sg_store_idkey(a.s), NULL, &e),
                     1);
    assert_string_equal(e.field, "region");
    wr.scope = "360425108";
    sg_kind k = 0;
    assert_int_equal(sg_write_import_line(&wr, w, strlen(w), SG_KIND_WORKER,
                                          sg_store_idkey(a.s), &k, &e),
                     0);
    assert_int_equal(k, SG_KIND_WORKER);
    /* A job line where only workers are wanted. */
    const char *j = "{\"kind\":\"job\",\"id\":\"j1\"}";
    assert_int_equal(sg_write_import_line(&wr, j, strlen(j), SG_KIND_WORKER,
                                          sg_store_idkey(a.s), NULL, &e),
                     1);
    assert_int_equal(sg_txn_commit(t), 0);
    size_t nw, nj;
    assert_int_equal(sg_txn_begin(a.s, false, &t), 0);
    assert_int_equal(sg_txn_counts(t, &nw, &nj), 0);
    sg_txn_abort(t);
    assert_int_equal(nw, 1);
    assert_int_equal(nj, 0);
    /* Deleting: not found, then the worker. */
    assert_int_equal(sg_txn_begin(a.s, true, &t), 0);
    sg_write_init(&wr, t, 0, 0, NULL);
    assert_int_equal(sg_write_delete_worker(&wr, "nobody"), SG_ENOTFOUND);
    assert_int_equal(sg_write_close_job(&wr, "nojob", NULL), SG_ENOTFOUND);
    assert_int_equal(sg_write_delete_worker(&wr, "w1"), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    close_side(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_vs_api),
        cmocka_unit_test(test_close_and_delete_vs_api),
        cmocka_unit_test(test_no_push),
        cmocka_unit_test(test_no_push_then_close),
        cmocka_unit_test(test_import_line_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
