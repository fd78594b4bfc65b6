/* tests/match_test.c -- ranked matching against a brute-force reference.
 * The reference below shares no code with matcher/match.c: it reads the
 * full records of an in-memory model, applies the hard filters and the
 * documented score formula pair by pair, sorts everything and cuts the top
 * K.  The randomized test runs thousands of queries in both directions,
 * over random data written through the real LMDB store (with updates,
 * closes and deletes in between) and asserts that the indexed results are
 * exactly the reference's: same ids, order, scores, parts, tiers, sites.
 * Also hand-computed cases for each score part and each hard filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../matcher/internal.h" /* sg__tier */
#include "songgang/match.h"
#include "songgang/store.h"
#include "testutil.h"

/* ---- The model: every record the store should hold. ---- */

#define MAXW 600
#define MAXJ 300

typedef struct model {
    sg_worker w[MAXW]; /* workers (present[i] tells which) */
    bool wp[MAXW];     /* present */
    sg_job j[MAXJ];    /* jobs */
    bool jp[MAXJ];     /* present */
} model;

/* ---- The brute-force reference. ---- */

typedef struct ref {
    char id[SG_ID_MAX + 1];
    int32_t score;
    int32_t parts[SG_PART__COUNT];
    int tier;
    char site[SG_REGION_LEN + 1];
} ref;

static int ref_tier(const char *a, const char *b)
{
    static const int len[] = {12, 9, 6, 4, 2};
    for (int t = 0; t < 5; t++) {
        if (strncmp(a, b, (size_t)len[t]) == 0) {
            return t;
        }
    }
    return SG_TRAVEL_ANY;
}

static bool has_skill(const sg_worker *w, sg_skill s)
{
    for (int i = 0; i < w->nskills; i++) {
        if (w->skills[i] == s) {
            return true;
        }
    }
    return false;
}

static double ref_km(double la1d, double lo1d, double la2d, double lo2d)
{
    /* The same formula as documented: haversine on positions rounded to
     * micro-degrees, earth radius 6371 km. */
    int32_t a1 = (int32_t)llround(la1d * 1e6), o1 = (int32_t)llround(lo1d * 1e6);
    int32_t a2 = (int32_t)llround(la2d * 1e6), o2 = (int32_t)llround(lo2d * 1e6);
    const double rad = 3.14159265358979323846 / 180.0 / 1e6;
    double la1 = a1 * rad, la2 = a2 * rad;
    double dla = la2 - la1, dlo = (double)(o2 - o1) * rad;
    double h = sin(dla / 2) * sin(dla / 2) +
               cos(la1) * cos(la2) * sin(dlo / 2) * sin(dlo / 2);
    return 2.0 * 6371.0 * asin(sqrt(h < 1.0 ? h : 1.0));
}

static bool zero_household(const model *m, const char *hh)
{
    for (int i = 0; i < MAXW; i++) {
        if (m->wp[i] && strcmp(m->w[i].household, hh) == 0 &&
            sg_status_is_employed(m->w[i].status)) {
            return false;
        }
    }
    return true;
}

/* ref_pair: hard filters and score, straight from the README's rules. */
static bool ref_pair(const model *md, const sg_worker *w, const sg_job *j,
                     int32_t as_of, const sg_weights *wt, ref *r)
{
    if (!w->seeking || j->state != SG_JOB_OPEN || j->openings <= 0) {
        return false;
    }
    if (j->ends != SG_DATE_NONE && j->ends < as_of) {
        return false;
    }
    if (!(j->labor_classes & (1 << w->labor_class))) {
        return false;
    }
    for (int i = 0; i < j->nrequired; i++) {
        if (!has_skill(w, j->required[i])) {
            return false;
        }
    }
    /* Windows overlap where both sides give one (open ends are open). */
    int64_t wf = w->available_from == SG_DATE_NONE ? INT64_MIN : w->available_from;
    int64_t wt2 = w->available_to == SG_DATE_NONE ? INT64_MAX : w->available_to;
    int64_t js = j->starts == SG_DATE_NONE ? INT64_MIN : j->starts;
    int64_t je = j->ends == SG_DATE_NONE ? INT64_MAX : j->ends;
    if (wf > je || js > wt2) {
        return false;
    }
    int best = -1, bpts = 0, btier = 0;
    for (int i = 0; i < j->nsites; i++) {
        int t = ref_tier(w->region, j->sites[i].region);
        if (w->travel != SG_TRAVEL_ANY && t > w->travel) {
            continue;
        }
        int pts = wt->tier[t];
        if (w->has_geo && j->sites[i].has_geo) {
            double km = ref_km(w->lat, w->lon, j->sites[i].lat, j->sites[i].lon);
            double f = 1.0 - km / wt->km_range;
            pts += (int)floor(wt->km * (f > 0 ? f : 0));
        }
        bool win = best < 0 || pts > bpts || (pts == bpts && t < btier) ||
                   (pts == bpts && t == btier &&
                    strcmp(j->sites[i].region, j->sites[best].region) < 0);
        if (win) {
            best = i;
            bpts = pts;
            btier = t;
        }
    }
    if (best < 0) {
        return false;
    }
    memset(r, 0, sizeof(*r));
    int matched = 0;
    for (int i = 0; i < j->npreferred; i++) {
        matched += has_skill(w, j->preferred[i]);
    }
    r->parts[SG_PART_SKILL] = wt->skill * (1 + matched) / (1 + j->npreferred);
    r->parts[SG_PART_PROXIMITY] = bpts;
    if (w->expected_wage == 0) {
        r->parts[SG_PART_WAGE] = wt->wage;
    } else {
        /* Linear from 0 at 60% of the expectation to full at 120%. */
        int64_t num = 10 * (int64_t)j->wage_max - 6 * (int64_t)w->expected_wage;
        int64_t den = 6 * (int64_t)w->expected_wage;
        if (num <= 0) {
            num = 0;
        } else if (num > den) {
            num = den;
        }
        r->parts[SG_PART_WAGE] = (int32_t)(wt->wage * num / den);
    }
    r->parts[SG_PART_CHANNEL] = wt->channel * wt->fit[w->labor_class][j->source] / 100;
    r->parts[SG_PART_PRIORITY] =
        (w->category == SG_CAT_MONITORED && !w->risk_eliminated ? wt->risk : 0) +
        (zero_household(md, w->household) ? wt->zero_household : 0);
    int age = as_of - sg_time_date(j->posted);
    if (age < 0) {
        age = 0;
    }
    r->parts[SG_PART_FRESHNESS] =
        age >= wt->fresh_days ? 0 : wt->fresh * (wt->fresh_days - age) / wt->fresh_days;
    for (int p = 0; p < SG_PART__COUNT; p++) {
        r->score += r->parts[p];
    }
    r->tier = btier;
    strcpy(r->site, j->sites[best].region);
    return true;
}

static int ref_cmp(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

static size_t ref_for_worker(const model *md, int wi, int32_t as_of,
                             const sg_weights *wt, size_t k, ref *out)
{
    ref all[MAXJ];
    size_t n = 0;
    for (int i = 0; i < MAXJ; i++) {
        if (md->jp[i] && ref_pair(md, &md->w[wi], &md->j[i], as_of, wt, &all[n])) {
            strcpy(all[n].id, md->j[i].id);
            n++;
        }
    }
    qsort(all, n, sizeof(ref), ref_cmp);
    n = n < k ? n : k;
    memcpy(out, all, n * sizeof(ref));
    return n;
}

static size_t ref_for_job(const model *md, int ji, int32_t as_of,
                          const sg_weights *wt, size_t k, ref *out)
{
    static ref all[MAXW];
    size_t n = 0;
    for (int i = 0; i < MAXW; i++) {
        if (md->wp[i] && ref_pair(md, &md->w[i], &md->j[ji], as_of, wt, &all[n])) {
            strcpy(all[n].id, md->w[i].id);
            n++;
        }
    }
    qsort(all, n, sizeof(ref), ref_cmp);
    n = n < k ? n : k;
    memcpy(out, all, n * sizeof(ref));
    return n;
}

/* ---- Random records. ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int rn(int n) { return (int)(rnd() % (uint64_t)n); }

/* A small world so that pairs collide often: villages from the demo county
 * (two townships), a neighbour county, another city, another province. */
static char villages[64][SG_REGION_LEN + 1];
static double vlat[64], vlon[64];
static int nvillages;

static void add_villages(const char *county, int max)
{
    char buf[64][SG_REGION_LEN + 1];
    size_t n = sg_county_villages(county, buf, 64);
    for (size_t i = 0; i < n && max > 0 && nvillages < 64; i++) {
        /* Keep villages of the first two townships, so that the village
         * and township tiers both occur. */
        if (i > 0 && strncmp(buf[i], buf[0], 9) != 0 && i > 12) {
            break;
        }
        sg_region_info ri;
        assert_int_equal(sg_region_lookup(buf[i], &ri), 0);
        strcpy(villages[nvillages], buf[i]);
        vlat[nvillages] = ri.lat;
        vlon[nvillages] = ri.lon;
        nvillages++;
        max--;
    }
}

static void world_init(void)
{
    if (nvillages > 0) {
        return;
    }
    add_villages("360425", 14); /* the demo county */
    size_t nc = sg_county_count();
    const sg_region_info *same_city = NULL, *other_city = NULL;
    for (size_t i = 1; i < nc; i++) {
        const sg_region_info *c = sg_county_at(i);
        if (same_city == NULL && strncmp(c->code, "3604", 4) == 0) {
            same_city = c;
        }
        if (other_city == NULL && strncmp(c->code, "3604", 4) != 0) {
            other_city = c;
        }
    }
    assert_non_null(same_city);
    assert_non_null(other_city);
    add_villages(same_city->code, 4);
    add_villages(other_city->code, 3);
    add_villages("440306", 3); /* a labor-export destination */
    assert_true(nvillages >= 20);
}

static const sg_skill skill_pool[] = {1, 2, 3, 4, 5, 6, 14, 15};
#define NPOOL (sizeof(skill_pool) / sizeof(skill_pool[0]))

static uint8_t rand_skills(sg_skill *out, int max, const sg_skill *avoid,
                           int navoid)
{
    uint8_t n = 0;
    for (size_t i = 0; i < NPOOL && n < max; i++) {
        bool skip = false;
        for (int k = 0; k < navoid; k++) {
            skip |= avoid[k] == skill_pool[i];
        }
        if (!skip && rn(100) < 30) {
            out[n++] = skill_pool[i]; /* the pool is sorted ascending */
        }
    }
    return n;
}

static int32_t base_day; /* 2026-11-01 */

static int32_t rand_date(void) { return base_day - 40 + rn(100); }

static void rand_worker(sg_worker *w, int i)
{
    sg_worker_init(w);
    snprintf(w->id, sizeof(w->id), "w%03d", i);
    snprintf(w->name, sizeof(w->name), "工人%d", i);
    int v = rn(nvillages);
    strcpy(w->region, villages[v]);
    if (rn(2)) {
        w->has_geo = true;
        w->lat = round((vlat[v] + (rn(200) - 100) * 1e-4) * 1e6) / 1e6;
        w->lon = round((vlon[v] + (rn(200) - 100) * 1e-4) * 1e6) / 1e6;
    }
    w->labor_class = (uint8_t)rn(SG_LABOR__COUNT);
    w->nskills = rand_skills(w->skills, SG_SKILLS_MAX, NULL, 0);
    w->category = (uint8_t)rn(SG_CAT__COUNT);
    w->risk_eliminated = w->category == SG_CAT_MONITORED && rn(2);
    snprintf(w->household, sizeof(w->household), "h%02d", rn(MAXW / 3));
    w->travel = (uint8_t)rn(SG_TRAVEL__COUNT);
    w->expected_wage = rn(5) == 0 ? 0 : 1500 + 100 * rn(50);
    if (rn(4) == 0) {
        w->available_from = rand_date();
    }
    if (rn(4) == 0) {
        w->available_to = (w->available_from == SG_DATE_NONE ? base_day
                                                             : w->available_from) +
                          rn(60);
    }
    w->status = (uint8_t)rn(SG_STATUS__COUNT);
    w->seeking = rn(10) < 8;
}

static void rand_job(sg_job *j, int i)
{
    sg_job_init(j);
    snprintf(j->id, sizeof(j->id), "j%03d", i);
    snprintf(j->employer, sizeof(j->employer), "e%d", rn(20));
    j->source = (uint8_t)rn(SG_SOURCE__COUNT);
    snprintf(j->title, sizeof(j->title), "岗位%d", i);
    j->nrequired = rn(3) == 0 ? rand_skills(j->required, 2, NULL, 0) : 0;
    j->npreferred = rand_skills(j->preferred, 3, j->required, j->nrequired);
    do {
        j->labor_classes = (uint8_t)rn(16);
    } while (j->labor_classes == 0);
    j->nsites = (uint8_t)(1 + (rn(4) == 0 ? rn(3) : 0));
    for (int s = 0; s < j->nsites; s++) {
        int v;
        bool dup;
        do { /* sites must have distinct regions */
            v = rn(nvillages);
            dup = false;
            for (int k = 0; k < s; k++) {
                dup |= strcmp(j->sites[k].region, villages[v]) == 0;
            }
        } while (dup);
        strcpy(j->sites[s].region, villages[v]);
        if (rn(3)) {
            j->sites[s].has_geo = true;
            j->sites[s].lat = round((vlat[v] + (rn(200) - 100) * 1e-4) * 1e6) / 1e6;
            j->sites[s].lon = round((vlon[v] + (rn(200) - 100) * 1e-4) * 1e6) / 1e6;
        }
    }
    j->openings = rn(10) == 0 ? 0 : 1 + rn(30);
    j->wage_min = 1000 + 100 * rn(40);
    j->wage_max = j->wage_min + 100 * rn(30);
    if (rn(4) == 0) {
        j->starts = rand_date();
    }
    if (rn(4) == 0) {
        j->ends = j->starts == SG_DATE_NONE ? base_day + rn(60) - 20
                                            : j->starts + rn(60);
    }
    j->posted = (int64_t)(base_day - rn(50)) * 86400 + rn(86400);
    j->state = rn(10) == 0 ? SG_JOB_CLOSED : SG_JOB_OPEN;
}

/* ---- Comparing. ---- */

static void assert_same(const sg_match_list *got, const ref *want, size_t n,
                        const char *what, const char *id)
{
    if (got->n != n) {
        fail_msg("%s %s: %zu results, reference has %zu", what, id, got->n, n);
    }
    for (size_t i = 0; i < n; i++) {
        const sg_match *g = &got->items[i];
        if (strcmp(g->id, want[i].id) != 0 || g->score != want[i].score ||
            g->tier != want[i].tier || strcmp(g->site, want[i].site) != 0) {
            fail_msg("%s %s #%zu: got %s score %d tier %d site %s; want %s "
                     "score %d tier %d site %s",
                     what, id, i, g->id, g->score, g->tier, g->site,
                     want[i].id, want[i].score, want[i].tier, want[i].site);
        }
        int32_t sum = 0;
        for (int p = 0; p < SG_PART__COUNT; p++) {
            assert_int_equal(g->parts[p], want[i].parts[p]);
            sum += g->parts[p];
        }
        assert_int_equal(sum, g->score);
        assert_true(g->reason[0] != '\0');
    }
}

/* assert_lists_equal: the by-id query and the one on a loaded record
 * give the very same list, field by field. */
static void assert_lists_equal(const sg_match_list *a, const sg_match_list *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->looked_at, b->looked_at);
    assert_int_equal(a->walked, b->walked);
    for (size_t i = 0; i < a->n; i++) {
        const sg_match *x = &a->items[i], *y = &b->items[i];
        assert_string_equal(x->id, y->id);
        assert_int_equal(x->score, y->score);
        assert_memory_equal(x->parts, y->parts, sizeof(x->parts));
        assert_int_equal(x->tier, y->tier);
        assert_string_equal(x->site, y->site);
        assert_int_equal(x->has_km, y->has_km);
        assert_true(x->km == y->km);
        assert_string_equal(x->reason, y->reason);
    }
}

/* query_one runs one random query in t (a worker's when worker_side,
 * else a job's), checks it against the reference and the floor, and
 * tells whether the reference found anything. */
static bool query_one(sg_txn *t, model *md, bool worker_side,
                      const sg_weights *wt)
{
    static ref want[SG_MATCH_LIMIT_MAX];
    bool nonempty;
    sg_match_opts o = {
        .as_of = base_day - 20 + rn(60),
        .limit = 1 + rn(3) * 10 + rn(10),
        .w = wt,
    };
    sg_match_list got = {0};
    if (worker_side) {
        int i;
        do {
            i = rn(MAXW);
        } while (!md->wp[i]);
        assert_int_equal(sg_match_worker(t, md->w[i].id, &o, &got), 0);
        sg_worker rec;
        size_t entries;
        assert_int_equal(sg_txn_get_worker(t, md->w[i].id, &rec), 0);
        sg_match_list again = {0};
        assert_int_equal(sg_match_worker_rec(t, &rec, &o, &again), 0);
        assert_lists_equal(&got, &again);
        sg_match_list_free(&again);
        assert_int_equal(
            sg_match_floor_worker(t, &rec, &o, &got, &entries), 0);
        assert_int_equal(entries, got.looked_at); /* the same entries */
        size_t n = ref_for_worker(md, i, o.as_of, wt, (size_t)o.limit, want);
        assert_same(&got, want, n, "worker", md->w[i].id);
        nonempty = n > 0;
    } else {
        int i;
        do {
            i = rn(MAXJ);
        } while (!md->jp[i]);
        assert_int_equal(sg_match_job(t, md->j[i].id, &o, &got), 0);
        sg_job rec;
        size_t entries;
        assert_int_equal(sg_txn_get_job(t, md->j[i].id, &rec), 0);
        sg_match_list again = {0};
        assert_int_equal(sg_match_job_rec(t, &rec, &o, &again), 0);
        assert_lists_equal(&got, &again);
        sg_match_list_free(&again);
        assert_int_equal(sg_match_floor_job(t, &rec, &o, &got, &entries),
                         0);
        assert_int_equal(entries, got.looked_at);
        size_t n = ref_for_job(md, i, o.as_of, wt, (size_t)o.limit, want);
        assert_same(&got, want, n, "job", md->j[i].id);
        nonempty = n > 0;
    }
    sg_match_list_free(&got);
    return nonempty;
}

static size_t run_queries(sg_store *s, model *md, int nq, const sg_weights *wt)
{
    sg_txn *t;
    assert_int_equal(sg_txn_begin(s, false, &t), 0);
    size_t nonempty = 0;
    for (int q = 0; q < nq; q++) {
        nonempty += query_one(t, md, q % 2 == 0, wt);
    }
    sg_txn_abort(t);
    return nonempty;
}

static void problem_fail(void *arg, const char *p)
{
    (void)arg;
    print_error("check: %s\n", p);
}

/* random_write makes one random change in t and in md: a new record or
 * a changed one, a close, a delete (which runs in a nested transaction). */
static void random_write(sg_txn *t, model *md)
{
    int op = rn(10);
    sg_error e;
    if (op < 5) {
        int i = rn(MAXW);
        rand_worker(&md->w[i], i);
        int rc = sg_txn_put_worker(t, &md->w[i], &e);
        if (rc != 0) {
            fail_msg("worker %s: %s: %s", md->w[i].id, e.field, e.reason);
        }
        md->wp[i] = true;
    } else if (op < 8) {
        int i = rn(MAXJ);
        rand_job(&md->j[i], i);
        int rc = sg_txn_put_job(t, &md->j[i], &e);
        if (rc != 0) {
            fail_msg("job %s: %s: %s", md->j[i].id, e.field, e.reason);
        }
        md->jp[i] = true;
    } else if (op == 8) {
        int i = rn(MAXJ);
        if (md->jp[i]) {
            assert_int_equal(sg_txn_close_job(t, md->j[i].id), 0);
            md->j[i].state = SG_JOB_CLOSED;
        }
    } else {
        int i = rn(MAXW);
        if (md->wp[i] && rn(2)) {
            assert_int_equal(sg_txn_del_worker(t, md->w[i].id), 0);
            md->wp[i] = false;
        } else if (md->jp[i % MAXJ]) {
            assert_int_equal(sg_txn_del_job(t, md->j[i % MAXJ].id), 0);
            md->jp[i % MAXJ] = false;
        }
    }
}

static void test_randomized_against_reference(void **state)
{
    (void)state;
    world_init();
    static model md;
    memset(&md, 0, sizeof(md));
    rng_state = 20211127;
    char dir[256];
    tu_tempdir(dir, sizeof(dir));
    sg_store *s;
    assert_int_equal(sg_store_open(&s, dir, 0), 0);
    sg_weights def, custom;
    sg_weights_default(&def);
    custom = def;
    custom.skill = 40;
    custom.tier[SG_TRAVEL_COUNTY] = 190;
    custom.km = 300;
    custom.km_range = 7;
    custom.zero_household = 7;
    custom.fresh_days = 3;
    custom.fit[SG_LABOR_HALF][SG_SOURCE_WORKSHOP] = 33;
    /* Distance points out to 50 km: a worker's near cells (match.c) then
     * reach farther into the test's world, and the near pass and the far
     * passes both find jobs. */
    sg_weights wide = def;
    wide.km_range = 50;
    wide.km = 150;

    size_t total_nonempty = 0;
    for (int round = 0; round < 4; round++) {
        /* Write a random mix: new records, changes, closes, deletes. */
        sg_txn *t;
        assert_int_equal(sg_txn_begin(s, true, &t), 0);
        for (int k = 0; k < 500; k++) {
            random_write(t, &md);
        }
        assert_int_equal(sg_txn_commit(t), 0);
        assert_int_equal(sg_store_check(s, problem_fail, NULL), 0);
        total_nonempty += run_queries(s, &md, 400, &def);
        total_nonempty += run_queries(s, &md, 100, &custom);
        total_nonempty += run_queries(s, &md, 100, &wide);
    }
    /* 2,400 queries in all; most of them must have found something, or
     * the comparison proves little. */
    assert_true(total_nonempty > 1200);
    sg_store_close(s);
    tu_rmrf(dir);
}

/* test_queries_inside_a_write_transaction: the ranking also runs inside
 * write transactions (a push ranks from the record just written), where
 * the transaction keeps its posting cursors across walks and across the
 * writes between them (store_records.c post_cursor).  Writes and queries
 * alternate in one write transaction, part of them in nested ones that
 * are committed or aborted, every answer checked against the reference. */
static void test_queries_inside_a_write_transaction(void **state)
{
    (void)state;
    world_init();
    static model md, saved;
    memset(&md, 0, sizeof(md));
    rng_state = 20261207;
    char dir[256];
    tu_tempdir(dir, sizeof(dir));
    sg_store *s;
    assert_int_equal(sg_store_open(&s, dir, 0), 0);
    sg_weights def;
    sg_weights_default(&def);
    sg_txn *t;
    assert_int_equal(sg_txn_begin(s, true, &t), 0);
    /* Enough of both for every query to have something to rank. */
    for (int i = 0; i < 40; i++) {
        sg_error e;
        rand_worker(&md.w[i], i);
        assert_int_equal(sg_txn_put_worker(t, &md.w[i], &e), 0);
        md.wp[i] = true;
        rand_job(&md.j[i], i);
        assert_int_equal(sg_txn_put_job(t, &md.j[i], &e), 0);
        md.jp[i] = true;
    }
    size_t nonempty = 0, queries = 0;
    for (int step = 0; step < 3000; step++) {
        sg_txn *in = t, *child = NULL;
        bool nest = step % 100 >= 90; /* ten steps of each hundred nested */
        if (nest) {
            saved = md;
            assert_int_equal(sg_txn_begin_nested(t, &child), 0);
            in = child;
        }
        for (int k = rn(4); k > 0; k--) {
            random_write(in, &md);
        }
        for (int q = 0; q < 2; q++) {
            nonempty += query_one(in, &md, q == 0, &def);
            queries++;
        }
        if (child != NULL) {
            /* Every third nested step is aborted: the store and the
             * model go back to where the step began. */
            if (step % 3 == 0) {
                sg_txn_abort(child);
                md = saved;
            } else {
                assert_int_equal(sg_txn_commit(child), 0);
            }
        }
    }
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(sg_store_check(s, problem_fail, NULL), 0);
    nonempty += run_queries(s, &md, 200, &def);
    assert_true(nonempty > (queries + 200) / 2);
    sg_store_close(s);
    tu_rmrf(dir);
}

/* ---- Hand-computed cases. ---- */

typedef struct fixture {
    char dir[256];
    sg_store *s;
} fixture;

static int setup(void **state)
{
    world_init();
    fixture *f = calloc(1, sizeof(*f));
    tu_tempdir(f->dir, sizeof(f->dir));
    assert_int_equal(sg_store_open(&f->s, f->dir, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(sg_store_check(f->s, problem_fail, NULL), 0);
    sg_store_close(f->s);
    tu_rmrf(f->dir);
    free(f);
    return 0;
}

/* base_pair: a welder in 涂埠镇's first village and a welding job in the
 * second village of the same township. */
static void base_pair(sg_worker *w, sg_job *j)
{
    sg_worker_init(w);
    strcpy(w->id, "wa");
    strcpy(w->name, "张三");
    strcpy(w->region, "360425100201");
    w->labor_class = SG_LABOR_SKILLED;
    w->nskills = 2;
    w->skills[0] = 1; /* weld */
    w->skills[1] = 14; /* driving */
    w->category = SG_CAT_POVERTY_EXITED;
    strcpy(w->household, "hh1");
    w->travel = SG_TRAVEL_TOWNSHIP;
    w->expected_wage = 4000;
    w->status = SG_STATUS_RETURNED;
    w->seeking = true;

    sg_job_init(j);
    strcpy(j->id, "ja");
    strcpy(j->employer, "E1");
    j->source = SG_SOURCE_INDUSTRIAL_PARK;
    strcpy(j->title, "焊工");
    j->nrequired = 1;
    j->required[0] = 1;
    j->npreferred = 2;
    j->preferred[0] = 14;
    j->preferred[1] = 15;
    j->labor_classes = 1 << SG_LABOR_SKILLED | 1 << SG_LABOR_ORDINARY;
    j->nsites = 1;
    strcpy(j->sites[0].region, "360425100202");
    j->openings = 3;
    j->wage_min = 3500;
    j->wage_max = 4500;
    j->posted = (int64_t)base_day * 86400; /* 08:00 in Shanghai */
}

static void put_both(fixture *f, const sg_worker *w, const sg_job *j)
{
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_put_worker(t, w, &e), 0);
    assert_int_equal(sg_txn_put_job(t, j, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
}

static size_t query_worker(fixture *f, const char *id, int32_t as_of,
                           sg_match *first)
{
    sg_txn *t;
    sg_match_list l = {0};
    sg_match_opts o = {.as_of = as_of, .limit = 10};
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_match_worker(t, id, &o, &l), 0);
    sg_txn_abort(t);
    size_t n = l.n;
    if (n > 0 && first != NULL) {
        *first = l.items[0];
    }
    sg_match_list_free(&l);
    return n;
}

/* sg__near_cells holds the cell of every position nearer than the
 * distance range (sg__km, as scoring computes it), at random places,
 * ranges and offsets, many of them just inside the range; where it gives
 * no cells the query reads as it did without them, and that must be rare
 * at the ranges weights use. */
static void test_near_cells_hold_every_near_site(void **state)
{
    (void)state;
    srand(11);
    static const int ranges[] = {1, 7, 30, 50};
    long inside = 0, edge = 0, without = 0, tried = 0;
    for (int n = 0; n < 200000; n++) {
        sg_weights wt;
        sg_weights_default(&wt);
        wt.km_range = ranges[rand() % 4];
        double lat = -60 + 120.0 * rand() / RAND_MAX;
        double lon = -175 + 350.0 * rand() / RAND_MAX;
        sg__geo g = sg__geo_of(true, round(lat * 1e6) / 1e6,
                               round(lon * 1e6) / 1e6);
        uint32_t near[SG_MATCH_NEAR_MAX];
        int nn = sg__near_cells(&wt, g, near);
        tried++;
        if (nn < 0) {
            without++;
            continue;
        }
        /* A site up to 1.2 ranges away in latitude and longitude alike:
         * the square's corners are farther than the range, its middle
         * nearer. */
        double deg = wt.km_range * 1.2 / 111.0;
        double slat = lat + deg * (2.0 * rand() / RAND_MAX - 1);
        double slon = lon + deg / cos(slat * 3.14159265358979 / 180) *
                                (2.0 * rand() / RAND_MAX - 1);
        sg__geo site = sg__geo_of(true, round(slat * 1e6) / 1e6,
                                  round(slon * 1e6) / 1e6);
        double km = sg__km(g, site);
        if (km >= wt.km_range) {
            continue;
        }
        inside++;
        edge += km > 0.9 * wt.km_range;
        uint32_t c = sg__cell(site.lat_e6, site.lon_e6);
        bool held = false;
        for (int i = 0; i < nn && !held; i++) {
            held = near[i] == c;
        }
        if (!held) {
            fail_msg("site %.6f,%.6f is %.3f km from %.6f,%.6f (range %d) "
                     "and its cell is not among the %d near ones",
                     slat, slon, km, lat, lon, wt.km_range, nn);
        }
    }
    assert_true(inside > 50000);
    assert_true(edge > 5000);
    assert_true(without < tried / 10);
}

/* sg__tier (word at a time) agrees with sg_region_tier on random codes
 * that share prefixes of every length, some cut short by a NUL in a. */
static void test_tier_fast(void **state)
{
    (void)state;
    srand(7);
    for (int n = 0; n < 200000; n++) {
        char a[SG_REGION_LEN + 1], b[SG_REGION_LEN + 1];
        for (int i = 0; i < SG_REGION_LEN; i++) {
            a[i] = (char)('0' + rand() % 10);
            b[i] = a[i];
        }
        a[SG_REGION_LEN] = b[SG_REGION_LEN] = '\0';
        int cut = rand() % (SG_REGION_LEN + 1); /* first difference */
        if (cut < SG_REGION_LEN) {
            b[cut] = (char)('0' + (b[cut] - '0' + 1 + rand() % 9) % 10);
        }
        if (rand() % 4 == 0) {
            a[rand() % SG_REGION_LEN] = '\0'; /* a shorter code */
        }
        assert_int_equal(sg__tier(a, b), sg_region_tier(a, b));
    }
}

static void test_parts_by_hand(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    base_pair(&w, &j);
    put_both(f, &w, &j);
    sg_match m;
    assert_int_equal(query_worker(f, "wa", base_day + 10, &m), 1);
    assert_string_equal(m.id, "ja");
    /* skill: 150 * (1 + 1 matched of 2 preferred) / 3 = 100 */
    assert_int_equal(m.parts[SG_PART_SKILL], 100);
    /* proximity: same township, no coordinates: 160 */
    assert_int_equal(m.parts[SG_PART_PROXIMITY], 160);
    assert_int_equal(m.tier, SG_TRAVEL_TOWNSHIP);
    assert_string_equal(m.site, "360425100202");
    assert_false(m.has_km);
    /* wage: 150 * (45000 - 24000) / 24000 = 131 */
    assert_int_equal(m.parts[SG_PART_WAGE], 131);
    /* channel: skilled -> industrial park 100% of 150 */
    assert_int_equal(m.parts[SG_PART_CHANNEL], 150);
    /* priority: not monitored; the household has nobody employed: 100 */
    assert_int_equal(m.parts[SG_PART_PRIORITY], 100);
    /* freshness: 10 days old of 30: 50 * 20 / 30 = 33 */
    assert_int_equal(m.parts[SG_PART_FRESHNESS], 33);
    assert_int_equal(m.score, 100 + 160 + 131 + 150 + 100 + 33);
    assert_non_null(strstr(m.reason, "同镇"));
    assert_non_null(strstr(m.reason, "焊工"));
    assert_non_null(strstr(m.reason, "月薪3500-4500元"));

    /* A household member at work removes the zero-employment priority. */
    sg_worker w2 = w;
    strcpy(w2.id, "wb");
    w2.status = SG_STATUS_EMPLOYED_OUTBOUND;
    w2.seeking = false;
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_put_worker(t, &w2, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(query_worker(f, "wa", base_day + 10, &m), 1);
    assert_int_equal(m.parts[SG_PART_PRIORITY], 0);

    /* With coordinates 0.01 degree of latitude apart (~1.11 km):
     * 160 + floor(100 * (1 - 1.11/30)) = 160 + 96. */
    w.has_geo = true;
    w.lat = 29.02;
    w.lon = 115.82;
    j.sites[0].has_geo = true;
    j.sites[0].lat = 29.03;
    j.sites[0].lon = 115.82;
    put_both(f, &w, &j);
    assert_int_equal(query_worker(f, "wa", base_day + 10, &m), 1);
    assert_true(m.has_km);
    assert_true(fabs(m.km - 1.112) < 0.01);
    assert_int_equal(m.parts[SG_PART_PROXIMITY], 256);
}

static void test_hard_filters(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    int32_t day = base_day + 1;
    base_pair(&w, &j);
    put_both(f, &w, &j);
    assert_int_equal(query_worker(f, "wa", day, NULL), 1);

    /* Each filter, one at a time, on a fresh copy of the eligible pair. */
    for (int c = 0; c < 9; c++) {
        sg_worker w2 = w;
        sg_job j2 = j;
        switch (c) {
        case 0: j2.labor_classes = 1 << SG_LABOR_WEAK; break;     /* class */
        case 1: w2.nskills = 1; w2.skills[0] = 14; break;         /* skill */
        case 2: w2.travel = SG_TRAVEL_VILLAGE; break;             /* tier */
        case 3: j2.state = SG_JOB_CLOSED; break;                  /* closed */
        case 4: j2.openings = 0; break;                           /* full */
        case 5: j2.ends = day - 1; break;                         /* ended */
        case 6: w2.available_to = day + 5; j2.starts = day + 6; break;
        case 7: w2.available_from = day + 30; j2.ends = day + 29; break;
        case 8: w2.seeking = false; break;
        }
        put_both(f, &w2, &j2);
        if (query_worker(f, "wa", day, NULL) != 0) {
            fail_msg("filter case %d let the pair through", c);
        }
        put_both(f, &w, &j); /* and back */
        assert_int_equal(query_worker(f, "wa", day, NULL), 1);
    }
    /* The boundary: a job ending today has not ended. */
    j.ends = day;
    put_both(f, &w, &j);
    assert_int_equal(query_worker(f, "wa", day, NULL), 1);
}

static void test_order_and_ties(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    base_pair(&w, &j);
    put_both(f, &w, &j);
    /* Three identical jobs under other ids tie with "ja": id ascending. */
    const char *ids[] = {"jc", "jb", "j0"};
    for (int i = 0; i < 3; i++) {
        sg_job k = j;
        strcpy(k.id, ids[i]);
        put_both(f, &w, &k);
    }
    sg_txn *t;
    sg_match_list l = {0};
    sg_match_opts o = {.as_of = base_day, .limit = 3};
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_match_worker(t, "wa", &o, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].id, "j0");
    assert_string_equal(l.items[1].id, "ja");
    assert_string_equal(l.items[2].id, "jb");
    sg_match_list_free(&l);
    /* Unknown ids and bad options are errors, not empty lists. */
    assert_int_equal(sg_match_worker(t, "nobody", &o, &l), SG_ENOTFOUND);
    assert_int_equal(sg_match_job(t, "nojob", &o, &l), SG_ENOTFOUND);
    o.limit = 0;
    assert_int_equal(sg_match_worker(t, "wa", &o, &l), SG_EINVAL);
    sg_txn_abort(t);
}

static void test_candidates_look_only_at_candidates(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    base_pair(&w, &j);
    put_both(f, &w, &j);
    /* 300 workers who can never match (other class, other county) must
     * not be looked at by either query. */
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    for (int i = 0; i < 300; i++) {
        sg_worker x = w;
        snprintf(x.id, sizeof(x.id), "x%d", i);
        x.labor_class = SG_LABOR_WEAK;
        assert_int_equal(sg_txn_put_worker(t, &x, &e), 0);
        sg_job y = j;
        snprintf(y.id, sizeof(y.id), "y%d", i);
        y.labor_classes = 1 << SG_LABOR_WEAK;
        assert_int_equal(sg_txn_put_job(t, &y, &e), 0);
    }
    assert_int_equal(sg_txn_commit(t), 0);
    sg_match_list l = {0};
    sg_match_opts o = {.as_of = base_day, .limit = 10};
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_match_worker(t, "wa", &o, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.looked_at, 1);
    sg_match_list_free(&l);
    assert_int_equal(sg_match_job(t, "ja", &o, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.looked_at, 1);
    sg_match_list_free(&l);
    sg_txn_abort(t);
}

/* Rings: once the top K are better than anything a farther ring could
 * give, that ring is not read at all, in either direction. */
static void test_far_rings_are_not_read(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    base_pair(&w, &j);
    w.travel = SG_TRAVEL_ANY;
    w.category = SG_CAT_MONITORED; /* priority 100 + 100 (alone, idle) */
    strcpy(j.sites[0].region, w.region); /* same village: 200 points */
    j.wage_max = 6000;
    j.npreferred = 1; /* driving, which wa holds: all 150 skill points */
    put_both(f, &w, &j);
    /* 200 jobs and 200 workers in another county (ring "city" or
     * farther), each also a fit for the pair above. */
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    for (int i = 0; i < 200; i++) {
        sg_worker x = w;
        snprintf(x.id, sizeof(x.id), "far%d", i);
        snprintf(x.household, sizeof(x.household), "hf%d", i);
        strcpy(x.region, "360102101201");
        assert_int_equal(sg_txn_put_worker(t, &x, &e), 0);
        sg_job y = j;
        snprintf(y.id, sizeof(y.id), "jfar%d", i);
        strcpy(y.sites[0].region, "360102101201");
        assert_int_equal(sg_txn_put_job(t, &y, &e), 0);
    }
    assert_int_equal(sg_txn_commit(t), 0);
    sg_match_list l = {0};
    sg_match_opts o = {.as_of = base_day, .limit = 1};
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_match_worker(t, "wa", &o, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].id, "ja");
    assert_int_equal(l.looked_at, 1);
    assert_int_equal(l.walked, 1); /* the village ring only */
    sg_match_list_free(&l);
    assert_int_equal(sg_match_job(t, "ja", &o, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].id, "wa");
    assert_int_equal(l.looked_at, 1);
    sg_match_list_free(&l);
    /* With room for more, the far ones are read and ranked after. */
    o.limit = 50;
    assert_int_equal(sg_match_worker(t, "wa", &o, &l), 0);
    assert_int_equal(l.n, 50);
    assert_string_equal(l.items[0].id, "ja");
    assert_true(l.looked_at >= 50);
    sg_match_list_free(&l);
    assert_int_equal(sg_match_job(t, "ja", &o, &l), 0);
    assert_int_equal(l.n, 50);
    assert_string_equal(l.items[0].id, "wa");
    sg_match_list_free(&l);
    sg_txn_abort(t);
}

/* The entry points on a loaded record check their arguments like the
 * by-id ones, and rank a record exactly as the by-id query does. */
static void test_rec_entry_points(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    base_pair(&w, &j);
    put_both(f, &w, &j);
    sg_txn *t;
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    sg_match_opts o = {.as_of = base_day, .limit = 5};
    sg_match_opts bad = {.as_of = base_day, .limit = 0};
    sg_match_list a = {0}, b = {0};
    assert_int_equal(sg_match_worker_rec(t, NULL, &o, &a), SG_EINVAL);
    assert_int_equal(sg_match_job_rec(t, NULL, &o, &a), SG_EINVAL);
    assert_int_equal(sg_match_worker_rec(t, &w, &bad, &a), SG_EINVAL);
    assert_int_equal(sg_match_job_rec(t, &j, &o, NULL), SG_EINVAL);
    assert_int_equal(sg_match_worker(t, w.id, &o, &a), 0);
    assert_int_equal(sg_match_worker_rec(t, &w, &o, &b), 0);
    assert_int_equal(a.n, 1);
    assert_lists_equal(&a, &b);
    sg_match_list_free(&a);
    sg_match_list_free(&b);
    assert_int_equal(sg_match_job(t, j.id, &o, &a), 0);
    assert_int_equal(sg_match_job_rec(t, &j, &o, &b), 0);
    assert_int_equal(a.n, 1);
    assert_lists_equal(&a, &b);
    sg_match_list_free(&a);
    sg_match_list_free(&b);
    sg_txn_abort(t);
}

static void test_weights_file(void **state)
{
    (void)state;
    char dir[256], path[300];
    tu_tempdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/w.conf", dir);
    FILE *fp = fopen(path, "w");
    fputs("# comment\nskill = 7\ntier.county = 11\nfit.half.workshop = 55\n\n",
          fp);
    fclose(fp);
    sg_weights w;
    sg_weights_default(&w);
    sg_error e;
    assert_int_equal(sg_weights_load(&w, path, &e), 0);
    assert_int_equal(w.skill, 7);
    assert_int_equal(w.tier[SG_TRAVEL_COUNTY], 11);
    assert_int_equal(w.fit[SG_LABOR_HALF][SG_SOURCE_WORKSHOP], 55);
    assert_int_equal(w.wage, 150); /* untouched */
    fp = fopen(path, "w");
    fputs("skil = 7\n", fp);
    fclose(fp);
    assert_int_equal(sg_weights_load(&w, path, &e), SG_EINVAL);
    assert_string_equal(e.field, "skil");
    fp = fopen(path, "w");
    fputs("km_range = 0\n", fp);
    fclose(fp);
    assert_int_equal(sg_weights_load(&w, path, &e), SG_EINVAL);
    assert_int_equal(w.skill, 7); /* a failed load changes nothing */
    tu_rmrf(dir);
}

/* The shipped data/weights.conf documents the defaults: it must set every
 * weight, to exactly the built-in value. */
static void test_shipped_weights_are_the_defaults(void **state)
{
    (void)state;
    sg_weights def, file;
    sg_weights_default(&def);
    memset(&file, 0xff, sizeof(file)); /* anything the file leaves unset */
    sg_error e;
    assert_int_equal(sg_weights_load(&file, "data/weights.conf", &e), 0);
    assert_memory_equal(&def, &file, sizeof(def));
}

int main(void)
{
    assert_int_equal(sg_date_parse("2026-11-01", 10, &base_day), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tier_fast),
        cmocka_unit_test(test_near_cells_hold_every_near_site),
        cmocka_unit_test_setup_teardown(test_parts_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hard_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_and_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_candidates_look_only_at_candidates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_rings_are_not_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rec_entry_points, setup,
                                        teardown),
        cmocka_unit_test(test_weights_file),
        cmocka_unit_test(test_shipped_weights_are_the_defaults),
        cmocka_unit_test(test_randomized_against_reference),
        cmocka_unit_test(test_queries_inside_a_write_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
