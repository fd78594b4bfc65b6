/* gateway/internal.h -- private declarations shared by the gateway's files.
 * The gateway is one libuv loop: http.c owns connections and requests,
 * client.c the NNG REQ contexts to the matcher, cache.c the replies it
 * may reuse, events.c the SSE streams
 * and the doorbell SUB socket, metrics.c counters and /metrics, rate.c the
 * per-credential token buckets, request.c the pure HTTP -> message
 * translation, gateway.c the whole object and its orderly shutdown.
 * Everything here runs on the loop thread unless a comment says an NNG
 * thread touches it. */
#ifndef SG_GATEWAY_INTERNAL_H
#define SG_GATEWAY_INTERNAL_H

#include <llhttp.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../proto/shared.h"
#include "songgang/gateway.h"
#include "songgang/msg.h"
#include "songgang/routes.h"

typedef struct sg__conn sg__conn;
typedef struct sg__hreq sg__hreq;
typedef struct sg__call sg__call;
typedef struct sg__slot sg__slot;
typedef struct sg__stream sg__stream;

#define SG__READ_BUF (64u << 10)       /* bytes read at a time */
#define SG__PIPELINE_MAX 32            /* requests queued per connection */
#define SG__LINGER_MS 1000             /* reading after our FIN, at most */
#define SG__SSE_QUEUE_MAX (256u << 10) /* unsent bytes before a stream ends */
#define SG__WRITE_HIGH (1u << 20)      /* unsent bytes before reading stops */
#define SG__POLL_MS 1000               /* events poll without a doorbell */
#define SG__POLL_LIMIT 1000            /* events per SG /events/poll */
#define SG__WAIT_MAX 4096              /* requests waiting for a context */
#define SG__STOP_GRACE_MS 3000         /* stop grace beyond 2 reply waits */

/* sg__log writes one line "songgang-gateway: file:line: message" to stderr;
 * for errors that are the gateway's own (never a client's input). */
void sg__log(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SG__LOG(...) sg__log(__FILE__, __LINE__, __VA_ARGS__)

/* sg__err_uv translates a libuv error code into an SG_E* (gateway.c:
 * the one place that does it); sg__err_nng is proto's (shared.h). */
int sg__err_uv(int uvrc);

/* ---- Routes and metrics (metrics.c). ---- */

#define SG__HIST_BUCKETS 14

/* sg__hist is a Prometheus histogram with fixed bucket bounds. */
typedef struct sg__hist {
    uint64_t n[SG__HIST_BUCKETS]; /* observations <= each bound */
    uint64_t count;               /* all observations */
    double sum;                   /* their sum, seconds */
} sg__hist;

typedef struct sg__metrics {
    uint64_t req[SG_ROUTE__COUNT][600]; /* requests by route and status */
    sg__hist dur[SG_ROUTE__COUNT];      /* request durations by route */
    sg__hist rtt;                    /* matcher round trips */
    uint64_t lmdb_bytes;             /* from the last SG /stats */
    bool have_lmdb;                  /* lmdb_bytes is known */
    uint64_t conns_rejected;         /* answered 503 for max_conns */
    uint64_t streams_dropped;        /* SSE streams ended as too slow */
} sg__metrics;

/* sg__route_name returns the metrics label of a route id
 * (songgang/routes.h): its pattern, e.g. "/v1/jobs/{id}", or "other". */
const char *sg__route_name(int route);
/* sg__metrics_request counts one answered request. */
void sg__metrics_request(sg__metrics *m, int route, int status, double secs);
/* sg__metrics_rtt records one matcher round trip. */
void sg__metrics_rtt(sg__metrics *m, double secs);
/* sg__metrics_stats takes lmdb_bytes from an SG /stats reply body (JSON);
 * 0 or SG_EINVAL when it does not parse. */
int sg__metrics_stats(sg__metrics *m, const uint8_t *body, size_t len);
/* sg__metrics_render appends the Prometheus text of g's metrics to out. */
void sg__metrics_render(sg_gateway *g, sg_buf *out);

/* ---- Token buckets (rate.c). ---- */

typedef struct sg__bucket {
    uint64_t key;     /* keyed hash of the credential, 0 = free */
    double tokens;    /* tokens left */
    uint64_t last_ms; /* when tokens was computed */
} sg__bucket;

typedef struct sg__rate {
    sg__bucket *b;    /* open-addressed table, owned */
    size_t cap;       /* entries, a power of two */
    double rate;      /* tokens per second, <= 0 = no limit */
    double burst;     /* bucket size */
    uint8_t hkey[16]; /* random key of the hash */
} sg__rate;

void sg__rate_init(sg__rate *r, int rate_per_s, int burst);
void sg__rate_fini(sg__rate *r);
/* sg__rate_take takes a token of the bucket of key[0..len) at now_ms:
 * 0 when one was left, else the whole seconds until one is (>= 1). */
int sg__rate_take(sg__rate *r, const char *key, size_t len, uint64_t now_ms);

/* ---- The reply cache (cache.c). ---- */

#define SG__CACHE_KEY 32 /* bytes of an entry's key (keyed BLAKE2b) */

typedef struct sg__centry sg__centry;

/* sg__cache holds replies the matcher marked reusable (cache_until_ms),
 * each for the data version it reflects.  An entry answers only while its
 * version is the highest the gateway has seen in any reply (`known`),
 * the time is before its cache_until_ms, the newest answered version poll
 * was sent less than poll_ms ago, and the connection to the matcher has
 * not changed since it was stored (`epoch`). */
typedef struct sg__cache {
    sg_gateway *g;         /* owner */
    size_t max_bytes;      /* the bound; 0 = no cache */
    size_t bytes;          /* held, with each entry's overhead */
    size_t n;              /* entries (some may be stale) */
    sg__centry **tab;      /* hash chains, owned */
    size_t cap;            /* buckets, a power of two */
    sg__centry *mru;       /* most recently used */
    sg__centry *lru;       /* least recently used: evicted first */
    uint64_t known;        /* highest data version in any reply */
    uint64_t fresh_ms;     /* when the newest answered poll was sent */
    bool fresh_set;        /* a poll has answered in this epoch */
    unsigned epoch;        /* the client's epoch the entries belong to */
    int poll_ms;           /* how stale `known` may get */
    uv_timer_t timer;      /* sends the polls */
    bool handles;          /* timer needs closing */
    sg__call *poll;        /* SG /version in flight */
    uint64_t poll_sent_ms; /* when it was sent */
    unsigned poll_epoch;   /* the client's epoch then */
    uint8_t hkey[32];      /* random key of the hash */
    uint64_t hits;         /* requests answered from the cache */
    uint64_t misses;       /* GETs it could not answer */
} sg__cache;

/* sg__cache_init makes an empty cache of cache_mb MiB (0 = none) that
 * polls the version every poll_ms once started; sg__cache_start starts
 * the polls (after the client is up); sg__cache_stop stops them and
 * closes the timer (idempotent); sg__cache_fini frees the entries. */
void sg__cache_init(sg__cache *c, sg_gateway *g, uv_loop_t *loop,
                    int cache_mb, int poll_ms);
void sg__cache_start(sg__cache *c);
void sg__cache_stop(sg__cache *c);
void sg__cache_fini(sg__cache *c);
/* sg__cache_on tells whether the cache is on (and not stopped). */
bool sg__cache_on(const sg__cache *c);
/* sg__cache_key hashes an encoded request message (method, path, query,
 * credential, host, formats, body: everything a reply may depend on). */
void sg__cache_key(const sg__cache *c, const uint8_t *msg, size_t len,
                   uint8_t key[SG__CACHE_KEY]);
/* sg__cache_get returns the entry of key if it may answer now (borrowed
 * until the cache next changes), else NULL; epoch is the client's. */
const sg__centry *sg__cache_get(sg__cache *c, const uint8_t *key,
                                unsigned epoch);
/* sg__centry_reply points *out at e's reply (borrowed like e). */
void sg__centry_reply(const sg__centry *e, sg_msg_reply *out);
/* sg__cache_seen learns the data version of a reply (any reply). */
void sg__cache_seen(sg__cache *c, const sg_msg_reply *rep, unsigned epoch);
/* sg__cache_put keeps a copy of rep for key when the matcher marked it
 * reusable and it is of the newest version; sent_epoch is the client's
 * epoch when the request was made. */
void sg__cache_put(sg__cache *c, const uint8_t *key, unsigned sent_epoch,
                   unsigned epoch, const sg_msg_reply *rep);

/* ---- The matcher client (client.c). ---- */

/* sg__reply_cb gets a call's outcome on the loop thread: rc 0 and the
 * reply (borrowed for the call), or SG_EBUSY (no reply in time, or the
 * matcher is down) or SG_EINVAL (a reply that does not decode; e says
 * why) with rep NULL.  It may start and cancel other calls. */
typedef void (*sg__reply_cb)(void *arg, int rc, const sg_msg_reply *rep,
                             const sg_error *e);

typedef struct sg__client {
    sg_gateway *g;              /* owner */
    nng_socket sock;            /* REQ */
    bool sock_open;             /* sock needs nng_close */
    int timeout_ms;             /* reply wait */
    int nslots;                 /* contexts */
    sg__slot *slots;            /* [nslots], owned */
    sg__slot *idle;             /* slots without a call */
    sg__call *wait_head;        /* calls waiting for a slot, FIFO */
    sg__call *wait_tail;        /* its end */
    size_t nwait;               /* its length */
    uv_async_t async;           /* NNG threads -> loop */
    uv_timer_t sweep;           /* expires waiting calls */
    bool handles;               /* async and sweep are initialised */
    pthread_mutex_t mu;         /* guards done */
    sg__slot *done;             /* completed slots (NNG threads push) */
    atomic_int pipes;           /* connected pipes (NNG threads) */
    _Atomic int64_t down_since; /* nng_clock() when pipes became 0 */
    atomic_uint epoch;          /* + 1 at each pipe added or removed */
    sg__call *ready_head;       /* cache hits to answer, FIFO */
    sg__call *ready_tail;       /* its end */
    uv_check_t ready_check;     /* answers them after this I/O round */
    uv_idle_t ready_idle;       /* keeps the loop from blocking till then */
    sg_buf enc;                 /* scratch for encoding */
} sg__client;

/* sg__client_init opens the REQ socket, dials url without waiting and
 * starts the handles on loop.  0 or a negative SG_E*. */
int sg__client_init(sg__client *cl, sg_gateway *g, uv_loop_t *loop,
                    const char *url, int contexts, int timeout_ms);
/* sg__client_call sends req (borrowed; encoded at once) and calls cb(arg)
 * later, exactly once unless cancelled.  0 and *out (owned by the client
 * until the callback or a cancel), or SG_EBUSY at once (matcher down for
 * a while, or too many waiting) and then no callback. */
int sg__client_call(sg__client *cl, const sg_msg_req *req, sg__reply_cb cb,
                    void *arg, sg__call **out);
/* sg__client_call_first is sg__client_call for the version poll: it goes
 * ahead of the calls waiting for a context, and the cache is not used. */
int sg__client_call_first(sg__client *cl, const sg_msg_req *req,
                          sg__reply_cb cb, void *arg, sg__call **out);
/* sg__client_epoch returns the count of pipes added and removed: when it
 * changes, the matcher may be another (restarted, other data, weights). */
unsigned sg__client_epoch(sg__client *cl);
/* sg__call_cancel makes sure c's callback never runs. */
void sg__call_cancel(sg__client *cl, sg__call *c);
/* sg__client_busy tells whether a call is on the wire (on a context);
 * sg__client_abort aborts every such call (their callbacks get SG_EBUSY;
 * a cancelled call's never runs). */
bool sg__client_busy(sg__client *cl);
void sg__client_abort(sg__client *cl);
/* sg__client_up tells whether a pipe to the matcher is connected. */
bool sg__client_up(sg__client *cl);
/* sg__client_fini closes the socket, waits for NNG's callbacks, drops
 * every call (no callbacks) and closes the handles. */
void sg__client_fini(sg__client *cl);

/* ---- Requests and connections (http.c, request.c). ---- */

enum sg__hreq_state {
    SG__HR_PARSING, /* headers or body still arriving */
    SG__HR_WAITING, /* complete; waiting for its answer */
    SG__HR_DONE,    /* out holds the whole response */
};

enum sg__hreq_kind {
    SG__K_FORWARD, /* sent to the matcher as is */
    SG__K_HEALTHZ, /* SG /stats, answered as /healthz */
    SG__K_METRICS, /* SG /stats, answered as /metrics */
};

/* sg__hreq is one HTTP request and, once answered, its response.  Owned
 * by its connection's FIFO. */
struct sg__hreq {
    sg__hreq *next;                 /* FIFO order */
    sg__conn *c;                    /* owner */
    uint8_t state;                  /* enum sg__hreq_state */
    uint8_t kind;                   /* enum sg__hreq_kind */
    uint8_t method;                 /* llhttp_method_t */
    uint8_t ctype;                  /* enum sg_fmt of the body */
    uint8_t accept;                 /* enum sg_fmt wanted back */
    bool bad_ctype;                 /* Content-Type we do not take */
    bool keep_alive;                /* the client keeps the connection */
    bool http10;                    /* an HTTP/1.0 request */
    bool close_after;               /* close once this is written */
    bool expect_continue;           /* Expect: 100-continue */
    int route;                      /* label: first route of its path */
    int route_id;                   /* the route for its method */
    int status;                     /* the answer's status */
    int err_status;                 /* an error found while parsing */
    char err_msg[192];              /* its message */
    char err_field[64];             /* its field */
    bool method_known;              /* method was parsed */
    sg_buf url;                     /* the raw request target */
    sg_buf body;                    /* the body */
    size_t body_max;                /* its limit */
    char cred[SG_MSG_CRED_MAX + 1]; /* Authorization: Bearer value */
    char host[256];                 /* Host */
    uint64_t leid;                  /* Last-Event-ID, 0 = none */
    uint64_t t0;                    /* uv_hrtime() at its first byte */
    sg__call *call;                 /* in flight to the matcher */
    sg__stream *stream;             /* an SSE stream waiting to start */
    sg_buf out;                     /* the response bytes */
};

enum sg__conn_state {
    SG__C_OPEN,   /* reading and answering */
    SG__C_DRAIN,  /* no more requests; close once answered */
    SG__C_LINGER, /* FIN sent; reading until EOF or a timeout */
    SG__C_CLOSED, /* uv_close called */
};

enum sg__timer_mode {
    SG__T_NONE,
    SG__T_REQUEST, /* a request is arriving: 408 */
    SG__T_IDLE,    /* keep-alive idle: close */
    SG__T_LINGER,  /* lingering close: close */
    SG__T_STALL,   /* the client reads none of its answers: close */
};

/* sg__conn is one client connection.  It owns its two handles and is
 * freed when both close callbacks have run. */
struct sg__conn {
    uv_tcp_t tcp;       /* the socket; data = this */
    uv_timer_t timer;   /* the one deadline; data = this */
    uv_shutdown_t shut; /* our FIN */
    sg_gateway *g;      /* owner */
    sg__conn *prev;     /* gateway's list */
    sg__conn *next;     /* gateway's list */
    llhttp_t parser;    /* request parser; data = this */
    uint8_t state;      /* enum sg__conn_state */
    uint8_t tmode;      /* enum sg__timer_mode */
    int handles;        /* handles not yet closed */
    bool rejected;      /* over max_conns: answered 503 */
    bool reading;       /* uv_read_start is on */
    bool paused;        /* the parser waits; stash holds the rest */
    bool in_parse;      /* inside llhttp_execute */
    bool no_more;       /* parse no further requests */
    bool eof;           /* the client sent its FIN */
    sg_buf stash;       /* bytes not parsed while paused */
    sg__hreq *head;     /* FIFO of requests, oldest */
    sg__hreq *tail;     /* newest */
    sg__hreq *cur;      /* the one being parsed, also the tail */
    int nreq;           /* requests in the FIFO */
    size_t hdr_bytes;   /* header bytes of cur */
    char hfield[24];    /* current header name (lower case) */
    size_t hflen;       /* its length; > sizeof = a long one */
    sg_buf hval;        /* current header value */
    bool hval_long;     /* it is longer than we keep */
    bool wblocked;      /* reading waits for the client to read */
    uint64_t wtotal;    /* bytes ever queued for writing */
    uint64_t sent_seen; /* bytes written when the timer started */
    sg__stream *stream; /* the SSE stream this connection carries */
    char peer[64];      /* client address, for anonymous rate keys */
};

/* sg__http_listen binds and listens on g->o.http; 0 or SG_E*. */
int sg__http_listen(sg_gateway *g);
/* sg__http_stop stops reading requests on every connection: answered
 * ones are written, streams end, idle connections close. */
void sg__http_stop(sg_gateway *g);
/* sg__http_kill closes every connection at once (a stop past its
 * grace time: a client that never reads must not hold the process). */
void sg__http_kill(sg_gateway *g);
/* sg__conn_send queues bytes on c (an SSE stream) and ends c when more
 * than SG__SSE_QUEUE_MAX are unsent: 0, or -1 when c is closing. */
int sg__conn_send(sg__conn *c, const void *p, size_t n);
/* sg__conn_end closes c gracefully (our FIN after what is queued). */
void sg__conn_end(sg__conn *c);

/* sg__req_build fills m from a parsed request: method, path and %-decoded
 * query (into m->qstore), the credential (Authorization: Bearer, else
 * ?token= on a GET; token never stays in the query), host, formats,
 * Last-Event-ID, body (borrowed).  0, or SG_EINVAL / SG_ETOOBIG with e
 * naming the field. */
int sg__req_build(sg_msg_req *m, const char *method, const char *url,
                  size_t url_len, const char *cred, const char *host,
                  uint8_t ctype, uint8_t accept, uint64_t leid,
                  const uint8_t *body, size_t body_len, sg_error *e);
/* sg__path_len returns the length of url's path (up to '?' or '#'). */
size_t sg__path_len(const char *url, size_t len);
/* sg__log_target writes url into out[cap] for the access log: the path,
 * and the query's parameter names without any value. */
void sg__log_target(const char *url, size_t len, char *out, size_t cap);
/* sg__bearer extracts the token of an "Authorization: Bearer X" value
 * into out[cap]; false when the value is not one. */
bool sg__bearer(const char *v, size_t len, char *out, size_t cap);
/* sg__printable tells whether s[0..n) is printable ASCII without spaces. */
bool sg__printable(const char *s, size_t n);

/* ---- Server-Sent Events (events.c). ---- */

typedef struct sg__events {
    sg_gateway *g;         /* owner */
    nng_socket sub;        /* doorbells */
    bool sub_open;         /* sub needs nng_close */
    nng_aio *aio;          /* receives doorbells (NNG thread) */
    uv_async_t async;      /* doorbell -> loop */
    uv_timer_t poll_timer; /* polls without a doorbell */
    uv_timer_t ping_timer; /* SSE heartbeats */
    bool handles;          /* the three handles are initialised */
    bool stopped;          /* sg__events_stop has run */
    _Atomic uint64_t bell; /* highest doorbell seq (NNG thread) */
    sg__stream *live;      /* registered streams */
    size_t nstreams;       /* streams open, registered or not */
    uint64_t cursor;       /* last seq fanned out */
    sg__call *poll;        /* SG /events/poll in flight */
    bool again;            /* poll again when it returns */
    sg_buf scratch;        /* one event's SSE text */
    struct sg__fanout *fan; /* live streams, indexed (events.c), owned */
} sg__events;

int sg__events_init(sg__events *ev, sg_gateway *g, uv_loop_t *loop,
                    const char *pub_url);
/* sg__events_stop closes the SUB socket and the timers; streams end with
 * their connections. */
void sg__events_stop(sg__events *ev);
/* sg__events_begin turns the reply to GET /v1/events into a stream: it
 * appends the SSE response head and the backlog to out and returns the
 * stream (owned by r until its connection starts it), or NULL when the
 * backlog does not decode (then out is untouched). */
sg__stream *sg__events_begin(sg__events *ev, sg__hreq *r,
                             const sg_msg_reply *rep, sg_buf *out);
/* sg__events_start hands s to c once its head is written: it catches up
 * (while the backlog was cut) and then receives fanned-out events. */
void sg__events_start(sg__events *ev, sg__stream *s, sg__conn *c);
/* sg__stream_free unregisters s, cancels its call and frees it. */
void sg__stream_free(sg__events *ev, sg__stream *s);

/* ---- The gateway object (gateway.c). ---- */

struct sg_gateway {
    uv_loop_t loop;          /* the one loop */
    uv_tcp_t listener;       /* accepting socket */
    uv_signal_t sigterm;     /* graceful stop */
    uv_signal_t sigint;      /* graceful stop */
    uv_timer_t stop_timer;   /* ends a stop that takes too long */
    uv_timer_t drain_timer;  /* waits for the last calls to end */
    sg_gateway_opts o;       /* options; strings point at the copies */
    char *matcher_url;       /* owned copy */
    char *pub_url;           /* owned, derived when not given */
    char *http_addr;         /* owned copy */
    int port;                /* bound TCP port */
    bool listening;          /* listener is open */
    bool stopping;           /* stop has begun */
    bool finished;           /* everything is closing */
    bool client_ok;          /* client needs fini */
    bool events_ok;          /* events need stop */
    sg__client client;       /* to the matcher */
    sg__events events;       /* SSE */
    sg__metrics metrics;     /* counters */
    sg__rate rate;           /* per-credential buckets */
    sg__cache cache;         /* reusable replies */
    sg__conn *conns;         /* every open connection */
    int nconns;              /* those counted against max_conns */
    char rbuf[SG__READ_BUF]; /* read buffer (one loop, one read at once) */
};

/* sg__gateway_stop begins the graceful stop; sg__gateway_conn_gone is
 * told when a connection is freed so the stop can finish. */
void sg__gateway_stop(sg_gateway *g);
void sg__gateway_conn_gone(sg_gateway *g);

#endif /* SG_GATEWAY_INTERNAL_H */
