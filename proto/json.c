/* proto/json.c -- the JSON form of records (NDJSON lines, HTTP bodies).
 * Decoding parses with jansson, converts the value to msgpack bytes and
 * runs the one strict msgpack decoder, so both forms obey exactly the same
 * field rules and error messages.  Encoding builds a jansson object in
 * field order and dumps it compactly with UTF-8 left as is.  A clear ID
 * number that passes through is wiped from every copy made here.  Any
 * thread may call these (jansson is thread-safe for separate values). */
#include <jansson.h>
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

/* ---- Encoding. ---- */

static json_t *must(json_t *v)
{
    if (v == NULL) {
        abort(); /* out of memory */
    }
    return v;
}

static void set(json_t *o, const char *k, json_t *v)
{
    if (json_object_set_new(o, k, must(v)) != 0) {
        abort();
    }
}

/* set_str adds a string; text that is not UTF-8 (an invalid record)
 * becomes "" rather than breaking the output. */
static void set_str(json_t *o, const char *k, const char *s)
{
    json_t *v = json_string(s);

    set(o, k, v != NULL ? v : json_string(""));
}

static void set_enum(json_t *o, const char *k, sg_enum_kind kind, int v)
{
    const char *name = sg_enum_name(kind, v);

    set_str(o, k, name != NULL ? name : "");
}

static void set_date(json_t *o, const char *k, int32_t days)
{
    char d[11];

    sg_date_format(days, d);
    set_str(o, k, d);
}

static void set_skills(json_t *o, const char *k, const sg_skill *s, size_t n)
{
    json_t *a = must(json_array());

    for (size_t i = 0; i < n; i++) {
        const char *code = sg_skill_code(s[i]);
        json_array_append_new(a, must(json_string(code != NULL ? code : "")));
    }
    set(o, k, a);
}

static void set_geo(json_t *o, double lat, double lon)
{
    set(o, "lat", json_real(lat));
    set(o, "lon", json_real(lon));
}

json_t *sg_worker_to_jv(const sg_worker *w)
{
    json_t *o = must(json_object());

    /* The same fields in the same order as sg_worker_encode. */
    set_str(o, "kind", "worker");
    set_str(o, "id", w->id);
    set_str(o, "name", w->name);
    set_str(o, "region", w->region);
    if (w->has_geo) {
        set_geo(o, w->lat, w->lon);
    }
    set_enum(o, "labor_class", SG_ENUM_LABOR, w->labor_class);
    if (w->nskills > 0) {
        set_skills(o, "skills", w->skills, w->nskills);
    }
    set_enum(o, "category", SG_ENUM_CATEGORY, w->category);
    if (w->risk_eliminated) {
        set(o, "risk_eliminated", json_true());
    }
    set_str(o, "household", w->household);
    set_enum(o, "travel", SG_ENUM_TRAVEL, w->travel);
    set(o, "expected_wage", json_integer(w->expected_wage));
    if (w->available_from != SG_DATE_NONE) {
        set_date(o, "available_from", w->available_from);
    }
    if (w->available_to != SG_DATE_NONE) {
        set_date(o, "available_to", w->available_to);
    }
    set_enum(o, "status", SG_ENUM_STATUS, w->status);
    set(o, "seeking", json_boolean(w->seeking));
    if (w->phone[0] != '\0') {
        set_str(o, "phone", w->phone);
    }
    if (w->has_idnum) {
        char hex[2 * SG_IDNUM_HASH_LEN + 1];
        sg_hex(w->idnum_hash, SG_IDNUM_HASH_LEN, hex);
        set_str(o, "id_number_hash", hex);
        set_str(o, "id_number_masked", w->idnum_masked);
    }
    return o;
}

json_t *sg_job_to_jv(const sg_job *j)
{
    json_t *o = must(json_object());
    json_t *classes, *sites;
    char posted[26];

    /* The same fields in the same order as sg_job_encode. */
    set_str(o, "kind", "job");
    set_str(o, "id", j->id);
    set_str(o, "employer", j->employer);
    set_enum(o, "source", SG_ENUM_SOURCE, j->source);
    set_str(o, "title", j->title);
    if (j->nrequired > 0) {
        set_skills(o, "skills_required", j->required, j->nrequired);
    }
    if (j->npreferred > 0) {
        set_skills(o, "skills_preferred", j->preferred, j->npreferred);
    }
    classes = must(json_array());
    for (int c = 0; c < SG_LABOR__COUNT; c++) {
        if (j->labor_classes & (1u << c)) {
            json_array_append_new(
                classes, must(json_string(sg_enum_name(SG_ENUM_LABOR, c))));
        }
    }
    set(o, "labor_classes", classes);
    sites = must(json_array());
    for (size_t i = 0; i < j->nsites && i < SG_SITES_MAX; i++) {
        json_t *s = must(json_object());
        set_str(s, "region", j->sites[i].region);
        if (j->sites[i].has_geo) {
            set_geo(s, j->sites[i].lat, j->sites[i].lon);
        }
        json_array_append_new(sites, s);
    }
    set(o, "sites", sites);
    set(o, "openings", json_integer(j->openings));
    set(o, "wage_min", json_integer(j->wage_min));
    set(o, "wage_max", json_integer(j->wage_max));
    if (j->starts != SG_DATE_NONE) {
        set_date(o, "starts", j->starts);
    }
    if (j->ends != SG_DATE_NONE) {
        set_date(o, "ends", j->ends);
    }
    if (j->contract_months != 0) {
        set(o, "contract_months", json_integer(j->contract_months));
    }
    sg_time_format(j->posted, posted);
    set_str(o, "posted", posted);
    set_enum(o, "state", SG_ENUM_STATE, j->state);
    return o;
}

/* dump appends the compact text of v to out and releases v. */
static void dump(json_t *v, sg_buf *out)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                   JSON_REAL_PRECISION(REAL_DIGITS));

    if (text == NULL) {
        abort();
    }
    sg_buf_append(out, text, strlen(text));
    free(text);
    json_decref(v);
}

void sg_worker_to_json(const sg_worker *w, sg_buf *out)
{
    dump(sg_worker_to_jv(w), out);
}

void sg_job_to_json(const sg_job *j, sg_buf *out)
{
    dump(sg_job_to_jv(j), out);
}
