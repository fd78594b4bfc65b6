/* proto/msgpack.c -- the msgpack form of records: encoder and strict decoder.
 * Encoding uses msgpack-c's packer writing straight into an sg_buf.
 * Decoding does not use msgpack-c's unpacker, which allocates whatever a
 * header claims (a 5-byte array32 header can ask for gigabytes): a small
 * pull reader over the bytes bounds every count by the bytes that remain,
 * refuses ext types and deep nesting, and lets strings point into the
 * input, so decoding allocates nothing.  One pass fills a local record
 * that is copied out only when valid; only after a failure does a second
 * pass check the whole shape and schema version, so that those errors win
 * over field errors.  Any thread may call these. */
#include <math.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define DEPTH_MAX 8 /* record map > sites array > site map, with room */

/* ---- Pull reader. ---- */

/* The reader itself (sg__mp_read) is shared with proto/msg.c through
 * internal.h; these short names keep this file readable. */
typedef sg__mp_reader reader;
typedef sg__mp_item item;

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int k = 0; k < n; k++) {
        v = v << 8 | p[k];
    }
    return v;
}

/* sg__mp_read: see internal.h.  Counts and lengths are checked against
 * the bytes that remain, so nothing a header claims can make a caller
 * loop or copy beyond the input. */
const char *sg__mp_read(sg__mp_reader *r, sg__mp_item *it)
{
    size_t left = r->len - r->pos;
    const uint8_t *p = r->p + r->pos;
    uint8_t c;
    int w = 0; /* width of the length/value after the type byte */
    uint64_t n;

    if (left == 0) {
        return "truncated input";
    }
    c = p[0];
    memset(it, 0, sizeof *it);
    if (c <= 0x7f || c >= 0xe0) {
        it->type = SG__MP_INT;
        it->i = (int8_t)c;
        if (c <= 0x7f) {
            it->i = c;
        }
        r->pos++;
        return NULL;
    }
    if (c >= 0x80 && c <= 0x8f) {
        it->type = SG__MP_MAP;
        n = c & 0x0f;
        goto container;
    }
    if (c >= 0x90 && c <= 0x9f) {
        it->type = SG__MP_ARRAY;
        n = c & 0x0f;
        goto container;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        it->type = SG__MP_STR;
        n = c & 0x1f;
        goto body;
    }
    switch (c) {
    case 0xc0:
        it->type = SG__MP_NIL;
        r->pos++;
        return NULL;
    case 0xc2:
    case 0xc3:
        it->type = SG__MP_BOOL;
        it->b = c == 0xc3;
        r->pos++;
        return NULL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        w = 1 << (c - 0xc4);
        it->type = SG__MP_BIN;
        break;
    case 0xd9:
    case 0xda:
    case 0xdb:
        w = 1 << (c - 0xd9);
        it->type = SG__MP_STR;
        break;
    case 0xdc:
    case 0xdd:
        w = c == 0xdc ? 2 : 4;
        it->type = SG__MP_ARRAY;
        break;
    case 0xde:
    case 0xdf:
        w = c == 0xde ? 2 : 4;
        it->type = SG__MP_MAP;
        break;
    case 0xca:
    case 0xcb:
        w = c == 0xca ? 4 : 8;
        if (left < 1 + (size_t)w) {
            return "truncated input";
        }
        it->type = SG__MP_FLOAT;
        if (w == 4) {
            uint32_t u = (uint32_t)be(p + 1, 4);
            float f;
            memcpy(&f, &u, sizeof f);
            it->f = f;
        } else {
            uint64_t u = be(p + 1, 8);
            memcpy(&it->f, &u, sizeof it->f);
        }
        r->pos += 1 + (size_t)w;
        return NULL;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        w = 1 << ((c - 0xcc) & 3);
        if (left < 1 + (size_t)w) {
            return "truncated input";
        }
        it->type = SG__MP_INT;
        n = be(p + 1, w);
        if (c <= 0xcf) {
            it->big = n > INT64_MAX;
            it->i = it->big ? INT64_MAX : (int64_t)n;
        } else if (w == 8) {
            it->i = (int64_t)n;
        } else {
            /* Sign-extend a narrower two's complement value. */
            uint64_t sign = (uint64_t)1 << (8 * w - 1);
            it->i = (int64_t)((n ^ sign) - sign);
        }
        r->pos += 1 + (size_t)w;
        return NULL;
    case 0xc1:
        return "invalid byte 0xc1";
    default:
        return "extension types are not allowed"; /* 0xc7-c9, 0xd4-d8 */
    }
    if (left < 1 + (size_t)w) {
        return "truncated input";
    }
    n = be(p + 1, w);
    r->pos += (size_t)w;
    if (it->type == SG__MP_ARRAY || it->type == SG__MP_MAP) {
        goto container;
    }
body:
    r->pos++;
    if (n > r->len - r->pos) {
        return "string longer than the rest of the input";
    }
    it->s = (const char *)r->p + r->pos;
    it->n = (uint32_t)n;
    r->pos += (size_t)n;
    return NULL;
container:
    r->pos++;
    /* Every entry takes at least one byte (a map pair two). */
    if ((it->type == SG__MP_MAP ? 2 * n : n) > r->len - r->pos) {
        return it->type == SG__MP_MAP ? "map has more entries than bytes"
                                 : "array has more entries than bytes";
    }
    it->n = (uint32_t)n;
    return NULL;
}

/* skip reads and discards one complete value. */
static const char *skip(reader *r, int depth)
{
    item it;
    const char *why = sg__mp_read(r, &it);
    uint64_t n;

    if (why != NULL) {
        return why;
    }
    if (it.type != SG__MP_ARRAY && it.type != SG__MP_MAP) {
        return NULL;
    }
    if (depth >= DEPTH_MAX) {
        return "nested too deeply";
    }
    n = it.type == SG__MP_MAP ? 2 * (uint64_t)it.n : it.n;
    for (uint64_t k = 0; k < n; k++) {
        why = skip(r, depth + 1);
        if (why != NULL) {
            return why;
        }
    }
    return NULL;
}

/* ---- Error helpers. ---- */

/* Name a key for an error: "key" or "prefix.key", made printable. */
static void key_field(char *out, size_t cap, const char *prefix,
                      const char *s, size_t n)
{
    char q[48];

    sg__quote(s, n, q, sizeof q);
    snprintf(out, cap, "%s%s%s", prefix, *prefix ? "." : "", q);
}

static int type_error(sg_error *e, const char *field, enum sg__mp_type want)
{
    static const char *const what[] = {
        [SG__MP_NIL] = "null",       [SG__MP_BOOL] = "a boolean",
        [SG__MP_INT] = "an integer", [SG__MP_FLOAT] = "a number",
        [SG__MP_STR] = "a string",   [SG__MP_BIN] = "a string",
        [SG__MP_ARRAY] = "an array", [SG__MP_MAP] = "an object",
    };

    return sg_error_set(e, SG_EINVAL, field, "expected %s", what[want]);
}

static int enum_error(sg_error *e, const char *field, sg_enum_kind k)
{
    char list[160];
    size_t o = 0;
    const char *name;

    list[0] = '\0';
    for (int v = 0; (name = sg_enum_name(k, v)) != NULL; v++) {
        int w = snprintf(list + o, sizeof list - o, "%s%s", v ? ", " : "",
                         name);
        if (w < 0 || (size_t)w >= sizeof list - o) {
            break;
        }
        o += (size_t)w;
    }
    return sg_error_set(e, SG_EINVAL, field, "not one of: %s", list);
}

/* ---- Field readers: each reads one value for the named field. ---- */

/* get reads a scalar value; nil is reported as *absent. */
static int get(reader *r, item *it, const char *field, sg_error *e)
{
    const char *why = sg__mp_read(r, it);

    if (why != NULL) {
        return sg_error_set(e, SG_EINVAL, field, "%s", why);
    }
    return 0;
}

static int want(const item *it, enum sg__mp_type t, const char *field,
                sg_error *e)
{
    if (it->type != t) {
        return type_error(e, field, t);
    }
    return 0;
}

static int get_id(const item *it, char *dst, const char *field, sg_error *e)
{
    if (want(it, SG__MP_STR, field, e) != 0) {
        return SG_EINVAL;
    }
    if (it->n == 0) {
        return sg_error_set(e, SG_EINVAL, field, "must not be empty");
    }
    if (!sg_id_valid(it->s, it->n)) {
        return sg_error_set(e, SG_EINVAL, field,
                            it->n > SG_ID_MAX
                                ? "longer than 32 bytes"
                                : "must be 1-32 of A-Z a-z 0-9 _ -");
    }
    memcpy(dst, it->s, it->n);
    dst[it->n] = '\0';
    return 0;
}

static int get_text(const item *it, char *dst, size_t max, const char *field,
                    sg_error *e)
{
    const char *why;

    if (want(it, SG__MP_STR, field, e) != 0) {
        return SG_EINVAL;
    }
    if (it->n == 0) {
        return sg_error_set(e, SG_EINVAL, field, "must not be empty");
    }
    if (it->n > max) {
        return sg_error_set(e, SG_EINVAL, field, "longer than %zu bytes",
                            max);
    }
    why = sg__text_check(it->s, it->n);
    if (why != NULL) {
        return sg_error_set(e, SG_EINVAL, field, "%s", why);
    }
    memcpy(dst, it->s, it->n);
    dst[it->n] = '\0';
    return 0;
}

static int get_region(const item *it, char *dst, const char *field,
                      sg_error *e)
{
    sg_error re;

    if (want(it, SG__MP_STR, field, e) != 0) {
        return SG_EINVAL;
    }
    sg_error_clear(&re);
    if (sg_region_check(it->s, it->n, &re) != 0) {
        return sg_error_set(e, SG_EINVAL, field, "%s",
                            re.reason[0] ? re.reason : "not a known region");
    }
    if (it->n != SG_REGION_LEN) {
        /* sg_region_check accepted a code that does not fit. */
        return sg_error_set(e, SG_EINVAL, field, "must be 12 digits");
    }
    memcpy(dst, it->s, SG_REGION_LEN);
    dst[SG_REGION_LEN] = '\0';
    return 0;
}

static int get_int(const item *it, int64_t max, int32_t *dst,
                   const char *field, sg_error *e)
{
    if (want(it, SG__MP_INT, field, e) != 0) {
        return SG_EINVAL;
    }
    if (it->big || it->i < 0 || it->i > max) {
        return sg_error_set(e, SG_EINVAL, field,
                            "must be an integer from 0 to %lld",
                            (long long)max);
    }
    *dst = (int32_t)it->i;
    return 0;
}

/* get_degrees reads a latitude (max 90) or longitude (max 180), rounded
 * to 1e-6 degree so that every form carries the same value. */
static int get_degrees(const item *it, double max, double *dst,
                       const char *field, sg_error *e)
{
    double v;

    if (it->type == SG__MP_INT) {
        v = it->big ? INFINITY : (double)it->i;
    } else if (it->type == SG__MP_FLOAT) {
        v = it->f;
    } else {
        return sg_error_set(e, SG_EINVAL, field, "expected a number");
    }
    if (isfinite(v)) {
        v = round(v * 1e6) / 1e6;
    }
    if (!isfinite(v) || v < -max || v > max) {
        return sg_error_set(e, SG_EINVAL, field,
                            "must be a number from %g to %g", -max, max);
    }
    *dst = v == 0.0 ? 0.0 : v; /* no negative zero */
    return 0;
}

static int get_enum(const item *it, sg_enum_kind k, uint8_t *dst,
                    const char *field, sg_error *e)
{
    int v;

    if (want(it, SG__MP_STR, field, e) != 0) {
        return SG_EINVAL;
    }
    v = sg_enum_parse(k, it->s, it->n);
    if (v < 0) {
        return enum_error(e, field, k);
    }
    *dst = (uint8_t)v;
    return 0;
}

static int get_date(const item *it, int32_t *dst, const char *field,
                    sg_error *e)
{
    if (want(it, SG__MP_STR, field, e) != 0) {
        return SG_EINVAL;
    }
    if (sg_date_parse(it->s, it->n, dst) != 0) {
        return sg_error_set(e, SG_EINVAL, field,
                            "not a date YYYY-MM-DD from 1900 to 2199");
    }
    return 0;
}

static int get_bool(const item *it, bool *dst, const char *field,
                    sg_error *e)
{
    if (want(it, SG__MP_BOOL, field, e) != 0) {
        return SG_EINVAL;
    }
    *dst = it->b;
    return 0;
}

static void sort_skills(sg_skill *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        sg_skill v = s[i];
        size_t k = i;
        while (k > 0 && s[k - 1] > v) {
            s[k] = s[k - 1];
            k--;
        }
        s[k] = v;
    }
}

/* get_skills reads an array of skill codes (the header is in arr) into
 * out[max], sorted by id. */
static int get_skills(reader *r, const item *arr, size_t max, sg_skill *out,
                      uint8_t *nout, const char *name, sg_error *e)
{
    char field[48];
    item it;

    if (want(arr, SG__MP_ARRAY, name, e) != 0) {
        return SG_EINVAL;
    }
    if (arr->n > max) {
        return sg_error_set(e, SG_EINVAL, name, "more than %zu entries", max);
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        const char *why = sg__mp_read(r, &it);
        sg_skill s = 0;
        char q[64];

        /* The field name is built only for an error: this is hot. */
        if (why == NULL && it.type == SG__MP_STR &&
            sg_skill_find(it.s, it.n, &s) == 0) {
            uint32_t k = 0;
            while (k < i && out[k] != s) {
                k++;
            }
            if (k == i) {
                out[i] = s;
                continue;
            }
        }
        snprintf(field, sizeof field, "%s[%u]", name, (unsigned)i);
        if (why != NULL) {
            return sg_error_set(e, SG_EINVAL, field, "%s", why);
        }
        if (it.type != SG__MP_STR) {
            return type_error(e, field, SG__MP_STR);
        }
        if (s == 0) {
            sg__quote(it.s, it.n, q, sizeof q);
            return sg_error_set(e, SG_EINVAL, field,
                                "unknown skill code \"%s\"", q);
        }
        return sg_error_set(e, SG_EINVAL, field, "repeated skill code");
    }
    *nout = (uint8_t)arr->n;
    sort_skills(out, arr->n);
    return 0;
}

/* ---- Keys. ---- */

/* A key name with its length, so that lookups compare lengths first. */
typedef struct keyname {
    const char *s; /* the name */
    uint8_t n;     /* strlen(s) */
} keyname;
#define K(name) {name, sizeof(name) - 1}

/* The search starts at from, the entry after the previous key: records
 * written by our encoders list keys in table order, so it usually hits at
 * once. */
static int find_key(const keyname *keys, int n, int from, const item *k)
{
    for (int j = 0, i = from; j < n; j++, i = i + 1 < n ? i + 1 : 0) {
        if (keys[i].n == k->n) {
            /* Keys are short: a loop beats a call to memcmp here. */
            uint32_t c = 0;
            while (c < k->n && keys[i].s[c] == k->s[c]) {
                c++;
            }
            if (c == k->n) {
                return i;
            }
        }
    }
    return -1;
}

/* read_key reads a map key: a string, known, and not seen before.  *idx
 * is the index of the previous key (or -1) on entry, of this one on
 * return. */
static int read_key(reader *r, const keyname *keys, int nkeys,
                    uint32_t *seen, const char *prefix, int *idx,
                    sg_error *e)
{
    char field[64];
    item k;
    int i;

    if (get(r, &k, prefix, e) != 0) {
        return SG_EINVAL;
    }
    if (k.type != SG__MP_STR) {
        return sg_error_set(e, SG_EINVAL, prefix, "a key is not a string");
    }
    i = find_key(keys, nkeys, *idx + 1 < nkeys ? *idx + 1 : 0, &k);
    if (i < 0) {
        key_field(field, sizeof field, prefix, k.s, k.n);
        return sg_error_set(e, SG_EINVAL, field, "unknown field");
    }
    if (*seen & (1u << i)) {
        key_field(field, sizeof field, prefix, k.s, k.n);
        return sg_error_set(e, SG_EINVAL, field, "duplicate key");
    }
    *seen |= 1u << i;
    *idx = i;
    return 0;
}

/* ---- Shape and schema version. ---- */

/* check_shape walks the whole input: a map at the top, every value well
 * formed, nothing after it, and "v" (if given) the supported version.
 * The decoders run it only after they failed, so that a record of another
 * schema version or a malformed one is reported as such rather than by
 * whichever field came first; the hot path reads the bytes once. */
static int check_shape(const uint8_t *p, size_t len, sg_error *e)
{
    reader r = {p, len, 0};
    char field[64];
    const char *why;
    item top, k, v;

    why = sg__mp_read(&r, &top);
    if (why != NULL) {
        return sg_error_set(e, SG_EINVAL, "", "%s", why);
    }
    if (top.type != SG__MP_MAP) {
        return sg_error_set(e, SG_EINVAL, "", "expected an object");
    }
    for (uint32_t i = 0; i < top.n; i++) {
        why = sg__mp_read(&r, &k);
        if (why != NULL) {
            return sg_error_set(e, SG_EINVAL, "", "%s", why);
        }
        if (k.type != SG__MP_STR) {
            return sg_error_set(e, SG_EINVAL, "", "a key is not a string");
        }
        if (k.n == 1 && k.s[0] == 'v') {
            why = sg__mp_read(&r, &v);
            if (why != NULL) {
                return sg_error_set(e, SG_EINVAL, "v", "%s", why);
            }
            if (v.type != SG__MP_INT) {
                return type_error(e, "v", SG__MP_INT);
            }
            if (v.big || v.i != SG_SCHEMA_VERSION) {
                return sg_error_set(e, SG_EVERSION, "v",
                                    "schema version %lld is not supported",
                                    (long long)v.i);
            }
            continue;
        }
        why = skip(&r, 1);
        if (why != NULL) {
            key_field(field, sizeof field, "", k.s, k.n);
            return sg_error_set(e, SG_EINVAL, field, "%s", why);
        }
    }
    if (r.pos != len) {
        return sg_error_set(e, SG_EINVAL, "",
                            "trailing bytes after the record");
    }
    return 0;
}

/* shape_first replaces the field error rc (already in e) by the error of
 * check_shape, when the input as a whole is malformed or of another
 * schema version. */
static int shape_first(const uint8_t *p, size_t len, int rc, sg_error *e)
{
    sg_error se;
    int src = check_shape(p, len, &se);

    if (src == 0) {
        return rc;
    }
    if (e != NULL) {
        *e = se;
    }
    return src;
}

static int check_kind(const item *it, const char *kind, sg_error *e)
{
    if (want(it, SG__MP_STR, "kind", e) != 0) {
        return SG_EINVAL;
    }
    if (strlen(kind) != it->n || memcmp(kind, it->s, it->n) != 0) {
        return sg_error_set(e, SG_EINVAL, "kind", "must be \"%s\"", kind);
    }
    return 0;
}

/* ---- Worker. ---- */

enum {
    WF_V,
    WF_KIND,
    WF_ID,
    WF_NAME,
    WF_REGION,
    WF_LAT,
    WF_LON,
    WF_LABOR,
    WF_SKILLS,
    WF_CATEGORY,
    WF_RISK,
    WF_HOUSEHOLD,
    WF_TRAVEL,
    WF_WAGE,
    WF_FROM,
    WF_TO,
    WF_STATUS,
    WF_SEEKING,
    WF_PHONE,
    WF_IDNUM,
    WF_IDHASH,
    WF_IDMASKED,
    WF__COUNT
};

static const keyname worker_keys[WF__COUNT] = {
    K("v"), K("kind"), K("id"), K("name"), K("region"), K("lat"), K("lon"),
    K("labor_class"), K("skills"), K("category"), K("risk_eliminated"),
    K("household"), K("travel"), K("expected_wage"), K("available_from"),
    K("available_to"), K("status"), K("seeking"), K("phone"), K("id_number"),
    K("id_number_hash"), K("id_number_masked"),
};

/* Required fields of a worker, in the order they are reported. */
static const int worker_required[] = {
    WF_ID,       WF_NAME,  WF_REGION,    WF_LABOR,  WF_CATEGORY,
    WF_HOUSEHOLD, WF_TRAVEL, WF_WAGE,    WF_STATUS, WF_SEEKING,
};

static int worker_field(reader *r, int f, const uint8_t *idkey, sg_worker *w,
                        uint32_t *given, sg_error *e)
{
    const char *name = worker_keys[f].s;
    item it;

    if (get(r, &it, name, e) != 0) {
        return SG_EINVAL;
    }
    if (it.type == SG__MP_NIL) {
        return 0; /* absent; a required field is reported later */
    }
    *given |= 1u << f;
    switch (f) {
    case WF_V:
        /* Any other value makes shape_first report the version. */
        return it.type == SG__MP_INT && !it.big && it.i == SG_SCHEMA_VERSION
                   ? 0
                   : SG_EVERSION;
    case WF_KIND:
        return check_kind(&it, "worker", e);
    case WF_ID:
        return get_id(&it, w->id, name, e);
    case WF_NAME:
        return get_text(&it, w->name, SG_NAME_MAX, name, e);
    case WF_REGION:
        return get_region(&it, w->region, name, e);
    case WF_LAT:
        return get_degrees(&it, 90.0, &w->lat, name, e);
    case WF_LON:
        return get_degrees(&it, 180.0, &w->lon, name, e);
    case WF_LABOR:
        return get_enum(&it, SG_ENUM_LABOR, &w->labor_class, name, e);
    case WF_SKILLS:
        return get_skills(r, &it, SG_SKILLS_MAX, w->skills, &w->nskills,
                          name, e);
    case WF_CATEGORY:
        return get_enum(&it, SG_ENUM_CATEGORY, &w->category, name, e);
    case WF_RISK:
        return get_bool(&it, &w->risk_eliminated, name, e);
    case WF_HOUSEHOLD:
        return get_id(&it, w->household, name, e);
    case WF_TRAVEL:
        return get_enum(&it, SG_ENUM_TRAVEL, &w->travel, name, e);
    case WF_WAGE:
        return get_int(&it, SG_WAGE_MAX, &w->expected_wage, name, e);
    case WF_FROM:
        return get_date(&it, &w->available_from, name, e);
    case WF_TO:
        return get_date(&it, &w->available_to, name, e);
    case WF_STATUS:
        return get_enum(&it, SG_ENUM_STATUS, &w->status, name, e);
    case WF_SEEKING:
        return get_bool(&it, &w->seeking, name, e);
    case WF_PHONE:
        if (want(&it, SG__MP_STR, name, e) != 0) {
            return SG_EINVAL;
        }
        if (!sg__phone_ok(it.s, it.n)) {
            return sg_error_set(e, SG_EINVAL, name,
                                "must be 5-20 of digits, '+', '-', ' '");
        }
        memcpy(w->phone, it.s, it.n);
        w->phone[it.n] = '\0';
        return 0;
    case WF_IDNUM:
        /* The clear number is hashed at once and never copied into the
         * record; its errors never quote it. */
        if (want(&it, SG__MP_STR, name, e) != 0) {
            return SG_EINVAL;
        }
        if (idkey == NULL) {
            return sg_error_set(e, SG_EINVAL, name, "no key to protect it");
        }
        return sg_idnum_protect(w, it.s, it.n, idkey, e); /* names it */
    case WF_IDHASH:
        if (want(&it, SG__MP_STR, name, e) != 0) {
            return SG_EINVAL;
        }
        if (!sg__hex_parse(it.s, it.n, w->idnum_hash, SG_IDNUM_HASH_LEN)) {
            return sg_error_set(e, SG_EINVAL, name,
                                "must be 64 lowercase hex digits");
        }
        return 0;
    case WF_IDMASKED:
        if (want(&it, SG__MP_STR, name, e) != 0) {
            return SG_EINVAL;
        }
        if (!sg__masked_ok(it.s, it.n)) {
            return sg_error_set(e, SG_EINVAL, name,
                                "must be 6 digits, 8 '*', 3 digits and a "
                                "digit or X");
        }
        memcpy(w->idnum_masked, it.s, it.n);
        w->idnum_masked[it.n] = '\0';
        return 0;
    default:
        return sg_error_set(e, SG_EINVAL, name, "unknown field");
    }
}

/* pair_check reports a field given without its partner (lat/lon). */
static int pair_check(uint32_t given, int a, int b, const keyname *keys,
                      sg_error *e)
{
    bool ha = given & (1u << a), hb = given & (1u << b);

    if (ha && !hb) {
        return sg_error_set(e, SG_EINVAL, keys[b].s,
                            "missing: %s and %s go together", keys[a].s,
                            keys[b].s);
    }
    if (hb && !ha) {
        return sg_error_set(e, SG_EINVAL, keys[a].s,
                            "missing: %s and %s go together", keys[a].s,
                            keys[b].s);
    }
    return 0;
}

int sg__worker_decode_mp(const uint8_t *p, size_t len, const uint8_t *idkey,
                         sg_worker *out, sg_error *e)
{
    reader r = {p, len, 0};
    uint32_t seen = 0, given = 0;
    sg_worker w;
    item top;
    int rc, f = -1;

    sg_worker_init(&w);
    if ((rc = get(&r, &top, "", e)) != 0 ||
        (rc = want(&top, SG__MP_MAP, "", e)) != 0) {
        goto out_wipe;
    }
    for (uint32_t i = 0; i < top.n; i++) {
        if ((rc = read_key(&r, worker_keys, WF__COUNT, &seen, "", &f, e)) !=
                0 ||
            (rc = worker_field(&r, f, idkey, &w, &given, e)) != 0) {
            goto out_wipe;
        }
    }
    for (size_t i = 0; i < sizeof worker_required / sizeof *worker_required;
         i++) {
        if (!(given & (1u << worker_required[i]))) {
            rc = sg_error_set(e, SG_EINVAL, worker_keys[worker_required[i]].s,
                              "missing required field");
            goto out_wipe;
        }
    }
    if ((rc = pair_check(given, WF_LAT, WF_LON, worker_keys, e)) != 0 ||
        (rc = pair_check(given, WF_IDHASH, WF_IDMASKED, worker_keys, e)) !=
            0) {
        goto out_wipe;
    }
    if ((given & (1u << WF_IDNUM)) && (given & (1u << WF_IDHASH))) {
        rc = sg_error_set(e, SG_EINVAL, "id_number_hash",
                          "not allowed together with id_number");
        goto out_wipe;
    }
    if (r.pos != len) {
        rc = sg_error_set(e, SG_EINVAL, "", "trailing bytes after the record");
        goto out_wipe;
    }
    w.has_geo = given & (1u << WF_LAT);
    w.has_idnum = given & ((1u << WF_IDNUM) | (1u << WF_IDHASH));
    rc = sg__worker_check(&w, false, e); /* regions checked above */
    if (rc != 0) {
        goto out_wipe;
    }
    *out = w;
    return 0;
out_wipe:
    sodium_memzero(&w, sizeof w); /* drop any hash of a rejected record */
    return shape_first(p, len, rc, e);
}

int sg_worker_decode(const uint8_t *p, size_t len, const uint8_t *idkey,
                     sg_worker *out, sg_error *e)
{
    if (p == NULL && len > 0) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    if (out == NULL) {
        return sg_error_set(e, SG_EINVAL, "", "no output record");
    }
    if (len > SG_RECORD_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "", "longer than %d bytes",
                            SG_RECORD_MAX);
    }
    return sg__worker_decode_mp(p, len, idkey, out, e);
}

/* ---- Job. ---- */

enum {
    JF_V,
    JF_KIND,
    JF_ID,
    JF_EMPLOYER,
    JF_SOURCE,
    JF_TITLE,
    JF_REQUIRED,
    JF_PREFERRED,
    JF_LABOR,
    JF_SITES,
    JF_OPENINGS,
    JF_WAGE_MIN,
    JF_WAGE_MAX,
    JF_STARTS,
    JF_ENDS,
    JF_CONTRACT,
    JF_POSTED,
    JF_STATE,
    JF__COUNT
};

static const keyname job_keys[JF__COUNT] = {
    K("v"), K("kind"), K("id"), K("employer"), K("source"), K("title"),
    K("skills_required"), K("skills_preferred"), K("labor_classes"),
    K("sites"), K("openings"), K("wage_min"), K("wage_max"), K("starts"),
    K("ends"), K("contract_months"), K("posted"), K("state"),
};

static const int job_required[] = {
    JF_ID,    JF_EMPLOYER, JF_SOURCE,   JF_TITLE,    JF_LABOR,
    JF_SITES, JF_OPENINGS, JF_WAGE_MIN, JF_WAGE_MAX, JF_POSTED,
};

enum { SF_REGION, SF_LAT, SF_LON, SF__COUNT };
static const keyname site_keys[SF__COUNT] = {K("region"), K("lat"), K("lon")};

static int get_labor_classes(reader *r, const item *arr, uint8_t *dst,
                             sg_error *e)
{
    const char *name = "labor_classes";
    char field[48];
    uint8_t bits = 0, v;
    item it;

    if (want(arr, SG__MP_ARRAY, name, e) != 0) {
        return SG_EINVAL;
    }
    if (arr->n < 1 || arr->n > SG_LABOR__COUNT) {
        return sg_error_set(e, SG_EINVAL, name,
                            "must have 1-%d entries", SG_LABOR__COUNT);
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        snprintf(field, sizeof field, "%s[%u]", name, (unsigned)i);
        if (get(r, &it, field, e) != 0 ||
            get_enum(&it, SG_ENUM_LABOR, &v, field, e) != 0) {
            return SG_EINVAL;
        }
        if (bits & (1u << v)) {
            return sg_error_set(e, SG_EINVAL, field,
                                "repeated labor class");
        }
        bits |= (uint8_t)(1u << v);
    }
    *dst = bits;
    return 0;
}

static int get_site(reader *r, size_t idx, sg_site *s, sg_error *e)
{
    char prefix[24], field[48];
    uint32_t seen = 0, given = 0;
    item m, it;
    bool has_lat;
    int f = -1, rc;

    snprintf(prefix, sizeof prefix, "sites[%zu]", idx);
    if (get(r, &m, prefix, e) != 0 || want(&m, SG__MP_MAP, prefix, e) != 0) {
        return SG_EINVAL;
    }
    for (uint32_t i = 0; i < m.n; i++) {
        if (read_key(r, site_keys, SF__COUNT, &seen, prefix, &f, e) != 0) {
            return SG_EINVAL;
        }
        snprintf(field, sizeof field, "%s.%s", prefix, site_keys[f].s);
        if (get(r, &it, field, e) != 0) {
            return SG_EINVAL;
        }
        if (it.type == SG__MP_NIL) {
            continue;
        }
        given |= 1u << f;
        rc = f == SF_REGION ? get_region(&it, s->region, field, e)
             : f == SF_LAT  ? get_degrees(&it, 90.0, &s->lat, field, e)
                            : get_degrees(&it, 180.0, &s->lon, field, e);
        if (rc != 0) {
            return rc;
        }
    }
    if (!(given & (1u << SF_REGION))) {
        snprintf(field, sizeof field, "%s.region", prefix);
        return sg_error_set(e, SG_EINVAL, field, "missing required field");
    }
    has_lat = given & (1u << SF_LAT);
    if (has_lat != ((given & (1u << SF_LON)) != 0)) {
        snprintf(field, sizeof field, "%s.%s", prefix, has_lat ? "lon" : "lat");
        return sg_error_set(e, SG_EINVAL, field,
                            "missing: lat and lon go together");
    }
    s->has_geo = has_lat;
    return 0;
}

static int get_sites(reader *r, const item *arr, sg_job *j, sg_error *e)
{
    if (want(arr, SG__MP_ARRAY, "sites", e) != 0) {
        return SG_EINVAL;
    }
    if (arr->n < 1 || arr->n > SG_SITES_MAX) {
        return sg_error_set(e, SG_EINVAL, "sites", "must have 1-%d entries",
                            SG_SITES_MAX);
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        if (get_site(r, i, &j->sites[i], e) != 0) {
            return SG_EINVAL;
        }
    }
    j->nsites = (uint8_t)arr->n;
    return 0;
}

static int job_field(reader *r, int f, sg_job *j, uint32_t *given,
                     sg_error *e)
{
    const char *name = job_keys[f].s;
    item it;

    if (get(r, &it, name, e) != 0) {
        return SG_EINVAL;
    }
    if (it.type == SG__MP_NIL) {
        return 0;
    }
    *given |= 1u << f;
    switch (f) {
    case JF_V:
        return it.type == SG__MP_INT && !it.big && it.i == SG_SCHEMA_VERSION
                   ? 0
                   : SG_EVERSION;
    case JF_KIND:
        return check_kind(&it, "job", e);
    case JF_ID:
        return get_id(&it, j->id, name, e);
    case JF_EMPLOYER:
        return get_id(&it, j->employer, name, e);
    case JF_SOURCE:
        return get_enum(&it, SG_ENUM_SOURCE, &j->source, name, e);
    case JF_TITLE:
        return get_text(&it, j->title, SG_TITLE_MAX, name, e);
    case JF_REQUIRED:
        return get_skills(r, &it, SG_REQ_SKILLS_MAX, j->required,
                          &j->nrequired, name, e);
    case JF_PREFERRED:
        return get_skills(r, &it, SG_REQ_SKILLS_MAX, j->preferred,
                          &j->npreferred, name, e);
    case JF_LABOR:
        return get_labor_classes(r, &it, &j->labor_classes, e);
    case JF_SITES:
        return get_sites(r, &it, j, e);
    case JF_OPENINGS:
        return get_int(&it, SG_OPENINGS_MAX, &j->openings, name, e);
    case JF_WAGE_MIN:
        return get_int(&it, SG_WAGE_MAX, &j->wage_min, name, e);
    case JF_WAGE_MAX:
        return get_int(&it, SG_WAGE_MAX, &j->wage_max, name, e);
    case JF_STARTS:
        return get_date(&it, &j->starts, name, e);
    case JF_ENDS:
        return get_date(&it, &j->ends, name, e);
    case JF_CONTRACT:
        return get_int(&it, SG_CONTRACT_MAX, &j->contract_months, name, e);
    case JF_POSTED:
        if (want(&it, SG__MP_STR, name, e) != 0) {
            return SG_EINVAL;
        }
        if (sg_time_parse(it.s, it.n, &j->posted) != 0) {
            return sg_error_set(e, SG_EINVAL, name,
                                "not an RFC 3339 time from 1900 to 2199 "
                                "(2024-03-01T08:00:00+08:00)");
        }
        return 0;
    case JF_STATE:
        return get_enum(&it, SG_ENUM_STATE, &j->state, name, e);
    default:
        return sg_error_set(e, SG_EINVAL, name, "unknown field");
    }
}

int sg__job_decode_mp(const uint8_t *p, size_t len, sg_job *out,
                      sg_error *e)
{
    reader r = {p, len, 0};
    uint32_t seen = 0, given = 0;
    sg_job j;
    item top;
    int rc, f = -1;

    sg_job_init(&j);
    if ((rc = get(&r, &top, "", e)) != 0 ||
        (rc = want(&top, SG__MP_MAP, "", e)) != 0) {
        return shape_first(p, len, rc, e);
    }
    for (uint32_t i = 0; i < top.n; i++) {
        if ((rc = read_key(&r, job_keys, JF__COUNT, &seen, "", &f, e)) != 0 ||
            (rc = job_field(&r, f, &j, &given, e)) != 0) {
            return shape_first(p, len, rc, e);
        }
    }
    for (size_t i = 0; i < sizeof job_required / sizeof *job_required; i++) {
        if (!(given & (1u << job_required[i]))) {
            rc = sg_error_set(e, SG_EINVAL, job_keys[job_required[i]].s,
                              "missing required field");
            return shape_first(p, len, rc, e);
        }
    }
    if (r.pos != len) {
        rc = sg_error_set(e, SG_EINVAL, "", "trailing bytes after the record");
        return shape_first(p, len, rc, e);
    }
    rc = sg__job_check(&j, false, e); /* regions checked above */
    if (rc != 0) {
        return shape_first(p, len, rc, e);
    }
    *out = j;
    return 0;
}

int sg_job_decode(const uint8_t *p, size_t len, sg_job *out, sg_error *e)
{
    if (p == NULL && len > 0) {
        return sg_error_set(e, SG_EINVAL, "", "no input");
    }
    if (out == NULL) {
        return sg_error_set(e, SG_EINVAL, "", "no output record");
    }
    if (len > SG_RECORD_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "", "longer than %d bytes",
                            SG_RECORD_MAX);
    }
    return sg__job_decode_mp(p, len, out, e);
}

/* ---- Encoders. ---- */

static int buf_write(void *data, const char *p, size_t n)
{
    sg_buf_append(data, p, n);
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
    pack_str(pk, k);
    pack_str(pk, v);
}

/* pack_enum writes the wire name of v ("" if the record is invalid). */
static void pack_enum(msgpack_packer *pk, const char *k, sg_enum_kind kind,
                      int v)
{
    const char *name = sg_enum_name(kind, v);

    pack_kv(pk, k, name != NULL ? name : "");
}

static void pack_date(msgpack_packer *pk, const char *k, int32_t days)
{
    char d[11];

    sg_date_format(days, d);
    pack_kv(pk, k, d);
}

static void pack_skills(msgpack_packer *pk, const char *k, const sg_skill *s,
                        size_t n)
{
    pack_str(pk, k);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const char *code = sg_skill_code(s[i]);
        pack_str(pk, code != NULL ? code : "");
    }
}

static void pack_geo(msgpack_packer *pk, double lat, double lon)
{
    pack_str(pk, "lat");
    msgpack_pack_double(pk, lat);
    pack_str(pk, "lon");
    msgpack_pack_double(pk, lon);
}

/* Fields are written in the order of records.md; optional fields only
 * when given (empty skill lists, risk_eliminated false and
 * contract_months 0 count as not given), so equal records encode to
 * equal bytes. */
void sg_worker_encode(const sg_worker *w, sg_buf *out)
{
    msgpack_packer pk;
    size_t n = 11; /* v and the ten required fields */

    n += w->has_geo ? 2 : 0;
    n += w->nskills > 0;
    n += w->risk_eliminated;
    n += w->available_from != SG_DATE_NONE;
    n += w->available_to != SG_DATE_NONE;
    n += w->phone[0] != '\0';
    n += w->has_idnum ? 2 : 0;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, n);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, SG_SCHEMA_VERSION);
    pack_kv(&pk, "id", w->id);
    pack_kv(&pk, "name", w->name);
    pack_kv(&pk, "region", w->region);
    if (w->has_geo) {
        pack_geo(&pk, w->lat, w->lon);
    }
    pack_enum(&pk, "labor_class", SG_ENUM_LABOR, w->labor_class);
    if (w->nskills > 0) {
        pack_skills(&pk, "skills", w->skills, w->nskills);
    }
    pack_enum(&pk, "category", SG_ENUM_CATEGORY, w->category);
    if (w->risk_eliminated) {
        pack_str(&pk, "risk_eliminated");
        msgpack_pack_true(&pk);
    }
    pack_kv(&pk, "household", w->household);
    pack_enum(&pk, "travel", SG_ENUM_TRAVEL, w->travel);
    pack_str(&pk, "expected_wage");
    msgpack_pack_int32(&pk, w->expected_wage);
    if (w->available_from != SG_DATE_NONE) {
        pack_date(&pk, "available_from", w->available_from);
    }
    if (w->available_to != SG_DATE_NONE) {
        pack_date(&pk, "available_to", w->available_to);
    }
    pack_enum(&pk, "status", SG_ENUM_STATUS, w->status);
    pack_str(&pk, "seeking");
    if (w->seeking) {
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_false(&pk);
    }
    if (w->phone[0] != '\0') {
        pack_kv(&pk, "phone", w->phone);
    }
    if (w->has_idnum) {
        char hex[2 * SG_IDNUM_HASH_LEN + 1];
        sg_hex(w->idnum_hash, SG_IDNUM_HASH_LEN, hex);
        pack_kv(&pk, "id_number_hash", hex);
        pack_kv(&pk, "id_number_masked", w->idnum_masked);
    }
}

void sg_job_encode(const sg_job *j, sg_buf *out)
{
    msgpack_packer pk;
    char posted[26];
    size_t nclasses = 0;
    size_t n = 12; /* v, state and the ten required fields */

    n += j->nrequired > 0;
    n += j->npreferred > 0;
    n += j->starts != SG_DATE_NONE;
    n += j->ends != SG_DATE_NONE;
    n += j->contract_months != 0;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, n);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, SG_SCHEMA_VERSION);
    pack_kv(&pk, "id", j->id);
    pack_kv(&pk, "employer", j->employer);
    pack_enum(&pk, "source", SG_ENUM_SOURCE, j->source);
    pack_kv(&pk, "title", j->title);
    if (j->nrequired > 0) {
        pack_skills(&pk, "skills_required", j->required, j->nrequired);
    }
    if (j->npreferred > 0) {
        pack_skills(&pk, "skills_preferred", j->preferred, j->npreferred);
    }
    pack_str(&pk, "labor_classes");
    for (int c = 0; c < SG_LABOR__COUNT; c++) {
        nclasses += (j->labor_classes >> c) & 1u;
    }
    msgpack_pack_array(&pk, nclasses);
    for (int c = 0; c < SG_LABOR__COUNT; c++) {
        if (j->labor_classes & (1u << c)) {
            pack_str(&pk, sg_enum_name(SG_ENUM_LABOR, c));
        }
    }
    pack_str(&pk, "sites");
    msgpack_pack_array(&pk, j->nsites);
    for (size_t i = 0; i < j->nsites; i++) {
        const sg_site *s = &j->sites[i];
        msgpack_pack_map(&pk, s->has_geo ? 3 : 1);
        pack_kv(&pk, "region", s->region);
        if (s->has_geo) {
            pack_geo(&pk, s->lat, s->lon);
        }
    }
    pack_str(&pk, "openings");
    msgpack_pack_int32(&pk, j->openings);
    pack_str(&pk, "wage_min");
    msgpack_pack_int32(&pk, j->wage_min);
    pack_str(&pk, "wage_max");
    msgpack_pack_int32(&pk, j->wage_max);
    if (j->starts != SG_DATE_NONE) {
        pack_date(&pk, "starts", j->starts);
    }
    if (j->ends != SG_DATE_NONE) {
        pack_date(&pk, "ends", j->ends);
    }
    if (j->contract_months != 0) {
        pack_str(&pk, "contract_months");
        msgpack_pack_int32(&pk, j->contract_months);
    }
    sg_time_format(j->posted, posted);
    pack_kv(&pk, "posted", posted);
    pack_enum(&pk, "state", SG_ENUM_STATE, j->state);
}
