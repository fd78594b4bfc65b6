/* matcher/store_records.c -- workers and jobs: their records, the index
 * entries each implies (households, employed members, ID numbers, home
 * regions, postings), and the reads ranking is built on (postings, region
 * walks, counts).  Every entry is derived from one record by
 * sg__entries_of_worker() / sg__entries_of_job(); a record's old entries
 * are removed and its new ones added in the same write transaction as the
 * record, so indexes and records can never disagree; a record is refused
 * before anything of it is written, so a rejected one leaves nothing
 * behind.  Writes run where the write transaction
 * is (the service's writer thread, or the CLI); reads in any thread. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_int.h"

#define POST_KEY_LEN 16 /* 2 small numbers, 12 region bytes, 2 skill bytes */
#define WKEY_LEN 17     /* class, travel, skill (2), priority, village (12) */
#define WKEY_FIXED 5    /* the bytes before the village */


/* ---- Index entries, derived from one record. ---- */

/* post_key fills the 16-byte posting key: two small numbers, the region
 * prefix zero-padded to 12 bytes, and a skill id (big-endian, so keys of
 * one prefix sort together). */
static void post_key(uint8_t key[POST_KEY_LEN], int a, int b,
                     const char *prefix, int plen, sg_skill skill)
{
    memset(key, 0, POST_KEY_LEN);
    key[0] = (uint8_t)a;
    key[1] = (uint8_t)b;
    memcpy(key + 2, prefix, (size_t)plen);
    key[14] = (uint8_t)(skill >> 8);
    key[15] = (uint8_t)skill;
}

/* wpost_key fills a worker posting key: class, travel, skill (big-endian),
 * priority (bit 0: monitored and at risk; bit 1: household with nobody
 * employed; bit 2: has a position, so distance points are possible) and
 * the first plen digits of a village code, zero-padded: the keys of the
 * workers of one priority living under one prefix are one contiguous
 * range. */
static void wpost_key(uint8_t key[WKEY_LEN], int labor_class, int travel,
                      sg_skill skill, int prio, const char *region, int plen)
{
    memset(key, 0, WKEY_LEN);
    key[0] = (uint8_t)labor_class;
    key[1] = (uint8_t)travel;
    key[2] = (uint8_t)(skill >> 8);
    key[3] = (uint8_t)skill;
    key[4] = (uint8_t)prio;
    memcpy(key + WKEY_FIXED, region, (size_t)plen);
}


/* owner_of reads back a value written by owner_val: false when it is not
 * exactly [len][id]. */
static bool owner_of(const MDB_val *v, char id[SG_ID_MAX + 1])
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 1 || p[0] > SG_ID_MAX || p[0] + 1u != v->mv_size) {
        return false;
    }
    memcpy(id, p + 1, p[0]);
    id[p[0]] = '\0';
    return true;
}

/* sg__entries_of_worker: zero is whether w's household has nobody employed,
 * which its postings carry so that ranking needs no lookup per candidate
 * (kept true by refresh_household when a household's employment
 * changes). */
int sg__entries_of_worker(const sg_worker *w, bool zero, entry_cb cb,
                          void *arg)
{
    uint8_t val[SG__VIEW_MAX];
    size_t vl = owner_val(val, w->id);
    size_t hl = strlen(w->household);
    int rc = cb(arg, DB_HH, w->household, hl, val, vl);
    if (rc == 0 && sg_status_is_employed(w->status)) {
        rc = cb(arg, DB_HHE, w->household, hl, val, vl);
    }
    if (rc == 0 && w->has_idnum) {
        rc = cb(arg, DB_IDNUM, w->idnum_hash, SG_IDNUM_HASH_LEN, val, vl);
    }
    if (rc == 0) {
        rc = cb(arg, DB_WREGION, w->region, SG_REGION_LEN, val, vl);
    }
    if (rc != 0 || !w->seeking) {
        return rc;
    }
    /* A seeking worker is posted once under "all" (skill 0) and once per
     * skill, keyed by its travel willingness and its home village, so that
     * the workers near a site form contiguous key ranges. */
    sg__wview view;
    sg__wview_of(w, &view);
    view.zero = zero;
    vl = sg__wview_pack(&view, val);
    int prio = (w->category == SG_CAT_MONITORED && !w->risk_eliminated) |
               (zero ? 2 : 0) | (view.geo.has ? 4 : 0);
    uint8_t key[WKEY_LEN];
    for (int i = -1; i < (int)w->nskills && rc == 0; i++) {
        wpost_key(key, w->labor_class, w->travel, i < 0 ? 0 : w->skills[i],
                  prio, w->region, SG_REGION_LEN);
        rc = cb(arg, DB_WPOST, key, sizeof(key), val, vl);
    }
    return rc;
}

/* cell_key fills the posting key of the jobs of labor class c with a
 * positioned site in cell (sg__cell) posted under anchor: the plen byte
 * CELL_PLEN, which no region prefix has, then the cell (big-endian). */
#define CELL_PLEN 0xff
static void cell_key(uint8_t key[POST_KEY_LEN], int c, uint32_t cell,
                     sg_skill anchor)
{
    memset(key, 0, POST_KEY_LEN);
    key[0] = (uint8_t)c;
    key[1] = CELL_PLEN;
    key[2] = (uint8_t)(cell >> 24);
    key[3] = (uint8_t)(cell >> 16);
    key[4] = (uint8_t)(cell >> 8);
    key[5] = (uint8_t)cell;
    key[14] = (uint8_t)(anchor >> 8);
    key[15] = (uint8_t)anchor;
}

static const int levels[] = {SG_LEVEL_VILLAGE, SG_LEVEL_TOWNSHIP,
                             SG_LEVEL_COUNTY,  SG_LEVEL_CITY,
                             SG_LEVEL_PROVINCE, 0};

int sg__entries_of_job(const sg_job *j, entry_cb cb, void *arg)
{
    if (j->state != SG_JOB_OPEN || j->openings <= 0) {
        return 0; /* only open jobs with openings are posted */
    }
    /* A job is posted under one anchor: its first required skill (or none),
     * so a worker finds it by probing its own skills and "none". */
    sg_skill anchor = j->nrequired > 0 ? j->required[0] : 0;
    sg__jview view;
    sg__jview_of(j, &view);
    uint8_t val[SG__VIEW_MAX];
    size_t vl = sg__jview_pack(&view, val);
    uint8_t key[POST_KEY_LEN];
    int rc = 0;
    for (int c = 0; c < SG_LABOR__COUNT && rc == 0; c++) {
        if (!(j->labor_classes & (1u << c))) {
            continue;
        }
        for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
            int plen = levels[l];
            for (size_t i = 0; i < j->nsites && rc == 0; i++) {
                bool seen = false; /* sites sharing this prefix post once */
                for (size_t k = 0; k < i && !seen; k++) {
                    seen = memcmp(j->sites[k].region, j->sites[i].region,
                                  (size_t)plen) == 0;
                }
                if (!seen) {
                    post_key(key, c, plen, j->sites[i].region, plen, anchor);
                    rc = cb(arg, DB_JPOST, key, sizeof(key), val, vl);
                }
            }
        }
        /* And under the cell of each positioned site, once a cell. */
        for (size_t i = 0; i < view.nsites && rc == 0; i++) {
            if (!view.site_geo[i].has) {
                continue;
            }
            uint32_t cell = sg__cell(view.site_geo[i].lat_e6,
                                     view.site_geo[i].lon_e6);
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++) {
                seen = view.site_geo[k].has &&
                       sg__cell(view.site_geo[k].lat_e6,
                                view.site_geo[k].lon_e6) == cell;
            }
            if (!seen) {
                cell_key(key, c, cell, anchor);
                rc = cb(arg, DB_JPOST, key, sizeof(key), val, vl);
            }
        }
    }
    return rc;
}

/* ---- Writing. ---- */

static int get_raw(sg_txn *t, int db, const char *id, MDB_val *v)
{
    MDB_val k = {strlen(id), (void *)id};
    return sg__err_mdb(mdb_get(t->txn, t->s->dbi[db], &k, v));
}

static int put_raw(sg_txn *t, int db, const char *id, const sg_buf *b)
{
    MDB_val k = {strlen(id), (void *)id}, v = {b->len, b->data};
    return sg__err_mdb(mdb_put(t->txn, t->s->dbi[db], &k, &v, 0));
}

/* sg__hh_zero tells whether household hh has nobody employed now. */
int sg__hh_zero(sg_txn *t, const char *hh, bool *zero)
{
    bool any = false;
    int rc = sg_txn_household_employed(t, hh, &any);
    *zero = !any;
    return rc;
}

/* del_posting / sg__add_posting: only the posting entries a record implies. */
static int del_posting(void *arg, int db, const void *k, size_t kl,
                       const void *v, size_t vl)
{
    return db == DB_JPOST || db == DB_WPOST
               ? sg__del_entry(arg, db, k, kl, v, vl)
               : 0;
}
int sg__add_posting(void *arg, int db, const void *k, size_t kl,
                    const void *v, size_t vl)
{
    return db == DB_JPOST || db == DB_WPOST
               ? sg__add_entry(arg, db, k, kl, v, vl)
               : 0;
}

/* refresh_household rewrites the postings of the members of household hh
 * (but skip, just written) when whether nobody in it is employed is no
 * longer was_zero. */
static int refresh_household(sg_txn *t, const char *hh, bool was_zero,
                             const char *skip)
{
    bool zero;
    int rc = sg__hh_zero(t, hh, &zero);
    if (rc != 0 || zero == was_zero) {
        return rc;
    }
    sg__ids members = {0};
    rc = sg__each_owner(t, DB_HH, hh, strlen(hh), false, sg__ids_add, &members);
    for (size_t i = 0; rc == 0 && i < members.n; i++) {
        sg_worker m;
        if (strcmp(members.v[i], skip) == 0) {
            continue;
        }
        rc = sg_txn_get_worker(t, members.v[i], &m);
        if (rc == 0 && m.seeking) {
            rc = sg__entries_of_worker(&m, was_zero, del_posting, t);
            if (rc == 0) {
                rc = sg__entries_of_worker(&m, zero, sg__add_posting, t);
            }
        }
    }
    free(members.v);
    return rc;
}

/* ---- Rewriting a record's entries: only those that change. ----
 * A record's entries are collected before and after, and only the old
 * ones the new record no longer implies are deleted and only the new ones
 * it did not imply are added: an update that moves one posting leaves its
 * household, ID number and region entries, and the pages under them,
 * untouched (at the province, deleting and re-adding them all dirtied
 * thousands of pages a group). */

typedef struct ent {
    int db;
    size_t k, kl, v, vl; /* offsets and lengths in the set's bytes */
} ent;

typedef struct ents {
    ent *e;
    size_t n, cap;
    uint8_t *b;
    size_t bl, bcap;
} ents;

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return p;
    }
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        c *= 2;
    }
    p = realloc(p, c * size);
    if (p == NULL) {
        abort(); /* out of memory */
    }
    *cap = c;
    return p;
}

static int collect(void *arg, int db, const void *k, size_t kl,
                   const void *v, size_t vl)
{
    ents *s = arg;
    s->e = grow(s->e, &s->cap, s->n + 1, sizeof(ent));
    s->b = grow(s->b, &s->bcap, s->bl + kl + vl, 1);
    s->e[s->n++] = (ent){db, s->bl, kl, s->bl + kl, vl};
    memcpy(s->b + s->bl, k, kl);
    memcpy(s->b + s->bl + kl, v, vl);
    s->bl += kl + vl;
    return 0;
}

static void ents_free(ents *s)
{
    free(s->e);
    free(s->b);
}

static bool ent_eq(const ents *a, size_t i, const ents *b, size_t j)
{
    const ent *x = &a->e[i], *y = &b->e[j];
    return x->db == y->db && x->kl == y->kl && x->vl == y->vl &&
           memcmp(a->b + x->k, b->b + y->k, x->kl + x->vl) == 0;
}

/* has tells whether set a holds entry j of set b; sets of one kind of
 * record come in one order, so the same place is tried first. */
static bool has(const ents *a, const ents *b, size_t j)
{
    if (j < a->n && ent_eq(a, j, b, j)) {
        return true;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (ent_eq(a, i, b, j)) {
            return true;
        }
    }
    return false;
}

/* present tells whether entry (db, k, v) is stored. */
static int present(sg_txn *t, int db, const void *k, size_t kl,
                   const void *v, size_t vl, bool *yes)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    if (db_dup[db]) {
        rc = mdb_cursor_get(c, &key, &val, MDB_GET_BOTH);
        *yes = rc == 0;
    } else {
        rc = mdb_cursor_get(c, &key, &val, MDB_SET_KEY);
        *yes = rc == 0 && val.mv_size == vl && memcmp(val.mv_data, v, vl) == 0;
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* rewrite deletes the entries of old that nw lacks, then adds those of nw
 * that old lacked; an entry both imply is only looked up, and written
 * again if it is missing (a store damaged before heals when its records
 * are written, as it did when every entry was rewritten). */
static int rewrite(sg_txn *t, const ents *old, const ents *nw)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < old->n; i++) {
        const ent *x = &old->e[i];
        if (!has(nw, old, i)) {
            rc = sg__del_entry(t, x->db, old->b + x->k, x->kl, old->b + x->v,
                               x->vl);
        }
    }
    for (size_t j = 0; rc == 0 && j < nw->n; j++) {
        const ent *y = &nw->e[j];
        const void *k = nw->b + y->k, *v = nw->b + y->v;
        bool there = false;
        if (has(old, nw, j)) {
            rc = present(t, y->db, k, y->kl, v, y->vl, &there);
        }
        if (rc == 0 && !there) {
            rc = sg__add_entry(t, y->db, k, y->kl, v, y->vl);
        }
    }
    return rc;
}

/* others_employed tells whether a worker of household hh other than id
 * is employed (its entries as stored). */
typedef struct other {
    const char *id;
    bool any;
} other;

static int is_other(void *arg, const char *id)
{
    other *o = arg;
    o->any = strcmp(id, o->id) != 0;
    return o->any; /* the first other one ends the walk */
}

static int others_employed(sg_txn *t, const char *hh, const char *id,
                           bool *any)
{
    other o = {id, false};
    int rc = sg__each_owner(t, DB_HHE, hh, strlen(hh), false, is_other, &o);
    *any = o.any;
    return rc == 1 ? 0 : rc;
}

/* store_error makes an error met after a put began writing the store's:
 * EEXIST there (an index entry already present) means the indexes were
 * already wrong, and no caller may take it for the record's fault and
 * go on with part of the record written. */
static int store_error(int rc)
{
    return rc == SG_EEXIST || rc == SG_EINVAL ? SG_ECORRUPT : rc;
}

/* idnum_taken tells whether a worker other than w holds w's ID number
 * (an ID number has one owner: its entry is not a duplicate list). */
static int idnum_taken(sg_txn *t, const sg_worker *w, bool *taken)
{
    MDB_val k = {SG_IDNUM_HASH_LEN, (void *)w->idnum_hash}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_IDNUM], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *taken = false;
        return 0;
    }
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    char id[SG_ID_MAX + 1];
    if (!owner_of(&v, id)) {
        return SG_ECORRUPT;
    }
    *taken = strcmp(id, w->id) != 0;
    return 0;
}

static int put_worker(sg_txn *t, const void *rec, sg_error *e)
{
    const sg_worker *w = rec;
    sg_buf b;
    sg_buf_init(&b);
    sg_worker_encode(w, &b);
    MDB_val old;
    int rc = get_raw(t, DB_WORKERS, w->id, &old);
    if (rc == 0 && old.mv_size == b.len && !memcmp(old.mv_data, b.data, b.len)) {
        sg_buf_free(&b); /* unchanged: nothing to write */
        return 0;
    }
    sg_worker ow;
    bool had = rc == 0, old_zero = false;
    if (had) {
        rc = sg_worker_decode(old.mv_data, old.mv_size, NULL, &ow, NULL);
        if (rc == 0) {
            rc = sg__hh_zero(t, ow.household, &old_zero);
        } else {
            rc = SG_ECORRUPT;
        }
    } else if (rc == SG_ENOTFOUND) {
        rc = 0;
    }
    /* The one way a valid record is refused, checked before anything is
     * written: then a refusal leaves t as it was without a nested
     * transaction. */
    bool taken = false;
    if (rc == 0 && w->has_idnum) {
        rc = idnum_taken(t, w, &taken);
    }
    if (rc == 0 && taken) {
        sg_buf_free(&b);
        return sg_error_set(e, SG_EEXIST, "id_number",
                            "already registered to another worker");
    }
    /* Whether the others of w's household are all without work, and so
     * whether the household is after this write. */
    bool others = false;
    if (rc == 0) {
        rc = others_employed(t, w->household, w->id, &others);
    }
    bool others_zero = !others;
    ents olde = {0}, newe = {0};
    if (rc == 0 && had) {
        rc = sg__entries_of_worker(&ow, old_zero, collect, &olde);
    }
    if (rc == 0) {
        rc = put_raw(t, DB_WORKERS, w->id, &b);
    }
    if (rc == 0) {
        rc = sg__entries_of_worker(
            w, others_zero && !sg_status_is_employed(w->status), collect,
            &newe);
    }
    if (rc == 0) {
        rc = rewrite(t, &olde, &newe);
    }
    ents_free(&olde);
    ents_free(&newe);
    bool same_hh = had && strcmp(ow.household, w->household) == 0;
    if (rc == 0 && had && !same_hh) {
        rc = refresh_household(t, ow.household, old_zero, w->id);
    }
    if (rc == 0) {
        rc = refresh_household(t, w->household,
                               same_hh ? old_zero : others_zero, w->id);
    }
    sg_buf_free(&b);
    return store_error(rc);
}

static int put_job(sg_txn *t, const void *rec, sg_error *e)
{
    const sg_job *j = rec;
    (void)e;
    sg_buf b;
    sg_buf_init(&b);
    sg_job_encode(j, &b);
    MDB_val old;
    int rc = get_raw(t, DB_JOBS, j->id, &old);
    if (rc == 0 && old.mv_size == b.len && !memcmp(old.mv_data, b.data, b.len)) {
        sg_buf_free(&b);
        return 0;
    }
    ents olde = {0}, newe = {0};
    if (rc == 0) {
        sg_job oj;
        rc = sg_job_decode(old.mv_data, old.mv_size, &oj, NULL);
        rc = rc == 0 ? sg__entries_of_job(&oj, collect, &olde) : SG_ECORRUPT;
    } else if (rc == SG_ENOTFOUND) {
        rc = 0;
    }
    if (rc == 0) {
        rc = put_raw(t, DB_JOBS, j->id, &b);
    }
    if (rc == 0) {
        rc = sg__entries_of_job(j, collect, &newe);
    }
    if (rc == 0) {
        rc = rewrite(t, &olde, &newe);
    }
    ents_free(&olde);
    ents_free(&newe);
    sg_buf_free(&b);
    return rc;
}

/* The puts write straight into t: a nested transaction per put copied
 * every page t had already dirtied, which cost more than the put.  A
 * record is refused (SG_EINVAL, SG_EEXIST) before anything of it is
 * written; every later error is the store's, and t must be aborted. */
int sg_txn_put_worker(sg_txn *t, const sg_worker *w, sg_error *e)
{
    if (!t->write) {
        return SG_EINVAL;
    }
    int rc = sg_worker_validate(w, e);
    if (rc == 0) {
        rc = put_worker(t, w, e);
    }
    return rc;
}

int sg_txn_put_job(sg_txn *t, const sg_job *j, sg_error *e)
{
    if (!t->write) {
        return SG_EINVAL;
    }
    int rc = sg_job_validate(j, e);
    return rc != 0 ? rc : store_error(put_job(t, j, e));
}

/* ---- Reading. ---- */

int sg_txn_get_worker(sg_txn *t, const char *id, sg_worker *out)
{
    MDB_val v;
    int rc = get_raw(t, DB_WORKERS, id, &v);
    if (rc != 0) {
        return rc;
    }
    return sg_worker_decode(v.mv_data, v.mv_size, NULL, out, NULL) == 0
               ? 0
               : SG_ECORRUPT;
}

int sg_txn_get_job(sg_txn *t, const char *id, sg_job *out)
{
    MDB_val v;
    int rc = get_raw(t, DB_JOBS, id, &v);
    if (rc != 0) {
        return rc;
    }
    return sg_job_decode(v.mv_data, v.mv_size, out, NULL) == 0 ? 0
                                                               : SG_ECORRUPT;
}

static int del_worker(sg_txn *t, const void *rec, sg_error *e)
{
    (void)e;
    sg_worker w;
    bool was_zero = false;
    int rc = sg_txn_get_worker(t, rec, &w);
    if (rc == 0) {
        rc = sg__hh_zero(t, w.household, &was_zero);
    }
    if (rc == 0) {
        rc = sg__entries_of_worker(&w, was_zero, sg__del_entry, t);
    }
    if (rc == 0) {
        MDB_val k = {strlen(w.id), w.id};
        rc = sg__err_mdb(mdb_del(t->txn, t->s->dbi[DB_WORKERS], &k, NULL));
    }
    if (rc == 0) {
        rc = refresh_household(t, w.household, was_zero, w.id);
    }
    return rc;
}

static int del_job(sg_txn *t, const void *rec, sg_error *e)
{
    (void)e;
    sg_job j;
    int rc = sg_txn_get_job(t, rec, &j);
    if (rc == 0) {
        rc = sg__entries_of_job(&j, sg__del_entry, t);
    }
    if (rc == 0) {
        MDB_val k = {strlen(j.id), j.id};
        rc = sg__err_mdb(mdb_del(t->txn, t->s->dbi[DB_JOBS], &k, NULL));
    }
    if (rc == 0) {
        rc = sg_txn_pushed_clear(t, j.id); /* nobody is left to tell */
    }
    return rc;
}

int sg_txn_del_worker(sg_txn *t, const char *id)
{
    return sg__nested(t, del_worker, id, NULL);
}

int sg_txn_del_job(sg_txn *t, const char *id)
{
    return sg__nested(t, del_job, id, NULL);
}

int sg_txn_close_job(sg_txn *t, const char *id)
{
    sg_job j;
    int rc = sg_txn_get_job(t, id, &j);
    if (rc != 0 || j.state == SG_JOB_CLOSED) {
        return rc;
    }
    j.state = SG_JOB_CLOSED;
    return sg_txn_put_job(t, &j, NULL);
}

/* each_record walks a primary database in key order. */
static int each_record(sg_txn *t, int db,
                       int (*fn)(void *, const MDB_val *), void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val k, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        ret = fn(arg, &v);
    }
    mdb_cursor_close(c);
    if (ret != 0) {
        return ret;
    }
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

typedef struct each_ctx {
    sg_worker_cb wcb; /* for workers */
    sg_job_cb jcb;    /* for jobs */
    void *arg;        /* the caller's */
} each_ctx;

static int each_worker_fn(void *arg, const MDB_val *v)
{
    each_ctx *c = arg;
    sg_worker w;
    if (sg_worker_decode(v->mv_data, v->mv_size, NULL, &w, NULL) != 0) {
        return SG_ECORRUPT;
    }
    return c->wcb(c->arg, &w);
}

static int each_job_fn(void *arg, const MDB_val *v)
{
    each_ctx *c = arg;
    sg_job j;
    if (sg_job_decode(v->mv_data, v->mv_size, &j, NULL) != 0) {
        return SG_ECORRUPT;
    }
    return c->jcb(c->arg, &j);
}

int sg_txn_each_worker(sg_txn *t, sg_worker_cb cb, void *arg)
{
    each_ctx c = {cb, NULL, arg};
    return each_record(t, DB_WORKERS, each_worker_fn, &c);
}

int sg_txn_each_job(sg_txn *t, sg_job_cb cb, void *arg)
{
    each_ctx c = {NULL, cb, arg};
    return each_record(t, DB_JOBS, each_job_fn, &c);
}

int sg_txn_household_employed(sg_txn *t, const char *hh, bool *any)
{
    /* mdb_get on a DUPSORT database finds the first member, if any: no
     * cursor needed on this per-candidate path. */
    MDB_val k = {strlen(hh), (void *)hh}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_HHE], &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return sg__err_mdb(rc);
    }
    *any = rc == 0;
    return 0;
}

int sg_txn_counts(sg_txn *t, size_t *workers, size_t *jobs)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dbi[DB_WORKERS], &st);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    *workers = st.ms_entries;
    rc = mdb_stat(t->txn, t->s->dbi[DB_JOBS], &st);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    *jobs = st.ms_entries;
    return 0;
}

/* ---- Postings. ---- */

/* post_cursor gives a cursor on posting index db (DB_JPOST or DB_WPOST)
 * for one walk, to be handed back to post_done.  The transaction keeps
 * one per index and reuses it: a query makes dozens of walks over nearby
 * keys, and LMDB searches an already positioned cursor's leaf first, so
 * the next seek skips the descent from the root and the page misses on
 * the way.  A write transaction's cursor stays valid across its writes
 * (LMDB moves the cursors of a write transaction along when it splits,
 * merges or frees their pages, and a nested transaction's end hands them
 * back to the parent); each walk positions it afresh.  Only inside
 * sg__nested, whose child transaction stands in for t's own, is a cursor
 * opened per walk. */
static int post_cursor(sg_txn *t, int db, MDB_cursor **c)
{
    MDB_cursor **slot = &t->post[db == DB_WPOST];
    bool keep = t->txn == t->own;
    if (keep && *slot != NULL) {
        *c = *slot;
        return 0;
    }
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    if (keep) {
        *slot = *c;
    }
    return 0;
}

static void post_done(sg_txn *t, MDB_cursor *c)
{
    if (c != t->post[0] && c != t->post[1]) {
        mdb_cursor_close(c);
    }
}

static int walk_dups(sg_txn *t, int db, const uint8_t key[POST_KEY_LEN],
                     sg_posting_cb cb, void *arg)
{
    MDB_cursor *c;
    int rc = post_cursor(t, db, &c);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {POST_KEY_LEN, (void *)key}, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
        ret = cb(arg, v.mv_data, v.mv_size);
    }
    post_done(t, c);
    if (ret != 0) {
        return ret == SG_WALK_NEXT ? 0 : ret;
    }
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

int sg_txn_job_postings(sg_txn *t, int labor_class, const char *prefix,
                        int plen, sg_skill anchor, sg_posting_cb cb,
                        void *arg)
{
    if (plen < 0 || plen > SG_REGION_LEN) {
        return SG_EINVAL;
    }
    uint8_t key[POST_KEY_LEN];
    post_key(key, labor_class, plen, prefix, plen, anchor);
    return walk_dups(t, DB_JPOST, key, cb, arg);
}

int sg_txn_job_cell(sg_txn *t, int labor_class, uint32_t cell,
                    sg_skill anchor, sg_posting_cb cb, void *arg)
{
    uint8_t key[POST_KEY_LEN];
    cell_key(key, labor_class, cell, anchor);
    return walk_dups(t, DB_JPOST, key, cb, arg);
}

int sg_txn_worker_range(sg_txn *t, int labor_class, int travel,
                        sg_skill skill, int prio, const char *region,
                        int plen, int skip, sg_posting_cb cb, void *arg)
{
    if (plen < 0 || plen > SG_REGION_LEN || prio < 0 || prio > 7 ||
        (skip != 0 && (skip <= plen || skip > SG_REGION_LEN))) {
        return SG_EINVAL;
    }
    uint8_t lo[WKEY_LEN], hop[WKEY_LEN];
    wpost_key(lo, labor_class, travel, skill, prio, region, plen);
    size_t fixed = WKEY_FIXED + (size_t)plen;
    MDB_cursor *c;
    int rc = post_cursor(t, DB_WPOST, &c);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {WKEY_LEN, lo}, v;
    int ret = 0;
    const void *checked = NULL; /* the key last found inside the range */
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && ret == 0) {
        const uint8_t *kb = k.mv_data;
        /* The duplicates of one key come with the same key bytes (its
         * node in the page): the key is checked once, not per entry. */
        if (kb != checked) {
            if (k.mv_size != WKEY_LEN || memcmp(kb, lo, fixed) != 0) {
                break; /* past the range */
            }
            if (skip != 0 &&
                memcmp(kb + WKEY_FIXED, region, (size_t)skip) == 0) {
                /* Jump over the sub-range: region bytes are digits, so
                 * 0xff padding sorts after every key under the skipped
                 * prefix; a whole village is one key, left by its last
                 * duplicate. */
                if (skip == SG_REGION_LEN) {
                    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
                    continue;
                }
                memcpy(hop, kb, WKEY_FIXED + (size_t)skip);
                memset(hop + WKEY_FIXED + skip, 0xff,
                       WKEY_LEN - WKEY_FIXED - (size_t)skip);
                k.mv_size = WKEY_LEN;
                k.mv_data = hop;
                rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
                continue;
            }
            checked = kb;
        }
        ret = cb(arg, v.mv_data, v.mv_size);
        if (ret == 0) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        } else if (ret == SG_WALK_NEXT) {
            ret = 0;
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
        }
    }
    post_done(t, c);
    if (ret != 0) {
        return ret;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* ---- Workers by home region. ---- */

/* sg__each_owner gives cb the owner id of each [len][id] value of database db
 * under key: every key that starts with it when prefix is set (one
 * contiguous range; an empty key is the whole database), else the
 * duplicates of that one key. */
int sg__each_owner(sg_txn *t, int db, const void *key, size_t klen,
                   bool prefix, sg_id_cb cb, void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_cursor_op first = !prefix ? MDB_SET_KEY
                          : klen  ? MDB_SET_RANGE
                                  : MDB_FIRST;
    MDB_cursor_op next = prefix ? MDB_NEXT : MDB_NEXT_DUP;
    MDB_val k = {klen, (void *)key}, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, first); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, next)) {
        if (prefix && (k.mv_size < klen || memcmp(k.mv_data, key, klen))) {
            break;
        }
        char id[SG_ID_MAX + 1];
        if (!owner_of(&v, id)) {
            ret = SG_ECORRUPT;
            break;
        }
        ret = cb(arg, id);
    }
    mdb_cursor_close(c);
    if (ret != 0) {
        return ret;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

int sg_txn_workers_in_region(sg_txn *t, const char *prefix, sg_id_cb cb,
                             void *arg)
{
    size_t plen = strlen(prefix);
    if (plen > SG_REGION_LEN) {
        return SG_EINVAL;
    }
    /* Village codes under a prefix are one contiguous key range. */
    return sg__each_owner(t, DB_WREGION, prefix, plen, true, cb, arg);
}
