/* matcher/store.c -- the LMDB store's environment: open and close, the
 * key files, the schema and layout checks with the upgrades that rebuild
 * an older store's indexes, transactions, data versions, and the one
 * translation of LMDB's codes (sg__err_mdb).  Records, events, credentials
 * and the check live in store_records.c, store_events.c, store_creds.c and
 * store_check.c, sharing store_int.h, so each concern reads on its own.
 * Only store.c and the store_*.c files include <lmdb.h>.  LMDB serialises
 * writers (the service's one writer thread, or the CLI); read transactions
 * may run in any thread (MDB_NOTLS). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

/* LAYOUT numbers the layout of the posting indexes (meta "layout"): from
 * 3 on, worker postings are keyed by home village, so a job's query reads
 * its candidates nearest first, and views have a fixed-offset block
 * (matcher/view.c); from 4 on, a worker's view says whether its household
 * has nobody employed; from 5 on, worker posting keys carry the priority
 * bits, so a job's query reads the workers who could score most first;
 * from 6 on, job views are variable-length (a third shorter: a worker's
 * query reads fewer bytes); from 7 on, a job view begins with its top
 * wage as a sort key, so a posting key's jobs come best paid first and a
 * worker's query stops where the wage cannot lift a pair into its top K;
 * from 8 on, a worker posting key's priority byte also says whether the
 * worker has a position, so a job's query passes over the workers who
 * cannot earn distance points as whole ranges; from 9 on, a job is also
 * posted under the cell (half a degree square) of each positioned site,
 * so that a worker's query reads the outer rings' jobs that can earn
 * distance points apart from those that cannot.  Older stores have their
 * postings rebuilt at their first writable open. */
#define LAYOUT 9

#define DEFAULT_MAPSIZE ((size_t)64 << 30)

/* sg__err_mdb translates an LMDB return code: the only translation of
 * LMDB's codes, shared by every store file. */
int sg__err_mdb(int rc)
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
    t->own = txn;
    t->write = write;
    t->post[0] = t->post[1] = NULL;
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
    t->own = txn;
    t->write = true;
    t->post[0] = t->post[1] = NULL;
    *out = t;
    return 0;
}

sg_store *sg_txn_store(sg_txn *t)
{
    return t->s;
}

/* close_posts closes the posting cursors the transaction kept (a write
 * transaction's would be freed by LMDB at its end; closed here first, so
 * that both kinds end alike). */
static void close_posts(sg_txn *t)
{
    for (int i = 0; i < 2; i++) {
        if (t->post[i] != NULL) {
            mdb_cursor_close(t->post[i]);
        }
    }
}

int sg_txn_commit(sg_txn *t)
{
    close_posts(t);
    int rc = sg__err_mdb(mdb_txn_commit(t->txn));
    free(t);
    return rc;
}

void sg_txn_abort(sg_txn *t)
{
    if (t == NULL) {
        return;
    }
    close_posts(t);
    mdb_txn_abort(t->txn);
    free(t);
}

/* ---- Writing index entries, and nested transactions. ---- */

int sg__add_entry(void *arg, int db, const void *k, size_t kl, const void *v,
                  size_t vl)
{
    sg_txn *t = arg;
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    unsigned fl = db_dup[db] ? MDB_NODUPDATA : 0;
    return sg__err_mdb(mdb_put(t->txn, t->s->dbi[db], &key, &val, fl));
}

int sg__del_entry(void *arg, int db, const void *k, size_t kl, const void *v,
                  size_t vl)
{
    sg_txn *t = arg;
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    int rc = mdb_del(t->txn, t->s->dbi[db], &key, db_dup[db] ? &val : NULL);
    /* A missing entry here means the store was already inconsistent;
     * removing what is there and rewriting heals it. */
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}

/* sg__nested runs fn inside a child transaction of t, so that a failure
 * leaves nothing of it behind while t goes on. */
int sg__nested(sg_txn *t, int (*fn)(sg_txn *, const void *, sg_error *),
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

/* ---- Layout upgrades: indexes re-derived from the records. ---- */

/* rederive gives add every index entry each record implies (add keeps
 * the ones it rebuilds): the upgrades of older stores. */
static int rederive(sg_store *s, MDB_txn *txn, entry_cb add)
{
    /* own NULL: no cursor kept, since t is never ended as an sg_txn. */
    sg_txn t = {s, txn, true, NULL, {NULL, NULL}};
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
                    (ret = sg__hh_zero(&t, w.household, &zero)) == 0) {
                    ret = sg__entries_of_worker(&w, zero, add, &t);
                }
            } else if (sg_job_decode(v.mv_data, v.mv_size, &j, NULL) ==
                       0) {
                ret = sg__entries_of_job(&j, add, &t);
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
    return rc != 0 ? sg__err_mdb(rc) : rederive(s, txn, sg__add_posting);
}

static int add_wregion(void *arg, int db, const void *k, size_t kl,
                       const void *v, size_t vl)
{
    return db == DB_WREGION ? sg__add_entry(arg, db, k, kl, v, vl) : 0;
}

/* rebuild_wregion adds the region entry of every worker (upgrade). */
static int rebuild_wregion(sg_store *s, MDB_txn *txn)
{
    return rederive(s, txn, add_wregion);
}

/* ---- Data versions (the gateway's response cache). ----
 * The version of the data is LMDB's transaction id: it goes up by one
 * with every commit that changes something, in this process or another
 * (the CLI), and a read transaction sees exactly the data of its id. */

uint64_t sg_txn_version(sg_txn *t)
{
    return (uint64_t)mdb_txn_id(t->txn);
}

static volatile uint8_t prewarm_sink;

int sg_store_prewarm(sg_store *s, uint64_t *bytes)
{
    /* Every entry of every database read once, a byte of each page of a
     * value that spans pages: the pages are read from the file if they
     * were not cached, and mapped into this process. */
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return sg__err_mdb(rc);
    }
    uint64_t n = 0;
    uint8_t sum = 0;
    for (int db = 0; db < DB__COUNT && rc == 0; db++) {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, s->dbi[db], &c)) != 0) {
            break;
        }
        MDB_val k, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            const volatile uint8_t *p = v.mv_data;
            for (size_t off = 0; off < v.mv_size; off += 4096) {
                sum ^= p[off];
            }
            n += k.mv_size + v.mv_size;
        }
        mdb_cursor_close(c);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    mdb_txn_abort(txn);
    prewarm_sink = sum;
    *bytes = n;
    return sg__err_mdb(rc);
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
