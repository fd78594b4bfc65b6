/* gateway/client.c -- the gateway's side of REQ/REP: a bounded pool of NNG
 * REQ contexts, each with one aio, so that many requests are on the wire
 * without a thread each; calls beyond the pool wait in a FIFO.  An aio
 * completes on an NNG thread, which moves a context from send to receive
 * or pushes it, finished, onto a mutex-guarded list and wakes the loop
 * (uv_async_send); the loop thread runs the callers' callbacks.  Resends
 * are off (one would run a write twice); each call has a deadline, after
 * which its caller answers 503; while the matcher has been gone a while,
 * calls fail at once instead of waiting out their timeout.  A GET the
 * reply cache (cache.c) can answer never leaves the process: its call is
 * answered from a copy of the cached reply after the current round of
 * I/O callbacks (a uv_check handle), never inside sg__client_call, whose
 * caller may not expect its callback yet. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
/* After nng.h (internal.h), which these need. */
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

/* How long a lost matcher may stay lost before calls fail at once. */
#define DOWN_GRACE_MS 1000

enum { PH_IDLE, PH_SEND, PH_RECV };

/* sg__call is one request: waiting for a slot, or on one, or a cache
 * hit waiting on the ready list. */
struct sg__call {
    sg__call *prev;             /* wait FIFO */
    sg__call *next;             /* wait FIFO, ready list, or slot's call */
    sg__reply_cb cb;            /* NULL once cancelled */
    void *arg;                  /* cb's argument */
    nng_msg *msg;               /* the request until NNG has it, owned */
    nng_time deadline;          /* nng_clock() by which the reply is due */
    uint64_t t_send;            /* uv_hrtime() when sent */
    bool queued;                /* on the wait FIFO */
    bool cacheable;             /* the cache may keep its reply */
    unsigned epoch;             /* the client's epoch when made */
    uint8_t key[SG__CACHE_KEY]; /* its cache key, when cacheable */
    sg_msg_reply hit;           /* a hit's reply; its body is hit_body */
    uint8_t hit_body[];         /* a hit's body bytes */
};

/* sg__slot is one REQ context with its aio. */
struct sg__slot {
    sg__client *cl;    /* owner */
    nng_ctx ctx;       /* the context */
    nng_aio *aio;      /* its one operation at a time */
    int phase;         /* PH_*, written by whoever runs the operation */
    sg__call *call;    /* the call it carries (loop thread) */
    nng_time deadline; /* copy of call->deadline for the NNG thread */
    int rv;            /* NNG result of the finished call */
    nng_msg *reply;    /* the reply, owned until drained */
    sg__slot *next;    /* idle list or done list */
};

/* ---- NNG threads. ---- */

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    sg__client *cl = arg;

    (void)p;
    /* A pipe come or gone may be another matcher: the cache starts over. */
    atomic_fetch_add(&cl->epoch, 1);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&cl->pipes, 1);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        if (atomic_fetch_sub(&cl->pipes, 1) == 1) {
            atomic_store(&cl->down_since, (int64_t)nng_clock());
        }
    }
}

/* finish hands s to the loop thread; nothing touches s->aio after. */
static void finish(sg__slot *s, int rv, nng_msg *reply)
{
    sg__client *cl = s->cl;

    s->rv = rv;
    s->reply = reply;
    pthread_mutex_lock(&cl->mu);
    s->next = cl->done;
    cl->done = s;
    pthread_mutex_unlock(&cl->mu);
    uv_async_send(&cl->async);
}

static void slot_cb(void *arg)
{
    sg__slot *s = arg;
    int rv = nng_aio_result(s->aio);

    if (s->phase == PH_SEND) {
        if (rv != 0) {
            /* A send that failed leaves the message ours. */
            nng_msg_free(nng_aio_get_msg(s->aio));
            nng_aio_set_msg(s->aio, NULL);
            finish(s, rv, NULL);
            return;
        }
        nng_time now = nng_clock();
        if (now >= s->deadline) {
            finish(s, NNG_ETIMEDOUT, NULL);
            return;
        }
        s->phase = PH_RECV;
        nng_aio_set_timeout(s->aio, (nng_duration)(s->deadline - now));
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    finish(s, rv, rv == 0 ? nng_aio_get_msg(s->aio) : NULL);
}

/* ---- Loop thread. ---- */

static void start(sg__slot *s, sg__call *c)
{
    nng_time now = nng_clock();

    s->call = c;
    s->deadline = c->deadline;
    s->phase = PH_SEND;
    c->t_send = uv_hrtime();
    nng_aio_set_msg(s->aio, c->msg);
    c->msg = NULL;
    nng_aio_set_timeout(
        s->aio, (nng_duration)(c->deadline > now ? c->deadline - now : 1));
    nng_ctx_send(s->ctx, s->aio);
}

static void wait_unlink(sg__client *cl, sg__call *c)
{
    assert(c->queued);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        cl->wait_head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        cl->wait_tail = c->prev;
    }
    c->prev = c->next = NULL;
    c->queued = false;
    cl->nwait--;
    if (cl->nwait == 0) {
        uv_timer_stop(&cl->sweep);
    }
}

static void call_free(sg__call *c)
{
    nng_msg_free(c->msg); /* NULL once sent */
    free(c);
}

/* expire answers the waiting calls whose deadline has passed. */
static void expire(sg__client *cl)
{
    nng_time now = nng_clock();

    while (cl->wait_head != NULL && cl->wait_head->deadline <= now) {
        sg__call *c = cl->wait_head;
        sg_error e;
        wait_unlink(cl, c);
        sg_error_set(&e, SG_EBUSY, "", "the matcher did not answer in time");
        if (c->cb != NULL) {
            c->cb(c->arg, SG_EBUSY, NULL, &e);
        }
        call_free(c);
    }
}

/* pump starts waiting calls on idle slots. */
static void pump(sg__client *cl)
{
    expire(cl);
    while (cl->idle != NULL && cl->wait_head != NULL) {
        sg__call *c = cl->wait_head;
        sg__slot *s = cl->idle;
        wait_unlink(cl, c);
        cl->idle = s->next;
        s->next = NULL;
        start(s, c);
    }
}

static void sweep_cb(uv_timer_t *t)
{
    sg__client *cl = t->data;

    expire(cl);
}

/* complete runs one finished call's callback. */
static void complete(sg__client *cl, sg__call *c, int rv, nng_msg *reply)
{
    sg_msg_reply rep;
    sg_error e;
    int rc;

    sg_error_clear(&e);
    if (c->cb == NULL) {
        rc = SG_EBUSY; /* cancelled: nobody to tell */
    } else if (rv != 0) {
        rc = SG_EBUSY;
        if (rv == NNG_ETIMEDOUT) {
            sg_error_set(&e, rc, "", "the matcher did not answer in time");
        } else {
            sg_error_set(&e, rc, "", "the matcher is unreachable: %s",
                         nng_strerror(rv));
        }
    } else {
        rc = sg_msg_reply_decode(nng_msg_body(reply), nng_msg_len(reply), &rep,
                                 &e);
        if (rc != 0) {
            SG__LOG("a matcher reply does not decode: %s: %s", e.field,
                    e.reason);
            rc = SG_EINVAL;
        } else {
            unsigned epoch = sg__client_epoch(cl);
            sg__metrics_rtt(&cl->g->metrics,
                            (double)(uv_hrtime() - c->t_send) / 1e9);
            /* Every reply tells the cache the data version it saw, before
             * anyone (the version poll included) hears of it. */
            sg__cache_seen(&cl->g->cache, &rep, epoch);
            if (c->cacheable) {
                sg__cache_put(&cl->g->cache, c->key, c->epoch, epoch, &rep);
            }
        }
    }
    if (c->cb != NULL) {
        c->cb(c->arg, rc, rc == 0 ? &rep : NULL, &e);
    }
    nng_msg_free(reply);
    call_free(c);
}

/* ---- Cache hits. ---- */

/* ready_run answers the hits queued so far.  A callback may queue more
 * (they wait for the next round) or cancel one still in the list (its cb
 * is then NULL): the list is detached first and freed only here. */
static void ready_run(sg__client *cl)
{
    sg__call *list = cl->ready_head;
    sg_error e;

    cl->ready_head = cl->ready_tail = NULL;
    uv_check_stop(&cl->ready_check);
    uv_idle_stop(&cl->ready_idle);
    sg_error_clear(&e);
    while (list != NULL) {
        sg__call *c = list;
        list = c->next;
        c->next = NULL;
        if (c->cb != NULL) {
            c->cb(c->arg, 0, &c->hit, &e);
        }
        call_free(c);
    }
}

static void ready_check_cb(uv_check_t *h)
{
    ready_run(h->data);
}

static void ready_idle_cb(uv_idle_t *h)
{
    ready_run(h->data);
}

/* hit_call makes a call answered by a copy of cache entry ent.  The check
 * handle answers it right after this round of I/O callbacks; the idle
 * handle keeps the loop from waiting for I/O first when the hit was made
 * outside that round (a deferred write callback, say). */
static sg__call *hit_call(sg__client *cl, const sg__centry *ent,
                          sg__reply_cb cb, void *arg)
{
    sg_msg_reply rep;
    sg__call *c;

    sg__centry_reply(ent, &rep);
    c = calloc(1, sizeof *c + rep.body_len);
    if (c == NULL) {
        abort(); /* out of memory */
    }
    c->cb = cb;
    c->arg = arg;
    c->hit = rep;
    if (rep.body_len > 0) {
        memcpy(c->hit_body, rep.body, rep.body_len);
        c->hit.body = c->hit_body;
    }
    if (cl->ready_tail != NULL) {
        cl->ready_tail->next = c;
    } else {
        cl->ready_head = c;
        uv_check_start(&cl->ready_check, ready_check_cb);
        uv_idle_start(&cl->ready_idle, ready_idle_cb);
    }
    cl->ready_tail = c;
    return c;
}

static void async_cb(uv_async_t *h)
{
    sg__client *cl = h->data;
    sg__slot *list, *rev = NULL;

    pthread_mutex_lock(&cl->mu);
    list = cl->done;
    cl->done = NULL;
    pthread_mutex_unlock(&cl->mu);
    /* Oldest first. */
    while (list != NULL) {
        sg__slot *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev != NULL) {
        sg__slot *s = rev;
        sg__call *c = s->call;
        nng_msg *reply = s->reply;
        int rv = s->rv;
        rev = s->next;
        /* The slot is free before the callback, which may start calls. */
        s->call = NULL;
        s->reply = NULL;
        s->phase = PH_IDLE;
        s->next = cl->idle;
        cl->idle = s;
        complete(cl, c, rv, reply);
    }
    pump(cl);
}

int sg__client_init(sg__client *cl, sg_gateway *g, uv_loop_t *loop,
                    const char *url, int contexts, int timeout_ms)
{
    int rv, rc;

    memset(cl, 0, sizeof *cl);
    cl->g = g;
    cl->timeout_ms = timeout_ms;
    sg_buf_init(&cl->enc);
    pthread_mutex_init(&cl->mu, NULL);
    atomic_init(&cl->pipes, 0);
    atomic_init(&cl->down_since, (int64_t)nng_clock());
    atomic_init(&cl->epoch, 0);

    /* The handles first: fini closes them whatever else failed. */
    uv_async_init(loop, &cl->async, async_cb);
    cl->async.data = cl;
    uv_timer_init(loop, &cl->sweep);
    cl->sweep.data = cl;
    uv_check_init(loop, &cl->ready_check);
    cl->ready_check.data = cl;
    uv_idle_init(loop, &cl->ready_idle);
    cl->ready_idle.data = cl;
    cl->handles = true;

    /* The socket, its options, and the dial. */
    if ((rv = nng_req0_open(&cl->sock)) != 0) {
        SG__LOG("nng_req0_open: %s", nng_strerror(rv));
        return sg__err_nng(rv);
    }
    cl->sock_open = true;
    nng_socket_set_ms(cl->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(cl->sock, NNG_OPT_RECVMAXSZ,
                        (size_t)SG_MSG_BODY_MAX + (64u << 10));
    nng_socket_set_ms(cl->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(cl->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_pipe_notify(cl->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, cl);
    nng_pipe_notify(cl->sock, NNG_PIPE_EV_REM_POST, pipe_cb, cl);

    /* The contexts. */
    cl->nslots = contexts > 0 ? contexts : 1;
    cl->slots = calloc((size_t)cl->nslots, sizeof *cl->slots);
    if (cl->slots == NULL) {
        abort(); /* out of memory */
    }
    for (int i = 0; i < cl->nslots; i++) {
        sg__slot *s = &cl->slots[i];
        s->cl = cl;
        /* Contexts close with the socket. */
        if ((rv = nng_ctx_open(&s->ctx, cl->sock)) != 0 ||
            (rv = nng_ctx_set_ms(s->ctx, NNG_OPT_REQ_RESENDTIME,
                                 NNG_DURATION_INFINITE)) != 0 ||
            (rv = nng_aio_alloc(&s->aio, slot_cb, s)) != 0) {
            SG__LOG("a REQ context: %s", nng_strerror(rv));
            return sg__err_nng(rv);
        }
        s->next = cl->idle;
        cl->idle = s;
    }
    if ((rv = nng_dial(cl->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        SG__LOG("cannot dial the matcher at %s: %s", url, nng_strerror(rv));
        rc = rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? SG_EINVAL
                                                       : sg__err_nng(rv);
        return rc;
    }
    return 0;
}

bool sg__client_up(sg__client *cl)
{
    return atomic_load(&cl->pipes) > 0;
}

bool sg__client_busy(sg__client *cl)
{
    for (int i = 0; i < cl->nslots; i++) {
        if (cl->slots[i].call != NULL) {
            return true;
        }
    }
    return false;
}

void sg__client_abort(sg__client *cl)
{
    /* nng_aio_cancel is safe against a callback running meanwhile; one
     * that starts the receive right after is aborted on the next call. */
    for (int i = 0; i < cl->nslots; i++) {
        if (cl->slots[i].call != NULL) {
            nng_aio_cancel(cl->slots[i].aio);
        }
    }
}

unsigned sg__client_epoch(sg__client *cl)
{
    return atomic_load(&cl->epoch);
}

/* call is sg__client_call; first puts the call ahead of those waiting
 * and keeps it away from the cache. */
static int call(sg__client *cl, const sg_msg_req *req, sg__reply_cb cb,
                void *arg, sg__call **out, bool first)
{
    sg__cache *cache = &cl->g->cache;
    nng_time now = nng_clock();
    uint8_t key[SG__CACHE_KEY];
    bool cacheable;
    sg__call *c;
    int rv;

    /* Fail at once while the matcher has been gone for a while. */
    if (atomic_load(&cl->pipes) <= 0) {
        int64_t since = atomic_load(&cl->down_since);
        int grace =
            cl->timeout_ms < DOWN_GRACE_MS ? cl->timeout_ms : DOWN_GRACE_MS;
        if ((int64_t)now - since >= grace) {
            return SG_EBUSY;
        }
    }
    if (cl->nwait >= SG__WAIT_MAX && !first) {
        return SG_EBUSY;
    }

    /* The cache sees the whole message: whatever a reply may depend on. */
    cl->enc.len = 0;
    sg_msg_req_encode(req, &cl->enc);
    cacheable = !first && strcmp(req->method, "GET") == 0 &&
                sg__cache_on(cache);
    if (cacheable) {
        const sg__centry *ent;
        sg__cache_key(cache, cl->enc.data, cl->enc.len, key);
        ent = sg__cache_get(cache, key, sg__client_epoch(cl));
        if (ent != NULL) {
            *out = hit_call(cl, ent, cb, arg);
            return 0;
        }
    }

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        abort(); /* out of memory */
    }
    c->cacheable = cacheable;
    c->epoch = sg__client_epoch(cl);
    if (cacheable) {
        memcpy(c->key, key, sizeof key);
    }
    if ((rv = nng_msg_alloc(&c->msg, cl->enc.len)) != 0) {
        abort(); /* NNG's only failure here is memory */
    }
    memcpy(nng_msg_body(c->msg), cl->enc.data, cl->enc.len);
    c->cb = cb;
    c->arg = arg;
    c->deadline = now + (nng_time)cl->timeout_ms;

    if (cl->idle != NULL && (cl->wait_head == NULL || first)) {
        sg__slot *s = cl->idle;
        cl->idle = s->next;
        s->next = NULL;
        start(s, c);
    } else if (first) {
        c->queued = true;
        c->next = cl->wait_head;
        if (cl->wait_head != NULL) {
            cl->wait_head->prev = c;
        } else {
            cl->wait_tail = c;
        }
        cl->wait_head = c;
        if (cl->nwait++ == 0) {
            uv_timer_start(&cl->sweep, sweep_cb, 50, 50);
        }
    } else {
        c->queued = true;
        c->prev = cl->wait_tail;
        if (cl->wait_tail != NULL) {
            cl->wait_tail->next = c;
        } else {
            cl->wait_head = c;
        }
        cl->wait_tail = c;
        if (cl->nwait++ == 0) {
            uv_timer_start(&cl->sweep, sweep_cb, 50, 50);
        }
    }
    *out = c;
    return 0;
}

int sg__client_call(sg__client *cl, const sg_msg_req *req, sg__reply_cb cb,
                    void *arg, sg__call **out)
{
    return call(cl, req, cb, arg, out, false);
}

int sg__client_call_first(sg__client *cl, const sg_msg_req *req,
                          sg__reply_cb cb, void *arg, sg__call **out)
{
    return call(cl, req, cb, arg, out, true);
}

void sg__call_cancel(sg__client *cl, sg__call *c)
{
    if (c == NULL) {
        return;
    }
    c->cb = NULL;
    /* A hit stays on the ready list, which frees it. */
    if (c->queued) {
        wait_unlink(cl, c);
        call_free(c);
    }
    /* On a slot: dropped when NNG finishes with it. */
}

void sg__client_fini(sg__client *cl)
{
    sg__slot *list;

    /* Closing the socket aborts every operation; then wait for the
     * callbacks, which only ever push onto the done list. */
    if (cl->sock_open) {
        nng_close(cl->sock);
        cl->sock_open = false;
    }
    for (int i = 0; i < cl->nslots; i++) {
        if (cl->slots[i].aio != NULL) {
            nng_aio_stop(cl->slots[i].aio);
        }
    }
    pthread_mutex_lock(&cl->mu);
    list = cl->done;
    cl->done = NULL;
    pthread_mutex_unlock(&cl->mu);
    for (; list != NULL; list = list->next) {
        if (list->call != NULL) {
            list->call->cb = NULL;
            call_free(list->call);
            list->call = NULL;
        }
        nng_msg_free(list->reply);
        list->reply = NULL;
    }
    while (cl->wait_head != NULL) {
        sg__call *c = cl->wait_head;
        wait_unlink(cl, c);
        call_free(c);
    }
    while (cl->ready_head != NULL) {
        sg__call *c = cl->ready_head;
        cl->ready_head = c->next;
        call_free(c);
    }
    cl->ready_tail = NULL;
    for (int i = 0; i < cl->nslots; i++) {
        assert(cl->slots[i].call == NULL);
        if (cl->slots[i].aio != NULL) {
            nng_aio_free(cl->slots[i].aio);
        }
    }
    free(cl->slots);
    cl->slots = NULL;
    cl->nslots = 0;
    cl->idle = NULL;
    sg_buf_free(&cl->enc);
    if (cl->handles) {
        uv_close((uv_handle_t *)&cl->async, NULL);
        uv_close((uv_handle_t *)&cl->sweep, NULL);
        uv_close((uv_handle_t *)&cl->ready_check, NULL);
        uv_close((uv_handle_t *)&cl->ready_idle, NULL);
        cl->handles = false;
    }
    pthread_mutex_destroy(&cl->mu);
}
