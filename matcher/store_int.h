/* matcher/store_int.h -- private to the store files (store.c, store_*.c).
 * The store is split by concern: the environment and transactions
 * (store.c), workers and jobs with their indexes (store_records.c), events
 * and pushed sets (store_events.c), credentials (store_creds.c) and the
 * consistency check (store_check.c).  What they share -- the databases,
 * the two structs and the helpers that derive and write index entries --
 * is declared here, once.  Only the store files include this header, and
 * with it <lmdb.h>; the rest of the matcher sees songgang/store.h. */
#ifndef SG_MATCHER_STORE_INT_H
#define SG_MATCHER_STORE_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

#define INBOX_KEY_MAX (SG_ID_MAX + 1 + 8) /* worker id, NUL, seq */

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
    MDB_txn *own;  /* txn as begun (sg__nested swaps txn for a child) */
    /* Cursors on the posting indexes (DB_JPOST, DB_WPOST), opened in own
     * by the first walk and reused by the next, closed when it ends
     * (post_cursor in store_records.c). */
    MDB_cursor *post[2];
};

/* entry_cb receives one (database, key, value) that a record implies. */
typedef int (*entry_cb)(void *arg, int db, const void *k, size_t kl,
                        const void *v, size_t vl);

/* owner_val writes [len][id], the value of the household and ID indexes. */
static inline size_t owner_val(uint8_t *buf, const char *id)
{
    size_t n = strlen(id);
    buf[0] = (uint8_t)n;
    memcpy(buf + 1, id, n);
    return n + 1;
}

/* be64_put / be64_get: the big-endian 8-byte numbers of event keys and
 * credential times. */
static inline void be64_put(uint8_t *p, uint64_t x)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = x << 8 | p[i];
    }
    return x;
}

/* ---- store.c: LMDB codes, and writing entries in a transaction. ---- */

/* sg__err_mdb translates an LMDB return code: the one place that does. */
int sg__err_mdb(int rc);

/* sg__add_entry / sg__del_entry are the entry_cb that put and remove one
 * index entry in the transaction arg (an sg_txn *). */
int sg__add_entry(void *arg, int db, const void *k, size_t kl, const void *v,
                  size_t vl);
int sg__del_entry(void *arg, int db, const void *k, size_t kl, const void *v,
                  size_t vl);

/* sg__nested runs fn inside a child transaction of t, so that a failure
 * leaves nothing of it behind while t goes on. */
int sg__nested(sg_txn *t, int (*fn)(sg_txn *, const void *, sg_error *),
               const void *rec, sg_error *e);

/* ---- store_records.c: the entries of workers and jobs. ---- */

/* sg__entries_of_worker gives cb every entry that w implies; zero is
 * whether w's household has nobody employed. */
int sg__entries_of_worker(const sg_worker *w, bool zero, entry_cb cb,
                          void *arg);
/* sg__entries_of_job gives cb every posting that j implies. */
int sg__entries_of_job(const sg_job *j, entry_cb cb, void *arg);
/* sg__add_posting is sg__add_entry for the posting entries only. */
int sg__add_posting(void *arg, int db, const void *k, size_t kl,
                    const void *v, size_t vl);
/* sg__hh_zero tells whether household hh has nobody employed now. */
int sg__hh_zero(sg_txn *t, const char *hh, bool *zero);
/* sg__each_owner gives cb the owner id of each [len][id] value of database
 * db under key (a prefix range when prefix is set, else one key's
 * duplicates). */
int sg__each_owner(sg_txn *t, int db, const void *key, size_t klen,
                   bool prefix, sg_id_cb cb, void *arg);

/* ---- store_events.c: the entries of events. ---- */

/* sg__entries_of_event gives cb the inbox entry that ev implies. */
int sg__entries_of_event(const sg_event *ev, entry_cb cb, void *arg);
/* sg__decode_event decodes one stored event; ev->data points into tmp. */
int sg__decode_event(const uint8_t *p, size_t n, sg_buf *tmp, sg_event *ev);

/* ---- store_creds.c: the entries of credentials. ---- */

/* sg__entries_of_key gives cb the id entry that key record c implies. */
int sg__entries_of_key(const sg_cred *c, entry_cb cb, void *arg);
/* sg__cred_unpack decodes a stored credential record of n bytes. */
int sg__cred_unpack(const void *v, size_t n, sg_cred *out);

#endif /* SG_MATCHER_STORE_INT_H */
