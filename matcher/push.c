/* matcher/push.c -- push events: which workers hear about a job write, and
 * a returning worker's fresh list (docs/api.md "Push").
 * Pushes run inside the write transaction of the record write that causes them,
 * so an event exists exactly when its cause was committed, and its seq is
 * committed with it (store_events.c).  The job remembers whom it reached (the
 * pushed set), so closing it can take it back from exactly them.
 * Runs on the thread that owns the write transaction (the service's
 * writer, or the CLI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "songgang/match.h"
#include "songgang/msg.h"
#include "songgang/store.h"

#define LIST_TOP 20 /* matches in a `list` event */

/* ---- The events' JSON, written straight into a buffer.  A job write
 * sends up to p->top events, so building a jansson tree for each cost
 * more than the store writes; this writes the same bytes jansson's
 * json_dumps(JSON_COMPACT | JSON_REAL_PRECISION(15)) wrote: members in
 * the order set, UTF-8 as is, the mandatory escapes only. ---- */

/* jw is one JSON object being written into b. */
typedef struct jw {
    sg_buf *b;  /* output (borrowed) */
    bool first; /* no member written yet at this level */
} jw;

static void jw_lit(jw *j, const char *s)
{
    sg_buf_append(j->b, s, strlen(s));
}

static void jw_open(jw *j, sg_buf *b)
{
    j->b = b;
    j->first = true;
    sg_buf_append(b, "{", 1);
}

static void jw_close(jw *j)
{
    sg_buf_append(j->b, "}", 1);
}

/* jw_key starts member key (a literal that needs no escape). */
static void jw_key(jw *j, const char *key)
{
    if (!j->first) {
        sg_buf_append(j->b, ",", 1);
    }
    j->first = false;
    sg_buf_append(j->b, "\"", 1);
    jw_lit(j, key);
    sg_buf_append(j->b, "\":", 2);
}

/* jw_text writes s as a JSON string, escaped as jansson does: quote,
 * backslash and control characters; the strings are valid UTF-8 (the
 * decoder checked them), written as is. */
static void jw_text(jw *j, const char *s)
{
    const char *run = s;
    sg_buf_append(j->b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        sg_buf_append(j->b, run, (size_t)(s - run));
        run = s + 1;
        char seq[8];
        switch (c) {
        case '"': jw_lit(j, "\\\""); break;
        case '\\': jw_lit(j, "\\\\"); break;
        case '\b': jw_lit(j, "\\b"); break;
        case '\f': jw_lit(j, "\\f"); break;
        case '\n': jw_lit(j, "\\n"); break;
        case '\r': jw_lit(j, "\\r"); break;
        case '\t': jw_lit(j, "\\t"); break;
        default:
            snprintf(seq, sizeof(seq), "\\u%04X", (unsigned)c);
            jw_lit(j, seq);
        }
    }
    sg_buf_append(j->b, run, (size_t)(s - run));
    sg_buf_append(j->b, "\"", 1);
}

/* jw_str writes member key with string value s; a NULL s (an enum value
 * without a name) leaves the member out, as json_string(NULL) did. */
static void jw_str(jw *j, const char *key, const char *s)
{
    if (s != NULL) {
        jw_key(j, key);
        jw_text(j, s);
    }
}

/* jw_int writes member key with whole number v (what "%lld" writes; an
 * event writes a dozen, so no printf). */
static void jw_int(jw *j, const char *key, long long v)
{
    char num[24], *p = num + sizeof(num);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    jw_key(j, key);
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    sg_buf_append(j->b, p, (size_t)(num + sizeof(num) - p));
}

/* jw_km writes a distance rounded to 0.1 km, or null, as a jansson real
 * of precision 15: "%.15g", ".0" added to a whole number, the exponent
 * without '+' or leading zeros. */
static void jw_km(jw *j, const char *key, bool has, double km)
{
    jw_key(j, key);
    double v = round(km * 10) / 10;
    if (!has || !isfinite(v)) {
        jw_lit(j, "null");
        return;
    }
    char num[40];
    int n = snprintf(num, sizeof(num) - 3, "%.15g", v);
    if (strchr(num, '.') == NULL && strchr(num, 'e') == NULL) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(num, 'e');
    if (e != NULL) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-') {
            start++;
        }
        while (*end == '0') {
            end++;
        }
        memmove(start, end, strlen(end) + 1);
    }
    jw_lit(j, num);
}

/* copy writes s into out (cap bytes), cut short to fit, NUL-ended. */
static void copy(char *out, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    memcpy(out, s, n);
    out[n] = '\0';
}

/* append sends one event of type to worker id in region (its region
 * rides along for region streams); data holds the JSON object's members
 * written so far, and the recipient is added as its last member. */
static int append(sg__push *p, const char *type, const char *id,
                  const char *region, jw *data)
{
    /* The recipient rides in the data too: a region stream (an officer's)
     * carries events for many workers. */
    jw_str(data, "worker", id);
    jw_close(data);
    sg_event ev;
    memset(&ev, 0, sizeof(ev));
    copy(ev.type, sizeof(ev.type), type);
    copy(ev.worker, sizeof(ev.worker), id);
    copy(ev.region, sizeof(ev.region), region);
    ev.data = (const char *)data->b->data;
    ev.data_len = data->b->len;
    uint64_t seq;
    int rc = sg_txn_event_append(p->t, &ev, &seq);
    if (rc == 0 && seq > p->last_seq) {
        p->last_seq = seq;
    }
    return rc;
}

/* match_data starts a `match` event's object for worker w (the view it
 * was ranked from) in b. */
static void match_data(jw *o, sg_buf *b, const sg_job *j, const sg__jview *jv,
                       const sg_match *m, const sg__wview *w)
{
    /* The ranking that chose the recipients ran from the job's side, so its
     * reason speaks of the worker; the worker is told the job's side. */
    char reason[sizeof(m->reason)];
    sg__match_job_reason_v(m, jv, w, reason, sizeof(reason));
    b->len = 0;
    jw_open(o, b);
    jw_str(o, "job", j->id);
    jw_str(o, "title", j->title);
    jw_str(o, "employer", j->employer);
    jw_str(o, "source", sg_enum_name(SG_ENUM_SOURCE, j->source));
    jw_int(o, "score", m->score);
    jw_str(o, "tier", sg_enum_name(SG_ENUM_TRAVEL, m->tier));
    jw_str(o, "site", m->site);
    jw_km(o, "km", m->has_km, m->km);
    jw_str(o, "reason", reason);
    jw_int(o, "wage_min", j->wage_min);
    jw_int(o, "wage_max", j->wage_max);
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
static int removed(sg__push *p, sg_buf *b, const char *job, const char *id)
{
    sg_worker w;
    int rc = sg_txn_get_worker(p->t, id, &w);
    if (rc == SG_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    jw o;
    b->len = 0;
    jw_open(&o, b);
    jw_str(&o, "job", job);
    return append(p, "removed", w.id, w.region, &o);
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
    sg__wview *views = NULL;
    sg__jview jv;
    bool live = job->state == SG_JOB_OPEN && job->openings > 0;
    if (rc == 0 && live) {
        /* The ranking hands back each recipient's view, which holds all
         * an event needs of it: no second read of each worker. */
        sg_match_opts mo = {.as_of = p->as_of, .limit = p->top, .w = p->w};
        views = malloc((size_t)(p->top > 0 ? p->top : 1) * sizeof(*views));
        if (views == NULL) {
            abort(); /* out of memory */
        }
        rc = sg__match_job_rec(p->t, job, &mo, &l, views);
        sg__jview_of(job, &jv);
    }
    sg_buf b;
    sg_buf_init(&b);
    /* Take it back from whoever is no longer among the recipients. */
    for (size_t i = 0; rc == 0 && i < before.n; i++) {
        bool still = false;
        for (size_t k = 0; k < l.n && !still; k++) {
            still = strcmp(l.items[k].id, before.v[i]) == 0;
        }
        if (!still) {
            rc = removed(p, &b, job->id, before.v[i]);
        }
    }
    if (rc == 0) {
        rc = sg_txn_pushed_clear(p->t, job->id);
    }
    /* Send it to each recipient, best first, and remember them. */
    for (size_t k = 0; rc == 0 && k < l.n; k++) {
        const sg__wview *w = &views[k];
        jw o;
        match_data(&o, &b, job, &jv, &l.items[k], w);
        rc = append(p, "match", w->id, w->region, &o);
        if (rc == 0) {
            rc = sg_txn_pushed_add(p->t, job->id, w->id);
        }
    }
    sg_buf_free(&b);
    sg_match_list_free(&l);
    free(views);
    free(before.v);
    return rc;
}

/* list_match writes one entry of a `list` event's matches, the members
 * of sg_match_to_jv (match.c) in its order. */
static void list_match(sg_buf *b, const sg_match *m)
{
    jw o, parts;
    jw_open(&o, b);
    jw_str(&o, "job", m->id);
    jw_int(&o, "score", m->score);
    jw_key(&o, "parts");
    jw_open(&parts, b);
    for (int i = 0; i < SG_PART__COUNT; i++) {
        jw_int(&parts, sg_part_name(i), m->parts[i]);
    }
    jw_close(&parts);
    jw_str(&o, "tier", sg_enum_name(SG_ENUM_TRAVEL, m->tier));
    jw_str(&o, "site", m->site);
    jw_km(&o, "km", m->has_km, m->km);
    jw_str(&o, "reason", m->reason);
    jw_close(&o);
}

int sg__push_worker(sg__push *p, const sg_worker *old, const sg_worker *w)
{
    if (old == NULL || old->status == w->status ||
        (w->status != SG_STATUS_RETURNED && w->status != SG_STATUS_IDLE)) {
        return 0;
    }
    sg_match_opts mo = {.as_of = p->as_of, .limit = LIST_TOP, .w = p->w};
    sg_match_list l = {0};
    int rc = sg_match_worker_rec(p->t, w, &mo, &l); /* w is just written */
    if (rc != 0) {
        return rc;
    }
    sg_buf b;
    sg_buf_init(&b);
    jw o;
    jw_open(&o, &b);
    jw_key(&o, "matches");
    sg_buf_append(&b, "[", 1);
    for (size_t i = 0; i < l.n; i++) {
        if (i > 0) {
            sg_buf_append(&b, ",", 1);
        }
        list_match(&b, &l.items[i]);
    }
    sg_buf_append(&b, "]", 1);
    sg_match_list_free(&l);
    rc = append(p, "list", w->id, w->region, &o);
    sg_buf_free(&b);
    return rc;
}
