/* tests/proto_test.c -- tests of proto/: enums, dates and times, ID
 * numbers, validation, the msgpack and JSON forms of records.
 * Bad input is fed through both forms (a JSON text and the same value as
 * msgpack) and must fail with the same field and reason; hostile headers,
 * truncations and random mutations must fail cleanly.  Expected values are
 * written out by hand or computed here independently of proto/.  One
 * thread; cmocka. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>

#include "songgang/err.h"
#include "songgang/proto.h"

static const uint8_t KEY1[SG_IDNUM_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t KEY2[SG_IDNUM_KEY_LEN] = {9, 9, 9};

/* The sample number printed in GB 11643-1999 itself. */
#define IDNUM "11010519491231002X"
#define IDNUM_MASKED "110105********002X"
#define IDNUM_BIRTH "19491231"

/* Skill ids of the taxonomy (data/skills.tsv), fixed forever. */
enum { WELD = 1, SEW = 2, CLEANING = 4, COOKING = 9, HANDICRAFT = 13 };

static const char WORKER_JSON[] =
    "{\"id\":\"w-001\",\"name\":\"张三\",\"region\":\"360425100201\","
    "\"lat\":29.118,\"lon\":115.82,\"labor_class\":\"skilled\","
    "\"skills\":[\"cooking\",\"weld\"],\"category\":\"monitored\","
    "\"risk_eliminated\":true,\"household\":\"hh_01\",\"travel\":\"county\","
    "\"expected_wage\":3500,\"available_from\":\"2024-03-01\","
    "\"available_to\":\"2024-12-31\",\"status\":\"idle\",\"seeking\":true,"
    "\"phone\":\"+86 138-0000-0000\"}";

static const char JOB_JSON[] =
    "{\"id\":\"j-001\",\"employer\":\"emp_9\",\"source\":\"workshop\","
    "\"title\":\"缝纫工 (帮扶车间)\",\"skills_required\":[\"sew\"],"
    "\"skills_preferred\":[\"handicraft\",\"cleaning\"],"
    "\"labor_classes\":[\"half\",\"ordinary\"],"
    "\"sites\":[{\"region\":\"360425100201\",\"lat\":29.1,\"lon\":115.8},"
    "{\"region\":\"360425101201\"}],\"openings\":12,\"wage_min\":2500,"
    "\"wage_max\":3500,\"starts\":\"2024-03-01\",\"ends\":\"2024-12-31\","
    "\"contract_months\":10,\"posted\":\"2024-03-01T08:00:00+08:00\","
    "\"state\":\"closed\"}";

/* ---- Helpers. ---- */

static int buf_write(void *data, const char *p, size_t n)
{
    sg_buf_append(data, p, n);
    return 0;
}

static void pack_json(msgpack_packer *pk, json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach(v, k, x)
        {
            msgpack_pack_str(pk, strlen(k));
            msgpack_pack_str_body(pk, k, strlen(k));
            pack_json(pk, x);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, x)
        {
            pack_json(pk, x);
        }
        break;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(v));
        msgpack_pack_str_body(pk, json_string_value(v),
                              json_string_length(v));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(v));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(v));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    default:
        msgpack_pack_nil(pk);
        break;
    }
}

/* json_to_mp converts a JSON text to msgpack, independently of proto/. */
static void json_to_mp(const char *text, sg_buf *out)
{
    msgpack_packer pk;
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

    assert_non_null(v);
    sg_buf_init(out);
    msgpack_packer_init(&pk, out, buf_write);
    pack_json(&pk, v);
    json_decref(v);
}

/* mutate returns base with key set to the JSON value text (or deleted
 * when value is NULL); the caller frees it. */
static char *mutate(const char *base, const char *key, const char *value)
{
    json_t *o = json_loads(base, 0, NULL);
    char *text;

    assert_non_null(o);
    if (key != NULL) {
        if (value == NULL) {
            json_object_del(o, key);
        } else {
            json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
            if (v == NULL) {
                print_message("bad test value %s\n", value);
                fail();
            }
            json_object_set_new(o, key, v);
        }
    }
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* The table case being run, shown when it fails. */
static char current_case[512];

static void expect_err(int rc, const sg_error *e, int want_rc,
                       const char *field, const char *reason)
{
    if (rc != want_rc || strcmp(e->field, field) != 0 ||
        strstr(e->reason, reason) == NULL) {
        print_message("%s%s", current_case, current_case[0] ? ": " : "");
        print_message("got rc %d field \"%s\" reason \"%s\"; want rc %d "
                      "field \"%s\" reason containing \"%s\"\n",
                      rc, e->field, e->reason, want_rc, field, reason);
        fail();
    }
}

static bool all_bytes(const void *p, size_t n, uint8_t v)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i] != v) {
            return false;
        }
    }
    return true;
}

static bool mem_has(const void *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    const uint8_t *h = hay;

    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(h + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

static void assert_worker_eq(const sg_worker *a, const sg_worker *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->region, b->region);
    assert_int_equal(a->has_geo, b->has_geo);
    assert_true(a->lat == b->lat);
    assert_true(a->lon == b->lon);
    assert_int_equal(a->labor_class, b->labor_class);
    assert_int_equal(a->nskills, b->nskills);
    assert_memory_equal(a->skills, b->skills, a->nskills * sizeof(sg_skill));
    assert_int_equal(a->category, b->category);
    assert_int_equal(a->risk_eliminated, b->risk_eliminated);
    assert_string_equal(a->household, b->household);
    assert_int_equal(a->travel, b->travel);
    assert_int_equal(a->expected_wage, b->expected_wage);
    assert_int_equal(a->available_from, b->available_from);
    assert_int_equal(a->available_to, b->available_to);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->seeking, b->seeking);
    assert_string_equal(a->phone, b->phone);
    assert_int_equal(a->has_idnum, b->has_idnum);
    assert_memory_equal(a->idnum_hash, b->idnum_hash, SG_IDNUM_HASH_LEN);
    assert_string_equal(a->idnum_masked, b->idnum_masked);
}

static void assert_job_eq(const sg_job *a, const sg_job *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->employer, b->employer);
    assert_int_equal(a->source, b->source);
    assert_string_equal(a->title, b->title);
    assert_int_equal(a->nrequired, b->nrequired);
    assert_memory_equal(a->required, b->required,
                        a->nrequired * sizeof(sg_skill));
    assert_int_equal(a->npreferred, b->npreferred);
    assert_memory_equal(a->preferred, b->preferred,
                        a->npreferred * sizeof(sg_skill));
    assert_int_equal(a->labor_classes, b->labor_classes);
    assert_int_equal(a->nsites, b->nsites);
    for (size_t i = 0; i < a->nsites; i++) {
        assert_string_equal(a->sites[i].region, b->sites[i].region);
        assert_int_equal(a->sites[i].has_geo, b->sites[i].has_geo);
        assert_true(a->sites[i].lat == b->sites[i].lat);
        assert_true(a->sites[i].lon == b->sites[i].lon);
    }
    assert_int_equal(a->openings, b->openings);
    assert_int_equal(a->wage_min, b->wage_min);
    assert_int_equal(a->wage_max, b->wage_max);
    assert_int_equal(a->starts, b->starts);
    assert_int_equal(a->ends, b->ends);
    assert_int_equal(a->contract_months, b->contract_months);
    assert_int_equal(a->posted, b->posted);
    assert_int_equal(a->state, b->state);
}

/* Decode a JSON worker/job text that must be valid. */
static void json_worker(const char *text, const uint8_t *key, sg_worker *w)
{
    sg_error e;
    sg_kind k = 0;
    int rc = sg_json_decode(text, strlen(text), SG_KIND_WORKER, key, &k, w,
                            NULL, &e);

    if (rc != 0) {
        print_message("decode failed: %s: %s\n", e.field, e.reason);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, SG_KIND_WORKER);
}

static void json_job(const char *text, sg_job *j)
{
    sg_error e;
    sg_kind k = 0;
    int rc = sg_json_decode(text, strlen(text), SG_KIND_JOB, NULL, &k, NULL,
                            j, &e);

    if (rc != 0) {
        print_message("decode failed: %s: %s\n", e.field, e.reason);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, SG_KIND_JOB);
}

/* ---- Errors and enums. ---- */

static void test_errors(void **state)
{
    sg_error e;
    char longer[400];

    (void)state;
    assert_string_equal(sg_strerror(SG_ETOOBIG), "input too big");
    assert_string_equal(sg_strerror(SG_EVERSION), "unknown schema version");
    assert_string_equal(sg_strerror(-1000), "unknown error");
    assert_int_equal(sg_error_set(NULL, SG_EINVAL, "x", "y"), SG_EINVAL);
    assert_int_equal(sg_error_set(&e, SG_EEXIST, "id", "n=%d", 7), SG_EEXIST);
    assert_string_equal(e.field, "id");
    assert_string_equal(e.reason, "n=7");
    /* A reason longer than the array is cut, not overflowed, and a cut
     * never leaves half a UTF-8 character. */
    for (size_t i = 0; i + 3 < sizeof longer; i += 3) {
        memcpy(longer + i, "工", 3);
        longer[i + 3] = '\0';
    }
    sg_error_set(&e, SG_EINVAL, longer, "x%s", longer);
    assert_true(strlen(e.reason) < sizeof e.reason);
    assert_true(strlen(e.reason) >= sizeof e.reason - 4);
    assert_int_equal((strlen(e.reason) - 1) % 3, 0);
    assert_int_equal(strlen(e.field) % 3, 0);
    sg_error_clear(&e);
    assert_string_equal(e.field, "");
    assert_string_equal(e.reason, "");
    sg_error_clear(NULL);
}

static void test_enums(void **state)
{
    (void)state;
    assert_string_equal(sg_enum_name(SG_ENUM_LABOR, SG_LABOR_HALF), "half");
    assert_string_equal(sg_enum_label_zh(SG_ENUM_LABOR, SG_LABOR_HALF),
                        "半劳动力");
    assert_string_equal(sg_enum_label_zh(SG_ENUM_CATEGORY, SG_CAT_MONITORED),
                        "防止返贫监测对象");
    assert_string_equal(sg_enum_label_zh(SG_ENUM_TRAVEL, SG_TRAVEL_ANY),
                        "不限");
    assert_string_equal(
        sg_enum_name(SG_ENUM_STATUS, SG_STATUS_PUBLIC_WELFARE_POST),
        "public_welfare_post");
    assert_string_equal(sg_enum_label_zh(SG_ENUM_STATUS, SG_STATUS_ILL),
                        "因病在家");
    assert_string_equal(sg_enum_name(SG_ENUM_SOURCE, SG_SOURCE_WORK_RELIEF),
                        "work_relief");
    assert_string_equal(sg_enum_label_zh(SG_ENUM_SOURCE, SG_SOURCE_FLEXIBLE),
                        "灵活就业");
    assert_string_equal(sg_enum_label_zh(SG_ENUM_STATE, SG_JOB_CLOSED),
                        "已关闭");
    assert_null(sg_enum_name(SG_ENUM_LABOR, SG_LABOR__COUNT));
    assert_null(sg_enum_name(SG_ENUM_STATE, -1));
    assert_null(sg_enum_label_zh((sg_enum_kind)99, 0));
    assert_int_equal(sg_enum_parse(SG_ENUM_TRAVEL, "township", 8),
                     SG_TRAVEL_TOWNSHIP);
    assert_int_equal(sg_enum_parse(SG_ENUM_STATUS, "in_training", 11),
                     SG_STATUS_IN_TRAINING);
    assert_int_equal(sg_enum_parse(SG_ENUM_TRAVEL, "townships", 9), -1);
    assert_int_equal(sg_enum_parse(SG_ENUM_TRAVEL, "town", 4), -1);
    assert_int_equal(sg_enum_parse(SG_ENUM_LABOR, "Half", 4), -1);
    assert_true(sg_status_is_employed(SG_STATUS_WORKSHOP));
    assert_true(sg_status_is_employed(SG_STATUS_SELF_EMPLOYED));
    assert_false(sg_status_is_employed(SG_STATUS_FARMING));
    assert_false(sg_status_is_employed(SG_STATUS_RETURNED));
    assert_false(sg_status_is_employed(-1));
}

/* ---- Dates and times. ---- */

static int32_t date(const char *s)
{
    int32_t d = 12345;

    assert_int_equal(sg_date_parse(s, strlen(s), &d), 0);
    return d;
}

static void bad_date(const char *s)
{
    int32_t d = 12345;

    if (sg_date_parse(s, strlen(s), &d) != SG_EINVAL) {
        print_message("accepted date %s\n", s);
        fail();
    }
    assert_int_equal(d, 12345);
}

static void test_dates(void **state)
{
    char buf[11];

    (void)state;
    assert_int_equal(date("1970-01-01"), 0);
    assert_int_equal(date("2000-03-01"), 11017);
    assert_int_equal(date("2024-02-29"), 19782);
    assert_int_equal(date("2024-03-01"), 19783);
    assert_int_equal(date("1900-01-01"), -25567);
    assert_int_equal(date("2199-12-31"), 84005);
    assert_int_equal(date("2000-02-29"), 11016);
    bad_date("2023-02-29");
    bad_date("1900-02-29"); /* 1900 is not a leap year */
    bad_date("2100-02-29");
    bad_date("1899-12-31");
    bad_date("2200-01-01");
    bad_date("2024-04-31");
    bad_date("2024-13-01");
    bad_date("2024-00-10");
    bad_date("2024-01-00");
    bad_date("2024-1-01");
    bad_date("2024/01/01");
    bad_date("2024-01-01 ");
    bad_date("");
    sg_date_format(19782, buf);
    assert_string_equal(buf, "2024-02-29");
    sg_date_format(-25567, buf);
    assert_string_equal(buf, "1900-01-01");
    /* Every supported date survives a format/parse round trip. */
    for (int32_t d = -25567; d <= 84005; d++) {
        int32_t back;
        sg_date_format(d, buf);
        assert_int_equal(sg_date_parse(buf, 10, &back), 0);
        assert_int_equal(back, d);
    }
}

static int64_t rfc(const char *s)
{
    int64_t t = 42;
    int rc = sg_time_parse(s, strlen(s), &t);

    if (rc != 0) {
        print_message("rejected time %s\n", s);
        fail();
    }
    return t;
}

static void bad_time(const char *s)
{
    int64_t t = 42;

    if (sg_time_parse(s, strlen(s), &t) != SG_EINVAL) {
        print_message("accepted time %s\n", s);
        fail();
    }
    assert_int_equal(t, 42);
}

static void test_times(void **state)
{
    char buf[26];
    time_t now;
    int32_t today;

    (void)state;
    assert_int_equal(rfc("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(rfc("1970-01-01t08:00:00+08:00"), 0);
    assert_int_equal(rfc("1969-12-31T16:00:00-08:00"), 0);
    assert_int_equal(rfc("2024-03-01T00:00:00z"), 1709251200);
    assert_int_equal(rfc("2024-03-01T00:00:00.999999Z"), 1709251200);
    assert_int_equal(rfc("2024-03-01T00:00:00+08:00"), 1709222400);
    assert_int_equal(rfc("2024-03-01T05:30:00+05:30"), 1709251200);
    assert_int_equal(rfc("2024-02-29T18:30:00-05:30"), 1709251200);
    assert_int_equal(rfc("2024-03-01T00:00:00.5-00:00"), 1709251200);
    bad_time("2024-03-01T00:00:00");        /* no offset */
    bad_time("2024-03-01 00:00:00Z");       /* space for T */
    bad_time("2024-03-01T00:00:00+0800");   /* offset without colon */
    bad_time("2024-03-01T00:00:00+08");
    bad_time("2024-03-01T24:00:00Z");
    bad_time("2024-03-01T23:60:00Z");
    bad_time("2024-03-01T23:59:60Z");
    bad_time("2024-03-01T00:00:00.Z");
    bad_time("2024-03-01T00:00:00Zx");
    bad_time("2024-03-01T00:00:00+24:00");
    bad_time("2023-02-29T00:00:00Z");
    bad_time("2024-03-01T0:00:00Z");
    sg_time_format(0, buf);
    assert_string_equal(buf, "1970-01-01T08:00:00+08:00");
    sg_time_format(1709251200, buf);
    assert_string_equal(buf, "2024-03-01T08:00:00+08:00");
    sg_time_format(-1, buf);
    assert_string_equal(buf, "1970-01-01T07:59:59+08:00");
    assert_int_equal(sg_time_date(0), 0);
    assert_int_equal(sg_time_date(-28800), 0);
    assert_int_equal(sg_time_date(-28801), -1);
    assert_int_equal(sg_time_date(1709222400), 19783); /* 03-01 00:00 CST */
    assert_int_equal(sg_time_date(1709222399), 19782);
    now = time(NULL);
    today = sg_today();
    assert_true(today == (int32_t)((now + 28800) / 86400) ||
                today == (int32_t)((now + 28800) / 86400) + 1);
}

/* ---- ID numbers. ---- */

/* check_digit computes the GB 11643 check character here, independently
 * of proto/idnum.c. */
static char check_digit(const char *s17)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6,
                              3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;

    for (int i = 0; i < 17; i++) {
        sum += (s17[i] - '0') * w[i];
    }
    return "10X98765432"[sum % 11];
}

static void bad_idnum(const char *s, const char *reason)
{
    sg_error e;
    int rc = sg_idnum_check(s, strlen(s), &e);

    expect_err(rc, &e, SG_EINVAL, "id_number", reason);
    /* The reason never quotes the number or a piece of it. */
    if (strlen(s) >= 6) {
        char prefix[7];
        memcpy(prefix, s, 6);
        prefix[6] = '\0';
        assert_null(strstr(e.reason, prefix));
    }
    assert_null(strstr(e.reason, "1990"));
    assert_null(strstr(e.reason, "0101"));
}

static void test_idnum_check(void **state)
{
    char num[19], wrong[19];
    sg_error e;

    (void)state;
    assert_int_equal(sg_idnum_check(IDNUM, 18, &e), 0);
    assert_int_equal(sg_idnum_check("11010519491231002x", 18, &e), 0);
    memcpy(num, "36042519900101123", 17);
    num[17] = check_digit(num);
    num[18] = '\0';
    assert_int_equal(num[17], '0'); /* worked out by hand, too */
    assert_int_equal(sg_idnum_check(num, 18, &e), 0);
    memcpy(wrong, num, sizeof wrong);
    wrong[17] = '1';
    bad_idnum(wrong, "check digit");
    bad_idnum("110105194912310021", "check digit");
    /* 1990-02-30 with a matching check digit. */
    memcpy(num, "36042519900230123", 17);
    num[17] = check_digit(num);
    bad_idnum(num, "birth date");
    memcpy(num, "36042518991231123", 17); /* before 1900 */
    num[17] = check_digit(num);
    bad_idnum(num, "birth date");
    memcpy(num, "36042519000229123", 17); /* 1900 is not leap */
    num[17] = check_digit(num);
    bad_idnum(num, "birth date");
    memcpy(num, "36042520000229123", 17); /* 2000 is */
    num[17] = check_digit(num);
    assert_int_equal(sg_idnum_check(num, 18, &e), 0);
    memcpy(num, "99042519900101123", 17); /* no province 99 */
    num[17] = check_digit(num);
    bad_idnum(num, "province");
    memcpy(num, "16042519900101123", 17); /* 16 is not one either */
    num[17] = check_digit(num);
    bad_idnum(num, "province");
    bad_idnum("3604251990010112", "18 characters");
    bad_idnum("3604251990010112301", "18 characters");
    bad_idnum("36042519900101A230", "digits");
    bad_idnum("36042519900101123Y", "digits");
}

static void test_idnum_protect(void **state)
{
    uint8_t want[SG_IDNUM_HASH_LEN];
    sg_worker w, w2, w3;
    sg_error e;

    (void)state;
    sg_worker_init(&w);
    assert_int_equal(sg_idnum_protect(&w, IDNUM, 18, KEY1, &e), 0);
    assert_true(w.has_idnum);
    assert_string_equal(w.idnum_masked, IDNUM_MASKED);
    /* The hash is keyed BLAKE2b-256 of the number. */
    assert_int_equal(crypto_generichash(want, sizeof want,
                                        (const unsigned char *)IDNUM, 18,
                                        KEY1, sizeof KEY1),
                     0);
    assert_memory_equal(w.idnum_hash, want, sizeof want);
    sg_worker_init(&w2);
    assert_int_equal(sg_idnum_protect(&w2, IDNUM, 18, KEY2, &e), 0);
    assert_memory_not_equal(w.idnum_hash, w2.idnum_hash, SG_IDNUM_HASH_LEN);
    assert_string_equal(w2.idnum_masked, IDNUM_MASKED);
    /* Lowercase x is normalised before hashing. */
    sg_worker_init(&w3);
    assert_int_equal(
        sg_idnum_protect(&w3, "11010519491231002x", 18, KEY1, &e), 0);
    assert_memory_equal(w.idnum_hash, w3.idnum_hash, SG_IDNUM_HASH_LEN);
    assert_string_equal(w3.idnum_masked, IDNUM_MASKED);
    /* No key, or a bad number: the record is untouched. */
    memset(&w3, 0x5A, sizeof w3);
    expect_err(sg_idnum_protect(&w3, IDNUM, 18, NULL, &e), &e, SG_EINVAL,
               "id_number", "no key");
    expect_err(sg_idnum_protect(&w3, "110105194912310021", 18, KEY1, &e),
               &e, SG_EINVAL, "id_number", "check digit");
    assert_true(all_bytes(&w3, sizeof w3, 0x5A));
}

/* ---- Round trips. ---- */

static void full_worker(sg_worker *w)
{
    char text[1024];

    snprintf(text, sizeof text, "%.*s,\"id_number\":\"%s\"}",
             (int)strlen(WORKER_JSON) - 1, WORKER_JSON, IDNUM);
    json_worker(text, KEY1, w);
}

static void min_worker(sg_worker *w)
{
    sg_worker_init(w);
    strcpy(w->id, "w1");
    strcpy(w->name, "李四");
    strcpy(w->region, "360425100201");
    w->labor_class = SG_LABOR_ORDINARY;
    w->category = SG_CAT_POVERTY_EXITED;
    strcpy(w->household, "h1");
    w->travel = SG_TRAVEL_ANY;
    w->status = SG_STATUS_FARMING;
}

static void min_job(sg_job *j)
{
    sg_job_init(j);
    strcpy(j->id, "j1");
    strcpy(j->employer, "e1");
    j->source = SG_SOURCE_FLEXIBLE;
    strcpy(j->title, "Cook");
    j->labor_classes = 1u << SG_LABOR_WEAK;
    j->nsites = 1;
    strcpy(j->sites[0].region, "360425101201");
    j->posted = 1709251200;
}

static void test_worker_decoded_values(void **state)
{
    sg_worker w;

    (void)state;
    full_worker(&w);
    assert_string_equal(w.id, "w-001");
    assert_string_equal(w.name, "张三");
    assert_string_equal(w.region, "360425100201");
    assert_true(w.has_geo);
    assert_true(w.lat == 29.118);
    assert_true(w.lon == 115.82);
    assert_int_equal(w.labor_class, SG_LABOR_SKILLED);
    /* Kept sorted by id: weld (1) before cooking (9). */
    assert_int_equal(w.nskills, 2);
    assert_int_equal(w.skills[0], WELD);
    assert_int_equal(w.skills[1], COOKING);
    assert_string_equal(sg_skill_code(w.skills[1]), "cooking");
    assert_int_equal(w.category, SG_CAT_MONITORED);
    assert_true(w.risk_eliminated);
    assert_string_equal(w.household, "hh_01");
    assert_int_equal(w.travel, SG_TRAVEL_COUNTY);
    assert_int_equal(w.expected_wage, 3500);
    assert_int_equal(w.available_from, 19783);
    assert_int_equal(w.available_to, 20088);
    assert_int_equal(w.status, SG_STATUS_IDLE);
    assert_true(w.seeking);
    assert_string_equal(w.phone, "+86 138-0000-0000");
    assert_true(w.has_idnum);
    assert_string_equal(w.idnum_masked, IDNUM_MASKED);
}

static void test_job_decoded_values(void **state)
{
    sg_job j;

    (void)state;
    json_job(JOB_JSON, &j);
    assert_string_equal(j.id, "j-001");
    assert_string_equal(j.employer, "emp_9");
    assert_int_equal(j.source, SG_SOURCE_WORKSHOP);
    assert_string_equal(j.title, "缝纫工 (帮扶车间)");
    assert_int_equal(j.nrequired, 1);
    assert_int_equal(j.required[0], SEW);
    assert_int_equal(j.npreferred, 2);
    assert_int_equal(j.preferred[0], CLEANING);
    assert_int_equal(j.preferred[1], HANDICRAFT);
    assert_int_equal(j.labor_classes,
                     (1u << SG_LABOR_ORDINARY) | (1u << SG_LABOR_HALF));
    assert_int_equal(j.nsites, 2);
    assert_string_equal(j.sites[0].region, "360425100201");
    assert_true(j.sites[0].has_geo);
    assert_true(j.sites[0].lat == 29.1);
    assert_true(j.sites[0].lon == 115.8);
    assert_string_equal(j.sites[1].region, "360425101201");
    assert_false(j.sites[1].has_geo);
    assert_int_equal(j.openings, 12);
    assert_int_equal(j.wage_min, 2500);
    assert_int_equal(j.wage_max, 3500);
    assert_int_equal(j.starts, 19783);
    assert_int_equal(j.ends, 20088);
    assert_int_equal(j.contract_months, 10);
    assert_int_equal(j.posted, 1709251200); /* 08:00 CST = 00:00Z */
    assert_int_equal(j.state, SG_JOB_CLOSED);
}

static void worker_round_trip(const sg_worker *w)
{
    sg_worker back, again;
    sg_buf b, js;
    sg_error e;
    sg_kind k;

    assert_int_equal(sg_worker_validate(w, &e), 0);
    sg_buf_init(&b);
    sg_worker_encode(w, &b);
    assert_true(b.len <= SG_RECORD_MAX);
    assert_int_equal(sg_worker_decode(b.data, b.len, NULL, &back, &e), 0);
    assert_worker_eq(w, &back);
    sg_buf_init(&js);
    sg_worker_to_json(&back, &js);
    assert_int_equal(sg_json_decode((const char *)js.data, js.len, 0, NULL,
                                    &k, &again, NULL, &e),
                     0);
    assert_int_equal(k, SG_KIND_WORKER);
    assert_worker_eq(w, &again);
    sg_buf_free(&b);
    sg_buf_free(&js);
}

static void job_round_trip(const sg_job *j)
{
    sg_job back, again;
    sg_buf b, js;
    sg_error e;
    sg_kind k;

    assert_int_equal(sg_job_validate(j, &e), 0);
    sg_buf_init(&b);
    sg_job_encode(j, &b);
    assert_int_equal(sg_job_decode(b.data, b.len, &back, &e), 0);
    assert_job_eq(j, &back);
    sg_buf_init(&js);
    sg_job_to_json(&back, &js);
    assert_int_equal(sg_json_decode((const char *)js.data, js.len, 0, NULL,
                                    &k, NULL, &again, &e),
                     0);
    assert_int_equal(k, SG_KIND_JOB);
    assert_job_eq(j, &again);
    sg_buf_free(&b);
    sg_buf_free(&js);
}

static void test_round_trips(void **state)
{
    sg_worker w;
    sg_job j;

    (void)state;
    full_worker(&w);
    worker_round_trip(&w);
    min_worker(&w);
    worker_round_trip(&w);
    w.has_geo = true; /* odd coordinates at 1e-6 survive JSON */
    w.lat = -89.999999;
    w.lon = 179.123457;
    w.seeking = true;
    w.available_to = 84005;
    worker_round_trip(&w);
    json_job(JOB_JSON, &j);
    job_round_trip(&j);
    min_job(&j);
    job_round_trip(&j);
    j.nsites = 2;
    strcpy(j.sites[0].region, "360425100201");
    strcpy(j.sites[1].region, "360425101201");
    j.sites[1].has_geo = true;
    j.sites[1].lat = 0.000001;
    j.sites[1].lon = -0.5;
    job_round_trip(&j);
}

static void test_encoded_forms(void **state)
{
    static const char want_worker[] =
        "{\"kind\":\"worker\",\"id\":\"w1\",\"name\":\"李四\","
        "\"region\":\"360425100201\",\"labor_class\":\"ordinary\","
        "\"category\":\"poverty_exited\",\"household\":\"h1\","
        "\"travel\":\"any\",\"expected_wage\":0,\"status\":\"farming\","
        "\"seeking\":false}";
    static const char want_job[] =
        "{\"kind\":\"job\",\"id\":\"j1\",\"employer\":\"e1\","
        "\"source\":\"flexible\",\"title\":\"Cook\","
        "\"labor_classes\":[\"weak\"],"
        "\"sites\":[{\"region\":\"360425101201\",\"lat\":29.0,"
        "\"lon\":115.123456}],\"openings\":0,\"wage_min\":0,"
        "\"wage_max\":0,\"posted\":\"2024-03-01T08:00:00+08:00\","
        "\"state\":\"open\"}";
    /* {"v":1,"id":"w1",... : a map of 11, then "v" and 1. */
    static const uint8_t want_head[] = {0x8b, 0xa1, 'v', 0x01, 0xa2,
                                        'i',  'd',  0xa2, 'w', '1'};
    sg_worker w;
    sg_job j;
    sg_buf b;

    (void)state;
    min_worker(&w);
    sg_buf_init(&b);
    sg_worker_to_json(&w, &b);
    assert_int_equal(b.len, strlen(want_worker));
    assert_memory_equal(b.data, want_worker, b.len);
    sg_buf_free(&b);
    sg_worker_encode(&w, &b);
    assert_memory_equal(b.data, want_head, sizeof want_head);
    sg_buf_free(&b);

    min_job(&j);
    j.sites[0].has_geo = true;
    j.sites[0].lat = 29.0;
    j.sites[0].lon = 115.123456;
    sg_job_to_json(&j, &b);
    assert_int_equal(b.len, strlen(want_job));
    assert_memory_equal(b.data, want_job, b.len);
    sg_buf_free(&b);
    /* lat/lon are float64 in msgpack: 0xcb then 8 bytes. */
    sg_job_encode(&j, &b);
    assert_true(mem_has(b.data, b.len, "\xa3lat\xcb"));
    assert_true(mem_has(b.data, b.len, "\xa3lon\xcb"));
    assert_true(mem_has(b.data, b.len, "\xa6posted\xb9"
                                       "2024-03-01T08:00:00+08:00"));
    sg_buf_free(&b);
}

static void test_rounding(void **state)
{
    char *text = mutate(WORKER_JSON, "lat", "29.1234567");
    sg_worker w;

    (void)state;
    json_worker(text, NULL, &w);
    assert_true(w.lat == 29.123457);
    free(text);
    text = mutate(WORKER_JSON, "lon", "116"); /* an integer is a number */
    json_worker(text, NULL, &w);
    assert_true(w.lon == 116.0);
    free(text);
}

/* ---- The clear ID number never leaves. ---- */

static void test_idnum_never_leaks(void **state)
{
    sg_worker w;
    sg_buf b;
    sg_error e;
    sg_kind k;
    json_t *jv;
    char *text;
    char bad[1024];
    static const char *const wrappers[] = {
        /* wrong check digit, no key, with a hash, a syntax error near it */
        "{\"id_number\":\"110105194912310021\"}",
        "{\"id_number\":\"%s\"}",
        "{\"id_number\":\"%s\",\"id_number_hash\":\"%064d\","
        "\"id_number_masked\":\"" IDNUM_MASKED "\"}",
        "{\"id_number\" \"%s\"}",
        "{\"id_number\":\"%s\" \"x\"}",
        "{\"id_number\":%s}",
    };

    (void)state;
    full_worker(&w);
    sg_buf_init(&b);
    sg_worker_encode(&w, &b);
    assert_false(mem_has(b.data, b.len, IDNUM));
    assert_false(mem_has(b.data, b.len, IDNUM_BIRTH));
    assert_true(mem_has(b.data, b.len, IDNUM_MASKED));
    assert_true(mem_has(b.data, b.len, "id_number_hash"));
    sg_buf_free(&b);
    sg_worker_to_json(&w, &b);
    assert_false(mem_has(b.data, b.len, IDNUM));
    assert_false(mem_has(b.data, b.len, IDNUM_BIRTH));
    assert_false(mem_has(b.data, b.len, "\"id_number\""));
    assert_true(mem_has(b.data, b.len, "\"id_number_masked\":\"" IDNUM_MASKED
                                       "\""));
    sg_buf_free(&b);
    jv = sg_worker_to_jv(&w);
    text = json_dumps(jv, 0);
    assert_null(strstr(text, IDNUM_BIRTH));
    {
        char hex[65];
        sg_hex(w.idnum_hash, SG_IDNUM_HASH_LEN, hex);
        assert_string_equal(
            json_string_value(json_object_get(jv, "id_number_hash")), hex);
        assert_string_equal(
            json_string_value(json_object_get(jv, "id_number_masked")),
            IDNUM_MASKED);
        assert_null(json_object_get(jv, "id_number"));
    }
    free(text);
    json_decref(jv);

    /* Errors about the number, in every form. */
    for (size_t i = 0; i < sizeof wrappers / sizeof *wrappers; i++) {
        const uint8_t *key = i == 1 ? NULL : KEY1;
        snprintf(bad, sizeof bad, wrappers[i], IDNUM, 0);
        text = mutate(WORKER_JSON, NULL, NULL);
        memset(&w, 0x11, sizeof w);
        if (i < 3) {
            /* merge the id fields into a valid worker */
            json_t *o = json_loads(text, 0, NULL);
            json_t *add = json_loads(bad, 0, NULL);
            assert_non_null(add);
            json_object_update(o, add);
            free(text);
            text = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            json_decref(add);
            assert_int_equal(sg_json_decode(text, strlen(text),
                                            SG_KIND_WORKER, key, &k, &w, NULL,
                                            &e),
                             SG_EINVAL);
            /* and the same through msgpack */
            sg_buf_free(&b);
            json_to_mp(text, &b);
            sg_error e2;
            assert_int_equal(sg_worker_decode(b.data, b.len, key, &w, &e2),
                             SG_EINVAL);
            assert_null(strstr(e2.reason, IDNUM_BIRTH));
            assert_null(strstr(e2.field, IDNUM_BIRTH));
            assert_string_equal(e2.field, e.field);
            sg_buf_free(&b);
        } else {
            assert_int_equal(sg_json_decode(bad, strlen(bad), SG_KIND_WORKER,
                                            key, &k, &w, NULL, &e),
                             SG_EINVAL);
        }
        if (strstr(e.reason, IDNUM_BIRTH) != NULL ||
            strstr(e.field, IDNUM_BIRTH) != NULL) {
            print_message("leaked in %s: %s\n", e.field, e.reason);
            fail();
        }
        assert_true(all_bytes(&w, sizeof w, 0x11));
        free(text);
    }
}

/* ---- Bad input through both forms. ---- */

typedef struct bad_case {
    const char *key;    /* field to set (NULL: none) */
    const char *value;  /* its JSON value, NULL to delete it */
    int rc;             /* expected return code */
    const char *field;  /* expected sg_error.field */
    const char *reason; /* expected part of sg_error.reason */
} bad_case;

static void run_case(const char *base, sg_kind kind, const bad_case *c)
{
    char *text = mutate(base, c->key, c->value);
    union {
        sg_worker w;
        sg_job j;
    } out;
    sg_error e;
    sg_kind k = 0;
    sg_buf b;
    int rc;

    snprintf(current_case, sizeof current_case, "%s = %s",
             c->key ? c->key : "-", c->value ? c->value : "(deleted)");
    /* The JSON form. */
    memset(&out, 0xAB, sizeof out);
    rc = sg_json_decode(text, strlen(text), kind, KEY1, &k, &out.w, &out.j,
                        &e);
    expect_err(rc, &e, c->rc, c->field, c->reason);
    assert_true(all_bytes(&out, sizeof out, 0xAB));
    assert_int_equal(k, 0);
    /* The same value as msgpack: the same field and reason. */
    json_to_mp(text, &b);
    rc = kind == SG_KIND_WORKER
             ? sg_worker_decode(b.data, b.len, KEY1, &out.w, &e)
             : sg_job_decode(b.data, b.len, &out.j, &e);
    expect_err(rc, &e, c->rc, c->field, c->reason);
    assert_true(all_bytes(&out, sizeof out, 0xAB));
    sg_buf_free(&b);
    free(text);
    current_case[0] = '\0';
}

static void test_bad_workers(void **state)
{
    static const bad_case cases[] = {
        {"id", "123", SG_EINVAL, "id", "expected a string"},
        {"id", "\"\"", SG_EINVAL, "id", "must not be empty"},
        {"id", "\"a b\"", SG_EINVAL, "id", "A-Z a-z 0-9 _ -"},
        {"id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", SG_EINVAL, "id",
         "longer than 32"},
        {"id", NULL, SG_EINVAL, "id", "missing required field"},
        {"name", "null", SG_EINVAL, "name", "missing required field"},
        {"name", "\"\"", SG_EINVAL, "name", "must not be empty"},
        {"name",
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "\"",
         SG_EINVAL, "name", "longer than 64 bytes"},
        {"name", "\"张张张张张张张张张张张张张张张张张张张张张张\"",
         SG_EINVAL, "name", "longer than 64 bytes"},
        {"name", "\"a\\u0001b\"", SG_EINVAL, "name", "control character"},
        {"name", "\"a\\u0085b\"", SG_EINVAL, "name", "control character"},
        {"name", "[\"x\"]", SG_EINVAL, "name", "expected a string"},
        {"region", "\"36042510020\"", SG_EINVAL, "region", "12 digits"},
        {"region", "\"36042510020x\"", SG_EINVAL, "region", "12 digits"},
        {"region", "\"360425999201\"", SG_EINVAL, "region", "unknown"},
        {"region", "\"999999000000\"", SG_EINVAL, "region", "unknown"},
        {"region", "360425100201", SG_EINVAL, "region", "expected a string"},
        {"lon", NULL, SG_EINVAL, "lon", "go together"},
        {"lon", "null", SG_EINVAL, "lon", "go together"},
        {"lat", "91", SG_EINVAL, "lat", "from -90 to 90"},
        {"lat", "-90.5", SG_EINVAL, "lat", "from -90 to 90"},
        {"lon", "180.01", SG_EINVAL, "lon", "from -180 to 180"},
        {"lat", "\"29\"", SG_EINVAL, "lat", "expected a number"},
        {"labor_class", "\"strong\"", SG_EINVAL, "labor_class",
         "not one of: ordinary, skilled, half, weak"},
        {"labor_class", "1", SG_EINVAL, "labor_class", "expected a string"},
        {"skills", "[\"weld\",\"xyz\"]", SG_EINVAL, "skills[1]",
         "unknown skill code \"xyz\""},
        {"skills", "[\"weld\",\"weld\"]", SG_EINVAL, "skills[1]",
         "repeated skill code"},
        {"skills", "[\"weld\",7]", SG_EINVAL, "skills[1]",
         "expected a string"},
        {"skills", "\"weld\"", SG_EINVAL, "skills", "expected an array"},
        {"skills",
         "[\"weld\",\"weld\",\"weld\",\"weld\",\"weld\",\"weld\",\"weld\","
         "\"weld\",\"weld\",\"weld\",\"weld\",\"weld\",\"weld\",\"weld\","
         "\"weld\",\"weld\",\"weld\"]",
         SG_EINVAL, "skills", "more than 16 entries"},
        {"category", "\"rich\"", SG_EINVAL, "category",
         "not one of: poverty_exited, monitored, low_income"},
        {"category", "\"low_income\"", SG_EINVAL, "risk_eliminated",
         "only for category monitored"},
        {"risk_eliminated", "\"yes\"", SG_EINVAL, "risk_eliminated",
         "expected a boolean"},
        {"household", NULL, SG_EINVAL, "household", "missing required"},
        {"household", "\"h h\"", SG_EINVAL, "household", "A-Z"},
        {"travel", "\"moon\"", SG_EINVAL, "travel",
         "not one of: village, township, county, city, province, any"},
        {"expected_wage", "-1", SG_EINVAL, "expected_wage",
         "from 0 to 100000"},
        {"expected_wage", "100001", SG_EINVAL, "expected_wage",
         "from 0 to 100000"},
        {"expected_wage", "3500.5", SG_EINVAL, "expected_wage",
         "expected an integer"},
        {"expected_wage", "3500.0", SG_EINVAL, "expected_wage",
         "expected an integer"},
        {"expected_wage", "\"3500\"", SG_EINVAL, "expected_wage",
         "expected an integer"},
        {"expected_wage", "9223372036854775807", SG_EINVAL, "expected_wage",
         "from 0 to 100000"},
        {"available_from", "\"2024-02-30\"", SG_EINVAL, "available_from",
         "not a date"},
        {"available_from", "\"2023-02-29\"", SG_EINVAL, "available_from",
         "not a date"},
        {"available_from", "\"1900-02-29\"", SG_EINVAL, "available_from",
         "not a date"},
        {"available_from", "\"2025-01-01\"", SG_EINVAL, "available_to",
         "before available_from"},
        {"available_to", "20240301", SG_EINVAL, "available_to",
         "expected a string"},
        {"status", "\"working\"", SG_EINVAL, "status", "not one of: "},
        {"seeking", NULL, SG_EINVAL, "seeking", "missing required field"},
        {"seeking", "1", SG_EINVAL, "seeking", "expected a boolean"},
        {"phone", "\"123\"", SG_EINVAL, "phone", "5-20"},
        {"phone", "\"abcde\"", SG_EINVAL, "phone", "5-20"},
        {"phone", "\"123456789012345678901\"", SG_EINVAL, "phone", "5-20"},
        {"foo", "1", SG_EINVAL, "foo", "unknown field"},
        {"Name", "\"x\"", SG_EINVAL, "Name", "unknown field"},
        {"id_number_hash",
         "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
         "\"",
         SG_EINVAL, "id_number_masked", "go together"},
        {"id_number_masked", "\"" IDNUM_MASKED "\"", SG_EINVAL,
         "id_number_hash", "go together"},
        {"id_number_hash", "\"00AA\"", SG_EINVAL, "id_number_hash",
         "64 lowercase hex"},
        {"id_number_masked", "\"1101051949******002X\"", SG_EINVAL,
         "id_number_masked", "8 '*'"},
        {"id_number", "\"110105194912310021\"", SG_EINVAL, "id_number",
         "check digit"},
        {"id_number", "18", SG_EINVAL, "id_number", "expected a string"},
        {"v", "2", SG_EVERSION, "v", "schema version 2"},
        {"v", "\"1\"", SG_EINVAL, "v", "expected an integer"},
        {"kind", "\"job\"", SG_EINVAL, "kind", "must be \"worker\""},
        {"kind", "7", SG_EINVAL, "kind", "expected a string"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_case(WORKER_JSON, SG_KIND_WORKER, &cases[i]);
    }
}

static void test_bad_jobs(void **state)
{
    static const bad_case cases[] = {
        {"employer", NULL, SG_EINVAL, "employer", "missing required field"},
        {"source", "\"farm\"", SG_EINVAL, "source", "not one of: industrial"},
        {"title",
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "\"",
         SG_EINVAL, "title", "longer than 128 bytes"},
        {"title", "\"a\\tb\"", SG_EINVAL, "title", "control character"},
        {"wage_min", "4000", SG_EINVAL, "wage_max", "less than wage_min"},
        {"wage_max", "-5", SG_EINVAL, "wage_max", "from 0 to 100000"},
        {"wage_min", NULL, SG_EINVAL, "wage_min", "missing required field"},
        {"openings", "100001", SG_EINVAL, "openings", "from 0 to 100000"},
        {"contract_months", "121", SG_EINVAL, "contract_months",
         "from 0 to 120"},
        {"skills_preferred", "[\"sew\"]", SG_EINVAL, "skills_preferred[0]",
         "\"sew\" is also in skills_required"},
        {"skills_required",
         "[\"weld\",\"sew\",\"cleaning\",\"cooking\",\"driving\","
         "\"forklift\",\"livestock\",\"aquaculture\",\"elder_care\"]",
         SG_EINVAL, "skills_required", "more than 8 entries"},
        {"skills_required", "[\"welding\"]", SG_EINVAL, "skills_required[0]",
         "unknown skill code \"welding\""},
        {"labor_classes", "[]", SG_EINVAL, "labor_classes", "1-4 entries"},
        {"labor_classes", "[\"half\",\"half\"]", SG_EINVAL,
         "labor_classes[1]", "repeated labor class"},
        {"labor_classes", "[\"x\"]", SG_EINVAL, "labor_classes[0]",
         "not one of: ordinary"},
        {"labor_classes", NULL, SG_EINVAL, "labor_classes",
         "missing required field"},
        {"sites", "[]", SG_EINVAL, "sites", "1-8 entries"},
        {"sites",
         "[{\"region\":\"360425100201\"},{\"region\":\"360425100201\"}]",
         SG_EINVAL, "sites[1].region", "same region as sites[0]"},
        {"sites", "[{\"region\":\"360425100201\",\"lat\":29}]", SG_EINVAL,
         "sites[0].lon", "go together"},
        {"sites", "[{\"region\":\"360425100201\",\"alt\":3}]", SG_EINVAL,
         "sites[0].alt", "unknown field"},
        {"sites", "[{\"region\":\"360425999201\"}]", SG_EINVAL,
         "sites[0].region", "unknown"},
        {"sites", "[{\"region\":\"3604251002\"}]", SG_EINVAL,
         "sites[0].region", "12 digits"},
        {"sites", "[{\"lat\":1,\"lon\":2}]", SG_EINVAL, "sites[0].region",
         "missing required field"},
        {"sites", "[{\"region\":\"360425100201\",\"lat\":95,\"lon\":2}]",
         SG_EINVAL, "sites[0].lat", "from -90 to 90"},
        {"sites", "[\"360425100201\"]", SG_EINVAL, "sites[0]",
         "expected an object"},
        {"sites", "{\"region\":\"360425100201\"}", SG_EINVAL, "sites",
         "expected an array"},
        {"sites",
         "[{\"region\":\"360425100201\"},{\"region\":\"360425100201\"},"
         "{\"region\":\"360425100201\"},{\"region\":\"360425100201\"},"
         "{\"region\":\"360425100201\"},{\"region\":\"360425100201\"},"
         "{\"region\":\"360425100201\"},{\"region\":\"360425100201\"},"
         "{\"region\":\"360425100201\"}]",
         SG_EINVAL, "sites", "1-8 entries"},
        {"posted", "\"2024-03-01 08:00:00\"", SG_EINVAL, "posted",
         "RFC 3339"},
        {"posted", "\"2024-03-01T08:00:00\"", SG_EINVAL, "posted",
         "RFC 3339"},
        {"posted", NULL, SG_EINVAL, "posted", "missing required field"},
        {"state", "\"paused\"", SG_EINVAL, "state", "not one of: open, closed"},
        {"starts", "\"2025-01-01\"", SG_EINVAL, "ends", "before starts"},
        {"kind", "\"worker\"", SG_EINVAL, "kind", "must be \"job\""},
        {"v", "0", SG_EVERSION, "v", "schema version"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_case(JOB_JSON, SG_KIND_JOB, &cases[i]);
    }
}

/* ---- msgpack-only inputs. ---- */

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static int worker_mp(const void *p, size_t n, sg_error *e)
{
    sg_worker w;
    int rc;

    memset(&w, 0xCD, sizeof w);
    rc = sg_worker_decode(p, n, KEY1, &w, e);
    if (rc != 0) {
        assert_true(all_bytes(&w, sizeof w, 0xCD));
    }
    return rc;
}

static void test_hostile_msgpack(void **state)
{
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v'};
    static const uint8_t arr32[] = {0x81, 0xa6, 's', 'k', 'i', 'l', 'l', 's',
                                    0xdd, 0xff, 0xff, 0xff, 0xff, 0xa4, 'w'};
    static const uint8_t str32[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xdb,
                                    0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    static const uint8_t bin32[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xc6,
                                    0xff, 0xff, 0xff, 0xf0, 'a'};
    static const uint8_t map16[] = {0x81, 0xa6, 's', 'k', 'i', 'l', 'l', 's',
                                    0xde, 0xff, 0xff, 0xc0, 0xc0};
    static const uint8_t ext[] = {0x81, 0xa4, 'n', 'a', 'm', 'e',
                                  0xd4, 0x01, 0x02};
    static const uint8_t c1[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xc1};
    static const uint8_t top_arr[] = {0x91, 0xc0};
    static const uint8_t int_key[] = {0x81, 0x01, 0x02};
    static const uint8_t bin_name[] = {0x81, 0xa4, 'n', 'a', 'm', 'e',
                                       0xc4, 0x01, 'a'};
    static const uint8_t big_wage[] = {0x81, 0xad, 'e', 'x', 'p', 'e', 'c',
                                       't',  'e',  'd', '_', 'w', 'a', 'g',
                                       'e',  0xcf, 0x80, 0,  0,   0,   0,
                                       0,    0,    0x01};
    sg_buf b;
    sg_error e;
    clock_t t0 = clock();

    (void)state;
    expect_err(worker_mp(map32, sizeof map32, &e), &e, SG_EINVAL, "",
               "more entries than bytes");
    expect_err(worker_mp(arr32, sizeof arr32, &e), &e, SG_EINVAL, "skills",
               "more entries than bytes");
    expect_err(worker_mp(str32, sizeof str32, &e), &e, SG_EINVAL, "name",
               "longer than the rest");
    expect_err(worker_mp(bin32, sizeof bin32, &e), &e, SG_EINVAL, "name",
               "longer than the rest");
    expect_err(worker_mp(map16, sizeof map16, &e), &e, SG_EINVAL, "skills",
               "more entries than bytes");
    expect_err(worker_mp(ext, sizeof ext, &e), &e, SG_EINVAL, "name",
               "extension types");
    expect_err(worker_mp(c1, sizeof c1, &e), &e, SG_EINVAL, "name",
               "invalid byte");
    expect_err(worker_mp(top_arr, sizeof top_arr, &e), &e, SG_EINVAL, "",
               "expected an object");
    expect_err(worker_mp(int_key, sizeof int_key, &e), &e, SG_EINVAL, "",
               "not a string");
    expect_err(worker_mp(bin_name, sizeof bin_name, &e), &e, SG_EINVAL,
               "name", "expected a string");
    expect_err(worker_mp(big_wage, sizeof big_wage, &e), &e, SG_EINVAL,
               "expected_wage", "from 0 to 100000");
    expect_err(worker_mp("", 0, &e), &e, SG_EINVAL, "", "truncated");
    /* A job claiming 4 billion sites. */
    {
        static const uint8_t sites[] = {0x81, 0xa5, 's',  'i',  't',  'e',
                                        's',  0xdd, 0xff, 0xff, 0xff, 0xff};
        sg_job j;
        memset(&j, 0xEE, sizeof j);
        expect_err(sg_job_decode(sites, sizeof sites, &j, &e), &e, SG_EINVAL,
                   "sites", "more entries than bytes");
        assert_true(all_bytes(&j, sizeof j, 0xEE));
    }
    /* 17 skills, every byte present: refused by count before reading. */
    {
        msgpack_packer pk;
        sg_buf_init(&b);
        msgpack_packer_init(&pk, &b, buf_write);
        msgpack_pack_map(&pk, 1);
        pk_str(&pk, "skills");
        msgpack_pack_array(&pk, 17);
        for (int i = 0; i < 17; i++) {
            pk_str(&pk, "nonexistent");
        }
        expect_err(worker_mp(b.data, b.len, &e), &e, SG_EINVAL, "skills",
                   "more than 16 entries");
        sg_buf_free(&b);
    }
    /* Too deep: an unknown field holding nested arrays. */
    {
        uint8_t deep[64] = {0x81, 0xa1, 'x'};
        memset(deep + 3, 0x91, 40);
        deep[43] = 0xc0;
        expect_err(worker_mp(deep, 44, &e), &e, SG_EINVAL, "x",
                   "nested too deeply");
    }
    /* Over SG_RECORD_MAX. */
    {
        uint8_t *big = calloc(SG_RECORD_MAX + 1, 1);
        big[0] = 0x80;
        expect_err(worker_mp(big, SG_RECORD_MAX + 1, &e), &e, SG_ETOOBIG, "",
                   "8192");
        free(big);
    }
    /* All of it took no time: nothing was allocated or walked per entry. */
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
}

static void test_msgpack_forms(void **state)
{
    sg_worker w, back;
    sg_buf b, b2;
    sg_error e;
    msgpack_packer pk;

    (void)state;
    /* Trailing bytes after a valid record. */
    min_worker(&w);
    sg_buf_init(&b);
    sg_worker_encode(&w, &b);
    assert_int_equal(worker_mp(b.data, b.len, &e), 0);
    sg_buf_append(&b, "\xc0", 1);
    expect_err(worker_mp(b.data, b.len, &e), &e, SG_EINVAL, "",
               "trailing bytes after the record");
    sg_buf_free(&b);

    /* Duplicate keys: top level and inside a site. */
    sg_buf_init(&b);
    msgpack_packer_init(&pk, &b, buf_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "id");
    pk_str(&pk, "a");
    pk_str(&pk, "id");
    pk_str(&pk, "b");
    expect_err(worker_mp(b.data, b.len, &e), &e, SG_EINVAL, "id",
               "duplicate key");
    sg_buf_free(&b);
    sg_buf_init(&b);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    expect_err(worker_mp(b.data, b.len, &e), &e, SG_EINVAL, "v",
               "duplicate key");
    sg_buf_free(&b);
    {
        sg_job j;
        sg_buf_init(&b);
        msgpack_pack_map(&pk, 1);
        pk_str(&pk, "sites");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_map(&pk, 2);
        pk_str(&pk, "region");
        pk_str(&pk, "360425100201");
        pk_str(&pk, "region");
        pk_str(&pk, "360425101201");
        expect_err(sg_job_decode(b.data, b.len, &j, &e), &e, SG_EINVAL,
                   "sites[0].region", "duplicate key");
        sg_buf_free(&b);
    }

    /* Bad UTF-8 in a name: invalid byte, overlong NUL, surrogate, and a
     * NUL byte that would cut the name short. */
    {
        static const char *const names[] = {"a\xff", "a\xc0\x80",
                                            "\xed\xa0\x80", "ab\xe5\xbc"};
        static const char *const reasons[] = {"UTF-8", "UTF-8", "UTF-8",
                                              "UTF-8"};
        json_t *o = sg_worker_to_jv(&w);
        for (size_t i = 0; i < 5; i++) {
            const char *nm = i < 4 ? names[i] : "a\0b";
            size_t nlen = i < 4 ? strlen(nm) : 3;
            const char *k;
            json_t *v;
            sg_buf_init(&b);
            msgpack_packer_init(&pk, &b, buf_write);
            msgpack_pack_map(&pk, json_object_size(o) - 1);
            json_object_foreach(o, k, v)
            {
                if (strcmp(k, "kind") == 0) {
                    continue;
                }
                pk_str(&pk, k);
                if (strcmp(k, "name") == 0) {
                    msgpack_pack_str(&pk, nlen);
                    msgpack_pack_str_body(&pk, nm, nlen);
                } else {
                    pack_json(&pk, v);
                }
            }
            assert_int_not_equal(worker_mp(b.data, b.len, &e), 0);
            expect_err(worker_mp(b.data, b.len, &e), &e, SG_EINVAL, "name",
                       i < 4 ? reasons[i] : "control character");
            sg_buf_free(&b);
        }
        json_decref(o);
    }

    /* float32 coordinates and negative fixints decode; "kind" and "v"
     * are both accepted in msgpack. */
    {
        sg_buf_init(&b);
        msgpack_packer_init(&pk, &b, buf_write);
        msgpack_pack_map(&pk, 13);
        pk_str(&pk, "kind");
        pk_str(&pk, "worker");
        pk_str(&pk, "v");
        msgpack_pack_int(&pk, 1);
        pk_str(&pk, "id");
        pk_str(&pk, "x");
        pk_str(&pk, "name");
        pk_str(&pk, "X");
        pk_str(&pk, "region");
        pk_str(&pk, "360425100201");
        pk_str(&pk, "lat");
        msgpack_pack_float(&pk, 29.5f);
        pk_str(&pk, "lon");
        msgpack_pack_int(&pk, -7);
        pk_str(&pk, "labor_class");
        pk_str(&pk, "weak");
        pk_str(&pk, "category");
        pk_str(&pk, "low_income");
        pk_str(&pk, "household");
        pk_str(&pk, "h");
        pk_str(&pk, "travel");
        pk_str(&pk, "village");
        pk_str(&pk, "expected_wage");
        msgpack_pack_uint64(&pk, 100000);
        pk_str(&pk, "status");
        pk_str(&pk, "ill");
        assert_int_equal(sg_worker_decode(b.data, b.len, NULL, &back, &e),
                         SG_EINVAL);
        expect_err(SG_EINVAL, &e, SG_EINVAL, "seeking", "missing required");
        /* Make the map count 14 and add seeking. */
        b.data[0] = 0x8e;
        pk_str(&pk, "seeking");
        msgpack_pack_false(&pk);
        assert_int_equal(sg_worker_decode(b.data, b.len, NULL, &back, &e), 0);
        assert_true(back.lat == 29.5);
        assert_true(back.lon == -7.0);
        assert_int_equal(back.expected_wage, 100000);
        assert_int_equal(back.status, SG_STATUS_ILL);
        /* Re-encoding gives the canonical form, which decodes the same. */
        sg_buf_init(&b2);
        sg_worker_encode(&back, &b2);
        assert_int_equal(sg_worker_decode(b2.data, b2.len, NULL, &w, &e), 0);
        assert_worker_eq(&back, &w);
        sg_buf_free(&b2);
        sg_buf_free(&b);
    }

    /* id_number in clear without a key is refused. */
    {
        char text[1024];
        snprintf(text, sizeof text, "%.*s,\"id_number\":\"%s\"}",
                 (int)strlen(WORKER_JSON) - 1, WORKER_JSON, IDNUM);
        json_to_mp(text, &b);
        expect_err(sg_worker_decode(b.data, b.len, NULL, &back, &e), &e,
                   SG_EINVAL, "id_number", "no key to protect it");
        assert_int_equal(sg_worker_decode(b.data, b.len, KEY2, &back, &e),
                         0);
        assert_string_equal(back.idnum_masked, IDNUM_MASKED);
        sg_buf_free(&b);
    }
}

/* ---- JSON-only inputs. ---- */

static void test_json_inputs(void **state)
{
    sg_worker w;
    sg_job j;
    sg_error e;
    sg_kind k;
    char *text;
    int rc;

    (void)state;
    /* Duplicate keys are named, at the top and inside a site. */
    static const char dup[] = "{\"id\":\"a\",\"name\":\"x\",\"name\":\"y\"}";
    memset(&w, 0x77, sizeof w);
    k = 0;
    rc = sg_json_decode(dup, strlen(dup), SG_KIND_WORKER, NULL, &k, &w, NULL,
                        &e);
    expect_err(rc, &e, SG_EINVAL, "name", "duplicate key");
    assert_true(all_bytes(&w, sizeof w, 0x77));
    assert_int_equal(k, 0);
    static const char dup2[] = "{\"sites\":[{\"lat\":1, \"l\\u0061t\" :2}]}";
    rc = sg_json_decode(dup2, strlen(dup2), SG_KIND_JOB, NULL, &k, NULL, &j,
                        &e);
    expect_err(rc, &e, SG_EINVAL, "sites[0].lat", "duplicate key");
    static const char dup3[] = "{\"id\":\"j\",\"sites\":[{\"region\":\"a\"},"
                               "{\"lat\":[1,{\"a\":2}],\"region\":\"x\","
                               "\"region\":\"y\"}]}";
    rc = sg_json_decode(dup3, strlen(dup3), SG_KIND_JOB, NULL, &k, NULL, &j,
                        &e);
    expect_err(rc, &e, SG_EINVAL, "sites[1].region", "duplicate key");

    /* Not an object, trailing bytes, bad UTF-8, too big. */
    rc = sg_json_decode("[1,2]", 5, SG_KIND_WORKER, NULL, &k, &w, NULL, &e);
    expect_err(rc, &e, SG_EINVAL, "", "expected an object");
    text = mutate(WORKER_JSON, NULL, NULL);
    {
        char buf[2048];
        snprintf(buf, sizeof buf, "%s x", text);
        rc = sg_json_decode(buf, strlen(buf), SG_KIND_WORKER, NULL, &k, &w,
                            NULL, &e);
        expect_err(rc, &e, SG_EINVAL, "", "invalid JSON");
        snprintf(buf, sizeof buf, "%s\n", text); /* whitespace is fine */
        rc = sg_json_decode(buf, strlen(buf), SG_KIND_WORKER, NULL, &k, &w,
                            NULL, &e);
        assert_int_equal(rc, 0);
    }
    free(text);
    static const char bad_utf8[] = "{\"id\":\"a\",\"name\":\"\xc3\x28\"}";
    rc = sg_json_decode(bad_utf8, strlen(bad_utf8), SG_KIND_WORKER, NULL, &k,
                        &w, NULL, &e);
    expect_err(rc, &e, SG_EINVAL, "", "invalid JSON");
    static const char nul[] = "{\"name\":\"a\\u0000b\"}";
    rc = sg_json_decode(nul, strlen(nul), SG_KIND_WORKER, NULL, &k, &w, NULL,
                        &e);
    expect_err(rc, &e, SG_EINVAL, "", "invalid JSON");
    {
        size_t n = 65537;
        char *big = malloc(n);
        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        rc = sg_json_decode(big, n, SG_KIND_WORKER, NULL, &k, &w, NULL, &e);
        expect_err(rc, &e, SG_ETOOBIG, "", "65536");
        /* The same object in 65536 bytes is no longer too big. */
        big[n - 2] = '}';
        rc = sg_json_decode(big, n - 1, SG_KIND_WORKER, NULL, &k, &w, NULL,
                            &e);
        expect_err(rc, &e, SG_EINVAL, "id", "missing required field");
        free(big);
    }
    /* Deep nesting inside an unknown field. */
    {
        char deep[256] = "{\"x\":";
        size_t o = strlen(deep);
        for (int i = 0; i < 50; i++) {
            deep[o++] = '[';
        }
        for (int i = 0; i < 50; i++) {
            deep[o++] = ']';
        }
        deep[o++] = '}';
        rc = sg_json_decode(deep, o, SG_KIND_WORKER, NULL, &k, &w, NULL, &e);
        expect_err(rc, &e, SG_EINVAL, "", "nested too deeply");
    }

    /* "kind": required when want is 0, then it selects the record. */
    rc = sg_json_decode(WORKER_JSON, strlen(WORKER_JSON), 0, NULL, &k, &w,
                        &j, &e);
    expect_err(rc, &e, SG_EINVAL, "kind", "missing required field");
    text = mutate(JOB_JSON, "kind", "\"job\"");
    k = 0;
    rc = sg_json_decode(text, strlen(text), 0, NULL, &k, &w, &j, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(k, SG_KIND_JOB);
    assert_string_equal(j.id, "j-001");
    rc = sg_json_decode(text, strlen(text), SG_KIND_JOB, NULL, &k, &w, &j,
                        &e);
    assert_int_equal(rc, 0);
    rc = sg_json_decode(text, strlen(text), SG_KIND_WORKER, NULL, &k, &w, &j,
                        &e);
    expect_err(rc, &e, SG_EINVAL, "kind", "must be \"worker\"");
    free(text);
    text = mutate(JOB_JSON, "kind", "\"robot\"");
    rc = sg_json_decode(text, strlen(text), 0, NULL, &k, &w, &j, &e);
    expect_err(rc, &e, SG_EINVAL, "kind", "not one of: worker, job");
    free(text);
    text = mutate(WORKER_JSON, "kind", "\"worker\"");
    rc = sg_json_decode(text, strlen(text), 0, NULL, &k, &w, &j, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(k, SG_KIND_WORKER);
    free(text);
    /* "v" is optional in JSON, but checked when present. */
    text = mutate(WORKER_JSON, "v", "1");
    rc = sg_json_decode(text, strlen(text), SG_KIND_WORKER, NULL, &k, &w,
                        NULL, &e);
    assert_int_equal(rc, 0);
    free(text);
}

/* ---- Validation of records built in memory. ---- */

static void test_validate(void **state)
{
    sg_worker w;
    sg_job j;
    sg_error e;

    (void)state;
    min_worker(&w);
    assert_int_equal(sg_worker_validate(&w, &e), 0);
    w.nskills = 2;
    w.skills[0] = COOKING;
    w.skills[1] = WELD;
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "skills[1]",
               "not sorted");
    w.skills[1] = COOKING;
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "skills[1]",
               "repeated");
    w.skills[1] = 999;
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "skills[1]",
               "unknown skill");
    min_worker(&w);
    w.name[0] = '\0';
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "name", "empty");
    min_worker(&w);
    w.status = SG_STATUS__COUNT;
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "status", "range");
    min_worker(&w);
    w.available_from = 84006; /* 2200-01-01 */
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "available_from",
               "1900-01-01");
    min_worker(&w);
    w.has_geo = true;
    w.lat = NAN;
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "lat", "-90");
    min_worker(&w);
    w.has_idnum = true;
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "id_number_masked",
               "8 '*'");
    min_worker(&w);
    strcpy(w.region, "360425999201");
    expect_err(sg_worker_validate(&w, &e), &e, SG_EINVAL, "region",
               "unknown");

    min_job(&j);
    assert_int_equal(sg_job_validate(&j, &e), 0);
    j.labor_classes = 0;
    expect_err(sg_job_validate(&j, &e), &e, SG_EINVAL, "labor_classes",
               "1-4");
    min_job(&j);
    j.nsites = 0;
    expect_err(sg_job_validate(&j, &e), &e, SG_EINVAL, "sites", "1-8");
    min_job(&j);
    j.posted = (int64_t)90000 * 86400;
    expect_err(sg_job_validate(&j, &e), &e, SG_EINVAL, "posted", "2199");
    min_job(&j);
    j.wage_min = 10;
    expect_err(sg_job_validate(&j, &e), &e, SG_EINVAL, "wage_max",
               "less than wage_min");
    min_job(&j);
    j.state = 2;
    expect_err(sg_job_validate(&j, &e), &e, SG_EINVAL, "state", "range");
}

static void test_buf_hex(void **state)
{
    static const uint8_t bytes[] = {0x00, 0xff, 0x1a, 0xb0};
    char hex[9];
    sg_buf b;

    (void)state;
    sg_hex(bytes, sizeof bytes, hex);
    assert_string_equal(hex, "00ff1ab0");
    sg_buf_init(&b);
    assert_null(b.data);
    for (int i = 0; i < 1000; i++) {
        sg_buf_append(&b, "abc", 3);
    }
    assert_int_equal(b.len, 3000);
    assert_true(b.cap >= 3000);
    assert_memory_equal(b.data + 2997, "abc", 3);
    sg_buf_append(&b, NULL, 0);
    assert_int_equal(b.len, 3000);
    sg_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    sg_buf_free(&b); /* twice is fine */
}

/* ---- Truncation and random mutation. ---- */

static void test_truncations(void **state)
{
    sg_worker w, wo;
    sg_job j, jo;
    sg_buf b;
    sg_error e;

    (void)state;
    full_worker(&w);
    sg_buf_init(&b);
    sg_worker_encode(&w, &b);
    for (size_t n = 0; n < b.len; n++) {
        memset(&wo, 0x3C, sizeof wo);
        sg_error_clear(&e);
        assert_int_equal(sg_worker_decode(b.data, n, NULL, &wo, &e),
                         SG_EINVAL);
        assert_true(e.reason[0] != '\0');
        assert_true(all_bytes(&wo, sizeof wo, 0x3C));
    }
    assert_int_equal(sg_worker_decode(b.data, b.len, NULL, &wo, &e), 0);
    sg_buf_free(&b);
    sg_worker_to_json(&w, &b);
    for (size_t n = 0; n < b.len; n++) {
        sg_kind k = 0;
        memset(&wo, 0x3C, sizeof wo);
        assert_int_equal(sg_json_decode((const char *)b.data, n,
                                        SG_KIND_WORKER, NULL, &k, &wo, NULL,
                                        &e),
                         SG_EINVAL);
        assert_true(all_bytes(&wo, sizeof wo, 0x3C));
    }
    sg_buf_free(&b);

    json_job(JOB_JSON, &j);
    sg_job_encode(&j, &b);
    for (size_t n = 0; n < b.len; n++) {
        memset(&jo, 0x3C, sizeof jo);
        sg_error_clear(&e);
        assert_int_equal(sg_job_decode(b.data, n, &jo, &e), SG_EINVAL);
        assert_true(e.reason[0] != '\0');
        assert_true(all_bytes(&jo, sizeof jo, 0x3C));
    }
    sg_buf_free(&b);
}

/* A fixed-seed generator, so a failure can be replayed. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void mutate_bytes(uint8_t *p, size_t *n, size_t cap)
{
    int edits = 1 + (int)(rng() % 4);

    for (int i = 0; i < edits && *n > 0; i++) {
        size_t at = rng() % *n;
        switch (rng() % 6) {
        case 0: /* a random byte */
            p[at] = (uint8_t)rng();
            break;
        case 1: /* a flipped bit */
            p[at] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 2: /* an interesting msgpack type byte */
        {
            static const uint8_t types[] = {0xc0, 0xc1, 0xc2, 0xc3, 0xca,
                                            0xcb, 0xcf, 0xd3, 0xd9, 0xdb,
                                            0xdc, 0xdd, 0xde, 0xdf, 0xd4,
                                            0xc7, 0x9f, 0x8f, 0xbf, 0xff};
            p[at] = types[rng() % sizeof types];
            break;
        }
        case 3: /* truncate */
            *n = at;
            break;
        case 4: /* delete a byte */
            memmove(p + at, p + at + 1, *n - at - 1);
            (*n)--;
            break;
        default: /* insert a byte */
            if (*n < cap) {
                memmove(p + at + 1, p + at, *n - at);
                p[at] = (uint8_t)rng();
                (*n)++;
            }
            break;
        }
    }
}

static void test_random_mutations(void **state)
{
    uint8_t buf[SG_RECORD_MAX];
    sg_buf wb, jb, wjs, jjs;
    sg_worker w, wo, w2;
    sg_job j, jo, j2;
    sg_error e;
    int ok = 0, bad = 0;

    (void)state;
    full_worker(&w);
    json_job(JOB_JSON, &j);
    sg_buf_init(&wb);
    sg_buf_init(&jb);
    sg_buf_init(&wjs);
    sg_buf_init(&jjs);
    sg_worker_encode(&w, &wb);
    sg_job_encode(&j, &jb);
    sg_worker_to_json(&w, &wjs);
    sg_job_to_json(&j, &jjs);
    for (int iter = 0; iter < 40000; iter++) {
        /* 0: worker msgpack, 1: job msgpack, 2: worker JSON, 3: job JSON */
        int which = iter % 4;
        const sg_buf *src = which == 0   ? &wb
                            : which == 1 ? &jb
                            : which == 2 ? &wjs
                                         : &jjs;
        size_t n = src->len;
        int rc;

        memcpy(buf, src->data, n);
        mutate_bytes(buf, &n, sizeof buf);
        sg_error_clear(&e);
        if (which == 0) {
            rc = sg_worker_decode(buf, n, KEY1, &wo, &e);
        } else if (which == 1) {
            rc = sg_job_decode(buf, n, &jo, &e);
        } else {
            sg_kind k;
            rc = sg_json_decode((const char *)buf, n, 0, KEY1, &k, &wo, &jo,
                                &e);
            if (rc == 0) {
                assert_int_equal(k, which == 2 ? SG_KIND_WORKER : SG_KIND_JOB);
            }
        }
        if (rc != 0) {
            assert_true(rc == SG_EINVAL || rc == SG_EVERSION);
            if (e.reason[0] == '\0') {
                print_message("iteration %d: no reason\n", iter);
                fail();
            }
            bad++;
            continue;
        }
        /* Accepted: it must be a valid record that round-trips. */
        ok++;
        if (which == 1 || which == 3) {
            sg_buf b2;
            assert_int_equal(sg_job_validate(&jo, &e), 0);
            sg_buf_init(&b2);
            sg_job_encode(&jo, &b2);
            assert_int_equal(sg_job_decode(b2.data, b2.len, &j2, &e), 0);
            assert_job_eq(&jo, &j2);
            sg_buf_free(&b2);
        } else {
            sg_buf b2;
            assert_int_equal(sg_worker_validate(&wo, &e), 0);
            sg_buf_init(&b2);
            sg_worker_encode(&wo, &b2);
            assert_int_equal(sg_worker_decode(b2.data, b2.len, NULL, &w2, &e),
                             0);
            assert_worker_eq(&wo, &w2);
            sg_buf_free(&b2);
        }
    }
    print_message("mutations: %d accepted, %d refused\n", ok, bad);
    assert_true(bad > 0);
    sg_buf_free(&wb);
    sg_buf_free(&jb);
    sg_buf_free(&wjs);
    sg_buf_free(&jjs);
}

/* ---- msgpack -> JSON: the converter, and records through it. ---- */

/* The hand-written JSON builders that proto/json.c had before records
 * went encode -> convert, kept here only as the reference the converter's
 * output must equal byte for byte. */
static json_t *ref_must(json_t *v)
{
    assert_non_null(v);
    return v;
}

static void ref_set(json_t *o, const char *k, json_t *v)
{
    assert_int_equal(json_object_set_new(o, k, ref_must(v)), 0);
}

static void ref_set_str(json_t *o, const char *k, const char *s)
{
    json_t *v = json_string(s);

    ref_set(o, k, v != NULL ? v : json_string(""));
}

static void ref_set_enum(json_t *o, const char *k, sg_enum_kind kind, int v)
{
    const char *name = sg_enum_name(kind, v);

    ref_set_str(o, k, name != NULL ? name : "");
}

static void ref_set_date(json_t *o, const char *k, int32_t days)
{
    char d[11];

    sg_date_format(days, d);
    ref_set_str(o, k, d);
}

static void ref_set_skills(json_t *o, const char *k, const sg_skill *s,
                           size_t n)
{
    json_t *a = ref_must(json_array());

    for (size_t i = 0; i < n; i++) {
        const char *code = sg_skill_code(s[i]);
        json_array_append_new(a, ref_must(json_string(code ? code : "")));
    }
    ref_set(o, k, a);
}

static void ref_set_geo(json_t *o, double lat, double lon)
{
    ref_set(o, "lat", json_real(lat));
    ref_set(o, "lon", json_real(lon));
}

static json_t *ref_worker_to_jv(const sg_worker *w)
{
    json_t *o = ref_must(json_object());

    ref_set_str(o, "kind", "worker");
    ref_set_str(o, "id", w->id);
    ref_set_str(o, "name", w->name);
    ref_set_str(o, "region", w->region);
    if (w->has_geo) {
        ref_set_geo(o, w->lat, w->lon);
    }
    ref_set_enum(o, "labor_class", SG_ENUM_LABOR, w->labor_class);
    if (w->nskills > 0) {
        ref_set_skills(o, "skills", w->skills, w->nskills);
    }
    ref_set_enum(o, "category", SG_ENUM_CATEGORY, w->category);
    if (w->risk_eliminated) {
        ref_set(o, "risk_eliminated", json_true());
    }
    ref_set_str(o, "household", w->household);
    ref_set_enum(o, "travel", SG_ENUM_TRAVEL, w->travel);
    ref_set(o, "expected_wage", json_integer(w->expected_wage));
    if (w->available_from != SG_DATE_NONE) {
        ref_set_date(o, "available_from", w->available_from);
    }
    if (w->available_to != SG_DATE_NONE) {
        ref_set_date(o, "available_to", w->available_to);
    }
    ref_set_enum(o, "status", SG_ENUM_STATUS, w->status);
    ref_set(o, "seeking", json_boolean(w->seeking));
    if (w->phone[0] != '\0') {
        ref_set_str(o, "phone", w->phone);
    }
    if (w->has_idnum) {
        char hex[2 * SG_IDNUM_HASH_LEN + 1];
        sg_hex(w->idnum_hash, SG_IDNUM_HASH_LEN, hex);
        ref_set_str(o, "id_number_hash", hex);
        ref_set_str(o, "id_number_masked", w->idnum_masked);
    }
    return o;
}

static json_t *ref_job_to_jv(const sg_job *j)
{
    json_t *o = ref_must(json_object());
    json_t *classes, *sites;
    char posted[26];

    ref_set_str(o, "kind", "job");
    ref_set_str(o, "id", j->id);
    ref_set_str(o, "employer", j->employer);
    ref_set_enum(o, "source", SG_ENUM_SOURCE, j->source);
    ref_set_str(o, "title", j->title);
    if (j->nrequired > 0) {
        ref_set_skills(o, "skills_required", j->required, j->nrequired);
    }
    if (j->npreferred > 0) {
        ref_set_skills(o, "skills_preferred", j->preferred, j->npreferred);
    }
    classes = ref_must(json_array());
    for (int c = 0; c < SG_LABOR__COUNT; c++) {
        if (j->labor_classes & (1u << c)) {
            json_array_append_new(
                classes,
                ref_must(json_string(sg_enum_name(SG_ENUM_LABOR, c))));
        }
    }
    ref_set(o, "labor_classes", classes);
    sites = ref_must(json_array());
    for (size_t i = 0; i < j->nsites && i < SG_SITES_MAX; i++) {
        json_t *s = ref_must(json_object());
        ref_set_str(s, "region", j->sites[i].region);
        if (j->sites[i].has_geo) {
            ref_set_geo(s, j->sites[i].lat, j->sites[i].lon);
        }
        json_array_append_new(sites, s);
    }
    ref_set(o, "sites", sites);
    ref_set(o, "openings", json_integer(j->openings));
    ref_set(o, "wage_min", json_integer(j->wage_min));
    ref_set(o, "wage_max", json_integer(j->wage_max));
    if (j->starts != SG_DATE_NONE) {
        ref_set_date(o, "starts", j->starts);
    }
    if (j->ends != SG_DATE_NONE) {
        ref_set_date(o, "ends", j->ends);
    }
    if (j->contract_months != 0) {
        ref_set(o, "contract_months", json_integer(j->contract_months));
    }
    sg_time_format(j->posted, posted);
    ref_set_str(o, "posted", posted);
    ref_set_enum(o, "state", SG_ENUM_STATE, j->state);
    return o;
}

/* ref_dump returns the old compact text of v (taken); free it. */
static char *ref_dump(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                   JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

    assert_non_null(text);
    json_decref(v);
    return text;
}

/* ---- Random records. ---- */

static char villages[256][SG_REGION_LEN + 1];
static size_t nvillages;

static uint32_t pick(uint32_t n)
{
    return rng() % n;
}

static void rand_id(char *dst)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                              "qrstuvwxyz0123456789_-";
    size_t n = 1 + pick(SG_ID_MAX);

    for (size_t i = 0; i < n; i++) {
        dst[i] = set[pick(sizeof set - 1)];
    }
    dst[n] = '\0';
}

/* rand_text writes valid text (ASCII, Chinese, 4-byte characters, quotes
 * and backslashes) of at most max bytes. */
static void rand_text(char *dst, size_t max)
{
    static const char *const parts[] = {"a", "Z", "7", " ", "\"", "\\",
                                        "/", "张", "缝纫", "😀", "é", "~"};
    size_t o = 0, want = 1 + pick((uint32_t)max);

    while (o < want) {
        const char *p = parts[pick(sizeof parts / sizeof *parts)];
        size_t n = strlen(p);
        if (o + n > max) {
            break;
        }
        memcpy(dst + o, p, n);
        o += n;
    }
    if (o == 0) {
        dst[o++] = 'x';
    }
    dst[o] = '\0';
}

/* rand_degrees returns a coordinate at 1e-6 degree within +-max. */
static double rand_degrees(double max)
{
    double v = round(((double)rng() / 4294967295.0 * 2 - 1) * max * 1e6) /
               1e6;

    return v == 0.0 ? 0.0 : v;
}

static int32_t rand_date(void)
{
    return -25567 + (int32_t)pick(84005 + 25567 + 1);
}

static void rand_skills(sg_skill *out, uint8_t *n, size_t max,
                        const sg_skill *avoid, size_t navoid)
{
    size_t want = pick((uint32_t)max + 1);

    *n = 0;
    for (size_t i = 0; i < sg_skill_count() && *n < want; i++) {
        sg_skill s = sg_skill_at(i);
        bool taken = false;
        for (size_t k = 0; k < navoid; k++) {
            taken |= avoid[k] == s;
        }
        if (!taken && pick(4) == 0) {
            out[(*n)++] = s;
        }
    }
    /* Kept sorted by id, as the decoder leaves them. */
    for (size_t i = 1; i < *n; i++) {
        for (size_t k = i; k > 0 && out[k - 1] > out[k]; k--) {
            sg_skill t = out[k];
            out[k] = out[k - 1];
            out[k - 1] = t;
        }
    }
}

static void rand_worker(sg_worker *w)
{
    sg_error e;

    sg_worker_init(w);
    rand_id(w->id);
    rand_text(w->name, SG_NAME_MAX);
    strcpy(w->region, villages[pick((uint32_t)nvillages)]);
    if (pick(2)) {
        w->has_geo = true;
        w->lat = rand_degrees(90);
        w->lon = rand_degrees(180);
    }
    w->labor_class = (uint8_t)pick(SG_LABOR__COUNT);
    rand_skills(w->skills, &w->nskills, SG_SKILLS_MAX, NULL, 0);
    w->category = (uint8_t)pick(SG_CAT__COUNT);
    w->risk_eliminated = w->category == SG_CAT_MONITORED && pick(2);
    rand_id(w->household);
    w->travel = (uint8_t)pick(SG_TRAVEL__COUNT);
    w->expected_wage = (int32_t)pick(SG_WAGE_MAX + 1);
    if (pick(2)) {
        w->available_from = rand_date();
    }
    if (pick(2)) {
        w->available_to = rand_date();
        if (w->available_from != SG_DATE_NONE &&
            w->available_to < w->available_from) {
            w->available_to = w->available_from;
        }
    }
    w->status = (uint8_t)pick(SG_STATUS__COUNT);
    w->seeking = pick(2);
    if (pick(2)) {
        strcpy(w->phone, pick(2) ? "+86 138-0000-0000" : "12345");
    }
    if (pick(2)) {
        w->has_idnum = true;
        for (int i = 0; i < SG_IDNUM_HASH_LEN; i++) {
            w->idnum_hash[i] = (uint8_t)rng();
        }
        strcpy(w->idnum_masked, pick(2) ? IDNUM_MASKED : "360425********123X");
    }
    if (sg_worker_validate(w, &e) != 0) {
        print_message("random worker invalid: %s: %s\n", e.field, e.reason);
        fail();
    }
}

static void rand_job(sg_job *j)
{
    size_t first;
    sg_error e;

    sg_job_init(j);
    rand_id(j->id);
    rand_id(j->employer);
    j->source = (uint8_t)pick(SG_SOURCE__COUNT);
    rand_text(j->title, SG_TITLE_MAX);
    rand_skills(j->required, &j->nrequired, SG_REQ_SKILLS_MAX, NULL, 0);
    rand_skills(j->preferred, &j->npreferred, SG_REQ_SKILLS_MAX, j->required,
                j->nrequired);
    j->labor_classes = (uint8_t)(1 + pick((1u << SG_LABOR__COUNT) - 1));
    j->nsites = (uint8_t)(1 + pick(SG_SITES_MAX));
    /* Distinct regions: a run of villages from a random start. */
    first = pick((uint32_t)nvillages);
    for (size_t i = 0; i < j->nsites; i++) {
        strcpy(j->sites[i].region, villages[(first + i) % nvillages]);
        if (pick(2)) {
            j->sites[i].has_geo = true;
            j->sites[i].lat = rand_degrees(90);
            j->sites[i].lon = rand_degrees(180);
        }
    }
    j->openings = (int32_t)pick(SG_OPENINGS_MAX + 1);
    j->wage_min = (int32_t)pick(SG_WAGE_MAX + 1);
    j->wage_max = j->wage_min + (int32_t)pick(SG_WAGE_MAX - j->wage_min + 1);
    if (pick(2)) {
        j->starts = rand_date();
    }
    if (pick(2)) {
        j->ends = rand_date();
        if (j->starts != SG_DATE_NONE && j->ends < j->starts) {
            j->ends = j->starts;
        }
    }
    j->contract_months = pick(2) ? (int32_t)pick(SG_CONTRACT_MAX + 1) : 0;
    j->posted = (int64_t)pick(2000000000u);
    j->state = (uint8_t)pick(SG_JOB_STATE__COUNT);
    if (sg_job_validate(j, &e) != 0) {
        print_message("random job invalid: %s: %s\n", e.field, e.reason);
        fail();
    }
}

static void load_villages(void)
{
    if (nvillages == 0) {
        nvillages = sg_county_villages("360425", villages, 256);
        assert_true(nvillages > 10);
    }
}

/* check_json compares a record's text and jansson forms with the old
 * builder's text (ref, owned by the caller). */
static void check_json(const sg_buf *text, json_t *jv, const char *ref)
{
    char *dumped = ref_dump(jv);

    if (text->len != strlen(ref) || memcmp(text->data, ref, text->len)) {
        print_message("new: %.*s\nold: %s\n", (int)text->len, text->data,
                      ref);
        fail();
    }
    assert_string_equal(dumped, ref);
    free(dumped);
}

/* generic_equals_ref checks that the generic converter of the msgpack in
 * mp gives ref with "kind":"..." in the place of "v":1. */
static void generic_equals_ref(const sg_buf *mp, const char *ref,
                               const char *kind)
{
    char head[32];
    sg_buf g;
    sg_error e;
    int n = snprintf(head, sizeof head, "{\"kind\":\"%s\"", kind);

    sg_buf_init(&g);
    assert_int_equal(sg_msgpack_to_json(mp->data, mp->len, &g, &e), 0);
    assert_memory_equal(g.data, "{\"v\":1", 6);
    assert_memory_equal(ref, head, (size_t)n);
    assert_int_equal(g.len - 6, strlen(ref) - (size_t)n);
    assert_memory_equal(g.data + 6, ref + n, g.len - 6);
    sg_buf_free(&g);
}

static void test_records_match_old_json(void **state)
{
    int n = 0;

    (void)state;
    load_villages();
    for (int iter = 0; iter < 3000; iter++) {
        sg_buf text, mp, again;
        sg_error e;
        sg_kind k;
        char *ref;

        sg_buf_init(&text);
        sg_buf_init(&mp);
        sg_buf_init(&again);
        if (iter % 2 == 0) {
            sg_worker w, back;
            rand_worker(&w);
            ref = ref_dump(ref_worker_to_jv(&w));
            sg_worker_to_json(&w, &text);
            check_json(&text, sg_worker_to_jv(&w), ref);
            /* JSON -> record -> JSON is the same text. */
            assert_int_equal(sg_json_decode((const char *)text.data,
                                            text.len, 0, NULL, &k, &back,
                                            NULL, &e),
                             0);
            assert_int_equal(k, SG_KIND_WORKER);
            assert_worker_eq(&w, &back);
            sg_worker_to_json(&back, &again);
            sg_worker_encode(&w, &mp);
            generic_equals_ref(&mp, ref, "worker");
        } else {
            sg_job j, back;
            rand_job(&j);
            ref = ref_dump(ref_job_to_jv(&j));
            sg_job_to_json(&j, &text);
            check_json(&text, sg_job_to_jv(&j), ref);
            assert_int_equal(sg_json_decode((const char *)text.data,
                                            text.len, 0, NULL, &k, NULL,
                                            &back, &e),
                             0);
            assert_int_equal(k, SG_KIND_JOB);
            assert_job_eq(&j, &back);
            sg_job_to_json(&back, &again);
            sg_job_encode(&j, &mp);
            generic_equals_ref(&mp, ref, "job");
        }
        assert_int_equal(again.len, text.len);
        assert_memory_equal(again.data, text.data, text.len);
        n++;
        free(ref);
        sg_buf_free(&text);
        sg_buf_free(&mp);
        sg_buf_free(&again);
    }
    assert_int_equal(n, 3000);
}

/* rand_double returns any finite double, from its bits. */
static double rand_double(void)
{
    double d;

    do {
        uint64_t u = (uint64_t)rng() << 32 | rng();
        memcpy(&d, &u, sizeof d);
    } while (!isfinite(d));
    return d;
}

/* Records that were never validated print as they always did: control
 * characters escaped, text that is not UTF-8 as "", enum values out of
 * range as "", any finite coordinate in jansson's number format. */
static void test_unvalidated_records_match_old_json(void **state)
{
    static const double odd[] = {0.0,    -0.0,  1e15,   1e16,  1e-5,
                                 1e-7,   1e300, -1e-300, 5e-324, 100.0,
                                 0.1,    1.0 / 3, 123456789012345678.0,
                                 -2.5e-10, 29.000001};
    (void)state;
    load_villages();
    for (int iter = 0; iter < 2000; iter++) {
        sg_worker w;
        sg_job j;
        sg_buf text;
        char *ref;

        rand_worker(&w);
        rand_job(&j);
        /* Any bytes in the texts, NUL-terminated. */
        for (size_t i = 0; i + 1 < sizeof w.name; i++) {
            w.name[i] = (char)(1 + pick(255));
        }
        w.name[pick(sizeof w.name)] = '\0';
        if (iter % 3 == 0) {
            snprintf(w.name, sizeof w.name, "a\x01\x1f\x7f\"\\/\t\n\r\b\f");
        }
        for (size_t i = 0; i < 8; i++) {
            j.title[i] = (char)(1 + pick(255));
        }
        j.title[8] = '\0';
        w.has_geo = true;
        w.lat = iter < 15 ? odd[iter] : rand_double();
        w.lon = rand_double();
        j.sites[0].has_geo = true;
        j.sites[0].lat = rand_double();
        j.sites[0].lon = iter < 15 ? odd[iter] : rand_double();
        if (iter % 7 == 0) {
            w.status = 200;
            w.travel = SG_TRAVEL__COUNT;
            j.source = 77;
            j.labor_classes = 0xff;
            if (w.nskills > 0) {
                w.skills[0] = 9999; /* no such skill: "" */
            }
        }

        sg_buf_init(&text);
        ref = ref_dump(ref_worker_to_jv(&w));
        sg_worker_to_json(&w, &text);
        check_json(&text, sg_worker_to_jv(&w), ref);
        free(ref);
        sg_buf_free(&text);
        ref = ref_dump(ref_job_to_jv(&j));
        sg_job_to_json(&j, &text);
        check_json(&text, sg_job_to_jv(&j), ref);
        free(ref);
        sg_buf_free(&text);
    }
}

/* A record holding a coordinate that is not finite still prints (the
 * old builder aborted): the number becomes null. */
static void test_record_not_finite(void **state)
{
    sg_worker w;
    sg_buf b;
    json_t *jv;

    (void)state;
    min_worker(&w);
    w.has_geo = true;
    w.lat = NAN;
    w.lon = -INFINITY;
    sg_buf_init(&b);
    sg_worker_to_json(&w, &b);
    assert_true(mem_has(b.data, b.len, "\"lat\":null,\"lon\":null,"));
    sg_buf_free(&b);
    jv = sg_worker_to_jv(&w);
    assert_true(json_is_null(json_object_get(jv, "lat")));
    json_decref(jv);
}

/* ---- The generic converter. ---- */

/* conv_ok converts p[0..n) both ways and checks the text (and the
 * jansson tree, dumped) is want. */
static void conv_ok(const void *p, size_t n, const char *want)
{
    sg_buf b;
    sg_error e;
    json_t *jv = NULL;
    char *text;

    sg_buf_init(&b);
    sg_buf_append(&b, "<<", 2); /* appends after what is there */
    sg_error_clear(&e);
    if (sg_msgpack_to_json(p, n, &b, &e) != 0) {
        print_message("refused: %s: %s (want %s)\n", e.field, e.reason, want);
        fail();
    }
    assert_memory_equal(b.data, "<<", 2);
    if (b.len - 2 != strlen(want) || memcmp(b.data + 2, want, b.len - 2)) {
        print_message("got  %.*s\nwant %s\n", (int)b.len - 2, b.data + 2,
                      want);
        fail();
    }
    sg_buf_free(&b);
    assert_int_equal(sg_msgpack_to_jv(p, n, &jv, &e), 0);
    text = json_dumps(jv, JSON_COMPACT | JSON_ENCODE_ANY |
                              JSON_REAL_PRECISION(15));
    assert_string_equal(text, want);
    free(text);
    json_decref(jv);
}

/* conv_err checks both forms refuse p[0..n) with field and a reason that
 * contains reason, and leave their output as it was. */
static void conv_err(const void *p, size_t n, const char *field,
                     const char *reason)
{
    sg_buf b;
    sg_error e;
    json_t *jv = (json_t *)&b; /* must stay untouched */

    sg_buf_init(&b);
    sg_buf_append(&b, "keep", 4);
    sg_error_clear(&e);
    assert_int_equal(sg_msgpack_to_json(p, n, &b, &e), SG_EINVAL);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "keep", 4);
    if (strcmp(e.field, field) != 0 || strstr(e.reason, reason) == NULL) {
        print_message("got %s: %s\nwant %s: %s\n", e.field, e.reason, field,
                      reason);
        fail();
    }
    sg_buf_free(&b);
    sg_error_clear(&e);
    assert_int_equal(sg_msgpack_to_jv(p, n, &jv, &e), SG_EINVAL);
    assert_ptr_equal(jv, (json_t *)&b);
    assert_string_equal(e.field, field);
    assert_non_null(strstr(e.reason, reason));
}

/* conv_json packs the JSON text in, independently of proto/, and checks
 * the converter gives it back byte for byte. */
static void conv_same(const char *json)
{
    sg_buf mp;

    json_to_mp(json, &mp);
    conv_ok(mp.data, mp.len, json);
    sg_buf_free(&mp);
}

/* jansson_text is what jansson writes for v (taken): free it. */
static char *jansson_text(json_t *v)
{
    json_t *a = json_array();
    char *text;

    json_array_append_new(a, v);
    text = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(a);
    return text;
}

static void test_convert_values(void **state)
{
    msgpack_packer pk;
    sg_buf mp;

    (void)state;
    conv_same("null");
    conv_same("true");
    conv_same("[false,0,-1,127,128,-32,-33,255,256,65536,-129]");
    conv_same("[9223372036854775807,-9223372036854775808]");
    conv_same("{}");
    conv_same("[]");
    conv_same("{\"a\":{\"b\":[],\"c\":{}},\"d\":[1,[2,[3]]],\"\":\"\"}");
    conv_same("\"张三 😀 \\\" \\\\ / \\n\\t\\u0001\\u001F\"");
    conv_same("[29.1,115.8,-0.5,1e-6,0.0,-0.0,1e20,1.5e-7]");

    /* Every integer encoding msgpack has, against jansson. */
    {
        static const int64_t ints[] = {0,           1,          -1,
                                       -32,         -33,        127,
                                       128,         255,        256,
                                       65535,       65536,      -32768,
                                       -32769,      4294967295, 4294967296,
                                       INT64_MIN,   INT64_MAX,  -2147483649};
        for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
            char *want = jansson_text(json_integer(ints[i]));
            sg_buf_init(&mp);
            msgpack_packer_init(&pk, &mp, buf_write);
            msgpack_pack_array(&pk, 1);
            msgpack_pack_int64(&pk, ints[i]);
            conv_ok(mp.data, mp.len, want);
            sg_buf_free(&mp);
            if (ints[i] >= 0) { /* as uint64 (0xcf) too */
                static uint8_t u[10] = {0x91, 0xcf};
                for (int k = 0; k < 8; k++) {
                    u[2 + k] = (uint8_t)((uint64_t)ints[i] >> (56 - 8 * k));
                }
                conv_ok(u, sizeof u, want);
            }
            free(want);
        }
    }

    /* Numbers: jansson's format for 20,000 doubles of any magnitude. */
    for (int i = 0; i < 20000; i++) {
        double d = i < 1000 ? rand_degrees(180) : rand_double();
        char *want = jansson_text(json_real(d));
        sg_buf_init(&mp);
        msgpack_packer_init(&pk, &mp, buf_write);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_double(&pk, d);
        conv_ok(mp.data, mp.len, want);
        free(want);
        sg_buf_free(&mp);
    }
    /* float32 is widened, as the decoder widens it. */
    {
        static const uint8_t f32[] = {0x92, 0xca, 0x3d, 0xcc, 0xcc, 0xcd,
                                      0xca, 0x42, 0xe9, 0x00, 0x00};
        char *a = jansson_text(json_real((double)0.1f));
        char want[64];
        snprintf(want, sizeof want, "[%.*s,116.5]", (int)strlen(a) - 2,
                 a + 1);
        conv_ok(f32, sizeof f32, want);
        free(a);
    }

    /* Strings: every ASCII byte and some multi-byte characters, each
     * escaped (or not) exactly as jansson does. */
    for (int c = 0; c < 0x80; c++) {
        char s[3] = {'a', (char)c, 'z'};
        char *want = jansson_text(json_stringn(s, 3));
        sg_buf_init(&mp);
        msgpack_packer_init(&pk, &mp, buf_write);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_str(&pk, 3);
        msgpack_pack_str_body(&pk, s, 3);
        conv_ok(mp.data, mp.len, want);
        free(want);
        sg_buf_free(&mp);
    }
    {
        static const char *const utf8[] = {"张", "é", "😀", "\xe2\x80\xa8",
                                           "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
        for (size_t i = 0; i < sizeof utf8 / sizeof *utf8; i++) {
            char *want = jansson_text(json_string(utf8[i]));
            sg_buf_init(&mp);
            msgpack_packer_init(&pk, &mp, buf_write);
            msgpack_pack_array(&pk, 1);
            pk_str(&pk, utf8[i]);
            conv_ok(mp.data, mp.len, want);
            free(want);
            sg_buf_free(&mp);
        }
    }
}

static void test_convert_errors(void **state)
{
    uint8_t deep[2048];
    char json[64];
    sg_buf mp;
    json_t *v;

    (void)state;
    /* Nesting: the same depth as JSON -> msgpack allows. */
    memset(deep, 0x91, sizeof deep);
    deep[7] = 0x01;
    conv_ok(deep, 8, "[[[[[[[1]]]]]]]");
    deep[7] = 0x90;
    conv_ok(deep, 8, "[[[[[[[[]]]]]]]]");
    deep[7] = 0x91;
    deep[8] = 0x01;
    conv_err(deep, 9, "[0][0][0][0][0][0][0][0]", "nested too deeply");
    conv_err(deep, sizeof deep, "[0][0][0][0][0][0][0][0]",
             "nested too deeply");
    for (int d = 7; d <= 8; d++) {
        sg_buf_init(&mp);
        memset(json, '[', (size_t)d);
        json[d] = '1';
        memset(json + d + 1, ']', (size_t)d);
        json[2 * d + 1] = '\0';
        v = json_loads(json, 0, NULL);
        assert_int_equal(sg_json_to_msgpack(v, &mp), d == 7 ? 0 : SG_EINVAL);
        json_decref(v);
        sg_buf_free(&mp);
    }

    /* Hostile sizes: checked against the bytes left, before any loop. */
    conv_err("\xdd\xff\xff\xff\xff", 5, "", "array has more entries");
    conv_err("\xdf\xff\xff\xff\xff\x01", 6, "", "map has more entries");
    conv_err("\xdb\xff\xff\xff\xff" "abc", 8, "", "string longer");
    conv_err("\xc6\xff\xff\xff\xff", 5, "", "longer than the rest");
    conv_err("\x91\xdc\xff\xff\x01", 5, "[0]", "array has more entries");
    conv_err("\x81\xa1k\xde\x00\x09\x01", 7, "k", "map has more entries");
    {
        /* 65 keys: over the map limit, though the bytes are there. */
        uint8_t m[3 + 65 * 3] = {0xde, 0x00, 65};
        for (int i = 0; i < 65; i++) {
            m[3 + 3 * i] = 0xa1;
            m[4 + 3 * i] = (uint8_t)(0x30 + i);
            m[5 + 3 * i] = 0x00;
        }
        conv_err(m, sizeof m, "", "more than 64 keys");
        m[2] = 64; /* 64 is fine */
        sg_buf_init(&mp);
        assert_int_equal(sg_msgpack_to_json(m, sizeof m - 3, &mp, NULL), 0);
        sg_buf_free(&mp);
    }
    conv_err("", 0, "", "truncated input");
    conv_err("\x92\x01\xcb\x00", 4, "[1]", "truncated input");
    conv_err("\xcb\x00\x00", 3, "", "truncated input");
    conv_err("\x01\x02", 2, "", "trailing bytes");

    /* Types JSON has no form for. */
    conv_err("\xc4\x01" "A", 3, "", "binary data has no JSON form");
    conv_err("\x81\xa1x\xc4\x00", 5, "x", "binary data");
    conv_err("\xd4\x01\x00", 3, "", "extension types are not allowed");
    conv_err("\x91\xc7\x01\x05\x00", 5, "[0]", "extension types");
    conv_err("\xc1", 1, "", "invalid byte 0xc1");
    conv_err("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, "",
             "integer larger than 9223372036854775807");
    conv_err("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9, "",
             "NaN and infinity have no JSON form");
    conv_err("\xca\xff\x80\x00\x00", 5, "", "NaN and infinity");
    /* The path names where: {"a":[1,{"b":NaN}]} */
    conv_err("\x81\xa1" "a\x92\x01\x81\xa1" "b\xcb\x7f\xf0\x00\x00\x00\x00"
             "\x00\x00",
             18, "a[1].b", "NaN and infinity");

    /* Text that is not UTF-8, in values and in keys. */
    {
        static const char *const bad[] = {"\xc3\x28", "\xc0\xaf",
                                          "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                          "\xe5\xbc", "\xff", "a\x80"};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            uint8_t m[16] = {0x81, 0xa4, 'n', 'a', 'm', 'e'};
            size_t n = strlen(bad[i]);
            m[6] = (uint8_t)(0xa0 | n);
            memcpy(m + 7, bad[i], n);
            conv_err(m, 7 + n, "name", "not valid UTF-8");
            m[1] = (uint8_t)(0xa0 | n);
            memcpy(m + 2, bad[i], n);
            m[2 + n] = 0xc0;
            conv_err(m, 3 + n, "", "a key is not valid UTF-8");
        }
    }

    /* Keys: strings, no repeats. */
    conv_err("\x81\x01\x02", 3, "", "a key is not a string");
    conv_err("\x82\xa1" "a\x01\xa1" "a\x02", 7, "a", "duplicate key");
    conv_err("\x81\xa1" "a\x81\xa1" "b\x81\xc0\x00", 9, "a.b",
             "a key is not a string");
}

/* A clear ID number is never written, by the generic converter either:
 * its key is refused before the value is read, and nothing of it lands. */
static void test_convert_idnum(void **state)
{
    msgpack_packer pk;
    sg_buf mp, out;
    sg_error e;
    json_t *jv = NULL;

    (void)state;
    sg_buf_init(&mp);
    msgpack_packer_init(&pk, &mp, buf_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "name");
    pk_str(&pk, "x");
    pk_str(&pk, "id_number");
    pk_str(&pk, IDNUM);
    sg_buf_init(&out);
    assert_int_equal(sg_msgpack_to_json(mp.data, mp.len, &out, &e),
                     SG_EINVAL);
    assert_int_equal(out.len, 0);
    /* The partial text, {"name":"x" (11 bytes), was wiped too. */
    assert_non_null(out.data);
    assert_true(all_bytes(out.data, 11, 0));
    assert_string_equal(e.field, "id_number");
    assert_non_null(strstr(e.reason, "never written"));
    assert_null(strstr(e.reason, IDNUM_BIRTH));
    assert_int_equal(sg_msgpack_to_jv(mp.data, mp.len, &jv, &e), SG_EINVAL);
    assert_null(jv);
    sg_buf_free(&out);
    sg_buf_free(&mp);
    conv_err("\x91\x81\xa9id_number\xc0", 13, "[0].id_number",
             "never written as JSON");
    /* Its protected forms are fine. */
    conv_same("{\"id_number_hash\":\"00ff\",\"id_number_masked\":\""
              IDNUM_MASKED "\"}");
}

/* Random bytes and mutated records: the converter either refuses with a
 * reason or writes JSON that jansson parses, and both forms agree. */
static void test_convert_random(void **state)
{
    uint8_t buf[SG_RECORD_MAX];
    sg_worker w;
    sg_job j;
    sg_buf src[2];
    int ok = 0, bad = 0;

    (void)state;
    full_worker(&w);
    json_job(JOB_JSON, &j);
    sg_buf_init(&src[0]);
    sg_buf_init(&src[1]);
    sg_worker_encode(&w, &src[0]);
    sg_job_encode(&j, &src[1]);
    for (int iter = 0; iter < 20000; iter++) {
        const sg_buf *s = &src[iter % 2];
        size_t n = s->len;
        sg_buf out;
        sg_error e, e2;
        json_t *jv = NULL;
        int rc, rc2;

        memcpy(buf, s->data, n);
        mutate_bytes(buf, &n, sizeof buf);
        sg_buf_init(&out);
        sg_error_clear(&e);
        rc = sg_msgpack_to_json(buf, n, &out, &e);
        rc2 = sg_msgpack_to_jv(buf, n, &jv, &e2);
        assert_int_equal(rc, rc2);
        if (rc != 0) {
            assert_int_equal(rc, SG_EINVAL);
            assert_true(e.reason[0] != '\0');
            assert_string_equal(e.field, e2.field);
            assert_string_equal(e.reason, e2.reason);
            assert_int_equal(out.len, 0);
            bad++;
        } else {
            json_error_t je;
            json_t *parsed = json_loadb((const char *)out.data, out.len,
                                        JSON_DECODE_ANY | JSON_ALLOW_NUL |
                                            JSON_REJECT_DUPLICATES,
                                        &je);
            char *text = json_dumps(jv, JSON_COMPACT | JSON_ENCODE_ANY |
                                            JSON_REAL_PRECISION(15));
            if (parsed == NULL) {
                print_message("not JSON (%s): %.*s\n", je.text,
                              (int)out.len, out.data);
                fail();
            }
            assert_int_equal(strlen(text), out.len);
            assert_memory_equal(text, out.data, out.len);
            free(text);
            json_decref(parsed);
            json_decref(jv);
            ok++;
        }
        sg_buf_free(&out);
    }
    print_message("converter mutations: %d converted, %d refused\n", ok, bad);
    assert_true(ok > 0 && bad > 0);
    sg_buf_free(&src[0]);
    sg_buf_free(&src[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_idnum_check),
        cmocka_unit_test(test_idnum_protect),
        cmocka_unit_test(test_worker_decoded_values),
        cmocka_unit_test(test_job_decoded_values),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encoded_forms),
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_idnum_never_leaks),
        cmocka_unit_test(test_bad_workers),
        cmocka_unit_test(test_bad_jobs),
        cmocka_unit_test(test_hostile_msgpack),
        cmocka_unit_test(test_msgpack_forms),
        cmocka_unit_test(test_json_inputs),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_buf_hex),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_records_match_old_json),
        cmocka_unit_test(test_unvalidated_records_match_old_json),
        cmocka_unit_test(test_record_not_finite),
        cmocka_unit_test(test_convert_values),
        cmocka_unit_test(test_convert_errors),
        cmocka_unit_test(test_convert_idnum),
        cmocka_unit_test(test_convert_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
