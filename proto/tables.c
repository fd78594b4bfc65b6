/* proto/tables.c -- the skills taxonomy and the region table.
 * Both come from data files compiled in as text (tools/embed.c), parsed
 * once under pthread_once into sorted arrays that never change again, so
 * lookups are lock-free binary searches: sg_skill_find and sg_region_check
 * run once per decoded record and must stay cheap.  Counties flagged
 * synthetic=TxV have their townships and villages computed on the fly.
 * A malformed data file is a build-time bug: parsing aborts naming the
 * line.  Any thread may call these. */
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "songgang/proto.h"

extern const char sg__skills_tsv[];  /* build/gen/skills_data.c */
extern const char sg__regions_tsv[]; /* build/gen/regions_data.c */

/* The demo county is listed first by sg_county_at. */
#define DEMO_COUNTY 360425u

#define SKILL_CODE_MAX 31

/* A region key orders codes by level, then by value: the level (number of
 * digits) above bit 40, the code's value (< 10^12 < 2^40) below. */
#define KEY(level, value) (((uint64_t)(level) << 40) | (uint64_t)(value))

typedef struct skill_row {
    sg_skill id;                   /* stable id, > 0 */
    char code[SKILL_CODE_MAX + 1]; /* e.g. "weld" */
    uint8_t code_len;              /* strlen(code) */
    char name_zh[64];              /* e.g. "焊工" */
} skill_row;

typedef struct region_row {
    uint64_t key;        /* KEY(level, value) */
    sg_region_info info; /* code, name, centre */
    uint16_t syn_t;      /* synthetic townships, 0 = rows are explicit */
    uint16_t syn_v;      /* synthetic villages per township */
    bool export;         /* labor-export destination outside Jiangxi */
} region_row;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static skill_row *skills; /* in file order */
static size_t nskills;
static uint16_t *skill_by_id; /* id -> index in skills + 1, 0 = none */
static size_t skill_id_max;
static uint16_t *skill_by_code; /* indexes into skills, sorted by code */

static region_row *regions; /* sorted by key */
static size_t nregions;
static const sg_region_info **counties; /* Jiangxi counties, demo first */
static size_t ncounties;
static const sg_region_info **exports; /* labor-export counties */
static size_t nexports;

/* ---- Parsing (runs once) ---- */

static void die(const char *file, int line, const char *why)
{
    fprintf(stderr, "songgang: %s line %d: %s (a build-time data bug)\n", file,
            line, why);
    abort();
}

/* next_field cuts the field starting at *p up to a tab or the end of the
 * line; returns its length and moves *p past the tab (or to the end). */
static size_t next_field(const char **p, const char *end, const char **f)
{
    const char *s = *p;
    const char *t = memchr(s, '\t', (size_t)(end - s));
    *f = s;
    if (t == NULL) {
        *p = end;
        return (size_t)(end - s);
    }
    *p = t + 1;
    return (size_t)(t - s);
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return n > 0;
}

static uint64_t digits_value(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

/* parse_num reads a decimal number that fills the whole field. */
static bool parse_num(const char *f, size_t n, double *out)
{
    char tmp[32];
    if (n == 0 || n >= sizeof tmp) {
        return false;
    }
    memcpy(tmp, f, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(d)) {
        return false;
    }
    *out = d;
    return true;
}

/* each_line calls fn for every non-blank, non-comment line of text. */
static void each_line(const char *text, const char *file,
                      void (*fn)(const char *, const char *, const char *, int))
{
    int lineno = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        const char *end = nl != NULL ? nl : p + strlen(p);
        lineno++;
        if (end > p && end[-1] == '\r') {
            die(file, lineno, "carriage return (use LF line ends)");
        }
        if (end > p && *p != '#') {
            fn(p, end, file, lineno);
        }
        p = nl != NULL ? nl + 1 : end;
    }
}

static size_t skills_cap;

static void skill_line(const char *p, const char *end, const char *file,
                       int line)
{
    const char *f;
    size_t n;
    skill_row r;
    memset(&r, 0, sizeof r);

    n = next_field(&p, end, &f);
    if (!all_digits(f, n) || n > 5 || digits_value(f, n) == 0 ||
        digits_value(f, n) > UINT16_MAX - 1) {
        die(file, line, "id must be a number 1..65534");
    }
    r.id = (sg_skill)digits_value(f, n);
    if (nskills > 0 && r.id <= skills[nskills - 1].id) {
        die(file, line, "ids must increase down the file");
    }
    n = next_field(&p, end, &f);
    if (n == 0 || n > SKILL_CODE_MAX) {
        die(file, line, "code must be 1-31 bytes");
    }
    for (size_t i = 0; i < n; i++) {
        char c = f[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            die(file, line, "code must be [a-z0-9_]");
        }
    }
    memcpy(r.code, f, n);
    r.code_len = (uint8_t)n;
    n = next_field(&p, end, &f);
    if (n == 0 || n >= sizeof r.name_zh) {
        die(file, line, "name_zh must be 1-63 bytes");
    }
    memcpy(r.name_zh, f, n);
    if (p != end) {
        die(file, line, "expected 3 tab-separated columns");
    }
    if (nskills == skills_cap) {
        skills_cap = skills_cap ? skills_cap * 2 : 64;
        skills = realloc(skills, skills_cap * sizeof *skills);
        if (skills == NULL) {
            abort();
        }
    }
    skills[nskills++] = r;
}

static int cmp_skill_code(const void *a, const void *b)
{
    const skill_row *x = &skills[*(const uint16_t *)a];
    const skill_row *y = &skills[*(const uint16_t *)b];
    return strcmp(x->code, y->code);
}

static void load_skills(void)
{
    each_line(sg__skills_tsv, "data/skills.tsv", skill_line);
    if (nskills == 0 || nskills > UINT16_MAX - 1) {
        die("data/skills.tsv", 0, "no skills");
    }
    skill_id_max = skills[nskills - 1].id;
    skill_by_id = calloc(skill_id_max + 1, sizeof *skill_by_id);
    skill_by_code = calloc(nskills, sizeof *skill_by_code);
    if (skill_by_id == NULL || skill_by_code == NULL) {
        abort();
    }
    for (size_t i = 0; i < nskills; i++) {
        skill_by_id[skills[i].id] = (uint16_t)(i + 1);
        skill_by_code[i] = (uint16_t)i;
    }
    qsort(skill_by_code, nskills, sizeof *skill_by_code, cmp_skill_code);
    for (size_t i = 1; i < nskills; i++) {
        if (strcmp(skills[skill_by_code[i - 1]].code,
                   skills[skill_by_code[i]].code) == 0) {
            fprintf(stderr, "songgang: data/skills.tsv: code %s twice\n",
                    skills[skill_by_code[i]].code);
            abort();
        }
    }
}

static size_t regions_cap;
static size_t counties_cap;

static const region_row *find_key(uint64_t key);

static void parse_flags(const char *f, size_t n, region_row *r,
                        const char *file, int line)
{
    const char *end = f + n;
    while (f < end) {
        const char *c = memchr(f, ',', (size_t)(end - f));
        size_t len = (size_t)((c != NULL ? c : end) - f);
        unsigned t, v;
        char tmp[32];
        if (len == 6 && memcmp(f, "export", 6) == 0) {
            r->export = true;
        } else if (len > 10 && len < sizeof tmp &&
                   memcmp(f, "synthetic=", 10) == 0) {
            int used = 0;
            memcpy(tmp, f, len);
            tmp[len] = '\0';
            if (sscanf(tmp, "synthetic=%ux%u%n", &t, &v, &used) != 2 ||
                (size_t)used != len || t < 1 || t > 899 || v < 1 || v > 799) {
                die(file, line, "synthetic=TxV needs 1<=T<=899, 1<=V<=799");
            }
            r->syn_t = (uint16_t)t;
            r->syn_v = (uint16_t)v;
        } else {
            die(file, line, "unknown flag (want export, synthetic=TxV)");
        }
        f += len + (c != NULL ? 1 : 0);
    }
}

static void region_line(const char *p, const char *end, const char *file,
                        int line)
{
    const char *f;
    size_t n;
    region_row r;
    memset(&r, 0, sizeof r);

    n = next_field(&p, end, &f);
    if (!all_digits(f, n) ||
        (n != 2 && n != 4 && n != 6 && n != 9 && n != 12)) {
        die(file, line, "code must have 2, 4, 6, 9 or 12 digits");
    }
    memcpy(r.info.code, f, n);
    r.key = KEY(n, digits_value(f, n));
    n = next_field(&p, end, &f);
    if (n == 0 || n >= sizeof r.info.name) {
        die(file, line, "name must be 1-63 bytes");
    }
    memcpy(r.info.name, f, n);
    n = next_field(&p, end, &f);
    if (!parse_num(f, n, &r.info.lat) || fabs(r.info.lat) > 90) {
        die(file, line, "lat must be a number in -90..90");
    }
    n = next_field(&p, end, &f);
    if (!parse_num(f, n, &r.info.lon) || fabs(r.info.lon) > 180) {
        die(file, line, "lon must be a number in -180..180");
    }
    if (p != end) {
        n = next_field(&p, end, &f);
        parse_flags(f, n, &r, file, line);
        if (p != end) {
            die(file, line, "more than 5 columns");
        }
    }
    size_t len = strlen(r.info.code);
    if ((r.syn_t != 0 || r.export) && len != 6) {
        die(file, line, "only a county (6 digits) may carry flags");
    }
    if (r.syn_t != 0 && strlen(r.info.name) > 24) {
        die(file, line, "a synthetic county's name must be <= 24 bytes");
    }

    /* Parents come first, so the rows seen so far say whether this one
     * hangs from a known region. */
    static const unsigned parent_len[13] = {
        [4] = 2, [6] = 4, [9] = 6, [12] = 9};
    if (len > 2) {
        unsigned pl = parent_len[len];
        const region_row *parent = NULL;
        uint64_t pv = digits_value(r.info.code, pl);
        for (size_t i = 0; i < nregions; i++) {
            if (regions[i].key == KEY(pl, pv)) {
                parent = &regions[i];
            }
        }
        if (parent == NULL) {
            die(file, line, "parent region must come before this row");
        }
        if (len == 9 && parent->syn_t != 0) {
            die(file, line, "county is synthetic=TxV: no township rows");
        }
    }
    for (size_t i = 0; i < nregions; i++) {
        if (regions[i].key == r.key) {
            die(file, line, "code given twice");
        }
    }
    if (nregions == regions_cap) {
        regions_cap = regions_cap ? regions_cap * 2 : 256;
        regions = realloc(regions, regions_cap * sizeof *regions);
        if (regions == NULL) {
            abort();
        }
    }
    regions[nregions++] = r;
}

static int cmp_region(const void *a, const void *b)
{
    uint64_t x = ((const region_row *)a)->key;
    uint64_t y = ((const region_row *)b)->key;
    return x < y ? -1 : x > y;
}

static void push_info(const sg_region_info ***arr, size_t *n, size_t *cap,
                      const sg_region_info *info)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 128;
        *arr = realloc(*arr, *cap * sizeof **arr);
        if (*arr == NULL) {
            abort();
        }
    }
    (*arr)[(*n)++] = info;
}

static void load_regions(void)
{
    each_line(sg__regions_tsv, "data/regions.tsv", region_line);
    qsort(regions, nregions, sizeof *regions, cmp_region);

    /* Enumerate counties in file order, which is lost by the sort: walk
     * the text again for the 6-digit codes. */
    const region_row *demo = find_key(KEY(6, DEMO_COUNTY));
    if (demo == NULL || demo->export) {
        die("data/regions.tsv", 0, "the demo county 360425 is missing");
    }
    size_t exports_cap = 0;
    push_info(&counties, &ncounties, &counties_cap, &demo->info);
    const char *p = sg__regions_tsv;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        const char *end = nl != NULL ? nl : p + strlen(p);
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (*p != '#' && tab != NULL && tab - p == 6) {
            const region_row *r = find_key(KEY(6, digits_value(p, 6)));
            assert(r != NULL);
            if (r->export) {
                push_info(&exports, &nexports, &exports_cap, &r->info);
            } else if (r != demo) {
                push_info(&counties, &ncounties, &counties_cap, &r->info);
            }
        }
        p = nl != NULL ? nl + 1 : end;
    }
}

static void load(void)
{
    load_skills();
    load_regions();
}

static inline void ensure_loaded(void)
{
    pthread_once(&once, load);
}

/* ---- Skills ---- */

size_t sg_skill_count(void)
{
    ensure_loaded();
    return nskills;
}

sg_skill sg_skill_at(size_t i)
{
    ensure_loaded();
    return i < nskills ? skills[i].id : 0;
}

static const skill_row *skill_row_of(sg_skill s)
{
    if (s == 0 || s > skill_id_max || skill_by_id[s] == 0) {
        return NULL;
    }
    return &skills[skill_by_id[s] - 1];
}

const char *sg_skill_code(sg_skill s)
{
    ensure_loaded();
    const skill_row *r = skill_row_of(s);
    return r != NULL ? r->code : NULL;
}

const char *sg_skill_name_zh(sg_skill s)
{
    ensure_loaded();
    const skill_row *r = skill_row_of(s);
    return r != NULL ? r->name_zh : NULL;
}

int sg_skill_find(const char *code, size_t len, sg_skill *out)
{
    ensure_loaded();
    if (code == NULL || out == NULL || len == 0 || len > SKILL_CODE_MAX) {
        return SG_ENOTFOUND;
    }
    size_t lo = 0;
    size_t hi = nskills;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const skill_row *r = &skills[skill_by_code[mid]];
        /* Order as strcmp would, but on counted bytes: the input need not
         * be NUL-terminated and must not match through an embedded NUL. */
        size_t rlen = r->code_len;
        int c = memcmp(r->code, code, rlen < len ? rlen : len);
        if (c == 0 && rlen != len) {
            c = rlen < len ? -1 : 1;
        }
        if (c == 0) {
            *out = r->id;
            return 0;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SG_ENOTFOUND;
}

/* ---- Regions ---- */

/* put_digits writes v as exactly n decimal digits and a NUL. */
static void put_digits(char *dst, uint64_t v, int n)
{
    dst[n] = '\0';
    for (int i = n - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static const region_row *find_key(uint64_t key)
{
    size_t lo = 0;
    size_t hi = nregions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (regions[mid].key == key) {
            return &regions[mid];
        }
        if (regions[mid].key < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* mix is splitmix64's finaliser: a fixed hash for synthetic positions. */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* jitter offsets (lat, lon) by up to span degrees each, fixed per value. */
static void jitter(uint64_t value, double span, double *lat, double *lon)
{
    uint64_t h = mix(value);
    double a = (double)(h & 0xffffffu) / (double)0xffffffu * 2 - 1;
    double b = (double)((h >> 24) & 0xffffffu) / (double)0xffffffu * 2 - 1;
    *lat += a * span;
    *lon += b * span;
}

static bool syn_township_ok(const region_row *c, unsigned t)
{
    return t >= 101 && t <= 100u + c->syn_t;
}

static bool syn_village_ok(const region_row *c, unsigned v)
{
    return v >= 201 && v <= 200u + c->syn_v;
}

/* synthesize fills out for a township (9 digits) or village (12 digits)
 * of synthetic county c, whose digits the caller has checked. */
static void synthesize(const region_row *c, const char *code, size_t len,
                       sg_region_info *out)
{
    unsigned t = (unsigned)digits_value(code + 6, 3);
    sg_region_info info;
    memset(&info, 0, sizeof info);
    memcpy(info.code, code, len);
    info.lat = c->info.lat;
    info.lon = c->info.lon;
    jitter(digits_value(code, 9), 0.15, &info.lat, &info.lon);
    /* Names of synthetic counties are short (checked on load), so the
     * composed name always fits; tmp is sized for the compiler's worst. */
    char tmp[128];
    if (len == 9) {
        snprintf(tmp, sizeof tmp, "%s第%u乡镇", c->info.name, t - 100);
    } else {
        unsigned v = (unsigned)digits_value(code + 9, 3);
        jitter(digits_value(code, 12), 0.04, &info.lat, &info.lon);
        snprintf(tmp, sizeof tmp, "%s第%u乡镇第%u村", c->info.name, t - 100,
                 v - 200);
    }
    assert(strlen(tmp) < sizeof info.name);
    memcpy(info.name, tmp, strlen(tmp) + 1);
    /* Round to 1e-6 degree, the precision records keep. */
    info.lat = round(info.lat * 1e6) / 1e6;
    info.lon = round(info.lon * 1e6) / 1e6;
    *out = info;
}

/* reject explains that the first n digits of code name no known region
 * of the level what. */
static int reject(sg_error *e, const char *what, const char *code, int n)
{
    if (e != NULL) {
        snprintf(e->reason, sizeof e->reason, "unknown %s %.*s", what, n, code);
    }
    return SG_EINVAL;
}

int sg_region_check(const char *code, size_t len, sg_error *e)
{
    ensure_loaded();
    if (code == NULL || len != SG_REGION_LEN || !all_digits(code, len)) {
        if (e != NULL) {
            snprintf(e->reason, sizeof e->reason, "must be 12 digits");
        }
        return SG_EINVAL;
    }
    uint64_t v = digits_value(code, len);
    const region_row *c = find_key(KEY(6, v / 1000000));
    if (c == NULL) {
        return reject(e, "county", code, 6);
    }
    if (c->syn_t != 0) {
        if (!syn_township_ok(c, (unsigned)(v / 1000 % 1000))) {
            return reject(e, "township", code, 9);
        }
        if (!syn_village_ok(c, (unsigned)(v % 1000))) {
            return reject(e, "village", code, 12);
        }
        return 0;
    }
    if (find_key(KEY(9, v / 1000)) == NULL) {
        return reject(e, "township", code, 9);
    }
    if (find_key(KEY(12, v)) == NULL) {
        return reject(e, "village", code, 12);
    }
    return 0;
}

int sg_region_lookup(const char *code, sg_region_info *out)
{
    ensure_loaded();
    if (code == NULL || out == NULL) {
        return SG_EINVAL;
    }
    size_t len = strnlen(code, SG_REGION_LEN + 1);
    if (!all_digits(code, len) ||
        (len != 2 && len != 4 && len != 6 && len != 9 && len != 12)) {
        return SG_ENOTFOUND;
    }
    uint64_t v = digits_value(code, len);
    const region_row *r = find_key(KEY(len, v));
    if (r != NULL) {
        *out = r->info;
        return 0;
    }
    if (len < 9) {
        return SG_ENOTFOUND;
    }
    const region_row *c = find_key(KEY(6, digits_value(code, 6)));
    if (c == NULL || c->syn_t == 0 ||
        !syn_township_ok(c, (unsigned)digits_value(code + 6, 3)) ||
        (len == 12 &&
         !syn_village_ok(c, (unsigned)digits_value(code + 9, 3)))) {
        return SG_ENOTFOUND;
    }
    synthesize(c, code, len, out);
    return 0;
}

int sg_region_tier(const char *a, const char *b)
{
    size_t i = 0;
    if (a == NULL || b == NULL) {
        return SG_TRAVEL_ANY;
    }
    while (i < SG_REGION_LEN && a[i] != '\0' && a[i] == b[i]) {
        i++;
    }
    if (i >= 12) {
        return SG_TRAVEL_VILLAGE;
    }
    if (i >= 9) {
        return SG_TRAVEL_TOWNSHIP;
    }
    if (i >= 6) {
        return SG_TRAVEL_COUNTY;
    }
    if (i >= 4) {
        return SG_TRAVEL_CITY;
    }
    if (i >= 2) {
        return SG_TRAVEL_PROVINCE;
    }
    return SG_TRAVEL_ANY;
}

int sg_travel_prefix_len(int t)
{
    static const int len[SG_TRAVEL__COUNT] = {12, 9, 6, 4, 2, 0};
    if (t < 0 || t >= SG_TRAVEL__COUNT) {
        return SG_EINVAL;
    }
    return len[t];
}

size_t sg_county_count(void)
{
    ensure_loaded();
    return ncounties;
}

const sg_region_info *sg_county_at(size_t i)
{
    ensure_loaded();
    return i < ncounties ? counties[i] : NULL;
}

/* sg_county_villages returns the number of villages the county has (0 when
 * it is unknown); only the first min(cap, that) are written, in ascending
 * code order, so a call with cap 0 asks for the count. */
size_t sg_county_villages(const char *county, char (*out)[SG_REGION_LEN + 1],
                          size_t cap)
{
    ensure_loaded();
    if (county == NULL || strnlen(county, 7) != 6 || !all_digits(county, 6) ||
        (out == NULL && cap > 0)) {
        return 0;
    }
    uint64_t cv = digits_value(county, 6);
    const region_row *c = find_key(KEY(6, cv));
    if (c == NULL) {
        return 0;
    }
    size_t n = 0;
    if (c->syn_t != 0) {
        for (unsigned t = 101; t <= 100u + c->syn_t; t++) {
            for (unsigned v = 201; v <= 200u + c->syn_v; v++) {
                if (n < cap) {
                    put_digits(out[n], cv * 1000000 + t * 1000 + v, 12);
                }
                n++;
            }
        }
        return n;
    }
    /* Explicit villages are contiguous in key order: find the first. */
    uint64_t lo_key = KEY(12, cv * 1000000);
    size_t lo = 0;
    size_t hi = nregions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (regions[mid].key < lo_key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo;
         i < nregions && regions[i].key < KEY(12, (cv + 1) * 1000000); i++) {
        if (n < cap) {
            memcpy(out[n], regions[i].info.code, SG_REGION_LEN + 1);
        }
        n++;
    }
    return n;
}

/* sg__region_export_count / sg__region_export_at enumerate the counties
 * flagged export (labor-export destinations), in file order; declared in
 * tools/gen.h, their one user. */
size_t sg__region_export_count(void)
{
    ensure_loaded();
    return nexports;
}

const sg_region_info *sg__region_export_at(size_t i)
{
    ensure_loaded();
    return i < nexports ? exports[i] : NULL;
}
