/* include/songgang/match.h -- ranked matching, both ways, top K.
 * A pair is eligible only when every hard filter holds (README "Matching");
 * its score is the sum of named integer parts, so results are exact and
 * reproducible.  Queries read the postings of the store (songgang/store.h):
 * their cost grows with the candidates they look at, not with the size of
 * the database.  Functions return 0 or a negative SG_E*. */
#ifndef SG_MATCH_H
#define SG_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "songgang/err.h"
#include "songgang/proto.h"
#include "songgang/store.h"

#define SG_MATCH_LIMIT_MAX 1000 /* top K at most */

/* The parts of a score, in output order. */
enum sg_part {
    SG_PART_SKILL,     /* preferred-skill overlap */
    SG_PART_PROXIMITY, /* tier points + distance points */
    SG_PART_WAGE,      /* wage against expectation */
    SG_PART_CHANNEL,   /* channel fit by labor class (分类管理) */
    SG_PART_PRIORITY,  /* monitored at risk; zero-employment household */
    SG_PART_FRESHNESS, /* recently posted */
    SG_PART__COUNT
};

/* sg_part_name returns the output name of part p ("skill", ...). */
const char *sg_part_name(int p);

/* sg_weights: every weight of the score, in points (see data/weights.conf
 * for the documented defaults and what each means). */
typedef struct sg_weights {
    int skill;                                      /* full preferred fit */
    int tier[SG_TRAVEL__COUNT];                     /* points per tier */
    int km;                                         /* points at 0 km */
    int km_range;                                   /* km where they end */
    int wage;                                       /* wage at >= 1.2x */
    int channel;                                    /* channel at 100% */
    uint8_t fit[SG_LABOR__COUNT][SG_SOURCE__COUNT]; /* percent */
    int risk;                                       /* monitored at risk */
    int zero_household;                             /* nobody employed */
    int fresh;                                      /* posted today */
    int fresh_days;                                 /* days to zero */
} sg_weights;

/* sg_weights_default fills w with the documented defaults. */
void sg_weights_default(sg_weights *w);
/* sg_weights_load reads `key = value` lines from path over *w (keys not
 * given keep their value): 0, SG_EIO or SG_EINVAL (e names the key). */
int sg_weights_load(sg_weights *w, const char *path, sg_error *e);

/* sg_match is one ranked result: a job (for a worker) or a worker (for a
 * job). */
typedef struct sg_match {
    char id[SG_ID_MAX + 1];         /* the job's or the worker's id */
    int32_t score;                  /* sum of parts */
    int32_t parts[SG_PART__COUNT];  /* each component */
    uint8_t tier;                   /* enum sg_travel of the site */
    char site[SG_REGION_LEN + 1];   /* nearest eligible site region */
    bool has_km;                    /* km is known */
    double km;                      /* distance to that site */
    char reason[256];               /* one line of Chinese */
} sg_match;

/* sg_match_opts: what a query asks for. */
typedef struct sg_match_opts {
    int32_t as_of;            /* "today" for every date rule (days) */
    int limit;                /* top K, 1..SG_MATCH_LIMIT_MAX */
    const sg_weights *w;      /* borrowed; NULL = defaults */
} sg_match_opts;

/* The posting lists a worker's query may read: per ring, and per cell
 * near it (at most SG_MATCH_NEAR_MAX, matcher/match.c), one per skill it
 * holds and one for "no skill required". */
#define SG_MATCH_NEAR_MAX 16
#define SG_MATCH_LISTS_MAX                                                    \
    ((SG_TRAVEL__COUNT + SG_MATCH_NEAR_MAX) * (SG_SKILLS_MAX + 1))

/* sg_match_list holds ranked results; free with sg_match_list_free. */
typedef struct sg_match_list {
    sg_match *items;    /* owned array, n entries, best first */
    size_t n;           /* results */
    size_t looked_at;   /* candidates read from the postings */
    /* What the walk read, for sg_match_floor_*: the index passes, and
     * (worker -> jobs, whose lists it may leave early) the entries it
     * read of each posting list, in walk order. */
    uint32_t walked;
    uint32_t nlists;
    uint32_t reads[SG_MATCH_LISTS_MAX];
} sg_match_list;
void sg_match_list_free(sg_match_list *l);

/* sg_match_worker ranks open jobs for worker id inside read transaction t
 * (borrowed).  On success *out is filled (owned by the caller); returns
 * SG_ENOTFOUND for an unknown worker and SG_EINVAL for bad options. */
int sg_match_worker(sg_txn *t, const char *id, const sg_match_opts *o,
                    sg_match_list *out);
/* sg_match_job ranks seeking workers for job id, likewise. */
int sg_match_job(sg_txn *t, const char *id, const sg_match_opts *o,
                 sg_match_list *out);

/* sg_match_worker_rec / sg_match_job_rec are the same queries for a record
 * the caller has already read (borrowed), such as the one a push has just
 * written in t: they skip reading and decoding it again.  The record is
 * ranked as given, so it must be the one stored in t for the result to be
 * what the by-id query gives.  SG_EINVAL for bad options or a NULL
 * argument. */
int sg_match_worker_rec(sg_txn *t, const sg_worker *w, const sg_match_opts *o,
                        sg_match_list *out);
int sg_match_job_rec(sg_txn *t, const sg_job *j, const sg_match_opts *o,
                     sg_match_list *out);

/* sg_match_floor_worker reads, in t, the very index entries that ranking
 * worker w's jobs with options o read (l, the list that ranking gave)
 * without decoding or scoring them -- the cost below which no query over
 * this index can go (bench/) -- and sets *entries to how many it read
 * (l's looked_at).  sg_match_floor_job is the same for job j's workers. */
int sg_match_floor_worker(sg_txn *t, const sg_worker *w,
                          const sg_match_opts *o, const sg_match_list *l,
                          size_t *entries);
int sg_match_floor_job(sg_txn *t, const sg_job *j, const sg_match_opts *o,
                       const sg_match_list *l, size_t *entries);

/* sg_match_job_reason writes into out (cap bytes) why job j suits worker w,
 * from the worker's side, for a result m of ranking that pair in either
 * direction: the line /matches shows ("同县 21.1公里 · 焊工 · 月薪4500-6500元
 * · 工业园区").  j and w are borrowed. */
void sg_match_job_reason(const sg_match *m, const sg_job *j,
                         const sg_worker *w, char *out, size_t cap);

/* sg_match_to_jv returns one result as a JSON object ({job|worker, score,
 * parts, tier, site, km, reason}), owned by the caller. */
struct json_t;
struct json_t *sg_match_to_jv(const sg_match *m, bool is_job);

#endif /* SG_MATCH_H */
