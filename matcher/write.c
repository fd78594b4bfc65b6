/* matcher/write.c -- the one write path (songgang/write.h): store, index
 * and push each kind of record write, for the API's handlers and the
 * `songgang` command alike.  A write and its pushes run in the caller's
 * write transaction; the store makes each record write atomic on its own
 * (store.c), and a push that fails fails the whole transaction, so an
 * event exists exactly when its cause is committed.  With SG_WRITE_NO_PUSH
 * the stored record is not even read first: the bulk import pays for the
 * store and its indexes only.  Runs on the thread that owns the write
 * transaction (the service's writer, or the CLI). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "songgang/write.h"

void sg_write_init(sg_write *wr, sg_txn *t, unsigned flags, int push_top,
                   const sg_weights *w)
{
    memset(wr, 0, sizeof(*wr));
    wr->t = t;
    wr->flags = flags;
    wr->push_top = push_top > 0 ? push_top : SG_WRITE_PUSH_TOP;
    if (wr->push_top > SG_MATCH_LIMIT_MAX) {
        wr->push_top = SG_MATCH_LIMIT_MAX;
    }
    wr->w = w;
    wr->as_of = sg_today();
}

static bool pushing(const sg_write *wr)
{
    return (wr->flags & SG_WRITE_NO_PUSH) == 0;
}

/* push_of is the push state of one call; done hands its last seq back. */
static sg__push push_of(const sg_write *wr)
{
    sg__push p = {.t = wr->t,
                  .top = wr->push_top,
                  .w = wr->w,
                  .as_of = wr->as_of,
                  .last_seq = wr->last_seq};
    return p;
}

static int done(sg_write *wr, const sg__push *p, int rc)
{
    if (p->last_seq > wr->last_seq) {
        wr->last_seq = p->last_seq;
    }
    return rc;
}

int sg_write_worker_over(sg_write *wr, const sg_worker *old,
                         const sg_worker *w, sg_error *e)
{
    int rc = sg_txn_put_worker(wr->t, w, e);
    if (rc != 0 || !pushing(wr)) {
        return rc;
    }
    sg__push p = push_of(wr);
    return done(wr, &p, sg__push_worker(&p, old, w));
}

int sg_write_job_over(sg_write *wr, const sg_job *old, const sg_job *j,
                      sg_error *e)
{
    int rc = sg_txn_put_job(wr->t, j, e);
    if (rc != 0 || !pushing(wr)) {
        return rc;
    }
    sg__push p = push_of(wr);
    return done(wr, &p, sg__push_job(&p, old, j));
}

int sg_write_worker(sg_write *wr, const sg_worker *w, sg_error *e)
{
    if (!pushing(wr)) {
        return sg_write_worker_over(wr, NULL, w, e);
    }
    sg_worker old;
    int rc = sg_txn_get_worker(wr->t, w->id, &old);
    if (rc != 0 && rc != SG_ENOTFOUND) {
        return rc;
    }
    return sg_write_worker_over(wr, rc == 0 ? &old : NULL, w, e);
}

int sg_write_job(sg_write *wr, const sg_job *j, sg_error *e)
{
    if (!pushing(wr)) {
        return sg_write_job_over(wr, NULL, j, e);
    }
    sg_job old;
    int rc = sg_txn_get_job(wr->t, j->id, &old);
    if (rc != 0 && rc != SG_ENOTFOUND) {
        return rc;
    }
    return sg_write_job_over(wr, rc == 0 ? &old : NULL, j, e);
}

int sg_write_close_job(sg_write *wr, const char *id, sg_job *out)
{
    sg_job old, closed;
    int rc = sg_txn_get_job(wr->t, id, &old);
    if (rc != 0) {
        return rc;
    }
    closed = old;
    if (old.state != SG_JOB_CLOSED) {
        closed.state = SG_JOB_CLOSED;
        if ((rc = sg_write_job_over(wr, &old, &closed, NULL)) != 0) {
            return rc;
        }
    }
    if (out != NULL) {
        *out = closed;
    }
    return 0;
}

int sg_write_delete_job(sg_write *wr, const char *id)
{
    /* An already closed job may still have a pushed set (closed with the
     * pushes off): tell those before the set goes with the job. */
    sg_job j;
    int rc = sg_write_close_job(wr, id, &j);
    if (rc == 0 && pushing(wr)) {
        sg__push p = push_of(wr);
        rc = done(wr, &p, sg__push_job(&p, NULL, &j));
    }
    return rc != 0 ? rc : sg_txn_del_job(wr->t, id);
}

int sg_write_delete_worker(sg_write *wr, const char *id)
{
    return sg_txn_del_worker(wr->t, id);
}

/* ---- Import lines. ---- */


/* line_error tells whether a write's error is the line's (it is rejected,
 * nothing of it written) rather than the store's. */
static bool line_error(int rc)
{
    return rc == SG_EINVAL || rc == SG_EEXIST || rc == SG_ETOOBIG;
}

static int import_worker(sg_write *wr, const sg_worker *w, sg_error *e)
{
    const char *scope = wr->scope != NULL ? wr->scope : "";
    if (!pushing(wr) && scope[0] == '\0') {
        return sg_write_worker_over(wr, NULL, w, e);
    }
    sg_worker old;
    int rc = sg_txn_get_worker(wr->t, w->id, &old);
    if (rc != 0 && rc != SG_ENOTFOUND) {
        return rc;
    }
    /* A scoped caller's lines stay inside its scope, both ways. */
    if (rc == 0 && !sg__under(old.region, scope)) {
        return sg_error_set(e, SG_EINVAL, "id", "not in your scope");
    }
    if (!sg__under(w->region, scope)) {
        return sg_error_set(e, SG_EINVAL, "region", "outside your scope");
    }
    return sg_write_worker_over(wr, rc == 0 ? &old : NULL, w, e);
}

static int import_job(sg_write *wr, const sg_job *j, sg_error *e)
{
    const char *scope = wr->scope != NULL ? wr->scope : "";
    if (!pushing(wr) && scope[0] == '\0') {
        return sg_write_job_over(wr, NULL, j, e);
    }
    sg_job old;
    int rc = sg_txn_get_job(wr->t, j->id, &old);
    if (rc != 0 && rc != SG_ENOTFOUND) {
        return rc;
    }
    if (rc == 0 && !sg__job_under(&old, scope)) {
        return sg_error_set(e, SG_EINVAL, "id", "not in your scope");
    }
    if (!sg__job_under(j, scope)) {
        return sg_error_set(e, SG_EINVAL, "sites",
                            "no site is under your scope");
    }
    return sg_write_job_over(wr, rc == 0 ? &old : NULL, j, e);
}

int sg_write_import_line(sg_write *wr, const char *line, size_t len,
                         sg_kind want, const uint8_t *idkey, sg_kind *kind,
                         sg_error *e)
{
    sg_worker w;
    sg_job j;
    sg_kind k;
    int rc = sg_json_decode(line, len, want, idkey, &k, &w, &j, e);
    if (rc != 0) {
        return 1; /* a line that does not decode is the line's fault */
    }
    if (kind != NULL) {
        *kind = k;
    }
    rc = k == SG_KIND_WORKER ? import_worker(wr, &w, e)
                             : import_job(wr, &j, e);
    if (rc == 0) {
        return 0;
    }
    if (e != NULL && e->reason[0] == '\0') {
        snprintf(e->reason, sizeof(e->reason), "%s", sg_strerror(rc));
    }
    return line_error(rc) ? 1 : rc;
}
