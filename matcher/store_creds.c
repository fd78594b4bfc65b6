/* matcher/store_creds.c -- credentials: API keys (stored by the hash of
 * the key, never the key) and worker tokens (by id), in one id namespace.
 * A key's id entry is derived from its record by sg__entries_of_key() and
 * written in the same nested transaction, so revoking by id always finds
 * the record.  Records are a fixed 135-byte layout, checked field by field
 * on the way in.  Writes run in the write transaction (the service's
 * writer thread, or the CLI); reads in any thread. */
#include <stdbool.h>
#include <string.h>

#include "store_int.h"

/* ---- Credentials: API keys (by hash) and worker tokens (by id). ----
 * A record is 135 bytes: version 1, flags (1 revoked, 2 token), role,
 * id (8), scope (12), employer (32), worker (32), created and expires
 * (8 each, big-endian), hash (32); strings are NUL-padded. */

#define CRED_LEN 135    /* bytes of a packed credential record */

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

int sg__cred_unpack(const void *v, size_t n, sg_cred *out)
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

int sg__entries_of_key(const sg_cred *c, entry_cb cb, void *arg)
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
        rc = sg__cred_unpack(old.mv_data, old.mv_size, &oc);
        if (rc == 0) {
            rc = sg__entries_of_key(&oc, sg__del_entry, t);
        }
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
    }
    if (rc == 0) {
        rc = sg__err_mdb(mdb_put(t->txn, t->s->dbi[DB_KEYS], &k, &v, 0));
    }
    if (rc == 0) {
        rc = sg__entries_of_key(c, sg__add_entry, t);
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
    return used ? SG_EEXIST : sg__nested(t, put_cred, c, NULL);
}

int sg_txn_key_get(sg_txn *t, const uint8_t hash[SG_CRED_HASH_LEN],
                   sg_cred *out)
{
    MDB_val k = {SG_CRED_HASH_LEN, (void *)hash}, v;
    int rc = sg__err_mdb(mdb_get(t->txn, t->s->dbi[DB_KEYS], &k, &v));
    return rc != 0 ? rc : sg__cred_unpack(v.mv_data, v.mv_size, out);
}

int sg_txn_token_get(sg_txn *t, const char *id, sg_cred *out)
{
    if (!cred_id_ok(id)) {
        return SG_ENOTFOUND;
    }
    MDB_val k = {SG_CRED_ID_LEN, (void *)id}, v;
    int rc = sg__err_mdb(mdb_get(t->txn, t->s->dbi[DB_TOKENS], &k, &v));
    return rc != 0 ? rc : sg__cred_unpack(v.mv_data, v.mv_size, out);
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
    return sg__nested(t, put_cred, &c, NULL);
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
            ret = sg__cred_unpack(v.mv_data, v.mv_size, &cr);
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

int sg_txn_cred_get(sg_txn *t, const char *id, sg_cred *out)
{
    return cred_by_id(t, id, out);
}
