/* tests/msg_test.c -- the gateway <-> matcher messages (songgang/msg.h):
 * round trips of requests, replies, events and the doorbell; every kind
 * of bad input with the field it must name; hostile headers that claim
 * more than the bytes hold; every truncation; and a random mutation loop
 * whose survivors must re-encode to themselves; the route table and its
 * path matcher (songgang/routes.h); the error body, the query rules and
 * the NNG error translation.  Inputs are copied to
 * exact-size heap buffers so that ASan catches any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>
#include <nng/nng.h>

#include "songgang/msg.h"
#include "songgang/routes.h"
#include "../proto/shared.h"

/* ---- Helpers: hand-built msgpack. ---- */

static int wr(void *data, const char *p, size_t n)
{
    sg_buf_append(data, p, n);
    return 0;
}

typedef struct mb {
    sg_buf b;          /* the bytes */
    msgpack_packer pk; /* writes into b */
} mb;

static void mb_init(mb *m)
{
    sg_buf_init(&m->b);
    msgpack_packer_init(&m->pk, &m->b, wr);
}

static void mb_str(mb *m, const char *s)
{
    msgpack_pack_str(&m->pk, strlen(s));
    msgpack_pack_str_body(&m->pk, s, strlen(s));
}

static void mb_kstr(mb *m, const char *k, const char *v)
{
    mb_str(m, k);
    mb_str(m, v);
}

static void mb_kint(mb *m, const char *k, int64_t v)
{
    mb_str(m, k);
    msgpack_pack_int64(&m->pk, v);
}

static void mb_raw(mb *m, const void *p, size_t n)
{
    sg_buf_append(&m->b, p, n);
}

/* dec_req decodes a heap copy of exactly n bytes. */
static int dec_req(const uint8_t *p, size_t n, sg_msg_req *out, sg_error *e)
{
    uint8_t *c = malloc(n ? n : 1);
    int rc;

    if (n > 0) {
        memcpy(c, p, n);
    }
    rc = sg_msg_req_decode(c, n, out, e);
    free(c);
    return rc;
}

static int dec_reply(const uint8_t *p, size_t n, sg_msg_reply *out, sg_error *e)
{
    uint8_t *c = malloc(n ? n : 1);
    int rc;

    if (n > 0) {
        memcpy(c, p, n);
    }
    rc = sg_msg_reply_decode(c, n, out, e);
    free(c);
    return rc;
}

static void sample_req(sg_msg_req *r, const uint8_t *body, size_t blen)
{
    memset(r, 0, sizeof *r);
    strcpy(r->method, "POST");
    strcpy(r->path, "/v1/workers/w1/matches");
    r->nq = 2;
    r->q[0].key = "limit";
    r->q[0].val = "20";
    r->q[1].key = "as_of";
    r->q[1].val = "2024-05-01";
    strcpy(r->cred, "sgk_0123abcd_secret");
    strcpy(r->host, "songgang.example:8080");
    r->ctype = SG_FMT_JSON;
    r->accept = SG_FMT_MSGPACK;
    r->last_event_id = 42;
    r->body = body;
    r->body_len = blen;
}

/* ---- Request. ---- */

static void test_fmt_mime(void **state)
{
    (void)state;
    assert_string_equal(sg_fmt_mime(SG_FMT_NONE), "");
    assert_string_equal(sg_fmt_mime(SG_FMT_JSON), "application/json");
    assert_string_equal(sg_fmt_mime(SG_FMT_MSGPACK), "application/msgpack");
    assert_string_equal(sg_fmt_mime(SG_FMT_NDJSON), "application/x-ndjson");
    assert_string_equal(sg_fmt_mime(SG_FMT_TEXT), "text/plain; charset=utf-8");
}

static void test_req_round_trip(void **state)
{
    static const uint8_t body[] = "{\"id\":\"w1\"}";
    sg_msg_req in, *out = malloc(sizeof *out);
    sg_buf b;
    sg_error e;

    (void)state;
    sample_req(&in, body, sizeof body - 1);
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    assert_int_equal(sg_msg_req_decode(b.data, b.len, out, &e), 0);
    assert_string_equal(out->method, "POST");
    assert_string_equal(out->path, in.path);
    assert_int_equal(out->nq, 2);
    assert_string_equal(sg_msg_req_get(out, "limit"), "20");
    assert_string_equal(sg_msg_req_get(out, "as_of"), "2024-05-01");
    assert_null(sg_msg_req_get(out, "token"));
    assert_string_equal(out->cred, in.cred);
    assert_string_equal(out->host, in.host);
    assert_int_equal(out->ctype, SG_FMT_JSON);
    assert_int_equal(out->accept, SG_FMT_MSGPACK);
    assert_int_equal(out->last_event_id, 42);
    assert_int_equal(out->body_len, sizeof body - 1);
    assert_memory_equal(out->body, body, sizeof body - 1);
    /* The body is borrowed from the input; the query is copied. */
    assert_true(out->body >= b.data && out->body < b.data + b.len);
    for (int i = 0; i < out->nq; i++) {
        assert_true(out->q[i].key >= out->qstore &&
                    out->q[i].key < out->qstore + sizeof out->qstore);
        assert_true(out->q[i].val >= out->qstore &&
                    out->q[i].val < out->qstore + sizeof out->qstore);
    }
    sg_buf_free(&b);
    free(out);
}

static void test_req_minimal(void **state)
{
    sg_msg_req in, *out = malloc(sizeof *out);
    sg_buf b;
    sg_error e;
    mb m;

    (void)state;
    memset(&in, 0, sizeof in);
    strcpy(in.method, "GET");
    strcpy(in.path, "/healthz");
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    assert_int_equal(sg_msg_req_decode(b.data, b.len, out, &e), 0);
    assert_string_equal(out->method, "GET");
    assert_int_equal(out->nq, 0);
    assert_string_equal(out->cred, "");
    assert_string_equal(out->host, "");
    assert_int_equal(out->body_len, 0);
    assert_int_equal(out->last_event_id, 0);
    sg_buf_free(&b);

    /* Only v, m and p: acc defaults to JSON. */
    mb_init(&m);
    msgpack_pack_map(&m.pk, 3);
    mb_kint(&m, "v", 1);
    mb_kstr(&m, "m", "SG");
    mb_kstr(&m, "p", "/events/poll");
    assert_int_equal(dec_req(m.b.data, m.b.len, out, &e), 0);
    assert_int_equal(out->accept, SG_FMT_JSON);
    assert_int_equal(out->ctype, SG_FMT_NONE);
    assert_string_equal(out->method, "SG");
    sg_buf_free(&m.b);
    free(out);
}

static void test_req_full_query(void **state)
{
    static char keys[SG_MSG_QUERY_MAX][16], vals[SG_MSG_QUERY_MAX][64];
    sg_msg_req in, *out = malloc(sizeof *out);
    sg_buf b;
    sg_error e;

    (void)state;
    memset(&in, 0, sizeof in);
    strcpy(in.method, "GET");
    strcpy(in.path, "/x");
    for (int i = 0; i < SG_MSG_QUERY_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        memset(vals[i], 'a' + i % 26, 60);
        vals[i][60] = '\0';
        in.q[i].key = keys[i];
        in.q[i].val = vals[i];
    }
    in.nq = SG_MSG_QUERY_MAX;
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    assert_int_equal(sg_msg_req_decode(b.data, b.len, out, &e), 0);
    assert_int_equal(out->nq, SG_MSG_QUERY_MAX);
    for (int i = 0; i < SG_MSG_QUERY_MAX; i++) {
        assert_string_equal(sg_msg_req_get(out, keys[i]), vals[i]);
    }
    sg_buf_free(&b);
    free(out);
}

/* One bad request: how it is built, the code and field it must give. */
typedef struct bad_case {
    const char *name;     /* what is wrong */
    void (*build)(mb *m); /* writes the message */
    int rc;               /* expected code */
    const char *field;    /* expected field */
} bad_case;

static void head3(mb *m, uint32_t n)
{
    msgpack_pack_map(&m->pk, n);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "/v1/jobs");
}

static void b_not_map(mb *m)
{
    msgpack_pack_array(&m->pk, 0);
}
static void b_version(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 2);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "/");
}
static void b_version_type(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kstr(m, "v", "1");
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "/");
}
static void b_no_method(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "v", 1);
    mb_kstr(m, "p", "/");
}
static void b_no_version(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "/");
}
static void b_method(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "PATCH");
    mb_kstr(m, "p", "/");
}
static void b_method_long(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GETTINGLONGER");
    mb_kstr(m, "p", "/");
}
static void b_path_rel(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "v1/jobs");
}
static void b_path_empty(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "");
}
static void b_path_long(mb *m)
{
    char p[SG_MSG_PATH_MAX + 2];

    memset(p, 'a', sizeof p - 1);
    p[0] = '/';
    p[sizeof p - 1] = '\0';
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", p);
}
static void b_path_ctl(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "/v1/\njobs");
}
static void b_path_utf8(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "v", 1);
    mb_kstr(m, "m", "GET");
    mb_kstr(m, "p", "/v1/\xc0\xafjobs");
}
static void b_unknown(mb *m)
{
    head3(m, 4);
    mb_kstr(m, "x", "y");
}
static void b_dup(mb *m)
{
    head3(m, 4);
    mb_kstr(m, "m", "GET");
}
static void b_key_int(mb *m)
{
    head3(m, 4);
    msgpack_pack_int(&m->pk, 1);
    msgpack_pack_int(&m->pk, 1);
}
static void b_trailing(mb *m)
{
    head3(m, 3);
    msgpack_pack_nil(&m->pk);
}
static void b_too_many_fields(mb *m)
{
    msgpack_pack_map(&m->pk, 11);
    for (int i = 0; i < 11; i++) {
        mb_kint(m, "v", 1);
    }
}
static void b_q_type(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_array(&m->pk, 0);
}
static void b_q_many(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, SG_MSG_QUERY_MAX + 1);
    for (int i = 0; i <= SG_MSG_QUERY_MAX; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        mb_kstr(m, k, "v");
    }
}
static void b_q_key_long(mb *m)
{
    char k[SG_MSG_QKEY_MAX + 2];

    memset(k, 'k', sizeof k - 1);
    k[sizeof k - 1] = '\0';
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    mb_kstr(m, k, "v");
}
static void b_q_val_long(mb *m)
{
    char v[SG_MSG_QVAL_MAX + 2];

    memset(v, 'v', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    mb_kstr(m, "limit", v);
}
static void b_q_dup(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 2);
    mb_kstr(m, "limit", "1");
    mb_kstr(m, "limit", "2");
}
static void b_q_empty_key(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    mb_kstr(m, "", "1");
}
static void b_q_nul(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    mb_str(m, "limit");
    msgpack_pack_str(&m->pk, 3);
    msgpack_pack_str_body(&m->pk, "1\0002", 3);
}
static void b_q_val_int(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    mb_kint(m, "limit", 5);
}
static void b_q_key_int(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    msgpack_pack_int(&m->pk, 5);
    mb_str(m, "x");
}
static void b_q_store(mb *m)
{
    char v[1001];

    memset(v, 'v', 1000);
    v[1000] = '\0';
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 6);
    for (int i = 0; i < 6; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        mb_kstr(m, k, v);
    }
}
static void b_cred_space(mb *m)
{
    head3(m, 4);
    mb_kstr(m, "cred", "Bearer x");
}
static void b_cred_long(mb *m)
{
    char c[SG_MSG_CRED_MAX + 2];

    memset(c, 'c', sizeof c - 1);
    c[sizeof c - 1] = '\0';
    head3(m, 4);
    mb_kstr(m, "cred", c);
}
static void b_host_long(mb *m)
{
    char h[300];

    memset(h, 'h', sizeof h - 1);
    h[sizeof h - 1] = '\0';
    head3(m, 4);
    mb_kstr(m, "host", h);
}
static void b_host_ctl(mb *m)
{
    head3(m, 4);
    mb_kstr(m, "host", "a\rb");
}
static void b_ct(mb *m)
{
    head3(m, 4);
    mb_kint(m, "ct", SG_FMT_TEXT);
}
static void b_ct_neg(mb *m)
{
    head3(m, 4);
    mb_kint(m, "ct", -1);
}
static void b_acc(mb *m)
{
    head3(m, 4);
    mb_kint(m, "acc", SG_FMT_NDJSON);
}
static void b_leid(mb *m)
{
    head3(m, 4);
    mb_kint(m, "leid", -5);
}
static void b_leid_big(mb *m)
{
    head3(m, 4);
    mb_str(m, "leid");
    msgpack_pack_uint64(&m->pk, UINT64_MAX);
}
static void b_body_str(mb *m)
{
    head3(m, 4);
    mb_kstr(m, "b", "{}");
}
static void b_ext(mb *m)
{
    static const uint8_t ext[] = {0xd4, 0x01, 0x00};

    head3(m, 4);
    mb_str(m, "leid");
    mb_raw(m, ext, sizeof ext);
}
static void b_c1(mb *m)
{
    static const uint8_t c1[] = {0xc1};

    head3(m, 4);
    mb_str(m, "ct");
    mb_raw(m, c1, 1);
}
/* Hostile headers: counts and lengths far beyond the bytes present. */
static void b_map32(mb *m)
{
    static const uint8_t h[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v'};

    mb_raw(m, h, sizeof h);
}
static void b_bin32(mb *m)
{
    static const uint8_t h[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};

    head3(m, 4);
    mb_str(m, "b");
    mb_raw(m, h, sizeof h);
}
static void b_str32_key(mb *m)
{
    static const uint8_t h[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'v'};

    msgpack_pack_map(&m->pk, 1);
    mb_raw(m, h, sizeof h);
}
static void b_q_map16(mb *m)
{
    static const uint8_t h[] = {0xde, 0xff, 0xff, 0xa1, 'k', 0xa1, 'v'};

    head3(m, 4);
    mb_str(m, "q");
    mb_raw(m, h, sizeof h);
}
static void b_q_nested(mb *m)
{
    head3(m, 4);
    mb_str(m, "q");
    msgpack_pack_map(&m->pk, 1);
    mb_str(m, "a");
    for (int i = 0; i < 100; i++) {
        msgpack_pack_array(&m->pk, 1);
    }
    msgpack_pack_nil(&m->pk);
}
static void b_empty(mb *m)
{
    (void)m;
}

static const bad_case bad_reqs[] = {
    {"not a map", b_not_map, SG_EINVAL, ""},
    {"version 2", b_version, SG_EINVAL, "v"},
    {"version as string", b_version_type, SG_EINVAL, "v"},
    {"no method", b_no_method, SG_EINVAL, "m"},
    {"no version", b_no_version, SG_EINVAL, "v"},
    {"unknown method", b_method, SG_EINVAL, "m"},
    {"long method", b_method_long, SG_EINVAL, "m"},
    {"relative path", b_path_rel, SG_EINVAL, "p"},
    {"empty path", b_path_empty, SG_EINVAL, "p"},
    {"long path", b_path_long, SG_ETOOBIG, "p"},
    {"control in path", b_path_ctl, SG_EINVAL, "p"},
    {"overlong UTF-8 in path", b_path_utf8, SG_EINVAL, "p"},
    {"unknown key", b_unknown, SG_EINVAL, "x"},
    {"duplicate key", b_dup, SG_EINVAL, "m"},
    {"integer key", b_key_int, SG_EINVAL, ""},
    {"trailing bytes", b_trailing, SG_EINVAL, ""},
    {"too many fields", b_too_many_fields, SG_EINVAL, ""},
    {"q not a map", b_q_type, SG_EINVAL, "q"},
    {"too many params", b_q_many, SG_ETOOBIG, "q"},
    {"long param name", b_q_key_long, SG_ETOOBIG, NULL},
    {"long param value", b_q_val_long, SG_ETOOBIG, "q.limit"},
    {"duplicate param", b_q_dup, SG_EINVAL, "q.limit"},
    {"empty param name", b_q_empty_key, SG_EINVAL, "q"},
    {"NUL in param", b_q_nul, SG_EINVAL, "q.limit"},
    {"integer param", b_q_val_int, SG_EINVAL, "q.limit"},
    {"integer param name", b_q_key_int, SG_EINVAL, "q"},
    {"params over qstore", b_q_store, SG_ETOOBIG, "q"},
    {"space in cred", b_cred_space, SG_EINVAL, "cred"},
    {"long cred", b_cred_long, SG_ETOOBIG, "cred"},
    {"long host", b_host_long, SG_ETOOBIG, "host"},
    {"control in host", b_host_ctl, SG_EINVAL, "host"},
    {"ct text", b_ct, SG_EINVAL, "ct"},
    {"ct negative", b_ct_neg, SG_EINVAL, "ct"},
    {"acc ndjson", b_acc, SG_EINVAL, "acc"},
    {"leid negative", b_leid, SG_EINVAL, "leid"},
    {"leid huge", b_leid_big, SG_EINVAL, "leid"},
    {"body as str", b_body_str, SG_EINVAL, "b"},
    {"ext type", b_ext, SG_EINVAL, "leid"},
    {"byte 0xc1", b_c1, SG_EINVAL, "ct"},
    {"map32 header", b_map32, SG_EINVAL, ""},
    {"bin32 header", b_bin32, SG_EINVAL, "b"},
    {"str32 key", b_str32_key, SG_EINVAL, ""},
    {"map16 query", b_q_map16, SG_EINVAL, "q"},
    {"nested param", b_q_nested, SG_EINVAL, "q.a"},
    {"empty input", b_empty, SG_EINVAL, ""},
};

static void test_req_bad(void **state)
{
    sg_msg_req *out = malloc(sizeof *out), *copy = malloc(sizeof *copy);

    (void)state;
    memset(out, 0xa5, sizeof *out);
    memcpy(copy, out, sizeof *out);
    for (size_t i = 0; i < sizeof bad_reqs / sizeof bad_reqs[0]; i++) {
        const bad_case *c = &bad_reqs[i];
        sg_error e;
        mb m;
        int rc;

        mb_init(&m);
        c->build(&m);
        memset(&e, 0, sizeof e);
        rc = dec_req(m.b.data, m.b.len, out, &e);
        if (rc != c->rc || (c->field && strcmp(e.field, c->field) != 0) ||
            e.reason[0] == '\0') {
            fail_msg("%s: rc %d field \"%s\" reason \"%s\"", c->name, rc,
                     e.field, e.reason);
        }
        /* Out-parameters are written only on success. */
        assert_memory_equal(out, copy, sizeof *out);
        sg_buf_free(&m.b);
    }
    free(out);
    free(copy);
}

static void test_req_too_big(void **state)
{
    size_t n = SG_MSG_BODY_MAX + (64u << 10) + 1;
    uint8_t *p = calloc(1, n);
    sg_msg_req *out = malloc(sizeof *out);
    sg_error e;

    (void)state;
    assert_int_equal(sg_msg_req_decode(p, n, out, &e), SG_ETOOBIG);
    assert_int_equal(sg_msg_req_decode(NULL, 0, out, &e), SG_EINVAL);
    free(p);
    free(out);
}

static void test_req_body_max(void **state)
{
    size_t n = SG_MSG_BODY_MAX;
    uint8_t *body = calloc(1, n + 1);
    sg_msg_req in, *out = malloc(sizeof *out);
    sg_buf b;
    sg_error e;

    (void)state;
    memset(&in, 0, sizeof in);
    strcpy(in.method, "POST");
    strcpy(in.path, "/v1/workers:import");
    in.ctype = SG_FMT_NDJSON;
    in.body = body;
    in.body_len = n;
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    assert_int_equal(sg_msg_req_decode(b.data, b.len, out, &e), 0);
    assert_int_equal(out->body_len, n);
    sg_buf_free(&b);
    in.body_len = n + 1;
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    assert_int_equal(sg_msg_req_decode(b.data, b.len, out, &e), SG_ETOOBIG);
    assert_string_equal(e.field, "b");
    sg_buf_free(&b);
    free(body);
    free(out);
}

/* Every proper prefix of a valid message is an error, never a crash. */
static void test_req_truncations(void **state)
{
    static const uint8_t body[] = "{\"a\":1}";
    sg_msg_req in, *out = malloc(sizeof *out);
    sg_buf b;
    sg_error e;

    (void)state;
    sample_req(&in, body, sizeof body - 1);
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    for (size_t n = 0; n < b.len; n++) {
        assert_int_not_equal(dec_req(b.data, n, out, &e), 0);
        assert_true(e.reason[0] != '\0');
    }
    assert_int_equal(dec_req(b.data, b.len, out, &e), 0);
    sg_buf_free(&b);
    free(out);
}

/* xorshift: reproducible randomness for the mutation loops. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void mutate(uint8_t *p, size_t n, uint64_t *seed)
{
    int k = 1 + (int)(rnd(seed) % 4);

    for (int j = 0; j < k; j++) {
        size_t at = rnd(seed) % n;
        switch (rnd(seed) % 3) {
        case 0:
            p[at] ^= (uint8_t)(1u << (rnd(seed) % 8));
            break;
        case 1:
            p[at] = (uint8_t)rnd(seed);
            break;
        default:
            p[at] =
                (uint8_t[]){0x00, 0x7f, 0x80, 0xc1, 0xdf, 0xff}[rnd(seed) % 6];
            break;
        }
    }
}

/* A mutated message either fails with a reason, or decodes to a request
 * that encodes and decodes again to the same thing. */
static void test_req_mutations(void **state)
{
    static const uint8_t body[] = "{\"a\":1}";
    sg_msg_req in, *out = malloc(sizeof *out), *again = malloc(sizeof *again);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    sg_buf b;
    int ok = 0;

    (void)state;
    sample_req(&in, body, sizeof body - 1);
    sg_buf_init(&b);
    sg_msg_req_encode(&in, &b);
    for (int iter = 0; iter < 50000; iter++) {
        uint8_t *p = malloc(b.len);
        size_t n = b.len - (rnd(&seed) % 4 == 0 ? rnd(&seed) % b.len : 0);
        sg_error e;

        memcpy(p, b.data, b.len);
        mutate(p, n, &seed);
        memset(&e, 0, sizeof e);
        if (sg_msg_req_decode(p, n, out, &e) == 0) {
            sg_buf b2;

            ok++;
            sg_buf_init(&b2);
            sg_msg_req_encode(out, &b2);
            assert_int_equal(sg_msg_req_decode(b2.data, b2.len, again, &e), 0);
            assert_string_equal(again->method, out->method);
            assert_string_equal(again->path, out->path);
            assert_int_equal(again->nq, out->nq);
            for (int i = 0; i < out->nq; i++) {
                assert_string_equal(again->q[i].key, out->q[i].key);
                assert_string_equal(again->q[i].val, out->q[i].val);
            }
            assert_string_equal(again->cred, out->cred);
            assert_string_equal(again->host, out->host);
            assert_int_equal(again->body_len, out->body_len);
            sg_buf_free(&b2);
        } else {
            assert_true(e.reason[0] != '\0');
        }
        free(p);
    }
    assert_true(ok > 0);
    sg_buf_free(&b);
    free(out);
    free(again);
}

/* ---- Reply. ---- */

/* has_bytes tells whether needle[0..k) occurs in hay[0..n). */
static bool has_bytes(const uint8_t *hay, size_t n, const char *needle,
                      size_t k)
{
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

static void test_reply_round_trip(void **state)
{
    static const uint8_t body[] = "{\"ok\":true}";
    sg_msg_reply in, out;
    sg_buf b;
    sg_error e;

    (void)state;
    memset(&in, 0, sizeof in);
    in.status = 201;
    in.ctype = SG_FMT_JSON;
    in.body = body;
    in.body_len = sizeof body - 1;
    sg_buf_init(&b);
    sg_msg_reply_encode(&in, &b);
    assert_int_equal(sg_msg_reply_decode(b.data, b.len, &out, &e), 0);
    assert_int_equal(out.status, 201);
    assert_int_equal(out.ctype, SG_FMT_JSON);
    assert_int_equal(out.body_len, sizeof body - 1);
    assert_memory_equal(out.body, body, sizeof body - 1);
    assert_int_equal(out.stream, SG_STREAM_NONE);
    assert_int_equal(out.seq, 0);
    assert_false(out.more);
    assert_int_equal(out.version, 0);
    assert_int_equal(out.cache_until_ms, 0);
    /* Left out when 0: the bytes of a reply without them are unchanged. */
    assert_false(has_bytes(b.data, b.len, "\xa3ver", 4));
    assert_false(has_bytes(b.data, b.len, "\xa2" "cu", 3));
    sg_buf_free(&b);

    /* The data version and the reuse bound, up to their largest values. */
    static const struct {
        uint64_t version;
        int64_t until;
    } vu[] = {
        {1, 1}, {0, 1764400000000}, {42, 0}, {(uint64_t)INT64_MAX, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof vu / sizeof vu[0]; i++) {
        in.version = vu[i].version;
        in.cache_until_ms = vu[i].until;
        sg_buf_init(&b);
        sg_msg_reply_encode(&in, &b);
        assert_int_equal(sg_msg_reply_decode(b.data, b.len, &out, &e), 0);
        assert_int_equal(out.version, vu[i].version);
        assert_int_equal(out.cache_until_ms, vu[i].until);
        assert_int_equal(out.status, 201);
        assert_memory_equal(out.body, body, sizeof body - 1);
        for (size_t n = 0; n < b.len; n++) {
            assert_int_not_equal(dec_reply(b.data, n, &out, &e), 0);
        }
        sg_buf_free(&b);
    }

    /* A stream reply with an empty body. */
    memset(&in, 0, sizeof in);
    in.status = 200;
    in.ctype = SG_FMT_MSGPACK;
    in.stream = SG_STREAM_REGION;
    strcpy(in.stream_key, "360425");
    in.seq = 77;
    in.more = true;
    sg_buf_init(&b);
    sg_msg_reply_encode(&in, &b);
    assert_int_equal(sg_msg_reply_decode(b.data, b.len, &out, &e), 0);
    assert_int_equal(out.stream, SG_STREAM_REGION);
    assert_string_equal(out.stream_key, "360425");
    assert_int_equal(out.seq, 77);
    assert_true(out.more);
    assert_int_equal(out.body_len, 0);
    for (size_t n = 0; n < b.len; n++) {
        assert_int_not_equal(dec_reply(b.data, n, &out, &e), 0);
    }
    sg_buf_free(&b);
}

static void r_no_status(mb *m)
{
    msgpack_pack_map(&m->pk, 1);
    mb_kint(m, "ct", 1);
}
static void r_status(mb *m)
{
    msgpack_pack_map(&m->pk, 1);
    mb_kint(m, "s", 99);
}
static void r_ct(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "ct", 5);
}
static void r_st_alone(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "st", 1);
}
static void r_sk_alone(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kstr(m, "sk", "w1");
}
static void r_more(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "more", 1);
}
static void r_unknown(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "zz", 1);
}
static void r_dup(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "s", 200);
}
static void r_ver_str(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kstr(m, "ver", "7");
}
static void r_ver_negative(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "ver", -1);
}
static void r_ver_huge(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_str(m, "ver");
    msgpack_pack_uint64(&m->pk, UINT64_MAX);
}
static void r_ver_float(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_str(m, "ver");
    msgpack_pack_double(&m->pk, 7.0);
}
static void r_cu_negative(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_kint(m, "cu", -5);
}
static void r_cu_bool(mb *m)
{
    msgpack_pack_map(&m->pk, 2);
    mb_kint(m, "s", 200);
    mb_str(m, "cu");
    msgpack_pack_true(&m->pk);
}
static void r_cu_dup(mb *m)
{
    msgpack_pack_map(&m->pk, 3);
    mb_kint(m, "s", 200);
    mb_kint(m, "cu", 1);
    mb_kint(m, "cu", 2);
}
static void r_trailing(mb *m)
{
    msgpack_pack_map(&m->pk, 1);
    mb_kint(m, "s", 200);
    msgpack_pack_int(&m->pk, 0);
}

static const bad_case bad_replies[] = {
    {"no status", r_no_status, SG_EINVAL, "s"},
    {"status 99", r_status, SG_EINVAL, "s"},
    {"ct 5", r_ct, SG_EINVAL, "ct"},
    {"st without sk", r_st_alone, SG_EINVAL, "sk"},
    {"sk without st", r_sk_alone, SG_EINVAL, "st"},
    {"more not bool", r_more, SG_EINVAL, "more"},
    {"unknown key", r_unknown, SG_EINVAL, "zz"},
    {"duplicate key", r_dup, SG_EINVAL, "s"},
    {"ver a string", r_ver_str, SG_EINVAL, "ver"},
    {"ver negative", r_ver_negative, SG_EINVAL, "ver"},
    {"ver above INT64_MAX", r_ver_huge, SG_EINVAL, "ver"},
    {"ver a float", r_ver_float, SG_EINVAL, "ver"},
    {"cu negative", r_cu_negative, SG_EINVAL, "cu"},
    {"cu a boolean", r_cu_bool, SG_EINVAL, "cu"},
    {"cu twice", r_cu_dup, SG_EINVAL, "cu"},
    {"trailing", r_trailing, SG_EINVAL, ""},
    {"hostile map32", b_map32, SG_EINVAL, ""},
    {"not a map", b_not_map, SG_EINVAL, ""},
};

static void test_reply_bad(void **state)
{
    sg_msg_reply out, copy;

    (void)state;
    memset(&out, 0x5a, sizeof out);
    copy = out;
    for (size_t i = 0; i < sizeof bad_replies / sizeof bad_replies[0]; i++) {
        const bad_case *c = &bad_replies[i];
        sg_error e;
        mb m;
        int rc;

        mb_init(&m);
        c->build(&m);
        memset(&e, 0, sizeof e);
        rc = dec_reply(m.b.data, m.b.len, &out, &e);
        if (rc != c->rc || (c->field && strcmp(e.field, c->field) != 0)) {
            fail_msg("%s: rc %d field \"%s\" reason \"%s\"", c->name, rc,
                     e.field, e.reason);
        }
        assert_memory_equal(&out, &copy, sizeof out);
        sg_buf_free(&m.b);
    }
}

static void test_reply_mutations(void **state)
{
    static const uint8_t body[] = "[1,2,3]";
    sg_msg_reply in, out;
    uint64_t seed = 12345;
    sg_buf b;

    (void)state;
    memset(&in, 0, sizeof in);
    in.status = 200;
    in.ctype = SG_FMT_MSGPACK;
    in.body = body;
    in.body_len = sizeof body - 1;
    in.stream = SG_STREAM_WORKER;
    strcpy(in.stream_key, "w-17");
    in.seq = 9;
    in.version = 123456;
    in.cache_until_ms = 1764400000000;
    sg_buf_init(&b);
    sg_msg_reply_encode(&in, &b);
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t *p = malloc(b.len);
        sg_error e;

        memcpy(p, b.data, b.len);
        mutate(p, b.len, &seed);
        if (sg_msg_reply_decode(p, b.len, &out, &e) == 0) {
            assert_true(out.status >= 100 && out.status <= 599);
            assert_true(out.body_len <= b.len);
        }
        free(p);
    }
    sg_buf_free(&b);
}

/* ---- Events and doorbell. ---- */

typedef struct seen {
    int n;            /* events delivered */
    uint64_t seq[8];  /* their seqs */
    char data[8][64]; /* their data */
    int stop_at;      /* return 1 at this count (0 = never) */
} seen;

static int collect(void *arg, const sg_event *ev)
{
    seen *s = arg;

    s->seq[s->n] = ev->seq;
    snprintf(s->data[s->n], sizeof s->data[0], "%.*s", (int)ev->data_len,
             ev->data);
    s->n++;
    return s->n == s->stop_at ? 7 : 0;
}

static void sample_events(sg_buf *b, int n)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, b, wr);
    msgpack_pack_array(&pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        sg_event ev;
        char data[32];

        memset(&ev, 0, sizeof ev);
        ev.seq = 10 + (uint64_t)i;
        strcpy(ev.type, i % 2 ? "removed" : "match");
        snprintf(ev.worker, sizeof ev.worker, "w%d", i);
        strcpy(ev.region, "360425100001");
        snprintf(data, sizeof data, "{\"job\":\"J%d\"}", i);
        ev.data = data;
        ev.data_len = strlen(data);
        sg_event_encode(&ev, b);
    }
}

static void test_events(void **state)
{
    seen s;
    sg_buf b;
    sg_error e;

    (void)state;
    sg_buf_init(&b);
    sample_events(&b, 3);
    memset(&s, 0, sizeof s);
    assert_int_equal(sg_events_decode(b.data, b.len, collect, &s, &e), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seq[0], 10);
    assert_int_equal(s.seq[2], 12);
    assert_string_equal(s.data[1], "{\"job\":\"J1\"}");
    /* A callback's non-zero return stops the walk and is returned. */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    assert_int_equal(sg_events_decode(b.data, b.len, collect, &s, &e), 7);
    assert_int_equal(s.n, 2);
    /* No callback is made for a message that turns out bad. */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b.data, n);
        memset(&s, 0, sizeof s);
        assert_int_not_equal(sg_events_decode(p, n, collect, &s, &e), 0);
        assert_int_equal(s.n, 0);
        free(p);
    }
    sg_buf_free(&b);

    /* An empty array is fine. */
    sg_buf_init(&b);
    sample_events(&b, 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(sg_events_decode(b.data, b.len, collect, &s, &e), 0);
    assert_int_equal(s.n, 0);
    sg_buf_free(&b);
}

static void ev_map(mb *m, uint64_t seq, const char *type, const char *worker,
                   const char *region, const char *data)
{
    msgpack_pack_map(&m->pk, 5);
    mb_kint(m, "seq", (int64_t)seq);
    mb_kstr(m, "type", type);
    mb_kstr(m, "worker", worker);
    mb_kstr(m, "region", region);
    mb_kstr(m, "data", data);
}

static void test_events_bad(void **state)
{
    static const struct {
        uint64_t seq;
        const char *type, *worker, *region, *data, *field;
    } cases[] = {
        {0, "match", "w1", "360425100001", "{}", "[1].seq"},
        {5, "match", "w1", "360425100001", "{}", "[1].seq"}, /* not after 5 */
        {9, "hello", "w1", "360425100001", "{}", "[1].type"},
        {9, "match", "w 1", "360425100001", "{}", "[1].worker"},
        {9, "match", "w1", "36042510000", "{}", "[1].region"},
        {9, "match", "w1", "36042510000x", "{}", "[1].region"},
        {9, "match", "w1", "360425100001", "", "[1].data"},
        {9, "match", "w1", "360425100001", "{\n}", "[1].data"},
    };
    seen s;
    sg_error e;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mb m;

        mb_init(&m);
        msgpack_pack_array(&m.pk, 2);
        ev_map(&m, 5, "match", "w0", "360425100001", "{}");
        ev_map(&m, cases[i].seq, cases[i].type, cases[i].worker,
               cases[i].region, cases[i].data);
        memset(&s, 0, sizeof s);
        memset(&e, 0, sizeof e);
        assert_int_equal(sg_events_decode(m.b.data, m.b.len, collect, &s, &e),
                         SG_EINVAL);
        assert_string_equal(e.field, cases[i].field);
        assert_int_equal(s.n, 0);
        sg_buf_free(&m.b);
    }
    /* Missing field, unknown field, not an array, trailing bytes. */
    {
        mb m;

        mb_init(&m);
        msgpack_pack_array(&m.pk, 1);
        msgpack_pack_map(&m.pk, 1);
        mb_kint(&m, "seq", 1);
        assert_int_equal(sg_events_decode(m.b.data, m.b.len, collect, &s, &e),
                         SG_EINVAL);
        assert_string_equal(e.field, "[0].type");
        sg_buf_free(&m.b);

        mb_init(&m);
        msgpack_pack_array(&m.pk, 1);
        msgpack_pack_map(&m.pk, 1);
        mb_kint(&m, "sequence", 1);
        assert_int_equal(sg_events_decode(m.b.data, m.b.len, collect, &s, &e),
                         SG_EINVAL);
        assert_string_equal(e.field, "[0].sequence");
        sg_buf_free(&m.b);

        mb_init(&m);
        msgpack_pack_map(&m.pk, 0);
        assert_int_equal(sg_events_decode(m.b.data, m.b.len, collect, &s, &e),
                         SG_EINVAL);
        sg_buf_free(&m.b);

        mb_init(&m);
        msgpack_pack_array(&m.pk, 0);
        msgpack_pack_nil(&m.pk);
        assert_int_equal(sg_events_decode(m.b.data, m.b.len, collect, &s, &e),
                         SG_EINVAL);
        sg_buf_free(&m.b);
    }
}

static int count_cb(void *arg, const sg_event *ev)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

static void test_events_mutations(void **state)
{
    uint64_t seed = 777;
    sg_buf b;

    (void)state;
    sg_buf_init(&b);
    sample_events(&b, 4);
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t *p = malloc(b.len);
        int n = 0;
        sg_error e;

        memcpy(p, b.data, b.len);
        mutate(p, b.len, &seed);
        if (sg_events_decode(p, b.len, count_cb, &n, &e) != 0) {
            assert_int_equal(n, 0);
        }
        free(p);
    }
    sg_buf_free(&b);
}

static void test_doorbell(void **state)
{
    uint8_t d[8];
    uint64_t seq = 0;

    (void)state;
    sg_doorbell_encode(0x0102030405060708u, d);
    assert_int_equal(d[0], 1);
    assert_int_equal(d[7], 8);
    assert_int_equal(sg_doorbell_decode(d, 8, &seq), 0);
    assert_int_equal(seq, 0x0102030405060708u);
    seq = 5;
    assert_int_equal(sg_doorbell_decode(d, 7, &seq), SG_EINVAL);
    assert_int_equal(sg_doorbell_decode(d, 9, &seq), SG_EINVAL);
    assert_int_equal(sg_doorbell_decode(NULL, 8, &seq), SG_EINVAL);
    assert_int_equal(seq, 5);
}

/* ---- The route table (songgang/routes.h). ---- */

#define ALL (SG_ROUTE_API | SG_ROUTE_GATEWAY | SG_ROUTE_INTERNAL)

/* match is sg_route_match on a NUL-terminated path. */
static int match(const char *method, const char *path, unsigned where,
                 int *any, char *arg, size_t cap)
{
    return sg_route_match(method, path, strlen(path), where, any, arg, cap);
}

static void test_routes_every_pattern(void **state)
{
    static const struct {
        const char *method, *path, *arg;
        int id;
        unsigned flags;
    } cases[] = {
        {"GET", "/v1/jobs", "", SG_ROUTE_JOBS_LIST, SG_ROUTE_CACHE},
        {"POST", "/v1/jobs", "", SG_ROUTE_JOB_POST, 0},
        {"GET", "/v1/jobs/J1", "J1", SG_ROUTE_JOB_GET, SG_ROUTE_CACHE},
        {"PUT", "/v1/jobs/J1", "J1", SG_ROUTE_JOB_PUT, 0},
        {"DELETE", "/v1/jobs/J-x_2", "J-x_2", SG_ROUTE_JOB_DELETE, 0},
        {"GET", "/v1/jobs/J1/candidates", "J1", SG_ROUTE_JOB_CANDIDATES,
         SG_ROUTE_CACHE},
        {"POST", "/v1/workers", "", SG_ROUTE_WORKER_POST, 0},
        {"POST", "/v1/workers:import", "", SG_ROUTE_IMPORT, SG_ROUTE_BULK},
        {"GET", "/v1/workers/W1", "W1", SG_ROUTE_WORKER_GET, SG_ROUTE_CACHE},
        {"PUT", "/v1/workers/W1", "W1", SG_ROUTE_WORKER_PUT, 0},
        {"GET", "/v1/workers/W1/matches", "W1", SG_ROUTE_WORKER_MATCHES,
         SG_ROUTE_CACHE},
        {"POST", "/v1/workers/W1/token", "W1", SG_ROUTE_WORKER_TOKEN, 0},
        {"GET", "/v1/regions/360425108/jobs", "360425108",
         SG_ROUTE_REGION_JOBS, SG_ROUTE_CACHE | SG_ROUTE_LONG},
        {"GET", "/v1/me", "", SG_ROUTE_ME, SG_ROUTE_CACHE},
        {"GET", "/v1/me/matches", "", SG_ROUTE_ME_MATCHES, SG_ROUTE_CACHE},
        {"GET", "/v1/events", "", SG_ROUTE_EVENTS, SG_ROUTE_STREAM},
        {"GET", "/healthz", "", SG_ROUTE_HEALTHZ, 0},
        {"GET", "/metrics", "", SG_ROUTE_METRICS, 0},
        {"SG", "/events/poll", "", SG_ROUTE_POLL, 0},
        {"SG", "/stats", "", SG_ROUTE_STATS, 0},
        {"SG", "/version", "", SG_ROUTE_VERSION, 0},
    };
    const unsigned kinds = SG_ROUTE_CACHE | SG_ROUTE_LONG | SG_ROUTE_BULK |
                           SG_ROUTE_STREAM;
    bool seen[SG_ROUTE__COUNT] = {false};

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char arg[64] = "junk";
        int any = -1;
        int id = match(cases[i].method, cases[i].path, ALL, &any, arg,
                       sizeof arg);
        const sg_route *rt = sg_route_get(id);

        assert_int_equal(id, cases[i].id);
        assert_string_equal(arg, cases[i].arg);
        assert_non_null(rt);
        assert_string_equal(rt->method, cases[i].method);
        assert_int_equal(rt->flags & kinds, cases[i].flags);
        assert_non_null(rt->name);
        /* The label is the first route of the same pattern. */
        assert_true(any >= 1 && any <= id);
        assert_string_equal(sg_route_get(any)->pattern, rt->pattern);
        seen[id] = true;
    }
    /* Every route in the table was reached once, and each is in exactly
     * one of the three places. */
    for (int id = 1; id < SG_ROUTE__COUNT; id++) {
        unsigned w = sg_route_get(id)->flags &
                     (SG_ROUTE_API | SG_ROUTE_GATEWAY | SG_ROUTE_INTERNAL);
        assert_true(seen[id]);
        assert_true(w == SG_ROUTE_API || w == SG_ROUTE_GATEWAY ||
                    w == SG_ROUTE_INTERNAL);
    }
    assert_null(sg_route_get(SG_ROUTE_NONE));
    assert_null(sg_route_get(SG_ROUTE__COUNT));
    assert_null(sg_route_get(-1));
    assert_string_equal(sg_route_get(SG_ROUTE_REGION_JOBS)->pattern,
                        "/v1/regions/{code}/jobs");
    assert_string_equal(sg_route_get(SG_ROUTE_JOB_CANDIDATES)->pattern,
                        "/v1/jobs/{id}/candidates");
}

static void test_routes_unknown(void **state)
{
    static const char *const paths[] = {
        "", "/", "/v1", "/v1/", "/v1/jobs/", "/v1/jobs//candidates",
        "/v1/jobs/J1/", "/v1/jobs/J1/candidates/x", "/v1/jobs/J1/x",
        "/v1/workers:import/x", "/v1/workersimport", "/v1/workers/W1/x",
        "/v1/regions/36/x", "/v1/regions//jobs", "/v1/me/", "/v1/me/x",
        "/v1/events/1", "/v2/jobs", "v1/jobs", "/V1/jobs", "/healthz/",
        "/metricsx", "/stats/", "//v1/jobs",
    };

    (void)state;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char arg[16] = "keep";
        int any = -1;

        assert_int_equal(match("GET", paths[i], ALL, &any, arg, sizeof arg),
                         SG_ROUTE_NONE);
        assert_int_equal(any, SG_ROUTE_NONE);
        assert_string_equal(arg, "keep"); /* untouched on no match */
    }
    /* Only the bytes given count: a longer buffer is not read on. */
    assert_int_equal(sg_route_match("GET", "/v1/jobs/J1", 8, ALL, NULL,
                                    NULL, 0),
                     SG_ROUTE_JOBS_LIST);
}

static void test_routes_405_and_where(void **state)
{
    char arg[16];
    int any = -1;

    (void)state;
    /* A known path with another method: none, but any names the path. */
    assert_int_equal(match("PATCH", "/v1/jobs/J1", ALL, &any, arg, 16),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_JOB_GET);
    assert_int_equal(match("POST", "/v1/me", ALL, &any, NULL, 0),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_ME);
    assert_int_equal(match(NULL, "/v1/workers/W1/token", ALL, &any, NULL, 0),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_WORKER_TOKEN);
    /* The API sees internal routes (HTTP GET /stats is a 405 there) but
     * not the gateway's own (POST /healthz reaching it is a 404). */
    assert_int_equal(match("GET", "/stats", SG_ROUTE_API | SG_ROUTE_INTERNAL,
                           &any, NULL, 0),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_STATS);
    assert_int_equal(match("SG", "/v1/jobs", SG_ROUTE_API | SG_ROUTE_INTERNAL,
                           &any, NULL, 0),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_JOBS_LIST);
    assert_int_equal(match("GET", "/healthz",
                           SG_ROUTE_API | SG_ROUTE_INTERNAL, &any, NULL, 0),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_NONE);
    /* The gateway labels its own and the API's, not the internal ones. */
    assert_int_equal(match("GET", "/metrics", SG_ROUTE_API | SG_ROUTE_GATEWAY,
                           &any, NULL, 0),
                     SG_ROUTE_METRICS);
    assert_int_equal(match("GET", "/events/poll",
                           SG_ROUTE_API | SG_ROUTE_GATEWAY, &any, NULL, 0),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_NONE);
}

static void test_routes_arg_cap(void **state)
{
    char arg[4] = "abc";
    int any = -1;

    (void)state;
    /* A segment that does not fit arg matches nothing (404, not a cut
     * id); with no arg, any length goes. */
    assert_int_equal(match("GET", "/v1/jobs/J123", ALL, &any, arg, 4),
                     SG_ROUTE_NONE);
    assert_int_equal(any, SG_ROUTE_NONE);
    assert_string_equal(arg, "abc");
    assert_int_equal(match("GET", "/v1/jobs/J12", ALL, &any, arg, 4),
                     SG_ROUTE_JOB_GET);
    assert_string_equal(arg, "J12");
    assert_int_equal(match("GET", "/v1/jobs/J123456789", ALL, &any, NULL, 0),
                     SG_ROUTE_JOB_GET);
}

/* ---- Error bodies, query rules, NNG codes. ---- */

static void test_error_body_json(void **state)
{
    static const char *const texts[] = {
        "", "no such job", "quote \" and \\ back", "tab\tnew\nline\r\b\f",
        "\x01\x1f ctl", "同县 · 缝纫工", "slash / del \x7f",
    };

    (void)state;
    /* Byte for byte what jansson writes (the API's bodies before). */
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        sg_buf b;
        json_t *o = json_pack("{s:{s:s,s:s,s:s}}", "error", "code",
                              "not_found", "message", texts[i], "field",
                              "skills[1]");
        char *want = json_dumps(o, JSON_COMPACT);

        sg_buf_init(&b);
        assert_int_equal(sg_error_body(&b, SG_FMT_JSON, "not_found",
                                       texts[i], "skills[1]"),
                         SG_FMT_JSON);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
        free(want);
        json_decref(o);
        sg_buf_free(&b);
    }
    /* Bytes that are not UTF-8 become '?', so the body stays JSON. */
    {
        sg_buf b;
        json_error_t je;
        json_t *o;

        sg_buf_init(&b);
        sg_error_body(&b, SG_FMT_NONE, "bad_request", "a\xff\xc3" "(b\xe4\xb8",
                      NULL);
        o = json_loadb((const char *)b.data, b.len, 0, &je);
        assert_non_null(o);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(o, "error"),
                                              "message")),
            "a?" "?(b?" "?");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(o, "error"),
                                              "field")),
            "");
        json_decref(o);
        sg_buf_free(&b);
    }
}

static void test_error_body_msgpack(void **state)
{
    char longmsg[300];
    const char *msgs[] = {"short", longmsg};

    (void)state;
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    for (size_t i = 0; i < 2; i++) {
        sg_buf b;
        msgpack_unpacked u;
        size_t off = 0;
        msgpack_object err;

        sg_buf_init(&b);
        assert_int_equal(sg_error_body(&b, SG_FMT_MSGPACK, "conflict",
                                       msgs[i], "id"),
                         SG_FMT_MSGPACK);
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, (const char *)b.data, b.len,
                                             &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(off, b.len);
        assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
        assert_int_equal(u.data.via.map.size, 1);
        assert_memory_equal(u.data.via.map.ptr[0].key.via.str.ptr, "error",
                            5);
        err = u.data.via.map.ptr[0].val;
        assert_int_equal(err.type, MSGPACK_OBJECT_MAP);
        assert_int_equal(err.via.map.size, 3);
        assert_int_equal(err.via.map.ptr[0].val.via.str.size, 8);
        assert_memory_equal(err.via.map.ptr[0].val.via.str.ptr, "conflict", 8);
        assert_int_equal(err.via.map.ptr[1].val.via.str.size, strlen(msgs[i]));
        assert_memory_equal(err.via.map.ptr[1].val.via.str.ptr, msgs[i],
                            strlen(msgs[i]));
        assert_memory_equal(err.via.map.ptr[2].key.via.str.ptr, "field", 5);
        msgpack_unpacked_destroy(&u);
        /* Byte for byte what msgpack-c packs (the service's bodies and,
         * through sg_json_to_msgpack, the API's before). */
        {
            mb want;
            mb_init(&want);
            msgpack_pack_map(&want.pk, 1);
            mb_str(&want, "error");
            msgpack_pack_map(&want.pk, 3);
            mb_kstr(&want, "code", "conflict");
            mb_kstr(&want, "message", msgs[i]);
            mb_kstr(&want, "field", "id");
            assert_int_equal(b.len, want.b.len);
            assert_memory_equal(b.data, want.b.data, b.len);
            sg_buf_free(&want.b);
        }
        sg_buf_free(&b);
    }
}

static void test_status_codes(void **state)
{
    (void)state;
    assert_string_equal(sg_status_code(400), "bad_request");
    assert_string_equal(sg_status_code(415), "bad_request");
    assert_string_equal(sg_status_code(401), "unauthorized");
    assert_string_equal(sg_status_code(403), "forbidden");
    assert_string_equal(sg_status_code(404), "not_found");
    assert_string_equal(sg_status_code(405), "method_not_allowed");
    assert_string_equal(sg_status_code(408), "request_timeout");
    assert_string_equal(sg_status_code(409), "conflict");
    assert_string_equal(sg_status_code(413), "payload_too_large");
    assert_string_equal(sg_status_code(429), "rate_limited");
    assert_string_equal(sg_status_code(431), "headers_too_large");
    assert_string_equal(sg_status_code(503), "unavailable");
    assert_string_equal(sg_status_code(500), "internal");
}

/* req_with builds a request whose only parameter is key=val. */
static void req_with(sg_msg_req *r, const char *key, const char *val)
{
    memset(r, 0, sizeof *r);
    r->nq = 1;
    r->q[0].key = key;
    r->q[0].val = val;
}

static void test_query_rules(void **state)
{
    static const char *const bad_long[] = {"", "-1", "+5", "0x10", "5 ",
                                           "101", "0", "1e3",
                                           "9999999999999999999"};
    sg_msg_req r;
    sg_error e;
    long l = 7;
    uint64_t q = 7;
    int32_t d = 7;

    (void)state;
    req_with(&r, "other", "1");
    assert_int_equal(sg_msg_req_long(&r, "limit", 1, 100, 20, &l, &e), 0);
    assert_int_equal(l, 20);
    req_with(&r, "limit", "100");
    assert_int_equal(sg_msg_req_long(&r, "limit", 1, 100, 20, &l, &e), 0);
    assert_int_equal(l, 100);
    for (size_t i = 0; i < sizeof bad_long / sizeof bad_long[0]; i++) {
        l = 7;
        req_with(&r, "limit", bad_long[i]);
        assert_int_equal(sg_msg_req_long(&r, "limit", 1, 100, 20, &l, &e),
                         SG_EINVAL);
        assert_int_equal(l, 7);
        assert_string_equal(e.field, "limit");
        assert_string_equal(e.reason, "must be an integer from 1 to 100");
    }
    req_with(&r, "after", "18446744073709551");
    assert_int_equal(sg_msg_req_seq(&r, "after", 0, &q, &e), 0);
    assert_int_equal(q, 18446744073709551u);
    q = 7;
    req_with(&r, "after", "12a");
    assert_int_equal(sg_msg_req_seq(&r, "after", 0, &q, &e), SG_EINVAL);
    assert_int_equal(q, 7);
    assert_string_equal(e.field, "after");
    assert_string_equal(e.reason, "must be a sequence number");
    req_with(&r, "as_of", "2026-11-30");
    assert_int_equal(sg_msg_req_date(&r, "as_of", 0, &d, &e), 0);
    assert_int_not_equal(d, 7);
    d = 7;
    req_with(&r, "as_of", "2026-02-30");
    assert_int_equal(sg_msg_req_date(&r, "as_of", 0, &d, &e), SG_EINVAL);
    assert_int_equal(d, 7);
    assert_string_equal(e.field, "as_of");
    assert_string_equal(e.reason, "must be a date YYYY-MM-DD");
    req_with(&r, "x", "y");
    assert_int_equal(sg_msg_req_date(&r, "as_of", 42, &d, &e), 0);
    assert_int_equal(d, 42);
}

static void test_err_nng(void **state)
{
    (void)state;
    assert_int_equal(sg__err_nng(0), 0);
    assert_int_equal(sg__err_nng(NNG_EINVAL), SG_EINVAL);
    assert_int_equal(sg__err_nng(NNG_EADDRINVAL), SG_EINVAL);
    assert_int_equal(sg__err_nng(NNG_ENOTSUP), SG_EINVAL);
    assert_int_equal(sg__err_nng(NNG_EADDRINUSE), SG_EBUSY);
    assert_int_equal(sg__err_nng(NNG_EBUSY), SG_EBUSY);
    assert_int_equal(sg__err_nng(NNG_ETIMEDOUT), SG_EBUSY);
    assert_int_equal(sg__err_nng(NNG_ECONNREFUSED), SG_EBUSY);
    assert_int_equal(sg__err_nng(NNG_ECLOSED), SG_EIO);
    assert_int_equal(sg__err_nng(NNG_ENOMEM), SG_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_mime),
        cmocka_unit_test(test_req_round_trip),
        cmocka_unit_test(test_req_minimal),
        cmocka_unit_test(test_req_full_query),
        cmocka_unit_test(test_req_bad),
        cmocka_unit_test(test_req_too_big),
        cmocka_unit_test(test_req_body_max),
        cmocka_unit_test(test_req_truncations),
        cmocka_unit_test(test_req_mutations),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_reply_bad),
        cmocka_unit_test(test_reply_mutations),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_events_bad),
        cmocka_unit_test(test_events_mutations),
        cmocka_unit_test(test_doorbell),
        cmocka_unit_test(test_routes_every_pattern),
        cmocka_unit_test(test_routes_unknown),
        cmocka_unit_test(test_routes_405_and_where),
        cmocka_unit_test(test_routes_arg_cap),
        cmocka_unit_test(test_error_body_json),
        cmocka_unit_test(test_error_body_msgpack),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_query_rules),
        cmocka_unit_test(test_err_nng),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
