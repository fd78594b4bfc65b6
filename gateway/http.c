/* gateway/http.c -- the HTTP/1.1 server: libuv TCP connections, one
 * llhttp parser each, keep-alive and pipelining.  A connection's requests
 * wait in a FIFO; each is answered when its matcher reply comes, in any
 * order, but only the head is written, so responses leave in request
 * order.  Limits are checked while parsing: header bytes (431), body bytes
 * from Content-Length before the body and while a chunked one arrives
 * (413), a deadline per request (408), keep-alive idle, max_conns (503).
 * An error that leaves the stream out of step closes the connection after
 * its answer: our FIN, then reading a moment so that the client sees the
 * answer rather than a reset.  Loop thread only. */
#include <arpa/inet.h>
#include <assert.h>
#include <linux/sockios.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include "internal.h"

static void conn_flush(sg__conn *c);
static void conn_close(sg__conn *c);
static void conn_shutdown(sg__conn *c);
static void conn_feed(sg__conn *c, const char *p, size_t n);
static void conn_maybe_resume(sg__conn *c);
static void timer_set(sg__conn *c, int mode);
static void hreq_error(sg__hreq *r, int status, const char *field,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- Requests. ---- */

static sg__hreq *hreq_new(sg__conn *c)
{
    sg__hreq *r = calloc(1, sizeof *r);

    if (r == NULL) {
        abort(); /* out of memory */
    }
    r->c = c;
    r->accept = SG_FMT_JSON;
    r->t0 = uv_hrtime();
    sg_buf_init(&r->url);
    sg_buf_init(&r->body);
    sg_buf_init(&r->out);
    if (c->tail != NULL) {
        c->tail->next = r;
    } else {
        c->head = r;
    }
    c->tail = r;
    c->nreq++;
    return r;
}

static void hreq_free(sg__hreq *r)
{
    sg_gateway *g = r->c->g;

    sg__call_cancel(&g->client, r->call);
    if (r->stream != NULL) {
        sg__stream_free(&g->events, r->stream);
    }
    sg_buf_free(&r->url);
    sg_buf_free(&r->body);
    sg_buf_free(&r->out);
    free(r);
}

/* drop_all frees every request of c: nothing more will be answered. */
static void drop_all(sg__conn *c)
{
    while (c->head != NULL) {
        sg__hreq *r = c->head;
        c->head = r->next;
        hreq_free(r);
    }
    c->tail = NULL;
    c->cur = NULL;
    c->nreq = 0;
}

/* drop_partial frees the request still being parsed, if any. */
static void drop_partial(sg__conn *c)
{
    sg__hreq *r = c->cur, *p;

    if (r == NULL) {
        return;
    }
    assert(r == c->tail);
    if (c->head == r) {
        c->head = c->tail = NULL;
    } else {
        for (p = c->head; p->next != r; p = p->next) {
        }
        p->next = NULL;
        c->tail = p;
    }
    c->nreq--;
    c->cur = NULL;
    hreq_free(r);
}

/* ---- Writing. ---- */

typedef struct wreq {
    uv_write_t req; /* data = the connection */
    sg_buf buf;     /* the bytes, owned */
} wreq;

static void write_cb(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    sg__conn *c = w->data;

    sg_buf_free(&wr->buf);
    free(wr);
    if (status < 0 && c->state != SG__C_CLOSED) {
        conn_close(c);
        return;
    }
    if (c->wblocked && c->tcp.write_queue_size <= SG__WRITE_HIGH / 2) {
        c->wblocked = false;
        if (c->tmode == SG__T_STALL) {
            timer_set(c, SG__T_NONE);
        }
        conn_maybe_resume(c);
        if (c->state == SG__C_OPEN && c->head == NULL && c->cur == NULL &&
            c->tmode == SG__T_NONE) {
            timer_set(c, SG__T_IDLE);
        }
    }
}

/* conn_write takes b's bytes (b is left empty) and queues them. */
static int conn_write(sg__conn *c, sg_buf *b)
{
    wreq *wr;
    uv_buf_t ub;

    if (c->state == SG__C_CLOSED || c->state == SG__C_LINGER) {
        sg_buf_free(b);
        return -1;
    }
    if (b->len == 0) {
        return 0;
    }
    wr = malloc(sizeof *wr);
    if (wr == NULL) {
        abort(); /* out of memory */
    }
    wr->buf = *b;
    sg_buf_init(b);
    c->wtotal += wr->buf.len;
    wr->req.data = c;
    ub = uv_buf_init((char *)wr->buf.data, (unsigned)wr->buf.len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &ub, 1, write_cb) != 0) {
        sg_buf_free(&wr->buf);
        free(wr);
        conn_close(c);
        return -1;
    }
    return 0;
}

int sg__conn_send(sg__conn *c, const void *p, size_t n)
{
    sg_buf b;

    if (c->state != SG__C_OPEN) {
        return -1;
    }
    sg_buf_init(&b);
    sg_buf_append(&b, p, n);
    if (conn_write(c, &b) != 0) {
        return -1;
    }
    if (c->tcp.write_queue_size > SG__SSE_QUEUE_MAX) {
        /* A client that does not read: it reconnects with Last-Event-ID
         * and loses nothing, while we keep no unbounded queue. */
        c->g->metrics.streams_dropped++;
        conn_close(c);
        return -1;
    }
    return 0;
}

/* ---- Responses. ---- */

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

static const char *method_str(const sg__hreq *r)
{
    return r->method_known ? llhttp_method_name(r->method) : "-";
}

/* account counts r in the metrics and writes its access log line: the
 * path and the query's names only, so a token never reaches the log. */
static void account(sg__hreq *r)
{
    sg__conn *c = r->c;
    sg_gateway *g = c->g;
    double secs = (double)(uv_hrtime() - r->t0) / 1e9;
    char target[256];

    sg__metrics_request(&g->metrics, r->route, r->status, secs);
    if (!g->o.quiet) {
        sg__log_target((const char *)r->url.data, r->url.len, target,
                       sizeof target);
        fprintf(stderr, "%s %s %s %d %.1fms\n", c->peer, method_str(r), target,
                r->status, secs * 1e3);
    }
}

/* respond makes r's response and writes what the FIFO lets out. */
static void respond(sg__hreq *r, int status, uint8_t ctype, const void *body,
                    size_t len, int retry_after)
{
    char head[384];
    int n;
    const char *mime = sg_fmt_mime((sg_fmt)ctype);
    const char *conn_hdr = "";

    assert(r->state != SG__HR_DONE);
    if (r->close_after) {
        conn_hdr = "Connection: close\r\n";
    } else if (r->http10) {
        conn_hdr = "Connection: keep-alive\r\n";
    }
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s%s", status,
                 reason(status), len, mime[0] ? "Content-Type: " : "", mime,
                 mime[0] ? "\r\n" : "", conn_hdr);
    assert(n > 0 && (size_t)n < sizeof head);
    if (retry_after > 0) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %d\r\n",
                      retry_after);
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    r->out.len = 0;
    sg_buf_append(&r->out, head, (size_t)n);
    if (len > 0 && r->method != HTTP_HEAD) {
        sg_buf_append(&r->out, body, len);
    }
    r->status = status;
    r->state = SG__HR_DONE;
    account(r);
    conn_flush(r->c);
}

/* respond_error answers status with proto's error body; its code word is
 * sg_status_code(status), the same the matcher would write. */
static void respond_error(sg__hreq *r, int status, const char *msg,
                          const char *field, int retry_after)
{
    sg_buf b;
    sg_fmt f;

    sg_buf_init(&b);
    f = sg_error_body(
        &b, r->accept == SG_FMT_MSGPACK ? SG_FMT_MSGPACK : SG_FMT_JSON,
        sg_status_code(status), msg, field);
    respond(r, status, f, b.data, b.len, retry_after);
    sg_buf_free(&b);
}

static void hreq_error(sg__hreq *r, int status, const char *field,
                       const char *fmt, ...)
{
    va_list ap;

    r->err_status = status;
    snprintf(r->err_field, sizeof r->err_field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(r->err_msg, sizeof r->err_msg, fmt, ap);
    va_end(ap);
}

/* ---- Timers and reading. ---- */

static void timer_cb(uv_timer_t *t);

/* delivered returns the bytes of c's answers the client has taken: queued
 * minus what waits in libuv and in the kernel (which may hold megabytes,
 * and tells libuv it has room only in large steps). */
static uint64_t delivered(sg__conn *c)
{
    uv_os_fd_t fd;
    int outq = 0;
    uint64_t waiting = c->tcp.write_queue_size;

    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
        ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0) {
        waiting += (uint64_t)outq;
    }
    return waiting < c->wtotal ? c->wtotal - waiting : 0;
}

static void timer_set(sg__conn *c, int mode)
{
    const sg_gateway_opts *o = &c->g->o;
    uint64_t ms;

    if (c->state == SG__C_CLOSED) {
        return;
    }
    c->tmode = (uint8_t)mode;
    switch (mode) {
    case SG__T_REQUEST:
        ms = (uint64_t)o->request_timeout_ms;
        break;
    case SG__T_IDLE:
    case SG__T_STALL:
        ms = (uint64_t)o->idle_timeout_ms;
        break;
    case SG__T_LINGER:
        /* Shorter while stopping: answers are out, the stop waits. */
        ms = c->g->stopping ? SG__LINGER_MS / 10 : SG__LINGER_MS;
        break;
    default:
        uv_timer_stop(&c->timer);
        return;
    }
    c->sent_seen = delivered(c);
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    sg__conn *c = h->data;

    (void)hint;
    /* One buffer serves every connection: a read is consumed (or
     * stashed) before the loop reads again. */
    buf->base = c->g->rbuf;
    buf->len = sizeof c->g->rbuf;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void read_start(sg__conn *c)
{
    if (!c->reading && c->state != SG__C_CLOSED) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) {
            c->reading = true;
        }
    }
}

static void read_stop(sg__conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* conn_eof: the client will send nothing more. */
static void conn_eof(sg__conn *c)
{
    c->eof = true;
    read_stop(c);
    if (c->state == SG__C_LINGER || c->stream != NULL || c->rejected) {
        conn_close(c);
        return;
    }
    if (c->state != SG__C_OPEN) {
        return;
    }
    drop_partial(c); /* never complete now */
    if (c->paused) {
        return; /* the stash holds whole requests still to answer */
    }
    c->no_more = true;
    c->state = SG__C_DRAIN;
    if (c->head == NULL) {
        conn_shutdown(c); /* after what is queued; then closes (eof) */
    } else {
        timer_set(c, SG__T_NONE);
    }
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sg__conn *c = s->data;

    if (n == 0) {
        return;
    }
    if (n < 0) {
        if (n == UV_EOF) {
            conn_eof(c);
        } else {
            conn_close(c);
        }
        return;
    }
    if (c->state != SG__C_OPEN || c->stream != NULL || c->no_more) {
        return; /* lingering, streaming, or done: discard */
    }
    if (c->paused) {
        sg_buf_append(&c->stash, buf->base, (size_t)n);
        read_stop(c);
        return;
    }
    conn_feed(c, buf->base, (size_t)n);
    conn_flush(c);
}

/* ---- Closing. ---- */

static void close_cb(uv_handle_t *h)
{
    sg__conn *c = h->data;
    sg_gateway *g = c->g;

    if (--c->handles > 0) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        g->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (!c->rejected) {
        g->nconns--;
    }
    sg_buf_free(&c->stash);
    sg_buf_free(&c->hval);
    free(c);
    sg__gateway_conn_gone(g);
}

/* conn_close closes at once; memory goes in close_cb. */
static void conn_close(sg__conn *c)
{
    if (c->state == SG__C_CLOSED) {
        return;
    }
    c->state = SG__C_CLOSED;
    c->reading = false;
    if (c->stream != NULL) {
        sg__stream_free(&c->g->events, c->stream);
        c->stream = NULL;
    }
    drop_all(c);
    uv_close((uv_handle_t *)&c->tcp, close_cb);
    uv_close((uv_handle_t *)&c->timer, close_cb);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    sg__conn *c = req->data;

    if (c->state == SG__C_CLOSED) {
        return;
    }
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    /* Read (and discard) what the client still sends, until it closes
     * too or the linger time ends: closing with unread bytes would reset
     * the connection and could destroy the answer in flight. */
    read_start(c);
    timer_set(c, SG__T_LINGER);
}

/* conn_shutdown sends our FIN after everything queued. */
static void conn_shutdown(sg__conn *c)
{
    if (c->state == SG__C_CLOSED || c->state == SG__C_LINGER) {
        return;
    }
    c->state = SG__C_LINGER;
    c->no_more = true;
    timer_set(c, SG__T_NONE);
    read_stop(c);
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
        conn_close(c);
    }
}

void sg__conn_end(sg__conn *c)
{
    if (c->state != SG__C_OPEN && c->state != SG__C_DRAIN) {
        return;
    }
    c->no_more = true;
    read_stop(c);
    if (c->head == NULL || c->stream != NULL) {
        conn_shutdown(c);
    } else {
        c->state = SG__C_DRAIN;
        timer_set(c, SG__T_NONE);
    }
}

static void timer_cb(uv_timer_t *t)
{
    sg__conn *c = t->data;
    sg__hreq *r;

    switch (c->tmode) {
    case SG__T_REQUEST:
        r = c->cur;
        if (r == NULL || r->state != SG__HR_PARSING) {
            return;
        }
        /* A slow client: answer 408 in turn and close. */
        c->cur = NULL;
        c->no_more = true;
        read_stop(c);
        r->close_after = true;
        r->state = SG__HR_WAITING;
        respond_error(r, 408, "the request did not arrive in time", "", 0);
        return;
    case SG__T_IDLE:
    case SG__T_STALL:
        /* A client still reading a long answer is not idle: what counts
         * is that it read something since the timer started. */
        if (delivered(c) < c->wtotal && delivered(c) > c->sent_seen) {
            timer_set(c, c->tmode);
            return;
        }
        if (c->tmode == SG__T_STALL || c->head == NULL) {
            conn_close(c);
        }
        return;
    case SG__T_LINGER:
        conn_close(c);
        return;
    default:
        return;
    }
}

/* ---- The FIFO. ---- */

static void conn_maybe_resume(sg__conn *c)
{
    if (c->in_parse || c->state != SG__C_OPEN) {
        return;
    }
    /* A client that sends but does not read gets no more answers queued
     * than SG__WRITE_HIGH: we stop reading until it catches up. */
    if (c->tcp.write_queue_size > SG__WRITE_HIGH) {
        if (!c->wblocked) {
            c->wblocked = true;
            read_stop(c);
            timer_set(c, SG__T_STALL);
        }
        return;
    }
    while (c->paused && !c->no_more && c->state == SG__C_OPEN &&
           c->nreq < SG__PIPELINE_MAX) {
        sg_buf st = c->stash;
        sg_buf_init(&c->stash);
        c->paused = false;
        llhttp_resume(&c->parser);
        conn_feed(c, (const char *)st.data, st.len);
        sg_buf_free(&st);
    }
    if (c->state != SG__C_OPEN || c->paused || c->no_more) {
        return;
    }
    if (c->eof) {
        c->no_more = true;
        c->state = SG__C_DRAIN;
        if (c->head == NULL) {
            conn_shutdown(c);
        }
        return;
    }
    read_start(c);
}

/* conn_flush writes the answered requests at the FIFO's head. */
static void conn_flush(sg__conn *c)
{
    sg_gateway *g = c->g;
    sg__hreq *r;

    while ((r = c->head) != NULL && r->state == SG__HR_DONE) {
        bool last = r->close_after;
        sg__stream *s = r->stream;

        c->head = r->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        c->nreq--;
        r->stream = NULL;
        if (conn_write(c, &r->out) != 0) {
            if (s != NULL) {
                sg__stream_free(&g->events, s);
            }
            hreq_free(r);
            return;
        }
        hreq_free(r);
        if (s != NULL) {
            /* The stream's head and backlog are out: from now on this
             * connection carries only events. */
            drop_all(c);
            c->no_more = true;
            timer_set(c, SG__T_NONE);
            if (g->stopping) {
                sg__stream_free(&g->events, s);
                conn_shutdown(c);
                return;
            }
            c->stream = s;
            read_start(c); /* to see the client leave */
            sg__events_start(&g->events, s, c);
            return;
        }
        if (last) {
            drop_all(c);
            c->no_more = true;
            conn_shutdown(c);
            return;
        }
    }
    /* Nothing left to answer and nothing more to read: close. */
    if (c->head == NULL &&
        (c->state == SG__C_DRAIN || (c->state == SG__C_OPEN && c->no_more))) {
        conn_shutdown(c);
        return;
    }
    if (c->state == SG__C_OPEN && c->head == NULL && !c->no_more &&
        c->tmode != SG__T_IDLE) {
        timer_set(c, SG__T_IDLE);
    }
    conn_maybe_resume(c);
}

/* ---- Dispatch. ---- */

/* route_has tells whether the request's route has flag (routes.h). */
static bool route_has(const sg__hreq *r, unsigned flag)
{
    const sg_route *rt = sg_route_get(r->route_id);

    return rt != NULL && (rt->flags & flag) != 0;
}

static void on_reply(void *arg, int rc, const sg_msg_reply *rep,
                     const sg_error *e)
{
    sg__hreq *r = arg;
    sg_gateway *g = r->c->g;
    sg_buf b;

    r->call = NULL;
    switch (r->kind) {
    case SG__K_HEALTHZ:
        if (rc == 0 && rep->status == 200) {
            sg__metrics_stats(&g->metrics, rep->body, rep->body_len);
            static const char ok[] = "{\"ok\":true,\"matcher\":true}";
            respond(r, 200, SG_FMT_JSON, ok, sizeof ok - 1, 0);
        } else {
            static const char bad[] =
                "{\"ok\":false,\"matcher\":false,\"error\":{\"code\":"
                "\"unavailable\",\"message\":\"the matcher does not "
                "answer\",\"field\":\"\"}}";
            respond(r, 503, SG_FMT_JSON, bad, sizeof bad - 1, 0);
        }
        return;
    case SG__K_METRICS:
        if (rc == 0 && rep->status == 200) {
            sg__metrics_stats(&g->metrics, rep->body, rep->body_len);
        }
        /* The reply to /metrics is counted before it is rendered. */
        sg_buf_init(&b);
        g->metrics.req[SG_ROUTE_METRICS][200]++;
        sg__metrics_render(g, &b);
        g->metrics.req[SG_ROUTE_METRICS][200]--;
        respond(r, 200, SG_FMT_TEXT, b.data, b.len, 0);
        sg_buf_free(&b);
        return;
    default:
        break;
    }
    if (rc != 0) {
        respond_error(
            r, 503, rc == SG_EBUSY ? e->reason : "the matcher sent a bad reply",
            "", 0);
        return;
    }
    if (rep->stream != SG_STREAM_NONE && rep->status == 200 &&
        route_has(r, SG_ROUTE_STREAM)) {
        sg_buf_init(&b);
        r->stream = sg__events_begin(&g->events, r, rep, &b);
        if (r->stream == NULL) {
            sg_buf_free(&b);
            respond_error(r, 503, "the matcher sent events that do not decode",
                          "", 0);
            return;
        }
        sg_buf_free(&r->out);
        r->out = b;
        r->status = 200;
        r->state = SG__HR_DONE;
        account(r);
        conn_flush(r->c);
        return;
    }
    respond(r, rep->status, rep->ctype, rep->body, rep->body_len, 0);
}

static void dispatch(sg__hreq *r)
{
    sg__conn *c = r->c;
    sg_gateway *g = c->g;
    sg_msg_req m;
    sg_error e;
    const char *method;
    const char *key;
    size_t keylen;
    int rc, wait;

    if (r->err_status != 0) {
        respond_error(r, r->err_status, r->err_msg, r->err_field, 0);
        return;
    }
    switch (r->method) {
    case HTTP_GET:
        method = "GET";
        break;
    case HTTP_POST:
        method = "POST";
        break;
    case HTTP_PUT:
        method = "PUT";
        break;
    case HTTP_DELETE:
        method = "DELETE";
        break;
    default:
        respond_error(r, 405, "use GET, POST, PUT or DELETE", "", 0);
        return;
    }
    if (r->bad_ctype && r->body.len > 0) {
        respond_error(r, 415,
                      "Content-Type must be application/json, "
                      "application/msgpack or application/x-ndjson",
                      "content-type", 0);
        return;
    }

    /* /healthz and /metrics are the gateway's own: one SG /stats. */
    sg_error_clear(&e);
    if (r->route_id == SG_ROUTE_HEALTHZ || r->route_id == SG_ROUTE_METRICS) {
        r->kind =
            r->route_id == SG_ROUTE_HEALTHZ ? SG__K_HEALTHZ : SG__K_METRICS;
        rc = sg__req_build(&m, "SG", "/stats", 6, NULL, NULL, SG_FMT_NONE,
                           SG_FMT_JSON, 0, NULL, 0, &e);
        assert(rc == 0);
        if (sg__client_call(&g->client, &m, on_reply, r, &r->call) != 0) {
            sg_error_set(&e, SG_EBUSY, "", "the matcher is unavailable");
            on_reply(r, SG_EBUSY, NULL, &e);
        }
        return;
    }

    rc = sg__req_build(&m, method, (const char *)r->url.data, r->url.len,
                       r->cred, r->host, r->ctype, r->accept, r->leid,
                       r->body.data, r->body.len, &e);
    if (rc != 0) {
        respond_error(r, 400, e.reason, e.field, 0);
        return;
    }

    /* Rate limit per credential, or per address without one. */
    key = m.cred[0] != '\0' ? m.cred : c->peer;
    keylen = strlen(key);
    wait = sg__rate_take(&g->rate, key, keylen, uv_now(&g->loop));
    if (wait > 0) {
        respond_error(r, 429,
                      "too many requests with this credential; retry later", "",
                      wait);
        return;
    }
    if (sg__client_call(&g->client, &m, on_reply, r, &r->call) != 0) {
        respond_error(r, 503, "the matcher is unavailable", "", 0);
        return;
    }
    /* The message holds the body now. */
    sg_buf_free(&r->body);
}

/* ---- llhttp callbacks. ---- */

static sg__hreq *cur_of(llhttp_t *p)
{
    sg__conn *c = p->data;

    return c->state == SG__C_OPEN ? c->cur : NULL;
}

/* count adds header bytes and refuses them past max_header. */
static int count(sg__conn *c, sg__hreq *r, size_t n)
{
    c->hdr_bytes += n;
    if (c->hdr_bytes > c->g->o.max_header) {
        hreq_error(r, 431, "", "the request line and headers exceed %zu bytes",
                   c->g->o.max_header);
        return -1;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    sg__conn *c = p->data;

    if (c->state != SG__C_OPEN || c->no_more) {
        return -1;
    }
    c->cur = hreq_new(c);
    c->hdr_bytes = 0;
    c->hflen = 0;
    c->hval.len = 0;
    c->hval_long = false;
    timer_set(c, SG__T_REQUEST);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    sg__hreq *r = cur_of(p);

    if (r == NULL || count(p->data, r, n) != 0) {
        return -1;
    }
    sg_buf_append(&r->url, at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    sg__conn *c = p->data;
    sg__hreq *r = cur_of(p);

    if (r == NULL || count(c, r, n) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++, c->hflen++) {
        if (c->hflen < sizeof c->hfield - 1) {
            char ch = at[i];
            c->hfield[c->hflen] = (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch;
        }
    }
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    sg__conn *c = p->data;
    sg__hreq *r = cur_of(p);

    if (r == NULL || count(c, r, n) != 0) {
        return -1;
    }
    /* Values we use are short; a long one is only counted. */
    if (!c->hval_long && c->hval.len + n <= 2048) {
        sg_buf_append(&c->hval, at, n);
    } else {
        c->hval_long = true;
    }
    return 0;
}

static bool field_is(const sg__conn *c, const char *name)
{
    size_t n = strlen(name);

    return c->hflen == n && memcmp(c->hfield, name, n) == 0;
}

/* media_is tells whether the media type of v (before ';') is one of the
 * '|'-separated names in list. */
static bool media_is(const char *v, size_t n, const char *list)
{
    size_t i = 0, j;

    while (i < n && (v[i] == ' ' || v[i] == '\t')) {
        i++;
    }
    j = i;
    while (j < n && v[j] != ';' && v[j] != ' ' && v[j] != '\t') {
        j++;
    }
    while (*list != '\0') {
        const char *bar = strchr(list, '|');
        size_t ln = bar ? (size_t)(bar - list) : strlen(list);
        if (ln == j - i && strncasecmp(v + i, list, ln) == 0) {
            return true;
        }
        list += ln + (bar ? 1 : 0);
    }
    return false;
}

static bool contains_ci(const char *v, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++) {
        if (strncasecmp(v + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

static int on_header_value_complete(llhttp_t *p)
{
    sg__conn *c = p->data;
    sg__hreq *r = cur_of(p);
    const char *v = (const char *)c->hval.data;
    size_t n = c->hval.len;
    bool long_value = c->hval_long;

    if (r == NULL) {
        return -1;
    }
    if (v == NULL) {
        v = "";
    }
    if (field_is(c, "authorization")) {
        if (long_value || (n > 7 && strncasecmp(v, "bearer ", 7) == 0 &&
                           !sg__bearer(v, n, r->cred, sizeof r->cred))) {
            hreq_error(r, 400, "authorization",
                       "the credential is longer than %d bytes",
                       SG_MSG_CRED_MAX);
        } else if (!long_value) {
            sg__bearer(v, n, r->cred, sizeof r->cred);
        }
    } else if (field_is(c, "content-type") && !long_value) {
        if (media_is(v, n, "application/json")) {
            r->ctype = SG_FMT_JSON;
        } else if (media_is(v, n,
                            "application/msgpack|application/x-msgpack|"
                            "application/vnd.msgpack")) {
            r->ctype = SG_FMT_MSGPACK;
        } else if (media_is(v, n,
                            "application/x-ndjson|application/ndjson|"
                            "application/jsonl")) {
            r->ctype = SG_FMT_NDJSON;
        } else {
            r->bad_ctype = true;
        }
    } else if (field_is(c, "accept") && !long_value) {
        if (contains_ci(v, n, "application/msgpack") ||
            contains_ci(v, n, "application/x-msgpack")) {
            r->accept = SG_FMT_MSGPACK;
        }
    } else if (field_is(c, "last-event-id") && !long_value) {
        uint64_t id = 0;
        size_t i = 0;
        while (i < n && v[i] == ' ') {
            i++;
        }
        for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
            if (id > (uint64_t)INT64_MAX / 10) {
                id = 0;
                break;
            }
            id = id * 10 + (uint64_t)(v[i] - '0');
        }
        r->leid = id <= (uint64_t)INT64_MAX ? id : 0;
    } else if (field_is(c, "host")) {
        if (long_value || n >= sizeof r->host || !sg__printable(v, n)) {
            hreq_error(r, 400, "host",
                       "not a host name (printable ASCII, at most 255 "
                       "bytes)");
        } else {
            memcpy(r->host, v, n);
            r->host[n] = '\0';
        }
    } else if (field_is(c, "expect") && !long_value) {
        r->expect_continue = contains_ci(v, n, "100-continue");
    }
    c->hflen = 0;
    c->hval.len = 0;
    c->hval_long = false;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    sg__conn *c = p->data;
    sg__hreq *r = cur_of(p);
    const sg_gateway_opts *o = &c->g->o;
    size_t plen;

    if (r == NULL) {
        return -1;
    }
    r->method = llhttp_get_method(p);
    r->method_known = true;
    r->http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0;
    plen = sg__path_len((const char *)r->url.data, r->url.len);
    /* The label is the path's, whatever the method (a PATCH to /v1/jobs
     * counts under "/v1/jobs"); the route id is the method's. */
    r->route_id = sg_route_match(
        llhttp_method_name(r->method), (const char *)r->url.data, plen,
        SG_ROUTE_API | SG_ROUTE_GATEWAY, &r->route, NULL, 0);
    r->body_max =
        route_has(r, SG_ROUTE_BULK) ? o->max_import_body : o->max_body;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->body_max) {
        hreq_error(r, 413, "", "the body is longer than %zu bytes",
                   r->body_max);
        return -1;
    }
    /* Let a waiting client send its body -- only when nothing answered
     * earlier is still to be written, so responses stay in order. */
    if (r->expect_continue && c->head == r && r->err_status == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        sg_buf b;
        sg_buf_init(&b);
        sg_buf_append(&b, cont, sizeof cont - 1);
        conn_write(c, &b);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    sg__hreq *r = cur_of(p);

    if (r == NULL) {
        return -1;
    }
    if (r->body.len + n > r->body_max) {
        hreq_error(r, 413, "", "the body is longer than %zu bytes",
                   r->body_max);
        return -1;
    }
    sg_buf_append(&r->body, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    sg__conn *c = p->data;
    sg__hreq *r = cur_of(p);

    if (r == NULL) {
        return HPE_PAUSED;
    }
    c->cur = NULL;
    timer_set(c, SG__T_NONE);
    r->keep_alive = llhttp_should_keep_alive(p);
    if (!r->keep_alive) {
        r->close_after = true;
        c->no_more = true;
    }
    r->state = SG__HR_WAITING;
    dispatch(r);
    if (c->state != SG__C_OPEN || c->no_more || c->nreq >= SG__PIPELINE_MAX) {
        return HPE_PAUSED;
    }
    return 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* conn_feed parses bytes; a pause keeps the rest in the stash. */
static void conn_feed(sg__conn *c, const char *p, size_t n)
{
    enum llhttp_errno err;
    sg__hreq *r;

    c->in_parse = true;
    err = llhttp_execute(&c->parser, p, n);
    c->in_parse = false;
    if (c->state != SG__C_OPEN) {
        return;
    }
    switch (err) {
    case HPE_OK:
        return;
    case HPE_PAUSED: {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos != NULL ? (size_t)(pos - p) : n;
        if (c->no_more) {
            read_stop(c);
            return;
        }
        sg_buf_append(&c->stash, p + used, n - used);
        c->paused = true;
        read_stop(c);
        return;
    }
    case HPE_PAUSED_UPGRADE:
        c->no_more = true; /* no protocol switch here */
        read_stop(c);
        return;
    default:
        break;
    }

    /* Malformed or over a limit: answer in turn, then close. */
    r = c->cur;
    c->cur = NULL;
    c->no_more = true;
    read_stop(c);
    timer_set(c, SG__T_NONE);
    if (r == NULL) {
        if (c->head == NULL) {
            conn_close(c);
        }
        return;
    }
    if (r->err_status == 0) {
        hreq_error(r, 400, "", "malformed HTTP request: %s",
                   llhttp_get_error_reason(&c->parser)
                       ? llhttp_get_error_reason(&c->parser)
                       : llhttp_errno_name(err));
    }
    r->close_after = true;
    r->state = SG__HR_WAITING;
    respond_error(r, r->err_status, r->err_msg, r->err_field, 0);
}

/* ---- Accepting. ---- */

static void peer_name(sg__conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;

    snprintf(c->peer, sizeof c->peer, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    sg_gateway *g = server->data;
    sg__conn *c;

    if (status < 0) {
        SG__LOG("accept: %s", uv_strerror(status));
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        abort(); /* out of memory */
    }
    c->g = g;
    sg_buf_init(&c->stash);
    sg_buf_init(&c->hval);
    uv_tcp_init(&g->loop, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(&g->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    c->next = g->conns;
    if (g->conns != NULL) {
        g->conns->prev = c;
    }
    g->conns = c;
    c->rejected = true; /* until counted */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;

    if (g->stopping) {
        conn_close(c);
        return;
    }
    if (g->nconns >= g->o.max_conns) {
        /* Over the limit: one 503 and close. */
        sg__hreq *r = hreq_new(c);
        g->metrics.conns_rejected++;
        r->close_after = true;
        r->state = SG__HR_WAITING;
        c->no_more = true;
        respond_error(r, 503, "too many connections; retry later", "", 1);
        return;
    }
    c->rejected = false;
    g->nconns++;
    read_start(c);
    timer_set(c, SG__T_IDLE);
}

int sg__http_listen(sg_gateway *g)
{
    char host[256];
    const char *colon = strrchr(g->http_addr, ':');
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    size_t hn;
    int rc;

    if (colon == NULL || colon[1] == '\0') {
        SG__LOG("--http wants HOST:PORT, not %s", g->http_addr);
        return SG_EINVAL;
    }
    hn = (size_t)(colon - g->http_addr);
    if (hn >= sizeof host) {
        return SG_EINVAL;
    }
    memcpy(host, g->http_addr, hn);
    host[hn] = '\0';
    if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
        memmove(host, host + 1, hn - 2);
        host[hn - 2] = '\0';
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0 ||
        ai == NULL) {
        SG__LOG("cannot resolve %s", g->http_addr);
        return SG_EINVAL;
    }
    uv_tcp_init(&g->loop, &g->listener);
    g->listener.data = g;
    g->listening = true;
    rc = uv_tcp_bind(&g->listener, ai->ai_addr, 0);
    freeaddrinfo(ai);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&g->listener, 511, on_connection);
    }
    if (rc != 0) {
        SG__LOG("cannot listen on %s: %s", g->http_addr, uv_strerror(rc));
        return sg__err_uv(rc);
    }
    if (uv_tcp_getsockname(&g->listener, (struct sockaddr *)&ss, &len) == 0) {
        g->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
}

void sg__http_stop(sg_gateway *g)
{
    for (sg__conn *c = g->conns; c != NULL; c = c->next) {
        if (c->state != SG__C_OPEN) {
            continue;
        }
        if (c->stream != NULL) {
            conn_shutdown(c); /* the stream ends; the client reconnects */
            continue;
        }
        drop_partial(c);
        sg_buf_free(&c->stash);
        c->paused = false;
        sg__conn_end(c);
    }
}

void sg__http_kill(sg_gateway *g)
{
    for (sg__conn *c = g->conns; c != NULL; c = c->next) {
        conn_close(c);
    }
}
