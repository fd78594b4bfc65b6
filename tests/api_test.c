/* tests/api_test.c -- the API's semantics through sg_api_handle, with a
 * real store in a temporary directory and real keys and tokens: every
 * endpoint, a table of role and scope for every endpoint and every kind
 * of caller, bad JSON and msgpack (the field named), oversize bodies and
 * bad parameters, push events (match, removed, list) with their seqs,
 * event backlogs after Last-Event-ID, and the internal calls.  Each test
 * ends with sg_store_check finding nothing.  Requests run as the service
 * runs them: reads in a read transaction, writes in a nested transaction
 * committed on success (or, for the role table, always aborted). */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "songgang/api.h"
#include "songgang/auth.h"
#include "songgang/store.h"
#include "testutil.h"

/* The callers of the role table, in its column order. */
enum {
    C_NONE,      /* no credential */
    C_ADMIN,     /* admin */
    C_SADMIN,    /* admin scoped to 360425110 */
    C_OFF_IN,    /* officer of 360425108: wa, wb, wd are in scope */
    C_OFF_OUT,   /* officer of 360425110: they are not */
    C_EMP_OWN,   /* employer E1: owns ja */
    C_EMP_OTHER, /* employer E2 */
    C_W_SELF,    /* token of wa */
    C_W_OTHER,   /* token of wb */
    C_EXPIRED,   /* expired admin key */
    C_REVOKED,   /* revoked admin key */
    C_REV_TOKEN, /* revoked token of wa */
    C_FORGED,    /* token of wa with its signature changed */
    C_EXP_TOKEN, /* expired token of wa */
    C__COUNT
};

typedef struct fixture {
    char dir[256];                         /* data directory */
    sg_store *s;                           /* store */
    sg_api *a;                             /* API */
    char cred[C__COUNT][SG_TOKEN_MAX + 1]; /* credential per caller */
    sg_msg_req req;                        /* the request being built */
    char qbuf[1024];                       /* its query's storage */
    sg_msg_reply rep;                      /* the last reply */
    sg_buf body;                           /* its body */
    uint64_t last_seq;                     /* raised by each request */
    json_t *jv;                            /* the last reply, parsed */
} fixture;

static const char *const W_A =
    "{\"id\":\"wa\",\"name\":\"甲\",\"region\":\"360425108201\","
    "\"labor_class\":\"half\",\"skills\":[\"sew\"],\"category\":"
    "\"monitored\",\"household\":\"ha\",\"travel\":\"township\","
    "\"expected_wage\":2000,\"status\":\"idle\",\"seeking\":true}";
static const char *const W_B =
    "{\"id\":\"wb\",\"name\":\"乙\",\"region\":\"360425108202\","
    "\"labor_class\":\"ordinary\",\"skills\":[\"sew\"],\"category\":"
    "\"poverty_exited\",\"household\":\"hb\",\"travel\":\"county\","
    "\"expected_wage\":2500,\"status\":\"caregiving\",\"seeking\":true}";
static const char *const W_C =
    "{\"id\":\"wc\",\"name\":\"丙\",\"region\":\"360425110201\","
    "\"labor_class\":\"weak\",\"category\":\"low_income\",\"household\":"
    "\"hc\",\"travel\":\"village\",\"expected_wage\":1000,\"status\":"
    "\"idle\",\"seeking\":true}";
static const char *const W_D =
    "{\"id\":\"wd\",\"name\":\"丁\",\"region\":\"360425108201\","
    "\"labor_class\":\"ordinary\",\"skills\":[\"sew\"],\"category\":"
    "\"low_income\",\"household\":\"hd\",\"travel\":\"county\","
    "\"expected_wage\":3000,\"status\":\"employed_local\",\"seeking\":false}";
static const char *const J_A =
    "{\"id\":\"ja\",\"employer\":\"E1\",\"source\":\"workshop\",\"title\":"
    "\"缝纫工\",\"skills_required\":[\"sew\"],\"labor_classes\":[\"half\","
    "\"ordinary\"],\"sites\":[{\"region\":\"360425108202\"}],\"openings\":5,"
    "\"wage_min\":2000,\"wage_max\":2800,\"posted\":"
    "\"2026-11-28T09:00:00+08:00\"}";
static const char *const J_B =
    "{\"id\":\"jb\",\"employer\":\"E2\",\"source\":\"public_welfare\","
    "\"title\":\"护林员\",\"labor_classes\":[\"weak\"],\"sites\":[{"
    "\"region\":\"360425110201\"}],\"openings\":2,\"wage_min\":800,"
    "\"wage_max\":1000,\"posted\":\"2026-11-28T09:00:00+08:00\"}";
static const char *const J_C =
    "{\"id\":\"jc\",\"employer\":\"E1\",\"source\":\"workshop\",\"title\":"
    "\"旧岗位\",\"labor_classes\":[\"ordinary\"],\"sites\":[{\"region\":"
    "\"360425108201\"}],\"openings\":1,\"wage_min\":1,\"wage_max\":2,"
    "\"posted\":\"2026-01-01T09:00:00+08:00\",\"state\":\"closed\"}";
/* A new job of E1 that wa and wb fit. */
static const char *const J_N =
    "{\"id\":\"jn\",\"employer\":\"E1\",\"source\":\"workshop\",\"title\":"
    "\"新缝纫线\",\"skills_required\":[\"sew\"],\"labor_classes\":[\"half\","
    "\"ordinary\"],\"sites\":[{\"region\":\"360425108202\"}],\"openings\":3,"
    "\"wage_min\":2100,\"wage_max\":2900,\"posted\":"
    "\"2026-11-28T10:00:00+08:00\"}";
/* A new worker under 360425108. */
static const char *const W_N =
    "{\"id\":\"wn\",\"name\":\"戊\",\"region\":\"360425108203\","
    "\"labor_class\":\"ordinary\",\"category\":\"low_income\",\"household\":"
    "\"hn\",\"travel\":\"county\",\"expected_wage\":2000,\"status\":\"idle\","
    "\"seeking\":true}";

/* ---- Set-up. ---- */

static void put_json(fixture *f, sg_txn *t, const char *s)
{
    sg_kind kind;
    sg_worker w;
    sg_job j;
    sg_error e;
    assert_int_equal(sg_json_decode(s, strlen(s), 0, NULL, &kind, &w, &j, &e) ==
                             0 ||
                         sg_json_decode(s, strlen(s), SG_KIND_WORKER, NULL,
                                        &kind, &w, &j, &e) == 0 ||
                         sg_json_decode(s, strlen(s), SG_KIND_JOB, NULL, &kind,
                                        &w, &j, &e) == 0,
                     1);
    (void)f;
    if (kind == SG_KIND_WORKER) {
        assert_int_equal(sg_txn_put_worker(t, &w, &e), 0);
    } else {
        assert_int_equal(sg_txn_put_job(t, &j, &e), 0);
    }
}

static void make_key(sg_txn *t, char *out, int role, const char *scope,
                     const char *employer, int64_t expires)
{
    sg_cred tmpl;
    char id[SG_CRED_ID_LEN + 1];
    sg_error e;
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.role = (uint8_t)role;
    snprintf(tmpl.scope, sizeof(tmpl.scope), "%s", scope);
    snprintf(tmpl.employer, sizeof(tmpl.employer), "%s", employer);
    tmpl.expires = expires;
    assert_int_equal(sg_auth_key_create(t, &tmpl, out, id, &e), 0);
    assert_int_equal(strlen(out), SG_KEY_LEN);
}

static void make_token(sg_auth *au, sg_txn *t, char *out, const char *worker,
                       int64_t expires, char *id)
{
    sg_error e;
    assert_int_equal(sg_auth_token_issue(au, t, worker, expires, out, id, &e),
                     0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    tu_tempdir(f->dir, sizeof(f->dir));
    assert_int_equal(sg_store_open(&f->s, f->dir, 0), 0);
    sg_txn *t;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    const char *recs[] = {W_A, W_B, W_C, W_D, J_A, J_B, J_C};
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        put_json(f, t, recs[i]);
    }
    int64_t now = (int64_t)time(NULL);
    sg_auth au;
    sg_auth_init(&au, f->s);
    assert_true(au.have);
    char id[SG_CRED_ID_LEN + 1];
    make_key(t, f->cred[C_ADMIN], SG_ROLE_ADMIN, "", "", 0);
    make_key(t, f->cred[C_SADMIN], SG_ROLE_ADMIN, "360425110", "", 0);
    make_key(t, f->cred[C_OFF_IN], SG_ROLE_OFFICER, "360425108", "", 0);
    make_key(t, f->cred[C_OFF_OUT], SG_ROLE_OFFICER, "360425110", "", 0);
    make_key(t, f->cred[C_EMP_OWN], SG_ROLE_EMPLOYER, "", "E1", 0);
    make_key(t, f->cred[C_EMP_OTHER], SG_ROLE_EMPLOYER, "", "E2", 0);
    make_token(&au, t, f->cred[C_W_SELF], "wa", now + 86400, id);
    make_token(&au, t, f->cred[C_W_OTHER], "wb", now + 86400, id);
    make_key(t, f->cred[C_EXPIRED], SG_ROLE_ADMIN, "", "", now);
    make_key(t, f->cred[C_REVOKED], SG_ROLE_ADMIN, "", "", 0);
    memcpy(id, f->cred[C_REVOKED] + 4, SG_CRED_ID_LEN);
    id[SG_CRED_ID_LEN] = '\0';
    assert_int_equal(sg_txn_cred_revoke(t, id), 0);
    make_token(&au, t, f->cred[C_REV_TOKEN], "wa", now + 86400, id);
    assert_int_equal(sg_txn_cred_revoke(t, id), 0);
    /* Forged: a valid token with one signature digit changed. */
    memcpy(f->cred[C_FORGED], f->cred[C_W_SELF], sizeof(f->cred[0]));
    size_t n = strlen(f->cred[C_FORGED]);
    f->cred[C_FORGED][n - 1] = f->cred[C_FORGED][n - 1] == '0' ? '1' : '0';
    make_token(&au, t, f->cred[C_EXP_TOKEN], "wa", now - 5, id);
    sg_auth_fini(&au);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(sg_api_open(&f->a, f->s, NULL), 0);
    sg_buf_init(&f->body);
    *state = f;
    return 0;
}

static void count_problem(void *arg, const char *p)
{
    fprintf(stderr, "check: %s\n", p);
    (*(int *)arg)++;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int n = 0;
    assert_int_equal(sg_store_check(f->s, count_problem, &n), 0);
    json_decref(f->jv);
    sg_buf_free(&f->body);
    sg_api_close(f->a);
    sg_store_close(f->s);
    tu_rmrf(f->dir);
    free(f);
    return 0;
}

/* ---- Requests. ---- */

/* set_query parses "k=v&k=v" (no %-decoding needed here) into f->req. */
static void set_query(fixture *f, const char *q)
{
    f->req.nq = 0;
    if (q == NULL || *q == '\0') {
        return;
    }
    snprintf(f->qbuf, sizeof(f->qbuf), "%s", q);
    char *save = NULL;
    for (char *kv = strtok_r(f->qbuf, "&", &save); kv != NULL;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        f->req.q[f->req.nq].key = kv;
        f->req.q[f->req.nq].val = eq + 1;
        f->req.nq++;
    }
}

/* run sends f->req; keep false aborts a write even when it succeeded. */
static int run(fixture *f, bool keep)
{
    sg_txn *t, *child = NULL;
    bool write = sg_api_is_write(&f->req);
    f->body.len = 0;
    json_decref(f->jv);
    f->jv = NULL;
    assert_int_equal(sg_txn_begin(f->s, write, &t), 0);
    if (write) {
        assert_int_equal(sg_txn_begin_nested(t, &child), 0);
    }
    uint64_t seq = f->last_seq;
    int rc = sg_api_handle(f->a, write ? child : t, &f->req, &f->rep, &f->body,
                           &seq);
    if (rc != 0) {
        assert_true(f->rep.status >= 400);
    }
    if (write && rc == 0 && keep) {
        assert_int_equal(sg_txn_commit(child), 0);
        assert_int_equal(sg_txn_commit(t), 0);
        f->last_seq = seq;
    } else {
        sg_txn_abort(child);
        sg_txn_abort(t);
    }
    if (f->rep.ctype == SG_FMT_JSON) {
        f->jv = json_loadb((const char *)f->rep.body, f->rep.body_len, 0, NULL);
        assert_non_null(f->jv);
    }
    return f->rep.status;
}

/* req builds and runs one request; body may be NULL. */
static int req(fixture *f, const char *method, const char *path,
               const char *query, int caller, const char *body)
{
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    snprintf(f->req.method, sizeof(f->req.method), "%s", method);
    snprintf(f->req.path, sizeof(f->req.path), "%s", path);
    set_query(f, query);
    snprintf(f->req.cred, sizeof(f->req.cred), "%s",
             caller == C_NONE ? "" : f->cred[caller]);
    snprintf(f->req.host, sizeof(f->req.host), "songgang.example:8080");
    f->req.accept = SG_FMT_JSON;
    if (body != NULL) {
        f->req.ctype = SG_FMT_JSON;
        f->req.body = (const uint8_t *)body;
        f->req.body_len = strlen(body);
    }
    return run(f, true);
}

/* jstr returns the string at key of the last reply's object (or ""). */
static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static void assert_error(fixture *f, int status, const char *code,
                         const char *field)
{
    assert_int_equal(f->rep.status, status);
    json_t *err = json_object_get(f->jv, "error");
    assert_non_null(err);
    assert_string_equal(jstr(err, "code"), code);
    if (field != NULL) {
        assert_string_equal(jstr(err, "field"), field);
    }
    assert_true(strlen(jstr(err, "message")) > 0);
}

/* ---- Events, as a test reads them. ---- */

typedef struct evs {
    int n;                            /* events */
    uint64_t seq[2100];               /* their seqs */
    char type[2100][8];               /* types */
    char worker[2100][SG_ID_MAX + 1]; /* recipients */
    char data[2100][512];             /* data, cut */
} evs;

static int take(void *arg, const sg_event *ev)
{
    evs *l = arg;
    assert_true(l->n < 2100);
    l->seq[l->n] = ev->seq;
    snprintf(l->type[l->n], 8, "%s", ev->type);
    snprintf(l->worker[l->n], SG_ID_MAX + 1, "%s", ev->worker);
    snprintf(l->data[l->n], 512, "%.*s", (int)ev->data_len, ev->data);
    l->n++;
    return 0;
}

/* events_of decodes the last reply's body (an event array) into l. */
static void events_of(fixture *f, evs *l)
{
    sg_error e;
    memset(l, 0, sizeof(*l));
    assert_int_equal(f->rep.ctype, SG_FMT_MSGPACK);
    assert_int_equal(
        sg_events_decode(f->rep.body, f->rep.body_len, take, l, &e), 0);
}

/* inbox reads worker's whole inbox through the API as admin. */
static void inbox(fixture *f, const char *worker, uint64_t after, evs *l)
{
    char q[64];
    snprintf(q, sizeof(q), "worker=%s", worker);
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    snprintf(f->req.method, sizeof(f->req.method), "GET");
    snprintf(f->req.path, sizeof(f->req.path), "/v1/events");
    set_query(f, q);
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", f->cred[C_ADMIN]);
    f->req.last_event_id = after;
    assert_int_equal(run(f, true), 200);
    assert_int_equal(f->rep.stream, SG_STREAM_WORKER);
    assert_string_equal(f->rep.stream_key, worker);
    events_of(f, l);
}

/* ---- The role table: every endpoint, every kind of caller. ---- */

typedef struct row {
    const char *method; /* method */
    const char *path;   /* path */
    const char *query;  /* query, or NULL */
    const char *body;   /* JSON body, or NULL */
    int ctype;          /* its format when not JSON */
    /* expected status for C_NONE .. C_W_OTHER (the bad credentials after
     * them always get 401) */
    int want[C_W_OTHER + 1];
} row;

static const char IMPORT_LINE[] =
    "{\"kind\":\"worker\",\"id\":\"wi\",\"name\":\"己\",\"region\":"
    "\"360425108204\",\"labor_class\":\"ordinary\",\"category\":"
    "\"low_income\",\"household\":\"hi\",\"travel\":\"county\","
    "\"expected_wage\":2000,\"status\":\"idle\",\"seeking\":true}\n";

/* ja and wa with a change each, for the PUTs. */
static const char *const J_A2 =
    "{\"id\":\"ja\",\"employer\":\"E1\",\"source\":\"workshop\",\"title\":"
    "\"缝纫工\",\"skills_required\":[\"sew\"],\"labor_classes\":[\"half\","
    "\"ordinary\"],\"sites\":[{\"region\":\"360425108202\"}],\"openings\":6,"
    "\"wage_min\":2000,\"wage_max\":2800,\"posted\":"
    "\"2026-11-28T09:00:00+08:00\"}";
static const char *const W_A2 =
    "{\"id\":\"wa\",\"name\":\"甲\",\"region\":\"360425108201\","
    "\"labor_class\":\"half\",\"skills\":[\"sew\"],\"category\":"
    "\"monitored\",\"household\":\"ha\",\"travel\":\"township\","
    "\"expected_wage\":2100,\"status\":\"idle\",\"seeking\":true}";

/* clang-format off */
/* want[]: none admin sadmin off_in off_out emp_own emp_other w_self w_other */
static const row table[] = {
    {"GET", "/v1/jobs", NULL, NULL, 0,
     {401, 200, 200, 200, 200, 200, 200, 403, 403}},
    {"POST", "/v1/jobs", NULL, NULL, 1,
     {401, 201, 403, 403, 403, 201, 403, 403, 403}},
    {"GET", "/v1/jobs/ja", NULL, NULL, 0,
     {401, 200, 404, 200, 200, 200, 404, 403, 403}},
    {"PUT", "/v1/jobs/ja", NULL, NULL, 2,
     {401, 200, 404, 403, 403, 200, 404, 403, 403}},
    {"DELETE", "/v1/jobs/ja", NULL, NULL, 0,
     {401, 200, 404, 403, 403, 200, 404, 403, 403}},
    {"GET", "/v1/jobs/ja/candidates", NULL, NULL, 0,
     {401, 200, 404, 403, 403, 200, 404, 403, 403}},
    {"POST", "/v1/workers", NULL, NULL, 3,
     {401, 201, 403, 201, 403, 403, 403, 403, 403}},
    {"GET", "/v1/workers/wa", NULL, NULL, 0,
     {401, 200, 404, 200, 404, 403, 403, 200, 403}},
    {"PUT", "/v1/workers/wa", NULL, NULL, 4,
     {401, 200, 404, 200, 404, 403, 403, 403, 403}},
    {"POST", "/v1/workers:import", NULL, IMPORT_LINE, 5,
     {401, 200, 200, 200, 200, 403, 403, 403, 403}},
    {"GET", "/v1/workers/wa/matches", NULL, NULL, 0,
     {401, 200, 404, 200, 404, 403, 403, 200, 403}},
    {"POST", "/v1/workers/wa/token", NULL, NULL, 0,
     {401, 200, 404, 200, 404, 403, 403, 403, 403}},
    {"GET", "/v1/regions/360425108/jobs", NULL, NULL, 0,
     {401, 200, 404, 200, 404, 403, 403, 403, 403}},
    {"GET", "/v1/me", NULL, NULL, 0,
     {401, 403, 403, 403, 403, 403, 403, 200, 200}},
    {"GET", "/v1/me/matches", NULL, NULL, 0,
     {401, 403, 403, 403, 403, 403, 403, 200, 200}},
    {"GET", "/v1/events", "worker=wa", NULL, 0,
     {401, 200, 404, 200, 404, 403, 403, 200, 403}},
    {"GET", "/v1/events", "region=360425108", NULL, 0,
     {401, 200, 403, 200, 403, 403, 403, 403, 403}},
};
/* clang-format on */

static void test_role_table(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const row *r = &table[i];
        const char *body = r->body;
        switch (r->ctype) {
        case 1:
            body = J_N;
            break;
        case 2:
            body = J_A2;
            break;
        case 3:
            body = W_N;
            break;
        case 4:
            body = W_A2;
            break;
        default:
            break;
        }
        for (int c = 0; c < C__COUNT; c++) {
            int want = c <= C_W_OTHER ? r->want[c] : 401;
            memset(&f->req, 0, offsetof(sg_msg_req, qstore));
            snprintf(f->req.method, sizeof(f->req.method), "%s", r->method);
            snprintf(f->req.path, sizeof(f->req.path), "%s", r->path);
            set_query(f, r->query);
            snprintf(f->req.cred, sizeof(f->req.cred), "%s",
                     c == C_NONE ? "" : f->cred[c]);
            if (body != NULL) {
                f->req.ctype = r->ctype == 5 ? SG_FMT_NDJSON : SG_FMT_JSON;
                f->req.body = (const uint8_t *)body;
                f->req.body_len = strlen(body);
            }
            int got = run(f, false); /* the table changes nothing */
            if (got != want) {
                fail_msg("%s %s%s%s as caller %d: got %d, want %d: %.*s",
                         r->method, r->path, r->query ? "?" : "",
                         r->query ? r->query : "", c, got, want,
                         (int)f->rep.body_len, (const char *)f->rep.body);
            }
            if (got >= 400 && c != C_NONE) {
                json_t *err = json_object_get(f->jv, "error");
                assert_non_null(err);
                /* No credential ever comes back in a reply. */
                assert_null(
                    memmem(f->rep.body, f->rep.body_len, f->cred[c] + 4, 8));
            }
        }
    }
}

/* ---- Routing and authentication. ---- */

static void test_routing(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "GET", "/v1/nothing", NULL, C_ADMIN, NULL), 404);
    assert_error(f, 404, "not_found", "");
    assert_int_equal(req(f, "GET", "/v1/jobs/", NULL, C_ADMIN, NULL), 404);
    assert_int_equal(req(f, "GET", "/v1/jobs/ja/x", NULL, C_ADMIN, NULL), 404);
    assert_int_equal(req(f, "PATCH", "/v1/jobs", NULL, C_ADMIN, NULL), 405);
    assert_error(f, 405, "method_not_allowed", "");
    assert_int_equal(req(f, "DELETE", "/v1/workers/wa", NULL, C_ADMIN, NULL),
                     405);
    assert_int_equal(req(f, "GET", "/v1/workers:import", NULL, C_ADMIN, NULL),
                     405);
    /* A path that cannot name a record is not found. */
    assert_int_equal(req(f, "GET", "/v1/jobs/bad%20id", NULL, C_ADMIN, NULL),
                     404);
    assert_int_equal(req(f, "GET", "/healthz", NULL, C_NONE, NULL), 404);
    /* Credentials: missing, malformed, unknown. */
    assert_int_equal(req(f, "GET", "/v1/jobs", NULL, C_NONE, NULL), 401);
    assert_error(f, 401, "unauthorized", "");
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    strcpy(f->req.method, "GET");
    strcpy(f->req.path, "/v1/jobs");
    const char *bad[] = {
        "sgk_00000000_nope",
        "sgk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer x",
        "sgt_",
        "sgt_00000000_1_wa_00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strcpy(f->req.cred, bad[i]);
        assert_int_equal(run(f, true), 401);
    }
    /* A key with one secret character changed is unknown. */
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", f->cred[C_ADMIN]);
    f->req.cred[20] = f->req.cred[20] == 'A' ? 'B' : 'A';
    assert_int_equal(run(f, true), 401);
    /* A token issued for one worker, renamed to another, fails. */
    char *tok = f->cred[C_W_SELF];
    char renamed[SG_TOKEN_MAX + 1];
    snprintf(renamed, sizeof(renamed), "%s", tok);
    char *w = strstr(renamed, "_wa_");
    assert_non_null(w);
    w[2] = 'b';
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", renamed);
    strcpy(f->req.path, "/v1/me");
    assert_int_equal(run(f, true), 401);
}

/* ---- Jobs. ---- */

static void test_jobs(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, J_N), 201);
    assert_string_equal(jstr(f->jv, "id"), "jn");
    assert_string_equal(jstr(f->jv, "employer"), "E1");
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, J_N), 409);
    assert_error(f, 409, "conflict", "id");
    assert_int_equal(req(f, "GET", "/v1/jobs/jn", NULL, C_OFF_OUT, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "openings")), 3);
    /* PUT: the path id must be the body's. */
    assert_int_equal(req(f, "PUT", "/v1/jobs/jx", NULL, C_ADMIN, J_N), 400);
    assert_error(f, 400, "bad_request", "id");
    /* PUT may create (upsert), for the caller's own employer only. */
    const char *jp = "{\"id\":\"jp\",\"employer\":\"E2\",\"source\":"
                     "\"flexible\",\"title\":\"零工\",\"labor_classes\":["
                     "\"ordinary\"],\"sites\":[{\"region\":\"360425110201\"}],"
                     "\"openings\":1,\"wage_min\":100,\"wage_max\":200,"
                     "\"posted\":\"2026-11-20T00:00:00Z\"}";
    assert_int_equal(req(f, "PUT", "/v1/jobs/jp", NULL, C_EMP_OWN, jp), 403);
    assert_error(f, 403, "forbidden", "employer");
    assert_int_equal(req(f, "PUT", "/v1/jobs/jp", NULL, C_EMP_OTHER, jp), 200);
    /* A scoped admin may write jobs with a site under its scope only. */
    assert_int_equal(req(f, "PUT", "/v1/jobs/jp", NULL, C_SADMIN, jp), 200);
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_SADMIN, J_N), 403);
    assert_error(f, 403, "forbidden", "sites");
    /* An employer may not hand its job to another. */
    char moved[2048];
    snprintf(moved, sizeof(moved), "%s", J_A2);
    memcpy(strstr(moved, "\"E1\""), "\"E2\"", 4);
    assert_int_equal(req(f, "PUT", "/v1/jobs/ja", NULL, C_EMP_OWN, moved), 403);
    /* DELETE closes, and says so; twice is fine. */
    assert_int_equal(req(f, "DELETE", "/v1/jobs/jn", NULL, C_EMP_OWN, NULL),
                     200);
    assert_string_equal(jstr(f->jv, "state"), "closed");
    assert_int_equal(req(f, "DELETE", "/v1/jobs/jn", NULL, C_EMP_OWN, NULL),
                     200);
    assert_int_equal(req(f, "DELETE", "/v1/jobs/nojob", NULL, C_ADMIN, NULL),
                     404);
    /* The list: id order, filters, paging, an employer's own only. */
    assert_int_equal(req(f, "GET", "/v1/jobs", NULL, C_ADMIN, NULL), 200);
    json_t *jobs = json_object_get(f->jv, "jobs");
    assert_int_equal(json_array_size(jobs), 5);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "total")), 5);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "limit")), 20);
    assert_string_equal(jstr(json_array_get(jobs, 0), "id"), "ja");
    assert_string_equal(jstr(json_array_get(jobs, 4), "id"), "jp");
    assert_int_equal(
        req(f, "GET", "/v1/jobs", "offset=1&limit=2", C_ADMIN, NULL), 200);
    jobs = json_object_get(f->jv, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(jstr(json_array_get(jobs, 0), "id"), "jb");
    assert_int_equal(json_integer_value(json_object_get(f->jv, "total")), 5);
    assert_int_equal(req(f, "GET", "/v1/jobs", NULL, C_EMP_OWN, NULL), 200);
    jobs = json_object_get(f->jv, "jobs");
    assert_int_equal(json_array_size(jobs), 3); /* ja, jc, jn */
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        assert_string_equal(jstr(json_array_get(jobs, i), "employer"), "E1");
    }
    assert_int_equal(
        req(f, "GET", "/v1/jobs", "state=open&source=workshop", C_ADMIN, NULL),
        200);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "total")), 1);
    assert_int_equal(
        req(f, "GET", "/v1/jobs", "region=360425110", C_ADMIN, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "total")), 2);
    assert_int_equal(req(f, "GET", "/v1/jobs", NULL, C_SADMIN, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "total")), 2);
    /* Bad parameters name themselves. */
    const char *bad[][2] = {
        {"limit=101", "limit"},    {"limit=0", "limit"},
        {"limit=x", "limit"},      {"offset=-1", "offset"},
        {"source=mine", "source"}, {"state=half", "state"},
        {"region=36a", "region"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(req(f, "GET", "/v1/jobs", bad[i][0], C_ADMIN, NULL),
                         400);
        assert_error(f, 400, "bad_request", bad[i][1]);
    }
}

/* ---- Bodies: bad JSON and msgpack, formats, sizes. ---- */

static int pack_write(void *data, const char *p, size_t n)
{
    sg_buf_append(data, p, n);
    return 0;
}

static int body_req(fixture *f, const char *method, const char *path, int ctype,
                    const void *p, size_t n)
{
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    snprintf(f->req.method, sizeof(f->req.method), "%s", method);
    snprintf(f->req.path, sizeof(f->req.path), "%s", path);
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", f->cred[C_ADMIN]);
    f->req.ctype = (uint8_t)ctype;
    f->req.accept = SG_FMT_JSON;
    f->req.body = p;
    f->req.body_len = n;
    return run(f, true);
}

static void test_bodies(void **state)
{
    fixture *f = *state;
    const char *cases[][2] = {
        {"{\"id\":\"J-bad\",\"employer\":\"E1\",\"source\":\"nowhere\"}",
         "source"},
        {"{\"id\":\"x\",\"id\":\"y\"}", "id"},
        {"{not json", ""},
        {"[1,2]", ""},
        {"{\"kind\":\"worker\",\"id\":\"x\"}", "kind"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(body_req(f, "POST", "/v1/jobs", SG_FMT_JSON,
                                  cases[i][0], strlen(cases[i][0])),
                         400);
        assert_error(f, 400, "bad_request", cases[i][1]);
    }
    /* A worker body names its field too; an ID number never echoes. */
    const char *w = "{\"id\":\"wz\",\"name\":\"x\",\"region\":\"360425108201\","
                    "\"labor_class\":\"half\",\"skills\":[\"sew\",\"nosuch\"],"
                    "\"category\":\"low_income\",\"household\":\"hz\","
                    "\"travel\":\"village\",\"expected_wage\":1,\"status\":"
                    "\"idle\",\"seeking\":true}";
    assert_int_equal(
        body_req(f, "POST", "/v1/workers", SG_FMT_JSON, w, strlen(w)), 400);
    assert_error(f, 400, "bad_request", "skills[1]");
    /* No body, or one of the wrong kind. */
    assert_int_equal(body_req(f, "POST", "/v1/jobs", SG_FMT_NONE, NULL, 0),
                     400);
    assert_int_equal(
        body_req(f, "POST", "/v1/jobs", SG_FMT_NDJSON, J_N, strlen(J_N)), 400);
    /* Hostile msgpack: a map header claiming 4 billion entries. */
    static const uint8_t hostile[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(body_req(f, "POST", "/v1/jobs", SG_FMT_MSGPACK, hostile,
                              sizeof(hostile)),
                     400);
    assert_error(f, 400, "bad_request", NULL);
    /* msgpack with a field of the wrong type names it. */
    sg_buf mp;
    sg_buf_init(&mp);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &mp, pack_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "id", 2);
    msgpack_pack_int(&pk, 5);
    assert_int_equal(
        body_req(f, "POST", "/v1/jobs", SG_FMT_MSGPACK, mp.data, mp.len), 400);
    assert_error(f, 400, "bad_request", "id");
    /* A good msgpack job lands, and comes back in msgpack when asked. */
    sg_job j;
    sg_kind kind;
    sg_error e;
    assert_int_equal(sg_json_decode(J_N, strlen(J_N), SG_KIND_JOB, NULL, &kind,
                                    NULL, &j, &e),
                     0);
    mp.len = 0;
    sg_job_encode(&j, &mp);
    assert_int_equal(
        body_req(f, "POST", "/v1/jobs", SG_FMT_MSGPACK, mp.data, mp.len), 201);
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    strcpy(f->req.method, "GET");
    strcpy(f->req.path, "/v1/jobs/jn");
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", f->cred[C_ADMIN]);
    f->req.accept = SG_FMT_MSGPACK;
    assert_int_equal(run(f, true), 200);
    assert_int_equal(f->rep.ctype, SG_FMT_MSGPACK);
    sg_job back;
    assert_int_equal(sg_job_decode(f->rep.body, f->rep.body_len, &back, &e), 0);
    assert_string_equal(back.title, j.title);
    /* Errors come in msgpack too when asked. */
    strcpy(f->req.path, "/v1/jobs/none");
    assert_int_equal(run(f, true), 404);
    assert_int_equal(f->rep.ctype, SG_FMT_MSGPACK);
    assert_true((f->rep.body[0] & 0xf0) == 0x80);
    /* Oversize: JSON over 64 KiB, msgpack over 8 KiB. */
    size_t big = 70000;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, J_N, strlen(J_N));
    huge[big] = '\0';
    assert_int_equal(body_req(f, "POST", "/v1/jobs", SG_FMT_JSON, huge, big),
                     413);
    assert_error(f, 413, "payload_too_large", NULL);
    assert_int_equal(
        body_req(f, "POST", "/v1/jobs", SG_FMT_MSGPACK, huge, 9000), 413);
    free(huge);
    sg_buf_free(&mp);
    /* An ID number: stored protected, never echoed; twice is 409. */
    const char *idw = "{\"id\":\"wq\",\"name\":\"x\",\"region\":"
                      "\"360425108201\",\"labor_class\":\"half\","
                      "\"category\":\"low_income\",\"household\":\"hq\","
                      "\"travel\":\"village\",\"expected_wage\":1,\"status\":"
                      "\"idle\",\"seeking\":true,\"id_number\":"
                      "\"11010519491231002X\"}";
    assert_int_equal(
        body_req(f, "POST", "/v1/workers", SG_FMT_JSON, idw, strlen(idw)), 201);
    assert_null(memmem(f->rep.body, f->rep.body_len, "11010519491231002X", 18));
    assert_string_equal(jstr(f->jv, "id_number_masked"), "110105********002X");
    char idw2[1024];
    snprintf(idw2, sizeof(idw2), "%s", idw);
    memcpy(strstr(idw2, "\"wq\""), "\"wr\"", 4);
    assert_int_equal(
        body_req(f, "POST", "/v1/workers", SG_FMT_JSON, idw2, strlen(idw2)),
        409);
    assert_error(f, 409, "conflict", "id_number");
}

/* ---- Workers, matches, candidates, regions, tokens. ---- */

static void test_workers(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/v1/workers", NULL, C_OFF_IN, W_N), 201);
    assert_int_equal(req(f, "POST", "/v1/workers", NULL, C_OFF_IN, W_N), 409);
    /* An officer may not move a worker out of its scope. */
    char out[1024];
    snprintf(out, sizeof(out), "%s", W_N);
    memcpy(strstr(out, "360425108203"), "360425110201", 12);
    assert_int_equal(req(f, "PUT", "/v1/workers/wn", NULL, C_OFF_IN, out), 403);
    assert_error(f, 403, "forbidden", "region");
    assert_int_equal(req(f, "PUT", "/v1/workers/wn", NULL, C_ADMIN, out), 200);
    /* Now out of its scope: 404, even to update it back. */
    assert_int_equal(req(f, "PUT", "/v1/workers/wn", NULL, C_OFF_IN, W_N), 404);
    assert_int_equal(req(f, "GET", "/v1/workers/wn", NULL, C_OFF_IN, NULL),
                     404);
    assert_int_equal(req(f, "GET", "/v1/workers/wn", NULL, C_OFF_OUT, NULL),
                     200);
    assert_int_equal(req(f, "GET", "/v1/workers/nobody", NULL, C_ADMIN, NULL),
                     404);
    /* A worker token asks for itself only; 403 for anyone else. */
    assert_int_equal(req(f, "GET", "/v1/workers/nobody", NULL, C_W_SELF, NULL),
                     403);
    assert_int_equal(req(f, "GET", "/v1/me", NULL, C_W_SELF, NULL), 200);
    assert_string_equal(jstr(f->jv, "id"), "wa");
}

static void test_matches(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        req(f, "GET", "/v1/me/matches", "as_of=2026-11-29", C_W_SELF, NULL),
        200);
    assert_string_equal(jstr(f->jv, "worker"), "wa");
    assert_string_equal(jstr(f->jv, "as_of"), "2026-11-29");
    json_t *m = json_object_get(f->jv, "matches");
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(jstr(json_array_get(m, 0), "job"), "ja");
    assert_true(strlen(jstr(json_array_get(m, 0), "reason")) > 0);
    assert_int_equal(req(f, "GET", "/v1/workers/wb/matches",
                         "limit=1&as_of=2026-11-29", C_OFF_IN, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(f->jv, "matches")), 1);
    const char *bad[][2] = {
        {"limit=0", "limit"},
        {"limit=1001", "limit"},
        {"as_of=2026-13-01", "as_of"},
        {"as_of=yesterday", "as_of"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            req(f, "GET", "/v1/workers/wa/matches", bad[i][0], C_ADMIN, NULL),
            400);
        assert_error(f, 400, "bad_request", bad[i][1]);
        assert_int_equal(
            req(f, "GET", "/v1/jobs/ja/candidates", bad[i][0], C_ADMIN, NULL),
            400);
        assert_error(f, 400, "bad_request", bad[i][1]);
    }
}

static void test_candidates(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "GET", "/v1/jobs/ja/candidates", "as_of=2026-11-29",
                         C_ADMIN, NULL),
                     200);
    json_t *c = json_object_get(f->jv, "candidates");
    assert_int_equal(json_array_size(c), 2);
    const char *first = jstr(json_array_get(c, 0), "worker");
    assert_true(strcmp(first, "wa") == 0 || strcmp(first, "wb") == 0);
    /* The employer's view is masked: an opaque id, a township, a class. */
    assert_int_equal(req(f, "GET", "/v1/jobs/ja/candidates", "as_of=2026-11-29",
                         C_EMP_OWN, NULL),
                     200);
    c = json_object_get(f->jv, "candidates");
    assert_int_equal(json_array_size(c), 2);
    char ids[2][32];
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(c, i);
        assert_null(json_object_get(e, "worker"));
        assert_null(json_object_get(e, "site"));
        assert_null(json_object_get(e, "km"));
        assert_int_equal(strlen(jstr(e, "township")), 9);
        assert_memory_equal(jstr(e, "township"), "360425108", 9);
        assert_true(strlen(jstr(e, "labor_class")) > 0);
        assert_true(strlen(jstr(e, "reason")) > 0);
        assert_non_null(json_object_get(e, "parts"));
        assert_true(json_integer_value(json_object_get(e, "score")) > 0);
        snprintf(ids[i], sizeof(ids[i]), "%s", jstr(e, "candidate"));
        assert_int_equal(strlen(ids[i]), 17);
    }
    assert_string_not_equal(ids[0], ids[1]);
    assert_null(memmem(f->rep.body, f->rep.body_len, "甲", 3));
    assert_null(memmem(f->rep.body, f->rep.body_len, "\"wa\"", 4));
    assert_null(memmem(f->rep.body, f->rep.body_len, "360425108201", 12));
    /* The same request gives the same opaque ids. */
    assert_int_equal(req(f, "GET", "/v1/jobs/ja/candidates", "as_of=2026-11-29",
                         C_EMP_OWN, NULL),
                     200);
    c = json_object_get(f->jv, "candidates");
    assert_string_equal(jstr(json_array_get(c, 0), "candidate"), ids[0]);
    /* A scoped admin sees its own workers in full. */
    assert_int_equal(
        req(f, "GET", "/v1/jobs/jb/candidates", NULL, C_SADMIN, NULL), 200);
    c = json_object_get(f->jv, "candidates");
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(jstr(json_array_get(c, 0), "worker"), "wc");
    /* A closed job has none. */
    assert_int_equal(
        req(f, "GET", "/v1/jobs/jc/candidates", NULL, C_EMP_OWN, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->jv, "candidates")), 0);
}

static void test_regions(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425108/jobs", NULL, C_OFF_IN, NULL), 200);
    assert_string_equal(jstr(f->jv, "region"), "360425108");
    json_t *jobs = json_object_get(f->jv, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    json_t *j = json_array_get(jobs, 0);
    assert_string_equal(jstr(j, "job"), "ja");
    assert_string_equal(jstr(j, "title"), "缝纫工");
    assert_string_equal(jstr(j, "employer"), "E1");
    assert_string_equal(jstr(j, "source"), "workshop");
    assert_int_equal(json_integer_value(json_object_get(j, "fits")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "wage_min")), 2000);
    assert_int_equal(json_integer_value(json_object_get(j, "wage_max")), 2800);
    /* One village: only wa lives there (wd does not seek). */
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425108201/jobs", NULL, C_ADMIN, NULL),
        200);
    j = json_array_get(json_object_get(f->jv, "jobs"), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "fits")), 1);
    /* The county: ja fits 2, jb fits 1, in that order; limit cuts. */
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425/jobs", NULL, C_ADMIN, NULL), 200);
    jobs = json_object_get(f->jv, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(jstr(json_array_get(jobs, 0), "job"), "ja");
    assert_string_equal(jstr(json_array_get(jobs, 1), "job"), "jb");
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425/jobs", "limit=1", C_ADMIN, NULL),
        200);
    assert_int_equal(json_array_size(json_object_get(f->jv, "jobs")), 1);
    /* A scoped admin's list holds only jobs of its scope. */
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425110/jobs", NULL, C_SADMIN, NULL), 200);
    jobs = json_object_get(f->jv, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(jstr(json_array_get(jobs, 0), "job"), "jb");
    /* Unknown or malformed codes, wider than the scope: 404. */
    assert_int_equal(
        req(f, "GET", "/v1/regions/999999/jobs", NULL, C_ADMIN, NULL), 404);
    assert_int_equal(
        req(f, "GET", "/v1/regions/36042/jobs", NULL, C_ADMIN, NULL), 404);
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425/jobs", NULL, C_OFF_IN, NULL), 404);
    assert_int_equal(
        req(f, "GET", "/v1/regions/360425/jobs", "limit=0", C_ADMIN, NULL),
        400);
    assert_error(f, 400, "bad_request", "limit");
}

static void test_tokens(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        req(f, "POST", "/v1/workers/wb/token", "ttl_days=7", C_OFF_IN, NULL),
        200);
    char tok[SG_TOKEN_MAX + 1];
    snprintf(tok, sizeof(tok), "%s", jstr(f->jv, "token"));
    assert_memory_equal(tok, "sgt_", 4);
    char url[600];
    snprintf(url, sizeof(url), "http://songgang.example:8080/m/?token=%s", tok);
    assert_string_equal(jstr(f->jv, "url"), url);
    assert_int_equal(strlen(jstr(f->jv, "expires")), 25);
    /* It works, for that worker only. */
    snprintf(f->cred[C_W_OTHER], sizeof(f->cred[0]), "%s", tok);
    assert_int_equal(req(f, "GET", "/v1/me", NULL, C_W_OTHER, NULL), 200);
    assert_string_equal(jstr(f->jv, "id"), "wb");
    assert_int_equal(req(f, "GET", "/v1/workers/wa", NULL, C_W_OTHER, NULL),
                     403);
    /* Revoked by id, it stops working. */
    char id[SG_CRED_ID_LEN + 1];
    memcpy(id, tok + 4, SG_CRED_ID_LEN);
    id[SG_CRED_ID_LEN] = '\0';
    sg_txn *t;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_cred_revoke(t, id), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(req(f, "GET", "/v1/me", NULL, C_W_OTHER, NULL), 401);
    assert_int_equal(
        req(f, "POST", "/v1/workers/wb/token", "ttl_days=0", C_ADMIN, NULL),
        400);
    assert_error(f, 400, "bad_request", "ttl_days");
    assert_int_equal(
        req(f, "POST", "/v1/workers/nobody/token", NULL, C_ADMIN, NULL), 404);
}

/* ---- Import. ---- */

static void test_import(void **state)
{
    fixture *f = *state;
    char body[4096];
    snprintf(body, sizeof(body),
             "%s\n" /* 1: a new worker in scope */
             "\n"   /* 2: blank, skipped */
             "{\"kind\":\"worker\",\"id\":\"bad line\"}\n" /* 3 */
             "%s\r\n"                            /* 4: wc lives out of scope */
             "{\"kind\":\"job\",\"id\":\"j\"}\n" /* 5: not a worker */
             "not json\n"                        /* 6 */
             "%s", /* 7: wa, updated, no newline at the end */
             W_N, W_C, W_A2);
    assert_int_equal(body_req(f, "POST", "/v1/workers:import", SG_FMT_NDJSON,
                              body, strlen(body)),
                     200);
    json_t *errors = json_object_get(f->jv, "errors");
    assert_int_equal(json_integer_value(json_object_get(f->jv, "accepted")),
                     3); /* as admin: wn, wc, wa */
    assert_int_equal(json_integer_value(json_object_get(f->jv, "rejected")), 3);
    assert_int_equal(json_array_size(errors), 3);
    /* The same body from the officer of 360425108. */
    f->req.body = (const uint8_t *)body;
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", f->cred[C_OFF_IN]);
    assert_int_equal(run(f, true), 200);
    errors = json_object_get(f->jv, "errors");
    assert_int_equal(json_integer_value(json_object_get(f->jv, "accepted")), 2);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "rejected")), 4);
    long lines[] = {3, 4, 5, 6};
    const char *fields[] = {"id", "id", "kind", ""};
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(errors, i);
        assert_int_equal(json_integer_value(json_object_get(e, "line")),
                         lines[i]);
        assert_string_equal(jstr(e, "field"), fields[i]);
        assert_true(strlen(jstr(e, "reason")) > 0);
    }
    /* A new worker outside the officer's scope is refused by region. */
    char outside[1024];
    snprintf(outside, sizeof(outside), "%s", W_N);
    memcpy(strstr(outside, "\"wn\""), "\"wo\"", 4);
    memcpy(strstr(outside, "360425108203"), "360425110201", 12);
    assert_int_equal(body_req(f, "POST", "/v1/workers:import", SG_FMT_NDJSON,
                              outside, strlen(outside)),
                     200); /* as admin */
    assert_int_equal(json_integer_value(json_object_get(f->jv, "accepted")), 1);
    memcpy(strstr(outside, "\"wo\""), "\"wp\"", 4);
    f->req.body = (const uint8_t *)outside;
    snprintf(f->req.cred, sizeof(f->req.cred), "%s", f->cred[C_OFF_IN]);
    assert_int_equal(run(f, true), 200);
    json_t *e = json_array_get(json_object_get(f->jv, "errors"), 0);
    assert_string_equal(jstr(e, "field"), "region");
    /* Landed lines are there; the wrong content type is refused. */
    assert_int_equal(req(f, "GET", "/v1/workers/wn", NULL, C_OFF_IN, NULL),
                     200);
    assert_int_equal(req(f, "GET", "/v1/workers/wp", NULL, C_ADMIN, NULL), 404);
    assert_int_equal(
        body_req(f, "POST", "/v1/workers:import", SG_FMT_MSGPACK, "x", 1), 400);
}

/* ---- Push. ---- */

static bool has_event(const evs *l, const char *type, const char *job)
{
    char want[64];
    snprintf(want, sizeof(want), "\"job\":\"%s\"", job);
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->type[i], type) == 0 && strstr(l->data[i], want)) {
            return true;
        }
    }
    return false;
}

static void test_push(void **state)
{
    fixture *f = *state;
    evs *l = calloc(1, sizeof(*l));
    /* A new job reaches its candidates, wa and wb, with seqs 1 and 2. */
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, J_N), 201);
    assert_int_equal(f->last_seq, 2);
    inbox(f, "wa", 0, l);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->type[0], "match");
    assert_string_equal(l->worker[0], "wa");
    json_t *d = json_loads(l->data[0], 0, NULL);
    assert_non_null(d);
    assert_string_equal(jstr(d, "job"), "jn");
    assert_string_equal(jstr(d, "title"), "新缝纫线");
    assert_string_equal(jstr(d, "employer"), "E1");
    assert_string_equal(jstr(d, "source"), "workshop");
    assert_string_equal(jstr(d, "tier"), "township");
    assert_string_equal(jstr(d, "site"), "360425108202");
    assert_non_null(strstr(jstr(d, "reason"), "缝纫"));
    assert_non_null(strstr(jstr(d, "reason"), "月薪2100-2900元"));
    assert_true(json_integer_value(json_object_get(d, "score")) > 0);
    assert_int_equal(json_integer_value(json_object_get(d, "wage_max")), 2900);
    assert_true(json_is_null(json_object_get(d, "km")));
    json_decref(d);
    uint64_t seq_a = l->seq[0];
    inbox(f, "wb", 0, l);
    assert_int_equal(l->n, 1);
    assert_true(l->seq[0] != seq_a);
    assert_true(l->seq[0] >= 1 && l->seq[0] <= 2 && seq_a >= 1 && seq_a <= 2);
    inbox(f, "wc", 0, l);
    assert_int_equal(l->n, 0);
    assert_int_equal(f->rep.seq, 2); /* nothing missed: the stream is at 2 */
    /* An unchanged PUT pushes nothing. */
    assert_int_equal(req(f, "PUT", "/v1/jobs/jn", NULL, C_EMP_OWN, J_N), 200);
    assert_int_equal(f->last_seq, 2);
    /* A change that leaves wa out: wa gets removed, wb a new match. */
    char ord[2048];
    snprintf(ord, sizeof(ord), "%s", J_N);
    char *lc = strstr(ord, "[\"half\",");
    memmove(lc + 1, lc + 8, strlen(lc + 8) + 1);
    assert_int_equal(req(f, "PUT", "/v1/jobs/jn", NULL, C_EMP_OWN, ord), 200);
    assert_int_equal(f->last_seq, 4);
    inbox(f, "wa", 2, l);
    assert_int_equal(l->n, 1);
    assert_true(has_event(l, "removed", "jn"));
    assert_string_equal(l->data[0], "{\"job\":\"jn\",\"worker\":\"wa\"}");
    inbox(f, "wb", 2, l);
    assert_int_equal(l->n, 1);
    assert_true(has_event(l, "match", "jn"));
    /* Closing reaches exactly whom it was pushed to now: wb. */
    assert_int_equal(req(f, "DELETE", "/v1/jobs/jn", NULL, C_EMP_OWN, NULL),
                     200);
    assert_int_equal(f->last_seq, 5);
    inbox(f, "wb", 4, l);
    assert_int_equal(l->n, 1);
    assert_true(has_event(l, "removed", "jn"));
    inbox(f, "wa", 4, l);
    assert_int_equal(l->n, 0);
    /* Closed twice: nothing more. */
    assert_int_equal(req(f, "DELETE", "/v1/jobs/jn", NULL, C_EMP_OWN, NULL),
                     200);
    assert_int_equal(f->last_seq, 5);
    /* Reopened (PUT): both again; openings 0 takes it back from both. */
    assert_int_equal(req(f, "PUT", "/v1/jobs/jn", NULL, C_EMP_OWN, J_N), 200);
    assert_int_equal(f->last_seq, 7);
    char zero[2048];
    snprintf(zero, sizeof(zero), "%s", J_N);
    memcpy(strstr(zero, "\"openings\":3"), "\"openings\":0", 12);
    assert_int_equal(req(f, "PUT", "/v1/jobs/jn", NULL, C_EMP_OWN, zero), 200);
    assert_int_equal(f->last_seq, 9);
    inbox(f, "wa", 7, l);
    assert_int_equal(l->n, 1);
    assert_true(has_event(l, "removed", "jn"));
    /* PUT with state closed, after reopening. */
    assert_int_equal(req(f, "PUT", "/v1/jobs/jn", NULL, C_EMP_OWN, J_N), 200);
    char closed[2048];
    snprintf(closed, sizeof(closed), "%.*s,\"state\":\"closed\"}",
             (int)strlen(J_N) - 1, J_N);
    assert_int_equal(req(f, "PUT", "/v1/jobs/jn", NULL, C_EMP_OWN, closed),
                     200);
    assert_int_equal(f->last_seq, 13);
    inbox(f, "wb", 11, l);
    assert_int_equal(l->n, 1);
    assert_true(has_event(l, "removed", "jn"));
    /* A failed write appends nothing. */
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, J_N), 409);
    assert_int_equal(f->last_seq, 13);
    /* A worker turning idle gets its list; staying idle does not. */
    char idle[1024];
    snprintf(idle, sizeof(idle), "%s", W_B);
    memcpy(strstr(idle, "\"caregiving\""), "\"idle\"      ", 12);
    assert_int_equal(req(f, "PUT", "/v1/workers/wb", NULL, C_ADMIN, idle), 200);
    assert_int_equal(f->last_seq, 14);
    inbox(f, "wb", 13, l);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->type[0], "list");
    d = json_loads(l->data[0], 0, NULL);
    assert_non_null(d);
    json_t *m = json_object_get(d, "matches");
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(jstr(json_array_get(m, 0), "job"), "ja");
    json_decref(d);
    memcpy(strstr(idle, "2500"), "2600", 4);
    assert_int_equal(req(f, "PUT", "/v1/workers/wb", NULL, C_ADMIN, idle), 200);
    assert_int_equal(f->last_seq, 14);
    /* A new worker gets no list; one returning from work does. */
    assert_int_equal(req(f, "POST", "/v1/workers", NULL, C_ADMIN, W_N), 201);
    assert_int_equal(f->last_seq, 14);
    char back[1024];
    snprintf(back, sizeof(back), "%s", W_D);
    memcpy(strstr(back, "\"employed_local\""), "\"returned\"      ", 16);
    assert_int_equal(req(f, "PUT", "/v1/workers/wd", NULL, C_OFF_IN, back),
                     200);
    assert_int_equal(f->last_seq, 15);
    /* The whole log, polled: 15 events in order, each once. */
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    strcpy(f->req.method, "SG");
    strcpy(f->req.path, "/events/poll");
    set_query(f, "after=0");
    assert_int_equal(run(f, true), 200);
    events_of(f, l);
    assert_int_equal(l->n, 15);
    for (int i = 0; i < l->n; i++) {
        assert_int_equal(l->seq[i], (uint64_t)i + 1);
    }
    assert_int_equal(f->rep.seq, 15);
    assert_false(f->rep.more);
    free(l);
}

/* as_jansson tells whether text is byte for byte what jansson writes for
 * the value it parses to, with the flags events were built with before
 * push.c wrote them directly: SSE clients get the same bytes. */
static bool as_jansson(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    char *again = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
    bool same = again != NULL && strcmp(again, text) == 0;
    if (!same) {
        print_error("event data %s\n  jansson's %s\n", text,
                    again != NULL ? again : "(null)");
    }
    free(again);
    json_decref(v);
    return same;
}

/* Event bytes: the escapes a title may need, and a `list` event. */
static void test_push_bytes(void **state)
{
    fixture *f = *state;
    evs *l = calloc(1, sizeof(*l));
    char job[2048];
    snprintf(job, sizeof(job), "%s", J_N);
    const char *title = "\"新缝纫线\"";
    char *at = strstr(job, title);
    assert_non_null(at);
    /* Records hold no control characters (proto/record.c refuses them). */
    const char *odd = "\"缝\\\"纫\\\\线/ \u00e9\"";
    size_t rest = strlen(at + strlen(title)) + 1;
    memmove(at + strlen(odd), at + strlen(title), rest);
    memcpy(at, odd, strlen(odd));
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, job), 201);
    inbox(f, "wa", 0, l);
    assert_int_equal(l->n, 1);
    assert_non_null(strstr(l->data[0], "\"title\":\"缝\\\"纫\\\\线/ \u00e9\""));
    assert_true(as_jansson(l->data[0]));
    /* wb, which got the match too, turns idle and gets its `list`. */
    char idle[1024];
    snprintf(idle, sizeof(idle), "%s", W_B);
    memcpy(strstr(idle, "\"caregiving\""), "\"idle\"      ", 12);
    assert_int_equal(req(f, "PUT", "/v1/workers/wb", NULL, C_ADMIN, idle), 200);
    inbox(f, "wb", 0, l);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->type[1], "list");
    assert_non_null(strstr(l->data[1], "\"parts\":{"));
    assert_true(as_jansson(l->data[0]));
    assert_true(as_jansson(l->data[1]));
    free(l);
}

/* append_many adds n events for worker w straight into the log. */
static void append_many(fixture *f, const char *w, const char *region, int n)
{
    sg_txn *t;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    for (int i = 0; i < n; i++) {
        sg_event ev;
        memset(&ev, 0, sizeof(ev));
        strcpy(ev.type, "removed");
        snprintf(ev.worker, sizeof(ev.worker), "%s", w);
        snprintf(ev.region, sizeof(ev.region), "%s", region);
        ev.data = "{\"job\":\"jx\"}";
        ev.data_len = strlen(ev.data);
        uint64_t seq;
        assert_int_equal(sg_txn_event_append(t, &ev, &seq), 0);
    }
    assert_int_equal(sg_txn_commit(t), 0);
}

static void test_backlog(void **state)
{
    fixture *f = *state;
    evs *l = calloc(1, sizeof(*l));
    append_many(f, "wa", "360425108201", 700);
    append_many(f, "wc", "360425110201", 300);
    append_many(f, "wa", "360425108201", 600);
    /* wa has 1300: 1000 now (more), then the 300 after, nothing twice. */
    inbox(f, "wa", 0, l);
    assert_int_equal(l->n, 1000);
    assert_true(f->rep.more);
    assert_int_equal(f->rep.seq, l->seq[999]);
    assert_int_equal(l->seq[699], 700);
    assert_int_equal(l->seq[700], 1001); /* wc's 300 are not wa's */
    uint64_t cut = f->rep.seq;
    inbox(f, "wa", cut, l);
    assert_int_equal(l->n, 300);
    assert_true(l->seq[0] > cut);
    assert_int_equal(l->seq[299], 1600);
    assert_false(f->rep.more);
    assert_int_equal(f->rep.seq, 1600);
    /* After the last one: nothing, and the stream is at the end. */
    inbox(f, "wa", 1600, l);
    assert_int_equal(l->n, 0);
    assert_int_equal(f->rep.seq, 1600);
    /* Exactly what was missed after some Last-Event-ID. */
    inbox(f, "wc", 750, l);
    assert_int_equal(l->n, 250);
    assert_int_equal(l->seq[0], 751);
    /* A region stream: only events of workers under the prefix. */
    assert_int_equal(
        req(f, "GET", "/v1/events", "region=360425110", C_OFF_OUT, NULL), 200);
    assert_int_equal(f->rep.stream, SG_STREAM_REGION);
    assert_string_equal(f->rep.stream_key, "360425110");
    events_of(f, l);
    assert_int_equal(l->n, 300);
    for (int i = 0; i < l->n; i++) {
        assert_string_equal(l->worker[i], "wc");
    }
    assert_int_equal(f->rep.seq, 1600);
    assert_false(f->rep.more);
    /* The worker token streams itself by default. */
    assert_int_equal(req(f, "GET", "/v1/events", NULL, C_W_SELF, NULL), 200);
    assert_string_equal(f->rep.stream_key, "wa");
    assert_int_equal(req(f, "GET", "/v1/events", NULL, C_ADMIN, NULL), 400);
    assert_error(f, 400, "bad_request", "worker");
    assert_int_equal(req(f, "GET", "/v1/events", "region=99", C_ADMIN, NULL),
                     400);
    assert_error(f, 400, "bad_request", "region");
    assert_int_equal(
        req(f, "GET", "/v1/events", "worker=wa&region=36", C_ADMIN, NULL), 400);
    /* Polling: limit, more, after. */
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    strcpy(f->req.method, "SG");
    strcpy(f->req.path, "/events/poll");
    set_query(f, "after=1590&limit=5");
    assert_int_equal(run(f, true), 200);
    events_of(f, l);
    assert_int_equal(l->n, 5);
    assert_int_equal(l->seq[0], 1591);
    assert_int_equal(f->rep.seq, 1595);
    assert_true(f->rep.more);
    set_query(f, "after=1595");
    assert_int_equal(run(f, true), 200);
    events_of(f, l);
    assert_int_equal(l->n, 5);
    assert_false(f->rep.more);
    set_query(f, "after=x");
    assert_int_equal(run(f, true), 400);
    assert_error(f, 400, "bad_request", "after");
    set_query(f, "limit=1001");
    assert_int_equal(run(f, true), 400);
    assert_error(f, 400, "bad_request", "limit");
    free(l);
}

static void test_stats(void **state)
{
    fixture *f = *state;
    append_many(f, "wa", "360425108201", 3);
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    strcpy(f->req.method, "SG");
    strcpy(f->req.path, "/stats");
    f->req.accept = SG_FMT_MSGPACK; /* /stats is JSON all the same */
    assert_int_equal(run(f, true), 200);
    assert_int_equal(f->rep.ctype, SG_FMT_JSON);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "last_seq")), 3);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "workers")), 4);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "jobs")), 3);
    assert_true(json_integer_value(json_object_get(f->jv, "lmdb_bytes")) >
                4096);
    /* SG calls have no credential, and only these two paths. */
    strcpy(f->req.path, "/v1/jobs");
    assert_int_equal(run(f, true), 405);
    strcpy(f->req.path, "/nothing");
    assert_int_equal(run(f, true), 404);
}

/* ---- Data versions and reusable replies (the gateway's cache). ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* midnight_after is the first Asia/Shanghai (UTC+8) midnight after t. */
static int64_t midnight_after(int64_t t)
{
    const int64_t day = 86400000, off = 8 * 3600000;
    return ((t + off) / day + 1) * day - off;
}

/* sg_req runs the internal call path (no credential). */
static int sg_req(fixture *f, const char *path)
{
    memset(&f->req, 0, offsetof(sg_msg_req, qstore));
    strcpy(f->req.method, "SG");
    strcpy(f->req.path, path);
    f->req.accept = SG_FMT_JSON;
    return run(f, true);
}

static void test_versions_and_reuse(void **state)
{
    fixture *f = *state;
    uint64_t v0, v;
    int64_t t0, t1, exp;

    assert_int_equal(sg_store_version(f->s, &v0), 0);
    assert_true(v0 > 0);

    /* A read carries its snapshot's version; an admin key that never
     * expires and a fixed day put no time bound on its reuse. */
    assert_int_equal(req(f, "GET", "/v1/workers/wa/matches", "as_of=2026-11-29",
                         C_ADMIN, NULL),
                     200);
    assert_int_equal(f->rep.version, v0);
    assert_true(f->rep.cache_until_ms == INT64_MAX);

    /* No as_of: "today" is in the answer, so reuse ends at midnight. */
    t0 = wall_ms();
    assert_int_equal(req(f, "GET", "/v1/workers/wa/matches", NULL, C_ADMIN,
                         NULL),
                     200);
    t1 = wall_ms();
    assert_true(f->rep.cache_until_ms == midnight_after(t0) ||
                f->rep.cache_until_ms == midnight_after(t1));

    /* A worker token: its expiry bounds the reuse. */
    exp = strtoll(f->cred[C_W_SELF] + 4 + SG_CRED_ID_LEN + 1, NULL, 10);
    assert_true(exp > t0 / 1000);
    assert_int_equal(req(f, "GET", "/v1/me/matches", "as_of=2026-11-29",
                         C_W_SELF, NULL),
                     200);
    assert_true(f->rep.cache_until_ms == exp * 1000);
    assert_int_equal(req(f, "GET", "/v1/me", NULL, C_W_SELF, NULL), 200);
    assert_true(f->rep.cache_until_ms ==
                (exp * 1000 < midnight_after(t0) ? exp * 1000
                                                 : midnight_after(t0)) ||
                f->rep.cache_until_ms == midnight_after(wall_ms()));

    /* Every reusable route marks its 200s. */
    static const struct {
        const char *path, *query;
        int caller;
    } reusable[] = {
        {"/v1/jobs", NULL, C_ADMIN},
        {"/v1/jobs/ja", NULL, C_EMP_OWN},
        {"/v1/jobs/ja/candidates", "as_of=2026-11-29", C_EMP_OWN},
        {"/v1/workers/wa", NULL, C_OFF_IN},
        {"/v1/workers/wa/matches", NULL, C_W_SELF},
        {"/v1/regions/360425108/jobs", NULL, C_OFF_IN},
        {"/v1/me", NULL, C_W_SELF},
        {"/v1/me/matches", NULL, C_W_SELF},
    };
    for (size_t i = 0; i < sizeof(reusable) / sizeof(reusable[0]); i++) {
        assert_int_equal(req(f, "GET", reusable[i].path, reusable[i].query,
                             reusable[i].caller, NULL),
                         200);
        if (f->rep.cache_until_ms <= wall_ms()) {
            fail_msg("%s: cache_until_ms %lld", reusable[i].path,
                     (long long)f->rep.cache_until_ms);
        }
        assert_int_equal(f->rep.version, v0);
    }

    /* Errors, streams and internal calls never; they carry the version. */
    assert_int_equal(req(f, "GET", "/v1/jobs/none", NULL, C_ADMIN, NULL), 404);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(f->rep.version, v0);
    assert_int_equal(req(f, "GET", "/v1/jobs", NULL, C_EXPIRED, NULL), 401);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(req(f, "GET", "/v1/jobs", NULL, C_REVOKED, NULL), 401);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(req(f, "GET", "/v1/workers/wb", NULL, C_W_SELF, NULL),
                     403);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(req(f, "GET", "/v1/events", "worker=wa", C_W_SELF, NULL),
                     200);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(sg_req(f, "/stats"), 200);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(sg_req(f, "/events/poll"), 200);
    assert_true(f->rep.cache_until_ms == 0);

    /* SG /version answers the store's version, as body and field. */
    assert_int_equal(sg_req(f, "/version"), 200);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(f->rep.version, v0);
    assert_int_equal(json_integer_value(json_object_get(f->jv, "version")),
                     (json_int_t)v0);

    /* A write carries the version its commit gets; afterwards the store,
     * a read and SG /version all have it. */
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, J_N), 201);
    assert_int_equal(f->rep.version, v0 + 1);
    assert_true(f->rep.cache_until_ms == 0);
    assert_int_equal(sg_store_version(f->s, &v), 0);
    assert_int_equal(v, v0 + 1);
    assert_int_equal(req(f, "GET", "/v1/workers/wa/matches", "as_of=2026-11-29",
                         C_ADMIN, NULL),
                     200);
    assert_int_equal(f->rep.version, v0 + 1);
    assert_non_null(strstr((const char *)f->rep.body, "\"jn\""));
    assert_int_equal(sg_req(f, "/version"), 200);
    assert_int_equal(f->rep.version, v0 + 1);
    /* A refused write commits nothing: the version stays. */
    assert_int_equal(req(f, "POST", "/v1/jobs", NULL, C_EMP_OWN, J_N), 409);
    assert_int_equal(sg_store_version(f->s, &v), 0);
    assert_int_equal(v, v0 + 1);

    /* Revoking a credential is a write like any other: a new version, so a
     * gateway stops reusing what that credential was answered. */
    sg_txn *t;
    char id[SG_CRED_ID_LEN + 1];
    memcpy(id, f->cred[C_W_SELF] + 4, SG_CRED_ID_LEN);
    id[SG_CRED_ID_LEN] = '\0';
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_cred_revoke(t, id), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(sg_store_version(f->s, &v), 0);
    assert_int_equal(v, v0 + 2);
    assert_int_equal(req(f, "GET", "/v1/me", NULL, C_W_SELF, NULL), 401);
    assert_int_equal(f->rep.version, v0 + 2);
}

/* ---- The store's new indexes, directly. ---- */

static int count_id(void *arg, const char *id)
{
    (void)id;
    (*(int *)arg)++;
    return 0;
}

static int count_cred(void *arg, const sg_cred *c)
{
    (void)c;
    (*(int *)arg)++;
    return 0;
}

static void test_store_indexes(void **state)
{
    fixture *f = *state;
    sg_txn *t;
    int n = 0;
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_txn_workers_in_region(t, "360425108", count_id, &n), 0);
    assert_int_equal(n, 3); /* wa, wb, wd */
    n = 0;
    assert_int_equal(sg_txn_workers_in_region(t, "", count_id, &n), 0);
    assert_int_equal(n, 4);
    n = 0;
    assert_int_equal(sg_txn_workers_in_region(t, "3604251082019", count_id, &n),
                     SG_EINVAL);
    sg_txn_abort(t);
    /* A worker who moves leaves the old village's range. */
    assert_int_equal(req(f, "GET", "/v1/workers/wa", NULL, C_ADMIN, NULL), 200);
    char moved[1024];
    snprintf(moved, sizeof(moved), "%s", W_A);
    memcpy(strstr(moved, "360425108201"), "360425110201", 12);
    assert_int_equal(req(f, "PUT", "/v1/workers/wa", NULL, C_ADMIN, moved),
                     200);
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    n = 0;
    assert_int_equal(sg_txn_workers_in_region(t, "360425110", count_id, &n), 0);
    assert_int_equal(n, 2);
    /* Credentials: list, and ids shared by keys and tokens. */
    n = 0;
    assert_int_equal(sg_txn_cred_each(t, count_cred, &n), 0);
    assert_int_equal(n, 12);
    sg_cred c;
    assert_int_equal(sg_txn_token_get(t, "zzzzzzzz", &c), SG_ENOTFOUND);
    sg_txn_abort(t);
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_cred_revoke(t, "00000000"), SG_ENOTFOUND);
    assert_int_equal(sg_txn_cred_revoke(t, "nothex!!"), SG_ENOTFOUND);
    sg_txn_abort(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_role_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_candidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_and_reuse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_indexes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
