/* tests/service_test.c -- the matcher's NNG service (songgang/service.h)
 * with real sockets (inproc:// and tcp://127.0.0.1), a real store in a
 * fresh temporary directory and the real API: replies to reads and
 * writes, many concurrent REQ contexts group-committed, malformed
 * messages answered 400 without touching the store, the doorbell after a
 * write that makes events, close with requests in flight, and a store
 * that keeps every acknowledged write across close and reopen. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>

#include "songgang/api.h"
#include "songgang/auth.h"
#include "songgang/msg.h"
#include "songgang/service.h"
#include "songgang/store.h"

#include "../matcher/internal.h" /* sg__service_commit_faults */
#include "testutil.h"

/* ---- Fixture. ---- */

typedef struct fx {
    char dir[256];   /* temporary data directory */
    char url[128];   /* REP URL */
    char pub[160];   /* PUB URL */
    char key[128];   /* an admin API key */
    sg_store *store; /* open store */
    sg_api *api;     /* open API */
    sg_service *sv;  /* running service */
} fx;

static int url_seq; /* distinct inproc names per test */

/* make_admin_key stores a new admin key and writes it into key. */
static void make_admin_key(sg_store *s, char key[SG_KEY_LEN + 1])
{
    sg_cred tmpl;
    char id[SG_CRED_ID_LEN + 1];
    sg_error e;
    sg_txn *t;

    memset(&tmpl, 0, sizeof tmpl);
    tmpl.role = SG_ROLE_ADMIN;
    assert_int_equal(sg_txn_begin(s, true, &t), 0);
    assert_int_equal(sg_auth_key_create(t, &tmpl, key, id, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
}

static void fx_start(fx *f, const char *url, const char *pub, int contexts)
{
    sg_service_opts so = {0};

    snprintf(f->url, sizeof f->url, "%s", url);
    if (pub != NULL) {
        snprintf(f->pub, sizeof f->pub, "%s", pub);
    } else {
        assert_int_equal(sg_pub_url(url, f->pub, sizeof f->pub), 0);
    }
    so.listen = f->url;
    so.pub = f->pub;
    so.contexts = contexts;
    so.readers = 2;
    assert_int_equal(sg_service_open(&f->sv, f->store, f->api, &so), 0);
}

static void fx_open_store(fx *f)
{
    sg_api_opts ao = {0};

    assert_int_equal(sg_store_open(&f->store, f->dir, 0), 0);
    assert_int_equal(sg_api_open(&f->api, f->store, &ao), 0);
}

static void fx_close_store(fx *f)
{
    sg_api_close(f->api);
    f->api = NULL;
    sg_store_close(f->store);
    f->store = NULL;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char url[64];

    tu_tempdir(f->dir, sizeof f->dir);
    fx_open_store(f);
    make_admin_key(f->store, f->key);
    snprintf(url, sizeof url, "inproc://sgtest-%d-%d", (int)getpid(),
             url_seq++);
    fx_start(f, url, NULL, 16);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    sg_service_close(f->sv);
    fx_close_store(f);
    tu_rmrf(f->dir);
    free(f);
    return 0;
}

/* ---- A client. ---- */

static nng_socket client_open(const char *url)
{
    nng_socket s;

    assert_int_equal(nng_req0_open(&s), 0);
    /* A resend would run a write twice. */
    assert_int_equal(
        nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
    assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 20000), 0);
    assert_int_equal(nng_dial(s, url, NULL, 0), 0);
    return s;
}

/* A reply with its own copy of the bytes. */
typedef struct answer {
    int status;      /* HTTP status, or -1 when none came */
    char body[8192]; /* body, NUL-terminated (cut if longer) */
    size_t body_len; /* full length */
    uint64_t seq;    /* reply seq */
    bool more;       /* reply more */
} answer;

static void encode(const char *method, const char *path, const char *cred,
                   const char *body, sg_buf *out)
{
    sg_msg_req r;

    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "%s", method);
    snprintf(r.path, sizeof r.path, "%s", path);
    if (cred != NULL) {
        snprintf(r.cred, sizeof r.cred, "%s", cred);
    }
    snprintf(r.host, sizeof r.host, "test.local");
    r.accept = SG_FMT_JSON;
    if (body != NULL) {
        r.ctype = SG_FMT_JSON;
        r.body = (const uint8_t *)body;
        r.body_len = strlen(body);
    }
    sg_msg_req_encode(&r, out);
}

static void parse_answer(const uint8_t *p, size_t n, answer *a)
{
    sg_msg_reply rp;
    sg_error e;

    if (sg_msg_reply_decode(p, n, &rp, &e) != 0) {
        fail_msg("reply does not decode: %s: %s", e.field, e.reason);
    }
    a->status = rp.status;
    a->body_len = rp.body_len;
    a->seq = rp.seq;
    a->more = rp.more;
    snprintf(a->body, sizeof a->body, "%.*s", (int)rp.body_len,
             rp.body != NULL ? (const char *)rp.body : "");
}

/* send_raw sends bytes on s and waits for the reply. */
static void send_raw(nng_socket s, const void *p, size_t n, answer *a)
{
    void *rbuf = NULL;
    size_t rlen = 0;

    assert_int_equal(nng_send(s, (void *)p, n, 0), 0);
    assert_int_equal(nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC), 0);
    parse_answer(rbuf, rlen, a);
    nng_free(rbuf, rlen);
}

static void call(nng_socket s, const char *method, const char *path,
                 const char *cred, const char *body, answer *a)
{
    sg_buf b;

    sg_buf_init(&b);
    encode(method, path, cred, body, &b);
    send_raw(s, b.data, b.len, a);
    sg_buf_free(&b);
}

static void worker_json(char *out, size_t cap, const char *id,
                        const char *status)
{
    snprintf(out, cap,
             "{\"kind\":\"worker\",\"id\":\"%s\",\"name\":\"甲\","
             "\"region\":\"360425100201\",\"labor_class\":\"ordinary\","
             "\"category\":\"poverty_exited\",\"household\":\"h-%s\","
             "\"travel\":\"county\",\"expected_wage\":3000,"
             "\"status\":\"%s\",\"seeking\":true}",
             id, id, status);
}

static void job_json(char *out, size_t cap, const char *id)
{
    snprintf(out, cap,
             "{\"kind\":\"job\",\"id\":\"%s\",\"employer\":\"E1\","
             "\"source\":\"workshop\",\"title\":\"车间\","
             "\"labor_classes\":[\"ordinary\"],"
             "\"sites\":[{\"region\":\"360425100201\"}],\"openings\":3,"
             "\"wage_min\":3000,\"wage_max\":4000,"
             "\"posted\":\"2026-11-01T00:00:00Z\"}",
             id);
}

static size_t count_workers(sg_store *s)
{
    sg_txn *t;
    size_t w = 0, j = 0;

    assert_int_equal(sg_txn_begin(s, false, &t), 0);
    assert_int_equal(sg_txn_counts(t, &w, &j), 0);
    sg_txn_abort(t);
    return w;
}

static bool worker_exists(sg_store *s, const char *id)
{
    sg_txn *t;
    sg_worker w;
    int rc;

    assert_int_equal(sg_txn_begin(s, false, &t), 0);
    rc = sg_txn_get_worker(t, id, &w);
    sg_txn_abort(t);
    return rc == 0;
}

/* ---- Tests. ---- */

static void test_pub_url(void **state)
{
    char b[64];

    (void)state;
    assert_int_equal(sg_pub_url("tcp://127.0.0.1:7100", b, sizeof b), 0);
    assert_string_equal(b, "tcp://127.0.0.1:7101");
    assert_int_equal(sg_pub_url("tcp://[::1]:80", b, sizeof b), 0);
    assert_string_equal(b, "tcp://[::1]:81");
    assert_int_equal(sg_pub_url("ipc:///tmp/sg.sock", b, sizeof b), 0);
    assert_string_equal(b, "ipc:///tmp/sg.sock.pub");
    assert_int_equal(sg_pub_url("inproc://songgang", b, sizeof b), 0);
    assert_string_equal(b, "inproc://songgang.pub");
    assert_int_equal(sg_pub_url("tcp://h:65535", b, sizeof b), SG_EINVAL);
    assert_int_equal(sg_pub_url("tcp://h:0", b, sizeof b), SG_EINVAL);
    assert_int_equal(sg_pub_url("tcp://h", b, sizeof b), SG_EINVAL);
    assert_int_equal(sg_pub_url("tcp://h:7x", b, sizeof b), SG_EINVAL);
    assert_int_equal(sg_pub_url("ws://h:1", b, sizeof b), SG_EINVAL);
    strcpy(b, "untouched");
    assert_int_equal(sg_pub_url("inproc://songgang", b, 10), SG_ETOOBIG);
    assert_string_equal(b, "untouched"); /* written only on success */
    assert_int_equal(sg_pub_url("tcp://127.0.0.1:7100", b, 20), SG_ETOOBIG);
    assert_string_equal(b, "untouched");
}

static void test_get_post(void **state)
{
    fx *f = *state;
    nng_socket c = client_open(f->url);
    char body[1024];
    answer a;

    worker_json(body, sizeof body, "w1", "idle");
    call(c, "GET", "/v1/workers/w1", f->key, NULL, &a);
    assert_int_equal(a.status, 404);
    call(c, "POST", "/v1/workers", f->key, body, &a);
    assert_int_equal(a.status, 201);
    assert_non_null(strstr(a.body, "\"w1\""));
    call(c, "GET", "/v1/workers/w1", f->key, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"360425100201\""));
    /* No credential: the API says so, through the service. */
    call(c, "GET", "/v1/workers/w1", NULL, NULL, &a);
    assert_int_equal(a.status, 401);
    /* A second POST of the same id conflicts and writes nothing. */
    call(c, "POST", "/v1/workers", f->key, body, &a);
    assert_int_equal(a.status, 409);
    assert_int_equal(count_workers(f->store), 1);
    nng_close(c);
}

static void test_malformed(void **state)
{
    static const uint8_t junk[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1};
    fx *f = *state;
    nng_socket c = client_open(f->url);
    json_t *j, *err;
    json_error_t je;
    sg_buf b;
    answer a;

    send_raw(c, junk, sizeof junk, &a);
    assert_int_equal(a.status, 400);
    j = json_loads(a.body, 0, &je);
    assert_non_null(j);
    err = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(err, "code")),
                        "bad_request");
    assert_non_null(json_string_value(json_object_get(err, "message")));
    assert_non_null(json_object_get(err, "field"));
    json_decref(j);

    /* A well-formed message with a bad field names the field: the
     * method "POST" becomes "PUSH". */
    sg_buf_init(&b);
    {
        char body[1024];
        uint8_t *m;

        worker_json(body, sizeof body, "w9", "idle");
        encode("POST", "/v1/workers", f->key, body, &b);
        m = memmem(b.data, b.len, "POST", 4);
        assert_non_null(m);
        memcpy(m, "PUSH", 4);
        send_raw(c, b.data, b.len, &a);
        assert_int_equal(a.status, 400);
        j = json_loads(a.body, 0, &je);
        assert_non_null(j);
        err = json_object_get(j, "error");
        assert_string_equal(json_string_value(json_object_get(err, "field")),
                            "m");
        json_decref(j);
        /* Valid again, but with a byte after the message. */
        memcpy(m, "POST", 4);
        sg_buf_append(&b, "\xc0", 1);
        send_raw(c, b.data, b.len, &a);
        assert_int_equal(a.status, 400);
    }
    sg_buf_free(&b);
    /* Nothing reached the store; the service still answers. */
    assert_int_equal(count_workers(f->store), 0);
    assert_false(worker_exists(f->store, "w9"));
    call(c, "GET", "/v1/workers/w9", f->key, NULL, &a);
    assert_int_equal(a.status, 404);
    nng_close(c);
}

/* ---- Many contexts at once. ---- */

#define NCTX 32
#define NREQ 50

typedef struct loadgen {
    fx *f;            /* fixture */
    nng_socket sock;  /* shared REQ socket */
    int index;        /* which context */
    int ok;           /* writes acknowledged 201 */
    int reads;        /* reads answered */
    int bad;          /* unexpected statuses */
    int lost;         /* no reply */
    bool failing;     /* also send a write that must fail, after each */
    int refused;      /* ... answered 409, as it must be */
    bool acked[NREQ]; /* which writes were acknowledged */
} loadgen;

/* ctx_call sends one request on a context and waits for its reply. */
static int ctx_call(nng_ctx ctx, nng_aio *aio, const char *method,
                    const char *path, const char *cred, const char *body,
                    answer *a)
{
    nng_msg *m;
    sg_buf b;
    int rv;

    sg_buf_init(&b);
    encode(method, path, cred, body, &b);
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, b.data, b.len), 0);
    sg_buf_free(&b);
    nng_aio_set_msg(aio, m);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        nng_msg_free(nng_aio_get_msg(aio));
        return rv;
    }
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        return rv;
    }
    m = nng_aio_get_msg(aio);
    parse_answer(nng_msg_body(m), nng_msg_len(m), a);
    nng_msg_free(m);
    return 0;
}

static void *loadgen_main(void *arg)
{
    loadgen *g = arg;
    nng_ctx ctx;
    nng_aio *aio;
    answer *a = malloc(sizeof *a);

    if (nng_ctx_open(&ctx, g->sock) != 0 ||
        nng_aio_alloc(&aio, NULL, NULL) != 0) {
        abort();
    }
    nng_aio_set_timeout(aio, 20000);
    for (int i = 0; i < NREQ; i++) {
        char id[40], path[80], body[1024];

        snprintf(id, sizeof id, "c%d-%d", g->index, i);
        worker_json(body, sizeof body, id, "idle");
        if (ctx_call(ctx, aio, "POST", "/v1/workers", g->f->key, body, a) !=
            0) {
            g->lost++;
            continue;
        }
        if (a->status == 201) {
            g->ok++;
            g->acked[i] = true;
        } else {
            g->bad++;
        }
        /* The same POST again fails (409) in a group with the other
         * contexts' writes, which must land all the same. */
        if (g->failing) {
            if (ctx_call(ctx, aio, "POST", "/v1/workers", g->f->key, body,
                         a) != 0) {
                g->lost++;
                continue;
            }
            if (a->status == 409) {
                g->refused++;
            } else {
                g->bad++;
            }
        }
        snprintf(path, sizeof path, "/v1/workers/%s", id);
        if (ctx_call(ctx, aio, "GET", path, g->f->key, NULL, a) != 0) {
            g->lost++;
            continue;
        }
        if (a->status == 200) {
            g->reads++;
        } else {
            g->bad++;
        }
    }
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    free(a);
    return NULL;
}

/* run_concurrent runs NCTX load generators at once; failing ones also
 * send a write that must fail after each good one. */
static void run_concurrent(fx *f, bool failing)
{
    nng_socket c = client_open(f->url);
    loadgen *g = calloc(NCTX, sizeof *g);
    pthread_t th[NCTX];
    int ok = 0, reads = 0, refused = 0;

    for (int i = 0; i < NCTX; i++) {
        g[i].f = f;
        g[i].sock = c;
        g[i].index = i;
        g[i].failing = failing;
        assert_int_equal(pthread_create(&th[i], NULL, loadgen_main, &g[i]), 0);
    }
    for (int i = 0; i < NCTX; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].bad, 0);
        assert_int_equal(g[i].lost, 0);
        ok += g[i].ok;
        reads += g[i].reads;
        refused += g[i].refused;
    }
    assert_int_equal(ok, NCTX * NREQ);
    assert_int_equal(reads, NCTX * NREQ);
    assert_int_equal(refused, failing ? NCTX * NREQ : 0);
    assert_int_equal(count_workers(f->store), (size_t)(NCTX * NREQ));
    assert_int_equal(sg_store_check(f->store, NULL, NULL), 0);
    nng_close(c);
    free(g);
}

static void test_concurrent(void **state)
{
    run_concurrent(*state, false);
}

/* Writes that fail, grouped with writes that succeed: a group starts
 * over when one of its requests fails (matcher/service.c run_batch), and
 * every good write lands once, every bad one is refused. */
static void test_concurrent_failing(void **state)
{
    run_concurrent(*state, true);
}

/* ---- Doorbell. ---- */

static nng_socket sub_open(const char *url)
{
    nng_socket s;

    assert_int_equal(nng_sub0_open(&s), 0);
    assert_int_equal(nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
    assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000), 0);
    assert_int_equal(nng_dial(s, url, NULL, 0), 0);
    return s;
}

static int count_events(void *arg, const sg_event *ev)
{
    int *n = arg;

    assert_string_equal(ev->type, "match");
    (*n)++;
    return 0;
}

/* doorbell_round posts workers and a job over client c and checks that
 * the doorbell rings on sub with the last seq, and that the events can
 * then be read by seq. */
static void doorbell_round(fx *f, nng_socket c, nng_socket sub)
{
    char body[1024];
    uint8_t *bell = NULL;
    size_t n = 0;
    uint64_t seq = 0;
    answer *a = malloc(sizeof *a);
    sg_buf b;
    sg_msg_req r;
    nng_msg *m;
    int events = 0;

    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        worker_json(body, sizeof body, id, "idle");
        call(c, "POST", "/v1/workers", f->key, body, a);
        assert_int_equal(a->status, 201);
    }
    job_json(body, sizeof body, "J1");
    call(c, "POST", "/v1/jobs", f->key, body, a);
    assert_int_equal(a->status, 201);
    assert_int_equal(nng_recv(sub, &bell, &n, NNG_FLAG_ALLOC), 0);
    assert_int_equal(sg_doorbell_decode(bell, n, &seq), 0);
    nng_free(bell, n);
    assert_true(seq >= 3);

    /* The doorbell only says "look": the events are read by seq. */
    memset(&r, 0, sizeof r);
    strcpy(r.method, "SG");
    strcpy(r.path, "/events/poll");
    r.nq = 2;
    r.q[0].key = "after";
    r.q[0].val = "0";
    r.q[1].key = "limit";
    r.q[1].val = "1000";
    r.accept = SG_FMT_MSGPACK;
    sg_buf_init(&b);
    sg_msg_req_encode(&r, &b);
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, b.data, b.len), 0);
    sg_buf_free(&b);
    assert_int_equal(nng_sendmsg(c, m, 0), 0);
    assert_int_equal(nng_recvmsg(c, &m, 0), 0);
    {
        sg_msg_reply rp;
        sg_error e;
        assert_int_equal(
            sg_msg_reply_decode(nng_msg_body(m), nng_msg_len(m), &rp, &e), 0);
        assert_int_equal(rp.status, 200);
        assert_int_equal(rp.seq, seq);
        assert_int_equal(
            sg_events_decode(rp.body, rp.body_len, count_events, &events, &e),
            0);
    }
    nng_msg_free(m);
    assert_int_equal(events, 3);
    free(a);
}

static void test_doorbell(void **state)
{
    fx *f = *state;
    nng_socket c = client_open(f->url);
    nng_socket sub = sub_open(f->pub);

    doorbell_round(f, c, sub);
    nng_close(sub);
    nng_close(c);
}

/* test_tcp runs the service on 127.0.0.1 with the derived PUB port. */
static void test_tcp(void **state)
{
    fx *f = *state;
    char url[64];
    nng_socket c, sub;
    sg_service_opts so = {0};
    int rc = SG_EBUSY;
    answer a;

    sg_service_close(f->sv);
    f->sv = NULL;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int tries = 0; tries < 50 && rc == SG_EBUSY; tries++) {
        int port = 20000 + rand() % 30000;
        snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
        snprintf(f->url, sizeof f->url, "%s", url);
        assert_int_equal(sg_pub_url(url, f->pub, sizeof f->pub), 0);
        so.listen = f->url;
        rc = sg_service_open(&f->sv, f->store, f->api, &so);
    }
    assert_int_equal(rc, 0);
    c = client_open(f->url);
    sub = sub_open(f->pub);
    call(c, "GET", "/v1/workers/nobody", f->key, NULL, &a);
    assert_int_equal(a.status, 404);
    usleep(100 * 1000); /* let the SUB pipe settle before the bell rings */
    doorbell_round(f, c, sub);
    nng_close(sub);
    nng_close(c);
}

/* ---- Close with requests in flight; reopen. ---- */

typedef struct flight {
    fx *f;            /* fixture */
    int index;        /* client number */
    int sent;         /* requests sent */
    bool acked[1000]; /* acknowledged writes */
    int other;        /* replies other than 201 */
} flight;

static void *flight_main(void *arg)
{
    flight *fl = arg;
    nng_socket c = client_open(fl->f->url);
    answer *a = malloc(sizeof *a);

    /* Both ways bounded: once the service has closed, a REQ send with
     * nobody to take it would otherwise wait for ever. */
    nng_socket_set_ms(c, NNG_OPT_RECVTIMEO, 2000);
    nng_socket_set_ms(c, NNG_OPT_SENDTIMEO, 2000);
    for (int i = 0; i < 1000; i++) {
        char id[32], body[1024];
        sg_buf b;
        void *rbuf = NULL;
        size_t rlen = 0;

        snprintf(id, sizeof id, "f%d-%d", fl->index, i);
        worker_json(body, sizeof body, id, "idle");
        sg_buf_init(&b);
        encode("POST", "/v1/workers", fl->f->key, body, &b);
        if (nng_send(c, b.data, b.len, 0) != 0) {
            sg_buf_free(&b);
            break;
        }
        sg_buf_free(&b);
        fl->sent++;
        if (nng_recv(c, &rbuf, &rlen, NNG_FLAG_ALLOC) != 0) {
            break; /* the service closed before taking this one */
        }
        parse_answer(rbuf, rlen, a);
        nng_free(rbuf, rlen);
        if (a->status == 201) {
            fl->acked[i] = true;
        } else {
            fl->other++;
        }
    }
    nng_close(c);
    free(a);
    return NULL;
}

static void test_close_in_flight(void **state)
{
    enum { NFL = 12 };
    fx *f = *state;
    flight *fl = calloc(NFL, sizeof *fl);
    pthread_t th[NFL];
    int acked = 0;

    for (int i = 0; i < NFL; i++) {
        fl[i].f = f;
        fl[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, flight_main, &fl[i]), 0);
    }
    usleep(300 * 1000);
    /* Close while the clients keep sending: what was taken is answered
     * and committed; the rest waits in NNG until the clients give up. */
    sg_service_close(f->sv);
    f->sv = NULL;
    for (int i = 0; i < NFL; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(fl[i].other, 0);
    }
    fx_close_store(f);

    /* Everything acknowledged is there after reopening. */
    fx_open_store(f);
    assert_int_equal(sg_store_check(f->store, NULL, NULL), 0);
    for (int i = 0; i < NFL; i++) {
        for (int k = 0; k < 1000; k++) {
            char id[32];
            if (fl[i].acked[k]) {
                snprintf(id, sizeof id, "f%d-%d", i, k);
                assert_true(worker_exists(f->store, id));
                acked++;
            }
        }
    }
    assert_true(acked > 0);
    /* Nothing beyond what was sent exists, at most one per client
     * unacknowledged (taken, committed, reply lost to the close). */
    assert_true(count_workers(f->store) <= (size_t)acked + NFL);
    free(fl);
}

static void test_reopen(void **state)
{
    fx *f = *state;
    nng_socket c = client_open(f->url);
    char body[1024], url[64];
    answer a;

    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        worker_json(body, sizeof body, id, "idle");
        call(c, "POST", "/v1/workers", f->key, body, &a);
        assert_int_equal(a.status, 201);
    }
    nng_close(c);
    sg_service_close(f->sv);
    f->sv = NULL;
    fx_close_store(f);
    fx_open_store(f);
    snprintf(url, sizeof url, "inproc://sgtest-%d-%d", (int)getpid(),
             url_seq++);
    fx_start(f, url, NULL, 4);
    c = client_open(f->url);
    for (int i = 0; i < 20; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/workers/r%d", i);
        call(c, "GET", path, f->key, NULL, &a);
        assert_int_equal(a.status, 200);
    }
    nng_close(c);
    assert_int_equal(sg_store_check(f->store, NULL, NULL), 0);
}

/* A group commit that fails answers 503 to every request of the batch,
 * and none of them is in the store. */
static void test_commit_fault(void **state)
{
    fx *f = *state;
    nng_socket c = client_open(f->url);
    char body[1024];
    json_error_t je;
    json_t *j;
    answer a;

    worker_json(body, sizeof body, "x1", "idle");
    atomic_store(&sg__service_commit_faults, 1);
    call(c, "POST", "/v1/workers", f->key, body, &a);
    assert_int_equal(a.status, 503);
    j = json_loads(a.body, 0, &je);
    assert_non_null(j);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "code")),
        "unavailable");
    json_decref(j);
    assert_false(worker_exists(f->store, "x1"));
    assert_int_equal(atomic_load(&sg__service_commit_faults), 0);
    /* The next batch commits. */
    call(c, "POST", "/v1/workers", f->key, body, &a);
    assert_int_equal(a.status, 201);
    assert_true(worker_exists(f->store, "x1"));
    nng_close(c);
}

/* A close of the sockets that hangs (NNG 1.5.2 now and then) does not
 * hang sg_service_close: every acknowledged write is in the store, and
 * the store opens again for another service once the close has gone on
 * without it. */
static void test_close_hangs(void **state)
{
    fx *f = *state;
    nng_socket c = client_open(f->url);
    char body[1024], url[64];
    answer a;

    worker_json(body, sizeof body, "h1", "idle");
    call(c, "POST", "/v1/workers", f->key, body, &a);
    assert_int_equal(a.status, 201);
    atomic_store(&sg__service_close_stall, 1);
    sg_service_close(f->sv); /* returns although the sockets do not close */
    f->sv = NULL;
    assert_true(worker_exists(f->store, "h1"));
    atomic_store(&sg__service_close_stall, 0); /* the close goes on */
    nng_close(c);
    snprintf(url, sizeof url, "inproc://sgtest-%d-%d", (int)getpid(),
             url_seq++);
    fx_start(f, url, NULL, 4);
    c = client_open(f->url);
    call(c, "GET", "/v1/workers/h1", f->key, NULL, &a);
    assert_int_equal(a.status, 200);
    nng_close(c);
}

static void test_open_errors(void **state)
{
    fx *f = *state;
    sg_service *sv2 = NULL;
    sg_service_opts so = {0};

    /* The same inproc name twice is taken. */
    so.listen = f->url;
    assert_int_not_equal(sg_service_open(&sv2, f->store, f->api, &so), 0);
    assert_null(sv2);
    so.listen = "bogus://x";
    assert_int_equal(sg_service_open(&sv2, f->store, f->api, &so), SG_EINVAL);
    so.listen = "inproc://x";
    so.contexts = -1;
    assert_int_equal(sg_service_open(&sv2, f->store, f->api, &so), SG_EINVAL);
    sg_service_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pub_url),
        cmocka_unit_test_setup_teardown(test_get_post, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_failing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_doorbell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_hangs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
