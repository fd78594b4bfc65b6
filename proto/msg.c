/* proto/msg.c -- the gateway <-> matcher messages (docs/protocol.md):
 * request and reply envelopes, events and the doorbell.
 * Encoders use msgpack-c's packer into an sg_buf.  Decoders read untrusted
 * bytes with the strict pull reader of proto/msgpack.c (internal.h): every
 * size is bounded before use, unknown and duplicate keys are refused,
 * trailing bytes are refused, and each error names its field.  Decoding
 * fills a local struct that is copied out only when the whole message is
 * valid.  No I/O and no state: any thread. */
#include <assert.h>
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "songgang/msg.h"

#include "internal.h"

/* The whole of a request: its body plus room for the envelope. */
#define REQ_MAX ((size_t)SG_MSG_BODY_MAX + (64u << 10))

/* ---- Small helpers. ---- */

const char *sg_fmt_mime(sg_fmt f)
{
    switch (f) {
    case SG_FMT_JSON:
        return "application/json";
    case SG_FMT_MSGPACK:
        return "application/msgpack";
    case SG_FMT_NDJSON:
        return "application/x-ndjson";
    case SG_FMT_TEXT:
        return "text/plain; charset=utf-8";
    case SG_FMT_NONE:
    default:
        return "";
    }
}

const char *sg_msg_req_get(const sg_msg_req *r, const char *key)
{
    for (int i = 0; i < r->nq; i++) {
        if (strcmp(r->q[i].key, key) == 0) {
            return r->q[i].val;
        }
    }
    return NULL;
}

static int buf_write(void *data, const char *p, size_t n)
{
    sg_buf_append(data, p, n);
    return 0;
}

static void pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    pack_strn(pk, s, strlen(s));
}

static void pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    if (n > 0) {
        msgpack_pack_bin_body(pk, p, n);
    }
}

/* ---- Decoding helpers. ---- */

/* A key name with its length. */
typedef struct keyname {
    const char *s; /* the name */
    uint8_t n;     /* strlen(s) */
} keyname;
#define K(name)                                                                \
    {                                                                          \
        name, sizeof(name) - 1                                                 \
    }

static int find_key(const keyname *keys, int n, const sg__mp_item *k)
{
    for (int i = 0; i < n; i++) {
        if (keys[i].n == k->n && memcmp(keys[i].s, k->s, k->n) == 0) {
            return i;
        }
    }
    return -1;
}

/* field_name writes prefix + name (made printable) into out[cap]. */
static void field_name(char *out, size_t cap, const char *prefix, const char *s,
                       size_t n)
{
    char q[48];

    sg__quote(s, n, q, sizeof q);
    snprintf(out, cap, "%s%s", prefix, q);
}

/* read_key reads one map key: a string naming a known field, not seen
 * before.  prefix is put before the key's name in errors ("" or "[3].").
 * Sets *idx to the key's index in keys. */
static int read_key(sg__mp_reader *r, const keyname *keys, int nkeys,
                    uint32_t *seen, const char *prefix, int *idx, sg_error *e)
{
    char field[64];
    sg__mp_item k;
    const char *why = sg__mp_read(r, &k);
    int i;

    if (why != NULL) {
        return sg_error_set(e, SG_EINVAL, prefix, "%s", why);
    }
    if (k.type != SG__MP_STR) {
        return sg_error_set(e, SG_EINVAL, prefix, "a key is not a string");
    }
    field_name(field, sizeof field, prefix, k.s, k.n);
    i = find_key(keys, nkeys, &k);
    if (i < 0) {
        return sg_error_set(e, SG_EINVAL, field, "unknown field");
    }
    if (*seen & (1u << i)) {
        return sg_error_set(e, SG_EINVAL, field, "duplicate key");
    }
    *seen |= 1u << i;
    *idx = i;
    return 0;
}

/* get reads the value of field; a malformed value is an error of field. */
static int get(sg__mp_reader *r, sg__mp_item *it, const char *field,
               sg_error *e)
{
    const char *why = sg__mp_read(r, it);

    if (why != NULL) {
        return sg_error_set(e, SG_EINVAL, field, "%s", why);
    }
    return 0;
}

static int want(const sg__mp_item *it, enum sg__mp_type t, const char *field,
                sg_error *e)
{
    static const char *const what[] = {
        [SG__MP_NIL] = "null",       [SG__MP_BOOL] = "a boolean",
        [SG__MP_INT] = "an integer", [SG__MP_FLOAT] = "a number",
        [SG__MP_STR] = "a string",   [SG__MP_BIN] = "binary bytes",
        [SG__MP_ARRAY] = "an array", [SG__MP_MAP] = "a map",
    };

    if (it->type != t) {
        return sg_error_set(e, SG_EINVAL, field, "expected %s", what[t]);
    }
    return 0;
}

/* get_uint reads an integer from lo to hi. */
static int get_uint(sg__mp_reader *r, uint64_t lo, uint64_t hi, uint64_t *dst,
                    const char *field, sg_error *e)
{
    sg__mp_item it;

    if (get(r, &it, field, e) != 0 || want(&it, SG__MP_INT, field, e) != 0) {
        return SG_EINVAL;
    }
    if (it.big || it.i < 0 || (uint64_t)it.i < lo || (uint64_t)it.i > hi) {
        return sg_error_set(e, SG_EINVAL, field,
                            "must be an integer from %llu to %llu",
                            (unsigned long long)lo, (unsigned long long)hi);
    }
    *dst = (uint64_t)it.i;
    return 0;
}

/* ascii_ok tells whether s[0..n) is printable ASCII (no space when
 * !space). */
static bool ascii_ok(const char *s, size_t n, bool space)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || (c == ' ' && !space)) {
            return false;
        }
    }
    return true;
}

/* get_str reads a string of at most max bytes into dst[max + 1]; ascii
 * asks for printable ASCII without spaces, else valid UTF-8 without
 * control characters. */
static int get_str(sg__mp_reader *r, char *dst, size_t max, bool ascii,
                   const char *field, sg_error *e)
{
    sg__mp_item it;
    const char *why;

    if (get(r, &it, field, e) != 0 || want(&it, SG__MP_STR, field, e) != 0) {
        return SG_EINVAL;
    }
    if (it.n > max) {
        return sg_error_set(e, SG_ETOOBIG, field, "longer than %zu bytes", max);
    }
    if (ascii) {
        if (!ascii_ok(it.s, it.n, false)) {
            return sg_error_set(e, SG_EINVAL, field,
                                "must be printable ASCII without spaces");
        }
    } else if (it.n > 0 && (why = sg__text_check(it.s, it.n)) != NULL) {
        return sg_error_set(e, SG_EINVAL, field, "%s", why);
    }
    memcpy(dst, it.s, it.n);
    dst[it.n] = '\0';
    return 0;
}

/* get_body reads the body "b": binary of at most SG_MSG_BODY_MAX bytes,
 * borrowed from the message (NULL when empty). */
static int get_body(sg__mp_reader *r, const uint8_t **body, size_t *len,
                    sg_error *e)
{
    sg__mp_item it;

    if (get(r, &it, "b", e) != 0 || want(&it, SG__MP_BIN, "b", e) != 0) {
        return SG_EINVAL;
    }
    if (it.n > SG_MSG_BODY_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "b", "longer than %u bytes",
                            SG_MSG_BODY_MAX);
    }
    *body = it.n > 0 ? (const uint8_t *)it.s : NULL;
    *len = it.n;
    return 0;
}

/* open_map reads the top-level map of a message. */
static int open_map(sg__mp_reader *r, const char *field, uint32_t *n,
                    sg_error *e)
{
    sg__mp_item it;

    if (get(r, &it, field, e) != 0 || want(&it, SG__MP_MAP, field, e) != 0) {
        return SG_EINVAL;
    }
    *n = it.n;
    return 0;
}

static int required(uint32_t seen, const keyname *keys, const int *req,
                    int nreq, const char *prefix, sg_error *e)
{
    char field[64];

    for (int i = 0; i < nreq; i++) {
        if (!(seen & (1u << req[i]))) {
            snprintf(field, sizeof field, "%s%s", prefix, keys[req[i]].s);
            return sg_error_set(e, SG_EINVAL, field, "missing");
        }
    }
    return 0;
}

/* A map schema: its keys, which of them are required, and the function
 * that reads one field's value into the record being decoded. */
typedef int (*field_fn)(sg__mp_reader *r, int f, void *rec, const char *pre,
                        sg_error *e);
typedef struct schema {
    const keyname *keys; /* names, by field index */
    int nkeys;           /* how many */
    const int *req;      /* required field indexes */
    int nreq;            /* how many */
    field_fn field;      /* reads one value */
} schema;

/* read_map reads one map of schema sc into rec: each key known and given
 * once, every required key present.  at names the map in errors, pre is
 * put before its field names. */
static int read_map(sg__mp_reader *r, const schema *sc, void *rec,
                    const char *at, const char *pre, sg_error *e)
{
    uint32_t n, seen = 0;
    int f = 0, rc;

    if (open_map(r, at, &n, e) != 0) {
        return SG_EINVAL;
    }
    if (n > (uint32_t)sc->nkeys) {
        return sg_error_set(e, SG_EINVAL, at, "more than %d fields",
                            sc->nkeys);
    }
    for (uint32_t i = 0; i < n; i++) {
        rc = read_key(r, sc->keys, sc->nkeys, &seen, pre, &f, e);
        if (rc == 0) {
            rc = sc->field(r, f, rec, pre, e);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return required(seen, sc->keys, sc->req, sc->nreq, pre, e);
}

/* ---- Request. ---- */

enum {
    RQ_V,
    RQ_M,
    RQ_P,
    RQ_Q,
    RQ_CRED,
    RQ_HOST,
    RQ_CT,
    RQ_ACC,
    RQ_LEID,
    RQ_B,
    RQ__COUNT
};

static const keyname req_keys[RQ__COUNT] = {
    K("v"),    K("m"),  K("p"),   K("q"),    K("cred"),
    K("host"), K("ct"), K("acc"), K("leid"), K("b"),
};
static const int req_required[] = {RQ_V, RQ_M, RQ_P};

void sg_msg_req_encode(const sg_msg_req *r, sg_buf *out)
{
    msgpack_packer pk;
    uint32_t n = 6; /* v, m, p, ct, acc and q */

    n += r->cred[0] != '\0';
    n += r->host[0] != '\0';
    n += r->last_event_id != 0;
    n += r->body_len > 0;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, n);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, SG_MSG_VERSION);
    pack_str(&pk, "m");
    pack_str(&pk, r->method);
    pack_str(&pk, "p");
    pack_str(&pk, r->path);
    pack_str(&pk, "q");
    msgpack_pack_map(&pk, (size_t)(r->nq > 0 ? r->nq : 0));
    for (int i = 0; i < r->nq; i++) {
        pack_str(&pk, r->q[i].key);
        pack_str(&pk, r->q[i].val);
    }
    if (r->cred[0] != '\0') {
        pack_str(&pk, "cred");
        pack_str(&pk, r->cred);
    }
    if (r->host[0] != '\0') {
        pack_str(&pk, "host");
        pack_str(&pk, r->host);
    }
    pack_str(&pk, "ct");
    msgpack_pack_unsigned_int(&pk, r->ctype);
    pack_str(&pk, "acc");
    msgpack_pack_unsigned_int(&pk, r->accept);
    if (r->last_event_id != 0) {
        pack_str(&pk, "leid");
        msgpack_pack_uint64(&pk, r->last_event_id);
    }
    if (r->body_len > 0) {
        pack_str(&pk, "b");
        pack_bin(&pk, r->body, r->body_len);
    }
}

static int get_method(sg__mp_reader *r, char *dst, sg_error *e)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "SG"};
    sg__mp_item it;

    if (get(r, &it, "m", e) != 0 || want(&it, SG__MP_STR, "m", e) != 0) {
        return SG_EINVAL;
    }
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strlen(methods[i]) == it.n && memcmp(methods[i], it.s, it.n) == 0) {
            memcpy(dst, it.s, it.n);
            dst[it.n] = '\0';
            return 0;
        }
    }
    return sg_error_set(e, SG_EINVAL, "m",
                        "not one of: GET, POST, PUT, DELETE, SG");
}

static int get_path(sg__mp_reader *r, char *dst, sg_error *e)
{
    int rc = get_str(r, dst, SG_MSG_PATH_MAX, false, "p", e);

    if (rc != 0) {
        return rc;
    }
    if (dst[0] != '/') {
        return sg_error_set(e, SG_EINVAL, "p", "must start with /");
    }
    return 0;
}

/* get_query reads the q map into the request's qstore: keys 1-64 bytes,
 * values up to 1024, both valid UTF-8 without NUL, no key twice. */
static int get_query(sg__mp_reader *r, sg_msg_req *m, sg_error *e)
{
    char field[80];
    size_t used = 0;
    sg__mp_item it, k, v;

    if (get(r, &it, "q", e) != 0 || want(&it, SG__MP_MAP, "q", e) != 0) {
        return SG_EINVAL;
    }
    if (it.n > SG_MSG_QUERY_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "q", "more than %d query parameters",
                            SG_MSG_QUERY_MAX);
    }
    for (uint32_t i = 0; i < it.n; i++) {
        if (get(r, &k, "q", e) != 0) {
            return SG_EINVAL;
        }
        if (k.type != SG__MP_STR) {
            return sg_error_set(e, SG_EINVAL, "q",
                                "a parameter name is not a string");
        }
        field_name(field, sizeof field, "q.", k.s, k.n);
        if (k.n == 0) {
            return sg_error_set(e, SG_EINVAL, "q", "empty parameter name");
        }
        if (k.n > SG_MSG_QKEY_MAX) {
            return sg_error_set(e, SG_ETOOBIG, field,
                                "parameter name longer than %d bytes",
                                SG_MSG_QKEY_MAX);
        }
        if (memchr(k.s, '\0', k.n) != NULL || !sg_utf8_valid(k.s, k.n)) {
            return sg_error_set(e, SG_EINVAL, field,
                                "parameter name is not valid text");
        }
        if (get(r, &v, field, e) != 0 || want(&v, SG__MP_STR, field, e) != 0) {
            return SG_EINVAL;
        }
        if (v.n > SG_MSG_QVAL_MAX) {
            return sg_error_set(e, SG_ETOOBIG, field, "longer than %d bytes",
                                SG_MSG_QVAL_MAX);
        }
        if (memchr(v.s, '\0', v.n) != NULL || !sg_utf8_valid(v.s, v.n)) {
            return sg_error_set(e, SG_EINVAL, field, "not valid text");
        }
        for (int j = 0; j < m->nq; j++) {
            if (strlen(m->q[j].key) == k.n &&
                memcmp(m->q[j].key, k.s, k.n) == 0) {
                return sg_error_set(e, SG_EINVAL, field, "duplicate parameter");
            }
        }
        if ((size_t)k.n + 1 + v.n + 1 > sizeof m->qstore - used) {
            return sg_error_set(e, SG_ETOOBIG, "q",
                                "query parameters longer than %zu bytes "
                                "in all",
                                sizeof m->qstore);
        }
        m->q[m->nq].key = m->qstore + used;
        memcpy(m->qstore + used, k.s, k.n);
        used += k.n;
        m->qstore[used++] = '\0';
        m->q[m->nq].val = m->qstore + used;
        memcpy(m->qstore + used, v.s, v.n);
        used += v.n;
        m->qstore[used++] = '\0';
        m->nq++;
    }
    return 0;
}

static int req_field(sg__mp_reader *r, int f, sg_msg_req *m, sg_error *e)
{
    sg__mp_item it;
    uint64_t u;

    switch (f) {
    case RQ_V:
        if (get(r, &it, "v", e) != 0 || want(&it, SG__MP_INT, "v", e) != 0) {
            return SG_EINVAL;
        }
        if (it.big || it.i != SG_MSG_VERSION) {
            return sg_error_set(e, SG_EINVAL, "v",
                                "message version %lld is not supported",
                                (long long)it.i);
        }
        return 0;
    case RQ_M:
        return get_method(r, m->method, e);
    case RQ_P:
        return get_path(r, m->path, e);
    case RQ_Q:
        return get_query(r, m, e);
    case RQ_CRED:
        return get_str(r, m->cred, SG_MSG_CRED_MAX, true, "cred", e);
    case RQ_HOST:
        return get_str(r, m->host, sizeof m->host - 1, true, "host", e);
    case RQ_CT:
        if (get_uint(r, SG_FMT_NONE, SG_FMT_NDJSON, &u, "ct", e) != 0) {
            return SG_EINVAL;
        }
        m->ctype = (uint8_t)u;
        return 0;
    case RQ_ACC:
        if (get_uint(r, SG_FMT_NONE, SG_FMT_MSGPACK, &u, "acc", e) != 0) {
            return SG_EINVAL;
        }
        m->accept = u == SG_FMT_NONE ? SG_FMT_JSON : (uint8_t)u;
        return 0;
    case RQ_LEID:
        if (get_uint(r, 0, INT64_MAX, &u, "leid", e) != 0) {
            return SG_EINVAL;
        }
        m->last_event_id = u;
        return 0;
    case RQ_B:
        return get_body(r, &m->body, &m->body_len, e);
    default:
        assert(!"unknown request field");
        return SG_EINVAL;
    }
}

static int req_field_cb(sg__mp_reader *r, int f, void *rec, const char *pre,
                        sg_error *e)
{
    (void)pre;
    return req_field(r, f, rec, e);
}

static const schema req_schema = {
    req_keys, RQ__COUNT, req_required,
    (int)(sizeof req_required / sizeof req_required[0]), req_field_cb,
};

int sg_msg_req_decode(const uint8_t *p, size_t len, sg_msg_req *out,
                      sg_error *e)
{
    static sg_msg_req zero;
    sg__mp_reader r = {p, len, 0};
    sg_msg_req m;
    int rc;

    if (p == NULL && len > 0) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    if (len > REQ_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "", "longer than %zu bytes",
                            REQ_MAX);
    }
    m = zero;
    m.accept = SG_FMT_JSON;
    rc = read_map(&r, &req_schema, &m, "", "", e);
    if (rc != 0) {
        return rc;
    }
    if (r.pos != len) {
        return sg_error_set(e, SG_EINVAL, "",
                            "trailing bytes after the message");
    }
    /* Copy out, pointing the query at out's own storage. */
    memcpy(out, &m, sizeof m);
    for (int i = 0; i < m.nq; i++) {
        out->q[i].key = out->qstore + (m.q[i].key - m.qstore);
        out->q[i].val = out->qstore + (m.q[i].val - m.qstore);
    }
    return 0;
}

/* ---- Reply. ---- */

enum {
    RP_S,
    RP_CT,
    RP_B,
    RP_ST,
    RP_SK,
    RP_SEQ,
    RP_MORE,
    RP_VER,
    RP_CU,
    RP__COUNT
};

static const keyname reply_keys[RP__COUNT] = {
    K("s"),   K("ct"),   K("b"),   K("st"), K("sk"),
    K("seq"), K("more"), K("ver"), K("cu"),
};
static const int reply_required[] = {RP_S};

void sg_msg_reply_encode(const sg_msg_reply *r, sg_buf *out)
{
    msgpack_packer pk;
    bool stream = r->stream != SG_STREAM_NONE;
    bool events = stream || r->seq != 0 || r->more;
    uint32_t n = 3; /* s, ct, b */

    n += stream ? 2 : 0;
    n += events ? 2 : 0;
    n += r->version != 0 ? 1 : 0;
    n += r->cache_until_ms != 0 ? 1 : 0;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, n);
    pack_str(&pk, "s");
    msgpack_pack_int(&pk, r->status);
    pack_str(&pk, "ct");
    msgpack_pack_unsigned_int(&pk, r->ctype);
    pack_str(&pk, "b");
    pack_bin(&pk, r->body, r->body_len);
    if (stream) {
        pack_str(&pk, "st");
        msgpack_pack_unsigned_int(&pk, r->stream);
        pack_str(&pk, "sk");
        pack_str(&pk, r->stream_key);
    }
    if (events) {
        pack_str(&pk, "seq");
        msgpack_pack_uint64(&pk, r->seq);
        pack_str(&pk, "more");
        if (r->more) {
            msgpack_pack_true(&pk);
        } else {
            msgpack_pack_false(&pk);
        }
    }
    if (r->version != 0) {
        pack_str(&pk, "ver");
        msgpack_pack_uint64(&pk, r->version);
    }
    if (r->cache_until_ms != 0) {
        pack_str(&pk, "cu");
        msgpack_pack_int64(&pk, r->cache_until_ms);
    }
}

static int reply_field(sg__mp_reader *r, int f, sg_msg_reply *m, sg_error *e)
{
    sg__mp_item it;
    uint64_t u;

    switch (f) {
    case RP_S:
        if (get_uint(r, 100, 599, &u, "s", e) != 0) {
            return SG_EINVAL;
        }
        m->status = (int)u;
        return 0;
    case RP_CT:
        if (get_uint(r, SG_FMT_NONE, SG_FMT_TEXT, &u, "ct", e) != 0) {
            return SG_EINVAL;
        }
        m->ctype = (uint8_t)u;
        return 0;
    case RP_B:
        return get_body(r, &m->body, &m->body_len, e);
    case RP_ST:
        if (get_uint(r, SG_STREAM_WORKER, SG_STREAM_REGION, &u, "st", e) != 0) {
            return SG_EINVAL;
        }
        m->stream = (uint8_t)u;
        return 0;
    case RP_SK:
        return get_str(r, m->stream_key, SG_ID_MAX, true, "sk", e);
    case RP_SEQ:
        if (get_uint(r, 0, INT64_MAX, &u, "seq", e) != 0) {
            return SG_EINVAL;
        }
        m->seq = u;
        return 0;
    case RP_MORE:
        if (get(r, &it, "more", e) != 0 ||
            want(&it, SG__MP_BOOL, "more", e) != 0) {
            return SG_EINVAL;
        }
        m->more = it.b;
        return 0;
    case RP_VER:
        if (get_uint(r, 0, INT64_MAX, &u, "ver", e) != 0) {
            return SG_EINVAL;
        }
        m->version = u;
        return 0;
    case RP_CU:
        if (get_uint(r, 0, INT64_MAX, &u, "cu", e) != 0) {
            return SG_EINVAL;
        }
        m->cache_until_ms = (int64_t)u;
        return 0;
    default:
        assert(!"unknown reply field");
        return SG_EINVAL;
    }
}

static int reply_field_cb(sg__mp_reader *r, int f, void *rec,
                          const char *pre, sg_error *e)
{
    (void)pre;
    return reply_field(r, f, rec, e);
}

static const schema reply_schema = {
    reply_keys, RP__COUNT, reply_required,
    (int)(sizeof reply_required / sizeof reply_required[0]), reply_field_cb,
};

int sg_msg_reply_decode(const uint8_t *p, size_t len, sg_msg_reply *out,
                        sg_error *e)
{
    static const sg_msg_reply zero;
    sg__mp_reader r = {p, len, 0};
    sg_msg_reply m = zero;
    int rc;

    if (p == NULL && len > 0) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    if (len > REQ_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "", "longer than %zu bytes",
                            REQ_MAX);
    }
    rc = read_map(&r, &reply_schema, &m, "", "", e);
    if (rc != 0) {
        return rc;
    }
    /* A stream reply names its stream; nothing else may. */
    if ((m.stream != SG_STREAM_NONE) != (m.stream_key[0] != '\0')) {
        return sg_error_set(e, SG_EINVAL, m.stream ? "sk" : "st",
                            "st and sk go together");
    }
    if (r.pos != len) {
        return sg_error_set(e, SG_EINVAL, "",
                            "trailing bytes after the message");
    }
    *out = m;
    return 0;
}

/* ---- Events. ---- */

enum { EV_SEQ, EV_TYPE, EV_WORKER, EV_REGION, EV_DATA, EV__COUNT };

static const keyname event_keys[EV__COUNT] = {
    K("seq"), K("type"), K("worker"), K("region"), K("data"),
};
static const int event_required[] = {EV_SEQ, EV_TYPE, EV_WORKER, EV_REGION,
                                     EV_DATA};

void sg_event_encode(const sg_event *ev, sg_buf *out)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, EV__COUNT);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, ev->seq);
    pack_str(&pk, "type");
    pack_str(&pk, ev->type);
    pack_str(&pk, "worker");
    pack_str(&pk, ev->worker);
    pack_str(&pk, "region");
    pack_str(&pk, ev->region);
    pack_str(&pk, "data");
    pack_strn(&pk, ev->data != NULL ? ev->data : "", ev->data_len);
}

static bool digits_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* event_field reads field f of an event; pre is "[i]." for errors. */
static int event_field(sg__mp_reader *r, int f, sg_event *ev, const char *pre,
                       sg_error *e)
{
    char field[64];
    sg__mp_item it;
    uint64_t u;
    const char *why;

    snprintf(field, sizeof field, "%s%s", pre, event_keys[f].s);
    switch (f) {
    case EV_SEQ:
        if (get_uint(r, 1, INT64_MAX, &u, field, e) != 0) {
            return SG_EINVAL;
        }
        ev->seq = u;
        return 0;
    case EV_TYPE:
        if (get(r, &it, field, e) != 0 ||
            want(&it, SG__MP_STR, field, e) != 0) {
            return SG_EINVAL;
        }
        if (!((it.n == 5 && memcmp(it.s, "match", 5) == 0) ||
              (it.n == 7 && memcmp(it.s, "removed", 7) == 0) ||
              (it.n == 4 && memcmp(it.s, "list", 4) == 0))) {
            return sg_error_set(e, SG_EINVAL, field,
                                "not one of: match, removed, list");
        }
        memcpy(ev->type, it.s, it.n);
        ev->type[it.n] = '\0';
        return 0;
    case EV_WORKER:
        if (get(r, &it, field, e) != 0 ||
            want(&it, SG__MP_STR, field, e) != 0) {
            return SG_EINVAL;
        }
        if (!sg_id_valid(it.s, it.n)) {
            return sg_error_set(e, SG_EINVAL, field,
                                "must be 1-32 of A-Z a-z 0-9 _ -");
        }
        memcpy(ev->worker, it.s, it.n);
        ev->worker[it.n] = '\0';
        return 0;
    case EV_REGION:
        if (get(r, &it, field, e) != 0 ||
            want(&it, SG__MP_STR, field, e) != 0) {
            return SG_EINVAL;
        }
        if (it.n != SG_REGION_LEN || !digits_ok(it.s, it.n)) {
            return sg_error_set(e, SG_EINVAL, field, "must be 12 digits");
        }
        memcpy(ev->region, it.s, it.n);
        ev->region[it.n] = '\0';
        return 0;
    case EV_DATA:
        if (get(r, &it, field, e) != 0 ||
            want(&it, SG__MP_STR, field, e) != 0) {
            return SG_EINVAL;
        }
        /* SSE sends data as one "data:" line: no line breaks, no NULs. */
        if (it.n == 0) {
            return sg_error_set(e, SG_EINVAL, field, "must not be empty");
        }
        if ((why = sg__text_check(it.s, it.n)) != NULL) {
            return sg_error_set(e, SG_EINVAL, field, "%s", why);
        }
        ev->data = it.s;
        ev->data_len = it.n;
        return 0;
    default:
        assert(!"unknown event field");
        return SG_EINVAL;
    }
}

static int event_field_cb(sg__mp_reader *r, int f, void *rec,
                          const char *pre, sg_error *e)
{
    return event_field(r, f, rec, pre, e);
}

static const schema event_schema = {
    event_keys, EV__COUNT, event_required,
    (int)(sizeof event_required / sizeof event_required[0]), event_field_cb,
};

/* walk_events reads the array of events in p; it calls cb (when not NULL)
 * for each, and stops at the first error or non-zero cb return. */
static int walk_events(const uint8_t *p, size_t len, sg_event_cb cb, void *arg,
                       sg_error *e)
{
    sg__mp_reader r = {p, len, 0};
    sg__mp_item arr;
    uint64_t last = 0;
    char at[24], pre[24];
    int rc;

    if (get(&r, &arr, "", e) != 0 || want(&arr, SG__MP_ARRAY, "", e) != 0) {
        return SG_EINVAL;
    }
    for (uint32_t i = 0; i < arr.n; i++) {
        static const sg_event zero;
        sg_event ev = zero;

        snprintf(at, sizeof at, "[%u]", (unsigned)i);
        snprintf(pre, sizeof pre, "[%u].", (unsigned)i);
        rc = read_map(&r, &event_schema, &ev, at, pre, e);
        if (rc != 0) {
            return rc;
        }
        if (ev.seq <= last) {
            snprintf(pre, sizeof pre, "[%u].seq", (unsigned)i);
            return sg_error_set(e, SG_EINVAL, pre,
                                "events are not in increasing seq order");
        }
        last = ev.seq;
        if (cb != NULL && (rc = cb(arg, &ev)) != 0) {
            return rc;
        }
    }
    if (r.pos != len) {
        return sg_error_set(e, SG_EINVAL, "",
                            "trailing bytes after the events");
    }
    return 0;
}

/* sg_events_decode checks the whole array before the first callback, so
 * that a caller never acts on part of a message it then finds bad. */
int sg_events_decode(const uint8_t *p, size_t len, sg_event_cb cb, void *arg,
                     sg_error *e)
{
    int rc;

    if (p == NULL && len > 0) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    if (len > REQ_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "", "longer than %zu bytes",
                            REQ_MAX);
    }
    rc = walk_events(p, len, NULL, NULL, e);
    if (rc != 0 || cb == NULL) {
        return rc;
    }
    return walk_events(p, len, cb, arg, e);
}

/* ---- Doorbell. ---- */

void sg_doorbell_encode(uint64_t seq, uint8_t out[8])
{
    for (int k = 7; k >= 0; k--) {
        out[k] = (uint8_t)(seq & 0xff);
        seq >>= 8;
    }
}

int sg_doorbell_decode(const uint8_t *p, size_t len, uint64_t *seq)
{
    uint64_t v = 0;

    if (p == NULL || len != 8) {
        return SG_EINVAL;
    }
    for (int k = 0; k < 8; k++) {
        v = v << 8 | p[k];
    }
    *seq = v;
    return 0;
}

/* ---- The doorbell's address (docs/protocol.md). ---- */

/* put_url copies the formatted URL into buf only when it fits, so that
 * buf is written only on success. */
static int put_url(char *buf, size_t cap, const char *tmp, int n)
{
    if (n < 0 || (size_t)n >= cap) {
        return SG_ETOOBIG;
    }
    memcpy(buf, tmp, (size_t)n + 1);
    return 0;
}

int sg_pub_url(const char *listen, char *buf, size_t cap)
{
    const char *colon;
    char *end;
    unsigned long port;
    char tmp[4096]; /* longer than any URL NNG takes */
    int n;

    if (listen == NULL || buf == NULL) {
        return SG_EINVAL;
    }
    if (strncmp(listen, "ipc://", 6) == 0 ||
        strncmp(listen, "inproc://", 9) == 0) {
        n = snprintf(tmp, sizeof tmp, "%s.pub", listen);
        return n >= (int)sizeof tmp ? SG_ETOOBIG : put_url(buf, cap, tmp, n);
    }
    if (strncmp(listen, "tcp://", 6) != 0 &&
        strncmp(listen, "tcp4://", 7) != 0 &&
        strncmp(listen, "tcp6://", 7) != 0) {
        return SG_EINVAL;
    }
    colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] < '0' || colon[1] > '9' || colon[-1] == '/') {
        return SG_EINVAL;
    }
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    /* Port 0 (any) has no "next" port: the PUB URL must then be given. */
    if (*end != '\0' || errno != 0 || port == 0 || port >= 65535) {
        return SG_EINVAL;
    }
    n = snprintf(tmp, sizeof tmp, "%.*s:%lu", (int)(colon - listen), listen,
                 port + 1);
    return n >= (int)sizeof tmp ? SG_ETOOBIG : put_url(buf, cap, tmp, n);
}
