/* bench/sse_load.c -- push latency and the cost of an idle SSE connection
 * (issue 4 point 6), measured from one load process on 127.0.0.1.
 * It opens one HTTP/1.1 connection per `WORKER_ID TOKEN [REGION]` line to
 * GET /v1/events?worker=ID, waits until every stream answered 200 and went
 * quiet, reads the server's VmRSS before and after (when given its PID),
 * then posts new jobs at a steady rate on one pipelined keep-alive
 * connection (sites in the villages of the connected workers, every labor
 * class, no required skill) and times, on one CLOCK_MONOTONIC, each POST's
 * 201 and each `event: match` for that job on each stream.  Which streams
 * must hear of a job comes from an admin region stream opened alongside:
 * the matcher's own record of whom it pushed to, so an event that never
 * arrives is counted as missing rather than silently absent.
 * One thread, one epoll loop; measures, never asserts; not part of
 * `make test`.  Usage: sse_load --help. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define READ_BUF (64u << 10)      /* bytes read at a time */
#define PIPE_MAX 32               /* POSTs in flight (the gateway's pipeline) */
#define TRIES_MAX 5               /* connection attempts per stream */
#define LINE_MAX_BYTES (1u << 20) /* an SSE line or a response head */
#define ID_MAX 32                 /* an id is 1-32 of [A-Za-z0-9_-] */
#define SITES_MAX 8               /* sites per job (records.md) */

enum kind { K_STREAM, K_REF, K_POST };
enum state { S_NEW, S_CONNECTING, S_HEAD, S_BODY, S_CLOSED };

/* buf is a growable byte buffer. */
typedef struct buf {
    char *p;    /* bytes, owned */
    size_t len; /* used */
    size_t cap; /* allocated */
} buf;

/* conn is one socket: a worker's stream, the reference stream or the
 * poster. */
typedef struct conn {
    int fd;            /* socket, -1 when none */
    uint8_t kind;      /* enum kind */
    uint8_t state;     /* enum state */
    uint8_t tries;     /* connection attempts so far */
    bool want_out;     /* EPOLLOUT is on */
    bool ev_match;     /* the event being read is a `match` */
    int32_t ev_job;    /* its job number, -1 = not one of ours */
    int32_t ev_worker; /* (reference) its worker's index, -1 = none */
    int64_t retry_at;  /* when to try again (S_NEW after a failure) */
    buf in;            /* an unfinished line or head */
    buf out;           /* bytes not yet written */
    size_t out_off;    /* written from out */
} conn;

/* pair is one (job, stream) the reference says was pushed, or one match
 * event a stream received; key = job << 32 | stream, stored + 1. */
typedef struct pair {
    uint64_t key;   /* 0 = free */
    int64_t t_recv; /* when the stream had it */
    bool expected;  /* the reference stream carried it */
    bool received;  /* the worker's stream carried it */
    uint16_t dups;  /* further copies on the stream */
} pair;

/* opts are the command line. */
typedef struct opts {
    const char *tokens;     /* --tokens FILE */
    const char *key_file;   /* --key-file FILE (admin key) */
    const char *out;        /* --out FILE.json */
    const char *prefix;     /* --prefix (job ids) */
    const char *ref;        /* --ref PREFIX (reference region stream) */
    const char *dump;       /* --dump FILE: one line per event */
    int port;               /* --port */
    long clients;           /* --clients (0 = every line) */
    double rate;            /* --rate posts/s */
    double seconds;         /* --seconds of posting */
    long pid;               /* --pid of the server, 0 = none */
    long grace_ms;          /* --grace-ms after the last 201 */
    long settle_ms;         /* --settle-ms of quiet = idle */
    long sites;             /* --sites per job */
    long parallel;          /* --connect-parallel */
    long connect_timeout_s; /* --connect-timeout-s */
} opts;

/* load is the whole run. */
typedef struct load {
    opts o;                /* options */
    int ep;                /* epoll */
    struct sockaddr_in sa; /* 127.0.0.1:port */
    char key[256];         /* admin key */
    char prefix[24];       /* job id prefix */
    size_t plen;           /* its length */
    size_t n;              /* streams */
    char **wid;            /* [n] worker ids (into file text) */
    char **tok;            /* [n] tokens */
    char **reg;            /* [n] regions, NULL when not given */
    char *text;            /* the tokens file, owned */
    int32_t *wmap;         /* worker id hash -> index, -1 = free */
    size_t wcap;           /* its size, a power of two */
    conn *c;               /* [n + 2]: streams, reference, poster */
    char *rbuf;            /* read buffer */
    /* Connecting. */
    size_t next_open; /* next stream never tried */
    size_t inflight;  /* streams connecting or waiting for a head */
    size_t nok;       /* streams that answered 200 */
    size_t nclosed;   /* streams that ended after their 200 */
    int64_t last_rx;  /* last SSE line (not a comment) on a stream */
    uint64_t max_seq; /* highest SSE id seen */
    /* Posting. */
    char villages[256][13];  /* villages of the connected workers */
    size_t nvillages;        /* how many */
    size_t njobs;            /* jobs to post */
    size_t posted;           /* sent */
    size_t acked;            /* answered */
    size_t post_errors;      /* answered, but not 201 */
    int64_t *t_send;         /* [njobs] */
    int64_t *t_ack;          /* [njobs], 0 = no 201 */
    uint32_t fifo[PIPE_MAX]; /* jobs in flight, oldest first */
    size_t fhead, flen;      /* its ring */
    size_t late;             /* posts sent > 5 ms after their time */
    int64_t last_ref_rx;     /* last match on the reference stream */
    size_t ref_events;       /* matches on the reference for our jobs */
    size_t other_events;     /* matches for jobs not ours */
    /* Pairs. */
    pair *pairs; /* open-addressed */
    size_t pcap; /* its size, a power of two */
    size_t pn;   /* used */
} load;

/* ---- Small helpers. ---- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sse_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL && n > 0) {
        abort(); /* out of memory */
    }
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL && n > 0) {
        abort(); /* out of memory */
    }
    return p;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void buf_add(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) {
            cap *= 2;
        }
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_drop(buf *b, size_t n) /* removes the first n bytes */
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void buf_free(buf *b)
{
    free(b->p);
    *b = (buf){0};
}

/* find returns the first s[0..sn) in p[0..n), or NULL. */
static const char *find(const char *p, size_t n, const char *s, size_t sn)
{
    for (size_t i = 0; i + sn <= n; i++) {
        if (p[i] == s[0] && memcmp(p + i, s, sn) == 0) {
            return p + i;
        }
    }
    return NULL;
}

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 1099511628211u;
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return x;
}

/* ---- Workers and pairs. ---- */

static void wmap_build(load *L)
{
    L->wcap = 64;
    while (L->wcap < 2 * L->n) {
        L->wcap *= 2;
    }
    L->wmap = xrealloc(NULL, L->wcap * sizeof *L->wmap);
    memset(L->wmap, 0xff, L->wcap * sizeof *L->wmap);
    for (size_t i = 0; i < L->n; i++) {
        size_t h = hash(L->wid[i], strlen(L->wid[i])) & (L->wcap - 1);
        while (L->wmap[h] >= 0) {
            if (strcmp(L->wid[L->wmap[h]], L->wid[i]) == 0) {
                die("worker %s is listed twice", L->wid[i]);
            }
            h = (h + 1) & (L->wcap - 1);
        }
        L->wmap[h] = (int32_t)i;
    }
}

/* worker_index returns the stream of worker id[0..n), or -1. */
static int32_t worker_index(const load *L, const char *id, size_t n)
{
    size_t h = hash(id, n) & (L->wcap - 1);
    while (L->wmap[h] >= 0) {
        const char *w = L->wid[L->wmap[h]];
        if (strlen(w) == n && memcmp(w, id, n) == 0) {
            return L->wmap[h];
        }
        h = (h + 1) & (L->wcap - 1);
    }
    return -1;
}

static pair *pair_get(load *L, uint32_t job, uint32_t stream)
{
    uint64_t key = ((uint64_t)job << 32 | stream) + 1;

    if (2 * (L->pn + 1) > L->pcap) {
        /* Grow: re-insert every pair at twice the size. */
        pair *old = L->pairs;
        size_t ocap = L->pcap;
        L->pcap = ocap ? 2 * ocap : 4096;
        L->pairs = xcalloc(L->pcap, sizeof *L->pairs);
        for (size_t i = 0; i < ocap; i++) {
            if (old[i].key != 0) {
                size_t h = mix(old[i].key) & (L->pcap - 1);
                while (L->pairs[h].key != 0) {
                    h = (h + 1) & (L->pcap - 1);
                }
                L->pairs[h] = old[i];
            }
        }
        free(old);
    }
    size_t h = mix(key) & (L->pcap - 1);
    while (L->pairs[h].key != 0 && L->pairs[h].key != key) {
        h = (h + 1) & (L->pcap - 1);
    }
    if (L->pairs[h].key == 0) {
        L->pairs[h].key = key;
        L->pn++;
    }
    return &L->pairs[h];
}

/* ---- Sockets. ---- */

static void ep_set(load *L, conn *c, bool out, int op)
{
    struct epoll_event e = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                            .data.u32 = (uint32_t)(c - L->c)};
    if (epoll_ctl(L->ep, op, c->fd, &e) != 0) {
        die("epoll_ctl: %s", strerror(errno));
    }
    c->want_out = out;
}

static void conn_close(load *L, conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(L->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = S_CLOSED;
    buf_free(&c->in);
    buf_free(&c->out);
    c->out_off = 0;
}

/* conn_open starts a non-blocking connect; false when the socket could
 * not even be made (then c is closed). */
static bool conn_open(load *L, conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0) {
        die("socket: %s (raise ulimit -n)", strerror(errno));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->tries++;
    c->ev_job = -1;
    c->ev_worker = -1;
    c->ev_match = false;
    if (connect(fd, (struct sockaddr *)&L->sa, sizeof L->sa) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        c->fd = -1;
        c->state = S_CLOSED;
        return false;
    }
    c->state = S_CONNECTING;
    ep_set(L, c, true, EPOLL_CTL_ADD);
    return true;
}

/* conn_flush writes what it can of c->out; false on a write error. */
static bool conn_flush(load *L, conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t k =
            write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0 && errno == EAGAIN) {
            break;
        }
        if (k <= 0) {
            return false;
        }
        c->out_off += (size_t)k;
    }
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    }
    bool pending = c->out.len > 0;
    if (pending != c->want_out && c->state != S_CONNECTING) {
        ep_set(L, c, pending, EPOLL_CTL_MOD);
    }
    return true;
}

static bool conn_send(load *L, conn *c, const char *p, size_t n)
{
    buf_add(&c->out, p, n);
    return c->state == S_CONNECTING || conn_flush(L, c);
}

/* ---- SSE. ---- */

/* value returns the value of an SSE field line "name: value". */
static const char *field(const char *p, size_t n, const char *name, size_t *vn)
{
    size_t k = strlen(name);
    if (n <= k || memcmp(p, name, k) != 0 || p[k] != ':') {
        return NULL;
    }
    p += k + 1;
    n -= k + 1;
    if (n > 0 && *p == ' ') {
        p++;
        n--;
    }
    *vn = n;
    return p;
}

/* json_str finds "key":"value" in p[0..n) (ids need no escapes). */
static const char *json_str(const char *p, size_t n, const char *key,
                            size_t *vn)
{
    char pat[32];
    int k = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *v = find(p, n, pat, (size_t)k), *end;

    if (v == NULL) {
        return NULL;
    }
    v += k;
    end = memchr(v, '"', n - (size_t)(v - p));
    if (end == NULL) {
        return NULL;
    }
    *vn = (size_t)(end - v);
    return v;
}

/* job_number returns k when id is PREFIX<k> for a job we post, else -1. */
static int32_t job_number(const load *L, const char *id, size_t n)
{
    uint64_t k = 0;

    if (n <= L->plen || n > L->plen + 9 || memcmp(id, L->prefix, L->plen)) {
        return -1;
    }
    for (size_t i = L->plen; i < n; i++) {
        if (id[i] < '0' || id[i] > '9') {
            return -1;
        }
        k = k * 10 + (uint64_t)(id[i] - '0');
    }
    return k < L->njobs ? (int32_t)k : -1;
}

/* dispatch ends one event on c: a match for one of our jobs is a receipt
 * (a worker's stream) or an expectation (the reference). */
static void dispatch(load *L, conn *c, int64_t now)
{
    if (c->ev_match && c->ev_job < 0) {
        L->other_events++;
    } else if (c->ev_match && c->kind == K_STREAM) {
        pair *p = pair_get(L, (uint32_t)c->ev_job, (uint32_t)(c - L->c));
        if (p->received) {
            p->dups++;
        } else {
            p->received = true;
            p->t_recv = now;
        }
    } else if (c->ev_match && c->kind == K_REF) {
        L->ref_events++;
        L->last_ref_rx = now;
        if (c->ev_worker >= 0) {
            pair_get(L, (uint32_t)c->ev_job, (uint32_t)c->ev_worker)->expected =
                true;
        }
    }
    c->ev_match = false;
    c->ev_job = -1;
    c->ev_worker = -1;
}

static void sse_line(load *L, conn *c, const char *p, size_t n, int64_t now)
{
    const char *v;
    size_t vn;

    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    if (n == 0) {
        dispatch(L, c, now); /* also ends a heartbeat: not activity */
        return;
    }
    if (p[0] == ':') {
        return; /* a heartbeat comment */
    }
    if (c->kind == K_STREAM) {
        L->last_rx = now;
    }
    if ((v = field(p, n, "event", &vn)) != NULL) {
        c->ev_match = vn == 5 && memcmp(v, "match", 5) == 0;
    } else if ((v = field(p, n, "id", &vn)) != NULL) {
        uint64_t seq = strtoull(v, NULL, 10);
        if (seq > L->max_seq) {
            L->max_seq = seq;
        }
    } else if ((v = field(p, n, "data", &vn)) != NULL) {
        size_t idn;
        const char *id = json_str(v, vn, "job", &idn);
        if (id != NULL) {
            c->ev_job = job_number(L, id, idn);
        }
        if (c->kind == K_REF && c->ev_job >= 0 &&
            (id = json_str(v, vn, "worker", &idn)) != NULL) {
            c->ev_worker = worker_index(L, id, idn);
        }
    }
}

/* sse_feed splits bytes into lines; only a line cut by a read is copied. */
static void sse_feed(load *L, conn *c, const char *p, size_t n, int64_t now)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        if (nl == NULL) {
            if (c->in.len + n > LINE_MAX_BYTES) {
                die("an SSE line longer than %u bytes", LINE_MAX_BYTES);
            }
            buf_add(&c->in, p, n);
            return;
        }
        size_t k = (size_t)(nl - p);
        if (c->in.len > 0) {
            buf_add(&c->in, p, k);
            sse_line(L, c, c->in.p, c->in.len, now);
            c->in.len = 0;
        } else {
            sse_line(L, c, p, k, now);
        }
        p += k + 1;
        n -= k + 1;
    }
}

/* ---- Response heads. ---- */

/* head_end returns the length of a complete head in b, or 0. */
static size_t head_end(const buf *b)
{
    const char *e = find(b->p, b->len, "\r\n\r\n", 4);
    return e != NULL ? (size_t)(e - b->p) + 4 : 0;
}

static int head_status(const char *h, size_t n)
{
    if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0) {
        return -1;
    }
    return atoi(h + 9);
}

/* head_header returns the value of header name (lower case) in h. */
static const char *head_header(const char *h, size_t n, const char *name,
                               size_t *vn)
{
    size_t k = strlen(name);
    const char *p = h, *end = h + n;

    while (p < end) {
        const char *eol = find(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - p) > k && strncasecmp(p, name, k) == 0 &&
            p[k] == ':') {
            const char *v = p + k + 1;
            while (v < eol && *v == ' ') {
                v++;
            }
            *vn = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

/* ---- Streams: connecting. ---- */

static void stream_request(load *L, conn *c)
{
    char req[1024];
    size_t i = (size_t)(c - L->c);
    int n;

    if (c->kind == K_REF) {
        n = snprintf(req, sizeof req,
                     "GET /v1/events?region=%s HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                     "Accept: text/event-stream\r\n"
                     "Last-Event-ID: %" PRIu64 "\r\n\r\n",
                     L->o.ref, L->o.port, L->key, L->max_seq);
    } else {
        n = snprintf(req, sizeof req,
                     "GET /v1/events?worker=%s HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                     "Accept: text/event-stream\r\n\r\n",
                     L->wid[i], L->o.port, L->tok[i]);
    }
    if (n < 0 || (size_t)n >= sizeof req) {
        die("a request line is too long for stream %zu", i);
    }
    buf_add(&c->out, req, (size_t)n);
}

/* stream_failed retries a stream that could not start, or gives up. */
static void stream_failed(load *L, conn *c, const char *why)
{
    size_t i = (size_t)(c - L->c);

    conn_close(L, c);
    if (c->kind != K_STREAM) {
        die("the %s connection failed: %s",
            c->kind == K_REF ? "reference" : "poster", why);
    }
    if (c->tries >= TRIES_MAX) {
        die("stream %zu (worker %s) failed %d times, last: %s", i, L->wid[i],
            TRIES_MAX, why);
    }
    c->state = S_NEW;
    c->retry_at = now_ns() + (int64_t)c->tries * 200000000;
    L->inflight--;
}

static void stream_head(load *L, conn *c, int64_t now)
{
    size_t hn = head_end(&c->in), vn;
    int status;

    if (hn == 0) {
        if (c->in.len > LINE_MAX_BYTES) {
            stream_failed(L, c, "a head without an end");
        }
        return;
    }
    status = head_status(c->in.p, hn);
    if (status != 200) {
        char why[160];
        snprintf(why, sizeof why, "answered %d: %.100s", status,
                 c->in.len > hn ? c->in.p + hn : "");
        if (status == 503 || status == 429) {
            stream_failed(L, c, why); /* over a limit: try again */
            return;
        }
        die("stream %zu (%s): %s", (size_t)(c - L->c),
            c->kind == K_REF ? "reference" : L->wid[c - L->c], why);
    }
    if (head_header(c->in.p, hn, "transfer-encoding", &vn) != NULL) {
        die("a stream came chunked; this client reads raw SSE only");
    }
    c->state = S_BODY;
    if (c->kind == K_STREAM) {
        L->nok++;
        L->inflight--;
    }
    /* What follows the head is the start of the stream. */
    buf rest = c->in;
    c->in = (buf){0};
    sse_feed(L, c, rest.p + hn, rest.len - hn, now);
    buf_free(&rest);
}

/* ---- The poster. ---- */

static void post_one(load *L, int64_t now)
{
    static const char *sources[] = {"industrial_park", "workshop",
                                    "work_relief",     "public_welfare",
                                    "labor_export",    "flexible"};
    conn *c = &L->c[L->n + 1];
    size_t k = L->posted, ns = (size_t)L->o.sites;
    char body[2048], head[512], posted[32];
    time_t t = time(NULL);
    struct tm tm;
    int n, hn;

    if (ns > L->nvillages) {
        ns = L->nvillages;
    }
    gmtime_r(&t, &tm);
    strftime(posted, sizeof posted, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n = snprintf(body, sizeof body,
                 "{\"id\":\"%s%zu\",\"employer\":\"E-push-bench\","
                 "\"source\":\"%s\",\"title\":\"普工（推送测试）\","
                 "\"labor_classes\":[\"ordinary\",\"skilled\",\"half\","
                 "\"weak\"],\"openings\":10,\"wage_min\":4000,"
                 "\"wage_max\":5200,\"posted\":\"%s\",\"sites\":[",
                 L->prefix, k, sources[k % 6], posted);
    /* Consecutive jobs walk the villages, so each gets distinct ones. */
    for (size_t j = 0; j < ns; j++) {
        n +=
            snprintf(body + n, sizeof body - (size_t)n, "%s{\"region\":\"%s\"}",
                     j ? "," : "", L->villages[(k * ns + j) % L->nvillages]);
    }
    n += snprintf(body + n, sizeof body - (size_t)n, "]}");
    hn = snprintf(head, sizeof head,
                  "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  "Authorization: Bearer %s\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: %d\r\n\r\n",
                  L->o.port, L->key, n);
    buf_add(&c->out, head, (size_t)hn);
    if (!conn_send(L, c, body, (size_t)n)) {
        die("the poster's connection failed: %s", strerror(errno));
    }
    L->t_send[k] = now;
    L->fifo[(L->fhead + L->flen) % PIPE_MAX] = (uint32_t)k;
    L->flen++;
    L->posted++;
}

/* post_replies takes every complete response off the poster's input. */
static void post_replies(load *L, conn *c, int64_t now)
{
    static int shown;

    for (;;) {
        size_t hn = head_end(&c->in), vn;
        const char *cl;
        long len;

        if (hn == 0) {
            return;
        }
        cl = head_header(c->in.p, hn, "content-length", &vn);
        if (cl == NULL) {
            die("a POST reply without Content-Length");
        }
        len = strtol(cl, NULL, 10);
        if (c->in.len < hn + (size_t)len) {
            return;
        }
        if (L->flen == 0) {
            die("a reply to no POST");
        }
        uint32_t k = L->fifo[L->fhead];
        L->fhead = (L->fhead + 1) % PIPE_MAX;
        L->flen--;
        L->acked++;
        int status = head_status(c->in.p, hn);
        if (status == 201) {
            L->t_ack[k] = now;
        } else {
            L->post_errors++;
            if (shown++ < 3) {
                fprintf(stderr, "sse_load: POST %s%u answered %d: %.*s\n",
                        L->prefix, k, status, (int)(len > 300 ? 300 : len),
                        c->in.p + hn);
            }
        }
        buf_drop(&c->in, hn + (size_t)len);
    }
}

/* ---- The loop. ---- */

static void on_readable(load *L, conn *c)
{
    for (;;) {
        ssize_t k = read(c->fd, L->rbuf, READ_BUF);
        int64_t now = now_ns();

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0 && errno == EAGAIN) {
            return;
        }
        if (k <= 0) {
            if (c->state == S_HEAD) {
                stream_failed(L, c, k == 0 ? "closed" : strerror(errno));
            } else if (c->kind == K_STREAM) {
                L->nclosed++; /* the server ended it (too slow, or stop) */
                conn_close(L, c);
            } else {
                die("the %s connection ended (%s) after %zu POSTs, %zu "
                    "answered; unread: %.*s",
                    c->kind == K_REF ? "reference" : "poster",
                    k == 0 ? "closed" : strerror(errno), L->posted, L->acked,
                    (int)(c->in.len > 300 ? 300 : c->in.len),
                    c->in.len ? c->in.p : "");
            }
            return;
        }
        if (c->kind == K_POST) {
            buf_add(&c->in, L->rbuf, (size_t)k);
            post_replies(L, c, now);
        } else if (c->state == S_HEAD) {
            buf_add(&c->in, L->rbuf, (size_t)k);
            stream_head(L, c, now);
        } else {
            sse_feed(L, c, L->rbuf, (size_t)k, now);
        }
        if (c->state == S_CLOSED || c->state == S_NEW) {
            return;
        }
    }
}

static void on_writable(load *L, conn *c)
{
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            stream_failed(L, c, strerror(err));
            return;
        }
        c->state = c->kind == K_POST ? S_BODY : S_HEAD;
    }
    if (!conn_flush(L, c)) {
        stream_failed(L, c, strerror(errno));
    }
}

/* turn waits up to ms for sockets and handles what is ready. */
static void turn(load *L, int ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(L->ep, evs, 512, ms);

    if (n < 0 && errno != EINTR) {
        die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        conn *c = &L->c[evs[i].data.u32];
        if (c->fd < 0) {
            continue;
        }
        if (evs[i].events & (EPOLLOUT | EPOLLERR)) {
            on_writable(L, c);
        }
        if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
            c->state != S_CONNECTING) {
            on_readable(L, c);
        }
    }
}

/* start_stream opens stream c and queues its GET. */
static void start_stream(load *L, conn *c)
{
    if (!conn_open(L, c)) {
        c->state = S_NEW;
        c->retry_at = now_ns() + 200000000;
        return;
    }
    stream_request(L, c);
    L->inflight++;
}

/* connect_all opens the n streams, at most --connect-parallel waiting for
 * their head at once (more would overflow the listen backlog and cost
 * SYN retransmits of a second each); returns the seconds it took. */
static double connect_all(load *L)
{
    int64_t t0 = now_ns(), limit = t0 + L->o.connect_timeout_s * 1000000000;

    while (L->nok < L->n) {
        int64_t now = now_ns();
        if (now > limit) {
            die("only %zu of %zu streams answered within %lds", L->nok, L->n,
                L->o.connect_timeout_s);
        }
        /* Retries first, then streams never tried. */
        for (size_t i = 0;
             i < L->next_open && L->inflight < (size_t)L->o.parallel; i++) {
            conn *c = &L->c[i];
            if (c->state == S_NEW && c->tries > 0 && c->retry_at <= now) {
                start_stream(L, c);
            }
        }
        while (L->next_open < L->n && L->inflight < (size_t)L->o.parallel) {
            start_stream(L, &L->c[L->next_open++]);
        }
        turn(L, 20);
    }
    return (double)(now_ns() - t0) / 1e9;
}

/* settle waits until no stream has had an event line for --settle-ms:
 * every backlog written, every stream registered for fan-out.  Heartbeat
 * comments do not count (the gateway sends a slice of them every second
 * or so). */
static void settle(load *L, int64_t since)
{
    int64_t quiet = L->o.settle_ms * 1000000, limit = now_ns() + 60000000000;

    if (L->last_rx < since) {
        L->last_rx = since;
    }
    while (now_ns() - L->last_rx < quiet) {
        if (now_ns() > limit) {
            fprintf(stderr,
                    "sse_load: the streams never went quiet for "
                    "%ld ms in a minute; going on\n",
                    L->o.settle_ms);
            return;
        }
        turn(L, 20);
    }
}

/* rss reads the server's resident memory: all of it (VmRSS, which also
 * counts the LMDB map's file pages the matcher touched) and its anonymous
 * part (RssAnon: the heap, where a connection's memory is). */
static void rss(long pid, long *all, long *anon)
{
    char path[64], line[256];
    long kb = -1, akb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL) {
        die("%s: %s", path, strerror(errno));
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        } else if (strncmp(line, "RssAnon:", 8) == 0) {
            akb = strtol(line + 8, NULL, 10);
        }
    }
    fclose(f);
    if (kb < 0 || akb < 0) {
        die("%s has no VmRSS or RssAnon", path);
    }
    *all = kb * 1024;
    *anon = akb * 1024;
}

/* post_all posts njobs at --rate, pipelined, and then waits for every
 * reply and for the events: until everything the reference announced has
 * arrived and both have been quiet for a second, or --grace-ms. */
static void post_all(load *L)
{
    int64_t period = (int64_t)(1e9 / L->o.rate), t0 = now_ns(), last;
    int64_t grace = L->o.grace_ms * 1000000;

    while (L->acked < L->njobs) {
        int64_t now = now_ns();
        while (L->posted < L->njobs &&
               now >= t0 + (int64_t)L->posted * period) {
            if (L->flen == PIPE_MAX) {
                break; /* sent late, when a reply frees a place */
            }
            if (now - (t0 + (int64_t)L->posted * period) > 5000000) {
                L->late++;
            }
            post_one(L, now);
        }
        int64_t next = t0 + (int64_t)L->posted * period - now;
        int ms = L->posted < L->njobs ? (int)(next / 1000000) : 100;
        turn(L, ms < 0 ? 0 : ms > 100 ? 100 : ms);
        if (now - t0 > (int64_t)(L->o.seconds * 1e9) + 60000000000) {
            die("POST replies still missing a minute after the last");
        }
    }
    last = now_ns();
    for (;;) {
        int64_t now = now_ns();
        if (now - last > grace) {
            break;
        }
        if (now - last > 1000000000 && now - L->last_ref_rx > 1000000000) {
            size_t waiting = 0;
            for (size_t i = 0; i < L->pcap; i++) {
                waiting += L->pairs[i].key && L->pairs[i].expected &&
                           !L->pairs[i].received;
            }
            if (waiting == 0) {
                break;
            }
        }
        turn(L, 50);
    }
}

/* ---- Results. ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* pct returns the nearest-rank q-quantile of sorted v[0..n), in ms. */
static double pct(const int64_t *v, size_t n, double q)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    i = (size_t)(q * (double)n + 0.999999);
    i = i == 0 ? 0 : i - 1;
    return (double)v[i < n ? i : n - 1] / 1e6;
}

/* dump writes every timed event, to see when in the run the slow ones
 * fell (a heartbeat round, a burst of connections...). */
static void dump(const load *L)
{
    FILE *f = fopen(L->o.dump, "w");

    if (f == NULL) {
        die("%s: %s", L->o.dump, strerror(errno));
    }
    for (size_t i = 0; i < L->pcap; i++) {
        const pair *p = &L->pairs[i];
        uint32_t job;
        if (p->key == 0 || !p->received || !p->expected) {
            continue;
        }
        job = (uint32_t)((p->key - 1) >> 32);
        if (L->t_ack[job] != 0) {
            fprintf(f, "%u %u %.3f %.3f\n", job,
                    (uint32_t)((p->key - 1) & 0xffffffff),
                    (double)(L->t_ack[job] - L->t_send[0]) / 1e6,
                    (double)(p->t_recv - L->t_ack[job]) / 1e6);
        }
    }
    if (fclose(f) != 0) {
        die("%s: cannot write", L->o.dump);
    }
}

static void report(load *L, double connect_s, const long rss0[2],
                   const long rss1[2])
{
    size_t cap = L->pn + 1, nl = 0, expected = 0, missing = 0;
    size_t unexpected = 0, dups = 0, negative = 0, nacked = 0;
    int64_t *lat = xcalloc(cap, sizeof *lat), *post = NULL;
    int64_t *e2e = xcalloc(cap, sizeof *e2e);
    double sum = 0;
    char json[2048], per[64], anon[64];
    int n;

    /* Latency = the stream's receipt - the POST's 201, both on one clock. */
    for (size_t i = 0; i < L->pcap; i++) {
        pair *p = &L->pairs[i];
        uint32_t job;
        if (p->key == 0) {
            continue;
        }
        job = (uint32_t)((p->key - 1) >> 32);
        expected += p->expected;
        missing += p->expected && !p->received;
        unexpected += p->received && !p->expected;
        dups += p->dups;
        if (p->received && p->expected && L->t_ack[job] != 0) {
            lat[nl] = p->t_recv - L->t_ack[job];
            e2e[nl] = p->t_recv - L->t_send[job];
            negative += lat[nl] < 0;
            sum += (double)lat[nl];
            nl++;
        }
    }
    if (L->o.dump != NULL) {
        dump(L);
    }
    qsort(lat, nl, sizeof *lat, cmp_i64);
    qsort(e2e, nl, sizeof *e2e, cmp_i64);
    post = xcalloc(L->njobs + 1, sizeof *post);
    for (size_t k = 0; k < L->njobs; k++) {
        if (L->t_ack[k] != 0) {
            post[nacked++] = L->t_ack[k] - L->t_send[k];
        }
    }
    qsort(post, nacked, sizeof *post, cmp_i64);
    if (rss0[0] >= 0) {
        snprintf(per, sizeof per, "%.0f",
                 (double)(rss1[0] - rss0[0]) / (double)L->n);
        snprintf(anon, sizeof anon, "%.0f",
                 (double)(rss1[1] - rss0[1]) / (double)L->n);
    } else {
        snprintf(per, sizeof per, "null");
        snprintf(anon, sizeof anon, "null");
    }
    n = snprintf(
        json, sizeof json,
        "{\"clients\":%zu,\"jobs\":%zu,\"post_errors\":%zu,\"events\":%zu,"
        "\"expected\":%zu,\"missing\":%zu,\"unexpected\":%zu,"
        "\"duplicates\":%zu,\"streams_closed\":%zu,"
        "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
        "\"min_ms\":%.3f,\"mean_ms\":%.3f,\"negative\":%zu,"
        "\"post_p50_ms\":%.3f,\"post_p99_ms\":%.3f,\"posts_late\":%zu,"
        "\"from_send_p50_ms\":%.3f,\"from_send_p99_ms\":%.3f,"
        "\"rss_per_idle_sse_bytes\":%s,\"anon_per_idle_sse_bytes\":%s,"
        "\"rss_before_bytes\":%ld,\"rss_after_bytes\":%ld,"
        "\"anon_before_bytes\":%ld,\"anon_after_bytes\":%ld,"
        "\"connect_s\":%.3f,\"rate\":%g,"
        "\"seconds\":%g,\"sites_per_job\":%ld,\"villages\":%zu}",
        L->n, nacked, L->post_errors, nl, expected, missing, unexpected, dups,
        L->nclosed, pct(lat, nl, 0.50), pct(lat, nl, 0.90), pct(lat, nl, 0.99),
        nl ? (double)lat[nl - 1] / 1e6 : 0, nl ? (double)lat[0] / 1e6 : 0,
        nl ? sum / (double)nl / 1e6 : 0, negative, pct(post, nacked, 0.50),
        pct(post, nacked, 0.99), L->late, pct(e2e, nl, 0.50),
        pct(e2e, nl, 0.99), per, anon, rss0[0], rss1[0], rss0[1], rss1[1],
        connect_s, L->o.rate, L->o.seconds, L->o.sites, L->nvillages);
    puts(json);
    if (L->o.out != NULL) {
        FILE *f = fopen(L->o.out, "w");
        if (f == NULL || fprintf(f, "%.*s\n", n, json) < 0 || fclose(f)) {
            die("%s: cannot write", L->o.out);
        }
    }
    free(lat);
    free(e2e);
    free(post);
}

/* ---- Set-up. ---- */

static void usage(void)
{
    fputs("usage: sse_load --port P --tokens FILE --key-file FILE\n"
          "         [--clients N] [--rate R] [--seconds S] [--pid PID]\n"
          "         [--out FILE.json] [--grace-ms MS] [--settle-ms MS]\n"
          "         [--sites K] [--ref PREFIX] [--prefix JOBID_PREFIX]\n"
          "         [--connect-parallel M] [--connect-timeout-s S]\n"
          "         [--dump FILE]  (per event: job, stream, ms from the\n"
          "                         first POST to its 201, latency ms)\n"
          "  FILE: one `WORKER_ID TOKEN REGION` per line; the first N\n"
          "  lines connect, and jobs are sited in their REGIONs.  The\n"
          "  server is 127.0.0.1:P; --pid gives its RSS per stream.\n",
          stderr);
    exit(2);
}

static long num(const char *name, const char *v, long lo, long hi)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        die("%s must be %ld..%ld", name, lo, hi);
    }
    return x;
}

static void parse_args(opts *o, int argc, char **argv)
{
    *o = (opts){.rate = 20,
                .seconds = 30,
                .grace_ms = 5000,
                .settle_ms = 1000,
                .sites = 4,
                .parallel = 256,
                .connect_timeout_s = 300};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
        }
        i++;
        if (strcmp(a, "--port") == 0) {
            o->port = (int)num(a, v, 1, 65535);
        } else if (strcmp(a, "--tokens") == 0) {
            o->tokens = v;
        } else if (strcmp(a, "--key-file") == 0) {
            o->key_file = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--prefix") == 0) {
            o->prefix = v;
        } else if (strcmp(a, "--ref") == 0) {
            o->ref = v;
        } else if (strcmp(a, "--dump") == 0) {
            o->dump = v;
        } else if (strcmp(a, "--clients") == 0) {
            o->clients = num(a, v, 1, 1000000);
        } else if (strcmp(a, "--rate") == 0) {
            o->rate = (double)num(a, v, 1, 10000);
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = (double)num(a, v, 1, 3600);
        } else if (strcmp(a, "--pid") == 0) {
            o->pid = num(a, v, 1, 1L << 30);
        } else if (strcmp(a, "--grace-ms") == 0) {
            o->grace_ms = num(a, v, 100, 600000);
        } else if (strcmp(a, "--settle-ms") == 0) {
            o->settle_ms = num(a, v, 100, 60000);
        } else if (strcmp(a, "--sites") == 0) {
            o->sites = num(a, v, 1, SITES_MAX);
        } else if (strcmp(a, "--connect-parallel") == 0) {
            o->parallel = num(a, v, 1, 100000);
        } else if (strcmp(a, "--connect-timeout-s") == 0) {
            o->connect_timeout_s = num(a, v, 1, 3600);
        } else {
            usage();
        }
    }
    if (o->port == 0 || o->tokens == NULL || o->key_file == NULL) {
        usage();
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    buf b = {0};
    char chunk[65536];
    size_t k;

    if (f == NULL) {
        die("%s: %s", path, strerror(errno));
    }
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_add(&b, chunk, k);
    }
    fclose(f);
    buf_add(&b, "", 1);
    return b.p;
}

/* read_tokens takes the first --clients lines of the tokens file. */
static void read_tokens(load *L)
{
    size_t cap = 1024;
    char *save = NULL, *line;

    L->text = slurp(L->o.tokens);
    L->wid = xcalloc(cap, sizeof *L->wid);
    L->tok = xcalloc(cap, sizeof *L->tok);
    L->reg = xcalloc(cap, sizeof *L->reg);
    for (line = strtok_r(L->text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *s2 = NULL, *id = strtok_r(line, " \t\r", &s2);
        char *tok = strtok_r(NULL, " \t\r", &s2);
        char *reg = strtok_r(NULL, " \t\r", &s2);
        if (id == NULL) {
            continue;
        }
        if (tok == NULL || strlen(id) > ID_MAX || strlen(tok) > 200) {
            die("%s: line %zu is not `WORKER_ID TOKEN [REGION]`", L->o.tokens,
                L->n + 1);
        }
        if (reg != NULL && strlen(reg) != 12) {
            die("%s: line %zu: a region has 12 digits", L->o.tokens, L->n + 1);
        }
        if (L->n == cap) {
            cap *= 2;
            L->wid = xrealloc(L->wid, cap * sizeof *L->wid);
            L->tok = xrealloc(L->tok, cap * sizeof *L->tok);
            L->reg = xrealloc(L->reg, cap * sizeof *L->reg);
        }
        L->wid[L->n] = id;
        L->tok[L->n] = tok;
        L->reg[L->n] = reg;
        if (++L->n == (size_t)L->o.clients) {
            break;
        }
    }
    if (L->o.clients > 0 && L->n < (size_t)L->o.clients) {
        die("%s has %zu lines, fewer than --clients %ld", L->o.tokens, L->n,
            L->o.clients);
    }
    if (L->n == 0) {
        die("%s has no line", L->o.tokens);
    }
}

/* pick_villages lists the connected workers' villages, most workers
 * first, so that every posted job can reach many of them. */
static void pick_villages(load *L)
{
    size_t count[256] = {0};

    for (size_t i = 0; i < L->n; i++) {
        size_t v;
        if (L->reg[i] == NULL) {
            die("line %zu has no REGION: jobs need the workers' villages",
                i + 1);
        }
        for (v = 0; v < L->nvillages; v++) {
            if (strcmp(L->villages[v], L->reg[i]) == 0) {
                break;
            }
        }
        if (v == L->nvillages) {
            if (v == 256) {
                continue; /* enough villages to choose from */
            }
            snprintf(L->villages[v], sizeof L->villages[v], "%s", L->reg[i]);
            L->nvillages++;
        }
        count[v]++;
    }
    /* Insertion sort by count, descending: at most 256 entries. */
    for (size_t i = 1; i < L->nvillages; i++) {
        for (size_t j = i; j > 0 && count[j] > count[j - 1]; j--) {
            char tmp[13];
            size_t c = count[j];
            count[j] = count[j - 1];
            count[j - 1] = c;
            memcpy(tmp, L->villages[j], 13);
            memcpy(L->villages[j], L->villages[j - 1], 13);
            memcpy(L->villages[j - 1], tmp, 13);
        }
    }
}

static void read_key(load *L)
{
    char *k = slurp(L->o.key_file);
    size_t n = strcspn(k, " \t\r\n");

    if (n == 0 || n >= sizeof L->key) {
        die("%s: no key", L->o.key_file);
    }
    memcpy(L->key, k, n);
    L->key[n] = '\0';
    free(k);
}

/* raise_nofile lifts the soft limit on descriptors to the hard one. */
static void raise_nofile(size_t need)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
        die("getrlimit: %s", strerror(errno));
    }
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    if (r.rlim_cur < need) {
        die("%zu descriptors needed, the limit is %llu: raise ulimit -n "
            "(the hard limit too, as root)",
            need, (unsigned long long)r.rlim_cur);
    }
}

int main(int argc, char **argv)
{
    load L = {0};
    long rss0[2] = {-1, -1}, rss1[2] = {-1, -1};
    double connect_s;
    char ref[16];

    parse_args(&L.o, argc, argv);
    read_tokens(&L);
    read_key(&L);
    pick_villages(&L);
    wmap_build(&L);
    raise_nofile(L.n + 64);
    if (L.o.prefix != NULL) {
        if (strlen(L.o.prefix) > 20) {
            die("--prefix is at most 20 characters");
        }
        snprintf(L.prefix, sizeof L.prefix, "%s", L.o.prefix);
    } else {
        /* New ids on every run: a job id that exists is a 409. */
        snprintf(L.prefix, sizeof L.prefix, "PB%06lx-",
                 ((unsigned long)time(NULL) ^ (unsigned long)getpid()) &
                     0xffffff);
    }
    L.plen = strlen(L.prefix);
    if (L.o.ref == NULL) {
        memcpy(ref, L.villages[0], 6); /* the county */
        ref[6] = '\0';
        L.o.ref = ref;
    }
    L.njobs = (size_t)(L.o.rate * L.o.seconds);
    L.t_send = xcalloc(L.njobs, sizeof *L.t_send);
    L.t_ack = xcalloc(L.njobs, sizeof *L.t_ack);
    L.c = xcalloc(L.n + 2, sizeof *L.c);
    for (size_t i = 0; i < L.n + 2; i++) {
        L.c[i].fd = -1;
        L.c[i].kind = i < L.n ? K_STREAM : i == L.n ? K_REF : K_POST;
    }
    L.rbuf = xrealloc(NULL, READ_BUF);
    L.sa.sin_family = AF_INET;
    L.sa.sin_port = htons((uint16_t)L.o.port);
    L.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((L.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        die("epoll_create1: %s", strerror(errno));
    }

    /* Step 1: N streams, then quiet; the server's memory before and after. */
    if (L.o.pid > 0) {
        rss(L.o.pid, &rss0[0], &rss0[1]);
    }
    connect_s = connect_all(&L);
    settle(&L, now_ns());
    if (L.o.pid > 0) {
        rss(L.o.pid, &rss1[0], &rss1[1]);
    }
    fprintf(stderr,
            "sse_load: %zu streams in %.2fs; %zu villages; posting %zu jobs "
            "at %g/s\n",
            L.n, connect_s, L.nvillages, L.njobs, L.o.rate);

    /* Step 2: the reference stream (from the last id seen: no old
     * backlog) and the poster. */
    if (!conn_open(&L, &L.c[L.n])) {
        die("cannot connect the reference stream");
    }
    stream_request(&L, &L.c[L.n]);
    while (L.c[L.n].state != S_BODY) {
        turn(&L, 20);
    }
    settle(&L, now_ns());
    if (!conn_open(&L, &L.c[L.n + 1])) {
        die("cannot connect the poster");
    }
    while (L.c[L.n + 1].state != S_BODY) {
        turn(&L, 20);
    }

    /* Step 3: post, wait, report. */
    post_all(&L);
    report(&L, connect_s, rss0, rss1);
    return 0;
}
