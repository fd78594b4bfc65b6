/* matcher/api.c -- the HTTP API's semantics (docs/api.md), in the matcher.
 * sg_api_handle takes one request message and answers it against the
 * store, in the transaction the service gives it: route (404, 405), then
 * credential (401), then role (403), then parameters (400), then each
 * object looked up is checked against the caller's role and scope (404
 * for what the caller may not know exists).  Bodies come in as JSON or
 * msgpack through proto's strict decoders and go out in the format the
 * client accepts.  Writes go through the one write path (write.c), which
 * pushes events in the same transaction (push.c).
 * Every reply carries the data version it reflects; a 200 that depends on
 * nothing but the request and the data also says until when a gateway may
 * reuse it (cache_until, docs/protocol.md "Reusing replies").
 * Reads run on the service's reader threads, writes on its writer thread;
 * an sg_api is shared by all of them and never changes after open. */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "songgang/api.h"
#include "songgang/auth.h"
#include "songgang/routes.h"
#include "songgang/write.h"

#define DEFAULT_PUSH_TOP 50
#define JOBS_LIMIT_MAX 100     /* GET /v1/jobs */
#define EVENTS_MAX 1000        /* events in one backlog or poll reply */
#define SCAN_MAX 100000        /* log entries one region backlog may read */
#define IMPORT_ERRORS_MAX 1000 /* per-line errors listed in one reply */
#define TOKEN_TTL_MAX 365      /* days */

struct sg_api {
    sg_store *s;          /* the store (borrowed) */
    sg_auth auth;         /* token keys */
    int push_top;         /* candidates pushed per job write */
    sg_weights w;         /* the score weights */
    uint8_t cand_key[32]; /* keys the opaque ids of masked candidates */
};

/* rq is one request being answered. */
typedef struct rq {
    sg_api *a;                     /* the API */
    sg_txn *t;                     /* its transaction */
    const sg_msg_req *req;         /* the request (borrowed) */
    sg_msg_reply *reply;           /* the reply being filled */
    sg_buf *body;                  /* the reply's bytes (caller's) */
    size_t off;                    /* where they start in body */
    bool msgpack;                  /* answer in msgpack */
    sg_principal who;              /* the caller */
    char arg[SG_MSG_PATH_MAX + 1]; /* the {id} or {code} of the path */
    sg_write wr;                   /* its writes and the events appended */
    bool cacheable;                /* its route's replies may be reused */
} rq;

int sg_api_open(sg_api **out, sg_store *s, const sg_api_opts *o)
{
    if (out == NULL || s == NULL) {
        return SG_EINVAL;
    }
    if (sodium_init() < 0) {
        return SG_EIO;
    }
    sg_api *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        abort();
    }
    a->s = s;
    a->push_top = o != NULL && o->push_top > 0 ? o->push_top : DEFAULT_PUSH_TOP;
    if (a->push_top > SG_MATCH_LIMIT_MAX) {
        a->push_top = SG_MATCH_LIMIT_MAX;
    }
    if (o != NULL && o->w != NULL) {
        a->w = *o->w;
    } else {
        sg_weights_default(&a->w);
    }
    sg_auth_init(&a->auth, s);
    /* Masked candidate ids stay the same across restarts: their key is
     * derived from the token seed when there is one. */
    const uint8_t *seed = sg_store_token_seed(s);
    static const char ctx[] = "songgang masked candidate ids v1";
    if (seed != NULL) {
        crypto_generichash(a->cand_key, sizeof(a->cand_key),
                           (const uint8_t *)ctx, sizeof(ctx) - 1, seed,
                           SG_TOKEN_SEED_LEN);
    } else {
        randombytes_buf(a->cand_key, sizeof(a->cand_key));
    }
    *out = a;
    return 0;
}

void sg_api_close(sg_api *a)
{
    if (a == NULL) {
        return;
    }
    sg_auth_fini(&a->auth);
    sodium_memzero(a->cand_key, sizeof(a->cand_key));
    free(a);
}

bool sg_api_is_write(const sg_msg_req *req)
{
    return strcmp(req->method, "POST") == 0 ||
           strcmp(req->method, "PUT") == 0 ||
           strcmp(req->method, "DELETE") == 0;
}

/* ---- Replies. ---- */

/* reply_jv answers status with v (taken) in the accepted format. */
static int reply_jv(rq *r, int status, json_t *v)
{
    if (v == NULL) {
        abort(); /* out of memory */
    }
    r->body->len = r->off;
    if (r->msgpack) {
        if (sg_json_to_msgpack(v, r->body) != 0) {
            abort(); /* our own replies never nest that deep */
        }
        r->reply->ctype = SG_FMT_MSGPACK;
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (s == NULL) {
            abort();
        }
        sg_buf_append(r->body, s, strlen(s));
        free(s);
        r->reply->ctype = SG_FMT_JSON;
    }
    json_decref(v);
    r->reply->status = status;
    return 0;
}

/* fail answers an error and returns the SG_E* that discards the
 * request's writes.  message must never hold a credential or an ID
 * number: every caller passes text of its own or a decoder's reason. */
__attribute__((format(printf, 4, 5))) static int
fail(rq *r, int status, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->body->len = r->off;
    r->reply->ctype = (uint8_t)sg_error_body(
        r->body, r->msgpack ? SG_FMT_MSGPACK : SG_FMT_JSON,
        sg_status_code(status), msg, field);
    r->reply->status = status;
    switch (status) {
    case 404:
        return SG_ENOTFOUND;
    case 409:
        return SG_EEXIST;
    case 413:
        return SG_ETOOBIG;
    case 500:
        return SG_EIO;
    default:
        return SG_EINVAL;
    }
}

/* fail_rc answers a store or decoder error rc (e may be NULL). */
static int fail_rc(rq *r, int rc, const sg_error *e)
{
    const char *field = e != NULL ? e->field : "";
    const char *why = e != NULL && e->reason[0] ? e->reason : sg_strerror(rc);
    switch (rc) {
    case SG_EINVAL:
    case SG_EVERSION:
        return fail(r, 400, field, "%s", why);
    case SG_ETOOBIG:
        return fail(r, 413, field, "%s", why);
    case SG_EEXIST:
        return fail(r, 409, field, "%s", why);
    case SG_ENOTFOUND:
        return fail(r, 404, field, "%s", why);
    default:
        return fail(r, 500, "", "store failure: %s", sg_strerror(rc));
    }
}

/* ---- Who may see what. ---- */

/* A scope or a filter is a region prefix: sg__under and sg__job_under
 * (auth.c) are the one rule for both. */

static bool job_visible(const sg_principal *p, const sg_job *j)
{
    switch (p->role) {
    case SG_ROLE_ADMIN:
        return sg__job_under(j, p->scope);
    case SG_ROLE_OFFICER:
        return true; /* officers read every job */
    case SG_ROLE_EMPLOYER:
        return strcmp(j->employer, p->employer) == 0;
    default:
        return false;
    }
}

static bool worker_visible(const sg_principal *p, const sg_worker *w)
{
    switch (p->role) {
    case SG_ROLE_ADMIN:
    case SG_ROLE_OFFICER:
        return sg__under(w->region, p->scope);
    case SG_ROLE_WORKER:
        return strcmp(w->id, p->worker) == 0;
    default:
        return false;
    }
}


static bool digits_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* region_known: a code of 2, 4, 6, 9 or 12 digits in the region table. */
static bool region_known(const char *s)
{
    size_t n = strlen(s);
    sg_region_info info;
    return (n == 2 || n == 4 || n == 6 || n == 9 || n == 12) &&
           digits_ok(s, SG_REGION_LEN) && sg_region_lookup(s, &info) == 0;
}

/* load_job reads job id if the caller may see it: else 404, as if it did
 * not exist. */
static int load_job(rq *r, const char *id, sg_job *j)
{
    if (!sg_id_valid(id, strlen(id))) {
        return fail(r, 404, "", "no such job");
    }
    int rc = sg_txn_get_job(r->t, id, j);
    if (rc == SG_ENOTFOUND || (rc == 0 && !job_visible(&r->who, j))) {
        return fail(r, 404, "", "no such job");
    }
    return rc != 0 ? fail_rc(r, rc, NULL) : 0;
}

/* load_worker reads worker id if the caller may see it.  A worker token
 * asking for anyone else is 403: its holder knows whom it asks for. */
static int load_worker(rq *r, const char *id, sg_worker *w)
{
    if (r->who.role == SG_ROLE_WORKER && strcmp(id, r->who.worker) != 0) {
        return fail(r, 403, "", "a worker token is for its own worker only");
    }
    if (!sg_id_valid(id, strlen(id))) {
        return fail(r, 404, "", "no such worker");
    }
    int rc = sg_txn_get_worker(r->t, id, w);
    if (rc == SG_ENOTFOUND || (rc == 0 && !worker_visible(&r->who, w))) {
        return fail(r, 404, "", "no such worker");
    }
    return rc != 0 ? fail_rc(r, rc, NULL) : 0;
}

/* ---- Parameters and bodies. ---- */

/* param_long and param_as_of read a query parameter by proto's rules
 * (sg_msg_req_long, sg_msg_req_date: one wording for every route) and
 * answer 400 naming it when it breaks them. */
static int param_long(rq *r, const char *name, long lo, long hi, long def,
                      long *out)
{
    sg_error e;
    int rc = sg_msg_req_long(r->req, name, lo, hi, def, out, &e);
    return rc != 0 ? fail_rc(r, rc, &e) : 0;
}

/* param_as_of reads as_of (YYYY-MM-DD), today when absent. */
static int param_as_of(rq *r, int32_t *out)
{
    sg_error e;
    int rc = sg_msg_req_date(r->req, "as_of", sg_today(), out, &e);
    return rc != 0 ? fail_rc(r, rc, &e) : 0;
}

/* need_record checks that the body is one JSON or msgpack record. */
static int need_record(rq *r)
{
    if (r->req->body_len == 0) {
        return fail(r, 400, "", "a body is required");
    }
    if (r->req->ctype != SG_FMT_JSON && r->req->ctype != SG_FMT_MSGPACK) {
        return fail(r, 400, "",
                    "expected application/json or application/msgpack");
    }
    return 0;
}

static int decode_job(rq *r, sg_job *j)
{
    sg_error e;
    sg_error_clear(&e);
    int rc = need_record(r);
    if (rc != 0) {
        return rc;
    }
    if (r->req->ctype == SG_FMT_JSON) {
        sg_kind kind;
        rc = sg_json_decode((const char *)r->req->body, r->req->body_len,
                            SG_KIND_JOB, NULL, &kind, NULL, j, &e);
    } else {
        rc = sg_job_decode(r->req->body, r->req->body_len, j, &e);
    }
    return rc != 0 ? fail_rc(r, rc, &e) : 0;
}

static int decode_worker(rq *r, sg_worker *w)
{
    sg_error e;
    sg_error_clear(&e);
    int rc = need_record(r);
    if (rc != 0) {
        return rc;
    }
    const uint8_t *idkey = sg_store_idkey(r->a->s);
    if (r->req->ctype == SG_FMT_JSON) {
        sg_kind kind;
        rc = sg_json_decode((const char *)r->req->body, r->req->body_len,
                            SG_KIND_WORKER, idkey, &kind, w, NULL, &e);
    } else {
        rc = sg_worker_decode(r->req->body, r->req->body_len, idkey, w, &e);
    }
    return rc != 0 ? fail_rc(r, rc, &e) : 0;
}

/* ---- Writes: each handler checks who may write what, then calls the
 * one write path (songgang/write.h) with the record it read. ---- */

/* ---- Jobs. ---- */

static int h_job_post(rq *r)
{
    sg_job j, old;
    sg_error e;
    sg_error_clear(&e);
    int rc = decode_job(r, &j);
    if (rc != 0) {
        return rc;
    }
    if (r->who.role == SG_ROLE_EMPLOYER &&
        strcmp(j.employer, r->who.employer) != 0) {
        return fail(r, 403, "employer", "must be your own employer id");
    }
    if (!sg__job_under(&j, r->who.scope)) {
        return fail(r, 403, "sites", "no site is under your scope");
    }
    rc = sg_txn_get_job(r->t, j.id, &old);
    if (rc == 0) {
        return fail(r, 409, "id", "a job with this id exists");
    }
    if (rc != SG_ENOTFOUND || (rc = sg_write_job_over(&r->wr, NULL, &j, &e)) != 0) {
        return fail_rc(r, rc, &e);
    }
    return reply_jv(r, 201, sg_job_to_jv(&j));
}

static int h_job_get(rq *r)
{
    sg_job j;
    int rc = load_job(r, r->arg, &j);
    return rc != 0 ? rc : reply_jv(r, 200, sg_job_to_jv(&j));
}

static int h_job_put(rq *r)
{
    sg_job j, old;
    sg_error e;
    sg_error_clear(&e);
    if (!sg_id_valid(r->arg, strlen(r->arg))) {
        return fail(r, 404, "", "no such job");
    }
    /* The record as it stands decides visibility, before the body. */
    int rc = sg_txn_get_job(r->t, r->arg, &old);
    bool exists = rc == 0;
    if (exists && !job_visible(&r->who, &old)) {
        return fail(r, 404, "", "no such job");
    }
    if (rc != 0 && rc != SG_ENOTFOUND) {
        return fail_rc(r, rc, NULL);
    }
    if ((rc = decode_job(r, &j)) != 0) {
        return rc;
    }
    if (strcmp(j.id, r->arg) != 0) {
        return fail(r, 400, "id", "must equal the id in the path");
    }
    if (r->who.role == SG_ROLE_EMPLOYER &&
        strcmp(j.employer, r->who.employer) != 0) {
        return fail(r, 403, "employer", "must be your own employer id");
    }
    if (!sg__job_under(&j, r->who.scope)) {
        return fail(r, 403, "sites", "no site is under your scope");
    }
    if ((rc = sg_write_job_over(&r->wr, exists ? &old : NULL, &j, &e)) != 0) {
        return fail_rc(r, rc, &e);
    }
    return reply_jv(r, 200, sg_job_to_jv(&j));
}

static int h_job_delete(rq *r)
{
    sg_job j;
    sg_error e;
    sg_error_clear(&e);
    int rc = load_job(r, r->arg, &j);
    if (rc != 0) {
        return rc;
    }
    if ((rc = sg_write_close_job(&r->wr, j.id, &j)) != 0) {
        return fail_rc(r, rc, &e);
    }
    return reply_jv(r, 200, sg_job_to_jv(&j));
}

/* job_list is the walk of GET /v1/jobs. */
typedef struct job_list {
    const sg_principal *who; /* caller */
    const char *region;      /* site prefix, or NULL */
    int source;              /* enum sg_source, or -1 */
    int state;               /* enum sg_job_state, or -1 */
    long offset;             /* first listed */
    long limit;              /* at most listed */
    long total;              /* matching jobs */
    json_t *jobs;            /* the page */
} job_list;

static int list_job(void *arg, const sg_job *j)
{
    job_list *l = arg;
    if (!job_visible(l->who, j) ||
        (l->region != NULL && !sg__job_under(j, l->region)) ||
        (l->source >= 0 && j->source != l->source) ||
        (l->state >= 0 && j->state != l->state)) {
        return 0;
    }
    if (l->total >= l->offset && l->total < l->offset + l->limit) {
        json_array_append_new(l->jobs, sg_job_to_jv(j));
    }
    l->total++;
    return 0;
}

/* h_jobs_list walks every job (in id order) to count the total: its cost
 * is the number of jobs, which a county keeps in the thousands. */
static int h_jobs_list(rq *r)
{
    job_list l = {.who = &r->who, .source = -1, .state = -1};
    const char *region = sg_msg_req_get(r->req, "region");
    const char *source = sg_msg_req_get(r->req, "source");
    const char *state = sg_msg_req_get(r->req, "state");
    int rc;
    if (region != NULL &&
        (region[0] == '\0' || !digits_ok(region, SG_REGION_LEN))) {
        return fail(r, 400, "region", "must be a region code prefix");
    }
    l.region = region;
    if (source != NULL && (l.source = sg_enum_parse(SG_ENUM_SOURCE, source,
                                                    strlen(source))) < 0) {
        return fail(r, 400, "source", "not a job source");
    }
    if (state != NULL &&
        (l.state = sg_enum_parse(SG_ENUM_STATE, state, strlen(state))) < 0) {
        return fail(r, 400, "state", "not one of: open, closed");
    }
    if ((rc = param_long(r, "offset", 0, 1000000000, 0, &l.offset)) != 0 ||
        (rc = param_long(r, "limit", 1, JOBS_LIMIT_MAX, 20, &l.limit)) != 0) {
        return rc;
    }
    l.jobs = json_array();
    rc = sg_txn_each_job(r->t, list_job, &l);
    if (rc != 0) {
        json_decref(l.jobs);
        return fail_rc(r, rc, NULL);
    }
    json_t *o = json_object();
    json_object_set_new(o, "jobs", l.jobs);
    json_object_set_new(o, "total", json_integer(l.total));
    json_object_set_new(o, "offset", json_integer(l.offset));
    json_object_set_new(o, "limit", json_integer(l.limit));
    return reply_jv(r, 200, o);
}

/* masked_id is the opaque id an employer sees for worker id among the
 * candidates of job: stable, but neither reversible nor the same across
 * jobs, so an employer cannot follow one person from job to job. */
static void masked_id(const sg_api *a, const char *job, const char *id,
                      char out[20])
{
    uint8_t h[8];
    crypto_generichash_state st;
    crypto_generichash_init(&st, a->cand_key, sizeof(a->cand_key), sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)job, strlen(job) + 1);
    crypto_generichash_update(&st, (const uint8_t *)id, strlen(id));
    crypto_generichash_final(&st, h, sizeof(h));
    out[0] = 'c';
    sodium_bin2hex(out + 1, 19, h, sizeof(h));
}

static int h_candidates(rq *r)
{
    sg_job j;
    long limit;
    int32_t as_of;
    int rc = load_job(r, r->arg, &j);
    if (rc != 0 ||
        (rc = param_long(r, "limit", 1, SG_MATCH_LIMIT_MAX, 50, &limit)) != 0 ||
        (rc = param_as_of(r, &as_of)) != 0) {
        return rc;
    }
    sg_match_opts mo = {.as_of = as_of, .limit = (int)limit, .w = &r->a->w};
    sg_match_list l = {0};
    if ((rc = sg_match_job(r->t, j.id, &mo, &l)) != 0) {
        return fail_rc(r, rc, NULL);
    }
    json_t *arr = json_array();
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const sg_match *m = &l.items[i];
        sg_worker w;
        json_t *full = sg_match_to_jv(m, false);
        rc = sg_txn_get_worker(r->t, m->id, &w);
        /* An employer sees a summary; so does a scoped admin for a worker
         * outside its scope. */
        if (rc != 0 ||
            (r->who.role == SG_ROLE_ADMIN && sg__under(w.region, r->who.scope))) {
            json_array_append_new(arr, full);
            continue;
        }
        char cid[20], township[SG_LEVEL_TOWNSHIP + 1];
        masked_id(r->a, j.id, m->id, cid);
        memcpy(township, w.region, SG_LEVEL_TOWNSHIP);
        township[SG_LEVEL_TOWNSHIP] = '\0';
        json_t *o = json_object();
        json_object_set_new(o, "candidate", json_string(cid));
        json_object_set(o, "score", json_object_get(full, "score"));
        json_object_set(o, "parts", json_object_get(full, "parts"));
        json_object_set(o, "tier", json_object_get(full, "tier"));
        json_object_set_new(o, "township", json_string(township));
        json_object_set_new(
            o, "labor_class",
            json_string(sg_enum_name(SG_ENUM_LABOR, w.labor_class)));
        json_object_set(o, "reason", json_object_get(full, "reason"));
        json_decref(full);
        json_array_append_new(arr, o);
    }
    sg_match_list_free(&l);
    if (rc != 0) {
        json_decref(arr);
        return fail_rc(r, rc, NULL);
    }
    char day[11];
    sg_date_format(as_of, day);
    json_t *o = json_object();
    json_object_set_new(o, "job", json_string(j.id));
    json_object_set_new(o, "as_of", json_string(day));
    json_object_set_new(o, "candidates", arr);
    return reply_jv(r, 200, o);
}

/* ---- Workers. ---- */

static int h_worker_post(rq *r)
{
    sg_worker w, old;
    sg_error e;
    sg_error_clear(&e);
    int rc = decode_worker(r, &w);
    if (rc != 0) {
        return rc;
    }
    if (!sg__under(w.region, r->who.scope)) {
        return fail(r, 403, "region", "outside your scope");
    }
    rc = sg_txn_get_worker(r->t, w.id, &old);
    if (rc == 0) {
        return fail(r, 409, "id", "a worker with this id exists");
    }
    if (rc != SG_ENOTFOUND || (rc = sg_write_worker_over(&r->wr, NULL, &w, &e)) != 0) {
        return fail_rc(r, rc, &e);
    }
    return reply_jv(r, 201, sg_worker_to_jv(&w));
}

static int h_worker_get(rq *r)
{
    sg_worker w;
    int rc = load_worker(r, r->arg, &w);
    return rc != 0 ? rc : reply_jv(r, 200, sg_worker_to_jv(&w));
}

static int h_me(rq *r)
{
    sg_worker w;
    int rc = load_worker(r, r->who.worker, &w);
    return rc != 0 ? rc : reply_jv(r, 200, sg_worker_to_jv(&w));
}

static int h_worker_put(rq *r)
{
    sg_worker w, old;
    sg_error e;
    sg_error_clear(&e);
    if (!sg_id_valid(r->arg, strlen(r->arg))) {
        return fail(r, 404, "", "no such worker");
    }
    int rc = sg_txn_get_worker(r->t, r->arg, &old);
    bool exists = rc == 0;
    if (exists && !worker_visible(&r->who, &old)) {
        return fail(r, 404, "", "no such worker");
    }
    if (rc != 0 && rc != SG_ENOTFOUND) {
        return fail_rc(r, rc, NULL);
    }
    if ((rc = decode_worker(r, &w)) != 0) {
        return rc;
    }
    if (strcmp(w.id, r->arg) != 0) {
        return fail(r, 400, "id", "must equal the id in the path");
    }
    if (!sg__under(w.region, r->who.scope)) {
        return fail(r, 403, "region", "outside your scope");
    }
    if ((rc = sg_write_worker_over(&r->wr, exists ? &old : NULL, &w,
                                   &e)) != 0) {
        return fail_rc(r, rc, &e);
    }
    return reply_jv(r, 200, sg_worker_to_jv(&w));
}

/* matches answers {"worker", "as_of", "matches"} for worker id. */
static int matches(rq *r, const char *id)
{
    sg_worker w;
    long limit;
    int32_t as_of;
    int rc = load_worker(r, id, &w);
    if (rc != 0 ||
        (rc = param_long(r, "limit", 1, SG_MATCH_LIMIT_MAX, 20, &limit)) != 0 ||
        (rc = param_as_of(r, &as_of)) != 0) {
        return rc;
    }
    sg_match_opts mo = {.as_of = as_of, .limit = (int)limit, .w = &r->a->w};
    sg_match_list l = {0};
    if ((rc = sg_match_worker(r->t, w.id, &mo, &l)) != 0) {
        return fail_rc(r, rc, NULL);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) {
        json_array_append_new(arr, sg_match_to_jv(&l.items[i], true));
    }
    sg_match_list_free(&l);
    char day[11];
    sg_date_format(as_of, day);
    json_t *o = json_object();
    json_object_set_new(o, "worker", json_string(w.id));
    json_object_set_new(o, "as_of", json_string(day));
    json_object_set_new(o, "matches", arr);
    return reply_jv(r, 200, o);
}

static int h_worker_matches(rq *r)
{
    return matches(r, r->arg);
}

static int h_me_matches(rq *r)
{
    return matches(r, r->who.worker);
}

/* host_ok: a Host header fit to go into a link as is. */
static bool host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == ':' ||
              c == '[' || c == ']')) {
            return false;
        }
    }
    return true;
}

static int h_token(rq *r)
{
    sg_worker w;
    long ttl;
    sg_error e;
    sg_error_clear(&e);
    int rc = load_worker(r, r->arg, &w);
    if (rc != 0 || (rc = param_long(r, "ttl_days", 1, TOKEN_TTL_MAX,
                                    SG_TOKEN_TTL_DAYS, &ttl)) != 0) {
        return rc;
    }
    int64_t expires = (int64_t)time(NULL) + (int64_t)ttl * 86400;
    char tok[SG_TOKEN_MAX + 1], tid[SG_CRED_ID_LEN + 1];
    rc = sg_auth_token_issue(&r->a->auth, r->t, w.id, expires, tok, tid, &e);
    if (rc != 0) {
        return fail(r, 500, "", "cannot issue a token: %s", sg_strerror(rc));
    }
    char url[SG_TOKEN_MAX + 300], exp[26];
    if (host_ok(r->req->host)) {
        snprintf(url, sizeof(url), "http://%s/m/?token=%s", r->req->host, tok);
    } else {
        snprintf(url, sizeof(url), "/m/?token=%s", tok);
    }
    sg_time_format(expires, exp);
    json_t *o = json_object();
    json_object_set_new(o, "token", json_string(tok));
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "expires", json_string(exp));
    sodium_memzero(tok, sizeof(tok));
    sodium_memzero(url, sizeof(url));
    return reply_jv(r, 200, o);
}

/* import_line takes one NDJSON line through the shared path (scoped to
 * the caller): 0 when it landed, 1 when it was rejected (and listed), or
 * a negative SG_E* when the store failed. */
static int import_line(rq *r, const char *line, size_t len, long lineno,
                       json_t *errors, long *rejected)
{
    sg_error e;
    sg_error_clear(&e);
    int rc = sg_write_import_line(&r->wr, line, len, SG_KIND_WORKER,
                                  sg_store_idkey(r->a->s), NULL, &e);
    if (rc <= 0) {
        return rc;
    }
    (*rejected)++;
    if (json_array_size(errors) < IMPORT_ERRORS_MAX) {
        json_t *o = json_object();
        json_object_set_new(o, "line", json_integer(lineno));
        json_object_set_new(o, "field", json_string(e.field));
        json_object_set_new(o, "reason", json_string(e.reason));
        json_array_append_new(errors, o);
    }
    return 1;
}

/* h_import loads NDJSON workers line by line: each good line lands (in
 * atomically, with its pushes), each bad one is listed
 * with its line number; the first IMPORT_ERRORS_MAX are listed. */
static int h_import(rq *r)
{
    const sg_msg_req *q = r->req;
    if (q->ctype != SG_FMT_NDJSON && q->ctype != SG_FMT_JSON &&
        !(q->ctype == SG_FMT_NONE && q->body_len == 0)) {
        return fail(r, 400, "", "expected application/x-ndjson");
    }
    if (q->body_len > SG_MSG_BODY_MAX) {
        return fail(r, 413, "", "longer than %u bytes", SG_MSG_BODY_MAX);
    }
    json_t *errors = json_array();
    long accepted = 0, rejected = 0, lineno = 0;
    r->wr.scope = r->who.scope; /* an officer's lines stay in its scope */
    const char *p = (const char *)q->body, *end = p + q->body_len;
    int rc = 0;
    while (rc >= 0 && p != NULL && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        size_t len = (size_t)(stop - p);
        lineno++;
        while (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        if (len > 0) {
            rc = import_line(r, p, len, lineno, errors, &rejected);
            accepted += rc == 0;
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    if (rc < 0) {
        json_decref(errors);
        return fail_rc(r, rc, NULL);
    }
    json_t *o = json_object();
    json_object_set_new(o, "accepted", json_integer(accepted));
    json_object_set_new(o, "rejected", json_integer(rejected));
    json_object_set_new(o, "errors", errors);
    return reply_jv(r, 200, o);
}

/* ---- Regions. ---- */

typedef struct fit {
    char id[SG_ID_MAX + 1]; /* job */
    long fits;              /* seeking workers under the code it fits */
} fit;

static int cmp_fit(const void *a, const void *b)
{
    const fit *x = a, *y = b;
    if (x->fits != y->fits) {
        return x->fits > y->fits ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

/* count_fits adds, for each seeking worker living under code, one to
 * every open job the pair is eligible for (map: job id -> count).  It
 * runs one worker -> jobs query per seeking worker, with the largest
 * limit (SG_MATCH_LIMIT_MAX): the cost is that of one /matches query per
 * seeking worker under the code, and a worker eligible for more than
 * 1,000 jobs counts for its best 1,000 only. */
static int count_fits(rq *r, const char *code, int32_t as_of, json_t *map)
{
    sg__ids ids = {0};
    int rc = sg_txn_workers_in_region(r->t, code, sg__ids_add, &ids);
    sg_match_opts mo = {
        .as_of = as_of, .limit = SG_MATCH_LIMIT_MAX, .w = &r->a->w};
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        sg_worker w;
        sg_match_list l = {0};
        rc = sg_txn_get_worker(r->t, ids.v[i], &w);
        if (rc != 0 || !w.seeking) {
            continue;
        }
        rc = sg_match_worker(r->t, w.id, &mo, &l);
        for (size_t k = 0; rc == 0 && k < l.n; k++) {
            json_t *c = json_object_get(map, l.items[k].id);
            json_object_set_new(
                map, l.items[k].id,
                json_integer(c ? json_integer_value(c) + 1 : 1));
        }
        sg_match_list_free(&l);
    }
    free(ids.v);
    return rc;
}

/* h_region_jobs ranks the open jobs by how many seeking workers living
 * under the code they fit; jobs that fit nobody there are not listed. */
static int h_region_jobs(rq *r)
{
    long limit;
    int32_t as_of;
    const char *code = r->arg;
    if (!region_known(code) || !sg__under(code, r->who.scope)) {
        return fail(r, 404, "", "no such region in your scope");
    }
    int rc = param_long(r, "limit", 1, SG_MATCH_LIMIT_MAX, 20, &limit);
    if (rc != 0 || (rc = param_as_of(r, &as_of)) != 0) {
        return rc;
    }
    json_t *map = json_object();
    if ((rc = count_fits(r, code, as_of, map)) != 0) {
        json_decref(map);
        return fail_rc(r, rc, NULL);
    }
    size_t n = json_object_size(map), k = 0;
    fit *fits = malloc((n ? n : 1) * sizeof(*fits));
    if (fits == NULL) {
        abort();
    }
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v)
    {
        snprintf(fits[k].id, sizeof(fits[k].id), "%s", key);
        fits[k++].fits = (long)json_integer_value(v);
    }
    json_decref(map);
    qsort(fits, n, sizeof(*fits), cmp_fit);
    json_t *arr = json_array();
    for (size_t i = 0; rc == 0 && i < n && (long)json_array_size(arr) < limit;
         i++) {
        sg_job j;
        rc = sg_txn_get_job(r->t, fits[i].id, &j);
        if (rc != 0 || !job_visible(&r->who, &j)) {
            continue;
        }
        json_t *o = json_object();
        json_object_set_new(o, "job", json_string(j.id));
        json_object_set_new(o, "title", json_string(j.title));
        json_object_set_new(o, "employer", json_string(j.employer));
        json_object_set_new(
            o, "source", json_string(sg_enum_name(SG_ENUM_SOURCE, j.source)));
        json_object_set_new(o, "fits", json_integer(fits[i].fits));
        json_object_set_new(o, "wage_min", json_integer(j.wage_min));
        json_object_set_new(o, "wage_max", json_integer(j.wage_max));
        json_array_append_new(arr, o);
    }
    free(fits);
    if (rc != 0) {
        json_decref(arr);
        return fail_rc(r, rc, NULL);
    }
    json_t *o = json_object();
    json_object_set_new(o, "region", json_string(code));
    json_object_set_new(o, "jobs", arr);
    return reply_jv(r, 200, o);
}

/* ---- Events. ---- */

/* backlog gathers events as a msgpack array for a reply. */
typedef struct backlog {
    sg_buf items;       /* the events' maps, back to back */
    size_t n;           /* how many */
    size_t max;         /* at most */
    const char *prefix; /* region stream: region prefix; else NULL */
    size_t scanned;     /* log entries read */
    size_t scan_max;    /* at most */
    uint64_t last;      /* seq of the last entry taken or passed over */
    bool more;          /* stopped before the end */
} backlog;

static int on_event(void *arg, const sg_event *ev, const uint8_t *raw, size_t n)
{
    backlog *b = arg;
    if (b->n == b->max || b->scanned == b->scan_max) {
        b->more = true;
        return 1; /* stop */
    }
    b->scanned++;
    if (b->prefix == NULL || sg__under(ev->region, b->prefix)) {
        sg_buf_append(&b->items, raw, n);
        b->n++;
    }
    b->last = ev->seq;
    return 0;
}

/* reply_events answers 200 with the backlog as a msgpack array (always
 * msgpack: the gateway reads it), seq and more.  seq is where the reply
 * leaves the stream: the last entry read when cut, else the last seq of
 * the snapshot, so the gateway polls on from there and never reads an
 * entry twice. */
static int reply_events(rq *r, backlog *b)
{
    uint64_t last = 0;
    int rc = sg_txn_last_seq(r->t, &last);
    if (rc != 0) {
        sg_buf_free(&b->items);
        return fail_rc(r, rc, NULL);
    }
    r->body->len = r->off;
    uint8_t hdr[5];
    size_t hl;
    if (b->n < 16) {
        hdr[0] = (uint8_t)(0x90 | b->n);
        hl = 1;
    } else if (b->n < 65536) {
        hdr[0] = 0xdc;
        hdr[1] = (uint8_t)(b->n >> 8);
        hdr[2] = (uint8_t)b->n;
        hl = 3;
    } else {
        hdr[0] = 0xdd;
        hdr[1] = (uint8_t)(b->n >> 24);
        hdr[2] = (uint8_t)(b->n >> 16);
        hdr[3] = (uint8_t)(b->n >> 8);
        hdr[4] = (uint8_t)b->n;
        hl = 5;
    }
    sg_buf_append(r->body, hdr, hl);
    if (b->items.len > 0) {
        sg_buf_append(r->body, b->items.data, b->items.len);
    }
    sg_buf_free(&b->items);
    r->reply->status = 200;
    r->reply->ctype = SG_FMT_MSGPACK;
    r->reply->seq = b->more ? b->last : last;
    r->reply->more = b->more;
    return 0;
}

/* h_events authorises a stream and answers its backlog after
 * Last-Event-ID: a worker's from its inbox, a region's from the log
 * (reading at most SCAN_MAX entries, then `more`). */
static int h_events(rq *r)
{
    const char *worker = sg_msg_req_get(r->req, "worker");
    const char *region = sg_msg_req_get(r->req, "region");
    backlog b = {.max = EVENTS_MAX, .scan_max = SIZE_MAX};
    int rc;
    if (worker == NULL && region == NULL && r->who.role == SG_ROLE_WORKER) {
        worker = r->who.worker;
    }
    if ((worker == NULL) == (region == NULL)) {
        return fail(r, 400, "worker", "give exactly one of worker and region");
    }
    if (worker != NULL) {
        sg_worker w;
        if ((rc = load_worker(r, worker, &w)) != 0) {
            return rc;
        }
        sg_buf_init(&b.items);
        rc =
            sg_txn_inbox_after(r->t, w.id, r->req->last_event_id, on_event, &b);
        r->reply->stream = SG_STREAM_WORKER;
        snprintf(r->reply->stream_key, sizeof(r->reply->stream_key), "%s",
                 w.id);
    } else {
        if (r->who.role == SG_ROLE_WORKER) {
            return fail(r, 403, "region",
                        "a worker token streams its own events only");
        }
        if (!region_known(region)) {
            return fail(r, 400, "region", "must be a known region code");
        }
        if (!sg__under(region, r->who.scope)) {
            return fail(r, 403, "region", "outside your scope");
        }
        sg_buf_init(&b.items);
        b.prefix = region;
        b.scan_max = SCAN_MAX;
        rc = sg_txn_events_after(r->t, r->req->last_event_id, on_event, &b);
        r->reply->stream = SG_STREAM_REGION;
        snprintf(r->reply->stream_key, sizeof(r->reply->stream_key), "%s",
                 region);
    }
    if (rc < 0) {
        sg_buf_free(&b.items);
        r->reply->stream = SG_STREAM_NONE;
        r->reply->stream_key[0] = '\0';
        return fail_rc(r, rc, NULL);
    }
    return reply_events(r, &b);
}

/* h_poll (SG /events/poll) answers the log after q.after for the
 * gateways' fan-out; they authorised each stream already. */
static int h_poll(rq *r)
{
    long limit;
    uint64_t from = 0;
    sg_error e;
    int rc = sg_msg_req_seq(r->req, "after", 0, &from, &e);
    if (rc != 0) {
        return fail_rc(r, rc, &e);
    }
    rc = param_long(r, "limit", 1, EVENTS_MAX, EVENTS_MAX, &limit);
    if (rc != 0) {
        return rc;
    }
    backlog b = {.max = (size_t)limit, .scan_max = SIZE_MAX};
    sg_buf_init(&b.items);
    rc = sg_txn_events_after(r->t, from, on_event, &b);
    if (rc < 0) {
        sg_buf_free(&b.items);
        return fail_rc(r, rc, NULL);
    }
    return reply_events(r, &b);
}

/* h_version (SG /version) answers the store's data version, in the
 * reply's version field and as {"version"}: the gateways poll it to learn
 * of writes made elsewhere (another gateway, the CLI).  It reads the
 * environment rather than t's snapshot, so it also sees commits made
 * since t began, by any process. */
static int h_version(rq *r)
{
    uint64_t v = 0;
    int rc = sg_store_version(r->a->s, &v);
    if (rc != 0) {
        return fail_rc(r, rc, NULL);
    }
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer((json_int_t)v));
    r->msgpack = false;
    rc = reply_jv(r, 200, o);
    if (v > r->reply->version) {
        r->reply->version = v;
    }
    return rc;
}

/* h_stats (SG /stats) answers the figures /metrics shows, as JSON. */
static int h_stats(rq *r)
{
    uint64_t bytes = 0, last = 0;
    size_t nw = 0, nj = 0;
    int rc = sg_store_bytes(r->a->s, &bytes);
    if (rc == 0) {
        rc = sg_txn_last_seq(r->t, &last);
    }
    if (rc == 0) {
        rc = sg_txn_counts(r->t, &nw, &nj);
    }
    if (rc != 0) {
        return fail_rc(r, rc, NULL);
    }
    json_t *o = json_object();
    json_object_set_new(o, "lmdb_bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "last_seq", json_integer((json_int_t)last));
    json_object_set_new(o, "workers", json_integer((json_int_t)nw));
    json_object_set_new(o, "jobs", json_integer((json_int_t)nj));
    r->msgpack = false;
    return reply_jv(r, 200, o);
}

/* ---- Routing. ---- */

#define ROLE(x) (1u << SG_ROLE_##x)

/* The API's part of each route (songgang/routes.h has the rest: method,
 * pattern, whether a 200 may be reused). */
typedef struct handler {
    unsigned roles;   /* ROLE() bits; 0 = no credential (internal) */
    int (*fn)(rq *r); /* the handler */
} handler;

static const handler handlers[SG_ROUTE__COUNT] = {
    [SG_ROUTE_JOBS_LIST] = {ROLE(ADMIN) | ROLE(OFFICER) | ROLE(EMPLOYER),
                            h_jobs_list},
    [SG_ROUTE_JOB_POST] = {ROLE(ADMIN) | ROLE(EMPLOYER), h_job_post},
    [SG_ROUTE_JOB_GET] = {ROLE(ADMIN) | ROLE(OFFICER) | ROLE(EMPLOYER),
                          h_job_get},
    [SG_ROUTE_JOB_PUT] = {ROLE(ADMIN) | ROLE(EMPLOYER), h_job_put},
    [SG_ROUTE_JOB_DELETE] = {ROLE(ADMIN) | ROLE(EMPLOYER), h_job_delete},
    [SG_ROUTE_JOB_CANDIDATES] = {ROLE(ADMIN) | ROLE(EMPLOYER), h_candidates},
    [SG_ROUTE_WORKER_POST] = {ROLE(ADMIN) | ROLE(OFFICER), h_worker_post},
    [SG_ROUTE_IMPORT] = {ROLE(ADMIN) | ROLE(OFFICER), h_import},
    [SG_ROUTE_WORKER_GET] = {ROLE(ADMIN) | ROLE(OFFICER) | ROLE(WORKER),
                             h_worker_get},
    [SG_ROUTE_WORKER_PUT] = {ROLE(ADMIN) | ROLE(OFFICER), h_worker_put},
    [SG_ROUTE_WORKER_MATCHES] = {ROLE(ADMIN) | ROLE(OFFICER) | ROLE(WORKER),
                                 h_worker_matches},
    [SG_ROUTE_WORKER_TOKEN] = {ROLE(ADMIN) | ROLE(OFFICER), h_token},
    [SG_ROUTE_REGION_JOBS] = {ROLE(ADMIN) | ROLE(OFFICER), h_region_jobs},
    [SG_ROUTE_ME] = {ROLE(WORKER), h_me},
    [SG_ROUTE_ME_MATCHES] = {ROLE(WORKER), h_me_matches},
    [SG_ROUTE_EVENTS] = {ROLE(ADMIN) | ROLE(OFFICER) | ROLE(WORKER),
                         h_events},
    [SG_ROUTE_POLL] = {0, h_poll},
    [SG_ROUTE_STATS] = {0, h_stats},
    [SG_ROUTE_VERSION] = {0, h_version},
};

static const char *const role_words[SG_ROLE__COUNT] = {
    "", "an admin", "an officer", "an employer", "a worker",
};

/* dispatch routes, authenticates and runs the handler. */
static int dispatch(rq *r)
{
    int any;
    int id = sg_route_match(r->req->method, r->req->path,
                            strlen(r->req->path),
                            SG_ROUTE_API | SG_ROUTE_INTERNAL, &any, r->arg,
                            sizeof(r->arg));
    const handler *rt = id != SG_ROUTE_NONE ? &handlers[id] : NULL;
    if (rt == NULL || rt->fn == NULL) {
        return any != SG_ROUTE_NONE ? fail(r, 405, "", "method not allowed")
                                    : fail(r, 404, "", "no such path");
    }
    r->cacheable = (sg_route_get(id)->flags & SG_ROUTE_CACHE) != 0;
    if (rt->roles != 0) {
        if (r->req->cred[0] == '\0') {
            return fail(r, 401, "", "a credential is required");
        }
        int rc =
            sg_auth_check(&r->a->auth, r->t, r->req->cred, time(NULL), &r->who);
        if (rc == SG_ENOTFOUND) {
            return fail(r, 401, "", "unknown, expired or revoked credential");
        }
        if (rc != 0) {
            return fail_rc(r, rc, NULL);
        }
        if (!(rt->roles & (1u << r->who.role))) {
            return fail(
                r, 403, "", "this route is not open to %s",
                role_words[r->who.role < SG_ROLE__COUNT ? r->who.role : 0]);
        }
    }
    return rt->fn(r);
}

/* ---- How long a reply may be reused. ---- */

/* Asia/Shanghai is UTC+8 all year (no DST since 1991; proto/time.c). */
#define SHANGHAI_OFFSET_MS (8LL * 3600 * 1000)
#define DAY_MS (86400LL * 1000)

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* next_midnight_ms returns the first Asia/Shanghai midnight after now
 * (unix ms), when "today" changes. */
static int64_t next_midnight_ms(int64_t now)
{
    int64_t local = now + SHANGHAI_OFFSET_MS;
    int64_t day = local / DAY_MS - (local % DAY_MS < 0);
    return (day + 1) * DAY_MS - SHANGHAI_OFFSET_MS;
}

/* cache_until answers until when (unix ms) a gateway may answer the same
 * request with r's reply while the data version stays the same, or 0 for
 * never.  A cacheable route's reply depends on the request, the data, and
 * the clock only through two things: whether the credential has expired,
 * and "today" (freshness, ended jobs) unless as_of fixed the day.  now
 * was read before the handler read "today", so a day that turns while it
 * runs ends the reuse at once rather than a day late. */
static int64_t cache_until(rq *r, int64_t now)
{
    int64_t until = INT64_MAX;
    if (r->who.id[0] != '\0') {
        sg_cred c;
        if (sg_txn_cred_get(r->t, r->who.id, &c) != 0) {
            return 0;
        }
        if (c.expires > 0 && c.expires < INT64_MAX / 1000 &&
            c.expires * 1000 < until) {
            until = c.expires * 1000;
        }
    }
    if (sg_msg_req_get(r->req, "as_of") == NULL) {
        int64_t midnight = next_midnight_ms(now);
        if (midnight < until) {
            until = midnight;
        }
    }
    return until > now ? until : 0;
}

int sg_api_handle(sg_api *a, sg_txn *t, const sg_msg_req *req,
                  sg_msg_reply *reply, sg_buf *body, uint64_t *last_seq)
{
    rq r;
    int64_t now = wall_ms();
    memset(&r, 0, sizeof(r));
    memset(reply, 0, sizeof(*reply));
    reply->version = sg_txn_version(t);
    r.a = a;
    r.t = t;
    r.req = req;
    r.reply = reply;
    r.body = body;
    r.off = body->len;
    r.msgpack = req->accept == SG_FMT_MSGPACK;
    sg_write_init(&r.wr, t, 0, a->push_top, &a->w);
    int rc = dispatch(&r);
    reply->body = body->data != NULL ? body->data + r.off : NULL;
    reply->body_len = body->len - r.off;
    if (rc == 0 && r.cacheable && reply->status == 200 &&
        reply->stream == SG_STREAM_NONE) {
        reply->cache_until_ms = cache_until(&r, now);
    }
    if (rc == 0 && last_seq != NULL && r.wr.last_seq > *last_seq) {
        *last_seq = r.wr.last_seq;
    }
    return rc;
}
