/* tests/division_test.c -- the compiled national division table
 * (proto/division.c), read from the file tools/divc wrote, checked against
 * the CSV files it was compiled from (the brute-force reference) and
 * against what the county's own documents say of 永修县.
 * Usage: division_test TABLE CSVDIR  (make division-test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "songgang/division.h"
#include "songgang/err.h"

static const char *table_path, *csv_dir;
static uint8_t *buf;
static size_t buf_len;
static sg_division div_;

/* The reference: every row of the five CSV files. */
typedef struct ref {
    char code[13], parent[13], name[256];
} ref;
static ref *refs;
static size_t nrefs, caprefs;

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void read_csv(const char *base)
{
    char path[4096], line[1024];
    snprintf(path, sizeof(path), "%s/%s.csv", csv_dir, base);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f)); /* header */
    while (fgets(line, sizeof(line), f) != NULL) {
        if (nrefs == caprefs) { /* doubled: ASan's realloc always copies */
            caprefs = caprefs ? 2 * caprefs : 4096;
            refs = realloc(refs, caprefs * sizeof(ref));
            assert_non_null(refs);
        }
        ref *r = &refs[nrefs++];
        memset(r, 0, sizeof(*r));
        char *c = strchr(line, ','), *q1 = strchr(line, '"');
        char *q2 = strchr(q1 + 1, '"');
        memcpy(r->code, line, (size_t)(c - line));
        memcpy(r->name, q1 + 1, (size_t)(q2 - q1 - 1));
        if (q2[1] == ',') {
            char *e = q2 + 2;
            size_t n = strcspn(e, ",\n");
            memcpy(r->parent, e, n);
        }
    }
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    buf = read_all(table_path, &buf_len);
    if (buf == NULL || sg_division_load(&div_, buf, buf_len) != 0) {
        fprintf(stderr, "division_test: cannot load %s\n", table_path);
        return -1;
    }
    static const char *const files[] = {"provinces", "cities", "areas",
                                        "streets", "villages"};
    for (size_t i = 0; i < 5; i++) {
        read_csv(files[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(buf);
    free(refs);
    return 0;
}

static uint32_t at(const char *code)
{
    uint32_t i = SG_DIVISION_NONE;
    assert_int_equal(sg_division_find(&div_, code, strlen(code), &i), 0);
    return i;
}

static void assert_name(uint32_t i, const char *want)
{
    size_t n;
    const char *name = sg_division_name(&div_, i, &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(name, want, n);
}

static void test_counts_and_edition(void **state)
{
    (void)state;
    assert_int_equal(div_.edition, 2023);
    assert_string_equal(div_.cutoff, "2023-06-30");
    size_t per[6] = {0};
    for (uint32_t i = 0; i < div_.n; i++) {
        per[sg_division_level(&div_, i)]++;
    }
    assert_int_equal(per[SG_DIV_PROVINCE], 31);
    assert_int_equal(per[SG_DIV_CITY], 342);
    assert_int_equal(per[SG_DIV_COUNTY], 2978);
    assert_int_equal(per[SG_DIV_TOWNSHIP], 41352);
    assert_int_equal(per[SG_DIV_VILLAGE], 620573);
    assert_int_equal(div_.n, nrefs);
}

/* 永修县's twenty township-level units, as the issue lists them. */
static void test_yongxiu(void **state)
{
    (void)state;
    static const char *const want[][2] = {
        {"360425001", "永修县丰安街道"}, {"360425100", "涂埠镇"},
        {"360425101", "吴城镇"},         {"360425102", "三溪桥镇"},
        {"360425103", "虬津镇"},         {"360425104", "艾城镇"},
        {"360425105", "滩溪镇"},         {"360425106", "白槎镇"},
        {"360425107", "梅棠镇"},         {"360425108", "燕坊镇"},
        {"360425109", "马口镇"},         {"360425110", "柘林镇"},
        {"360425200", "三角乡"},         {"360425201", "九合乡"},
        {"360425202", "立新乡"},         {"360425203", "江上乡"},
        {"360425404", "江西永修云山经济技术开发区"},
        {"360425500", "云山企业集团"},   {"360425501", "恒丰企业集团"},
        {"360425502", "八角岭垦殖场"},
    };
    uint32_t c = at("360425");
    assert_int_equal(sg_division_level(&div_, c), SG_DIV_COUNTY);
    assert_name(c, "永修县");
    char path[256];
    size_t n = sg_division_path(&div_, c, path, sizeof(path));
    assert_string_equal(path, "江西省 › 九江市 › 永修县");
    assert_int_equal(n, strlen(path));
    assert_int_equal(sg_division_nchildren(&div_, c), 20);
    size_t villages = 0;
    for (uint32_t k = 0; k < 20; k++) {
        uint32_t t = sg_division_child(&div_, c, k);
        char code[13];
        sg_division_code(&div_, t, code);
        assert_string_equal(code, want[k][0]);
        assert_name(t, want[k][1]);
        assert_int_equal(sg_division_parent(&div_, t), c);
        villages += sg_division_nchildren(&div_, t);
    }
    assert_int_equal(villages, 238);
    /* A path cut short keeps a terminated prefix and says what it needs. */
    char small[8];
    assert_int_equal(sg_division_path(&div_, c, small, sizeof(small)), n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    /* Across provinces: 东莞's 东城街道. */
    uint32_t dg = at("441900003");
    assert_name(dg, "东城街道");
    sg_division_path(&div_, dg, path, sizeof(path));
    assert_string_equal(path, "广东省 › 东莞市 › 东莞市 › 东城街道");
}

static void test_unknown_and_malformed(void **state)
{
    (void)state;
    uint32_t i = 7;
    assert_int_equal(sg_division_find(&div_, "360499", 6, &i), SG_ENOTFOUND);
    assert_int_equal(sg_division_find(&div_, "99", 2, &i), SG_ENOTFOUND);
    assert_int_equal(sg_division_find(&div_, "360425999", 9, &i),
                     SG_ENOTFOUND);
    assert_int_equal(sg_division_find(&div_, "36042", 5, &i), SG_EINVAL);
    assert_int_equal(sg_division_find(&div_, "36a425", 6, &i), SG_EINVAL);
    assert_int_equal(sg_division_find(&div_, "", 0, &i), SG_EINVAL);
    assert_int_equal(sg_division_find(&div_, "3604251000001", 13, &i),
                     SG_EINVAL);
    assert_int_equal(i, 7); /* untouched */
    /* Codes of different levels that pad to the same 12 digits: 东莞 is a
     * city (4419) with one county-level unit (441900), both 东莞市. */
    assert_int_equal(sg_division_level(&div_, at("4419")), SG_DIV_CITY);
    assert_int_equal(sg_division_level(&div_, at("441900")), SG_DIV_COUNTY);
    assert_int_equal(sg_division_parent(&div_, at("441900")), at("4419"));
    assert_int_equal(sg_division_find(&div_, "360400", 6, &i), SG_ENOTFOUND);
}

/* Every row of the CSV files: found by its code, with its name and its
 * parent; and every entry's code found back at its own index. */
static void test_every_row_against_csv(void **state)
{
    (void)state;
    for (size_t k = 0; k < nrefs; k++) {
        const ref *r = &refs[k];
        uint32_t i = at(r->code);
        assert_name(i, r->name);
        uint32_t p = sg_division_parent(&div_, i);
        if (r->parent[0] == '\0' || strlen(r->code) == 2) {
            assert_int_equal(p, SG_DIVISION_NONE);
        } else {
            char code[13];
            sg_division_code(&div_, p, code);
            assert_string_equal(code, r->parent);
        }
    }
    for (uint32_t i = 0; i < div_.n; i++) {
        char code[13];
        sg_division_code(&div_, i, code);
        assert_int_equal(at(code), i);
    }
}

/* Name prefix search against a scan of every name. */
static void test_search(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"涂埠", "永修", "东城", "江西",
                                           "马口镇", "不存在的名字", "三"};
    uint32_t out[64];
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(*prefixes); p++) {
        const char *q = prefixes[p];
        size_t want = 0;
        for (size_t k = 0; k < nrefs; k++) {
            want += strncmp(refs[k].name, q, strlen(q)) == 0;
        }
        size_t got = sg_division_search(&div_, q, strlen(q), out, 64);
        assert_int_equal(got, want);
        for (size_t k = 0; k < (got < 64 ? got : 64); k++) {
            size_t n;
            const char *name = sg_division_name(&div_, out[k], &n);
            assert_true(n >= strlen(q) && memcmp(name, q, strlen(q)) == 0);
        }
    }
    size_t got = sg_division_search(&div_, "涂埠", strlen("涂埠"), out, 64);
    int seen = 0;
    for (size_t k = 0; k < got && k < 64; k++) {
        seen |= out[k] == at("360425100");
    }
    assert_true(seen);
}

/* A damaged table is refused, never read out of bounds: truncations and
 * random byte changes (ASan would see a stray read). */
static void test_damaged(void **state)
{
    (void)state;
    sg_division d;
    assert_int_equal(sg_division_load(&d, buf, 10), SG_ECORRUPT);
    assert_int_equal(sg_division_load(&d, buf, buf_len - 1), SG_ECORRUPT);
    uint8_t *copy = malloc(buf_len);
    assert_non_null(copy);
    srand(7);
    size_t refused = 0;
    for (int round = 0; round < 40; round++) {
        memcpy(copy, buf, buf_len);
        /* Mostly the header, entries and index arrays, where a change
         * matters; a name byte changed is still a valid table. */
        size_t span = buf_len - div_.names_len;
        size_t off = ((size_t)rand() * 2654435761u) % span;
        copy[off] ^= (uint8_t)(1u << (rand() % 8));
        if (sg_division_load(&d, copy, buf_len) != 0) {
            refused++;
            continue;
        }
        uint32_t i;
        for (int k = 0; k < 100; k++) {
            char code[13];
            sg_division_code(&d, (uint32_t)rand() % d.n, code);
            if (sg_division_find(&d, code, strlen(code), &i) == 0) {
                char path[512];
                sg_division_path(&d, i, path, sizeof(path));
            }
        }
    }
    assert_true(refused > 0);
    free(copy);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: division_test TABLE CSVDIR\n");
        return 2;
    }
    table_path = argv[1];
    csv_dir = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_edition),
        cmocka_unit_test(test_yongxiu),
        cmocka_unit_test(test_unknown_and_malformed),
        cmocka_unit_test(test_every_row_against_csv),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
