/* tests/gateway_test.c -- the HTTP gateway through its public header, on
 * real loopback sockets: the gateway runs on a thread of its own against a
 * scripted matcher -- a real NNG REP socket (raw, so that it can hold
 * requests and answer them in any order, or never) and a PUB socket for
 * doorbells -- and the tests are real TCP clients.  Faults are injected at
 * that boundary: replies out of order, replies that never come, a matcher
 * that is not there yet, clients that stall, flood or send garbage.
 * Threads: the test's, the gateway loop's, the peer's, NNG's. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "songgang/gateway.h"
#include "songgang/msg.h"
#include "testutil.h"

/* ---- Time. ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- The scripted matcher. ---- */

enum { P_AUTO, P_HOLD, P_DROP };

/* seen is what the peer learnt of one request. */
typedef struct seen {
    char method[8];
    char path[128];
    char cred[SG_MSG_CRED_MAX + 1];
    char q[512]; /* "k=v&k=v" */
    uint8_t ct;
    uint8_t acc;
    uint64_t leid;
    size_t body_len;
} seen;

typedef struct pevent {
    uint64_t seq;
    char type[8];
    char worker[SG_ID_MAX + 1];
    char region[SG_REGION_LEN + 1];
    char *data; /* owned */
} pevent;

typedef struct held {
    nng_msg *msg; /* the request, header = backtrace */
    seen s;
} held;

typedef struct peer {
    char url[256];
    char pub_url[256];
    nng_socket rep;
    nng_socket pub;
    bool up;
    pthread_t th;
    atomic_bool stop;
    pthread_mutex_t mu;
    int mode;
    held held[64];
    int nheld;
    seen seen[512];
    int nseen;
    pevent *ev;
    int nev;
    int cap;
    int backlog_cut; /* events per reply, 0 = 1000 */
    int stats_status;
    int polls;
    /* The data version and the reply cache (SG /version, /v1/c/...). */
    uint64_t poll_version;  /* what SG /version answers */
    uint64_t reply_version; /* the version every other reply carries */
    int64_t until;          /* cache_until_ms of /v1/c/ replies, 0 = 1 h */
    bool no_version;        /* SG /version goes unanswered */
    int vpolls;             /* SG /version requests received */
    int served;             /* /v1/c/ replies sent, numbers them */
} peer;

static void seen_of(const sg_msg_req *m, seen *s)
{
    size_t o = 0;

    memset(s, 0, sizeof *s);
    snprintf(s->method, sizeof s->method, "%s", m->method);
    snprintf(s->path, sizeof s->path, "%.127s", m->path);
    snprintf(s->cred, sizeof s->cred, "%s", m->cred);
    for (int i = 0; i < m->nq && o < sizeof s->q; i++) {
        int n = snprintf(s->q + o, sizeof s->q - o, "%s%s=%s", i ? "&" : "",
                         m->q[i].key, m->q[i].val);
        o += n > 0 ? (size_t)n : 0;
    }
    s->ct = m->ctype;
    s->acc = m->accept;
    s->leid = m->last_event_id;
    s->body_len = m->body_len;
}

/* reply_send sends rep as the answer to req (raw: same header). */
static void reply_send(peer *p, nng_msg *req, const sg_msg_reply *rep)
{
    sg_msg_reply v = *rep;
    nng_msg *m;
    sg_buf b;

    /* Every reply tells the data version, as the matcher's do. */
    if (v.version == 0) {
        v.version = p->reply_version;
    }
    sg_buf_init(&b);
    sg_msg_reply_encode(&v, &b);
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    nng_msg_header_append(m, nng_msg_header(req), nng_msg_header_len(req));
    nng_msg_append(m, b.data, b.len);
    sg_buf_free(&b);
    if (nng_sendmsg(p->rep, m, 0) != 0) {
        nng_msg_free(m);
    }
    nng_msg_free(req);
}

static void reply_simple(peer *p, nng_msg *req, int status, uint8_t ct,
                         const void *body, size_t len)
{
    sg_msg_reply r;

    memset(&r, 0, sizeof r);
    r.status = status;
    r.ctype = ct;
    r.body = body;
    r.body_len = len;
    reply_send(p, req, &r);
}

/* events_reply answers with the events after `after` that match. */
static void events_reply(peer *p, nng_msg *req, uint64_t after,
                         const char *worker, const char *region, int limit,
                         sg_stream_kind kind, const char *key)
{
    sg_msg_reply r;
    sg_buf b;
    int n = 0;
    uint64_t last = 0;

    memset(&r, 0, sizeof r);
    sg_buf_init(&b);
    /* A msgpack array header, patched when the count is known. */
    uint8_t hdr[3] = {0xdc, 0, 0};
    sg_buf_append(&b, hdr, 3);
    for (int i = 0; i < p->nev; i++) {
        pevent *e = &p->ev[i];
        if (e->seq <= after) {
            continue;
        }
        if (worker != NULL && strcmp(e->worker, worker) != 0) {
            continue;
        }
        if (region != NULL && strncmp(e->region, region, strlen(region)) != 0) {
            continue;
        }
        if (n == limit) {
            r.more = true;
            break;
        }
        sg_event ev = {
            .seq = e->seq, .data = e->data, .data_len = strlen(e->data)};
        snprintf(ev.type, sizeof ev.type, "%s", e->type);
        snprintf(ev.worker, sizeof ev.worker, "%s", e->worker);
        snprintf(ev.region, sizeof ev.region, "%s", e->region);
        sg_event_encode(&ev, &b);
        last = e->seq;
        n++;
    }
    b.data[1] = (uint8_t)(n >> 8);
    b.data[2] = (uint8_t)n;
    r.status = 200;
    r.ctype = SG_FMT_MSGPACK;
    r.body = b.data;
    r.body_len = b.len;
    r.seq = n > 0 ? last : (p->nev > 0 ? p->ev[p->nev - 1].seq : 0);
    r.stream = (uint8_t)kind;
    if (key != NULL) {
        snprintf(r.stream_key, sizeof r.stream_key, "%s", key);
    }
    reply_send(p, req, &r);
    sg_buf_free(&b);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* cacheable answers GET /v1/c/...: a reply marked reusable, numbered so
 * that a test sees whether an answer came from the peer or the cache;
 * /v1/c/big/... is 64 KiB. */
static void cacheable(peer *p, nng_msg *msg, const sg_msg_req *m)
{
    static char big[64 << 10];
    sg_msg_reply r;
    char body[512];
    int n;

    memset(&r, 0, sizeof r);
    n = snprintf(body, sizeof body,
                 "{\"p\":\"%s\",\"cred\":\"%.6s\",\"acc\":%d,\"nq\":%d,"
                 "\"n\":%d}",
                 m->path, m->cred, m->accept, m->nq, ++p->served);
    r.status = 200;
    r.ctype = SG_FMT_JSON;
    r.body = (const uint8_t *)body;
    r.body_len = (size_t)n;
    if (strncmp(m->path, "/v1/c/big/", 10) == 0) {
        memset(big, ' ', sizeof big);
        memcpy(big, body, (size_t)n);
        r.body = (const uint8_t *)big;
        r.body_len = sizeof big;
    }
    r.version = p->reply_version;
    r.cache_until_ms = p->until != 0 ? p->until : wall_ms() + 3600 * 1000;
    reply_send(p, msg, &r);
}

/* answer is the scripted matcher's API (called with p->mu held). */
static void answer(peer *p, nng_msg *msg, const sg_msg_req *m)
{
    char body[2048];
    int n;

    if (strcmp(m->method, "SG") == 0 && strcmp(m->path, "/version") == 0) {
        sg_msg_reply r;
        memset(&r, 0, sizeof r);
        n = snprintf(body, sizeof body, "{\"version\":%llu}",
                     (unsigned long long)p->poll_version);
        r.status = 200;
        r.ctype = SG_FMT_JSON;
        r.body = (const uint8_t *)body;
        r.body_len = (size_t)n;
        /* 0 = a matcher that does not know versions: nothing vouches. */
        r.version = p->poll_version;
        reply_send(p, msg, &r);
        return;
    }
    if (strcmp(m->method, "GET") == 0 && strncmp(m->path, "/v1/c/", 6) == 0) {
        cacheable(p, msg, m);
        return;
    }
    if (strcmp(m->method, "SG") == 0 && strcmp(m->path, "/stats") == 0) {
        n = snprintf(body, sizeof body,
                     "{\"lmdb_bytes\":12345,\"last_seq\":%d,\"workers\":1,"
                     "\"jobs\":1}",
                     p->nev);
        reply_simple(p, msg, p->stats_status ? p->stats_status : 200,
                     SG_FMT_JSON, body, (size_t)n);
        return;
    }
    if (strcmp(m->method, "SG") == 0 && strcmp(m->path, "/events/poll") == 0) {
        const char *a = sg_msg_req_get(m, "after");
        const char *l = sg_msg_req_get(m, "limit");
        p->polls++;
        events_reply(p, msg, a ? strtoull(a, NULL, 10) : 0, NULL, NULL,
                     l ? atoi(l) : 1000, SG_STREAM_NONE, NULL);
        return;
    }
    if (strcmp(m->path, "/v1/events") == 0) {
        const char *w = sg_msg_req_get(m, "worker");
        const char *rg = sg_msg_req_get(m, "region");
        int cut = p->backlog_cut > 0 ? p->backlog_cut : 1000;
        if (m->cred[0] == '\0') {
            static const char e401[] =
                "{\"error\":{\"code\":\"unauthorized\",\"message\":\"no\","
                "\"field\":\"\"}}";
            reply_simple(p, msg, 401, SG_FMT_JSON, e401, sizeof e401 - 1);
            return;
        }
        events_reply(p, msg, m->last_event_id, w, rg, cut,
                     w ? SG_STREAM_WORKER : SG_STREAM_REGION, w ? w : rg);
        return;
    }
    if (strcmp(m->path, "/big") == 0) {
        static char big[64 << 10];
        memset(big, 'x', sizeof big);
        big[0] = '"';
        big[sizeof big - 1] = '"';
        reply_simple(p, msg, 200, SG_FMT_JSON, big, sizeof big);
        return;
    }
    if (strncmp(m->path, "/mp", 3) == 0) {
        static const uint8_t mp[] = {0x81, 0xa1, 'a', 0x01};
        reply_simple(p, msg, 200, SG_FMT_MSGPACK, mp, sizeof mp);
        return;
    }
    n = snprintf(body, sizeof body, "{\"m\":\"%s\",\"p\":\"%s\"}", m->method,
                 m->path);
    reply_simple(p, msg, strcmp(m->method, "POST") == 0 ? 201 : 200,
                 SG_FMT_JSON, body, (size_t)n);
}

static void *peer_main(void *arg)
{
    peer *p = arg;

    while (!atomic_load(&p->stop)) {
        nng_msg *msg;
        static sg_msg_req m; /* big: one peer thread at a time */
        sg_error e;
        int rv = nng_recvmsg(p->rep, &msg, 0);
        if (rv == NNG_ETIMEDOUT) {
            continue;
        }
        if (rv != 0) {
            break;
        }
        if (sg_msg_req_decode(nng_msg_body(msg), nng_msg_len(msg), &m, &e) !=
            0) {
            fprintf(stderr, "peer: bad request: %s: %s\n", e.field, e.reason);
            nng_msg_free(msg);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        bool internal = strcmp(m.method, "SG") == 0;
        /* The gateway's version polls come 40 times a second: counted,
         * not kept among the requests the tests look at. */
        if (internal && strcmp(m.path, "/version") == 0) {
            p->vpolls++;
            if (p->no_version) {
                nng_msg_free(msg);
            } else {
                answer(p, msg, &m);
            }
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        if (p->nseen < (int)(sizeof p->seen / sizeof p->seen[0])) {
            seen_of(&m, &p->seen[p->nseen++]);
        }
        if (p->mode == P_DROP && !internal) {
            nng_msg_free(msg);
        } else if (p->mode == P_HOLD && !internal && p->nheld < 64) {
            p->held[p->nheld].msg = msg;
            seen_of(&m, &p->held[p->nheld].s);
            p->nheld++;
        } else {
            answer(p, msg, &m);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static void peer_init(peer *p, const char *dir)
{
    memset(p, 0, sizeof *p);
    snprintf(p->url, sizeof p->url, "ipc://%.200s/m", dir);
    snprintf(p->pub_url, sizeof p->pub_url, "ipc://%.200s/m.pub", dir);
    pthread_mutex_init(&p->mu, NULL);
}

static void peer_start(peer *p)
{
    assert_int_equal(nng_rep0_open_raw(&p->rep), 0);
    assert_int_equal(nng_socket_set_ms(p->rep, NNG_OPT_RECVTIMEO, 50), 0);
    assert_int_equal(nng_listen(p->rep, p->url, NULL, 0), 0);
    assert_int_equal(nng_pub0_open(&p->pub), 0);
    assert_int_equal(nng_listen(p->pub, p->pub_url, NULL, 0), 0);
    atomic_store(&p->stop, false);
    p->up = true;
    assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
}

static void peer_stop(peer *p)
{
    if (!p->up) {
        return;
    }
    atomic_store(&p->stop, true);
    pthread_join(p->th, NULL);
    for (int i = 0; i < p->nheld; i++) {
        nng_msg_free(p->held[i].msg);
    }
    p->nheld = 0;
    nng_close(p->rep);
    nng_close(p->pub);
    p->up = false;
}

static void peer_fini(peer *p)
{
    peer_stop(p);
    for (int i = 0; i < p->nev; i++) {
        free(p->ev[i].data);
    }
    free(p->ev);
    pthread_mutex_destroy(&p->mu);
}

static void peer_mode(peer *p, int mode)
{
    pthread_mutex_lock(&p->mu);
    p->mode = mode;
    pthread_mutex_unlock(&p->mu);
}

/* peer_wait_held waits until n requests are held. */
static void peer_wait_held(peer *p, int n)
{
    int64_t end = now_ms() + 3000;
    int have;

    do {
        pthread_mutex_lock(&p->mu);
        have = p->nheld;
        pthread_mutex_unlock(&p->mu);
        if (have >= n) {
            return;
        }
        sleep_ms(5);
    } while (now_ms() < end);
    fail_msg("the peer holds %d requests, not %d", have, n);
}

/* peer_release answers held request i with a body naming its path. */
static void peer_release(peer *p, int i)
{
    char body[256];
    int n;

    pthread_mutex_lock(&p->mu);
    assert_true(i < p->nheld && p->held[i].msg != NULL);
    n = snprintf(body, sizeof body, "{\"p\":\"%s\"}", p->held[i].s.path);
    reply_simple(p, p->held[i].msg, 200, SG_FMT_JSON, body, (size_t)n);
    p->held[i].msg = NULL;
    pthread_mutex_unlock(&p->mu);
}

static void peer_add_event(peer *p, const char *type, const char *worker,
                           const char *region, const char *data)
{
    pthread_mutex_lock(&p->mu);
    if (p->nev == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->ev = realloc(p->ev, (size_t)p->cap * sizeof *p->ev);
        assert_non_null(p->ev);
    }
    pevent *e = &p->ev[p->nev];
    e->seq = (uint64_t)p->nev + 1;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->worker, sizeof e->worker, "%s", worker);
    snprintf(e->region, sizeof e->region, "%s", region);
    e->data = strdup(data);
    p->nev++;
    pthread_mutex_unlock(&p->mu);
}

static void peer_ring(peer *p)
{
    uint8_t bell[8];

    pthread_mutex_lock(&p->mu);
    sg_doorbell_encode((uint64_t)p->nev, bell);
    pthread_mutex_unlock(&p->mu);
    assert_int_equal(nng_send(p->pub, bell, sizeof bell, 0), 0);
}

/* peer_versions sets the version SG /version answers and the one every
 * other reply carries. */
static void peer_versions(peer *p, uint64_t poll_v, uint64_t reply_v)
{
    pthread_mutex_lock(&p->mu);
    p->poll_version = poll_v;
    p->reply_version = reply_v;
    pthread_mutex_unlock(&p->mu);
}

/* peer_until sets cache_until_ms of the /v1/c/ replies (0 = in 1 h). */
static void peer_until(peer *p, int64_t until)
{
    pthread_mutex_lock(&p->mu);
    p->until = until;
    pthread_mutex_unlock(&p->mu);
}

static void peer_no_version(peer *p, bool on)
{
    pthread_mutex_lock(&p->mu);
    p->no_version = on;
    pthread_mutex_unlock(&p->mu);
}

/* peer_count returns how many requests for path reached the peer. */
static int peer_count(peer *p, const char *path)
{
    int n = 0;

    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nseen; i++) {
        n += strcmp(p->seen[i].path, path) == 0;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* peer_wait_vpolls waits until n more version polls arrive.  The gateway
 * sends one at a time, so each arrival after the first means the one
 * before was answered and taken in: with n = 2, the gateway has learnt
 * the peer's version as it is now, and may use its cache. */
static void peer_wait_vpolls(peer *p, int n)
{
    int64_t end = now_ms() + 5000;
    int from, have;

    pthread_mutex_lock(&p->mu);
    from = p->vpolls;
    pthread_mutex_unlock(&p->mu);
    do {
        sleep_ms(5);
        pthread_mutex_lock(&p->mu);
        have = p->vpolls;
        pthread_mutex_unlock(&p->mu);
        if (have - from >= n) {
            return;
        }
    } while (now_ms() < end);
    fail_msg("%d version polls in 5 s, not %d", have - from, n);
}

/* peer_find returns the last request seen with path, or NULL. */
static bool peer_find(peer *p, const char *path, seen *out)
{
    bool found = false;

    pthread_mutex_lock(&p->mu);
    for (int i = p->nseen - 1; i >= 0; i--) {
        if (strcmp(p->seen[i].path, path) == 0) {
            *out = p->seen[i];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return found;
}

/* ---- The gateway on its thread. ---- */

typedef struct gw {
    sg_gateway *g;
    pthread_t th;
    int port;
    int rc;
    bool running;
} gw;

static void *gw_main(void *arg)
{
    gw *w = arg;
    w->rc = sg_gateway_run(w->g);
    return NULL;
}

static void test_opts(sg_gateway_opts *o, const peer *p)
{
    sg_gateway_opts_default(o);
    o->matcher = p->url;
    o->pub = NULL; /* derived: url + ".pub" */
    o->http = "127.0.0.1:0";
    o->request_timeout_ms = 2000;
    o->idle_timeout_ms = 5000;
    o->matcher_timeout_ms = 1000;
    o->contexts = 8;
    o->rate_per_s = 100000;
    o->rate_burst = 100000;
    o->quiet = 1;
}

static void gw_start(gw *w, const sg_gateway_opts *o)
{
    memset(w, 0, sizeof *w);
    assert_int_equal(sg_gateway_open(&w->g, o), 0);
    w->port = sg_gateway_port(w->g);
    assert_true(w->port > 0);
    assert_int_equal(pthread_create(&w->th, NULL, gw_main, w), 0);
    w->running = true;
}

/* gw_stop sends SIGTERM as an operator would and waits for the loop. */
static void gw_stop(gw *w)
{
    if (w->running) {
        kill(getpid(), SIGTERM);
        pthread_join(w->th, NULL);
        w->running = false;
        assert_int_equal(w->rc, 0);
    }
    sg_gateway_close(w->g);
    w->g = NULL;
}

/* ---- A plain TCP client. ---- */

typedef struct tc {
    int fd;
    char *buf;
    size_t len;
    size_t cap;
} tc;

typedef struct tresp {
    int status;
    char head[4096];
    char *body; /* owned, NUL-terminated */
    size_t body_len;
} tresp;

static int tc_try_open(tc *c, int port, int rcvbuf)
{
    struct sockaddr_in a;

    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    if (rcvbuf > 0) {
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int err = errno;
        close(c->fd);
        c->fd = -1;
        return -err;
    }
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    return 0;
}

static void tc_open(tc *c, int port)
{
    assert_int_equal(tc_try_open(c, port, 0), 0);
}

static void tc_close(tc *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->buf);
    c->buf = NULL;
    c->fd = -1;
}

static void tc_send(tc *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return; /* the gateway may have closed: the test reads why */
        }
        s += w;
        n -= (size_t)w;
    }
}

static void tc_sends(tc *c, const char *s)
{
    tc_send(c, s, strlen(s));
}

/* tc_fill reads once: > 0 bytes, 0 at EOF (or reset), -1 on timeout. */
static int tc_fill(tc *c, int timeout_ms)
{
    struct pollfd pf = {c->fd, POLLIN, 0};
    ssize_t n;

    if (poll(&pf, 1, timeout_ms) <= 0) {
        return -1;
    }
    if (c->cap - c->len < 4096) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
    }
    n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n <= 0) {
        return 0;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return (int)n;
}

/* ci_find finds needle in hay[0..n) ignoring case. */
static const char *ci_find(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (strncasecmp(hay + i, needle, k) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

/* tc_response reads one response: 0, or -1 on timeout or EOF. */
static int tc_response(tc *c, tresp *r, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    const char *eoh, *cl;
    size_t hlen, blen = 0;

    memset(r, 0, sizeof *r);
    for (;;) {
        eoh = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (eoh != NULL) {
            hlen = (size_t)(eoh - c->buf) + 4;
            cl = ci_find(c->buf, hlen, "\r\ncontent-length:");
            blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
            if (c->len >= hlen + blen) {
                break;
            }
        }
        int left = (int)(end - now_ms());
        if (left <= 0 || tc_fill(c, left) <= 0) {
            return -1;
        }
    }
    r->status = atoi(c->buf + 9);
    snprintf(r->head, sizeof r->head, "%.*s", (int)hlen, c->buf);
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return 0;
}

static void tresp_free(tresp *r)
{
    free(r->body);
    r->body = NULL;
}

/* tc_wait_text waits until needle is in what was read (not consumed). */
static bool tc_wait_text(tc *c, const char *needle, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;

    for (;;) {
        if (c->len && memmem(c->buf, c->len, needle, strlen(needle))) {
            return true;
        }
        int left = (int)(end - now_ms());
        if (left <= 0 || tc_fill(c, left) <= 0) {
            return false;
        }
    }
}

/* tc_eof tells whether the gateway closes within timeout_ms (what it
 * still sends is kept). */
static bool tc_eof(tc *c, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;

    for (;;) {
        int left = (int)(end - now_ms());
        if (left <= 0) {
            return false;
        }
        int n = tc_fill(c, left);
        if (n == 0) {
            return true;
        }
        if (n < 0) {
            return false;
        }
    }
}

/* get does one keep-alive GET with an optional extra header block. */
static int get(tc *c, const char *target, const char *extra, tresp *r)
{
    char req[4096];

    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n", target,
             extra ? extra : "");
    tc_sends(c, req);
    return tc_response(c, r, 5000);
}

/* once connects, GETs and closes; returns the status. */
static int once(int port, const char *target, const char *extra)
{
    tc c;
    tresp r;
    int status;

    tc_open(&c, port);
    status = get(&c, target, extra, &r) == 0 ? r.status : -1;
    tresp_free(&r);
    tc_close(&c);
    return status;
}

/* ---- Fixture. ---- */

typedef struct fx {
    char dir[256];
    peer p;
    gw w;
    sg_gateway_opts o;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tu_tempdir(f->dir, sizeof f->dir);
    peer_init(&f->p, f->dir);
    test_opts(&f->o, &f->p);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->w.g != NULL) {
        gw_stop(&f->w);
    }
    peer_fini(&f->p);
    tu_rmrf(f->dir);
    free(f);
    return 0;
}

/* start starts the peer and the gateway, and waits until they talk. */
static void start(fx *f)
{
    peer_start(&f->p);
    gw_start(&f->w, &f->o);
    int64_t end = now_ms() + 3000;
    while (once(f->w.port, "/healthz", NULL) != 200) {
        assert_true(now_ms() < end);
        sleep_ms(20);
    }
}

/* ---- Tests. ---- */

/* Three requests in one write; the matcher answers them in reverse, a
 * fourth is refused by the gateway itself at once: all four come back in
 * request order, and the connection is kept. */
static void test_pipelining_in_order(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    const char *want[] = {"/v1/jobs/a", "/v1/jobs/b", "/v1/jobs/c"};

    start(f);
    peer_mode(&f->p, P_HOLD);
    tc_open(&c, f->w.port);
    tc_sends(&c, "GET /v1/jobs/a HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /v1/jobs/b HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /v1/jobs/c HTTP/1.1\r\nHost: t\r\n\r\n"
                 "PATCH /v1/jobs/d HTTP/1.1\r\nHost: t\r\n\r\n");
    peer_wait_held(&f->p, 3);
    peer_release(&f->p, 2);
    peer_release(&f->p, 1);
    sleep_ms(50);
    /* Nothing may be written before the first answer. */
    assert_int_equal(tc_fill(&c, 100), -1);
    peer_release(&f->p, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tc_response(&c, &r, 3000), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, want[i]));
        tresp_free(&r);
    }
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.body, "\"method_not_allowed\""));
    tresp_free(&r);

    /* Keep-alive: the same connection serves on. */
    peer_mode(&f->p, P_AUTO);
    assert_int_equal(get(&c, "/v1/jobs/e", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);

    /* More than a connection may have in flight, in one write. */
    char *many = malloc(100 * 64);
    size_t o = 0;
    for (int i = 0; i < 100; i++) {
        o += (size_t)sprintf(many + o, "GET /v1/jobs/n%d HTTP/1.1\r\n\r\n", i);
    }
    tc_send(&c, many, o);
    free(many);
    for (int i = 0; i < 100; i++) {
        char p[32];
        snprintf(p, sizeof p, "\"/v1/jobs/n%d\"", i);
        assert_int_equal(tc_response(&c, &r, 3000), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, p));
        tresp_free(&r);
    }
    tc_close(&c);
}

/* A client that sends many requests but reads nothing: the gateway stops
 * reading it instead of queueing answers without bound, and serves it
 * in full once it reads. */
static void test_backpressure(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    int before;
    char *reqs = malloc(400 * 32);
    size_t o = 0;

    start(f);
    assert_int_equal(tc_try_open(&c, f->w.port, 4096), 0);
    for (int i = 0; i < 400; i++) {
        o += (size_t)sprintf(reqs + o, "GET /big HTTP/1.1\r\n\r\n");
    }
    tc_send(&c, reqs, o);
    free(reqs);
    sleep_ms(500);
    pthread_mutex_lock(&f->p.mu);
    before = f->p.nseen;
    pthread_mutex_unlock(&f->p.mu);
    assert_true(before < 300); /* 400 x 64 KiB would be 25 MiB queued */
    for (int i = 0; i < 400; i++) {
        assert_int_equal(tc_response(&c, &r, 5000), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 64 << 10);
        tresp_free(&r);
    }
    tc_close(&c);
}

/* The keep-alive idle time counts from the last byte the client read: a
 * slow reader of long answers is not cut off, a stalled one is. */
static void test_slow_reader_not_idle(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    char *reqs = malloc(60 * 32);
    size_t o = 0;

    f->o.idle_timeout_ms = 300;
    start(f);
    assert_int_equal(tc_try_open(&c, f->w.port, 4096), 0);
    for (int i = 0; i < 60; i++) {
        o += (size_t)sprintf(reqs + o, "GET /big HTTP/1.1\r\n\r\n");
    }
    tc_send(&c, reqs, o);
    free(reqs);
    for (int i = 0; i < 60; i++) { /* about 1.2 s */
        assert_int_equal(tc_response(&c, &r, 3000), 0);
        assert_int_equal(r.body_len, 64 << 10);
        tresp_free(&r);
        sleep_ms(20);
    }
    assert_true(tc_eof(&c, 2000)); /* then idle: closed */
    tc_close(&c);
}

/* A stop is not held forever by a client that never reads its answers:
 * past the grace time its connection is closed. */
static void test_stop_with_stuck_client(void **state)
{
    fx *f = *state;
    tc c;
    char *reqs = malloc(200 * 32);
    size_t o = 0;
    int64_t t0;

    f->o.matcher_timeout_ms = 300;
    start(f);
    assert_int_equal(tc_try_open(&c, f->w.port, 4096), 0);
    for (int i = 0; i < 200; i++) {
        o += (size_t)sprintf(reqs + o, "GET /big HTTP/1.1\r\n\r\n");
    }
    tc_send(&c, reqs, o);
    free(reqs);
    sleep_ms(300);
    t0 = now_ms();
    gw_stop(&f->w);
    assert_true(now_ms() - t0 < 2 * 300 + 3000 + 1000);
    tc_close(&c);
}

static void test_header_limit_431(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    char big[3000];

    f->o.max_header = 1024;
    start(f);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tc_open(&c, f->w.port);
    tc_sends(&c, "GET /v1/jobs HTTP/1.1\r\nX-Big: ");
    tc_sends(&c, big);
    tc_sends(&c, "\r\n\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 431);
    assert_non_null(strstr(r.body, "\"headers_too_large\""));
    assert_non_null(ci_find(r.head, strlen(r.head), "connection: close"));
    tresp_free(&r);
    assert_true(tc_eof(&c, 3000));
    tc_close(&c);
}

static void test_body_limit_413(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    seen s;
    char chunk[700];

    f->o.max_body = 1000;
    f->o.max_import_body = 4000;
    start(f);

    /* Content-Length over the limit: refused before the body. */
    tc_open(&c, f->w.port);
    tc_sends(&c, "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nContent-Length: 2000000\r\n\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"payload_too_large\""));
    tresp_free(&r);
    assert_true(tc_eof(&c, 3000));
    tc_close(&c);

    /* Chunked: counted while it arrives. */
    memset(chunk, ' ', sizeof chunk);
    tc_open(&c, f->w.port);
    tc_sends(&c, "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        tc_sends(&c, "2bc\r\n");
        tc_send(&c, chunk, sizeof chunk);
        tc_sends(&c, "\r\n");
    }
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 413);
    tresp_free(&r);
    tc_close(&c);

    /* A chunked body under the limit arrives whole. */
    tc_open(&c, f->w.port);
    tc_sends(&c, "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "2bc\r\n");
    tc_send(&c, chunk, sizeof chunk);
    tc_sends(&c, "\r\n0\r\n\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 201);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/jobs", &s));
    assert_int_equal(s.body_len, 700);
    assert_int_equal(s.ct, SG_FMT_JSON);

    /* The import route has its own, larger limit. */
    char *imp = malloc(3000);
    memset(imp, '\n', 3000);
    tc_sends(&c, "POST /v1/workers:import HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/x-ndjson\r\nContent-Length: 3000\r\n\r\n");
    tc_send(&c, imp, 3000);
    free(imp);
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 201);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/workers:import", &s));
    assert_int_equal(s.body_len, 3000);
    assert_int_equal(s.ct, SG_FMT_NDJSON);

    /* A body of an unknown type. */
    tc_sends(&c, "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "text/html\r\nContent-Length: 2\r\n\r\nhi");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 415);
    assert_non_null(strstr(r.body, "\"content-type\""));
    tresp_free(&r);
    tc_close(&c);
}

static void test_slow_client_408_and_idle(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    int64_t t0;

    f->o.request_timeout_ms = 200;
    f->o.idle_timeout_ms = 300;
    start(f);

    /* Half a request, then nothing: 408 and close. */
    tc_open(&c, f->w.port);
    t0 = now_ms();
    tc_sends(&c, "GET /v1/jobs HTTP/1.1\r\nHost: t\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 408);
    assert_non_null(strstr(r.body, "\"request_timeout\""));
    assert_true(now_ms() - t0 >= 150 && now_ms() - t0 < 1500);
    tresp_free(&r);
    assert_true(tc_eof(&c, 2000));
    tc_close(&c);

    /* An idle keep-alive connection is closed. */
    tc_open(&c, f->w.port);
    assert_int_equal(get(&c, "/v1/jobs", NULL, &r), 0);
    tresp_free(&r);
    t0 = now_ms();
    assert_true(tc_eof(&c, 3000));
    assert_true(now_ms() - t0 >= 200);
    tc_close(&c);
}

static void test_max_conns_503(void **state)
{
    fx *f = *state;
    tc a, b, c;
    tresp r;

    f->o.max_conns = 2;
    start(f);
    sleep_ms(100); /* start's own connections are gone */
    tc_open(&a, f->w.port);
    tc_open(&b, f->w.port);
    assert_int_equal(get(&a, "/v1/jobs", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    assert_int_equal(get(&b, "/v1/jobs", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);

    tc_open(&c, f->w.port);
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"unavailable\""));
    tresp_free(&r);
    assert_true(tc_eof(&c, 3000));
    tc_close(&c);

    /* One leaves: room again. */
    tc_close(&a);
    sleep_ms(100);
    tc_open(&c, f->w.port);
    assert_int_equal(get(&c, "/v1/jobs", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    tc_close(&c);
    tc_close(&b);
}

static void test_rate_limit_429(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;

    f->o.rate_per_s = 1;
    f->o.rate_burst = 3;
    start(f); /* its /healthz checks are not limited */
    tc_open(&c, f->w.port);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            get(&c, "/v1/jobs", "Authorization: Bearer k1\r\n", &r), 0);
        assert_int_equal(r.status, 200);
        tresp_free(&r);
    }
    assert_int_equal(get(&c, "/v1/jobs", "Authorization: Bearer k1\r\n", &r),
                     0);
    assert_int_equal(r.status, 429);
    assert_non_null(strstr(r.body, "\"rate_limited\""));
    assert_non_null(ci_find(r.head, strlen(r.head), "\r\nretry-after: 1"));
    tresp_free(&r);
    /* Another credential has its own bucket. */
    assert_int_equal(get(&c, "/v1/jobs", "Authorization: Bearer k2\r\n", &r),
                     0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    /* A token in the query is the same credential as its header. */
    assert_int_equal(get(&c, "/v1/jobs?token=k1", NULL, &r), 0);
    assert_int_equal(r.status, 429);
    tresp_free(&r);
    tc_close(&c);
}

static void test_bad_http_400(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    char q[1024];
    size_t o;

    start(f);
    /* Garbage: 400 and close. */
    tc_open(&c, f->w.port);
    tc_sends(&c, "\x01\x02 nonsense\r\n\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"bad_request\""));
    tresp_free(&r);
    assert_true(tc_eof(&c, 3000));
    tc_close(&c);

    /* Bad query parameters: 400 naming them, the connection stays. */
    tc_open(&c, f->w.port);
    assert_int_equal(get(&c, "/v1/jobs?limit=%zz", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"field\":\"limit\""));
    tresp_free(&r);
    assert_int_equal(get(&c, "/v1/jobs?a=1&a=2", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    tresp_free(&r);
    o = (size_t)sprintf(q, "/v1/jobs?");
    for (int i = 0; i < 33; i++) {
        o += (size_t)sprintf(q + o, "p%d=%d&", i, i);
    }
    assert_int_equal(get(&c, q, NULL, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "more than 32"));
    tresp_free(&r);
    /* 32 are fine, %-decoded on the way. */
    o = (size_t)sprintf(q, "/v1/jobs?name=a%%20b+c");
    for (int i = 1; i < 32; i++) {
        o += (size_t)sprintf(q + o, "&p%d=%d", i, i);
    }
    assert_int_equal(get(&c, q, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    seen s;
    assert_true(peer_find(&f->p, "/v1/jobs", &s));
    assert_non_null(strstr(s.q, "name=a b c&p1=1"));
    tc_close(&c);
}

/* Bearer and ?token= both reach the matcher as cred; the token leaves
 * the query and never reaches the access log. */
static void test_credentials_and_log(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    seen s;
    char logpath[300], logtext[8192];
    int saved, fd;
    FILE *lf;
    size_t n;

    snprintf(logpath, sizeof logpath, "%s/access.log", f->dir);
    fflush(stderr);
    saved = dup(2);
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);

    f->o.quiet = 0;
    start(f);
    tc_open(&c, f->w.port);
    assert_int_equal(
        get(&c, "/v1/jobs/J1", "Authorization: Bearer sgk_abc\r\n", &r), 0);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/jobs/J1", &s));
    assert_string_equal(s.cred, "sgk_abc");

    assert_int_equal(get(&c, "/v1/me?token=sgt_SECRET_9&x=1", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/me", &s));
    assert_string_equal(s.cred, "sgt_SECRET_9");
    assert_string_equal(s.q, "x=1");

    /* The header wins over the query. */
    assert_int_equal(get(&c, "/v1/me/matches?token=sgt_SECRET_9",
                         "Authorization: Bearer sgk_hdr\r\n", &r),
                     0);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/me/matches", &s));
    assert_string_equal(s.cred, "sgk_hdr");
    assert_string_equal(s.q, "");

    /* Only a GET may carry the token; elsewhere it is dropped. */
    tc_sends(&c, "POST /v1/workers?token=sgt_SECRET_9 HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 0\r\n\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/workers", &s));
    assert_string_equal(s.cred, "");
    assert_string_equal(s.q, "");
    tc_close(&c);
    gw_stop(&f->w);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lf = fopen(logpath, "r");
    assert_non_null(lf);
    n = fread(logtext, 1, sizeof logtext - 1, lf);
    fclose(lf);
    logtext[n] = '\0';
    assert_non_null(strstr(logtext, "GET /v1/me?token=&x= 200"));
    assert_null(strstr(logtext, "SECRET"));
    assert_null(strstr(logtext, "sgk_"));
}

static void test_msgpack_passes_through(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    seen s;
    static const uint8_t mp[] = {0x81, 0xa1, 'a', 0x01};

    start(f);
    tc_open(&c, f->w.port);
    assert_int_equal(get(&c, "/mp/x", "Accept: application/msgpack\r\n", &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_non_null(
        ci_find(r.head, strlen(r.head), "content-type: application/msgpack"));
    assert_int_equal(r.body_len, sizeof mp);
    assert_memory_equal(r.body, mp, sizeof mp);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/mp/x", &s));
    assert_int_equal(s.acc, SG_FMT_MSGPACK);

    /* Without asking: JSON is what the matcher is asked for. */
    assert_int_equal(get(&c, "/v1/jobs", "Accept: */*\r\n", &r), 0);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/jobs", &s));
    assert_int_equal(s.acc, SG_FMT_JSON);

    /* The gateway's own errors follow Accept too. */
    tc_sends(&c, "PATCH /v1/jobs HTTP/1.1\r\nAccept: application/msgpack\r\n"
                 "\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 405);
    assert_int_equal((uint8_t)r.body[0], 0x81);
    assert_non_null(memmem(r.body, r.body_len, "method_not_allowed", 18));
    tresp_free(&r);

    /* A msgpack body goes to the matcher as such. */
    tc_sends(&c, "POST /v1/jobs HTTP/1.1\r\nContent-Type: application/msgpack"
                 "\r\nContent-Length: 4\r\n\r\n\x81\xa1\x61\x01");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 201);
    tresp_free(&r);
    assert_true(peer_find(&f->p, "/v1/jobs", &s));
    assert_int_equal(s.ct, SG_FMT_MSGPACK);
    assert_int_equal(s.body_len, 4);
    tc_close(&c);
}

static void test_matcher_down_and_back(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    int64_t t0, end;

    f->o.matcher_timeout_ms = 500;
    gw_start(&f->w, &f->o); /* no matcher yet */
    tc_open(&c, f->w.port);
    t0 = now_ms();
    assert_int_equal(get(&c, "/v1/jobs", NULL, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"unavailable\""));
    assert_true(now_ms() - t0 < 1500);
    tresp_free(&r);
    assert_int_equal(get(&c, "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"matcher\":false"));
    tresp_free(&r);
    /* Down for a while now: refused at once. */
    sleep_ms(600);
    t0 = now_ms();
    assert_int_equal(get(&c, "/v1/jobs", NULL, &r), 0);
    assert_int_equal(r.status, 503);
    assert_true(now_ms() - t0 < 200);
    tresp_free(&r);

    /* The matcher comes: NNG reconnects, requests succeed again. */
    peer_start(&f->p);
    end = now_ms() + 5000;
    for (;;) {
        assert_int_equal(get(&c, "/v1/jobs", NULL, &r), 0);
        int st = r.status;
        tresp_free(&r);
        if (st == 200) {
            break;
        }
        assert_true(now_ms() < end);
        sleep_ms(50);
    }
    assert_int_equal(get(&c, "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true,\"matcher\":true}");
    tresp_free(&r);

    /* It goes again: 503, quickly. */
    peer_stop(&f->p);
    t0 = now_ms();
    assert_int_equal(get(&c, "/v1/jobs", NULL, &r), 0);
    assert_int_equal(r.status, 503);
    assert_true(now_ms() - t0 < 1500);
    tresp_free(&r);
    tc_close(&c);
}

/* A matcher that takes the request and never answers. */
static void test_matcher_timeout_503(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    int64_t t0;

    f->o.matcher_timeout_ms = 300;
    f->o.contexts = 2; /* the third waits for a context */
    start(f);
    peer_mode(&f->p, P_DROP);
    tc_open(&c, f->w.port);
    t0 = now_ms();
    tc_sends(&c, "GET /v1/jobs/1 HTTP/1.1\r\n\r\nGET /v1/jobs/2 HTTP/1.1\r\n"
                 "\r\nGET /v1/jobs/3 HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tc_response(&c, &r, 3000), 0);
        assert_int_equal(r.status, 503);
        assert_non_null(strstr(r.body, "did not answer in time"));
        tresp_free(&r);
    }
    assert_true(now_ms() - t0 >= 250 && now_ms() - t0 < 1500);
    /* The matcher recovers; the same connection is served. */
    peer_mode(&f->p, P_AUTO);
    assert_int_equal(get(&c, "/v1/jobs/4", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    tresp_free(&r);
    tc_close(&c);
}

static void test_sse(void **state)
{
    fx *f = *state;
    tc c, d, x;
    tresp r;
    seen s;

    f->o.heartbeat_ms = 100;
    peer_add_event(&f->p, "match", "w1", "360425108202", "{\"job\":\"J1\"}");
    peer_add_event(&f->p, "match", "w2", "360425110201", "{\"job\":\"J2\"}");
    peer_add_event(&f->p, "list", "w1", "360425108202", "{\"matches\":[1,2]}");
    start(f);

    /* No credential: the matcher's 401 passes through, no stream. */
    tc_open(&x, f->w.port);
    assert_int_equal(get(&x, "/v1/events?worker=w1", NULL, &r), 0);
    assert_int_equal(r.status, 401);
    tresp_free(&r);
    tc_close(&x);

    /* A worker stream resuming after 1: the backlog is 3 alone. */
    tc_open(&c, f->w.port);
    tc_sends(&c, "GET /v1/events?worker=w1 HTTP/1.1\r\nHost: t\r\n"
                 "Authorization: Bearer k\r\nLast-Event-ID: 1\r\n\r\n");
    assert_true(tc_wait_text(&c, "id: 3\n", 3000));
    assert_non_null(ci_find(c.buf, c.len, "content-type: text/event-stream"));
    assert_non_null(strstr(c.buf, "id: 3\nevent: list\ndata: "
                                  "{\"matches\":[1,2]}\n\n"));
    assert_null(strstr(c.buf, "id: 1\n"));
    assert_null(strstr(c.buf, "id: 2\n"));
    assert_true(peer_find(&f->p, "/v1/events", &s));
    assert_int_equal(s.leid, 1);
    assert_string_equal(s.cred, "k");

    /* A region stream, by ?token=, whose backlog comes in pieces of one. */
    pthread_mutex_lock(&f->p.mu);
    f->p.backlog_cut = 1;
    pthread_mutex_unlock(&f->p.mu);
    tc_open(&d, f->w.port);
    tc_sends(&d, "GET /v1/events?region=3604&token=sgt_x HTTP/1.1\r\n\r\n");
    assert_true(tc_wait_text(&d, "id: 3\n", 3000));
    assert_non_null(strstr(d.buf, "id: 1\n"));
    assert_non_null(strstr(d.buf, "id: 2\n"));

    /* New events and a doorbell: each goes where it belongs, at once. */
    peer_add_event(&f->p, "match", "w2", "360425110201", "{\"job\":\"J4\"}");
    peer_add_event(&f->p, "removed", "w1", "360425108202", "{\"job\":\"J1\"}");
    c.len = 0;
    d.len = 0;
    int64_t t0 = now_ms();
    peer_ring(&f->p);
    assert_true(tc_wait_text(&c,
                             "id: 5\nevent: removed\ndata: "
                             "{\"job\":\"J1\"}\n\n",
                             2000));
    assert_true(now_ms() - t0 < 600);
    assert_null(strstr(c.buf, "id: 4\n"));
    assert_true(tc_wait_text(&d, "id: 5\n", 2000));
    assert_non_null(strstr(d.buf, "id: 4\n"));
    assert_null(strstr(d.buf, "id: 3\n")); /* never twice */

    /* Without a doorbell, the timer finds events within a second. */
    peer_add_event(&f->p, "match", "w1", "360425108202", "{\"job\":\"J6\"}");
    assert_true(tc_wait_text(&c, "id: 6\n", 2500));

    /* Heartbeats. */
    c.len = 0;
    assert_true(tc_wait_text(&c, ": ping\n\n", 1000));

    /* The gauge. */
    tc_open(&x, f->w.port);
    assert_int_equal(get(&x, "/metrics", NULL, &r), 0);
    assert_non_null(strstr(r.body, "songgang_sse_streams 2\n"));
    tresp_free(&r);

    /* A client that leaves is forgotten. */
    tc_close(&d);
    sleep_ms(100);
    assert_int_equal(get(&x, "/metrics", NULL, &r), 0);
    assert_non_null(strstr(r.body, "songgang_sse_streams 1\n"));
    tresp_free(&r);
    tc_close(&x);
    tc_close(&c);
}

/* A stream whose client does not read is ended, not buffered forever. */
static void test_sse_slow_client(void **state)
{
    fx *f = *state;
    tc c, x;
    tresp r;
    char *data = malloc(4096);
    int64_t end;

    start(f);
    assert_int_equal(tc_try_open(&c, f->w.port, 4096), 0);
    tc_sends(&c, "GET /v1/events?worker=w9 HTTP/1.1\r\nAuthorization: "
                 "Bearer k\r\n\r\n");
    assert_true(tc_wait_text(&c, "text/event-stream", 3000));
    memset(data, 0, 4096);
    strcpy(data, "{\"pad\":\"");
    memset(data + 8, 'x', 4000);
    strcpy(data + 4008, "\"}");
    for (int i = 0; i < 2500; i++) { /* 10 MB */
        peer_add_event(&f->p, "match", "w9", "360425108202", data);
    }
    free(data);
    peer_ring(&f->p);
    tc_open(&x, f->w.port);
    end = now_ms() + 5000;
    for (;;) {
        assert_int_equal(get(&x, "/metrics", NULL, &r), 0);
        bool dropped = strstr(r.body, "songgang_sse_streams_dropped_total 1\n");
        tresp_free(&r);
        if (dropped) {
            break;
        }
        assert_true(now_ms() < end);
        sleep_ms(50);
    }
    tc_close(&x);
    tc_close(&c);
}

static void test_healthz_and_metrics(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;

    start(f);
    tc_open(&c, f->w.port);
    assert_int_equal(get(&c, "/v1/workers/w1/matches?limit=3", NULL, &r), 0);
    tresp_free(&r);
    assert_int_equal(get(&c, "/metrics", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(
        ci_find(r.head, strlen(r.head), "content-type: text/plain"));
    assert_non_null(strstr(r.body,
                           "songgang_http_requests_total{route=\"/v1/"
                           "workers/{id}/matches\",status=\"200\"} 1\n"));
    assert_non_null(strstr(r.body, "songgang_http_requests_total{route=\""
                                   "/metrics\",status=\"200\"} 1\n"));
    assert_non_null(strstr(r.body, "songgang_http_request_duration_seconds_"
                                   "bucket{route=\"/healthz\",le=\"+Inf\"}"));
    assert_non_null(strstr(r.body, "songgang_matcher_rtt_seconds_count "));
    assert_non_null(strstr(r.body, "songgang_lmdb_bytes 12345\n"));
    assert_non_null(strstr(r.body, "songgang_sse_streams 0\n"));
    assert_null(strstr(r.body, "w1"));
    tresp_free(&r);

    pthread_mutex_lock(&f->p.mu);
    f->p.stats_status = 500;
    pthread_mutex_unlock(&f->p.mu);
    assert_int_equal(get(&c, "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 503);
    tresp_free(&r);
    tc_close(&c);
}

/* SIGTERM with a request in flight: the listener closes at once, the
 * request still gets its answer, then the loop ends cleanly. */
static void test_graceful_shutdown(void **state)
{
    fx *f = *state;
    tc c, idle, late;
    tresp r;

    start(f);
    tc_open(&idle, f->w.port);
    peer_mode(&f->p, P_HOLD);
    tc_open(&c, f->w.port);
    tc_sends(&c, "GET /v1/jobs/slow HTTP/1.1\r\nHost: t\r\n\r\n");
    peer_wait_held(&f->p, 1);

    kill(getpid(), SIGTERM);
    assert_true(tc_eof(&idle, 2000)); /* idle connections go at once */
    assert_int_not_equal(tc_try_open(&late, f->w.port, 0), 0);
    sleep_ms(100);
    peer_release(&f->p, 0);
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "/v1/jobs/slow"));
    tresp_free(&r);
    assert_true(tc_eof(&c, 3000));
    pthread_join(f->w.th, NULL);
    f->w.running = false;
    assert_int_equal(f->w.rc, 0);
    sg_gateway_close(f->w.g); /* reports a handle left open, if any */
    f->w.g = NULL;
    tc_close(&c);
    tc_close(&idle);
}

/* ---- The reply cache. ---- */

#define K1 "Authorization: Bearer sgk_one\r\n"
#define K2 "Authorization: Bearer sgk_two\r\n"

/* cache_opts: polls every 150 ms, so a reply is reused for 300 ms after
 * the newest poll answer at most -- loose enough for a loaded machine. */
static void cache_opts(fx *f)
{
    f->o.version_poll_ms = 300;
}

/* served returns the peer's number of the reply in r's body ("n"). */
static int served(const tresp *r)
{
    const char *n = strstr(r->body, "\"n\":");
    assert_non_null(n);
    return atoi(n + 4);
}

/* metric reads one counter or gauge from /metrics. */
static long long metric(int port, const char *name)
{
    tc c;
    tresp r;
    char pat[96];
    const char *at;
    long long v;

    tc_open(&c, port);
    assert_int_equal(get(&c, "/metrics", NULL, &r), 0);
    snprintf(pat, sizeof pat, "\n%s ", name);
    at = strstr(r.body, pat);
    assert_non_null(at);
    v = atoll(at + strlen(pat));
    tresp_free(&r);
    tc_close(&c);
    return v;
}

/* wait_healthz waits until /healthz answers status (5 s at most). */
static void wait_healthz(int port, int status)
{
    int64_t end = now_ms() + 5000;

    while (once(port, "/healthz", NULL) != status) {
        assert_true(now_ms() < end);
        sleep_ms(20);
    }
}

/* get_ok GETs target and returns the peer's number of the answer. */
static int get_ok(tc *c, const char *target, const char *extra, tresp *keep)
{
    tresp r;
    int n;

    assert_int_equal(get(c, target, extra, &r), 0);
    assert_int_equal(r.status, 200);
    n = served(&r);
    if (keep != NULL) {
        *keep = r;
    } else {
        tresp_free(&r);
    }
    return n;
}

/* A second identical GET is answered without the matcher, byte for byte
 * as the first; anything that makes it another request -- credential,
 * none, format, query -- is not. */
static void test_cache_hits(void **state)
{
    fx *f = *state;
    tc c;
    tresp r1, r2;
    int n;

    cache_opts(f);
    start(f);
    peer_versions(&f->p, 5, 5);
    peer_wait_vpolls(&f->p, 2);
    tc_open(&c, f->w.port);
    n = get_ok(&c, "/v1/c/a", K1, &r1);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 1);
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, &r2), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 1);
    assert_string_equal(r1.head, r2.head);
    assert_string_equal(r1.body, r2.body);
    tresp_free(&r1);
    tresp_free(&r2);

    /* Other requests never share the entry. */
    assert_int_not_equal(get_ok(&c, "/v1/c/a", K2, NULL), n);
    assert_int_not_equal(get_ok(&c, "/v1/c/a", NULL, NULL), n);
    assert_int_not_equal(
        get_ok(&c, "/v1/c/a", K1 "Accept: application/msgpack\r\n", NULL), n);
    assert_int_not_equal(get_ok(&c, "/v1/c/a?x=1", K1, NULL), n);
    assert_int_not_equal(get_ok(&c, "/v1/c/a?token=sgt_x", NULL, NULL), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 6);
    /* ... and each of them is an entry of its own now. */
    peer_wait_vpolls(&f->p, 2);
    get_ok(&c, "/v1/c/a", K2, NULL);
    get_ok(&c, "/v1/c/a?token=sgt_x", NULL, NULL);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 6);

    /* Hits keep their place in a pipeline: the first is written at once,
     * the third waits for the second, which waits for the matcher. */
    peer_mode(&f->p, P_HOLD);
    tc_sends(&c, "GET /v1/c/a HTTP/1.1\r\nHost: test\r\n" K1 "\r\n"
                 "GET /v1/c/held HTTP/1.1\r\nHost: test\r\n" K1 "\r\n"
                 "GET /v1/c/a HTTP/1.1\r\nHost: test\r\n" K1 "\r\n");
    peer_wait_held(&f->p, 1);
    assert_int_equal(tc_response(&c, &r1, 3000), 0);
    assert_int_equal(served(&r1), n);
    tresp_free(&r1);
    assert_int_equal(tc_response(&c, &r1, 200), -1);
    peer_release(&f->p, 0);
    assert_int_equal(tc_response(&c, &r1, 3000), 0);
    assert_non_null(strstr(r1.body, "/v1/c/held"));
    tresp_free(&r1);
    assert_int_equal(tc_response(&c, &r1, 3000), 0);
    assert_int_equal(served(&r1), n);
    tresp_free(&r1);
    peer_mode(&f->p, P_AUTO);
    tc_close(&c);

    assert_true(metric(f->w.port, "songgang_cache_hits_total") >= 6);
    assert_true(metric(f->w.port, "songgang_cache_misses_total") >= 7);
    /* Six: the held one was answered without cache_until_ms. */
    assert_int_equal(metric(f->w.port, "songgang_cache_entries"), 6);
    assert_int_equal(metric(f->w.port, "songgang_data_version"), 5);
}

/* A reply of newer data -- to a write through this gateway, or the version
 * poll after a write elsewhere -- ends every older entry at once. */
static void test_cache_versions(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    int n;

    cache_opts(f);
    start(f);
    peer_versions(&f->p, 5, 5);
    peer_wait_vpolls(&f->p, 2);
    tc_open(&c, f->w.port);
    n = get_ok(&c, "/v1/c/a", K1, NULL);
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);

    /* A write through this gateway: its reply carries version 6 while the
     * poll still says 5.  The next read goes to the matcher. */
    peer_versions(&f->p, 5, 6);
    tc_sends(&c, "POST /v1/jobs HTTP/1.1\r\nHost: t\r\n" K1
                 "Content-Length: 0\r\n\r\n");
    assert_int_equal(tc_response(&c, &r, 3000), 0);
    assert_int_equal(r.status, 201);
    tresp_free(&r);
    assert_int_not_equal(n = get_ok(&c, "/v1/c/a", K1, NULL), 0);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 2);
    /* Stored at 6; the poll's 5 does not take the gateway back. */
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 2);

    /* A write elsewhere: only the poll tells. */
    peer_versions(&f->p, 7, 7);
    peer_wait_vpolls(&f->p, 2);
    assert_int_not_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), 3);
    assert_int_equal(metric(f->w.port, "songgang_data_version"), 7);

    /* A reply of data older than the gateway knows is not kept: it is
     * answered, and the next read goes to the matcher again. */
    peer_versions(&f->p, 7, 6);
    get_ok(&c, "/v1/c/old", K1, NULL);
    peer_wait_vpolls(&f->p, 2);
    get_ok(&c, "/v1/c/old", K1, NULL);
    assert_int_equal(peer_count(&f->p, "/v1/c/old"), 2);
    tc_close(&c);
}

/* cache_until_ms bounds the reuse (a credential's expiry, midnight). */
static void test_cache_until(void **state)
{
    fx *f = *state;
    tc c;
    int n;

    cache_opts(f);
    start(f);
    peer_versions(&f->p, 1, 1);
    peer_wait_vpolls(&f->p, 2);
    tc_open(&c, f->w.port);
    peer_until(&f->p, wall_ms() - 1000);
    n = get_ok(&c, "/v1/c/past", K1, NULL);
    peer_wait_vpolls(&f->p, 2);
    assert_int_not_equal(get_ok(&c, "/v1/c/past", K1, NULL), n);

    peer_until(&f->p, wall_ms() + 1200);
    n = get_ok(&c, "/v1/c/soon", K1, NULL);
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/soon", K1, NULL), n);
    while (wall_ms() < f->p.until + 50) {
        sleep_ms(20);
    }
    assert_int_not_equal(get_ok(&c, "/v1/c/soon", K1, NULL), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/soon"), 2);
    tc_close(&c);
}

/* A matcher that does not answer the version poll gets nothing served in
 * its name; one that went away leaves no entry behind, even when it comes
 * back with the same version (it may be another process, other data). */
static void test_cache_matcher_gone(void **state)
{
    fx *f = *state;
    tc c;
    tresp r;
    int n, m;

    cache_opts(f);
    start(f);
    peer_versions(&f->p, 3, 3);
    peer_wait_vpolls(&f->p, 2);
    tc_open(&c, f->w.port);
    n = get_ok(&c, "/v1/c/a", K1, NULL);
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);

    /* Polls unanswered (they wait out matcher_timeout_ms): no hits once
     * the last answer is older than version_poll_ms. */
    peer_no_version(&f->p, true);
    sleep_ms(f->o.version_poll_ms + 100);
    assert_int_not_equal(m = get_ok(&c, "/v1/c/a", K1, NULL), n);
    assert_int_not_equal(get_ok(&c, "/v1/c/a", K1, NULL), m);
    peer_no_version(&f->p, false);
    /* The unanswered poll times out (1 s), then the polls resume. */
    peer_wait_vpolls(&f->p, 2);
    n = get_ok(&c, "/v1/c/a", K1, NULL);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);

    /* The matcher goes and comes back with the same version: it may be
     * another process with other data, weights or code, so nothing stored
     * before is used again (no request looks in between). */
    peer_stop(&f->p);
    wait_healthz(f->w.port, 503);
    peer_start(&f->p);
    wait_healthz(f->w.port, 200);
    peer_wait_vpolls(&f->p, 2);
    m = peer_count(&f->p, "/v1/c/a");
    assert_int_not_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);
    assert_int_equal(peer_count(&f->p, "/v1/c/a"), m + 1);
    n = get_ok(&c, "/v1/c/a", K1, NULL); /* a hit, or stored again */
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);

    /* Gone: 503, never the cached 200 (once the gateway can know it). */
    peer_stop(&f->p);
    sleep_ms(f->o.version_poll_ms);
    assert_int_equal(get(&c, "/v1/c/a", K1, &r), 0);
    assert_int_equal(r.status, 503);
    tresp_free(&r);
    tc_close(&c);
}

/* The cache keeps its byte bound, evicting the least recently used. */
static void test_cache_eviction(void **state)
{
    fx *f = *state;
    tc c;
    char path[64];
    int first, second;

    cache_opts(f);
    f->o.cache_mb = 1; /* room for 15 replies of 64 KiB */
    start(f);
    peer_versions(&f->p, 1, 1);
    peer_wait_vpolls(&f->p, 2);
    tc_open(&c, f->w.port);
    first = get_ok(&c, "/v1/c/big/0", K1, NULL);
    second = get_ok(&c, "/v1/c/big/1", K1, NULL);
    for (int i = 2; i < 40; i++) {
        snprintf(path, sizeof path, "/v1/c/big/%d", i);
        get_ok(&c, path, K1, NULL);
        /* Entry 0 is used all along (a hit, or stored again when the
         * machine is too slow for the poll): it is never the oldest. */
        first = get_ok(&c, "/v1/c/big/0", K1, NULL);
        assert_true(metric(f->w.port, "songgang_cache_bytes") <= 1 << 20);
    }
    assert_true(metric(f->w.port, "songgang_cache_entries") <= 16);
    assert_true(metric(f->w.port, "songgang_cache_entries") >= 8);
    peer_wait_vpolls(&f->p, 2);
    assert_int_equal(get_ok(&c, "/v1/c/big/0", K1, NULL), first);
    assert_int_not_equal(get_ok(&c, "/v1/c/big/1", K1, NULL), second);
    tc_close(&c);
}

/* With --cache-mb 0 nothing is kept and nothing is polled. */
static void test_cache_off(void **state)
{
    fx *f = *state;
    tc c;
    int n;

    cache_opts(f);
    f->o.cache_mb = 0;
    start(f);
    peer_versions(&f->p, 1, 1);
    tc_open(&c, f->w.port);
    n = get_ok(&c, "/v1/c/a", K1, NULL);
    sleep_ms(400);
    assert_int_not_equal(get_ok(&c, "/v1/c/a", K1, NULL), n);
    pthread_mutex_lock(&f->p.mu);
    assert_int_equal(f->p.vpolls, 0);
    pthread_mutex_unlock(&f->p.mu);
    assert_int_equal(metric(f->w.port, "songgang_cache_entries"), 0);
    tc_close(&c);
}

/* ---- The SSE fan-out index. ---- */

/* fstream is one SSE client of test_sse_fanout and what it asked for. */
typedef struct fstream {
    bool worker;             /* ?worker=key, else ?region=key */
    char key[SG_ID_MAX + 1]; /* worker id or region prefix */
    bool open;               /* c is connected */
    size_t mark;             /* where the heartbeat count starts in c */
    tc c;
} fstream;

/* fs_open opens s as a stream of key and waits for its head. */
static void fs_open(fstream *s, int port, bool worker, const char *key)
{
    char req[256];

    s->worker = worker;
    snprintf(s->key, sizeof s->key, "%s", key);
    tc_open(&s->c, port);
    snprintf(req, sizeof req,
             "GET /v1/events?%s=%s HTTP/1.1\r\nHost: t\r\n"
             "Authorization: Bearer k\r\n\r\n",
             worker ? "worker" : "region", key);
    tc_sends(&s->c, req);
    assert_true(tc_wait_text(&s->c, "\r\n\r\n", 3000));
    assert_int_equal(atoi(s->c.buf + 9), 200);
    s->open = true;
}

/* fs_close leaves as a client does: the gateway sees EOF. */
static void fs_close(fstream *s)
{
    tc_close(&s->c);
    s->open = false;
}

/* fs_want writes the SSE text s is owed -- every event of the peer for
 * its worker, or for a worker whose village starts with its prefix, in
 * order, once -- and returns how many events that is (*last = the last
 * seq, 0 if none).  The rule is the API's, computed apart from the
 * gateway's index, so that a wrong index disagrees with it. */
static int fs_want(peer *p, const fstream *s, sg_buf *out, uint64_t *last)
{
    char head[128];
    int n = 0;

    *last = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nev; i++) {
        const pevent *e = &p->ev[i];
        bool mine = s->worker ? strcmp(e->worker, s->key) == 0
                              : strncmp(e->region, s->key, strlen(s->key)) == 0;
        if (!mine) {
            continue;
        }
        int k = snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ",
                         (unsigned long long)e->seq, e->type);
        sg_buf_append(out, head, (size_t)k);
        sg_buf_append(out, e->data, strlen(e->data));
        sg_buf_append(out, "\n\n", 2);
        *last = e->seq;
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* fs_got writes the events s received: its text after the head, less
 * the heartbeat comments (a cut block is kept: it fails the compare). */
static void fs_got(const fstream *s, sg_buf *out)
{
    const char *p = memmem(s->c.buf, s->c.len, "\r\n\r\n", 4);
    const char *end = s->c.buf + s->c.len;

    assert_non_null(p);
    for (p += 4; p < end;) {
        const char *q = memmem(p, (size_t)(end - p), "\n\n", 2);
        size_t n = q != NULL ? (size_t)(q - p) + 2 : (size_t)(end - p);
        if (*p != ':') {
            sg_buf_append(out, p, n);
        }
        p += n;
    }
}

/* fs_pings counts the heartbeats s received since its mark. */
static int fs_pings(const fstream *s)
{
    static const char ping[] = ": ping\n\n";
    const char *p = s->c.buf + s->mark, *end = s->c.buf + s->c.len;
    int n = 0;

    while ((p = memmem(p, (size_t)(end - p), ping, sizeof ping - 1)) != NULL) {
        n++;
        p += sizeof ping - 1;
    }
    return n;
}

/* fs_drain reads what s has pending; the gateway must not have ended it. */
static void fs_drain(fstream *s)
{
    int n;

    while ((n = tc_fill(&s->c, 0)) > 0) {
    }
    if (n == 0) {
        fail_msg("the %s stream %s was ended", s->worker ? "worker" : "region",
                 s->key);
    }
}

/* fan_event adds an event for worker, living in village region; its
 * data names its seq, so that no two events look alike. */
static void fan_event(fx *f, const char *worker, const char *region)
{
    static const char *const types[] = {"match", "list", "removed"};
    char data[96];
    int seq;

    pthread_mutex_lock(&f->p.mu);
    seq = f->p.nev + 1;
    pthread_mutex_unlock(&f->p.mu);
    snprintf(data, sizeof data, "{\"n\":%d,\"w\":\"%s\"}", seq, worker);
    peer_add_event(&f->p, types[seq % 3], worker, region, data);
}

/* fan_check rings the doorbell, waits until every open stream has its
 * last event, then compares what each received with what it is owed,
 * byte for byte; counts (may be NULL) pins how many events the first
 * streams are owed, so that the rule itself is checked too. */
static void fan_check(fx *f, fstream *fs, int n, const int *counts, int nc)
{
    char id[32];
    uint64_t last;
    sg_buf want, got;

    peer_ring(&f->p);
    for (int i = 0; i < n; i++) {
        sg_buf_init(&want);
        int k = fs_want(&f->p, &fs[i], &want, &last);
        sg_buf_free(&want);
        if (i < nc) {
            assert_int_equal(k, counts[i]);
        }
        if (fs[i].open && last > 0) {
            snprintf(id, sizeof id, "id: %llu\n", (unsigned long long)last);
            /* If it never comes, the compare below says what did. */
            (void)tc_wait_text(&fs[i].c, id, 3000);
        }
    }
    /* All the writes of the last poll are out: anything extra is too. */
    sleep_ms(100);
    for (int i = 0; i < n; i++) {
        if (!fs[i].open) {
            continue;
        }
        fs_drain(&fs[i]);
        sg_buf_init(&want);
        sg_buf_init(&got);
        fs_want(&f->p, &fs[i], &want, &last);
        fs_got(&fs[i], &got);
        sg_buf_append(&want, "", 1); /* as strings: SSE text has no NUL */
        sg_buf_append(&got, "", 1);
        if (strcmp((char *)want.data, (char *)got.data) != 0) {
            fail_msg("stream %d (%s=%s) received\n%s\nnot\n%s", i,
                     fs[i].worker ? "worker" : "region", fs[i].key,
                     (char *)got.data, (char *)want.data);
        }
        sg_buf_free(&want);
        sg_buf_free(&got);
    }
}

/* wait_streams waits until the gateway counts n SSE streams. */
static void wait_streams(fx *f, long long n)
{
    int64_t end = now_ms() + 5000;

    while (metric(f->w.port, "songgang_sse_streams") != n) {
        assert_true(now_ms() < end);
        sleep_ms(20);
    }
}

#define FAN_KEYS 10  /* the streams the events aim at */
#define FAN_FILL 260 /* more worker streams: the index outgrows 256 */
#define FAN_LATE 4   /* streams opened after some have closed */
#define FAN_N (FAN_KEYS + FAN_FILL + FAN_LATE)

/* Streams by worker (three of one worker; "w1" is a prefix of "w10") and
 * by region prefixes of 6, 9 and 12 digits and an unrelated one, among
 * enough others that the index grows: each receives exactly the events
 * for it, in order -- before and after some leave, and when others join
 * with a backlog -- and every stream hears a heartbeat about once an
 * interval, not once a tick. */
static void test_sse_fanout(void **state)
{
    static const struct {
        bool worker;
        const char *key;
    } keys[FAN_KEYS] = {
        {true, "w1"},         {true, "w1"},
        {true, "w1"},         {true, "w10"},
        {true, "w2"},         {false, "360425"},
        {false, "360425100"}, {false, "360425100201"},
        {false, "360425100"}, {false, "1101"},
    };
    /* Events owed to keys[] after phase 1 (see the events below). */
    static const int counts1[FAN_KEYS] = {2, 2, 2, 1, 1, 6, 5, 4, 5, 2};
    fx *f = *state;
    fstream *fs = calloc(FAN_N, sizeof *fs);
    char key[16];
    int open;

    assert_non_null(fs);
    f->o.heartbeat_ms = 800; /* a slice every 50 ms */
    start(f);
    for (int i = 0; i < FAN_KEYS; i++) {
        fs_open(&fs[i], f->w.port, keys[i].worker, keys[i].key);
    }
    for (int i = 0; i < FAN_FILL; i++) {
        snprintf(key, sizeof key, "f%03d", i);
        fs_open(&fs[FAN_KEYS + i], f->w.port, true, key);
    }
    wait_streams(f, FAN_KEYS + FAN_FILL);

    /* Phase 1: all open. */
    fan_event(f, "w1", "360425100201");   /* w1 x3, all regions but 1101 */
    fan_event(f, "w10", "360425100202");  /* w10, county, townships */
    fan_event(f, "w2", "360425101201");   /* w2, county */
    fan_event(f, "w3", "360425100201");   /* regions but 1101 */
    fan_event(f, "w3", "360426100201");   /* nobody: 36042 is no prefix */
    fan_event(f, "w", "110101001001");    /* 1101 only */
    fan_event(f, "f000", "110102003004"); /* f000, 1101 */
    fan_event(f, "f259", "360425100201"); /* f259, regions but 1101 */
    fan_event(f, "w1", "360425100201");
    fan_check(f, fs, FAN_KEYS + FAN_FILL, counts1, FAN_KEYS);

    /* Phase 2: the middle w1 stream, the only village stream, one of the
     * two township streams and every other filler leave. */
    fs_close(&fs[1]);
    fs_close(&fs[7]);
    fs_close(&fs[8]);
    for (int i = 0; i < FAN_FILL; i += 2) {
        fs_close(&fs[FAN_KEYS + i]);
    }
    open = FAN_KEYS - 3 + FAN_FILL / 2;
    wait_streams(f, open);
    fan_event(f, "w1", "360425100201");
    fan_event(f, "f001", "110101000001");
    fan_event(f, "f002", "360425100999"); /* its stream is gone */
    fan_event(f, "w10", "360425100201");
    fan_event(f, "w2", "110101000000");
    fan_event(f, "w1", "360425100201");
    fan_check(f, fs, FAN_KEYS + FAN_FILL, NULL, 0);

    /* Phase 3: streams join again, their backlog first. */
    fs_open(&fs[FAN_KEYS + FAN_FILL], f->w.port, false, "360425100201");
    fs_open(&fs[FAN_KEYS + FAN_FILL + 1], f->w.port, true, "w1");
    fs_open(&fs[FAN_KEYS + FAN_FILL + 2], f->w.port, true, "f002");
    fs_open(&fs[FAN_KEYS + FAN_FILL + 3], f->w.port, false, "360425100");
    open += FAN_LATE;
    wait_streams(f, open);
    fan_event(f, "w1", "360425100201");
    fan_event(f, "f002", "360425100201");
    fan_event(f, "w4", "360425100202");
    fan_event(f, "w1", "360425100201");
    fan_check(f, fs, FAN_N, NULL, 0);

    /* Heartbeats: in 2.5 intervals each stream hears two or three, not
     * none and not sixteen times as many (each tick to every stream). */
    for (int i = 0; i < FAN_N; i++) {
        if (fs[i].open) {
            fs[i].mark = fs[i].c.len;
        }
    }
    sleep_ms(2000);
    for (int i = 0; i < FAN_N; i++) {
        if (!fs[i].open) {
            continue;
        }
        fs_drain(&fs[i]);
        int n = fs_pings(&fs[i]);
        if (n < 1 || n > 12) {
            fail_msg("stream %d (%s) heard %d heartbeats in 2 s", i, fs[i].key,
                     n);
        }
    }
    for (int i = 0; i < FAN_N; i++) {
        if (fs[i].open) {
            fs_close(&fs[i]);
        }
    }
    wait_streams(f, 0);

    /* The heartbeat round survives the stream it is at leaving.  With two
     * streams, b then a (a is first on the list), one heartbeat goes out
     * every 8 ticks, and right after a's, b is the next one's: b leaves
     * then, and a still hears heartbeats (a stale cursor is a use after
     * free). */
    fstream *b = &fs[0], *a = &fs[1];
    fs_open(b, f->w.port, true, "w1");
    fs_open(a, f->w.port, true, "w2");
    wait_streams(f, 2);
    a->c.len = 0;
    assert_true(tc_wait_text(&a->c, ": ping\n\n", 3000));
    fs_close(b);
    wait_streams(f, 1);
    a->c.len = 0;
    assert_true(tc_wait_text(&a->c, ": ping\n\n", 3000));
    fs_close(a);
    wait_streams(f, 0);
    free(fs);
}

/* Open and close without ever running, and bad options. */
static void test_open_close(void **state)
{
    fx *f = *state;
    sg_gateway *g = NULL;
    sg_gateway_opts o = f->o;

    assert_int_equal(sg_gateway_open(&g, &o), 0);
    sg_gateway_close(g);
    sg_gateway_close(NULL);
    o.http = "127.0.0.1";
    assert_int_not_equal(sg_gateway_open(&g, &o), 0);
    o = f->o;
    o.matcher = NULL;
    assert_int_equal(sg_gateway_open(&g, &o), SG_EINVAL);
    o = f->o;
    o.matcher = "nonsense://x";
    assert_int_not_equal(sg_gateway_open(&g, &o), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelining_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_not_idle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_stuck_client, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_header_limit_431, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_client_408_and_idle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_conns_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_http_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_and_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_msgpack_passes_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_matcher_down_and_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_matcher_timeout_503, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_slow_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_fanout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthz_and_metrics, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_graceful_shutdown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_hits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_until, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_matcher_gone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_close, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
