/* include/songgang/store.h -- the LMDB store: records and their indexes.
 * A record and every index entry derived from it change in one write
 * transaction, so they never disagree.  One writer at a time; readers never
 * block the writer, and several processes may read one data directory.
 * A commit returns only once the data is durable (fsync'd by LMDB).
 * Functions return 0 or a negative SG_E* (songgang/err.h). */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "songgang/err.h"
#include "songgang/msg.h"   /* sg_event */
#include "songgang/proto.h" /* sg_worker, sg_job */

typedef struct sg_store sg_store; /* opaque: an open data directory */
typedef struct sg_txn sg_txn;     /* opaque: a read or write transaction */

#define SG_STORE_RDONLY 0x1 /* open for reading only (no key is created) */

/* sg_store_open opens or creates the store in dir (created if missing,
 * unless SG_STORE_RDONLY).  At first start it also writes dir/idnum.key,
 * the secret key of ID-number hashes, readable by the owner alone.  On
 * success *out is returned owned (release with sg_store_close). */
int sg_store_open(sg_store **out, const char *dir, unsigned flags);
void sg_store_close(sg_store *s); /* NULL is a no-op */

/* sg_store_idkey returns the ID-number hash key (SG_IDNUM_KEY_LEN bytes),
 * borrowed for the life of s. */
const uint8_t *sg_store_idkey(const sg_store *s);

#define SG_TOKEN_SEED_LEN 32 /* bytes of dir/token.key */

/* sg_store_token_seed returns the Ed25519 seed that signs worker tokens
 * (dir/token.key, 0600, made at the first writable open like idnum.key),
 * borrowed for the life of s; NULL when a read-only open found none. */
const uint8_t *sg_store_token_seed(const sg_store *s);

/* sg_store_bytes sets *bytes to the size of the store's used pages. */
int sg_store_bytes(sg_store *s, uint64_t *bytes);
/* sg_store_prewarm reads every entry of the store once (from the file
 * when it is not cached, and into this process's map), as pg_prewarm
 * loads a PostgreSQL relation, and sets *bytes to the bytes of keys and
 * values read: for a benchmark, so that neither side of a comparison
 * starts cold. */
int sg_store_prewarm(sg_store *s, uint64_t *bytes);

/* Data versions.  The version of the data is LMDB's transaction id: every
 * commit that changes something raises it (a commit that changes nothing
 * does not), whichever process commits.  The gateway's response cache
 * keys on it (docs/protocol.md).
 * sg_store_version sets *v to the id of the last commit, by this process
 * or any other: 0 or SG_EIO.
 * sg_txn_version returns, for a read transaction, the id of the commit
 * whose data it sees; for a write transaction (or a child of one) the id
 * its commit will get if it changes something -- a commit that changes
 * nothing leaves the store's version where it was. */
int sg_store_version(sg_store *s, uint64_t *v);
uint64_t sg_txn_version(sg_txn *t);

/* sg_txn_begin starts a transaction; only one write transaction runs at a
 * time (a second writer waits).  *out is returned owned: end it with
 * sg_txn_commit or sg_txn_abort. */
int sg_txn_begin(sg_store *s, bool write, sg_txn **out);
/* sg_txn_begin_nested starts a child of write transaction parent: its
 * writes join parent's on sg_txn_commit, or vanish on sg_txn_abort.  The
 * parent must not be used until the child ends. */
int sg_txn_begin_nested(sg_txn *parent, sg_txn **out);
/* sg_txn_store returns the store t belongs to (borrowed). */
sg_store *sg_txn_store(sg_txn *t);
/* sg_txn_commit commits (durably, for a write) and frees t in every case. */
int sg_txn_commit(sg_txn *t);
/* sg_txn_abort discards t's writes and frees it; NULL is a no-op. */
void sg_txn_abort(sg_txn *t);

/* sg_txn_put_worker upserts w (borrowed) with all its index entries, in t
 * itself.  A refused record -- SG_EINVAL (an invalid field) or SG_EEXIST
 * (field "id_number": another worker holds the same ID number) -- leaves
 * nothing written and t usable.  Any other error is the store's and may
 * leave part of the write in t: the caller must abort t. */
int sg_txn_put_worker(sg_txn *t, const sg_worker *w, sg_error *e);
/* sg_txn_put_job upserts j (borrowed), with the same errors as
 * put_worker (SG_EINVAL refused; any other: abort t). */
int sg_txn_put_job(sg_txn *t, const sg_job *j, sg_error *e);

/* sg_txn_get_worker / sg_txn_get_job read a record into *out (written
 * only on success): 0, SG_ENOTFOUND or SG_ECORRUPT. */
int sg_txn_get_worker(sg_txn *t, const char *id, sg_worker *out);
int sg_txn_get_job(sg_txn *t, const char *id, sg_job *out);

/* sg_txn_del_worker / sg_txn_del_job delete a record and its index
 * entries: 0 or SG_ENOTFOUND. */
int sg_txn_del_worker(sg_txn *t, const char *id);
int sg_txn_del_job(sg_txn *t, const char *id);

/* sg_txn_close_job sets a job's state to closed (idempotent). */
int sg_txn_close_job(sg_txn *t, const char *id);

/* Iteration in id order; a callback returning non-zero stops the walk and
 * that value is returned.  Records are borrowed for the callback only. */
typedef int (*sg_worker_cb)(void *arg, const sg_worker *w);
typedef int (*sg_job_cb)(void *arg, const sg_job *j);
int sg_txn_each_worker(sg_txn *t, sg_worker_cb cb, void *arg);
int sg_txn_each_job(sg_txn *t, sg_job_cb cb, void *arg);

/* sg_txn_household_employed sets *any to whether some member of household
 * hh holds an employed status (sg_status_is_employed). */
int sg_txn_household_employed(sg_txn *t, const char *hh, bool *any);

/* sg_store_counts gives the number of workers and jobs. */
int sg_txn_counts(sg_txn *t, size_t *workers, size_t *jobs);

/* sg_store_check verifies every index entry against the primary records,
 * both ways.  Each disagreement is reported to cb (may be NULL) as one
 * line; returns 0 when there are none, else the number found (> 0), or a
 * negative SG_E* when the check itself could not run. */
typedef void (*sg_check_cb)(void *arg, const char *problem);
int sg_store_check(sg_store *s, sg_check_cb cb, void *arg);

/* sg_id_cb receives one id (borrowed for the call); non-zero stops. */
typedef int (*sg_id_cb)(void *arg, const char *id);

/* sg_txn_workers_in_region gives cb the id of every worker (seeking or
 * not) whose village code starts with prefix (0-12 digits), in village
 * code order then id order.  It reads one contiguous key range of the
 * region index, so its cost is the number of workers it gives. */
int sg_txn_workers_in_region(sg_txn *t, const char *prefix, sg_id_cb cb,
                             void *arg);

/* ---- Events: the push log (docs/protocol.md "Events"). ----
 * Each event has a global sequence number, from 1, taken from a counter
 * in the same write transaction as the event, so numbers are committed
 * with their events and readers see them in order.  Each event also
 * implies one inbox entry (worker, seq), so one worker's events are read
 * without scanning the log; sg_store_check verifies both ways. */

/* sg_txn_event_append appends ev (borrowed; its seq is ignored) in write
 * transaction t and sets *seq to the number it got.  SG_EINVAL for empty
 * data (nothing written); any other error is the store's and may leave
 * part of the event in t, which the caller must then abort. */
int sg_txn_event_append(sg_txn *t, const sg_event *ev, uint64_t *seq);
/* sg_txn_last_seq sets *seq to the last number given (0 when none). */
int sg_txn_last_seq(sg_txn *t, uint64_t *seq);

/* sg_event_raw_cb receives one event, decoded (ev) and as the stored
 * msgpack map (raw, n); both are borrowed for the call only.  Non-zero
 * stops the walk and is returned. */
typedef int (*sg_event_raw_cb)(void *arg, const sg_event *ev,
                               const uint8_t *raw, size_t n);
/* sg_txn_events_after walks the global log from seq after + 1 upwards. */
int sg_txn_events_after(sg_txn *t, uint64_t after, sg_event_raw_cb cb,
                        void *arg);
/* sg_txn_inbox_after walks the events for worker with seq > after, in seq
 * order (through its inbox entries). */
int sg_txn_inbox_after(sg_txn *t, const char *worker, uint64_t after,
                       sg_event_raw_cb cb, void *arg);

/* ---- Pushed sets: the workers each job was pushed to (for `removed`). */

/* sg_txn_pushed_add records that job was pushed to worker (idempotent). */
int sg_txn_pushed_add(sg_txn *t, const char *job, const char *worker);
/* sg_txn_pushed_each gives cb each worker job was pushed to, in an order
 * of their own; cb must not change the set. */
int sg_txn_pushed_each(sg_txn *t, const char *job, sg_id_cb cb, void *arg);
/* sg_txn_pushed_clear empties job's set (deleting a job does this too). */
int sg_txn_pushed_clear(sg_txn *t, const char *job);

/* ---- Credentials: API keys and worker tokens (matcher/auth.c). ----
 * A key is stored only as the BLAKE2b-256 hash of the whole key, looked
 * up by that hash; its id names it for `key list` and `key revoke`.  A
 * token is signed, so only its id, worker and expiry are stored (to
 * revoke it).  Keys and tokens share one namespace of ids. */

#define SG_CRED_ID_LEN 8    /* lowercase hex digits of an id */
#define SG_CRED_HASH_LEN 32 /* BLAKE2b-256 of a key */

typedef struct sg_cred {
    char id[SG_CRED_ID_LEN + 1];   /* 8 lowercase hex digits */
    bool token;                    /* a worker token (else an API key) */
    uint8_t role;                  /* enum sg_role (songgang/auth.h) */
    char scope[SG_REGION_LEN + 1]; /* region prefix; "" = everywhere */
    char employer[SG_ID_MAX + 1];  /* employer role: its employer id */
    char worker[SG_ID_MAX + 1];    /* token: its worker id */
    int64_t created;               /* unix seconds */
    int64_t expires;               /* unix seconds; 0 = never */
    bool revoked;                  /* revoked by id */
    uint8_t hash[SG_CRED_HASH_LEN]; /* key: hash of the key; token: 0 */
} sg_cred;

/* sg_txn_cred_add stores a new key or token record c (borrowed):
 * SG_EEXIST when its id (or a key's hash) is taken, SG_EINVAL for a bad
 * id.  Atomic like a put. */
int sg_txn_cred_add(sg_txn *t, const sg_cred *c);
/* sg_txn_key_get reads the key record stored under hash into *out:
 * 0, SG_ENOTFOUND or SG_ECORRUPT. */
int sg_txn_key_get(sg_txn *t, const uint8_t hash[SG_CRED_HASH_LEN],
                   sg_cred *out);
/* sg_txn_token_get reads the token record with id into *out, likewise. */
int sg_txn_token_get(sg_txn *t, const char *id, sg_cred *out);
/* sg_txn_cred_get reads the key or token record with id into *out (for
 * its expiry): 0, SG_ENOTFOUND or SG_ECORRUPT. */
int sg_txn_cred_get(sg_txn *t, const char *id, sg_cred *out);
/* sg_txn_cred_revoke marks the key or token with id revoked (idempotent):
 * 0 or SG_ENOTFOUND. */
int sg_txn_cred_revoke(sg_txn *t, const char *id);
/* sg_txn_cred_each gives cb every key (in id order), then every token;
 * records are borrowed for the call, non-zero stops the walk. */
typedef int (*sg_cred_cb)(void *arg, const sg_cred *c);
int sg_txn_cred_each(sg_txn *t, sg_cred_cb cb, void *arg);

/* ---- Postings: the indexes that matching reads (matcher internal). ----
 * Each posting value carries a compact view of its record (matcher/view.c)
 * so that a query scores candidates without decoding records. */

/* sg_txn_job_postings walks the open jobs posted under (labor class,
 * region prefix of plen digits (0..12), anchor skill (0 = none)), giving
 * each view's bytes to cb (borrowed for the call), in the order of the
 * bytes: the best paid first.  cb returns 0 to go on, SG_WALK_NEXT to
 * leave the entries of this posting key (the rest of a job walk; a worker
 * range goes on at its next village), anything else to stop with it. */
typedef int (*sg_posting_cb)(void *arg, const uint8_t *v, size_t n);
#define SG_WALK_NEXT 1
int sg_txn_job_postings(sg_txn *t, int labor_class, const char *prefix,
                        int plen, sg_skill anchor, sg_posting_cb cb,
                        void *arg);
/* sg_txn_job_cell walks, as sg_txn_job_postings does, the open jobs of
 * labor class posted under anchor with a positioned site in cell (a
 * square of half a degree, numbered by the matcher). */
int sg_txn_job_cell(sg_txn *t, int labor_class, uint32_t cell,
                    sg_skill anchor, sg_posting_cb cb, void *arg);
/* sg_txn_worker_range walks the seeking workers posted under (labor class,
 * travel, skill (0 = all), priority bits prio (1: monitored and at risk,
 * 2: household with nobody employed, 4: has a position)) whose home village starts with the
 * first plen digits of region, except -- when skip is non-zero (plen <
 * skip <= 12) -- those whose village starts with its first skip digits:
 * the workers of one ring around a place, nearest rings being separate
 * calls. */
int sg_txn_worker_range(sg_txn *t, int labor_class, int travel,
                        sg_skill skill, int prio, const char *region,
                        int plen, int skip, sg_posting_cb cb, void *arg);

#endif /* SG_STORE_H */
