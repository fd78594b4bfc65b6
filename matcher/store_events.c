/* matcher/store_events.c -- the event log, each worker's inbox derived
 * from it, and the pushed sets (job -> the workers it was pushed to).
 * Events are keyed by a big-endian sequence so the log reads in order
 * from any point; an inbox entry is derived from its event by
 * sg__entries_of_event() and written in the same transaction, so the
 * two never disagree.  An append writes straight into the caller's
 * transaction (a push appends dozens per job write, and a nested
 * transaction each copied every page the caller had dirtied): the only
 * ways it fails are the store's, after which the caller aborts.  Appends run in the write transaction (the
 * service's writer thread, or the CLI); reads in any thread. */
#include <string.h>

#include "songgang/msg.h"
#include "store_int.h"

/* ---- Events: a global log, and each worker's inbox derived from it. ---- */

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

int sg__entries_of_event(const sg_event *ev, entry_cb cb, void *arg)
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

/* sg__decode_event decodes one stored event (a msgpack map) by reading it
 * as the one element of an array in tmp; ev->data then points into tmp. */
int sg__decode_event(const uint8_t *p, size_t n, sg_buf *tmp, sg_event *ev)
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
    /* Seqs only grow, so the log is appended to; a seq at or below the
     * last logged one means the counter is behind the log. */
    int mrc = mdb_put(t->txn, t->s->dbi[DB_EVENTS], &k, &v, MDB_APPEND);
    int rc = mrc == MDB_KEYEXIST ? SG_ECORRUPT : sg__err_mdb(mrc);
    if (rc == 0) {
        rc = sg__entries_of_event(ev, sg__add_entry, t);
        rc = rc == SG_EEXIST ? SG_ECORRUPT : rc; /* an inbox entry ahead */
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
    rc = append_event(t, &copy, NULL);
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
        if (k.mv_size != 8 || sg__decode_event(v.mv_data, v.mv_size, &tmp,
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
        if (sg__decode_event(ev_val.mv_data, ev_val.mv_size, &tmp, &ev) != 0) {
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
    return sg__each_owner(t, DB_PUSHED, job, strlen(job), false, cb, arg);
}

int sg_txn_pushed_clear(sg_txn *t, const char *job)
{
    MDB_val k = {strlen(job), (void *)job};
    int rc = mdb_del(t->txn, t->s->dbi[DB_PUSHED], &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : sg__err_mdb(rc);
}
