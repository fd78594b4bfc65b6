/* matcher/push.c -- push events: which workers hear about a job write, and
 * a returning worker's fresh list (docs/api.md "Push").
 * Pushes run inside the write transaction of the record write that causes them,
 * so an event exists exactly when its cause was committed, and its seq is
 * committed with it (store_events.c).  The job remembers whom it reached (the
 * pushed set), so closing it can take it back from exactly them.
 * Runs on the thread that owns the write transaction (the service's
 * writer, or the CLI). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "songgang/match.h"
#include "songgang/msg.h"
#include "songgang/store.h"

#define LIST_TOP 20 /* matches in a `list` event */

/* append sends one event of type to worker w (its region rides along for
 * region streams); data is taken (json_decref'd). */
static int append(sg__push *p, const char *type, const sg_worker *w,
                  json_t *data)
{
    /* The recipient rides in the data too: a region stream (an officer's)
     * carries events for many workers. */
    json_object_set_new(data, "worker", json_string(w->id));
    char *text = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(data);
    if (text == NULL) {
        abort(); /* out of memory */
    }
    sg_event ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.type, sizeof(ev.type), "%s", type);
    memcpy(ev.worker, w->id, sizeof(ev.worker));
    memcpy(ev.region, w->region, sizeof(ev.region));
    ev.data = text;
    ev.data_len = strlen(text);
    uint64_t seq;
    int rc = sg_txn_event_append(p->t, &ev, &seq);
    free(text);
    if (rc == 0 && seq > p->last_seq) {
        p->last_seq = seq;
    }
    return rc;
}

static json_t *match_data(const sg_job *j, const sg_match *m,
                          const sg_worker *w)
{
    /* The ranking that chose the recipients ran from the job's side, so its
     * reason speaks of the worker; the worker is told the job's side. */
    char reason[sizeof(m->reason)];
    sg_match_job_reason(m, j, w, reason, sizeof(reason));
    json_t *o = json_object();
    json_object_set_new(o, "job", json_string(j->id));
    json_object_set_new(o, "title", json_string(j->title));
    json_object_set_new(o, "employer", json_string(j->employer));
    json_object_set_new(o, "source",
                        json_string(sg_enum_name(SG_ENUM_SOURCE, j->source)));
    json_object_set_new(o, "score", json_integer(m->score));
    json_object_set_new(o, "tier",
                        json_string(sg_enum_name(SG_ENUM_TRAVEL, m->tier)));
    json_object_set_new(o, "site", json_string(m->site));
    json_object_set_new(
        o, "km", m->has_km ? json_real(round(m->km * 10) / 10) : json_null());
    json_object_set_new(o, "reason", json_string(reason));
    json_object_set_new(o, "wage_min", json_integer(j->wage_min));
    json_object_set_new(o, "wage_max", json_integer(j->wage_max));
    return o;
}

static bool same_job(const sg_job *a, const sg_job *b)
{
    sg_buf x, y;
    sg_buf_init(&x);
    sg_buf_init(&y);
    sg_job_encode(a, &x);
    sg_job_encode(b, &y);
    bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    sg_buf_free(&x);
    sg_buf_free(&y);
    return same;
}

/* removed takes job back from worker id; a worker deleted since has no
 * stream left to tell. */
static int removed(sg__push *p, const char *job, const char *id)
{
    sg_worker w;
    int rc = sg_txn_get_worker(p->t, id, &w);
    if (rc == SG_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    json_t *o = json_object();
    json_object_set_new(o, "job", json_string(job));
    return append(p, "removed", &w, o);
}

int sg__push_job(sg__push *p, const sg_job *old, const sg_job *job)
{
    if (old != NULL && same_job(old, job)) {
        return 0;
    }
    /* Who had it before. */
    sg__ids before = {0};
    int rc = sg_txn_pushed_each(p->t, job->id, sg__ids_add, &before);
    sg_match_list l = {0};
    bool live = job->state == SG_JOB_OPEN && job->openings > 0;
    if (rc == 0 && live) {
        sg_match_opts mo = {.as_of = p->as_of, .limit = p->top, .w = p->w};
        rc = sg_match_job(p->t, job->id, &mo, &l);
    }
    /* Take it back from whoever is no longer among the recipients. */
    for (size_t i = 0; rc == 0 && i < before.n; i++) {
        bool still = false;
        for (size_t k = 0; k < l.n && !still; k++) {
            still = strcmp(l.items[k].id, before.v[i]) == 0;
        }
        if (!still) {
            rc = removed(p, job->id, before.v[i]);
        }
    }
    if (rc == 0) {
        rc = sg_txn_pushed_clear(p->t, job->id);
    }
    /* Send it to each recipient, best first, and remember them. */
    for (size_t k = 0; rc == 0 && k < l.n; k++) {
        sg_worker w;
        rc = sg_txn_get_worker(p->t, l.items[k].id, &w);
        if (rc == 0) {
            rc = append(p, "match", &w, match_data(job, &l.items[k], &w));
        }
        if (rc == 0) {
            rc = sg_txn_pushed_add(p->t, job->id, w.id);
        }
    }
    sg_match_list_free(&l);
    free(before.v);
    return rc;
}

int sg__push_worker(sg__push *p, const sg_worker *old, const sg_worker *w)
{
    if (old == NULL || old->status == w->status ||
        (w->status != SG_STATUS_RETURNED && w->status != SG_STATUS_IDLE)) {
        return 0;
    }
    sg_match_opts mo = {.as_of = p->as_of, .limit = LIST_TOP, .w = p->w};
    sg_match_list l = {0};
    int rc = sg_match_worker(p->t, w->id, &mo, &l);
    if (rc != 0) {
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) {
        json_array_append_new(arr, sg_match_to_jv(&l.items[i], true));
    }
    sg_match_list_free(&l);
    json_t *o = json_object();
    json_object_set_new(o, "matches", arr);
    return append(p, "list", w, o);
}
