/* proto/json.c -- the JSON form of records (NDJSON lines, HTTP bodies).
 * Both directions go through msgpack, so each record has one field list,
 * its encoder's (proto/msgpack.c), and one decoder.  Decoding parses with
 * jansson, converts the value to msgpack and runs the strict decoder.
 * Encoding runs the msgpack encoder -- whose bytes already hold the
 * JSON-facing values: enum words, dates as text, float64 coordinates --
 * and a generic msgpack -> JSON walk (text straight into an sg_buf, or a
 * jansson tree) that writes "kind" where msgpack has the schema version
 * "v".  A clear ID number is wiped from every copy made here, and the
 * walk refuses to write one.  Any thread may call these. */
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define JSON_MAX 65536 /* bytes of one JSON record */
#define JSON_DEPTH_MAX 8
#define REAL_DIGITS 15 /* 1e-6 degree of 180 needs 9; exact for those */

/* ---- Decoding. ---- */

static int buf_write(void *data, const char *p, size_t n)
{
    sg_buf_append(data, p, n);
    return 0;
}

/* to_msgpack writes v as msgpack; false when it nests too deeply. */
static bool to_msgpack(msgpack_packer *pk, json_t *v, int depth)
{
    const char *key;
    json_t *x;
    size_t i;

    if (depth > JSON_DEPTH_MAX) {
        return false;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach(v, key, x)
        {
            size_t n = strlen(key);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, key, n);
            if (!to_msgpack(pk, x, depth + 1)) {
                return false;
            }
        }
        return true;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, x)
        {
            if (!to_msgpack(pk, x, depth + 1)) {
                return false;
            }
        }
        return true;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(v));
        msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
        return true;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(v));
        return true;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(v));
        return true;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return true;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return true;
    case JSON_NULL:
    default:
        msgpack_pack_nil(pk);
        return true;
    }
}

int sg_json_to_msgpack(const json_t *v, sg_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    /* jansson's iterators take a mutable value; nothing is changed. */
    return to_msgpack(&pk, (json_t *)v, 1) ? 0 : SG_EINVAL;
}

/* append_key appends the JSON string token s[0..n) (quotes included),
 * decoded and made printable, to the path in out. */
static void append_key(char *out, size_t cap, const char *s, size_t n)
{
    json_t *k = json_loadb(s, n, JSON_DECODE_ANY, NULL);
    size_t o = strlen(out);

    if (json_is_string(k) && o + 1 < cap) {
        if (o > 0) {
            out[o++] = '.';
        }
        sg__quote(json_string_value(k), json_string_length(k), out + o,
                  cap - o);
    }
    json_decref(k);
}

/* dup_key_field recovers the path of the key that jansson reported as a
 * duplicate ("sites[0].region"): its error position is just past the
 * key's closing quote.  The text before it parsed, so a small scanner
 * that tracks the open containers, array indexes and last keys finds the
 * path without a second parser. */
static void dup_key_field(const char *s, size_t len, size_t pos, char *out,
                          size_t cap)
{
    struct level {
        bool object;      /* an object (else an array) */
        size_t index;     /* array: index of the current element */
        size_t key, klen; /* object: the current key token */
    } stack[JSON_DEPTH_MAX + 2];
    int depth = 0;
    bool want_key = false;

    out[0] = '\0';
    for (size_t i = 0; i < len && i < pos; i++) {
        char c = s[i];
        if (c == '"') {
            size_t start = i++;
            while (i < len && s[i] != '"') {
                i += s[i] == '\\' ? 2 : 1;
            }
            if (i >= len) {
                return;
            }
            if (want_key && depth > 0 && depth <= JSON_DEPTH_MAX + 2) {
                stack[depth - 1].key = start;
                stack[depth - 1].klen = i + 1 - start;
                want_key = false;
            }
        } else if (c == '{' || c == '[') {
            if (depth < JSON_DEPTH_MAX + 2) {
                stack[depth] = (struct level){c == '{', 0, 0, 0};
            }
            depth++;
            want_key = c == '{';
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth > 0 && depth <= JSON_DEPTH_MAX + 2) {
            if (stack[depth - 1].object) {
                want_key = true;
            } else {
                stack[depth - 1].index++;
            }
        }
    }
    if (depth < 1 || depth > JSON_DEPTH_MAX + 2) {
        return;
    }
    for (int d = 0; d < depth; d++) {
        if (stack[d].object) {
            append_key(out, cap, s + stack[d].key, stack[d].klen);
        } else {
            size_t o = strlen(out);
            snprintf(out + o, cap - o, "[%zu]", stack[d].index);
        }
    }
}

/* parse_error fills e from a jansson error.  The "near '...'" part of its
 * text is dropped: it would echo input, which may be an ID number. */
static int parse_error(const char *s, size_t len, const json_error_t *je,
                       sg_error *e)
{
    char field[64], text[JSON_ERROR_TEXT_LENGTH];
    char *near;

    if (json_error_code(je) == json_error_duplicate_key && je->position > 0) {
        dup_key_field(s, len, (size_t)je->position, field, sizeof field);
        return sg_error_set(e, SG_EINVAL, field, "duplicate key");
    }
    snprintf(text, sizeof text, "%s", je->text);
    near = strstr(text, " near ");
    if (near != NULL) {
        *near = '\0';
    }
    return sg_error_set(e, SG_EINVAL, "",
                        "invalid JSON at line %d column %d: %s", je->line,
                        je->column, text);
}

/* wipe_idnum overwrites a clear "id_number" inside the parsed tree before
 * it is freed (jansson keeps the string's bytes in place). */
static void wipe_idnum(json_t *root)
{
    json_t *v = json_object_get(root, "id_number");

    if (json_is_string(v)) {
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    }
}

/* kind_of finds the record kind from "kind" and want. */
static int kind_of(json_t *root, sg_kind want, sg_kind *kind, sg_error *e)
{
    json_t *k = json_object_get(root, "kind");
    const char *s;
    sg_kind got;

    if (k == NULL || json_is_null(k)) {
        if (want == 0) {
            return sg_error_set(e, SG_EINVAL, "kind",
                                "missing required field");
        }
        *kind = want;
        return 0;
    }
    if (!json_is_string(k)) {
        return sg_error_set(e, SG_EINVAL, "kind", "expected a string");
    }
    s = json_string_value(k);
    if (strcmp(s, "worker") == 0 && json_string_length(k) == 6) {
        got = SG_KIND_WORKER;
    } else if (strcmp(s, "job") == 0 && json_string_length(k) == 3) {
        got = SG_KIND_JOB;
    } else if (want == 0) {
        return sg_error_set(e, SG_EINVAL, "kind", "not one of: worker, job");
    } else {
        got = 0;
    }
    if (want != 0 && got != want) {
        return sg_error_set(e, SG_EINVAL, "kind", "must be \"%s\"",
                            want == SG_KIND_WORKER ? "worker" : "job");
    }
    *kind = got;
    return 0;
}

int sg_json_decode(const char *s, size_t len, sg_kind want,
                   const uint8_t *idkey, sg_kind *kind, sg_worker *w,
                   sg_job *j, sg_error *e)
{
    json_error_t je;
    json_t *root;
    sg_buf mp;
    sg_kind k = 0;
    int rc;

    if (s == NULL && len > 0) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    if (want != 0 && want != SG_KIND_WORKER && want != SG_KIND_JOB) {
        return sg_error_set(e, SG_EINVAL, "kind", "unknown record kind");
    }
    if (len > JSON_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "", "longer than %d bytes",
                            JSON_MAX);
    }
    root = json_loadb(s != NULL ? s : "", len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        return parse_error(s, len, &je, e);
    }
    if (!json_is_object(root)) {
        rc = sg_error_set(e, SG_EINVAL, "", "expected an object");
        goto out_decref;
    }
    rc = kind_of(root, want, &k, e);
    if (rc != 0) {
        goto out_decref;
    }
    if ((k == SG_KIND_WORKER && w == NULL) || (k == SG_KIND_JOB && j == NULL)) {
        rc = sg_error_set(e, SG_EINVAL, "kind", "no record to fill");
        goto out_decref;
    }

    /* Convert, then run the one strict decoder. */
    sg_buf_init(&mp);
    if (sg_json_to_msgpack(root, &mp) != 0) {
        rc = sg_error_set(e, SG_EINVAL, "", "nested too deeply");
        goto out_wipe_buf;
    }
    if (k == SG_KIND_WORKER) {
        rc = sg__worker_decode_mp(mp.data, mp.len, idkey, w, e);
    } else {
        rc = sg__job_decode_mp(mp.data, mp.len, j, e);
    }
    if (rc == 0 && kind != NULL) {
        *kind = k;
    }
out_wipe_buf:
    if (mp.data != NULL) {
        sodium_memzero(mp.data, mp.cap);
    }
    sg_buf_free(&mp);
out_decref:
    wipe_idnum(root);
    json_decref(root);
    return rc;
}

/* ---- Encoding: msgpack -> JSON. ----
 * One walk over the msgpack bytes writes either JSON text (straight into
 * an sg_buf) or a jansson tree; every rule lives in the walk, so the two
 * forms accept and refuse exactly the same input.  The walk reads with
 * the strict pull reader (sg__mp_read), which checks every count against
 * the bytes that remain before anything loops on it, so hostile headers
 * cost nothing; the output is at most about 6 bytes per input byte. */

#define MPJ_DEPTH_MAX JSON_DEPTH_MAX /* the same nesting both ways */
#define MPJ_KEYS_MAX 64 /* keys of one map: repeats are found by a scan */

typedef struct mpj_key {
    const char *s; /* bytes in the input */
    uint32_t n;    /* length */
} mpj_key;

/* One open container. */
typedef struct mpj_level {
    bool map;                   /* a map (else an array) */
    uint32_t i;                 /* index of the current entry */
    mpj_key key;                /* map: the current key (s NULL: none) */
    json_t *jv;                 /* jv mode: the container being filled */
    mpj_key keys[MPJ_KEYS_MAX]; /* map: the keys seen so far */
} mpj_level;

typedef struct mpj {
    sg__mp_reader r;                 /* the input, borrowed */
    sg_buf *out;                     /* text mode: where the text goes */
    json_t *root;                    /* jv mode: the top value */
    const char *kind;                /* record mode: see record_convert */
    bool lenient;                    /* record mode: never fail on values */
    int depth;                       /* containers open */
    mpj_level lv[MPJ_DEPTH_MAX];     /* the open containers */
    sg_error *e;                     /* where errors go (may be NULL) */
} mpj;

/* fail fills the error with the path of the current value (sites[0].lat)
 * and the reason.  Values are never quoted: one could be an ID number. */
static int fail(mpj *c, const char *why)
{
    char field[sizeof c->e->field];
    size_t o = 0;

    field[0] = '\0';
    for (int d = 0; d < c->depth && o + 1 < sizeof field; d++) {
        const mpj_level *l = &c->lv[d];
        if (!l->map) {
            snprintf(field + o, sizeof field - o, "[%u]", (unsigned)l->i);
        } else if (l->key.s != NULL) {
            if (o > 0) {
                field[o++] = '.';
            }
            sg__quote(l->key.s, l->key.n, field + o, sizeof field - o);
        }
        o = strlen(field);
    }
    return sg_error_set(c->e, SG_EINVAL, field, "%s", why);
}

/* room makes n bytes free at the end of b and returns where they start. */
static uint8_t *room(sg_buf *b, size_t n)
{
    if (n > b->cap - b->len) {
        size_t cap = b->cap < 256 ? 256 : b->cap;
        uint8_t *d;
        if (n > SIZE_MAX / 2 - b->len) {
            abort();
        }
        while (cap < b->len + n) {
            cap *= 2;
        }
        d = realloc(b->data, cap);
        if (d == NULL) {
            abort(); /* out of memory: STYLE says abort */
        }
        b->data = d;
        b->cap = cap;
    }
    return b->data + b->len;
}

static void put_bytes(sg_buf *b, const char *s, size_t n)
{
    memcpy(room(b, n), s, n);
    b->len += n;
}

/* put_string writes s[0..n) (valid UTF-8) as a JSON string exactly as
 * jansson's compact dump does: '"', '\\' and C0 controls escaped (the
 * short forms where JSON has them, else \u00XX in capitals), everything
 * else -- DEL, '/', all of non-ASCII -- left as is. */
static void put_string(sg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t *p = room(b, 6 * n + 2), *start = p;

    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = (uint8_t)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            *p++ = ch;
            continue;
        }
        *p++ = '\\';
        switch (ch) {
        case '"':
        case '\\':
            *p++ = ch;
            break;
        case '\b':
            *p++ = 'b';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
            break;
        }
    }
    *p++ = '"';
    b->len += (size_t)(p - start);
}

static void put_int(sg_buf *b, int64_t v)
{
    char t[24];
    int k = sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        t[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        t[--k] = '-';
    }
    put_bytes(b, t + k, sizeof t - (size_t)k);
}

/* put_real writes a finite v as jansson does with JSON_REAL_PRECISION(15)
 * (its printf build): "%.15g", ".0" added when that reads as an integer,
 * and the exponent without '+' or leading zeros ("1e20", "1e-7"). */
static void put_real(sg_buf *b, double v)
{
    char t[40];
    int n = snprintf(t, sizeof t, "%.*g", REAL_DIGITS, v);
    char *exp;

    if (n < 0 || (size_t)n >= sizeof t - 2) {
        abort(); /* "%.15g" of a double is at most 22 bytes */
    }
    exp = strchr(t, 'e');
    if (exp == NULL) {
        if (strchr(t, '.') == NULL) {
            t[n++] = '.';
            t[n++] = '0';
        }
    } else {
        char *to = exp + 1, *from = exp + 2;
        if (*to == '-') {
            to++;
        }
        while (*from == '0') {
            from++;
        }
        memmove(to, from, (size_t)(t + n - from));
        n -= (int)(from - to);
    }
    put_bytes(b, t, (size_t)n);
}

/* jv_put hangs v (taken) on the open container, or makes it the root. */
static void jv_put(mpj *c, json_t *v)
{
    mpj_level *l = c->depth > 0 ? &c->lv[c->depth - 1] : NULL;
    int rc;

    if (v == NULL) {
        abort(); /* out of memory */
    }
    if (l == NULL) {
        c->root = v;
        return;
    }
    /* Keys were checked: UTF-8, no repeats. */
    rc = l->map ? json_object_setn_new_nocheck(l->jv, l->key.s, l->key.n, v)
                : json_array_append_new(l->jv, v);
    if (rc != 0) {
        abort();
    }
}

/* Values of either mode. */
static void emit_string(mpj *c, const char *s, size_t n)
{
    if (c->out != NULL) {
        put_string(c->out, s, n);
    } else {
        jv_put(c, json_stringn_nocheck(s, n));
    }
}

static void emit_key(mpj *c, const char *s, size_t n, bool first)
{
    if (c->out != NULL) {
        if (!first) {
            put_bytes(c->out, ",", 1);
        }
        put_string(c->out, s, n);
        put_bytes(c->out, ":", 1);
    } else {
        c->lv[c->depth - 1].key = (mpj_key){s, (uint32_t)n};
    }
}

static void emit_open(mpj *c, bool map)
{
    mpj_level *l = &c->lv[c->depth];

    l->map = map;
    l->i = 0;
    l->key.s = NULL;
    if (c->out != NULL) {
        put_bytes(c->out, map ? "{" : "[", 1);
        l->jv = NULL;
    } else {
        l->jv = map ? json_object() : json_array();
        jv_put(c, json_incref(l->jv)); /* the level keeps a reference */
    }
    c->depth++;
}

static void emit_close(mpj *c)
{
    mpj_level *l = &c->lv[--c->depth];

    if (c->out != NULL) {
        put_bytes(c->out, l->map ? "}" : "]", 1);
    } else {
        json_decref(l->jv);
    }
}

/* read_key reads the key of entry i of the open map: a string of valid
 * UTF-8, not "id_number", not seen before in this map. */
static int read_key(mpj *c, uint32_t i, mpj_key *k)
{
    mpj_level *l = &c->lv[c->depth - 1];
    const char *why;
    sg__mp_item it;

    l->i = i;
    l->key.s = NULL;
    why = sg__mp_read(&c->r, &it);
    if (why != NULL) {
        return fail(c, why);
    }
    if (it.type != SG__MP_STR) {
        return fail(c, "a key is not a string");
    }
    if (!sg_utf8_valid(it.s, it.n)) {
        return fail(c, "a key is not valid UTF-8");
    }
    *k = (mpj_key){it.s, it.n};
    l->key = *k;
    if (it.n == 9 && memcmp(it.s, "id_number", 9) == 0) {
        return fail(c, "a clear ID number is never written as JSON");
    }
    for (uint32_t j = 0; j < i; j++) {
        if (l->keys[j].n == it.n && memcmp(l->keys[j].s, it.s, it.n) == 0) {
            return fail(c, "duplicate key");
        }
    }
    l->keys[i] = *k;
    return 0;
}

/* walk converts one complete value at depth c->depth + 1. */
static int walk(mpj *c)
{
    const char *why;
    sg__mp_item it;
    int rc;

    if (c->depth + 1 > MPJ_DEPTH_MAX) {
        return fail(c, "nested too deeply");
    }
    why = sg__mp_read(&c->r, &it);
    if (why != NULL) {
        return fail(c, why);
    }
    if (c->depth > 0 && !c->lv[c->depth - 1].map) {
        if (c->out != NULL && c->lv[c->depth - 1].i > 0) {
            put_bytes(c->out, ",", 1);
        }
    }
    switch (it.type) {
    case SG__MP_NIL:
        if (c->out != NULL) {
            put_bytes(c->out, "null", 4);
        } else {
            jv_put(c, json_null());
        }
        return 0;
    case SG__MP_BOOL:
        if (c->out != NULL) {
            put_bytes(c->out, it.b ? "true" : "false", it.b ? 4 : 5);
        } else {
            jv_put(c, json_boolean(it.b));
        }
        return 0;
    case SG__MP_INT:
        if (it.big) {
            return fail(c, "integer larger than 9223372036854775807");
        }
        if (c->out != NULL) {
            put_int(c->out, it.i);
        } else {
            jv_put(c, json_integer(it.i));
        }
        return 0;
    case SG__MP_FLOAT:
        if (!isfinite(it.f)) {
            if (!c->lenient) {
                return fail(c, "NaN and infinity have no JSON form");
            }
            if (c->out != NULL) {
                put_bytes(c->out, "null", 4);
            } else {
                jv_put(c, json_null());
            }
        } else if (c->out != NULL) {
            put_real(c->out, it.f);
        } else {
            jv_put(c, json_real(it.f));
        }
        return 0;
    case SG__MP_STR:
        if (!sg_utf8_valid(it.s, it.n)) {
            if (!c->lenient) {
                return fail(c, "not valid UTF-8");
            }
            it.n = 0; /* as the hand-written encoders did: "" */
        }
        emit_string(c, it.s, it.n);
        return 0;
    case SG__MP_BIN:
        return fail(c, "binary data has no JSON form");
    case SG__MP_ARRAY:
        emit_open(c, false);
        for (uint32_t i = 0; i < it.n; i++) {
            c->lv[c->depth - 1].i = i;
            rc = walk(c);
            if (rc != 0) {
                return rc;
            }
        }
        emit_close(c);
        return 0;
    case SG__MP_MAP:
    default:
        break;
    }
    if (it.n > MPJ_KEYS_MAX) {
        return fail(c, "a map has more than 64 keys");
    }
    emit_open(c, true);
    /* Record mode: "kind" first, in the place of the schema version. */
    bool first = true, top = c->kind != NULL && c->depth == 1;
    if (top) {
        emit_key(c, "kind", 4, true);
        emit_string(c, c->kind, strlen(c->kind));
        first = false;
    }
    for (uint32_t i = 0; i < it.n; i++) {
        mpj_key k;
        rc = read_key(c, i, &k);
        if (rc != 0) {
            return rc;
        }
        if (top && k.n == 1 && k.s[0] == 'v') {
            sg__mp_item v;
            why = sg__mp_read(&c->r, &v);
            if (why != NULL || v.type != SG__MP_INT) {
                return fail(c, why != NULL ? why : "expected an integer");
            }
            continue;
        }
        emit_key(c, k.s, k.n, first);
        first = false;
        rc = walk(c);
        if (rc != 0) {
            return rc;
        }
    }
    emit_close(c);
    return 0;
}

/* convert runs the walk over p[0..len).  The text mode appends to out
 * and leaves it as it was (the partial text wiped) on error; the jv mode
 * returns the tree in *jv. */
static int convert(const uint8_t *p, size_t len, const char *kind,
                   sg_buf *out, json_t **jv, sg_error *e)
{
    size_t start = out != NULL ? out->len : 0;
    mpj c;
    int rc;

    /* Not `mpj c = {...}`: that would clear the 8 KiB of key tables. */
    c.r = (sg__mp_reader){p, len, 0};
    c.out = out;
    c.root = NULL;
    c.kind = kind;
    c.lenient = kind != NULL;
    c.depth = 0;
    c.e = e;
    rc = walk(&c);
    if (rc == 0 && c.r.pos != len) {
        rc = fail(&c, "trailing bytes after the value");
    }
    if (rc != 0) {
        while (c.depth > 0) {
            if (c.lv[--c.depth].jv != NULL) {
                json_decref(c.lv[c.depth].jv);
            }
        }
        if (out != NULL && out->len > start) {
            sodium_memzero(out->data + start, out->len - start);
            out->len = start;
        }
        json_decref(c.root);
        return rc;
    }
    if (jv != NULL) {
        *jv = c.root;
    }
    return 0;
}

int sg_msgpack_to_json(const uint8_t *p, size_t len, sg_buf *out,
                       sg_error *e)
{
    if ((p == NULL && len > 0) || out == NULL) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    return convert(p, len, NULL, out, NULL, e);
}

int sg_msgpack_to_jv(const uint8_t *p, size_t len, json_t **out, sg_error *e)
{
    if ((p == NULL && len > 0) || out == NULL) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    return convert(p, len, NULL, NULL, out, e);
}

/* ---- Records: encode, then convert. ----
 * The field list lives only in sg_worker_encode / sg_job_encode, whose
 * msgpack already carries the JSON-facing values (enum words, dates and
 * times as text, coordinates as float64).  The one difference between
 * the forms is the envelope: msgpack opens with the schema version "v",
 * JSON with "kind"; record mode writes "kind" first and drops the top
 * "v".  It is also lenient, as the hand-written encoders were, so that
 * an unvalidated record still prints: text that is not UTF-8 becomes ""
 * and a coordinate that is not finite becomes null. */

static void record_convert(sg_buf *mp, const char *kind, sg_buf *out,
                           json_t **jv)
{
    /* Record mode has no error left to meet on our own encoder's bytes. */
    if (convert(mp->data, mp->len, kind, out, jv, NULL) != 0) {
        abort();
    }
    sg_buf_free(mp);
}

void sg_worker_to_json(const sg_worker *w, sg_buf *out)
{
    sg_buf mp;

    sg_buf_init(&mp);
    sg_worker_encode(w, &mp);
    record_convert(&mp, "worker", out, NULL);
}

void sg_job_to_json(const sg_job *j, sg_buf *out)
{
    sg_buf mp;

    sg_buf_init(&mp);
    sg_job_encode(j, &mp);
    record_convert(&mp, "job", out, NULL);
}

json_t *sg_worker_to_jv(const sg_worker *w)
{
    sg_buf mp;
    json_t *v = NULL;

    sg_buf_init(&mp);
    sg_worker_encode(w, &mp);
    record_convert(&mp, "worker", NULL, &v);
    return v;
}

json_t *sg_job_to_jv(const sg_job *j)
{
    sg_buf mp;
    json_t *v = NULL;

    sg_buf_init(&mp);
    sg_job_encode(j, &mp);
    record_convert(&mp, "job", NULL, &v);
    return v;
}
