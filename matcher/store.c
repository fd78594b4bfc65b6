/* matcher/store.c -- the LMDB store: primary records and their indexes.
 * Every index entry is derived from one record by entries_of_worker() /
 * entries_of_job() / entries_of_event() / entries_of_key(), and a
 * record's old entries are removed and new ones
 * added in the same (nested) write transaction as the record itself, so
 * indexes and records can never disagree; sg_store_check() re-derives them
 * to prove it.  Each put runs in a nested transaction, so a rejected record
 * leaves nothing behind while a batch of good ones commits as one durable
 * group.  This is the only file that includes <lmdb.h>.  LMDB serialises
 * writers; read transactions may run in any thread (MDB_NOTLS). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "songgang/store.h"

/* The databases of an environment. */
enum {
    DB_META,    /* "schema" -> version */
    DB_WORKERS, /* worker id -> msgpack record */
    DB_JOBS,    /* job id -> msgpack record */
    DB_JPOST,   /* (class, plen, prefix, anchor) -> job views (dup) */
    DB_WPOST,   /* (class, travel, skill, prio, village) -> views (dup) */
    DB_HH,      /* household -> member ids (dup) */
    DB_HHE,     /* household -> employed member ids (dup) */
    DB_IDNUM,   /* ID-number hash -> worker id */
    DB_WREGION, /* village code -> ids of the workers living there (dup) */
    DB_EVENTS,  /* seq (8 bytes, big-endian) -> event msgpack */
    DB_INBOX,   /* worker id, NUL, seq -> "" (derived from each event) */
    DB_PUSHED,  /* job id -> ids of the workers it was pushed to (dup) */
    DB_KEYS,    /* BLAKE2b-256 of an API key -> credential record */
    DB_KEYIDS,  /* key id -> that hash (derived from each key record) */
    DB_TOKENS,  /* worker token id -> credential record */
    DB__COUNT
};

static const char *const db_names[DB__COUNT] = {
    "meta",   "workers", "jobs",  "jpost",  "wpost", "hh",     "hhe",
    "idnum",  "wregion", "events", "inbox", "pushed", "keys", "keyids",
    "tokens",
};
static const unsigned db_dup[DB__COUNT] = {
    0, 0, 0, MDB_DUPSORT, MDB_DUPSORT, MDB_DUPSORT, MDB_DUPSORT, 0,
    MDB_DUPSORT, 0, 0, MDB_DUPSORT, 0, 0, 0,
};

#define POST_KEY_LEN 16 /* 2 small numbers, 12 region bytes, 2 skill bytes */
#define WKEY_LEN 17     /* class, travel, skill (2), priority, village (12) */
#define WKEY_FIXED 5    /* the bytes before the village */
/* LAYOUT numbers the layout of the posting indexes (meta "layout"): from
 * 3 on, worker postings are keyed by home village, so a job's query reads
 * its candidates nearest first, and views have a fixed-offset block
 * (matcher/view.c); from 4 on, a worker's view says whether its household
 * has nobody employed; from 5 on, worker posting keys carry the priority
 * bits, so a job's query reads the workers who could score most first.  Older stores have their postings rebuilt at their
 * first writable open. */
#define LAYOUT 5
#define INBOX_KEY_MAX (SG_ID_MAX + 1 + 8) /* worker id, NUL, seq */
#define CRED_LEN 135    /* bytes of a packed credential record */
#define DEFAULT_MAPSIZE ((size_t)64 << 30)

struct sg_store {
    MDB_env *env;                       /* the environment */
    MDB_dbi dbi[DB__COUNT];             /* its databases */
    bool have_key;                      /* idkey was read */
    uint8_t idkey[SG_IDNUM_KEY_LEN];    /* ID-number hash key */
    bool have_tkey;                     /* token.key was read */
    uint8_t tkey[SG_TOKEN_SEED_LEN];    /* worker-token signing seed */
};

struct sg_txn {
    sg_store *s;   /* owner */
    MDB_txn *txn;  /* the LMDB transaction */
    bool write;    /* a write transaction */
};

/* sg__err_mdb translates an LMDB return code. */
static int sg__err_mdb(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return SG_ENOTFOUND;
    case MDB_KEYEXIST:
        return SG_EEXIST;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        return SG_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_BAD_VALSIZE:
        return SG_ECORRUPT;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
        return SG_EVERSION;
    case EAGAIN:
    case MDB_READERS_FULL:
        return SG_EBUSY;
    default:
        return SG_EIO;
    }
}

/* ---- The key files. ---- */

/* read_or_create_key loads dir/name (n secret bytes) into key, creating it
 * (0600, random, and fsync'd with its folder) at first start when create
 * is set; *have tells whether it was read.  Both idnum.key and token.key
 * are made this way. */
static int read_or_create_key(const char *dir, const char *name, bool create,
                              uint8_t *key, size_t n, bool *have)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        return SG_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        uint8_t fresh[64];
        assert(n <= sizeof(fresh));
        randombytes_buf(fresh, n);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            return SG_EIO;
        }
        bool ok = write(fd, fresh, n) == (ssize_t)n && fsync(fd) == 0;
        close(fd);
        sodium_memzero(fresh, sizeof(fresh));
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ok = ok && fsync(dfd) == 0;
            close(dfd);
        }
        if (!ok) {
            unlink(path);
            return SG_EIO;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        /* A reader without the key can still match and export. */
        return create ? SG_EIO : 0;
    }
    ssize_t got = read(fd, key, n);
    close(fd);
    if (got != (ssize_t)n) {
        return SG_ECORRUPT;
    }
    *have = true;
    return 0;
}

/* ---- Open and close. ---- */

static int rebuild_wregion(sg_store *s, MDB_txn *txn);
static int rebuild_postings(sg_store *s, MDB_txn *txn);

/* check_layout makes sure the postings have this build's layout: a store
 * with an older one (no meta "layout" entry is layout 1) gets them rebuilt
 * at its first writable open; a reader of it, or of a layout newer than
 * this build, is told SG_EVERSION. */
static int check_layout(sg_store *s, MDB_txn *txn, bool rdonly)
{
    MDB_val k = {6, "layout"}, v;
    int rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    int have = 1;
    if (rc == 0) {
        char buf[8] = "";
        if (v.mv_size < sizeof(buf)) {
            memcpy(buf, v.mv_data, v.mv_size);
        }
        have = atoi(buf);
    } else if (rc != MDB_NOTFOUND) {
        return sg__err_mdb(rc);
    }
    if (have == LAYOUT) {
        return 0;
    }
    if (have > LAYOUT || have < 1 || rdonly) {
        return SG_EVERSION;
    }
    rc = rebuild_postings(s, txn);
    if (rc == 0) {
        char buf[8];
        v.mv_size = (size_t)snprintf(buf, sizeof(buf), "%d", LAYOUT);
        v.mv_data = buf;
        rc = sg__err_mdb(mdb_put(txn, s->dbi[DB_META], &k, &v, 0));
    }
    return rc;
}

static int open_dbs(sg_store *s, bool rdonly)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    /* A store made before the region index existed gets it built from its
     * workers at its first writable open (a reader of such a store is
     * told SG_EVERSION until then). */
    bool upgrade = false;
    if (!rdonly) {
        MDB_dbi probe;
        upgrade = mdb_dbi_open(txn, "workers", 0, &probe) == 0 &&
                  mdb_dbi_open(txn, db_names[DB_WREGION], 0, &probe) ==
                      MDB_NOTFOUND;
    }
    for (int i = 0; i < DB__COUNT; i++) {
        unsigned fl = db_dup[i] | (rdonly ? 0 : MDB_CREATE);
        rc = mdb_dbi_open(txn, db_names[i], fl, &s->dbi[i]);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND ? SG_EVERSION : sg__err_mdb(rc);
        }
    }
    /* The schema version guards against reading a future layout. */
    MDB_val k = {6, "schema"}, v;
    char ver[16];
    int vl = snprintf(ver, sizeof(ver), "%d", SG_SCHEMA_VERSION);
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND && !rdonly) {
        v.mv_size = (size_t)vl;
        v.mv_data = ver;
        rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
    } else if (rc == 0 &&
               (v.mv_size != (size_t)vl || memcmp(v.mv_data, ver, v.mv_size))) {
        rc = MDB_VERSION_MISMATCH;
    }
    if (rc == 0 && upgrade) {
        rc = rebuild_wregion(s, txn);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return sg__err_mdb(rc);
    }
    rc = check_layout(s, txn, rdonly);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return sg__err_mdb(mdb_txn_commit(txn));
}

int sg_store_open(sg_store **out, const char *dir, unsigned flags)
{
    bool rdonly = (flags & SG_STORE_RDONLY) != 0;
    if (out == NULL || dir == NULL) {
        return SG_EINVAL;
    }
    if (sodium_init() < 0) {
        return SG_EIO;
    }
    if (!rdonly && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return SG_EIO;
    }
    sg_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        abort();
    }
    size_t mapsize = DEFAULT_MAPSIZE;
    const char *ms = getenv("SONGGANG_MAPSIZE_GB");
    if (ms != NULL && atoi(ms) > 0) {
        mapsize = (size_t)atoi(ms) << 30;
    }
    int rc = sg__err_mdb(mdb_env_create(&s->env));
    if (rc == 0) {
        mdb_env_set_maxdbs(s->env, 24);
        mdb_env_set_mapsize(s->env, mapsize);
        mdb_env_set_maxreaders(s->env, 256);
        unsigned fl = MDB_NOTLS | (rdonly ? MDB_RDONLY : 0);
        rc = sg__err_mdb(mdb_env_open(s->env, dir, fl, 0600));
    }
    if (rc == 0) {
        rc = open_dbs(s, rdonly);
    }
    if (rc == 0) {
        rc = read_or_create_key(dir, "idnum.key", !rdonly, s->idkey,
                                sizeof(s->idkey), &s->have_key);
    }
    if (rc == 0) {
        rc = read_or_create_key(dir, "token.key", !rdonly, s->tkey,
                                sizeof(s->tkey), &s->have_tkey);
    }
    if (rc != 0) {
        sg_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sg_store_close(sg_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->env != NULL) {
        mdb_env_close(s->env);
    }
    sodium_memzero(s->idkey, sizeof(s->idkey));
    sodium_memzero(s->tkey, sizeof(s->tkey));
    free(s);
}

const uint8_t *sg_store_idkey(const sg_store *s)
{
    return s->have_key ? s->idkey : NULL;
}

const uint8_t *sg_store_token_seed(const sg_store *s)
{
    return s->have_tkey ? s->tkey : NULL;
}

int sg_store_bytes(sg_store *s, uint64_t *bytes)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0) {
        rc = mdb_env_stat(s->env, &st);
    }
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    *bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    return 0;
}

/* ---- Transactions. ---- */

int sg_txn_begin(sg_store *s, bool write, sg_txn **out)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    sg_txn *t = malloc(sizeof(*t));
    if (t == NULL) {
        abort();
    }
    t->s = s;
    t->txn = txn;
    t->write = write;
    *out = t;
    return 0;
}

int sg_txn_begin_nested(sg_txn *parent, sg_txn **out)
{
    if (!parent->write) {
        return SG_EINVAL;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(parent->s->env, parent->txn, 0, &txn);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    sg_txn *t = malloc(sizeof(*t));
    if (t == NULL) {
        abort();
    }
    t->s = parent->s;
    t->txn = txn;
    t->write = true;
    *out = t;
    return 0;
}

sg_store *sg_txn_store(sg_txn *t)
{
    return t->s;
}

int sg_txn_commit(sg_txn *t)
{
    int rc = sg__err_mdb(mdb_txn_commit(t->txn));
    free(t);
    return rc;
}

void sg_txn_abort(sg_txn *t)
{
    if (t == NULL) {
        return;
    }
    mdb_txn_abort(t->txn);
    free(t);
}

/* ---- Index entries, derived from one record. ---- */

/* entry_cb receives one (database, key, value) that a record implies. */
typedef int (*entry_cb)(void *arg, int db, const void *k, size_t kl,
                        const void *v, size_t vl);

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
 * employed) and the first plen digits of a village code, zero-padded: the
 * keys of the workers of one priority living under one prefix are one
 * contiguous range. */
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

/* owner_val writes [len][id], the value of the household and ID indexes. */
static size_t owner_val(uint8_t *buf, const char *id)
{
    size_t n = strlen(id);
    buf[0] = (uint8_t)n;
    memcpy(buf + 1, id, n);
    return n + 1;
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

/* entries_of_worker: zero is whether w's household has nobody employed,
 * which its postings carry so that ranking needs no lookup per candidate
 * (kept true by refresh_household when a household's employment
 * changes). */
static int entries_of_worker(const sg_worker *w, bool zero, entry_cb cb,
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
               (zero ? 2 : 0);
    uint8_t key[WKEY_LEN];
    for (int i = -1; i < (int)w->nskills && rc == 0; i++) {
        wpost_key(key, w->labor_class, w->travel, i < 0 ? 0 : w->skills[i],
                  prio, w->region, SG_REGION_LEN);
        rc = cb(arg, DB_WPOST, key, sizeof(key), val, vl);
    }
    return rc;
}

static const int levels[] = {SG_LEVEL_VILLAGE, SG_LEVEL_TOWNSHIP,
                             SG_LEVEL_COUNTY,  SG_LEVEL_CITY,
                             SG_LEVEL_PROVINCE, 0};

static int entries_of_job(const sg_job *j, entry_cb cb, void *arg)
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
    }
    return rc;
}

/* ---- Writing. ---- */

static int add_entry(void *arg, int db, const void *k, size_t kl,
                     const void *v, size_t vl)
{
    sg_txn *t = arg;
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    unsigned fl = db_dup[db] ? MDB_NODUPDATA : 0;
    return sg__err_mdb(mdb_put(t->txn, t->s->dbi[db], &key, &val, fl));
}

static int del_entry(void *arg, int db, const void *k, size_t kl,
                     const void *v, size_t vl)
{
    sg_txn *t = arg;
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    int rc = mdb_del(t->txn, t->s->dbi[db], &key, db_dup[db] ? &val : NULL);
    /* A missing entry here means the store was already inconsistent;
     * removing what is there and rewriting heals it. */
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

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

/* nested runs fn inside a child transaction of t, so that a failure leaves
 * nothing of it behind while t goes on. */
static int nested(sg_txn *t, int (*fn)(sg_txn *, const void *, sg_error *),
                  const void *rec, sg_error *e)
{
    if (!t->write) {
        return SG_EINVAL;
    }
    MDB_txn *parent = t->txn, *child;
    int rc = mdb_txn_begin(t->s->env, parent, 0, &child);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    t->txn = child;
    rc = fn(t, rec, e);
    t->txn = parent;
    if (rc != 0) {
        mdb_txn_abort(child);
        return rc;
    }
    return sg__err_mdb(mdb_txn_commit(child));
}

static int each_owner(sg_txn *t, int db, const void *key, size_t klen,
                      bool prefix, sg_id_cb cb, void *arg);

/* hh_zero tells whether household hh has nobody employed now. */
static int hh_zero(sg_txn *t, const char *hh, bool *zero)
{
    bool any = false;
    int rc = sg_txn_household_employed(t, hh, &any);
    *zero = !any;
    return rc;
}

/* del_posting / add_posting: only the posting entries a record implies. */
static int del_posting(void *arg, int db, const void *k, size_t kl,
                       const void *v, size_t vl)
{
    return db == DB_JPOST || db == DB_WPOST ? del_entry(arg, db, k, kl, v, vl)
                                            : 0;
}
static int add_posting(void *arg, int db, const void *k, size_t kl,
                       const void *v, size_t vl)
{
    return db == DB_JPOST || db == DB_WPOST ? add_entry(arg, db, k, kl, v, vl)
                                            : 0;
}

/* refresh_household rewrites the postings of the members of household hh
 * (but skip, just written) when whether nobody in it is employed is no
 * longer was_zero. */
static int refresh_household(sg_txn *t, const char *hh, bool was_zero,
                             const char *skip)
{
    bool zero;
    int rc = hh_zero(t, hh, &zero);
    if (rc != 0 || zero == was_zero) {
        return rc;
    }
    sg__ids members = {0};
    rc = each_owner(t, DB_HH, hh, strlen(hh), false, sg__ids_add, &members);
    for (size_t i = 0; rc == 0 && i < members.n; i++) {
        sg_worker m;
        if (strcmp(members.v[i], skip) == 0) {
            continue;
        }
        rc = sg_txn_get_worker(t, members.v[i], &m);
        if (rc == 0 && m.seeking) {
            rc = entries_of_worker(&m, was_zero, del_posting, t);
            if (rc == 0) {
                rc = entries_of_worker(&m, zero, add_posting, t);
            }
        }
    }
    free(members.v);
    return rc;
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
            rc = hh_zero(t, ow.household, &old_zero);
        } else {
            rc = SG_ECORRUPT;
        }
        if (rc == 0) {
            rc = entries_of_worker(&ow, old_zero, del_entry, t);
        }
    } else if (rc == SG_ENOTFOUND) {
        rc = 0;
    }
    if (rc == 0 && w->has_idnum) {
        MDB_val k = {SG_IDNUM_HASH_LEN, (void *)w->idnum_hash}, v;
        int g = mdb_get(t->txn, t->s->dbi[DB_IDNUM], &k, &v);
        if (g == 0) {
            rc = SG_EEXIST;
            sg_error_set(e, rc, "id_number",
                         "already registered to another worker");
        }
    }
    /* Whether the others of w's household are all without work, and so
     * whether the household is after this write. */
    bool others_zero = false;
    if (rc == 0) {
        rc = hh_zero(t, w->household, &others_zero);
    }
    if (rc == 0) {
        rc = put_raw(t, DB_WORKERS, w->id, &b);
    }
    if (rc == 0) {
        rc = entries_of_worker(
            w, others_zero && !sg_status_is_employed(w->status), add_entry, t);
    }
    bool same_hh = had && strcmp(ow.household, w->household) == 0;
    if (rc == 0 && had && !same_hh) {
        rc = refresh_household(t, ow.household, old_zero, w->id);
    }
    if (rc == 0) {
        rc = refresh_household(t, w->household,
                               same_hh ? old_zero : others_zero, w->id);
    }
    sg_buf_free(&b);
    return rc;
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
    if (rc == 0) {
        sg_job oj;
        rc = sg_job_decode(old.mv_data, old.mv_size, &oj, NULL);
        rc = rc == 0 ? entries_of_job(&oj, del_entry, t) : SG_ECORRUPT;
    } else if (rc == SG_ENOTFOUND) {
        rc = 0;
    }
    if (rc == 0) {
        rc = put_raw(t, DB_JOBS, j->id, &b);
    }
    if (rc == 0) {
        rc = entries_of_job(j, add_entry, t);
    }
    sg_buf_free(&b);
    return rc;
}

int sg_txn_put_worker(sg_txn *t, const sg_worker *w, sg_error *e)
{
    int rc = sg_worker_validate(w, e);
    return rc != 0 ? rc : nested(t, put_worker, w, e);
}

int sg_txn_put_job(sg_txn *t, const sg_job *j, sg_error *e)
{
    int rc = sg_job_validate(j, e);
    return rc != 0 ? rc : nested(t, put_job, j, e);
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
        rc = hh_zero(t, w.household, &was_zero);
    }
    if (rc == 0) {
        rc = entries_of_worker(&w, was_zero, del_entry, t);
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
        rc = entries_of_job(&j, del_entry, t);
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
    return nested(t, del_worker, id, NULL);
}

int sg_txn_del_job(sg_txn *t, const char *id)
{
    return nested(t, del_job, id, NULL);
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

static int walk_dups(sg_txn *t, int db, const uint8_t key[POST_KEY_LEN],
                     sg_posting_cb cb, void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val k = {POST_KEY_LEN, (void *)key}, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
        ret = cb(arg, v.mv_data, v.mv_size);
    }
    mdb_cursor_close(c);
    if (ret != 0) {
        return ret;
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

int sg_txn_worker_range(sg_txn *t, int labor_class, int travel,
                        sg_skill skill, int prio, const char *region,
                        int plen, int skip, sg_posting_cb cb, void *arg)
{
    if (plen < 0 || plen > SG_REGION_LEN || prio < 0 || prio > 3 ||
        (skip != 0 && (skip <= plen || skip > SG_REGION_LEN))) {
        return SG_EINVAL;
    }
    uint8_t lo[WKEY_LEN], hop[WKEY_LEN];
    wpost_key(lo, labor_class, travel, skill, prio, region, plen);
    size_t fixed = WKEY_FIXED + (size_t)plen;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_WPOST], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val k = {WKEY_LEN, lo}, v;
    int ret = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && ret == 0) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size != WKEY_LEN || memcmp(kb, lo, fixed) != 0) {
            break; /* past the range */
        }
        if (skip != 0 && memcmp(kb + WKEY_FIXED, region, (size_t)skip) == 0) {
            /* Jump over the sub-range: region bytes are digits, so 0xff
             * padding sorts after every key under the skipped prefix; a
             * whole village is one key, left by its last duplicate. */
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
        ret = cb(arg, v.mv_data, v.mv_size);
        if (ret == 0) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    mdb_cursor_close(c);
    if (ret != 0) {
        return ret;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* rederive gives add every index entry each record implies (add keeps
 * the ones it rebuilds): the upgrades of older stores. */
static int rederive(sg_store *s, MDB_txn *txn, entry_cb add)
{
    sg_txn t = {s, txn, true};
    int rc, ret = 0;
    for (int db = DB_WORKERS; db <= DB_JOBS && ret == 0; db++) {
        MDB_cursor *c;
        rc = mdb_cursor_open(txn, s->dbi[db], &c);
        if (rc != 0) {
            return sg__err_mdb(rc);
        }
        MDB_val k, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            sg_worker w;
            sg_job j;
            if (db == DB_WORKERS) {
                bool zero;
                if (sg_worker_decode(v.mv_data, v.mv_size, NULL, &w, NULL) ==
                        0 &&
                    (ret = hh_zero(&t, w.household, &zero)) == 0) {
                    ret = entries_of_worker(&w, zero, add, &t);
                }
            } else if (sg_job_decode(v.mv_data, v.mv_size, &j, NULL) ==
                       0) {
                ret = entries_of_job(&j, add, &t);
            } /* a record that does not decode: sg_store_check reports it */
        }
        mdb_cursor_close(c);
        if (ret == 0 && rc != MDB_NOTFOUND) {
            ret = sg__err_mdb(rc);
        }
    }
    return ret;
}

/* rebuild_postings re-derives both posting indexes from the records
 * (layout upgrade). */
static int rebuild_postings(sg_store *s, MDB_txn *txn)
{
    int rc = mdb_drop(txn, s->dbi[DB_WPOST], 0);
    if (rc == 0) {
        rc = mdb_drop(txn, s->dbi[DB_JPOST], 0);
    }
    return rc != 0 ? sg__err_mdb(rc) : rederive(s, txn, add_posting);
}

/* ---- Workers by home region. ---- */

static int add_wregion(void *arg, int db, const void *k, size_t kl,
                       const void *v, size_t vl)
{
    return db == DB_WREGION ? add_entry(arg, db, k, kl, v, vl) : 0;
}

/* rebuild_wregion adds the region entry of every worker (upgrade). */
static int rebuild_wregion(sg_store *s, MDB_txn *txn)
{
    return rederive(s, txn, add_wregion);
}

/* each_owner gives cb the owner id of each [len][id] value of database db
 * under key: every key that starts with it when prefix is set (one
 * contiguous range; an empty key is the whole database), else the
 * duplicates of that one key. */
static int each_owner(sg_txn *t, int db, const void *key, size_t klen,
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
    return each_owner(t, DB_WREGION, prefix, plen, true, cb, arg);
}

/* ---- Events: a global log, and each worker's inbox derived from it. ---- */

static void be64_put(uint8_t *p, uint64_t x)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = x << 8 | p[i];
    }
    return x;
}

/* inbox_key writes (worker id, NUL, seq); ids never hold a NUL, so one
 * worker's keys are contiguous and in seq order. */
static size_t inbox_key(uint8_t *key, const char *worker, uint64_t seq)
{
    size_t n = strlen(worker);
    memcpy(key, worker, n);
    key[n] = 0;
    be64_put(key + n + 1, seq);
    return n + 9;
}

static int entries_of_event(const sg_event *ev, entry_cb cb, void *arg)
{
    uint8_t key[INBOX_KEY_MAX];
    size_t kl = inbox_key(key, ev->worker, ev->seq);
    return cb(arg, DB_INBOX, key, kl, "", 0);
}

static int take_event(void *arg, const sg_event *ev)
{
    *(sg_event *)arg = *ev;
    return 0;
}

/* decode_event decodes one stored event (a msgpack map) by reading it as
 * the one element of an array in tmp; ev->data then points into tmp. */
static int decode_event(const uint8_t *p, size_t n, sg_buf *tmp, sg_event *ev)
{
    static const uint8_t one = 0x91; /* fixarray of 1 */
    tmp->len = 0;
    sg_buf_append(tmp, &one, 1);
    sg_buf_append(tmp, p, n);
    return sg_events_decode(tmp->data, tmp->len, take_event, ev, NULL) == 0
               ? 0
               : SG_ECORRUPT;
}

int sg_txn_last_seq(sg_txn *t, uint64_t *seq)
{
    MDB_val k = {3, "seq"}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        return 0;
    }
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    if (v.mv_size != 8) {
        return SG_ECORRUPT;
    }
    *seq = be64_get(v.mv_data);
    return 0;
}

static int append_event(sg_txn *t, const void *rec, sg_error *e)
{
    (void)e;
    const sg_event *ev = rec;
    sg_buf b;
    sg_buf_init(&b);
    sg_event_encode(ev, &b);
    uint8_t sk[8];
    be64_put(sk, ev->seq);
    MDB_val k = {8, sk}, v = {b.len, b.data};
    int rc = sg__err_mdb(
        mdb_put(t->txn, t->s->dbi[DB_EVENTS], &k, &v, MDB_NOOVERWRITE));
    if (rc == 0) {
        rc = entries_of_event(ev, add_entry, t);
    }
    if (rc == 0) {
        MDB_val mk = {3, "seq"}, mv = {8, sk};
        rc = sg__err_mdb(mdb_put(t->txn, t->s->dbi[DB_META], &mk, &mv, 0));
    }
    sg_buf_free(&b);
    return rc;
}

int sg_txn_event_append(sg_txn *t, const sg_event *ev, uint64_t *seq)
{
    if (!t->write || ev->data == NULL || ev->data_len == 0) {
        return SG_EINVAL;
    }
    uint64_t last;
    int rc = sg_txn_last_seq(t, &last);
    if (rc != 0) {
        return rc;
    }
    sg_event copy = *ev;
    copy.seq = last + 1;
    rc = nested(t, append_event, &copy, NULL);
    if (rc == 0) {
        *seq = copy.seq;
    }
    return rc;
}

int sg_txn_events_after(sg_txn *t, uint64_t after, sg_event_raw_cb cb,
                        void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_EVENTS], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    uint8_t sk[8];
    be64_put(sk, after + 1);
    MDB_val k = {8, sk}, v;
    sg_buf tmp;
    sg_buf_init(&tmp);
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        sg_event ev;
        if (k.mv_size != 8 || decode_event(v.mv_data, v.mv_size, &tmp,
                                           &ev) != 0) {
            ret = SG_ECORRUPT;
            break;
        }
        ret = cb(arg, &ev, v.mv_data, v.mv_size);
    }
    mdb_cursor_close(c);
    sg_buf_free(&tmp);
    if (ret != 0) {
        return ret;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

int sg_txn_inbox_after(sg_txn *t, const char *worker, uint64_t after,
                       sg_event_raw_cb cb, void *arg)
{
    size_t idl = strlen(worker);
    if (idl == 0 || idl > SG_ID_MAX) {
        return SG_EINVAL;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_INBOX], &c);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    uint8_t key[INBOX_KEY_MAX];
    MDB_val k = {inbox_key(key, worker, after + 1), key}, v;
    sg_buf tmp;
    sg_buf_init(&tmp);
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size != idl + 9 || memcmp(p, worker, idl) != 0 ||
            p[idl] != 0) {
            break; /* past this worker's entries */
        }
        uint8_t *sk = (uint8_t *)p + idl + 1;
        MDB_val ek = {8, sk}, ev_val;
        sg_event ev;
        int g = mdb_get(t->txn, t->s->dbi[DB_EVENTS], &ek, &ev_val);
        if (g != 0) {
            ret = g == MDB_NOTFOUND ? SG_ECORRUPT : sg__err_mdb(g);
            break;
        }
        if (decode_event(ev_val.mv_data, ev_val.mv_size, &tmp, &ev) != 0) {
            ret = SG_ECORRUPT;
            break;
        }
        ret = cb(arg, &ev, ev_val.mv_data, ev_val.mv_size);
    }
    mdb_cursor_close(c);
    sg_buf_free(&tmp);
    if (ret != 0) {
        return ret;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* ---- The pushed set: job -> workers it was pushed to. ---- */

int sg_txn_pushed_add(sg_txn *t, const char *job, const char *worker)
{
    uint8_t val[SG_ID_MAX + 1];
    size_t vl = owner_val(val, worker);
    MDB_val k = {strlen(job), (void *)job}, v = {vl, val};
    int rc = mdb_put(t->txn, t->s->dbi[DB_PUSHED], &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : sg__err_mdb(rc);
}

int sg_txn_pushed_each(sg_txn *t, const char *job, sg_id_cb cb, void *arg)
{
    return each_owner(t, DB_PUSHED, job, strlen(job), false, cb, arg);
}

int sg_txn_pushed_clear(sg_txn *t, const char *job)
{
    MDB_val k = {strlen(job), (void *)job};
    int rc = mdb_del(t->txn, t->s->dbi[DB_PUSHED], &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* ---- Credentials: API keys (by hash) and worker tokens (by id). ----
 * A record is 135 bytes: version 1, flags (1 revoked, 2 token), role,
 * id (8), scope (12), employer (32), worker (32), created and expires
 * (8 each, big-endian), hash (32); strings are NUL-padded. */

static void put_padded(uint8_t *p, const char *s, size_t n)
{
    size_t l = strnlen(s, n);
    memset(p, 0, n);
    memcpy(p, s, l);
}

/* get_padded reads a NUL-padded string whose characters must all satisfy
 * ok; false when they do not or when a NUL is followed by more text. */
static bool get_padded(const uint8_t *p, size_t n, char *out,
                       bool (*ok)(int c))
{
    size_t l = 0;
    while (l < n && p[l] != 0) {
        if (!ok(p[l])) {
            return false;
        }
        l++;
    }
    for (size_t i = l; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    memcpy(out, p, l);
    out[l] = '\0';
    return true;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_lhex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_idc(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '-';
}

static void cred_pack(const sg_cred *c, uint8_t out[CRED_LEN])
{
    out[0] = 1;
    out[1] = (uint8_t)((c->revoked ? 1 : 0) | (c->token ? 2 : 0));
    out[2] = c->role;
    put_padded(out + 3, c->id, SG_CRED_ID_LEN);
    put_padded(out + 11, c->scope, SG_REGION_LEN);
    put_padded(out + 23, c->employer, SG_ID_MAX);
    put_padded(out + 55, c->worker, SG_ID_MAX);
    be64_put(out + 87, (uint64_t)c->created);
    be64_put(out + 95, (uint64_t)c->expires);
    memcpy(out + 103, c->hash, SG_CRED_HASH_LEN);
}

static int cred_unpack(const void *v, size_t n, sg_cred *out)
{
    const uint8_t *p = v;
    sg_cred c;
    memset(&c, 0, sizeof(c));
    if (n != CRED_LEN || p[0] != 1 || p[1] > 3 ||
        !get_padded(p + 3, SG_CRED_ID_LEN, c.id, is_lhex) ||
        strlen(c.id) != SG_CRED_ID_LEN ||
        !get_padded(p + 11, SG_REGION_LEN, c.scope, is_digit) ||
        !get_padded(p + 23, SG_ID_MAX, c.employer, is_idc) ||
        !get_padded(p + 55, SG_ID_MAX, c.worker, is_idc)) {
        return SG_ECORRUPT;
    }
    c.revoked = (p[1] & 1) != 0;
    c.token = (p[1] & 2) != 0;
    c.role = p[2];
    c.created = (int64_t)be64_get(p + 87);
    c.expires = (int64_t)be64_get(p + 95);
    memcpy(c.hash, p + 103, SG_CRED_HASH_LEN);
    *out = c;
    return 0;
}

static int entries_of_key(const sg_cred *c, entry_cb cb, void *arg)
{
    return cb(arg, DB_KEYIDS, c->id, SG_CRED_ID_LEN, c->hash,
              SG_CRED_HASH_LEN);
}

static bool cred_id_ok(const char *id)
{
    if (strlen(id) != SG_CRED_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < SG_CRED_ID_LEN; i++) {
        if (!is_lhex(id[i])) {
            return false;
        }
    }
    return true;
}

/* cred_id_used tells whether id names a key or a token: both share one
 * namespace, so that `songgang key revoke ID` means one thing. */
static int cred_id_used(sg_txn *t, const char *id, bool *used)
{
    MDB_val k = {SG_CRED_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_KEYIDS], &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = mdb_get(t->txn, t->s->dbi[DB_TOKENS], &k, &v);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return sg__err_mdb(rc);
    }
    *used = rc == 0;
    return 0;
}

static int put_cred(sg_txn *t, const void *rec, sg_error *e)
{
    (void)e;
    const sg_cred *c = rec;
    uint8_t buf[CRED_LEN];
    cred_pack(c, buf);
    MDB_val v = {CRED_LEN, buf};
    if (c->token) {
        MDB_val k = {SG_CRED_ID_LEN, (void *)c->id};
        return sg__err_mdb(mdb_put(t->txn, t->s->dbi[DB_TOKENS], &k, &v, 0));
    }
    MDB_val k = {SG_CRED_HASH_LEN, (void *)c->hash};
    MDB_val old;
    int rc = mdb_get(t->txn, t->s->dbi[DB_KEYS], &k, &old);
    if (rc == 0) {
        sg_cred oc;
        rc = cred_unpack(old.mv_data, old.mv_size, &oc);
        if (rc == 0) {
            rc = entries_of_key(&oc, del_entry, t);
        }
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
    }
    if (rc == 0) {
        rc = sg__err_mdb(mdb_put(t->txn, t->s->dbi[DB_KEYS], &k, &v, 0));
    }
    if (rc == 0) {
        rc = entries_of_key(c, add_entry, t);
    }
    return rc;
}

int sg_txn_cred_add(sg_txn *t, const sg_cred *c)
{
    if (!cred_id_ok(c->id) || strlen(c->scope) > SG_REGION_LEN) {
        return SG_EINVAL;
    }
    bool used = false;
    int rc = cred_id_used(t, c->id, &used);
    if (rc != 0) {
        return rc;
    }
    if (!used && !c->token) {
        MDB_val k = {SG_CRED_HASH_LEN, (void *)c->hash}, v;
        int g = mdb_get(t->txn, t->s->dbi[DB_KEYS], &k, &v);
        if (g != 0 && g != MDB_NOTFOUND) {
            return sg__err_mdb(g);
        }
        used = g == 0;
    }
    return used ? SG_EEXIST : nested(t, put_cred, c, NULL);
}

int sg_txn_key_get(sg_txn *t, const uint8_t hash[SG_CRED_HASH_LEN],
                   sg_cred *out)
{
    MDB_val k = {SG_CRED_HASH_LEN, (void *)hash}, v;
    int rc = sg__err_mdb(mdb_get(t->txn, t->s->dbi[DB_KEYS], &k, &v));
    return rc != 0 ? rc : cred_unpack(v.mv_data, v.mv_size, out);
}

int sg_txn_token_get(sg_txn *t, const char *id, sg_cred *out)
{
    if (!cred_id_ok(id)) {
        return SG_ENOTFOUND;
    }
    MDB_val k = {SG_CRED_ID_LEN, (void *)id}, v;
    int rc = sg__err_mdb(mdb_get(t->txn, t->s->dbi[DB_TOKENS], &k, &v));
    return rc != 0 ? rc : cred_unpack(v.mv_data, v.mv_size, out);
}

/* cred_by_id reads the key or token record named id. */
static int cred_by_id(sg_txn *t, const char *id, sg_cred *out)
{
    if (!cred_id_ok(id)) {
        return SG_ENOTFOUND;
    }
    MDB_val k = {SG_CRED_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_KEYIDS], &k, &v);
    if (rc == 0) {
        if (v.mv_size != SG_CRED_HASH_LEN) {
            return SG_ECORRUPT;
        }
        uint8_t hash[SG_CRED_HASH_LEN];
        memcpy(hash, v.mv_data, sizeof(hash));
        rc = sg_txn_key_get(t, hash, out);
        return rc == SG_ENOTFOUND ? SG_ECORRUPT : rc;
    }
    if (rc != MDB_NOTFOUND) {
        return sg__err_mdb(rc);
    }
    return sg_txn_token_get(t, id, out);
}

int sg_txn_cred_revoke(sg_txn *t, const char *id)
{
    sg_cred c;
    int rc = cred_by_id(t, id, &c);
    if (rc != 0 || c.revoked) {
        return rc;
    }
    c.revoked = true;
    return nested(t, put_cred, &c, NULL);
}

/* each_cred_fn walks DB_KEYIDS (keys in id order) or DB_TOKENS. */
static int each_cred_db(sg_txn *t, int db, sg_cred_cb cb, void *arg)
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
        sg_cred cr;
        if (db == DB_KEYIDS) {
            uint8_t hash[SG_CRED_HASH_LEN];
            if (v.mv_size != SG_CRED_HASH_LEN) {
                ret = SG_ECORRUPT;
                break;
            }
            memcpy(hash, v.mv_data, sizeof(hash));
            ret = sg_txn_key_get(t, hash, &cr);
            ret = ret == SG_ENOTFOUND ? SG_ECORRUPT : ret;
        } else {
            ret = cred_unpack(v.mv_data, v.mv_size, &cr);
        }
        if (ret == 0) {
            ret = cb(arg, &cr);
        }
    }
    mdb_cursor_close(c);
    if (ret != 0) {
        return ret;
    }
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

int sg_txn_cred_each(sg_txn *t, sg_cred_cb cb, void *arg)
{
    int rc = each_cred_db(t, DB_KEYIDS, cb, arg);
    return rc != 0 ? rc : each_cred_db(t, DB_TOKENS, cb, arg);
}

/* ---- Check: every entry derived from every record exists, and every
 * entry that exists is derived from the record it names. ---- */

typedef struct check {
    sg_txn *t;          /* read transaction */
    sg_check_cb cb;     /* reporter */
    void *arg;          /* its argument */
    long problems;      /* found so far */
    const char *owner;  /* record being checked (forward) */
    /* backward: the entry sought among its owner's entries */
    int want_db;        /* database */
    const MDB_val *wk;  /* key */
    const MDB_val *wv;  /* value */
    bool found;         /* seen */
} check;

static void report(check *c, const char *fmt, const char *a, const char *b)
{
    char line[256];
    snprintf(line, sizeof(line), fmt, a, b);
    c->problems++;
    if (c->cb != NULL) {
        c->cb(c->arg, line);
    }
}

static int expect_entry(void *arg, int db, const void *k, size_t kl,
                        const void *v, size_t vl)
{
    check *c = arg;
    MDB_cursor *cur;
    if (mdb_cursor_open(c->t->txn, c->t->s->dbi[db], &cur) != 0) {
        return SG_EIO;
    }
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    int rc;
    if (db_dup[db]) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_GET_BOTH);
    } else {
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
        if (rc == 0 && (val.mv_size != vl || memcmp(val.mv_data, v, vl))) {
            rc = MDB_NOTFOUND;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        report(c, "%s: missing entry for %s", db_names[db], c->owner);
        return 0;
    }
    return sg__err_mdb(rc);
}

static int match_entry(void *arg, int db, const void *k, size_t kl,
                       const void *v, size_t vl)
{
    check *c = arg;
    if (db == c->want_db && kl == c->wk->mv_size && vl == c->wv->mv_size &&
        !memcmp(k, c->wk->mv_data, kl) && !memcmp(v, c->wv->mv_data, vl)) {
        c->found = true;
    }
    return 0;
}

/* check_backward walks one index and looks each entry up among the
 * entries of the record its value names. */
static int check_backward(check *c, int db)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[db], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        char id[SG_ID_MAX + 1] = "";
        if (v.mv_size < 1 || p[0] > SG_ID_MAX || p[0] + 1u > v.mv_size) {
            report(c, "%s: malformed entry%s", db_names[db], "");
            continue;
        }
        memcpy(id, p + 1, p[0]);
        id[p[0]] = '\0';
        c->want_db = db;
        c->wk = &k;
        c->wv = &v;
        c->found = false;
        int g;
        if (db == DB_JPOST) {
            sg_job j;
            g = sg_txn_get_job(c->t, id, &j);
            if (g == 0) {
                entries_of_job(&j, match_entry, c);
            }
        } else {
            sg_worker w;
            bool zero = false;
            g = sg_txn_get_worker(c->t, id, &w);
            if (g == 0 && (g = hh_zero(c->t, w.household, &zero)) == 0) {
                entries_of_worker(&w, zero, match_entry, c);
            }
        }
        if (g == SG_ENOTFOUND) {
            report(c, "%s: entry for missing record %s", db_names[db], id);
        } else if (g == 0 && !c->found) {
            report(c, "%s: stale entry for %s", db_names[db], id);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* check_primary walks one primary database: each record must decode and
 * be stored under its own id, and each entry it implies must exist. */
static int check_primary(check *c, int db)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[db], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val k, v;
    int ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char key[SG_ID_MAX + 1] = "";
        memcpy(key, k.mv_data, k.mv_size < SG_ID_MAX ? k.mv_size : SG_ID_MAX);
        sg_worker w;
        sg_job j;
        const char *id;
        if (db == DB_WORKERS) {
            ret = sg_worker_decode(v.mv_data, v.mv_size, NULL, &w, NULL);
            id = w.id;
        } else {
            ret = sg_job_decode(v.mv_data, v.mv_size, &j, NULL);
            id = j.id;
        }
        if (ret != 0) {
            report(c, "%s: record %s does not decode", db_names[db], key);
            ret = 0;
            continue;
        }
        if (strlen(id) != k.mv_size || memcmp(id, k.mv_data, k.mv_size)) {
            report(c, "%s: record stored under another id: %s", db_names[db],
                   key);
        }
        c->owner = id;
        bool zero = false;
        ret = db == DB_WORKERS
                  ? hh_zero(c->t, w.household, &zero) != 0
                        ? SG_ECORRUPT
                        : entries_of_worker(&w, zero, expect_entry, c)
                  : entries_of_job(&j, expect_entry, c);
    }
    mdb_cursor_close(cur);
    if (ret != 0) {
        return ret;
    }
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* check_events walks the log: each event decodes, is stored under its own
 * seq, is not past the counter, and its inbox entry exists. */
static int check_events(check *c)
{
    uint64_t last;
    int rc = sg_txn_last_seq(c->t, &last);
    if (rc != 0) {
        return rc;
    }
    MDB_cursor *cur;
    rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[DB_EVENTS], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    sg_buf tmp;
    sg_buf_init(&tmp);
    MDB_val k, v;
    int ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[32];
        sg_event ev;
        snprintf(name, sizeof(name), "event %llu",
                 k.mv_size == 8 ? (unsigned long long)be64_get(k.mv_data)
                                : 0ULL);
        if (k.mv_size != 8 || decode_event(v.mv_data, v.mv_size, &tmp,
                                           &ev) != 0) {
            report(c, "events: %s does not decode%s", name, "");
            continue;
        }
        if (ev.seq != be64_get(k.mv_data)) {
            report(c, "events: %s stored under another seq%s", name, "");
        }
        if (ev.seq > last) {
            report(c, "events: %s is past the counter%s", name, "");
        }
        c->owner = name;
        ret = entries_of_event(&ev, expect_entry, c);
    }
    mdb_cursor_close(cur);
    sg_buf_free(&tmp);
    if (ret != 0) {
        return ret;
    }
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* check_inbox: every inbox entry is implied by the event it names. */
static int check_inbox(check *c)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[DB_INBOX], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    sg_buf tmp;
    sg_buf_init(&tmp);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        char id[SG_ID_MAX + 1] = "";
        if (k.mv_size < 10 || k.mv_size > INBOX_KEY_MAX ||
            p[k.mv_size - 9] != 0 || v.mv_size != 0) {
            report(c, "inbox: malformed entry%s%s", "", "");
            continue;
        }
        memcpy(id, p, k.mv_size - 9);
        id[k.mv_size - 9] = '\0';
        MDB_val ek = {8, (void *)(p + k.mv_size - 8)}, ev_val;
        sg_event ev;
        int g = mdb_get(c->t->txn, c->t->s->dbi[DB_EVENTS], &ek, &ev_val);
        if (g != 0 || decode_event(ev_val.mv_data, ev_val.mv_size, &tmp,
                                   &ev) != 0) {
            report(c, "inbox: entry for missing event (worker %s)%s", id, "");
            continue;
        }
        c->want_db = DB_INBOX;
        c->wk = &k;
        c->wv = &v;
        c->found = false;
        entries_of_event(&ev, match_entry, c);
        if (!c->found) {
            report(c, "inbox: stale entry for %s%s", id, "");
        }
    }
    mdb_cursor_close(cur);
    sg_buf_free(&tmp);
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* check_creds: key records decode, sit under their own hash and have
 * their id entry; id entries name a key that carries that id; tokens
 * decode under their own id and share no id with a key. */
static int check_creds(check *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[DB_KEYS], &cur);
    int ret = 0;
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sg_cred cr;
        if (cred_unpack(v.mv_data, v.mv_size, &cr) != 0 || cr.token ||
            k.mv_size != SG_CRED_HASH_LEN ||
            memcmp(k.mv_data, cr.hash, SG_CRED_HASH_LEN) != 0) {
            report(c, "keys: malformed record%s%s", "", "");
            continue;
        }
        c->owner = cr.id;
        ret = entries_of_key(&cr, expect_entry, c);
    }
    mdb_cursor_close(cur);
    if (ret != 0 || (rc != MDB_NOTFOUND && rc != 0)) {
        return ret != 0 ? ret : sg__err_mdb(rc);
    }
    rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[DB_KEYIDS], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[SG_CRED_ID_LEN + 1] = "";
        memcpy(id, k.mv_data,
               k.mv_size < SG_CRED_ID_LEN ? k.mv_size : SG_CRED_ID_LEN);
        sg_cred cr;
        uint8_t hash[SG_CRED_HASH_LEN];
        if (v.mv_size != SG_CRED_HASH_LEN) {
            report(c, "keyids: malformed entry for %s%s", id, "");
            continue;
        }
        memcpy(hash, v.mv_data, sizeof(hash));
        if (sg_txn_key_get(c->t, hash, &cr) != 0) {
            report(c, "keyids: entry for missing key %s%s", id, "");
        } else if (k.mv_size != SG_CRED_ID_LEN ||
                   memcmp(k.mv_data, cr.id, SG_CRED_ID_LEN) != 0) {
            report(c, "keyids: stale entry for %s%s", id, "");
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        return sg__err_mdb(rc);
    }
    rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[DB_TOKENS], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sg_cred cr;
        MDB_val kv;
        if (cred_unpack(v.mv_data, v.mv_size, &cr) != 0 || !cr.token ||
            k.mv_size != SG_CRED_ID_LEN ||
            memcmp(k.mv_data, cr.id, SG_CRED_ID_LEN) != 0) {
            report(c, "tokens: malformed record%s%s", "", "");
        } else if (mdb_get(c->t->txn, c->t->s->dbi[DB_KEYIDS], &k, &kv) ==
                   0) {
            report(c, "tokens: id %s is also a key%s", cr.id, "");
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* check_pushed: every pushed set belongs to a job that exists. */
static int check_pushed(check *c)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->t->txn, c->t->s->dbi[DB_PUSHED], &cur);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
        char id[SG_ID_MAX + 1] = "";
        memcpy(id, k.mv_data, k.mv_size < SG_ID_MAX ? k.mv_size : SG_ID_MAX);
        MDB_val jv;
        if (mdb_get(c->t->txn, c->t->s->dbi[DB_JOBS], &k, &jv) != 0) {
            report(c, "pushed: set of missing job %s%s", id, "");
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

int sg_store_check(sg_store *s, sg_check_cb cb, void *arg)
{
    sg_txn *t;
    int rc = sg_txn_begin(s, false, &t);
    if (rc != 0) {
        return rc;
    }
    check c = {.t = t, .cb = cb, .arg = arg};
    /* Forward: records decode, and each implies entries that exist. */
    rc = check_primary(&c, DB_WORKERS);
    if (rc == 0) {
        rc = check_primary(&c, DB_JOBS);
    }
    /* Backward: every index entry is implied by the record it names. */
    for (int db = DB_JPOST; db <= DB_WREGION && rc == 0; db++) {
        rc = check_backward(&c, db);
    }
    /* The events log and its inboxes, credentials, pushed sets. */
    if (rc == 0) {
        rc = check_events(&c);
    }
    if (rc == 0) {
        rc = check_inbox(&c);
    }
    if (rc == 0) {
        rc = check_creds(&c);
    }
    if (rc == 0) {
        rc = check_pushed(&c);
    }
    sg_txn_abort(t);
    if (rc != 0) {
        return rc;
    }
    return c.problems > INT_MAX ? INT_MAX : (int)c.problems;
}

/* ---- Data versions (the gateway's response cache). ----
 * The version of the data is LMDB's transaction id: it goes up by one
 * with every commit that changes something, in this process or another
 * (the CLI), and a read transaction sees exactly the data of its id. */

uint64_t sg_txn_version(sg_txn *t)
{
    return (uint64_t)mdb_txn_id(t->txn);
}

int sg_store_version(sg_store *s, uint64_t *v)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    *v = (uint64_t)info.me_last_txnid;
    return 0;
}

int sg_txn_cred_get(sg_txn *t, const char *id, sg_cred *out)
{
    return cred_by_id(t, id, out);
}
