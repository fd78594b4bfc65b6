/* matcher/store_check.c -- sg_store_check: proves that the indexes are
 * exactly what the records imply.  Forward, every entry derived from every
 * record must exist; backward, every entry that exists must be derived
 * from the record it names; the event log, inboxes, credentials and pushed
 * sets are checked the same way.  It re-derives entries with the same
 * functions the writers use, so it checks what they write, not a copy of
 * the rules.  It runs in one read transaction, in the caller's thread. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "store_int.h"

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
        char id[SG_ID_MAX + 1] = "";
        if (!sg__view_id(db == DB_JPOST, v.mv_data, v.mv_size, id)) {
            report(c, "%s: malformed entry%s", db_names[db], "");
            continue;
        }
        c->want_db = db;
        c->wk = &k;
        c->wv = &v;
        c->found = false;
        int g;
        if (db == DB_JPOST) {
            sg_job j;
            g = sg_txn_get_job(c->t, id, &j);
            if (g == 0) {
                sg__entries_of_job(&j, match_entry, c);
            }
        } else {
            sg_worker w;
            bool zero = false;
            g = sg_txn_get_worker(c->t, id, &w);
            if (g == 0 && (g = sg__hh_zero(c->t, w.household, &zero)) == 0) {
                sg__entries_of_worker(&w, zero, match_entry, c);
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
                  ? sg__hh_zero(c->t, w.household, &zero) != 0
                        ? SG_ECORRUPT
                        : sg__entries_of_worker(&w, zero, expect_entry, c)
                  : sg__entries_of_job(&j, expect_entry, c);
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
        if (k.mv_size != 8 || sg__decode_event(v.mv_data, v.mv_size, &tmp,
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
        ret = sg__entries_of_event(&ev, expect_entry, c);
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
        if (g != 0 || sg__decode_event(ev_val.mv_data, ev_val.mv_size, &tmp,
                                   &ev) != 0) {
            report(c, "inbox: entry for missing event (worker %s)%s", id, "");
            continue;
        }
        c->want_db = DB_INBOX;
        c->wk = &k;
        c->wv = &v;
        c->found = false;
        sg__entries_of_event(&ev, match_entry, c);
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
        if (sg__cred_unpack(v.mv_data, v.mv_size, &cr) != 0 || cr.token ||
            k.mv_size != SG_CRED_HASH_LEN ||
            memcmp(k.mv_data, cr.hash, SG_CRED_HASH_LEN) != 0) {
            report(c, "keys: malformed record%s%s", "", "");
            continue;
        }
        c->owner = cr.id;
        ret = sg__entries_of_key(&cr, expect_entry, c);
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
        if (sg__cred_unpack(v.mv_data, v.mv_size, &cr) != 0 || !cr.token ||
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
