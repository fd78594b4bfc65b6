/* matcher/service.c -- the matcher as an NNG service (songgang/service.h).
 * A REP socket has a fixed number of contexts ("slots"), each with its own
 * aio receiving in a loop: the number of requests in flight is bounded by
 * the slots, never by the load.  Completions arrive on NNG's threads,
 * which decode the request and answer a short read right there, in its own
 * LMDB read transaction (a hand-off would cost two context switches per
 * request); long reads go to a pool of reader threads through a
 * mutex+condvar queue.  Writes go to one writer thread, which takes every
 * write queued, runs each in a nested transaction of one write
 * transaction, commits once (one fsync for the whole group) and only then
 * replies; LMDB allows one writer at a time anyway, so batching turns
 * that limit into throughput.  Each reply to a write carries the data
 * version read after its commit, so a gateway's cache drops older replies
 * at once.  After a commit that added events it rings the doorbell on the
 * PUB socket (docs/protocol.md). */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>

#include "../proto/shared.h"
#include "internal.h"
#include "songgang/routes.h"
#include "songgang/service.h"

#define CONTEXTS_DEFAULT 64
#define CONTEXTS_MAX 4096
#define READERS_DEFAULT 2
#define READERS_MAX 256
#define BATCH_MAX 1000        /* requests in one group commit */
#define RESTARTS_MAX 4        /* then every request of the group nested */
#define SEND_TIMEOUT_MS 10000 /* a reply a peer never takes is dropped */

/* Where a slot is in its loop.  Every change happens under sv->mu. */
enum slot_state {
    S_RECV, /* a receive is posted (or done, its callback pending) */
    S_BUSY, /* a request is queued or being answered by our threads */
    S_SEND, /* a reply is being sent */
    S_DONE, /* stopped for good: the service is closing */
};

typedef struct sg_service sg_service;

/* A slot is one REP context with its aio and the request it holds. */
typedef struct slot {
    sg_service *sv;        /* owner */
    nng_ctx ctx;           /* its REP context */
    nng_aio *aio;          /* receives and sends, in turn */
    enum slot_state state; /* guarded by sv->mu */
    nng_msg *msg;          /* the request's bytes, owned while S_BUSY */
    sg_msg_req req;        /* decoded; body points into msg */
    sg_msg_reply reply;    /* the answer; body points into body */
    sg_buf body;           /* reply body storage */
    uint64_t seq;          /* last event seq the request appended */
    bool alone;            /* runs in a nested transaction (run_batch) */
    struct slot *next;     /* queue link */
} slot;

/* A FIFO of slots. */
typedef struct queue {
    slot *head; /* first out */
    slot *tail; /* last in */
    size_t n;   /* length */
} queue;

struct sg_service {
    sg_store *store;        /* borrowed */
    sg_api *api;            /* borrowed */
    nng_socket rep;         /* requests */
    nng_socket pub;         /* doorbells */
    bool rep_open;          /* rep needs closing */
    bool pub_open;          /* pub needs closing */
    int nslots;             /* contexts */
    slot *slots;            /* [nslots] */
    int nreaders;           /* reader threads started */
    pthread_t *readers;     /* [nreaders] */
    pthread_t writer;       /* the writer thread */
    bool writer_started;    /* writer needs joining */
    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t work_cv; /* a queue gained a slot, or stop */
    pthread_cond_t done_cv; /* a slot reached S_DONE */
    queue rq;               /* reads waiting for a reader */
    queue wq;               /* writes waiting for the writer */
    bool closing;           /* no new receives */
    bool stop;              /* threads exit once the queues are empty */
    int ndone;              /* slots in S_DONE */
};

_Atomic int sg__service_commit_faults;

/* ---- Helpers. ---- */

static void q_push(queue *q, slot *s)
{
    s->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = s;
    } else {
        q->head = s;
    }
    q->tail = s;
    q->n++;
}

static slot *q_pop(queue *q)
{
    slot *s = q->head;

    if (s != NULL) {
        q->head = s->next;
        if (q->head == NULL) {
            q->tail = NULL;
        }
        s->next = NULL;
        q->n--;
    }
    return s;
}

/* ---- Replies. ---- */

/* set_error replaces the slot's reply by an error reply. */
static void set_error(slot *s, int status, sg_fmt fmt, const char *code,
                      const char *message, const char *field)
{
    static const sg_msg_reply zero;

    s->body.len = 0;
    s->reply = zero;
    s->reply.status = status;
    s->reply.ctype =
        (uint8_t)sg_error_body(&s->body, fmt, code, message, field);
    s->reply.body = s->body.data;
    s->reply.body_len = s->body.len;
}

/* slot_send sends the slot's reply and releases its request; called by
 * whichever thread holds the slot (S_BUSY).  The slot's aio callback
 * continues the loop when the send completes. */
static void slot_send(slot *s)
{
    sg_service *sv = s->sv;
    sg_buf out;
    nng_msg *m;
    int rv;

    sg_buf_init(&out);
    sg_msg_reply_encode(&s->reply, &out);
    rv = nng_msg_alloc(&m, out.len);
    if (rv != 0) {
        abort(); /* out of memory */
    }
    memcpy(nng_msg_body(m), out.data, out.len);
    sg_buf_free(&out);
    sg_buf_free(&s->body);
    if (s->msg != NULL) {
        nng_msg_free(s->msg);
        s->msg = NULL;
    }
    pthread_mutex_lock(&sv->mu);
    s->state = S_SEND;
    pthread_mutex_unlock(&sv->mu);
    nng_aio_set_timeout(s->aio, SEND_TIMEOUT_MS);
    nng_aio_set_msg(s->aio, m);
    nng_ctx_send(s->ctx, s->aio);
}

/* ---- The slot loop, on NNG's threads. ---- */

/* post_recv posts the next receive, or retires the slot when closing.
 * Called with sv->mu held, so that sg_service_close either sees the
 * receive posted (and cancels it) or sees the slot retired. */
static void post_recv(slot *s)
{
    sg_service *sv = s->sv;

    if (sv->closing) {
        s->state = S_DONE;
        sv->ndone++;
        pthread_cond_broadcast(&sv->done_cv);
        return;
    }
    s->state = S_RECV;
    nng_aio_set_timeout(s->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(s->ctx, s->aio);
}

/* inline_read tells whether a read runs right on the NNG thread that
 * received it.  Measured (bench/http_bench.sh, 2 cores): handing every
 * read to a reader thread costs two context switches per request, 30-40%
 * of the matches route's throughput.  Reads that may run for long (the
 * region lists walk every worker under a code) still go to the readers,
 * so that NNG's task threads are never held for seconds: the routes
 * marked SG_ROUTE_LONG (songgang/routes.h).  An unknown path is a 404
 * at once, so it runs in place too. */
static bool inline_read(const sg_msg_req *req)
{
    int id;

    if (sg_api_is_write(req)) {
        return false;
    }
    id = sg_route_match(req->method, req->path, strlen(req->path),
                        SG_ROUTE_API | SG_ROUTE_INTERNAL, NULL, NULL, 0);
    return id == SG_ROUTE_NONE ||
           (sg_route_get(id)->flags & SG_ROUTE_LONG) == 0;
}

/* read_one answers a read request in a read transaction and sends it. */
static void read_one(sg_service *sv, slot *s)
{
    sg_txn *t;
    int rc = sg_txn_begin(sv->store, false, &t);
    if (rc != 0) {
        set_error(s, 503, s->req.accept, "unavailable", sg_strerror(rc), "");
    } else {
        (void)sg_api_handle(sv->api, t, &s->req, &s->reply, &s->body,
                            &s->seq);
        sg_txn_abort(t);
    }
    slot_send(s);
}

static void on_recv(slot *s)
{
    sg_service *sv = s->sv;
    int rv = nng_aio_result(s->aio);
    sg_error e;
    char msg[256];

    if (rv != 0) {
        /* Cancelled by close, socket closed, or a transient failure. */
        pthread_mutex_lock(&sv->mu);
        if (rv == NNG_ECLOSED) {
            sv->closing = true;
        }
        post_recv(s);
        pthread_mutex_unlock(&sv->mu);
        return;
    }
    s->msg = nng_aio_get_msg(s->aio);
    nng_aio_set_msg(s->aio, NULL);
    sg_error_clear(&e);
    rv = sg_msg_req_decode(nng_msg_body(s->msg), nng_msg_len(s->msg), &s->req,
                           &e);
    pthread_mutex_lock(&sv->mu);
    s->state = S_BUSY;
    if (rv == 0 && inline_read(&s->req)) {
        pthread_mutex_unlock(&sv->mu);
        s->seq = 0;
        sg_buf_init(&s->body);
        read_one(sv, s);
        return;
    }
    if (rv == 0) {
        s->seq = 0;
        sg_buf_init(&s->body);
        q_push(sg_api_is_write(&s->req) ? &sv->wq : &sv->rq, s);
        pthread_cond_broadcast(&sv->work_cv);
        pthread_mutex_unlock(&sv->mu);
        return;
    }
    pthread_mutex_unlock(&sv->mu);
    /* A message that does not decode never reaches the store. */
    snprintf(msg, sizeof msg, "bad request message: %s", e.reason);
    sg_buf_init(&s->body);
    set_error(s, 400, SG_FMT_JSON, "bad_request", msg, e.field);
    slot_send(s);
}

static void on_send(slot *s)
{
    sg_service *sv = s->sv;
    int rv = nng_aio_result(s->aio);

    if (rv != 0) {
        /* A send that failed leaves the message ours. */
        nng_msg *m = nng_aio_get_msg(s->aio);
        nng_aio_set_msg(s->aio, NULL);
        nng_msg_free(m);
        if (rv == NNG_ECLOSED) {
            pthread_mutex_lock(&sv->mu);
            sv->closing = true;
            pthread_mutex_unlock(&sv->mu);
        }
    }
    pthread_mutex_lock(&sv->mu);
    post_recv(s);
    pthread_mutex_unlock(&sv->mu);
}

/* slot_cb runs on an NNG thread when the slot's receive or send ends. */
static void slot_cb(void *arg)
{
    slot *s = arg;
    enum slot_state st;

    pthread_mutex_lock(&s->sv->mu);
    st = s->state;
    pthread_mutex_unlock(&s->sv->mu);
    if (st == S_RECV) {
        on_recv(s);
    } else {
        assert(st == S_SEND);
        on_send(s);
    }
}

/* ---- Readers and the writer, on our threads. ---- */

static void *reader_main(void *arg)
{
    sg_service *sv = arg;

    for (;;) {
        slot *s;

        pthread_mutex_lock(&sv->mu);
        while (sv->rq.n == 0 && !sv->stop) {
            pthread_cond_wait(&sv->work_cv, &sv->mu);
        }
        s = q_pop(&sv->rq);
        pthread_mutex_unlock(&sv->mu);
        if (s == NULL) {
            return NULL; /* stop, and nothing left */
        }
        read_one(sv, s);
    }
}

/* run_one answers s inside t: straight in the group's transaction, or
 * (s->alone) in a nested transaction of its own, kept only if it
 * succeeded.  Returns what sg_api_handle did: nonzero means s failed and
 * left writes in t that must not be kept. */
static int run_one(sg_service *sv, sg_txn *t, slot *s)
{
    sg_txn *child;
    int rc;

    s->seq = 0;
    s->body.len = 0;
    if (!s->alone) {
        return sg_api_handle(sv->api, t, &s->req, &s->reply, &s->body,
                             &s->seq);
    }
    rc = sg_txn_begin_nested(t, &child);
    if (rc != 0) {
        set_error(s, 503, s->req.accept, "unavailable", sg_strerror(rc), "");
        return 0; /* answered; nothing written */
    }
    if (sg_api_handle(sv->api, child, &s->req, &s->reply, &s->body,
                      &s->seq) != 0) {
        sg_txn_abort(child);
        s->seq = 0;
        return 0; /* its error is its reply; nothing of it kept */
    }
    rc = sg_txn_commit(child);
    if (rc != 0) {
        set_error(s, 503, s->req.accept, "unavailable", sg_strerror(rc), "");
        s->seq = 0;
    }
    return 0;
}

/* run_batch answers n write requests in one group commit.  The requests
 * run straight in the group's transaction: a nested transaction per
 * request would copy every page it touches that the group has already
 * dirtied, and search the group's dirty list on every page it reads,
 * which cost more than the writes themselves.  A request that fails may
 * have written part of its change, so the group starts over with that
 * one (and every one that failed before) in a nested transaction of its
 * own; the others are run again as they were.  After RESTARTS_MAX
 * restarts every request gets its own nested transaction, so a batch
 * full of bad requests costs at most that many extra passes. */
static void run_batch(sg_service *sv, slot **batch, size_t n)
{
    sg_txn *parent;
    uint64_t seq, version = 0;
    int rc, restarts = 0;

    for (size_t i = 0; i < n; i++) {
        batch[i]->alone = false;
    }
restart:
    seq = 0;
    rc = sg_txn_begin(sv->store, true, &parent);
    if (rc != 0) {
        goto out_fail;
    }
    /* Step 1: each request, in the group's transaction or its own. */
    for (size_t i = 0; i < n; i++) {
        slot *s = batch[i];

        if (run_one(sv, parent, s) != 0) {
            sg_txn_abort(parent);
            s->alone = true;
            if (++restarts >= RESTARTS_MAX) {
                for (size_t k = 0; k < n; k++) {
                    batch[k]->alone = true;
                }
            }
            goto restart;
        }
        if (s->seq > seq) {
            seq = s->seq;
        }
    }
    /* Step 2: one durable commit for all of them. */
    if (atomic_load(&sg__service_commit_faults) > 0) {
        atomic_fetch_sub(&sg__service_commit_faults, 1);
        sg_txn_abort(parent);
        rc = SG_EIO;
        goto out_fail;
    }
    rc = sg_txn_commit(parent);
    if (rc != 0) {
        goto out_fail;
    }
    /* Step 3: every reply carries the version its writes are in: the last
     * commit's id, read after ours (so at least ours; a batch that changed
     * nothing leaves the version where it was).  A gateway that sees it
     * stops reusing replies of older data at once. */
    if (sg_store_version(sv->store, &version) != 0) {
        version = 0; /* unknown: the gateway then learns it by polling */
    }
    for (size_t i = 0; i < n; i++) {
        batch[i]->reply.version = version;
    }
    /* Step 4: ring the doorbell; subscribers then read the events. */
    if (seq > 0) {
        uint8_t bell[8];

        sg_doorbell_encode(seq, bell);
        (void)nng_send(sv->pub, bell, sizeof bell, NNG_FLAG_NONBLOCK);
    }
    for (size_t i = 0; i < n; i++) {
        slot_send(batch[i]);
    }
    return;

out_fail:
    /* Nothing of the batch was kept: no reply may say otherwise. */
    for (size_t i = 0; i < n; i++) {
        slot *s = batch[i];
        char why[96];

        snprintf(why, sizeof why, "the store could not commit: %s",
                 sg_strerror(rc));
        set_error(s, 503, s->req.accept, "unavailable", why, "");
        slot_send(s);
    }
}

static void *writer_main(void *arg)
{
    sg_service *sv = arg;
    slot **batch = malloc(BATCH_MAX * sizeof *batch);

    if (batch == NULL) {
        abort();
    }
    for (;;) {
        size_t n = 0;

        pthread_mutex_lock(&sv->mu);
        while (sv->wq.n == 0 && !sv->stop) {
            pthread_cond_wait(&sv->work_cv, &sv->mu);
        }
        while (n < BATCH_MAX && sv->wq.n > 0) {
            batch[n++] = q_pop(&sv->wq);
        }
        pthread_mutex_unlock(&sv->mu);
        if (n == 0) {
            break; /* stop, and nothing left */
        }
        run_batch(sv, batch, n);
    }
    free(batch);
    return NULL;
}

/* ---- Open and close. ---- */

/* stop_threads tells the threads to exit once the queues are empty and
 * joins them. */
static void stop_threads(sg_service *sv)
{
    pthread_mutex_lock(&sv->mu);
    sv->stop = true;
    pthread_cond_broadcast(&sv->work_cv);
    pthread_mutex_unlock(&sv->mu);
    for (int i = 0; i < sv->nreaders; i++) {
        pthread_join(sv->readers[i], NULL);
    }
    if (sv->writer_started) {
        pthread_join(sv->writer, NULL);
    }
}

/* ---- Closing the sockets, with a bound. ----
 * NNG 1.5.2 (Debian 12's) can hang for ever in nng_close of a socket with
 * peers still connected (nanomsg/nng#1543, fixed after 1.5.2 by making
 * endpoint close synchronous): seen here once in a few hundred e2e runs,
 * a matcher told SIGTERM by its operator that never exits.  By the time
 * the sockets close every request has been answered and every write
 * committed, so nothing is lost by not waiting: the sockets are closed
 * by a thread of their own, waited for CLOSE_WAIT_MS, and if the close
 * has not returned by then the service says so on stderr and leaves the
 * sockets (and the little memory they share with the closer) to the end
 * of the process. */

#define CLOSE_WAIT_MS 3000

_Atomic int sg__service_close_stall;

typedef struct closer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    nng_socket rep, pub;
    bool rep_open, pub_open;
    bool done;
    int refs; /* the closer thread and the service: the last one frees */
} closer;

static void closer_unref(closer *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

static void *close_sockets(void *arg)
{
    closer *c = arg;
    while (atomic_load(&sg__service_close_stall) != 0) {
        struct timespec ms = {0, 1000000L}; /* a hanging close (tests) */
        nanosleep(&ms, NULL);
    }
    if (c->rep_open) {
        nng_close(c->rep);
    }
    if (c->pub_open) {
        nng_close(c->pub);
    }
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    closer_unref(c);
    return NULL;
}

/* close_bounded closes sv's sockets, waiting CLOSE_WAIT_MS at most. */
static void close_bounded(sg_service *sv)
{
    closer *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        abort();
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->rep = sv->rep;
    c->pub = sv->pub;
    c->rep_open = sv->rep_open;
    c->pub_open = sv->pub_open;
    c->refs = 2;
    pthread_t th;
    if (pthread_create(&th, NULL, close_sockets, c) != 0) {
        c->refs = 1;
        close_sockets(c); /* no thread: close here, unbounded */
        return;
    }
    pthread_detach(th);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLOSE_WAIT_MS / 1000;
    until.tv_nsec += (long)(CLOSE_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (!c->done && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
    }
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done) {
        fprintf(stderr, "songgang: the NNG sockets did not close in %d ms "
                        "(NNG 1.5.2, nanomsg/nng#1543); every request was "
                        "answered and committed: leaving them to the exit\n",
                CLOSE_WAIT_MS);
    }
    closer_unref(c);
}

/* free_service releases what open made; every receive has ended. */
static void free_service(sg_service *sv)
{
    for (int i = 0; i < sv->nslots; i++) {
        slot *s = &sv->slots[i];
        if (s->aio != NULL) {
            nng_aio_free(s->aio); /* waits for a callback still running */
        }
        if (nng_ctx_id(s->ctx) > 0) {
            nng_ctx_close(s->ctx);
        }
        assert(s->msg == NULL);
    }
    close_bounded(sv);
    pthread_cond_destroy(&sv->work_cv);
    pthread_cond_destroy(&sv->done_cv);
    pthread_mutex_destroy(&sv->mu);
    free(sv->readers);
    free(sv->slots);
    free(sv);
}

static int fail(const char *what, const char *url, int rv)
{
    fprintf(stderr, "songgang-matcher: %s %s: %s\n", what, url,
            nng_strerror(rv));
    return sg__err_nng(rv);
}

int sg_service_open(sg_service **out, sg_store *s, sg_api *a,
                    const sg_service_opts *o)
{
    char pub_url[1024];
    sg_service *sv;
    int rv, rc;

    if (out == NULL || s == NULL || a == NULL || o == NULL ||
        o->listen == NULL || o->contexts < 0 || o->contexts > CONTEXTS_MAX ||
        o->readers < 0 || o->readers > READERS_MAX) {
        return SG_EINVAL;
    }
    if (o->pub != NULL) {
        if (strlen(o->pub) >= sizeof pub_url) {
            return SG_ETOOBIG;
        }
        strcpy(pub_url, o->pub);
    } else if ((rc = sg_pub_url(o->listen, pub_url, sizeof pub_url)) != 0) {
        return rc;
    }
    sv = calloc(1, sizeof *sv);
    if (sv == NULL) {
        abort();
    }
    sv->store = s;
    sv->api = a;
    sv->nslots = o->contexts > 0 ? o->contexts : CONTEXTS_DEFAULT;
    sv->slots = calloc((size_t)sv->nslots, sizeof *sv->slots);
    sv->readers =
        calloc((size_t)(o->readers > 0 ? o->readers : READERS_DEFAULT),
               sizeof *sv->readers);
    if (sv->slots == NULL || sv->readers == NULL) {
        abort();
    }
    pthread_mutex_init(&sv->mu, NULL);
    pthread_cond_init(&sv->work_cv, NULL);
    pthread_cond_init(&sv->done_cv, NULL);

    /* Step 1: sockets.  Every slot is retired until its receive starts,
     * so that a failure below can free everything at once. */
    sv->ndone = sv->nslots;
    if ((rv = nng_rep0_open(&sv->rep)) != 0) {
        rc = fail("cannot open REP socket for", o->listen, rv);
        goto out_free;
    }
    sv->rep_open = true;
    rv = nng_socket_set_size(sv->rep, NNG_OPT_RECVMAXSZ,
                             (size_t)SG_MSG_BODY_MAX + (64u << 10));
    if (rv == 0) {
        rv = nng_listen(sv->rep, o->listen, NULL, 0);
    }
    if (rv != 0) {
        rc = fail("cannot listen on", o->listen, rv);
        goto out_free;
    }
    if ((rv = nng_pub0_open(&sv->pub)) != 0) {
        rc = fail("cannot open PUB socket for", pub_url, rv);
        goto out_free;
    }
    sv->pub_open = true;
    if ((rv = nng_listen(sv->pub, pub_url, NULL, 0)) != 0) {
        rc = fail("cannot listen on", pub_url, rv);
        goto out_free;
    }
    for (int i = 0; i < sv->nslots; i++) {
        slot *sl = &sv->slots[i];

        sl->sv = sv;
        sl->state = S_DONE;
        if ((rv = nng_ctx_open(&sl->ctx, sv->rep)) != 0 ||
            (rv = nng_aio_alloc(&sl->aio, slot_cb, sl)) != 0) {
            rc = fail("cannot make a context on", o->listen, rv);
            goto out_free;
        }
    }

    /* Step 2: threads, then the receives that feed them. */
    if (pthread_create(&sv->writer, NULL, writer_main, sv) != 0) {
        rc = SG_EIO;
        goto out_free;
    }
    sv->writer_started = true;
    for (int i = 0; i < (o->readers > 0 ? o->readers : READERS_DEFAULT); i++) {
        if (pthread_create(&sv->readers[i], NULL, reader_main, sv) != 0) {
            rc = SG_EIO;
            goto out_stop_threads;
        }
        sv->nreaders++;
    }
    pthread_mutex_lock(&sv->mu);
    for (int i = 0; i < sv->nslots; i++) {
        sv->ndone--;
        post_recv(&sv->slots[i]);
    }
    pthread_mutex_unlock(&sv->mu);
    *out = sv;
    return 0;

out_stop_threads:
    stop_threads(sv);
out_free:
    free_service(sv);
    return rc;
}

void sg_service_close(sg_service *sv)
{
    if (sv == NULL) {
        return;
    }
    /* Step 1: no new receives; cancel the ones waiting.  A receive that
     * already completed has its callback waiting for mu: it finds its
     * message and queues it, and that request is answered below. */
    pthread_mutex_lock(&sv->mu);
    sv->closing = true;
    for (int i = 0; i < sv->nslots; i++) {
        if (sv->slots[i].state == S_RECV) {
            nng_aio_cancel(sv->slots[i].aio);
        }
    }
    /* Step 2: every request in flight is answered (the writer commits
     * what is queued first), and each slot then retires. */
    while (sv->ndone < sv->nslots) {
        pthread_cond_wait(&sv->done_cv, &sv->mu);
    }
    pthread_mutex_unlock(&sv->mu);
    /* Step 3: threads, contexts, sockets. */
    stop_threads(sv);
    free_service(sv);
}
