/* tests/tables_test.c -- the skills taxonomy, the region table and the
 * synthetic-data generator, through their public headers.  The generator
 * is checked by decoding every line it writes with the real JSON decoder,
 * so what `songgang gen` writes is always loadable.  Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../tools/gen.h"
#include "songgang/proto.h"

/* ---- Skills ---- */

static void test_skills(void **state)
{
    (void)state;
    assert_int_equal(sg_skill_count(), 50);
    assert_int_equal(sg_skill_at(0), 1);
    assert_int_equal(sg_skill_at(49), 50);
    assert_int_equal(sg_skill_at(50), 0);
    assert_string_equal(sg_skill_code(1), "weld");
    assert_string_equal(sg_skill_name_zh(1), "焊工");
    assert_string_equal(sg_skill_code(50), "shoe_making");
    assert_string_equal(sg_skill_name_zh(50), "制鞋工");
    assert_string_equal(sg_skill_name_zh(9), "厨师/烹饪");
    assert_null(sg_skill_code(0));
    assert_null(sg_skill_code(51));
    assert_null(sg_skill_name_zh(0));

    for (size_t i = 0; i < sg_skill_count(); i++) {
        sg_skill s = sg_skill_at(i);
        const char *code = sg_skill_code(s);
        sg_skill back = 0;
        assert_non_null(code);
        assert_non_null(sg_skill_name_zh(s));
        assert_int_equal(sg_skill_find(code, strlen(code), &back), 0);
        assert_int_equal(back, s);
    }

    sg_skill s = 777;
    assert_int_equal(sg_skill_find("xyz", 3, &s), SG_ENOTFOUND);
    assert_int_equal(s, 777); /* untouched on error */
    assert_int_equal(sg_skill_find("wel", 3, &s), SG_ENOTFOUND);
    assert_int_equal(sg_skill_find("", 0, &s), SG_ENOTFOUND);
    assert_int_equal(sg_skill_find("Weld", 4, &s), SG_ENOTFOUND);
    assert_int_equal(sg_skill_find("weld\0x", 6, &s), SG_ENOTFOUND);
    assert_int_equal(sg_skill_find("shoe_making_", 12, &s), SG_ENOTFOUND);
    /* Only len bytes count: the input need not be NUL-terminated. */
    assert_int_equal(sg_skill_find("weldxyz", 4, &s), 0);
    assert_int_equal(s, 1);
    assert_int_equal(sg_skill_find("textile", 7, &s), 0);
    assert_int_equal(s, 49);
}

/* ---- Regions ---- */

static void check_ok(const char *code)
{
    sg_error e;
    memset(&e, 0, sizeof e);
    int rc = sg_region_check(code, strlen(code), &e);
    if (rc != 0) {
        fail_msg("%s: %s", code, e.reason);
    }
}

static void check_bad(const char *code, size_t len, const char *reason)
{
    sg_error e;
    memset(&e, 0, sizeof e);
    strcpy(e.field, "caller"); /* the field is the caller's to set */
    assert_int_equal(sg_region_check(code, len, &e), SG_EINVAL);
    assert_string_equal(e.reason, reason);
    assert_string_equal(e.field, "caller");
}

static void test_region_check(void **state)
{
    (void)state;
    check_ok("360425100201");
    check_ok("360425101201");
    check_ok("360425114208");
    check_ok("360102101201"); /* synthetic county */
    check_ok("361181101201");
    check_ok("441900101201"); /* export destination */

    check_bad("36042510020", 11, "must be 12 digits");
    check_bad("3604251002011", 13, "must be 12 digits");
    check_bad("36042510020a", 12, "must be 12 digits");
    check_bad("", 0, "must be 12 digits");
    check_bad(NULL, 12, "must be 12 digits");
    check_bad("360499100201", 12, "unknown county 360499");
    check_bad("990000100201", 12, "unknown county 990000");
    check_bad("360400000000", 12, "unknown county 360400");
    check_bad("360425999201", 12, "unknown township 360425999");
    check_bad("360425115201", 12, "unknown township 360425115");
    check_bad("360425100299", 12, "unknown village 360425100299");
    check_bad("360425100209", 12, "unknown village 360425100209");
    check_bad("360425100200", 12, "unknown village 360425100200");
    /* Synthetic counties know townships 101.. and villages 201.. only. */
    check_bad("360102100201", 12, "unknown township 360102100");
    check_bad("360102999201", 12, "unknown township 360102999");
    check_bad("360102101200", 12, "unknown village 360102101200");
    check_bad("360102101299", 12, "unknown village 360102101299");
    assert_int_equal(sg_region_check("360425100201", 12, NULL), 0);
    assert_int_equal(sg_region_check("360499100201", 12, NULL), SG_EINVAL);
}

static void expect_region(const char *code, const char *name)
{
    sg_region_info r;
    assert_int_equal(sg_region_lookup(code, &r), 0);
    assert_string_equal(r.code, code);
    assert_string_equal(r.name, name);
}

static void test_region_lookup(void **state)
{
    (void)state;
    sg_region_info r;
    expect_region("36", "江西省");
    expect_region("3604", "九江市");
    expect_region("3611", "上饶市");
    expect_region("360425", "永修县");
    expect_region("360102", "东湖区");
    expect_region("361181", "德兴市");
    expect_region("360425100", "涂埠镇");
    expect_region("360425101", "吴城镇");
    expect_region("360425114", "江上乡");
    expect_region("440306", "宝安区");
    expect_region("44", "广东省");
    expect_region("4403", "深圳市");
    expect_region("360102101", "东湖区第1乡镇");
    expect_region("360102102205", "东湖区第2乡镇第5村");

    assert_int_equal(sg_region_lookup("360425100", &r), 0);
    assert_true(r.lat > 28.9 && r.lat < 29.1);
    assert_true(r.lon > 115.7 && r.lon < 115.9);
    assert_int_equal(sg_region_lookup("360425100201", &r), 0);
    assert_true(strlen(r.name) > 3);
    assert_string_equal(r.name + strlen(r.name) - 3, "村");

    /* Synthetic positions are fixed and near the county centre. */
    sg_region_info a, b, c;
    assert_int_equal(sg_region_lookup("360102", &c), 0);
    assert_int_equal(sg_region_lookup("360102103204", &a), 0);
    assert_int_equal(sg_region_lookup("360102103204", &b), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.lat != c.lat || a.lon != c.lon);

    for (const char *const *p =
             (const char *const[]){"", "3", "99", "3699", "360499", "360425999",
                                   "360425100299", "12345", "3604251002011",
                                   "36042510020a", "360102100", "360102101299",
                                   NULL};
         *p != NULL; p++) {
        memset(&r, 0x5a, sizeof r);
        assert_int_equal(sg_region_lookup(*p, &r), SG_ENOTFOUND);
        assert_int_equal((unsigned char)r.code[0], 0x5a); /* untouched */
    }
    assert_true(sg_region_lookup(NULL, &r) < 0);
    assert_true(sg_region_lookup("36", NULL) < 0);
}

static void test_tier(void **state)
{
    (void)state;
    const char *w = "360425100201";
    assert_int_equal(sg_region_tier(w, "360425100201"), SG_TRAVEL_VILLAGE);
    assert_int_equal(sg_region_tier(w, "360425100202"), SG_TRAVEL_TOWNSHIP);
    assert_int_equal(sg_region_tier(w, "360425103201"), SG_TRAVEL_COUNTY);
    assert_int_equal(sg_region_tier(w, "360426101201"), SG_TRAVEL_CITY);
    assert_int_equal(sg_region_tier(w, "360102101201"), SG_TRAVEL_PROVINCE);
    assert_int_equal(sg_region_tier(w, "441900101201"), SG_TRAVEL_ANY);
    assert_int_equal(sg_region_tier("440306101201", "441900101201"),
                     SG_TRAVEL_PROVINCE);
    assert_int_equal(sg_region_tier(w, "460425100201"), SG_TRAVEL_ANY);

    assert_int_equal(sg_travel_prefix_len(SG_TRAVEL_VILLAGE), 12);
    assert_int_equal(sg_travel_prefix_len(SG_TRAVEL_TOWNSHIP), 9);
    assert_int_equal(sg_travel_prefix_len(SG_TRAVEL_COUNTY), 6);
    assert_int_equal(sg_travel_prefix_len(SG_TRAVEL_CITY), 4);
    assert_int_equal(sg_travel_prefix_len(SG_TRAVEL_PROVINCE), 2);
    assert_int_equal(sg_travel_prefix_len(SG_TRAVEL_ANY), 0);
    assert_true(sg_travel_prefix_len(-1) < 0);
    assert_true(sg_travel_prefix_len(SG_TRAVEL__COUNT) < 0);

    /* The tier of a pair is the closest tier whose prefix they share. */
    const char *other[] = {"360425100201", "360425100207", "360425110201",
                           "360482101201", "360425100208", "361181101201",
                           "330282101201"};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        int t = sg_region_tier(w, other[i]);
        int n = sg_travel_prefix_len(t);
        assert_memory_equal(w, other[i], (size_t)n);
        if (t > SG_TRAVEL_VILLAGE) {
            int closer = sg_travel_prefix_len(t - 1);
            assert_true(memcmp(w, other[i], (size_t)closer) != 0);
        }
    }
}

static void test_counties(void **state)
{
    (void)state;
    size_t n = sg_county_count();
    assert_true(n >= 90 && n <= 110);
    assert_string_equal(sg_county_at(0)->code, "360425");
    assert_string_equal(sg_county_at(0)->name, "永修县");
    assert_null(sg_county_at(n));
    bool seen_dexing = false;
    for (size_t i = 0; i < n; i++) {
        const sg_region_info *c = sg_county_at(i);
        assert_int_equal(strlen(c->code), 6);
        assert_memory_equal(c->code, "36", 2); /* Jiangxi only */
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(sg_county_at(j)->code, c->code);
        }
        seen_dexing = seen_dexing || strcmp(c->code, "361181") == 0;

        /* Every village exists, checks, and sits near its county: within
         * 0.2 degree when synthetic, within the county when spelled out. */
        double near = strcmp(c->code, "360425") == 0 ? 0.5 : 0.2;
        size_t nv = sg_county_villages(c->code, NULL, 0);
        assert_true(nv > 0 && nv <= 1000);
        char(*v)[SG_REGION_LEN + 1] = malloc(nv * sizeof *v);
        assert_non_null(v);
        assert_int_equal(sg_county_villages(c->code, v, nv), nv);
        for (size_t k = 0; k < nv; k++) {
            sg_region_info r;
            assert_memory_equal(v[k], c->code, 6);
            assert_int_equal(sg_region_check(v[k], 12, NULL), 0);
            assert_int_equal(sg_region_lookup(v[k], &r), 0);
            assert_true(r.lat > c->lat - near && r.lat < c->lat + near);
            assert_true(r.lon > c->lon - near && r.lon < c->lon + near);
            if (k > 0) {
                assert_true(strcmp(v[k - 1], v[k]) < 0);
            }
        }
        free(v);
    }
    assert_true(seen_dexing);

    char v[200][SG_REGION_LEN + 1];
    assert_int_equal(sg_county_villages("360425", v, 200), 120);
    assert_string_equal(v[0], "360425100201");
    assert_string_equal(v[8], "360425101201");
    assert_string_equal(v[119], "360425114208");

    /* A short buffer gets the first cap codes; the count is the total. */
    memset(v, 'x', sizeof v);
    assert_int_equal(sg_county_villages("360425", v, 3), 120);
    assert_string_equal(v[2], "360425100203");
    assert_int_equal(v[3][0], 'x');

    assert_int_equal(sg_county_villages("360499", v, 200), 0);
    assert_int_equal(sg_county_villages("3604", v, 200), 0);
    assert_int_equal(sg_county_villages(NULL, v, 200), 0);
    /* Export destinations have villages but are not listed. */
    assert_true(sg_county_villages("441900", v, 200) > 0);
    assert_true(sg__region_export_count() >= 5);
    for (size_t i = 0; i < sg__region_export_count(); i++) {
        assert_memory_not_equal(sg__region_export_at(i)->code, "36", 2);
    }
}

/* ---- Generator ---- */

/* A fixed key: the decoder needs one to accept "id_number". */
static const uint8_t idkey[SG_IDNUM_KEY_LEN] = "tables_test key, 32 bytes!";

static char *gen_text(const char *county, int k, uint64_t n, uint64_t m,
                      uint64_t seed, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    assert_non_null(f);
    sg_gen_opts o = {county, k, n, m, seed};
    assert_int_equal(sg_gen_write(f, &o), 0);
    assert_int_equal(fclose(f), 0);
    return text;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, SG_IDNUM_HASH_LEN);
}

static void test_gen_decodes(void **state)
{
    (void)state;
    enum { N = 3000, M = 2000 };
    size_t len;
    char *text = gen_text("360425", 3, N, M, 42, &len);

    char(*ids)[SG_ID_MAX + 1] = calloc(N + M, sizeof *ids);
    uint8_t(*hashes)[SG_IDNUM_HASH_LEN] = calloc(N, sizeof *hashes);
    assert_non_null(ids);
    assert_non_null(hashes);
    size_t nw = 0, nj = 0, nhash = 0, seeking = 0, geo = 0, phone = 0;
    size_t labor[SG_LABOR__COUNT] = {0};
    size_t cat[SG_CAT__COUNT] = {0};
    size_t src[SG_SOURCE__COUNT] = {0};
    size_t home = 0, closed = 0, zero = 0, risk_gone = 0;

    const char *p = text;
    const char *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        sg_kind kind;
        sg_worker w;
        sg_job j;
        sg_error e;
        memset(&e, 0, sizeof e);
        int rc =
            sg_json_decode(p, (size_t)(nl - p), 0, idkey, &kind, &w, &j, &e);
        if (rc != 0) {
            fail_msg("line %zu: %s: %s\n%.*s", nw + nj + 1, e.field, e.reason,
                     (int)(nl - p), p);
        }
        if (kind == SG_KIND_WORKER) {
            assert_int_equal(nj, 0); /* workers come first */
            strcpy(ids[nw + nj], w.id);
            nw++;
            labor[w.labor_class]++;
            cat[w.category]++;
            seeking += w.seeking;
            geo += w.has_geo;
            phone += w.phone[0] != '\0';
            risk_gone += w.risk_eliminated;
            home += memcmp(w.region, "360425", 6) == 0;
            if (w.has_idnum) {
                memcpy(hashes[nhash++], w.idnum_hash, SG_IDNUM_HASH_LEN);
            }
            assert_true(w.expected_wage >= 1000 && w.expected_wage <= 7000);
        } else {
            assert_int_equal(kind, SG_KIND_JOB);
            strcpy(ids[nw + nj], j.id);
            nj++;
            src[j.source]++;
            closed += j.state == SG_JOB_CLOSED;
            zero += j.openings == 0;
            assert_true(j.labor_classes != 0);
            bool jx = memcmp(j.sites[0].region, "36", 2) == 0;
            assert_true(jx == (j.source != SG_SOURCE_LABOR_EXPORT));
            assert_true(j.posted >= 1788220800 - 8 * 3600); /* 2026-09-01 */
            assert_true(j.posted < 1796083200 - 8 * 3600);  /* 2026-12-01 */
        }
        p = nl + 1;
    }
    assert_int_equal(nw, N);
    assert_int_equal(nj, M);

    /* Ids are unique; so are the ID numbers (by their keyed hash). */
    qsort(ids, N + M, sizeof *ids, cmp_id);
    for (size_t i = 1; i < N + M; i++) {
        assert_string_not_equal(ids[i - 1], ids[i]);
    }
    qsort(hashes, nhash, sizeof *hashes, cmp_hash);
    for (size_t i = 1; i < nhash; i++) {
        assert_memory_not_equal(hashes[i - 1], hashes[i], SG_IDNUM_HASH_LEN);
    }

    /* The mixes are roughly what gen.c promises. */
    for (int i = 0; i < SG_LABOR__COUNT; i++) {
        assert_true(labor[i] > N / 20);
    }
    assert_true(labor[SG_LABOR_ORDINARY] > N * 35 / 100 &&
                labor[SG_LABOR_ORDINARY] < N * 55 / 100);
    for (int i = 0; i < SG_CAT__COUNT; i++) {
        assert_true(cat[i] > N / 20);
    }
    for (int i = 0; i < SG_SOURCE__COUNT; i++) {
        assert_true(src[i] > M / 30);
    }
    assert_true(seeking >= N * 40 / 100 && seeking <= N * 80 / 100);
    assert_true(geo > N * 35 / 100 && geo < N * 65 / 100);
    assert_true(phone > N * 35 / 100 && phone < N * 65 / 100);
    assert_true(nhash > N * 25 / 100 && nhash < N * 42 / 100);
    assert_true(risk_gone > 0 && risk_gone < cat[SG_CAT_MONITORED]);
    assert_true(home > N / 5 && home < N / 2); /* one county of three */
    assert_true(closed > 0 && closed < M / 10);
    assert_true(zero > 0 && zero < M / 10);

    free(ids);
    free(hashes);
    free(text);
}

static void test_gen_deterministic(void **state)
{
    (void)state;
    size_t la, lb, lc;
    char *a = gen_text("360425", 2, 2000, 1000, 7, &la);
    char *b = gen_text("360425", 2, 2000, 1000, 7, &lb);
    char *c = gen_text("360425", 2, 2000, 1000, 8, &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_true(la != lc || memcmp(a, c, la) != 0);
    free(a);
    free(b);
    free(c);

    /* K = 1 keeps everything in the given county (bar export sites). */
    a = gen_text("360102", 1, 500, 0, 1, &la);
    for (const char *p = strstr(a, "\"region\":\""); p != NULL;
         p = strstr(p + 1, "\"region\":\"")) {
        assert_memory_equal(p + 10, "360102", 6);
    }
    free(a);

    a = gen_text("360425", 1, 0, 0, 1, &la);
    assert_int_equal(la, 0);
    free(a);
}

static void test_gen_errors(void **state)
{
    (void)state;
    sg_gen_opts o = {"360425", 1, 10, 10, 1};
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    assert_int_equal(sg_gen_write(NULL, &o), SG_EINVAL);
    assert_int_equal(sg_gen_write(devnull, NULL), SG_EINVAL);
    o.county = "360499";
    assert_int_equal(sg_gen_write(devnull, &o), SG_EINVAL);
    o.county = "441900"; /* an export destination is not a home county */
    assert_int_equal(sg_gen_write(devnull, &o), SG_EINVAL);
    o.county = NULL;
    assert_int_equal(sg_gen_write(devnull, &o), SG_EINVAL);
    o.county = "360425";
    o.counties = 0;
    assert_int_equal(sg_gen_write(devnull, &o), SG_EINVAL);
    o.counties = (int)sg_county_count() + 1;
    assert_int_equal(sg_gen_write(devnull, &o), SG_EINVAL);
    o.counties = (int)sg_county_count(); /* all of them, wrapping */
    assert_int_equal(sg_gen_write(devnull, &o), 0);
    fclose(devnull);

    /* A full disk is SG_EIO. */
    FILE *full = fopen("/dev/full", "w");
    if (full != NULL) {
        o.counties = 1;
        o.workers = 20000;
        assert_int_equal(sg_gen_write(full, &o), SG_EIO);
        fclose(full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skills),
        cmocka_unit_test(test_region_check),
        cmocka_unit_test(test_region_lookup),
        cmocka_unit_test(test_tier),
        cmocka_unit_test(test_counties),
        cmocka_unit_test(test_gen_decodes),
        cmocka_unit_test(test_gen_deterministic),
        cmocka_unit_test(test_gen_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
