/* gateway/events.c -- push events as Server-Sent Events.  The reply to
 * GET /v1/events grants a stream and carries its backlog; the gateway
 * writes it, repeats the request from the last seq while the backlog was
 * cut, then registers the stream.  One SG /events/poll per doorbell (or per
 * second: PUB/SUB drops doorbells) reads new events after one gateway-wide
 * cursor and writes each to the streams it is for, never twice (a stream
 * keeps the last seq it has); a stream registers only once it has every
 * event up to the cursor, so none falls in between.  Registered streams
 * are indexed by (kind, key): an event goes to its worker's streams and to
 * the region streams of each prefix of its village, found by hashing, so
 * the cost of an event does not grow with the streams open (at 10,000 a
 * scan of every stream per event was most of the gateway's CPU).
 * Heartbeats go round the streams a slice at a time for the same reason.
 * The doorbell arrives on an NNG thread, which stores its seq and wakes
 * the loop thread. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
/* After nng.h (internal.h), which these need. */
#include <nng/protocol/pubsub0/sub.h>

#define PING_SLICES 16 /* heartbeat ticks per heartbeat interval */

/* sg__stream is one SSE stream. */
struct sg__stream {
    sg__stream *prev;               /* ev->live, when registered */
    sg__stream *next;               /* ev->live, when registered */
    sg__stream *hnext;              /* its chain in the index */
    sg__conn *c;                    /* its connection, once started */
    uint8_t kind;                   /* enum sg_stream_kind */
    char key[SG_ID_MAX + 1];        /* worker id or region prefix */
    size_t klen;                    /* strlen(key) */
    uint64_t hash;                  /* key_hash(kind, key) */
    uint64_t last;                  /* last seq the client has */
    bool more;                      /* the backlog was cut */
    bool live;                      /* on ev->live */
    sg__call *call;                 /* catch-up request in flight */
    char *url;                      /* the GET's target, owned */
    size_t url_len;                 /* its length */
    char cred[SG_MSG_CRED_MAX + 1]; /* its Bearer credential, "" */
    char host[256];                 /* its Host */
};

static const char sse_head[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\n"
                               "Connection: close\r\n"
                               "X-Accel-Buffering: no\r\n\r\n";

typedef struct sg__fanout sg__fanout;

/* sg__fanout indexes the registered streams for the fan-out: chains by
 * key_hash(kind, key), and how many region streams there are of each
 * prefix length (an event looks up only the lengths in use). */
struct sg__fanout {
    sg__stream **tab;             /* chains, owned */
    size_t cap;                   /* buckets, a power of two */
    size_t n;                     /* streams indexed */
    size_t by_len[SG_ID_MAX + 1]; /* region streams by key length */
    size_t nlive;                 /* streams on ev->live */
    size_t ping_credit;           /* heartbeats owed, times PING_SLICES */
    sg__stream *ping_next;        /* next to ping on ev->live, NULL = head */
};

static void poll_events(sg__events *ev);

/* ---- The index. ---- */

static void fan_free(sg__events *ev)
{
    free(ev->fan->tab);
    free(ev->fan);
    ev->fan = NULL;
}

static uint64_t key_hash(uint8_t kind, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603u ^ kind; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)key[i]) * 1099511628211u;
    }
    return h ^ (h >> 29);
}

static void index_grow(sg__fanout *f)
{
    size_t cap = f->cap ? 2 * f->cap : 256;
    sg__stream **tab = calloc(cap, sizeof *tab);

    if (tab == NULL) {
        abort(); /* out of memory */
    }
    for (size_t i = 0; i < f->cap; i++) {
        sg__stream *s, *next;
        for (s = f->tab[i]; s != NULL; s = next) {
            next = s->hnext;
            s->hnext = tab[s->hash & (cap - 1)];
            tab[s->hash & (cap - 1)] = s;
        }
    }
    free(f->tab);
    f->tab = tab;
    f->cap = cap;
}

static void index_add(sg__fanout *f, sg__stream *s)
{
    if (f->n >= f->cap) {
        index_grow(f); /* at most one stream per bucket on average */
    }
    s->hnext = f->tab[s->hash & (f->cap - 1)];
    f->tab[s->hash & (f->cap - 1)] = s;
    f->n++;
    if (s->kind == SG_STREAM_REGION) {
        f->by_len[s->klen]++;
    }
}

static void index_remove(sg__fanout *f, sg__stream *s)
{
    sg__stream **pp = &f->tab[s->hash & (f->cap - 1)];

    while (*pp != s) {
        assert(*pp != NULL);
        pp = &(*pp)->hnext;
    }
    *pp = s->hnext;
    f->n--;
    if (s->kind == SG_STREAM_REGION) {
        f->by_len[s->klen]--;
    }
}

/* format appends one event as SSE: id, event, and a data line for each
 * line of the JSON text (a data field may not hold a line break). */
static void format(sg_buf *out, const sg_event *e)
{
    char head[64 + sizeof e->type];
    const char *p = e->data, *end = e->data + e->data_len;
    int n;

    n = snprintf(head, sizeof head, "id: %" PRIu64 "\nevent: %s\n", e->seq,
                 e->type);
    sg_buf_append(out, head, (size_t)n);
    do {
        const char *nl = p;
        while (nl < end && *nl != '\n' && *nl != '\r') {
            nl++;
        }
        sg_buf_append(out, "data: ", 6);
        sg_buf_append(out, p, (size_t)(nl - p));
        sg_buf_append(out, "\n", 1);
        p = nl;
        if (p < end && *p == '\r') {
            p++;
        }
        if (p < end && *p == '\n') {
            p++;
        }
    } while (p < end);
    sg_buf_append(out, "\n", 1);
}

static bool wants(const sg__stream *s, const sg_event *e)
{
    if (e->seq <= s->last) {
        return false;
    }
    if (s->kind == SG_STREAM_WORKER) {
        return strcmp(e->worker, s->key) == 0;
    }
    return strncmp(e->region, s->key, s->klen) == 0;
}

/* ---- Starting a stream. ---- */

typedef struct backlog {
    sg__stream *s; /* the stream */
    sg_buf *out;   /* where the SSE text goes */
    uint64_t max;  /* highest seq seen */
    size_t n;      /* events seen */
} backlog;

static int backlog_cb(void *arg, const sg_event *e)
{
    backlog *b = arg;

    if (e->seq > b->s->last) {
        format(b->out, e);
    }
    if (e->seq > b->max) {
        b->max = e->seq;
    }
    b->n++;
    return 0;
}

sg__stream *sg__events_begin(sg__events *ev, sg__hreq *r,
                             const sg_msg_reply *rep, sg_buf *out)
{
    sg__stream *s = calloc(1, sizeof *s);
    sg_buf text;
    sg_error e;
    backlog b;

    if (s == NULL) {
        abort(); /* out of memory */
    }
    s->kind = rep->stream;
    snprintf(s->key, sizeof s->key, "%s", rep->stream_key);
    s->klen = strlen(s->key);
    s->hash = key_hash(s->kind, s->key, s->klen);
    s->more = rep->more;
    s->last = 0;
    sg_buf_init(&text);
    sg_buf_append(&text, sse_head, sizeof sse_head - 1);
    b = (backlog){s, &text, 0, 0};
    if (rep->body_len > 0 &&
        sg_events_decode(rep->body, rep->body_len, backlog_cb, &b, &e) != 0) {
        SG__LOG("a backlog does not decode: %s: %s", e.field, e.reason);
        sg_buf_free(&text);
        free(s);
        return NULL;
    }
    s->last = rep->seq > b.max ? rep->seq : b.max;
    s->url = malloc(r->url.len + 1);
    if (s->url == NULL) {
        abort(); /* out of memory */
    }
    memcpy(s->url, r->url.data, r->url.len);
    s->url[r->url.len] = '\0';
    s->url_len = r->url.len;
    memcpy(s->cred, r->cred, sizeof s->cred);
    memcpy(s->host, r->host, sizeof s->host);
    sg_buf_append(out, text.data, text.len);
    sg_buf_free(&text);
    ev->nstreams++;
    return s;
}

static void go_live(sg__events *ev, sg__stream *s)
{
    /* With nobody listening, the cursor may jump ahead to this stream. */
    if (ev->live == NULL && s->last > ev->cursor) {
        ev->cursor = s->last;
    }
    s->live = true;
    s->prev = NULL;
    s->next = ev->live;
    if (ev->live != NULL) {
        ev->live->prev = s;
    }
    ev->live = s;
    ev->fan->nlive++;
    index_add(ev->fan, s);
    if (atomic_load(&ev->bell) > ev->cursor) {
        poll_events(ev);
    }
}

static void catch_up(sg__events *ev, sg__stream *s);

/* settle registers s, or catches up first when it would miss events. */
static void settle(sg__events *ev, sg__stream *s)
{
    if (s->more || (ev->live != NULL && s->last < ev->cursor)) {
        catch_up(ev, s);
    } else {
        go_live(ev, s);
    }
}

static void catch_cb(void *arg, int rc, const sg_msg_reply *rep,
                     const sg_error *e)
{
    sg__stream *s = arg;
    sg__events *ev = &s->c->g->events;
    sg_buf text;
    backlog b;
    sg_error de;

    (void)e;
    s->call = NULL;
    if (ev->stopped) {
        return;
    }
    if (rc != 0 || rep->status != 200 || rep->stream == SG_STREAM_NONE) {
        /* The client reconnects with Last-Event-ID. */
        sg__conn_end(s->c);
        return;
    }
    sg_buf_init(&text);
    b = (backlog){s, &text, s->last, 0};
    if (rep->body_len > 0 &&
        sg_events_decode(rep->body, rep->body_len, backlog_cb, &b, &de) != 0) {
        SG__LOG("a backlog does not decode: %s: %s", de.field, de.reason);
        sg_buf_free(&text);
        sg__conn_end(s->c);
        return;
    }
    s->more = rep->more;
    if (b.max > s->last) {
        s->last = b.max;
    }
    if (b.n == 0 && rep->seq > s->last) {
        s->last = rep->seq; /* nothing for it up to the matcher's last */
    }
    if (text.len > 0 && sg__conn_send(s->c, text.data, text.len) != 0) {
        sg_buf_free(&text);
        return; /* s is gone with its connection */
    }
    sg_buf_free(&text);
    if (b.n == 0 && !s->more) {
        go_live(ev, s); /* up to date by the matcher's own word */
    } else {
        settle(ev, s);
    }
}

static void catch_up(sg__events *ev, sg__stream *s)
{
    sg_msg_req m;
    sg_error e;

    if (sg__req_build(&m, "GET", s->url, s->url_len, s->cred, s->host,
                      SG_FMT_NONE, SG_FMT_JSON, s->last, NULL, 0, &e) != 0 ||
        sg__client_call(&ev->g->client, &m, catch_cb, s, &s->call) != 0) {
        sg__conn_end(s->c);
    }
}

void sg__events_start(sg__events *ev, sg__stream *s, sg__conn *c)
{
    s->c = c;
    if (ev->stopped) {
        sg__conn_end(c);
        return;
    }
    settle(ev, s);
}

void sg__stream_free(sg__events *ev, sg__stream *s)
{
    if (s == NULL) {
        return;
    }
    if (s->live) {
        sg__fanout *f = ev->fan;
        if (f->ping_next == s) {
            f->ping_next = s->next;
        }
        f->nlive--;
        index_remove(f, s);
        if (ev->stopped && f->nlive == 0) {
            fan_free(ev); /* streams outlive sg__events_stop */
        }
        if (s->prev != NULL) {
            s->prev->next = s->next;
        } else {
            ev->live = s->next;
        }
        if (s->next != NULL) {
            s->next->prev = s->prev;
        }
    }
    sg__call_cancel(&ev->g->client, s->call);
    free(s->url);
    free(s);
    ev->nstreams--;
}

/* ---- Fan-out. ---- */

/* fan_chain sends e to the streams of chain that want it. */
static void fan_chain(sg__events *ev, sg__stream *s, uint64_t hash,
                      const sg_event *e)
{
    sg__stream *next;

    for (; s != NULL; s = next) {
        next = s->hnext; /* a send may free s (and only s) */
        if (s->hash != hash || !wants(s, e)) {
            continue;
        }
        if (ev->scratch.len == 0) {
            format(&ev->scratch, e);
        }
        s->last = e->seq;
        sg__conn_send(s->c, ev->scratch.data, ev->scratch.len);
    }
}

/* fan_cb sends e to its worker's streams, then to the region streams of
 * each prefix length in use: a few hash lookups, whatever the number of
 * streams. */
static int fan_cb(void *arg, const sg_event *e)
{
    sg__events *ev = arg;
    sg__fanout *f = ev->fan;
    size_t rlen = strlen(e->region);
    uint64_t h;

    ev->scratch.len = 0;
    if (f->n == 0) {
        return 0;
    }
    h = key_hash(SG_STREAM_WORKER, e->worker, strlen(e->worker));
    fan_chain(ev, f->tab[h & (f->cap - 1)], h, e);
    for (size_t len = 0; len <= rlen && len < SG_ID_MAX + 1; len++) {
        if (f->by_len[len] == 0) {
            continue;
        }
        h = key_hash(SG_STREAM_REGION, e->region, len);
        fan_chain(ev, f->tab[h & (f->cap - 1)], h, e);
    }
    return 0;
}

static void poll_cb(void *arg, int rc, const sg_msg_reply *rep,
                    const sg_error *e)
{
    sg__events *ev = arg;
    sg_error de;

    (void)e;
    ev->poll = NULL;
    if (rc != 0 || rep->status != 200) {
        return; /* the timer tries again */
    }
    if (rep->body_len > 0 &&
        sg_events_decode(rep->body, rep->body_len, fan_cb, ev, &de) != 0) {
        SG__LOG("polled events do not decode: %s: %s", de.field, de.reason);
        return;
    }
    if (rep->seq > ev->cursor) {
        ev->cursor = rep->seq;
    }
    if (rep->more || ev->again) {
        ev->again = false;
        poll_events(ev);
    }
}

static void poll_events(sg__events *ev)
{
    char url[96];
    sg_msg_req m;
    sg_error e;
    int n;

    if (ev->stopped || ev->live == NULL) {
        return;
    }
    if (ev->poll != NULL) {
        ev->again = true;
        return;
    }
    n = snprintf(url, sizeof url, "/events/poll?after=%" PRIu64 "&limit=%d",
                 ev->cursor, SG__POLL_LIMIT);
    if (sg__req_build(&m, "SG", url, (size_t)n, NULL, NULL, SG_FMT_NONE,
                      SG_FMT_MSGPACK, 0, NULL, 0, &e) != 0) {
        SG__LOG("cannot build a poll: %s: %s", e.field, e.reason);
        return;
    }
    if (sg__client_call(&ev->g->client, &m, poll_cb, ev, &ev->poll) != 0) {
        ev->poll = NULL; /* matcher down: the timer tries again */
    }
}

/* ---- Doorbells and timers. ---- */

static void sub_cb(void *arg)
{
    sg__events *ev = arg;
    int rv = nng_aio_result(ev->aio);
    uint64_t seq, old;
    nng_msg *msg;

    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        return;
    }
    if (rv == 0) {
        msg = nng_aio_get_msg(ev->aio);
        if (sg_doorbell_decode(nng_msg_body(msg), nng_msg_len(msg), &seq) ==
            0) {
            old = atomic_load(&ev->bell);
            while (seq > old &&
                   !atomic_compare_exchange_weak(&ev->bell, &old, seq)) {
            }
        }
        nng_msg_free(msg);
        uv_async_send(&ev->async);
    }
    nng_recv_aio(ev->sub, ev->aio);
}

static void async_cb(uv_async_t *h)
{
    sg__events *ev = h->data;

    if (atomic_load(&ev->bell) > ev->cursor) {
        poll_events(ev);
    }
}

static void poll_timer_cb(uv_timer_t *t)
{
    poll_events(t->data);
}

/* ping_cb runs PING_SLICES times per heartbeat interval and pings the
 * next slice of the streams, going round ev->live: each stream hears a
 * comment about once an interval, and 10,000 writes never stall the loop
 * at once (they would delay every event behind them). */
static void ping_cb(uv_timer_t *t)
{
    static const char ping[] = ": ping\n\n";
    sg__events *ev = t->data;
    sg__fanout *f = ev->fan;
    size_t k;

    /* Credit nlive / PING_SLICES pings per tick, remainders carried, so
     * that a single stream is not pinged PING_SLICES times too often. */
    f->ping_credit += f->nlive;
    k = f->ping_credit / PING_SLICES;
    f->ping_credit %= PING_SLICES;
    while (k-- > 0 && ev->live != NULL) {
        sg__stream *s = f->ping_next != NULL ? f->ping_next : ev->live;
        f->ping_next = s->next; /* a send may free s */
        sg__conn_send(s->c, ping, sizeof ping - 1);
    }
}

int sg__events_init(sg__events *ev, sg_gateway *g, uv_loop_t *loop,
                    const char *pub_url)
{
    int rv;
    uint64_t hb = g->o.heartbeat_ms > 0 ? (uint64_t)g->o.heartbeat_ms : 15000;
    uint64_t tick = hb / PING_SLICES > 0 ? hb / PING_SLICES : 1;

    memset(ev, 0, sizeof *ev);
    ev->g = g;
    ev->fan = calloc(1, sizeof *ev->fan);
    if (ev->fan == NULL) {
        abort(); /* out of memory */
    }
    atomic_init(&ev->bell, 0);
    sg_buf_init(&ev->scratch);
    uv_async_init(loop, &ev->async, async_cb);
    ev->async.data = ev;
    uv_timer_init(loop, &ev->poll_timer);
    ev->poll_timer.data = ev;
    uv_timer_init(loop, &ev->ping_timer);
    ev->ping_timer.data = ev;
    ev->handles = true;
    uv_timer_start(&ev->poll_timer, poll_timer_cb, SG__POLL_MS, SG__POLL_MS);
    uv_timer_start(&ev->ping_timer, ping_cb, tick, tick);

    if ((rv = nng_sub0_open(&ev->sub)) != 0) {
        SG__LOG("nng_sub0_open: %s", nng_strerror(rv));
        return sg__err_nng(rv);
    }
    ev->sub_open = true;
    nng_socket_set(ev->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    nng_socket_set_ms(ev->sub, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(ev->sub, NNG_OPT_RECONNMAXT, 1000);
    if ((rv = nng_aio_alloc(&ev->aio, sub_cb, ev)) != 0) {
        return sg__err_nng(rv);
    }
    if ((rv = nng_dial(ev->sub, pub_url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        SG__LOG("cannot dial the matcher's PUB at %s: %s", pub_url,
                nng_strerror(rv));
        return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? SG_EINVAL
                                                         : sg__err_nng(rv);
    }
    nng_recv_aio(ev->sub, ev->aio);
    return 0;
}

void sg__events_stop(sg__events *ev)
{
    if (ev->stopped) {
        return;
    }
    ev->stopped = true;
    /* The receive first (sub_cb sees NNG_ECANCELED and does not re-arm),
     * then the socket: closing a SUB socket with a receive still pending
     * was seen to hang in NNG 1.5.2 under load. */
    if (ev->aio != NULL) {
        nng_aio_stop(ev->aio); /* waits for sub_cb: after it, no more */
    }
    if (ev->sub_open) {
        nng_close(ev->sub);
        ev->sub_open = false;
    }
    if (ev->aio != NULL) {
        nng_aio_free(ev->aio);
        ev->aio = NULL;
    }
    sg__call_cancel(&ev->g->client, ev->poll);
    ev->poll = NULL;
    sg_buf_free(&ev->scratch);
    if (ev->fan->nlive == 0) {
        fan_free(ev); /* else the last live stream to go frees it */
    }
    if (ev->handles) {
        uv_close((uv_handle_t *)&ev->async, NULL);
        uv_close((uv_handle_t *)&ev->poll_timer, NULL);
        uv_close((uv_handle_t *)&ev->ping_timer, NULL);
        ev->handles = false;
    }
}
