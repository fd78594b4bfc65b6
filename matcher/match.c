/* matcher/match.c -- ranked matching, worker -> jobs and job -> workers.
 * Candidates come from the postings (store_records.c), keyed so that a query
 * reads only entries that can pass the labor-class, region-tier and skill
 * filters; every hard filter is checked again on the candidate's view, so the
 * postings narrow the search but never decide it.  Scores are integer sums
 * of named parts, so two runs -- or the tests' brute-force reference -- agree
 * exactly.  Top K is a heap of slots in an arena (candidates are never
 * copied); a candidate whose best possible score, read from a few fields of
 * its packed view, is below the K-th best is never unpacked; reasons are
 * written for the K returned only.  Runs in the read transaction's thread. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "songgang/match.h"

static const char *const part_names[SG_PART__COUNT] = {
    "skill", "proximity", "wage", "channel", "priority", "freshness",
};

const char *sg_part_name(int p)
{
    return p >= 0 && p < SG_PART__COUNT ? part_names[p] : NULL;
}

/* ---- Weights. ---- */

/* Channel fit by labor class, in percent (分类管理): ordinary and skilled
 * labor towards industrial parks, labor export and work-relief; half and
 * weak labor towards public-welfare posts and assistance workshops.
 * Columns: industrial_park, workshop, work_relief, public_welfare,
 * labor_export, flexible. */
static const uint8_t default_fit[SG_LABOR__COUNT][SG_SOURCE__COUNT] = {
    {100, 40, 100, 10, 100, 60}, /* ordinary */
    {100, 30, 80, 0, 100, 60},   /* skilled */
    {30, 100, 60, 100, 10, 60},  /* half */
    {10, 100, 40, 100, 0, 50},   /* weak */
};

void sg_weights_default(sg_weights *w)
{
    static const int tier[SG_TRAVEL__COUNT] = {200, 160, 120, 60, 30, 0};
    memset(w, 0, sizeof(*w));
    w->skill = 150;
    memcpy(w->tier, tier, sizeof(tier));
    w->km = 100;
    w->km_range = 30;
    w->wage = 150;
    w->channel = 150;
    memcpy(w->fit, default_fit, sizeof(default_fit));
    w->risk = 100;
    w->zero_household = 100;
    w->fresh = 50;
    w->fresh_days = 30;
}

/* weight_slot finds the int a `key = value` line sets, and its range. */
static int *weight_slot(sg_weights *w, const char *key, int *max,
                        uint8_t **fit)
{
    static const struct {
        const char *name;
        size_t off;
    } plain[] = {
        {"skill", offsetof(sg_weights, skill)},
        {"km", offsetof(sg_weights, km)},
        {"km_range", offsetof(sg_weights, km_range)},
        {"wage", offsetof(sg_weights, wage)},
        {"channel", offsetof(sg_weights, channel)},
        {"risk", offsetof(sg_weights, risk)},
        {"zero_household", offsetof(sg_weights, zero_household)},
        {"fresh", offsetof(sg_weights, fresh)},
        {"fresh_days", offsetof(sg_weights, fresh_days)},
    };
    *fit = NULL;
    *max = 10000;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (strcmp(key, plain[i].name) == 0) {
            return (int *)((char *)w + plain[i].off);
        }
    }
    if (strncmp(key, "tier.", 5) == 0) {
        int t = sg_enum_parse(SG_ENUM_TRAVEL, key + 5, strlen(key + 5));
        return t >= 0 ? &w->tier[t] : NULL;
    }
    if (strncmp(key, "fit.", 4) == 0) {
        const char *dot = strchr(key + 4, '.');
        if (dot == NULL) {
            return NULL;
        }
        int c = sg_enum_parse(SG_ENUM_LABOR, key + 4, (size_t)(dot - key - 4));
        int s = sg_enum_parse(SG_ENUM_SOURCE, dot + 1, strlen(dot + 1));
        if (c >= 0 && s >= 0) {
            *fit = &w->fit[c][s];
            *max = 100;
            return max; /* non-NULL: the caller writes *fit */
        }
    }
    return NULL;
}

/* divisor_min: weights that divide must not be zero. */
static int divisor_min(const char *key)
{
    return strcmp(key, "km_range") == 0 || strcmp(key, "fresh_days") == 0;
}

int sg_weights_load(sg_weights *w, const char *path, sg_error *e)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return sg_error_set(e, SG_EIO, "", "cannot open %s", path);
    }
    sg_weights nw = *w;
    char line[256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char key[64];
        long val;
        char extra;
        if (sscanf(line, " %63[a-z_.] = %ld %c", key, &val, &extra) == 2) {
            int max;
            uint8_t *fit;
            int *slot = weight_slot(&nw, key, &max, &fit);
            if (slot == NULL) {
                rc = sg_error_set(e, SG_EINVAL, key, "line %d: unknown weight",
                                  lineno);
            } else if (val < divisor_min(key) || val > max) {
                rc = sg_error_set(e, SG_EINVAL, key,
                                  "line %d: must be between %d and %d", lineno,
                                  divisor_min(key), max);
            } else if (fit != NULL) {
                *fit = (uint8_t)val;
            } else {
                *slot = (int)val;
            }
        } else {
            char *p = line;
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
                p++;
            }
            if (*p != '\0') {
                rc = sg_error_set(e, SG_EINVAL, "",
                                  "line %d: expected `key = integer`", lineno);
            }
        }
    }
    fclose(f);
    if (rc == 0) {
        *w = nw;
    }
    return rc;
}

/* ---- Scoring one pair. ---- */

/* cand is a scored candidate: the result and the view it came from (the
 * reason is written from the view once the top K are known). */
typedef struct cand {
    sg_match m;          /* result, reason still empty */
    bool zero;           /* job -> workers: household has nobody employed */
    union {
        sg__jview j;     /* for a worker's list */
        sg__wview w;     /* for a job's list */
    } v;
} cand;

/* freshness: the points of a job posted on day posted, seen on as_of. */
static int32_t freshness(const sg_weights *wt, int32_t as_of, int32_t posted)
{
    int age = as_of - posted;
    age = age < 0 ? 0 : age;
    return age >= wt->fresh_days
               ? 0
               : wt->fresh * (wt->fresh_days - age) / wt->fresh_days;
}

/* wage_points: the wage part for an expectation and a job's top wage. */
static int32_t wage_points(const sg_weights *wt, int32_t expected,
                           int32_t wage_max)
{
    int64_t exp = expected;
    if (exp <= 0) {
        return wt->wage;
    }
    int64_t x = 10 * (int64_t)wage_max - 6 * exp;
    x = x < 0 ? 0 : x > 6 * exp ? 6 * exp : x;
    return (int32_t)(wt->wage * x / (6 * exp));
}

/* priority: the priority part of a worker of category cat (risk_gone:
 * monitored, risk eliminated; zero: household has nobody employed). */
static int32_t priority(const sg_weights *wt, int cat, bool risk_gone,
                        bool zero)
{
    return (cat == SG_CAT_MONITORED && !risk_gone ? wt->risk : 0) +
           (zero ? wt->zero_household : 0);
}

static bool date_le(int32_t a, int32_t b) /* NONE-aware a <= b */
{
    return a == SG_DATE_NONE || b == SG_DATE_NONE || a <= b;
}

/* score_pair applies every hard filter to (w, j) and, when the pair is
 * eligible and could enter the top K, fills m (id left to the caller, the
 * reason empty) and returns true.  zero is whether w's household has
 * nobody employed; tiers[i] is the tier between w's village and j's site
 * i, computed once for the ring test (sg__jview_head_sites).  kth is the K-th
 * best so far (NULL while fewer than K are kept): a pair whose best
 * possible score is below it is dropped before any distance is computed,
 * which changes nothing in the result. */
static bool score_pair(const sg__wview *w, const sg__jview *j, bool zero,
                       const uint8_t *tiers, int32_t as_of,
                       const sg_weights *wt, const sg_match *kth, sg_match *m)
{
    /* Hard filters. */
    if (!(j->classes & (1u << w->labor_class))) {
        return false;
    }
    if (j->ends != SG_DATE_NONE && j->ends < as_of) {
        return false; /* ended */
    }
    if (!date_le(w->available_from, j->ends) ||
        !date_le(j->starts, w->available_to)) {
        return false; /* availability windows do not overlap */
    }
    if (!sg__skills_subset(j->req, j->nreq, w->skills, w->nskills)) {
        return false;
    }
    /* The parts that do not depend on the site. */
    int32_t parts[SG_PART__COUNT] = {0};
    size_t matched = sg__skills_overlap(j->pref, j->npref, w->skills,
                                        w->nskills);
    parts[SG_PART_SKILL] =
        (int32_t)(wt->skill * (1 + (int64_t)matched) / (1 + j->npref));
    parts[SG_PART_WAGE] = wage_points(wt, w->expected_wage, j->wage_max);
    parts[SG_PART_CHANNEL] =
        wt->channel * wt->fit[w->labor_class][j->source] / 100;
    parts[SG_PART_PRIORITY] =
        priority(wt, w->category, w->risk_eliminated, zero);
    parts[SG_PART_FRESHNESS] = freshness(wt, as_of, j->posted_date);
    int32_t base = 0;
    for (int p = 0; p < SG_PART__COUNT; p++) {
        base += parts[p];
    }
    /* The best the pair could score. */
    int32_t bound = -1;
    for (int i = 0; i < j->nsites; i++) {
        if (tiers[i] <= w->travel) {
            int32_t b = base + wt->tier[tiers[i]] +
                        (w->geo.has && j->site_geo[i].has ? wt->km : 0);
            bound = b > bound ? b : bound;
        }
    }
    if (bound < 0) {
        return false; /* no site within the worker's travel */
    }
    if (kth != NULL && bound < kth->score) {
        return false; /* cannot enter the top K */
    }
    /* The nearest eligible site: most proximity points, then the lower
     * tier, then the lower region code. */
    int best = -1, best_pts = -1, best_tier = 0;
    double best_km = 0;
    for (int i = 0; i < j->nsites; i++) {
        int tier = tiers[i];
        if (tier > w->travel) {
            continue;
        }
        int pts = wt->tier[tier];
        double km = 0;
        if (w->geo.has && j->site_geo[i].has) {
            km = sg__km(w->geo, j->site_geo[i]);
            double f = 1.0 - km / wt->km_range;
            pts += (int)floor(wt->km * (f > 0 ? f : 0));
        }
        if (best < 0 || pts > best_pts ||
            (pts == best_pts && tier < best_tier) ||
            (pts == best_pts && tier == best_tier &&
             strcmp(j->site[i], j->site[best]) < 0)) {
            best = i;
            best_pts = pts;
            best_tier = tier;
            best_km = km;
        }
    }
    memcpy(m->parts, parts, sizeof(parts));
    m->parts[SG_PART_PROXIMITY] = best_pts;
    m->score = base + best_pts;
    m->tier = (uint8_t)best_tier;
    memcpy(m->site, j->site[best], sizeof(m->site));
    m->has_km = w->geo.has && j->site_geo[best].has;
    m->km = best_km;
    m->reason[0] = '\0';
    return true;
}

/* ---- Top K. ----
 * Candidates live in an arena of K + 1 slots and the heap orders slot
 * numbers, so a candidate is read straight into the spare slot and never
 * copied: admitting it swaps slot numbers with the one it evicts. */

typedef struct topk {
    cand *c;         /* arena: k + 1 slots */
    uint32_t *h;     /* min-heap of slots on (score, reverse id): worst first */
    uint32_t spare;  /* the slot the next candidate is read into */
    size_t n;        /* entries */
    size_t k;        /* capacity */
    size_t looked;   /* candidates read */
} topk;

static void topk_init(topk *t, size_t k)
{
    /* Zeroed once, so that no uninitialised byte (a string's tail, which
     * score_pair no longer clears per candidate) ever reaches a result. */
    t->c = calloc(k + 1, sizeof(cand));
    t->h = malloc(k * sizeof(uint32_t));
    if (t->c == NULL || t->h == NULL) {
        abort(); /* out of memory */
    }
    t->spare = 0;
    t->n = 0;
    t->k = k;
    t->looked = 0;
}

static void topk_fini(topk *t)
{
    free(t->c);
    free(t->h);
}

/* better tells whether a ranks before b: score desc, then id asc. */
static bool better(const sg_match *a, const sg_match *b)
{
    return a->score != b->score ? a->score > b->score
                                : strcmp(a->id, b->id) < 0;
}

/* at is the result in heap position i. */
static const sg_match *at(const topk *t, size_t i)
{
    return &t->c[t->h[i]].m;
}

static void heap_down(topk *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < t->n && better(at(t, w), at(t, l))) {
            w = l;
        }
        if (r < t->n && better(at(t, w), at(t, r))) {
            w = r;
        }
        if (w == i) {
            return;
        }
        uint32_t tmp = t->h[i];
        t->h[i] = t->h[w];
        t->h[w] = tmp;
        i = w;
    }
}

/* topk_spare is the slot to read the next candidate into. */
static cand *topk_spare(topk *t)
{
    return &t->c[t->spare];
}

/* topk_floor returns the K-th best kept, or NULL while there are fewer. */
static const sg_match *topk_floor(const topk *t)
{
    return t->n < t->k ? NULL : at(t, 0);
}

/* topk_offer keeps the spare slot's candidate if it enters the top K. */
static void topk_offer(topk *t)
{
    if (t->n < t->k) {
        size_t i = t->n++;
        t->h[i] = t->spare;
        t->spare = (uint32_t)t->n; /* slots 0..n-1 are taken */
        while (i > 0) { /* sift up: the worst rises to the root */
            size_t p = (i - 1) / 2;
            if (!better(at(t, p), at(t, i))) {
                break;
            }
            uint32_t tmp = t->h[i];
            t->h[i] = t->h[p];
            t->h[p] = tmp;
            i = p;
        }
        return;
    }
    if (!better(&t->c[t->spare].m, at(t, 0))) {
        return;
    }
    uint32_t out = t->h[0];
    t->h[0] = t->spare;
    t->spare = out;
    heap_down(t, 0);
}

/* topk_sort orders the kept slots best first, in place: a heap sort,
 * since the heap is already built and holds at most K entries. */
static void topk_sort(topk *t)
{
    size_t n = t->n;
    while (t->n > 1) { /* the worst goes to the end */
        uint32_t tmp = t->h[0];
        t->h[0] = t->h[--t->n];
        t->h[t->n] = tmp;
        heap_down(t, 0);
    }
    t->n = n;
}

/* ---- Reasons (zh-CN, one line). ---- */

static const char *const tier_zh[SG_TRAVEL__COUNT] = {
    "同村", "同镇", "同县", "同市", "同省", "省外",
};

/* first_common returns the first skill of a (sorted) also in b, or 0. */
static sg_skill first_common(const sg_skill *a, size_t na, const sg_skill *b,
                             size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        for (size_t k = 0; k < nb; k++) {
            if (a[i] == b[k]) {
                return a[i];
            }
        }
    }
    return 0;
}

/* The reasons are written piece by piece into m->reason (what snprintf
 * wrote before: the same bytes, cut at the same length); only the
 * distance goes through printf ("%.1f"), the rest are appends: a query
 * writes the reasons of its whole top K. */
typedef struct rs {
    char *b;    /* out (cap bytes), NUL-terminated */
    size_t cap;
    size_t n;   /* bytes written, cut at cap - 1 */
} rs;

static void rs_init(rs *r, char *b, size_t cap)
{
    r->b = b;
    r->cap = cap;
    r->n = 0;
    b[0] = '\0';
}

static void rs_put(rs *r, const char *s)
{
    if (s == NULL) {
        s = "(null)"; /* as printf wrote an unnamed value */
    }
    size_t l = strlen(s);
    if (r->n + l >= r->cap) {
        l = r->cap - 1 - r->n;
    }
    memcpy(r->b + r->n, s, l);
    r->n += l;
    r->b[r->n] = '\0';
}

static void rs_int(rs *r, int v)
{
    char num[16], *p = num + sizeof(num);
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    rs_put(r, p);
}

/* where: the tier, and the distance when there is one ("同县 12.3公里"). */
static void where(rs *r, const sg_match *m)
{
    rs_put(r, tier_zh[m->tier]);
    if (m->has_km) {
        char km[32];
        snprintf(km, sizeof(km), " %.1f公里", m->km);
        rs_put(r, km);
    }
}

/* job_reason: why this job suits the worker, e.g.
 * "同镇 · 焊工 · 月薪3500-4500元 · 工业园区". */
static void job_reason(sg_match *m, const sg__jview *j, const sg__wview *w)
{
    rs r;
    rs_init(&r, m->reason, sizeof(m->reason));
    where(&r, m);
    sg_skill s = j->nreq > 0 ? j->req[0]
                             : first_common(j->pref, j->npref, w->skills,
                                            w->nskills);
    if (s != 0) {
        rs_put(&r, " · ");
        rs_put(&r, sg_skill_name_zh(s));
    }
    rs_put(&r, " · 月薪");
    if (j->wage_min != j->wage_max) {
        rs_int(&r, (int)j->wage_min);
        rs_put(&r, "-");
    }
    rs_int(&r, (int)j->wage_max);
    rs_put(&r, "元 · ");
    rs_put(&r, sg_enum_label_zh(SG_ENUM_SOURCE, j->source));
}

void sg_match_job_reason(const sg_match *m, const sg_job *j,
                         const sg_worker *w, char *out, size_t cap)
{
    sg__jview jv;
    sg__wview wv;
    sg__jview_of(j, &jv);
    sg__wview_of(w, &wv);
    sg_match tmp = *m;
    job_reason(&tmp, &jv, &wv);
    snprintf(out, cap, "%s", tmp.reason);
}

/* worker_reason: why this worker suits the job, e.g.
 * "同县 12.3公里 · 技能劳动力 · 焊工 · 期望4000元 · 零就业家庭". */
static void worker_reason(sg_match *m, const sg__wview *w, bool zero,
                          const sg__jview *j)
{
    rs r;
    rs_init(&r, m->reason, sizeof(m->reason));
    where(&r, m);
    rs_put(&r, " · ");
    rs_put(&r, sg_enum_label_zh(SG_ENUM_LABOR, w->labor_class));
    sg_skill s = j->nreq > 0 ? j->req[0]
                             : first_common(j->pref, j->npref, w->skills,
                                            w->nskills);
    if (s != 0) {
        rs_put(&r, " · ");
        rs_put(&r, sg_skill_name_zh(s));
    }
    rs_put(&r, " · 期望");
    rs_int(&r, (int)w->expected_wage);
    rs_put(&r, "元");
    if (w->category == SG_CAT_MONITORED && !w->risk_eliminated) {
        rs_put(&r, " · 监测对象");
    }
    if (zero) {
        rs_put(&r, " · 零就业家庭");
    }
}

/* ---- Queries. ---- */

/* lists: how many entries a walk reads of each posting list.  A query
 * records them (reads); the floor reads as many (limits). */
typedef struct lists {
    uint32_t in_list;       /* entries cb has read of the list being read */
    uint32_t limit;         /* with limits: how many cb is to read of it */
    uint32_t n;             /* lists read */
    uint32_t *reads;        /* NULL, or where each list's count goes */
    const uint32_t *limits; /* NULL, or how many to read of each list */
    uint32_t nlimits;       /* ... of that many lists */
} lists;

typedef struct query {
    sg_txn *t;              /* read transaction */
    const sg_weights *wt;   /* weights */
    int32_t as_of;          /* today */
    topk top;               /* best so far */
    sg__wview w;            /* worker -> jobs: the worker */
    bool zero;              /* ... and its household has nobody employed */
    sg__jview j;            /* job -> workers: the job */
    int ring;               /* the tier being walked */
    int err;                /* first error seen */
    /* job -> workers, a job with preferred skills and none required: the
     * list being walked holds the workers whose first held preferred
     * skill (in the job's order) is list_skill, 0: who hold none. */
    bool split;
    sg_skill list_skill;
    /* worker -> jobs, a worker with a position: the cells its distance
     * points can come from (sg__near_cells), the kind of the pass being
     * walked and, in a near pass, the cell of the list being read. */
    uint32_t near[SG_MATCH_NEAR_MAX];
    int nnear; /* -1: the outer rings are not split */
    uint8_t kind;
    uint32_t cell;
    /* worker -> jobs: the parts of the head bound fixed for the worker. */
    int32_t hb_base;                  /* skill and priority */
    int32_t hb_fit[SG_SOURCE__COUNT]; /* channel, by the job's source */
    /* ... and, for the ring being walked, all of the bound but the wage:
     * the keys' jobs come best paid first, so the first whose wage cannot
     * lift it into the top K ends its key (on_job_posting). */
    int32_t stop_base;
    int32_t site_most; /* ... and the proximity part alone (pass_site) */
    lists ls; /* the entries read of each list */
} query;

static int check_opts(const sg_match_opts *o)
{
    return o == NULL || o->limit < 1 || o->limit > SG_MATCH_LIMIT_MAX ||
                   o->as_of == SG_DATE_NONE
               ? SG_EINVAL
               : 0;
}

static void query_init(query *q, sg_txn *t, const sg_match_opts *o,
                       const sg_weights *defaults)
{
    memset(q, 0, sizeof(*q));
    q->t = t;
    q->wt = o->w != NULL ? o->w : defaults;
    q->as_of = o->as_of;
    topk_init(&q->top, (size_t)o->limit);
}

/* query_finish sorts the top K, writes their reasons and hands them to
 * out as an array of sg_match; views, when not NULL, gets the view each
 * came from instead of its reason (a job's list only). */
static void query_finish(query *q, bool jobs, sg_match_list *out,
                         sg__wview *views)
{
    topk_sort(&q->top);
    sg_match *items = malloc((q->top.n ? q->top.n : 1) * sizeof(sg_match));
    if (items == NULL) {
        abort();
    }
    for (size_t i = 0; i < q->top.n; i++) {
        cand *c = &q->top.c[q->top.h[i]];
        if (jobs) {
            job_reason(&c->m, &c->v.j, &q->w);
        } else {
            if (views != NULL) {
                views[i] = c->v.w; /* the caller writes its own reasons */
            } else {
                worker_reason(&c->m, &c->v.w, c->zero, &q->j);
            }
        }
        items[i] = c->m;
    }
    out->items = items;
    out->n = q->top.n;
    out->looked_at = q->top.looked;
    topk_fini(&q->top);
}

/* ring_of writes the tier between a home village (its first
 * SG_REGION_LEN bytes) and each site of job j into tiers and returns the
 * nearest: the ring of the walk in which the pair is met and scored. */
static int ring_of(const char *region, const sg__jview *j, uint8_t *tiers)
{
    int best = SG_TRAVEL_ANY;
    for (int i = 0; i < j->nsites; i++) {
        int t = sg__tier(region, j->site[i]);
        tiers[i] = (uint8_t)t;
        best = t < best ? t : best;
    }
    return best;
}

/* The walks read the index in passes: a ring (same village, township,
 * county, city, province, anywhere) and, for a job's workers, one labor
 * class, one priority (monitored and at risk; household with nobody
 * employed) and whether the worker has a position, which worker postings
 * are keyed by.  Before a pass is read, the most any pair in it could
 * score -- the parts it does not fix at their maximum, the ring's tier
 * points, all distance points when both ends can have a distance -- is
 * compared with the K-th best so far.  Passes go in the order of that
 * bound, highest first, so the first pass that cannot change the top K
 * ends the walk.  A pair is scored only in the ring of its nearest site,
 * so it is met once whatever the order. */

/* max_base is the most the parts other than proximity can give a worker
 * of class c for a job of source src (-1: any source); prio is the
 * priority the pair gets and fresh the freshness. */
static int32_t max_base(const sg_weights *wt, int c, int src, int32_t prio,
                        int32_t fresh)
{
    int fit = 0;
    for (int s = 0; s < SG_SOURCE__COUNT; s++) {
        if ((src < 0 || s == src) && wt->fit[c][s] > fit) {
            fit = wt->fit[c][s];
        }
    }
    return wt->skill + wt->wage + wt->channel * fit / 100 + prio + fresh;
}

static bool pass_useless(const topk *t, int32_t bound)
{
    const sg_match *kth = topk_floor(t);
    return kth != NULL && bound < kth->score;
}

/* pass: one range of the index to read, and the most it could give. */
typedef struct pass {
    int32_t bound;  /* best score any pair in it could have */
    uint8_t ring;   /* enum sg_travel */
    uint8_t cls;    /* labor class (job -> workers) */
    uint8_t prio;   /* priority bits (job -> workers) */
    uint8_t list;   /* job -> workers: 0, or 1 + a preferred skill's index */
    uint8_t kind;   /* worker -> jobs: PASS_RING, PASS_NEAR or PASS_FAR */
    sg_skill skill; /* job -> workers: the skill the list is posted under */
} pass;
/* A worker's passes.  With a position, the jobs of the outer rings (city,
 * province, anywhere: wide areas, whose pairs mostly get no distance
 * points) are read in two kinds of pass: one near pass reads the jobs
 * with a positioned site in the cells around the worker (sg__near_cells) --
 * the only ones that can earn distance points -- and each outer ring's
 * far pass reads the rest, bounded without distance points, so that its
 * walk stops at the first job whose wage cannot lift it (on_job_posting)
 * instead of reading the whole ring.  Inner rings, and a worker without
 * a position, have one pass a ring. */
enum { PASS_RING, PASS_NEAR, PASS_FAR };
#define PASS_BITS 8 /* priority bits and whether the worker has a position */
#define PASS_LISTS (1 + SG_REQ_SKILLS_MAX)
#define PASS_MAX (SG_TRAVEL__COUNT * SG_LABOR__COUNT * PASS_BITS * PASS_LISTS)

static int cmp_pass(const void *a, const void *b)
{
    const pass *x = a, *y = b;
    if (x->bound != y->bound) {
        return x->bound > y->bound ? -1 : 1;
    }
    int kx = (((x->ring * SG_LABOR__COUNT + x->cls) * PASS_BITS + x->prio) *
                  PASS_LISTS + x->list) * 3 + x->kind;
    int ky = (((y->ring * SG_LABOR__COUNT + y->cls) * PASS_BITS + y->prio) *
                  PASS_LISTS + y->list) * 3 + y->kind;
    return kx - ky;
}

/* sg__near_cells writes into out the cells (sg__cell) that hold every
 * position nearer to g than weights wt's distance range -- the only
 * places a site can earn distance points from -- and returns their
 * count, or -1 when there is no use in them (no position, no distance
 * points) or they are too many (SG_MATCH_NEAR_MAX) or the square around
 * g crosses a pole or the date line.  The square is taken wide: latitude
 * changes by at most the distance over the earth's radius, and longitude
 * by what the haversine formula allows at the square's widest latitude,
 * both with a margin against rounding. */
int sg__near_cells(const sg_weights *wt, sg__geo g, uint32_t *out)
{
    if (!g.has || wt->km <= 0 || wt->km_range <= 0) {
        return -1;
    }
    const double pi = 3.14159265358979323846, earth = 6371.0;
    double r = wt->km_range * 1.01 + 0.5; /* km */
    double dlat = r / earth * 180.0 / pi;
    double lat = g.lat_e6 / 1e6, lon = g.lon_e6 / 1e6;
    double widest = fabs(lat) + dlat;
    if (widest >= 89.0) {
        return -1;
    }
    double s = sin(r / (2.0 * earth)) / cos(widest * pi / 180.0);
    if (s >= 1.0) {
        return -1;
    }
    double dlon = 2.0 * asin(s) * 180.0 / pi;
    if (lon - dlon <= -180.0 || lon + dlon >= 180.0) {
        return -1;
    }
    uint32_t lo = sg__cell((int32_t)floor((lat - dlat) * 1e6),
                           (int32_t)floor((lon - dlon) * 1e6));
    uint32_t hi = sg__cell((int32_t)ceil((lat + dlat) * 1e6),
                           (int32_t)ceil((lon + dlon) * 1e6));
    int n = 0;
    for (uint32_t row = lo >> 16; row <= hi >> 16; row++) {
        for (uint32_t col = lo & 0xffff; col <= (hi & 0xffff); col++) {
            if (n == SG_MATCH_NEAR_MAX) {
                return -1;
            }
            out[n++] = row << 16 | col;
        }
    }
    return n;
}

/* first_near is the first of q's near cells (in their order) holding a
 * positioned site of job head h, or SG__CELL_NONE. */
static uint32_t first_near(const query *q, const sg__jhead *h)
{
    int best = q->nnear;
    for (int i = 0; i < h->nsites; i++) {
        if (!h->site_geo[i]) {
            continue;
        }
        uint32_t cell = sg__jhead_cell(h, i);
        for (int k = 0; k < best; k++) {
            if (q->near[k] == cell) {
                best = k;
                break;
            }
        }
    }
    return best < q->nnear ? q->near[best] : SG__CELL_NONE;
}

/* worker_near writes worker w's near cells into near: their count, or -1
 * when its outer rings are read whole (it does not travel that far, or
 * sg__near_cells gives none). */
static int worker_near(const sg_weights *wt, const sg__wview *w,
                       uint32_t *near)
{
    return w->travel >= SG_TRAVEL_CITY ? sg__near_cells(wt, w->geo, near)
                                       : -1;
}

/* tier_most: the most tier points of any tier from r out to travel.  A
 * pair is met in the ring of its nearest site, but another site, farther
 * and still within the travel, may give more points (weights need not
 * fall with the tier), so every bound of ring r takes these. */
static int32_t tier_most(const sg_weights *wt, int r, int travel)
{
    int32_t site = wt->tier[r];
    for (int t = r + 1; t <= travel; t++) {
        site = wt->tier[t] > site ? wt->tier[t] : site;
    }
    return site;
}

/* worker_passes orders the passes of worker w (its household zero or
 * not; nnear: its near cells, or -1). */
static size_t worker_passes(const sg_weights *wt, const sg__wview *w,
                            bool zero, int nnear, pass *out)
{
    int32_t prio =
        (w->category == SG_CAT_MONITORED && !w->risk_eliminated ? wt->risk
                                                                : 0) +
        (zero ? wt->zero_household : 0);
    int32_t base = max_base(wt, w->labor_class, -1, prio, wt->fresh);
    int32_t km = w->geo.has ? wt->km : 0;
    size_t n = 0;
    for (int r = 0; r <= w->travel; r++) {
        int32_t site = tier_most(wt, r, w->travel);
        bool far = nnear >= 0 && r >= SG_TRAVEL_CITY;
        out[n++] = (pass){base + site + (far ? 0 : km), (uint8_t)r, 0, 0, 0,
                          far ? PASS_FAR : PASS_RING, 0};
        if (far && r == SG_TRAVEL_CITY) {
            out[n++] = (pass){base + site + km, (uint8_t)r, 0, 0, 0,
                              PASS_NEAR, 0};
        }
    }
    qsort(out, n, sizeof(pass), cmp_pass);
    return n;
}

/* split_lists tells whether job j's workers are read split by the
 * preferred skills they hold (jv: j's view, its preferred skills sorted):
 * when none is required, so that the workers are read from the "all"
 * lists, and some are preferred.  Most of those workers hold none of
 * them and score the skill part's least, so their passes (list 0) bound
 * lower and are often never read; a worker who holds some is read from
 * the list of the first it holds (list 1 + that skill's index), where it
 * has at most the rest too. */
static bool split_lists(const sg_job *j, const sg__jview *jv)
{
    return j->nrequired == 0 && jv->npref > 0;
}

/* passes_alloc gives room for a job's passes (PASS_MAX: too many for
 * a thread's stack). */
static pass *passes_alloc(void)
{
    pass *ps = malloc(PASS_MAX * sizeof(pass));
    if (ps == NULL) {
        abort(); /* out of memory */
    }
    return ps;
}

/* job_passes orders the (ring, class, priority, list) ranges of job j's
 * workers (jv: its view). */
static size_t job_passes(const sg_weights *wt, const sg_job *j,
                         const sg__jview *jv, int32_t as_of, pass *out)
{
    int32_t fresh = freshness(wt, as_of, sg_time_date(j->posted));
    bool geo = false;
    for (size_t i = 0; i < j->nsites; i++) {
        geo = geo || j->sites[i].has_geo;
    }
    /* The lists, and the most skill points of each (the list's workers
     * hold at most the preferred skills from its own on). */
    bool split = split_lists(j, jv);
    sg_skill anchor = j->nrequired > 0 ? j->required[0] : 0;
    int nl = split ? 1 + jv->npref : 1;
    int32_t skill[PASS_LISTS];
    for (int l = 0; l < nl; l++) {
        int64_t held = !split ? jv->npref : l == 0 ? 0 : jv->npref - (l - 1);
        skill[l] = (int32_t)(wt->skill * (1 + held) / (1 + jv->npref));
    }
    size_t n = 0;
    for (int r = 0; r < SG_TRAVEL__COUNT; r++) {
        for (int c = 0; c < SG_LABOR__COUNT; c++) {
            if (!(j->labor_classes & (1u << c))) {
                continue;
            }
            for (int b = 0; b < PASS_BITS; b++) {
                int32_t prio = (b & 1 ? wt->risk : 0) +
                               (b & 2 ? wt->zero_household : 0);
                int32_t bound = max_base(wt, c, j->source, prio, fresh) -
                                wt->skill +
                                tier_most(wt, r, SG_TRAVEL__COUNT - 1) +
                                (geo && (b & 4) ? wt->km : 0);
                for (int l = 0; l < nl; l++) {
                    if (l > 1 && jv->pref[l - 1] == jv->pref[l - 2]) {
                        continue; /* one list per skill */
                    }
                    out[n++] = (pass){bound + skill[l], (uint8_t)r,
                                      (uint8_t)c, (uint8_t)b, (uint8_t)l,
                                      PASS_RING,
                                      l == 0 ? anchor : jv->pref[l - 1]};
                }
            }
        }
    }
    qsort(out, n, sizeof(pass), cmp_pass);
    return n;
}

/* The head bound: at least what worker w (zero as in score_pair) could
 * score with the job of head h -- every part at the most h allows, the
 * preferred skills all held: skill + wage + channel + priority +
 * freshness + head_site.  Below the K-th best, score_pair would drop the
 * pair too, so it is left packed (on_job_posting). */

/* head_site: the most proximity points a site of head h within w's
 * travel gives (-1: none is). */
static int32_t head_site(const sg_weights *wt, const sg__wview *w,
                         const sg__jhead *h)
{
    int32_t site = -1;
    for (int i = 0; i < h->nsites; i++) {
        if (h->tier[i] <= w->travel) {
            int32_t s = wt->tier[h->tier[i]] +
                        (w->geo.has && h->site_geo[i] ? wt->km : 0);
            site = s > site ? s : site;
        }
    }
    return site;
}

/* whead_bound is the head bound the other way: at least what the worker of
 * head h could score with job j (tiers[i]: to j's site i), with its skill
 * part exact (read off the head: most pairs a job's query reads fail on
 * it), or -1 when the worker lacks a required skill (score_pair drops the
 * pair). */
static int32_t whead_bound(const sg_weights *wt, const sg__jview *j,
                           int32_t as_of, const sg__whead *h,
                           const uint8_t *tiers, const sg_skill *sk,
                           size_t ns)
{
    if (!sg__skills_subset(j->req, j->nreq, sk, ns)) {
        return -1;
    }
    size_t matched = sg__skills_overlap(j->pref, j->npref, sk, ns);
    int32_t skill = (int32_t)(wt->skill * (1 + (int64_t)matched) /
                              (1 + j->npref));
    int32_t site = -1;
    for (int i = 0; i < j->nsites; i++) {
        if (tiers[i] <= h->travel) {
            int32_t s = wt->tier[tiers[i]] +
                        (h->geo && j->site_geo[i].has ? wt->km : 0);
            site = s > site ? s : site;
        }
    }
    return skill + wage_points(wt, h->expected_wage, j->wage_max) +
           wt->channel * wt->fit[h->labor_class][j->source] / 100 +
           priority(wt, h->category, h->risk_eliminated, h->zero) +
           freshness(wt, as_of, j->posted_date) + site;
}

/* pass_site: the most proximity points a job met in ring r can give
 * q's worker (tier_most to its travel), distance points included unless
 * km is false (a far pass). */
static int32_t pass_site(const query *q, int r, bool km)
{
    return tier_most(q->wt, r, q->w.travel) +
           (km && q->w.geo.has ? q->wt->km : 0);
}

/* stop_base: the most a job met in ring r could score with q's worker
 * but for the wage part: the best channel fit of any source, the most
 * freshness, and pass_site. */
static int32_t stop_base(const query *q, int r, bool km)
{
    int32_t fit = 0;
    for (int s = 0; s < SG_SOURCE__COUNT; s++) {
        fit = q->hb_fit[s] > fit ? q->hb_fit[s] : fit;
    }
    return q->hb_base + fit + q->wt->fresh + pass_site(q, r, km);
}

static int on_job_posting(void *arg, const uint8_t *p, size_t n)
{
    query *q = arg;
    q->top.looked++;
    q->ls.in_list++;
    const sg_match *kth = topk_floor(&q->top);
    if (kth != NULL && n >= 4 &&
        q->stop_base + wage_points(q->wt, q->w.expected_wage,
                                   sg__jview_wage(p)) <
            kth->score) {
        /* Neither this job nor any after it under this key (paid no
         * more) can enter the top K in this ring; those of inner rings
         * are met in their own. */
        return SG_WALK_NEXT;
    }
    /* The head bound: every part exact but proximity, the worker's parts
     * precomputed, first with the most proximity points a site of this
     * pass can give -- most entries fail here, their sites left unread
     * -- then with those of the job's own sites: the bound score_pair
     * tests, before the view is unpacked. */
    sg__jhead h;
    if (sg__jview_head_fixed(p, n, &h) != 0) {
        q->err = SG_ECORRUPT;
        return SG_ECORRUPT;
    }
    int32_t part = 0;
    if (kth != NULL) {
        part = q->hb_base + q->hb_fit[h.source] +
               wage_points(q->wt, q->w.expected_wage, h.wage_max) +
               freshness(q->wt, q->as_of, h.posted_date);
        if (h.npref > 0) {
            int64_t held = (int64_t)sg__jhead_held(&h, q->w.skills,
                                                   q->w.nskills);
            part += (int32_t)(q->wt->skill * (1 + held) / (1 + h.npref)) -
                    q->wt->skill;
        }
        if (part + q->site_most < kth->score) {
            return 0; /* cannot enter the top K (or not met here) */
        }
    }
    int ring = sg__jview_head_sites(p, n, q->w.region, &h);
    if (ring < 0) {
        q->err = SG_ECORRUPT;
        return SG_ECORRUPT;
    }
    if (q->kind == PASS_NEAR) {
        /* The outer rings' jobs with a positioned site near, each in the
         * list of the first near cell it has a site in. */
        if (ring < SG_TRAVEL_CITY || first_near(q, &h) != q->cell) {
            return 0;
        }
    } else if (ring != q->ring) {
        return 0; /* met (or to be met) in its own ring: left packed */
    } else if (q->kind == PASS_FAR && first_near(q, &h) != SG__CELL_NONE) {
        return 0; /* met in the near pass */
    }
    if (kth != NULL && part + head_site(q->wt, &q->w, &h) < kth->score) {
        return 0; /* cannot enter the top K */
    }
    cand *c = topk_spare(&q->top);
    if (sg__jview_unpack(p, n, &c->v.j) != 0) {
        q->err = SG_ECORRUPT;
        return SG_ECORRUPT;
    }
    if (score_pair(&q->w, &c->v.j, q->zero, h.tier, q->as_of, q->wt, kth,
                   &c->m)) {
        memcpy(c->m.id, c->v.j.id, sizeof(c->m.id));
        topk_offer(&q->top);
    }
    return 0;
}

static sg_weights default_weights;
static bool default_weights_set;

static const sg_weights *defaults(void)
{
    if (!default_weights_set) { /* idempotent, so a race is harmless */
        sg_weights w;
        sg_weights_default(&w);
        default_weights = w;
        default_weights_set = true;
    }
    return &default_weights;
}

/* list_begin / list_end keep the count of one list's entries. */
static void list_begin(lists *ls)
{
    ls->in_list = 0;
    if (ls->limits != NULL) {
        ls->limit = ls->n < ls->nlimits ? ls->limits[ls->n] : 0;
    }
}

static void list_end(lists *ls)
{
    if (ls->reads != NULL && ls->n < SG_MATCH_LISTS_MAX) {
        ls->reads[ls->n] = ls->in_list;
    }
    ls->n++;
}

/* worker_pass reads pass p of worker rec's jobs: for a ring (or a far
 * pass), the jobs posted at the prefix of the ring's length of its
 * village; for the near pass, those posted under each of the near cells
 * (nnear of them), telling *cell (when not NULL) which cell's list is
 * being read.  Either under "no required skill" and each skill it holds,
 * a list each. */
static int worker_pass(sg_txn *t, const sg_worker *rec, const pass *p,
                       const uint32_t *near, int nnear, uint32_t *cell,
                       sg_posting_cb cb, void *arg, lists *ls)
{
    int plen = sg_travel_prefix_len(p->ring), rc = 0;
    int ncells = p->kind == PASS_NEAR ? nnear : 1;
    for (int c = 0; rc == 0 && c < ncells; c++) {
        if (p->kind == PASS_NEAR && cell != NULL) {
            *cell = near[c];
        }
        for (int i = -1; rc == 0 && i < (int)rec->nskills; i++) {
            sg_skill anchor = i < 0 ? 0 : rec->skills[i];
            list_begin(ls);
            rc = p->kind == PASS_NEAR
                     ? sg_txn_job_cell(t, rec->labor_class, near[c], anchor,
                                       cb, arg)
                     : sg_txn_job_postings(t, rec->labor_class, rec->region,
                                           plen, anchor, cb, arg);
            list_end(ls);
        }
    }
    return rc;
}

int sg_match_worker(sg_txn *t, const char *id, const sg_match_opts *o,
                    sg_match_list *out)
{
    if (check_opts(o) != 0 || id == NULL || out == NULL) {
        return SG_EINVAL;
    }
    sg_worker rec;
    int rc = sg_txn_get_worker(t, id, &rec);
    return rc != 0 ? rc : sg_match_worker_rec(t, &rec, o, out);
}

int sg_match_worker_rec(sg_txn *t, const sg_worker *rec,
                        const sg_match_opts *o, sg_match_list *out)
{
    if (check_opts(o) != 0 || rec == NULL || out == NULL) {
        return SG_EINVAL;
    }
    query q;
    query_init(&q, t, o, defaults());
    sg__wview_of(rec, &q.w);
    bool employed = false;
    int rc = sg_txn_household_employed(t, rec->household, &employed);
    q.zero = !employed;
    q.hb_base = q.wt->skill + priority(q.wt, q.w.category,
                                       q.w.risk_eliminated, q.zero);
    for (int s = 0; s < SG_SOURCE__COUNT; s++) {
        q.hb_fit[s] = q.wt->channel * q.wt->fit[q.w.labor_class][s] / 100;
    }
    q.nnear = worker_near(q.wt, &q.w, q.near);
    pass ps[SG_TRAVEL__COUNT + 1];
    size_t np =
        rec->seeking ? worker_passes(q.wt, &q.w, q.zero, q.nnear, ps) : 0;
    uint32_t walked = 0;
    q.ls = (lists){.reads = out->reads};
    for (size_t i = 0; rc == 0 && i < np; i++) {
        if (pass_useless(&q.top, ps[i].bound)) {
            break; /* and every pass after it */
        }
        q.ring = ps[i].ring;
        q.kind = ps[i].kind;
        q.stop_base = stop_base(&q, ps[i].ring, ps[i].kind != PASS_FAR);
        q.site_most = pass_site(&q, ps[i].ring, ps[i].kind != PASS_FAR);
        rc = worker_pass(t, rec, &ps[i], q.near, q.nnear, &q.cell,
                         on_job_posting, &q, &q.ls);
        walked = (uint32_t)i + 1;
    }
    if (rc != 0) {
        topk_fini(&q.top);
        return rc;
    }
    query_finish(&q, true, out, NULL);
    out->walked = walked;
    out->nlists = q.ls.n < SG_MATCH_LISTS_MAX ? q.ls.n : SG_MATCH_LISTS_MAX;
    return 0;
}

static int on_worker_posting(void *arg, const uint8_t *p, size_t n)
{
    query *q = arg;
    sg__whead h;
    if (sg__wview_head(p, n, &h) != 0) {
        q->err = SG_ECORRUPT;
        return SG_ECORRUPT;
    }
    uint8_t tiers[SG_SITES_MAX];
    int ring = ring_of((const char *)h.region, &q->j, tiers);
    q->top.looked++;
    if (ring != q->ring) {
        return 0; /* met (or to be met) in its own ring: left packed */
    }
    sg_skill sk[SG_SKILLS_MAX];
    size_t ns = sg__whead_skills(&h, sk);
    if (q->split &&
        first_common(q->j.pref, q->j.npref, sk, ns) != q->list_skill) {
        return 0; /* met in the list of its first preferred skill */
    }
    const sg_match *kth = topk_floor(&q->top);
    if (kth != NULL &&
        whead_bound(q->wt, &q->j, q->as_of, &h, tiers, sk, ns) <
            kth->score) {
        return 0; /* cannot enter the top K: left packed */
    }
    cand *c = topk_spare(&q->top);
    if (sg__wview_unpack(p, n, &c->v.w) != 0) {
        q->err = SG_ECORRUPT;
        return SG_ECORRUPT;
    }
    /* Whether the household has nobody employed rides in the posting. */
    c->zero = c->v.w.zero;
    if (score_pair(&c->v.w, &q->j, c->zero, tiers, q->as_of, q->wt, kth,
                   &c->m)) {
        memcpy(c->m.id, c->v.w.id, sizeof(c->m.id));
        topk_offer(&q->top);
    }
    return 0;
}

/* job_ring reads ring r of job rec's workers of class c and priority
 * bits prio: for each travel willingness that reaches r and each site with
 * its own prefix at r's length, the workers living under that prefix but
 * not under the site's prefix of the ring before (they belong to that
 * ring).  Every worker holds the anchor skill, and anchor 0 is "all". */
static int job_ring(sg_txn *t, const sg_job *rec, const pass *p,
                    sg_posting_cb cb, void *arg)
{
    int r = p->ring;
    int plen = sg_travel_prefix_len(r);
    int skip = r > 0 ? sg_travel_prefix_len(r - 1) : 0;
    int rc = 0;
    for (int tr = r; rc == 0 && tr < SG_TRAVEL__COUNT; tr++) {
        for (size_t i = 0; rc == 0 && i < rec->nsites; i++) {
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++) {
                seen = memcmp(rec->sites[k].region, rec->sites[i].region,
                              (size_t)plen) == 0;
            }
            if (!seen) {
                rc = sg_txn_worker_range(t, p->cls, tr, p->skill, p->prio,
                                         rec->sites[i].region, plen, skip,
                                         cb, arg);
            }
        }
    }
    return rc;
}

int sg_match_job(sg_txn *t, const char *id, const sg_match_opts *o,
                 sg_match_list *out)
{
    if (check_opts(o) != 0 || id == NULL || out == NULL) {
        return SG_EINVAL;
    }
    sg_job rec;
    int rc = sg_txn_get_job(t, id, &rec);
    return rc != 0 ? rc : sg_match_job_rec(t, &rec, o, out);
}

int sg_match_job_rec(sg_txn *t, const sg_job *rec, const sg_match_opts *o,
                     sg_match_list *out)
{
    if (check_opts(o) != 0 || rec == NULL || out == NULL) {
        return SG_EINVAL;
    }
    return sg__match_job_rec(t, rec, o, out, NULL);
}

int sg__match_job_rec(sg_txn *t, const sg_job *rec, const sg_match_opts *o,
                      sg_match_list *out, sg__wview *views)
{
    if (check_opts(o) != 0 || rec == NULL || out == NULL) {
        return SG_EINVAL;
    }
    int rc = 0;
    query q;
    query_init(&q, t, o, defaults());
    sg__jview_of(rec, &q.j);
    bool live = rec->state == SG_JOB_OPEN && rec->openings > 0 &&
                (rec->ends == SG_DATE_NONE || rec->ends >= o->as_of);
    /* Every candidate holds every required skill, so the walk reads the
     * workers posted under the first one (or under "all", split by the
     * preferred skills they hold: split_lists). */
    pass *ps = passes_alloc();
    size_t np = live ? job_passes(q.wt, rec, &q.j, o->as_of, ps) : 0;
    q.split = split_lists(rec, &q.j);
    uint32_t walked = 0;
    for (size_t i = 0; rc == 0 && i < np; i++) {
        if (pass_useless(&q.top, ps[i].bound)) {
            break; /* and every pass after it */
        }
        q.ring = ps[i].ring;
        q.list_skill = ps[i].list == 0 ? 0 : ps[i].skill;
        rc = job_ring(t, rec, &ps[i], on_worker_posting, &q);
        walked = (uint32_t)i + 1;
    }
    free(ps);
    if (rc != 0) {
        topk_fini(&q.top);
        return rc;
    }
    query_finish(&q, false, out, views);
    out->walked = walked;
    out->nlists = 0;
    return 0;
}

void sg__match_job_reason_v(const sg_match *m, const sg__jview *j,
                            const sg__wview *w, char *out, size_t cap)
{
    sg_match tmp = *m;
    job_reason(&tmp, j, w);
    snprintf(out, cap, "%s", tmp.reason);
}

/* ---- The floor: the same index entries, read and not scored. ---- */

typedef struct floor_acc {
    size_t entries;   /* entries read */
    size_t sum;       /* of bytes read, so that the reads happen */
    lists ls;         /* how many to read of each list (limit: all) */
} floor_acc;
static volatile size_t floor_sink;

static int touch(void *arg, const uint8_t *p, size_t n)
{
    floor_acc *a = arg;
    a->entries++;
    a->sum += n + p[0] + p[n - 1];
    return ++a->ls.in_list < a->ls.limit ? 0 : SG_WALK_NEXT;
}

int sg_match_floor_worker(sg_txn *t, const sg_worker *w,
                          const sg_match_opts *o, const sg_match_list *l,
                          size_t *entries)
{
    if (check_opts(o) != 0 || l == NULL) {
        return SG_EINVAL;
    }
    const sg_weights *wt = o->w != NULL ? o->w : defaults();
    sg__wview v;
    sg__wview_of(w, &v);
    bool employed = false;
    int rc = sg_txn_household_employed(t, w->household, &employed);
    uint32_t near[SG_MATCH_NEAR_MAX];
    int nnear = worker_near(wt, &v, near);
    pass ps[SG_TRAVEL__COUNT + 1];
    size_t np = worker_passes(wt, &v, !employed, nnear, ps);
    floor_acc a = {.ls = {.limits = l->reads, .nlimits = l->nlists}};
    for (size_t i = 0; rc == 0 && i < l->walked && i < np; i++) {
        rc = worker_pass(t, w, &ps[i], near, nnear, NULL, touch, &a, &a.ls);
    }
    floor_sink = a.sum;
    *entries = a.entries;
    return rc;
}

int sg_match_floor_job(sg_txn *t, const sg_job *j, const sg_match_opts *o,
                       const sg_match_list *l, size_t *entries)
{
    if (check_opts(o) != 0 || l == NULL) {
        return SG_EINVAL;
    }
    const sg_weights *wt = o->w != NULL ? o->w : defaults();
    sg__jview jv;
    sg__jview_of(j, &jv);
    pass *ps = passes_alloc();
    size_t np = job_passes(wt, j, &jv, o->as_of, ps);
    floor_acc a = {.ls = {.limit = UINT32_MAX}};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l->walked && i < np; i++) {
        rc = job_ring(t, j, &ps[i], touch, &a);
    }
    free(ps);
    floor_sink = a.sum;
    *entries = a.entries;
    return rc;
}

void sg_match_list_free(sg_match_list *l)
{
    if (l == NULL) {
        return;
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

json_t *sg_match_to_jv(const sg_match *m, bool is_job)
{
    json_t *parts = json_object();
    for (int p = 0; p < SG_PART__COUNT; p++) {
        json_object_set_new(parts, part_names[p], json_integer(m->parts[p]));
    }
    json_t *o = json_object();
    json_object_set_new(o, is_job ? "job" : "worker", json_string(m->id));
    json_object_set_new(o, "score", json_integer(m->score));
    json_object_set_new(o, "parts", parts);
    json_object_set_new(o, "tier", json_string(sg_enum_name(SG_ENUM_TRAVEL,
                                                            m->tier)));
    json_object_set_new(o, "site", json_string(m->site));
    json_object_set_new(o, "km", m->has_km ? json_real(round(m->km * 10) / 10)
                                           : json_null());
    json_object_set_new(o, "reason", json_string(m->reason));
    return o;
}
