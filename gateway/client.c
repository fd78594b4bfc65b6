/* gateway/client.c -- the gateway's side of REQ/REP: a bounded pool of NNG
 * REQ contexts, each with one aio, so that many requests are on the wire
 * without a thread each; calls beyond the pool wait in a FIFO.  An aio
 * completes on an NNG thread, which moves a context from send to receive
 * or pushes it, finished, onto a mutex-guarded list and wakes the loop
 * (uv_async_send); the loop thread runs the callers' callbacks.  Resends
 * are off (one would run a write twice); each call has a deadline, after
 * which its caller answers 503; while the matcher has been gone a while,
 * calls fail at once instead of waiting out their timeout. */
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

/* sg__call is one request: waiting for a slot, or on one. */
struct sg__call {
    sg__call *prev;    /* wait FIFO */
    sg__call *next;    /* wait FIFO, or the slot's call */
    sg__reply_cb cb;   /* NULL once cancelled */
    void *arg;         /* cb's argument */
    nng_msg *msg;      /* the request until it is handed to NNG, owned */
    nng_time deadline; /* nng_clock() by which the reply must be in */
    uint64_t t_send;   /* uv_hrtime() when sent */
    bool queued;       /* on the wait FIFO */
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
            sg__metrics_rtt(&cl->g->metrics,
                            (double)(uv_hrtime() - c->t_send) / 1e9);
        }
    }
    if (c->cb != NULL) {
        c->cb(c->arg, rc, rc == 0 ? &rep : NULL, &e);
    }
    nng_msg_free(reply);
    call_free(c);
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

    /* The handles first: fini closes them whatever else failed. */
    uv_async_init(loop, &cl->async, async_cb);
    cl->async.data = cl;
    uv_timer_init(loop, &cl->sweep);
    cl->sweep.data = cl;
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

int sg__client_call(sg__client *cl, const sg_msg_req *req, sg__reply_cb cb,
                    void *arg, sg__call **out)
{
    nng_time now = nng_clock();
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
    if (cl->nwait >= SG__WAIT_MAX) {
        return SG_EBUSY;
    }

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        abort(); /* out of memory */
    }
    cl->enc.len = 0;
    sg_msg_req_encode(req, &cl->enc);
    if ((rv = nng_msg_alloc(&c->msg, cl->enc.len)) != 0) {
        abort(); /* NNG's only failure here is memory */
    }
    memcpy(nng_msg_body(c->msg), cl->enc.data, cl->enc.len);
    c->cb = cb;
    c->arg = arg;
    c->deadline = now + (nng_time)cl->timeout_ms;

    if (cl->idle != NULL && cl->wait_head == NULL) {
        sg__slot *s = cl->idle;
        cl->idle = s->next;
        s->next = NULL;
        start(s, c);
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

void sg__call_cancel(sg__client *cl, sg__call *c)
{
    if (c == NULL) {
        return;
    }
    c->cb = NULL;
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
        cl->handles = false;
    }
    pthread_mutex_destroy(&cl->mu);
}
