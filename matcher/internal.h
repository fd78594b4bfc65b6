/* matcher/internal.h -- private declarations shared by the matcher's files.
 * The compact views that posting values carry (view.c) are what a query
 * scores, so store_records.c writes them and match.c reads them; both go
 * through the functions here so the byte layout is written down in one
 * place.
 * The push rules (push.c) that api.c and the CLI run after a write are
 * here too. */
#ifndef SG_MATCHER_INTERNAL_H
#define SG_MATCHER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "songgang/proto.h"

#define SG__VIEW_MAX 480 /* LMDB's DUPSORT values are at most 511 bytes */

/* sg__geo is a position in micro-degrees, so that both ranking paths
 * compute the same distance from the same integers. */
typedef struct sg__geo {
    bool has;       /* known */
    int32_t lat_e6; /* degrees north * 1e6 */
    int32_t lon_e6; /* degrees east * 1e6 */
} sg__geo;

/* sg__jview: what ranking needs of a job. */
typedef struct sg__jview {
    char id[SG_ID_MAX + 1];               /* job id */
    uint8_t source;                       /* enum sg_source */
    uint8_t classes;                      /* labor class bits */
    int32_t starts;                       /* days or SG_DATE_NONE */
    int32_t ends;                         /* days or SG_DATE_NONE */
    int32_t wage_min;                     /* yuan/month */
    int32_t wage_max;                     /* yuan/month */
    int32_t posted_date;                  /* Asia/Shanghai date */
    uint8_t nreq;                         /* required skills */
    sg_skill req[SG_REQ_SKILLS_MAX];      /* sorted ascending */
    uint8_t npref;                        /* preferred skills */
    sg_skill pref[SG_REQ_SKILLS_MAX];     /* sorted ascending */
    uint8_t nsites;                       /* 1..SG_SITES_MAX */
    char site[SG_SITES_MAX][SG_REGION_LEN + 1]; /* site regions */
    sg__geo site_geo[SG_SITES_MAX];       /* site positions */
} sg__jview;

/* sg__wview: what ranking needs of a worker. */
typedef struct sg__wview {
    char id[SG_ID_MAX + 1];         /* worker id */
    char household[SG_ID_MAX + 1];  /* household id */
    char region[SG_REGION_LEN + 1]; /* village code */
    sg__geo geo;                    /* position */
    uint8_t labor_class;            /* enum sg_labor_class */
    uint8_t travel;                 /* enum sg_travel */
    uint8_t category;               /* enum sg_category */
    bool risk_eliminated;           /* monitored: risk gone */
    bool zero;                      /* household: nobody employed */
    uint8_t nskills;                /* held skills */
    sg_skill skills[SG_SKILLS_MAX]; /* sorted ascending */
    int32_t expected_wage;          /* yuan/month */
    int32_t available_from;         /* days or SG_DATE_NONE */
    int32_t available_to;           /* days or SG_DATE_NONE */
} sg__wview;

/* Cells: squares of SG__CELL_E6 micro-degrees.  A job is also posted
 * under the cell of each of its positioned sites (store_records.c), so
 * that a worker's query reads the jobs of the outer rings that may be near
 * it (distance points) apart from those that cannot be (match.c). */
#define SG__CELL_E6 500000 /* half a degree: ~55 km north-south */
#define SG__CELL_NONE UINT32_MAX

/* sg__cell is the cell of position g (known): row << 16 | column. */
static inline uint32_t sg__cell(int32_t lat_e6, int32_t lon_e6)
{
    uint32_t row = (uint32_t)(((int64_t)lat_e6 + 90000000) / SG__CELL_E6);
    uint32_t col = (uint32_t)(((int64_t)lon_e6 + 180000000) / SG__CELL_E6);
    return row << 16 | col;
}

/* sg__geo_of converts degrees (already rounded to 1e-6) to micro-degrees. */
sg__geo sg__geo_of(bool has, double lat, double lon);

/* sg__jview_of / sg__wview_of build a view from a record. */
void sg__jview_of(const sg_job *j, sg__jview *v);
void sg__wview_of(const sg_worker *w, sg__wview *v);

/* sg__jview_pack / sg__wview_pack write a view's bytes into buf (at least
 * SG__VIEW_MAX) and return their length.  The bytes begin with the id's
 * length and the id, so every index value names its owner. */
size_t sg__jview_pack(const sg__jview *v, uint8_t *buf);
size_t sg__wview_pack(const sg__wview *v, uint8_t *buf);
/* sg__jview_unpack / sg__wview_unpack read them back: 0 or SG_ECORRUPT. */
int sg__jview_unpack(const uint8_t *p, size_t n, sg__jview *v);
int sg__wview_unpack(const uint8_t *p, size_t n, sg__wview *v);

/* sg__tier is sg_region_tier(a, b) inline, for the per-candidate paths:
 * the tier of the longest common prefix of two village codes, up to
 * SG_REGION_LEN bytes or a NUL in a.  Both must have SG_REGION_LEN bytes
 * to read (a view's or record's region field): on little-endian machines
 * it compares 8 and then 4 bytes at a time (a worker's query tiers every
 * site it reads), elsewhere a byte at a time; match_test checks it
 * against sg_region_tier. */
static inline int sg__tier(const char *a, const char *b)
{
    static const uint8_t by_len[SG_REGION_LEN + 1] = {
        SG_TRAVEL_ANY,      SG_TRAVEL_ANY,      SG_TRAVEL_PROVINCE,
        SG_TRAVEL_PROVINCE, SG_TRAVEL_CITY,     SG_TRAVEL_CITY,
        SG_TRAVEL_COUNTY,   SG_TRAVEL_COUNTY,   SG_TRAVEL_COUNTY,
        SG_TRAVEL_TOWNSHIP, SG_TRAVEL_TOWNSHIP, SG_TRAVEL_TOWNSHIP,
        SG_TRAVEL_VILLAGE,
    };
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* A byte stops the prefix where it differs or a has its NUL: the
     * lowest such byte is the lowest set one of m (the zero-byte test is
     * exact for the lowest zero byte). */
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    uint64_t m = (x ^ y) | ((x - 0x0101010101010101u) & ~x &
                            0x8080808080808080u);
    if (m != 0) {
        return by_len[__builtin_ctzll(m) / 8];
    }
    uint32_t u, v;
    memcpy(&u, a + 8, 4);
    memcpy(&v, b + 8, 4);
    uint32_t n = (u ^ v) | ((u - 0x01010101u) & ~u & 0x80808080u);
    return by_len[n != 0 ? 8 + __builtin_ctz(n) / 8 : SG_REGION_LEN];
#else
    size_t i = 0;
    while (i < SG_REGION_LEN && a[i] != '\0' && a[i] == b[i]) {
        i++;
    }
    return by_len[i];
#endif
}

/* sg__jhead: the few fields of a packed job view that bound what a pair
 * could score, read without unpacking the rest. */
typedef struct sg__jhead {
    uint8_t source;                /* enum sg_source */
    uint8_t nsites;                /* sites */
    int32_t wage_max;              /* yuan/month */
    int32_t posted_date;           /* Asia/Shanghai date */
    uint8_t tier[SG_SITES_MAX];    /* tier from the home village to each site */
    bool site_geo[SG_SITES_MAX];   /* the site's position is known */
    const uint8_t *site_pos[SG_SITES_MAX]; /* ... and then its packed
                                            * latitude, longitude (e6) */
    uint8_t npref;                 /* preferred skills ... */
    const uint8_t *pref;           /* ... packed, sorted (sg__jhead_held) */
    uint32_t sites;                /* offset of the first site */
} sg__jhead;

/* sg__view_id copies the id of a job view (job) or a worker view into id:
 * false when the bytes cannot hold one. */
bool sg__view_id(bool job, const uint8_t *p, size_t n,
                 char id[SG_ID_MAX + 1]);
/* sg__jview_wage reads the top wage from the key a job view begins with
 * (at least 4 bytes): a posting key's jobs come in its descending order.
 * Inline: a worker's query reads it first of every entry. */
static inline int32_t sg__jview_wage(const uint8_t *p)
{
    uint32_t k = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                 (uint32_t)p[2] << 8 | p[3];
    return (int32_t)(UINT32_MAX - k);
}

/* The head of a job view, checked as sg__jview_unpack checks the view and
 * read without unpacking the rest, in two steps: sg__jview_head_fixed
 * fills h's fixed part (source, wage, posted date, preferred skills; 0 or
 * SG_ECORRUPT), and sg__jview_head_sites its sites' tiers from home
 * village region, returning the nearest tier -- the ring a query meets
 * the pair in -- or SG_ECORRUPT.  A query reads the sites only of the
 * entries the fixed part leaves in the running, and skips the pairs of
 * other rings, and those that cannot enter its top K, on the head alone. */
int sg__jview_head_fixed(const uint8_t *p, size_t n, sg__jhead *h);
int sg__jview_head_sites(const uint8_t *p, size_t n, const char *region,
                         sg__jhead *h);
/* sg__jhead_held is how many of head h's preferred skills sorted list
 * skills (n) holds: the skill part of a pair, read off the head. */
size_t sg__jhead_held(const sg__jhead *h, const sg_skill *skills, size_t n);
/* sg__jhead_cell is the cell (sg__cell) of site i of head h, whose
 * position is known (read only by the passes that need it). */
uint32_t sg__jhead_cell(const sg__jhead *h, int i);
/* sg__whead: the fields of a packed worker view that bound what a pair
 * could score, read without unpacking the rest. */
typedef struct sg__whead {
    const uint8_t *region; /* village code: SG_REGION_LEN bytes, no NUL */
    bool geo;              /* position known */
    uint8_t labor_class;   /* enum sg_labor_class */
    uint8_t travel;        /* enum sg_travel */
    uint8_t category;      /* enum sg_category */
    bool risk_eliminated;  /* monitored: risk gone */
    bool zero;             /* household: nobody employed */
    int32_t expected_wage; /* yuan/month */
    const uint8_t *skills; /* held skills: a count, then 2 bytes each */
} sg__whead;

/* sg__wview_head checks a worker view's bytes p (n) as sg__wview_unpack
 * does and fills h from them without unpacking the rest: 0 or
 * SG_ECORRUPT. */
int sg__wview_head(const uint8_t *p, size_t n, sg__whead *h);
/* sg__whead_skills writes the skills of head h into out (SG_SKILLS_MAX)
 * and returns their count. */
size_t sg__whead_skills(const sg__whead *h, sg_skill *out);

/* sg__skills_subset tells whether sorted list a (na) is inside sorted b. */
bool sg__skills_subset(const sg_skill *a, size_t na, const sg_skill *b,
                       size_t nb);
/* sg__skills_overlap counts the common entries of two sorted lists. */
size_t sg__skills_overlap(const sg_skill *a, size_t na, const sg_skill *b,
                          size_t nb);

/* sg__ids is a growable list of ids, filled by sg__ids_add (an sg_id_cb
 * of songgang/store.h); free v when done. */
typedef struct sg__ids {
    char (*v)[SG_ID_MAX + 1]; /* owned array */
    size_t n;                 /* used */
    size_t cap;               /* allocated */
} sg__ids;
int sg__ids_add(void *arg, const char *id);

/* sg__km returns the great-circle distance in km between two positions. */
double sg__km(sg__geo a, sg__geo b);

/* ---- Ranking entry points for push.c (match.c). ---- */

struct sg_txn;
struct sg_match;
struct sg_match_opts;
struct sg_match_list;
struct sg_weights;

/* sg__near_cells writes into out (SG_MATCH_NEAR_MAX) the cells holding
 * every position nearer to g than wt's distance range and returns their
 * count, or -1 when the query does without them (match.c). */
int sg__near_cells(const struct sg_weights *wt, sg__geo g, uint32_t *out);

/* sg__match_job_rec is sg_match_job for a job already loaded (rec,
 * borrowed), as a push holds it.  When views is not NULL it receives,
 * for each result in order, the view of the worker it was scored from
 * (room for o->limit), so that a push needs no second read of each
 * recipient; the results' reasons are then left empty (a push tells the
 * worker the job's side, sg__match_job_reason_v).  Returns 0 or
 * SG_EINVAL / a store error. */
int sg__match_job_rec(struct sg_txn *t, const sg_job *rec,
                      const struct sg_match_opts *o,
                      struct sg_match_list *out, sg__wview *views);

/* sg__match_job_reason_v writes what sg_match_job_reason does, from the
 * views of the job and the worker. */
void sg__match_job_reason_v(const struct sg_match *m, const sg__jview *j,
                            const sg__wview *w, char *out, size_t cap);

/* ---- Push (push.c, docs/api.md "Push"). ---- */

struct sg_weights;

/* sg__push is the state of the pushes one request makes, in the write
 * transaction of its record writes. */
typedef struct sg__push {
    struct sg_txn *t;            /* the write transaction (borrowed) */
    int top;                     /* candidates pushed per job write */
    const struct sg_weights *w;  /* weights (borrowed); NULL = defaults */
    int32_t as_of;               /* "today" for the rankings */
    uint64_t last_seq;           /* highest seq appended; 0 = none yet */
} sg__push;

/* sg__push_job runs after job (borrowed) was written over old (its
 * previous value, borrowed; NULL when new).  An open job with openings
 * is ranked (top p->top) and each recipient gets a `match` event; whom
 * it reached before and no longer does gets `removed`; a job that is
 * closed or has no openings sends `removed` to everyone it reached.  The
 * pushed set follows.  A write that changed nothing pushes nothing. */
int sg__push_job(sg__push *p, const sg_job *old, const sg_job *job);

/* sg__push_worker runs after w was written over old (NULL when new): a
 * worker whose status changes to returned or idle gets a `list` event
 * with its fresh top 20. */
int sg__push_worker(sg__push *p, const sg_worker *old, const sg_worker *w);

/* ---- Test hooks (service.c). ---- */

/* sg__service_commit_faults is fault injection for tests: while it is
 * above zero, each group commit is abandoned as if LMDB had failed
 * (SG_EIO) and the count goes down by one.  Zero in production. */
extern _Atomic int sg__service_commit_faults;

/* sg__service_close_stall makes the closing of a service's sockets hang
 * while it is non-zero, as NNG 1.5.2's nng_close now and then does
 * (service.c, close_bounded): sg_service_close must return anyway.  Zero
 * in production. */
extern _Atomic int sg__service_close_stall;

/* ---- Scopes (auth.c). ---- */

/* sg__under tells whether region lies under prefix (a scope or a filter;
 * "" is everywhere); sg__job_under whether any site of j does. */
bool sg__under(const char *region, const char *prefix);
bool sg__job_under(const sg_job *j, const char *prefix);

#endif /* SG_MATCHER_INTERNAL_H */
