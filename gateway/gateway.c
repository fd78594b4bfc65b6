/* gateway/gateway.c -- the gateway object: options, open, run, and the
 * graceful stop.  SIGTERM or SIGINT (uv_signal, so the handler is just an
 * event on the loop) closes the listener and the SSE machinery, stops
 * reading requests, and lets every connection finish what it has in
 * flight -- its matcher replies, or their timeouts -- before it closes;
 * when the last connection is gone the NNG client and the signal handles
 * close and uv_run returns.  Also the one place that translates libuv's
 * error codes (NNG's are proto's: sg__err_nng in proto/shared.h).  Loop
 * thread only (open and close run before and after the loop, on whichever
 * thread calls them). */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "songgang/msg.h" /* sg_pub_url */

void sg__log(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "songgang-gateway: %s:%d: %s\n", file, line, msg);
}

int sg__err_uv(int uvrc)
{
    switch (uvrc) {
    case 0:
        return 0;
    case UV_EADDRINUSE:
    case UV_EBUSY:
        return SG_EBUSY;
    case UV_EINVAL:
    case UV_EADDRNOTAVAIL:
    case UV_EAI_NONAME:
        return SG_EINVAL;
    default:
        return SG_EIO;
    }
}

void sg_gateway_opts_default(sg_gateway_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_conns = 1024;
    o->max_header = 16u << 10;
    o->max_body = 1u << 20;
    o->max_import_body = SG_MSG_BODY_MAX;
    o->request_timeout_ms = 30000;
    o->idle_timeout_ms = 60000;
    o->matcher_timeout_ms = 5000;
    o->rate_per_s = 100;
    o->rate_burst = 200;
    o->contexts = 64;
    o->heartbeat_ms = 15000;
    o->cache_mb = 64;
    o->version_poll_ms = 50;
}

/* ---- Stopping. ---- */

static void signal_cb(uv_signal_t *h, int signum)
{
    (void)signum;
    sg__gateway_stop(h->data);
}

static void drain_timer_cb(uv_timer_t *t);

/* finish closes what outlives the connections, once they are gone.  The
 * NNG socket closes only once no call is on the wire: a close that races
 * an operation in flight can hang inside NNG 1.5 (its issue 1543).  Calls
 * still out then have nobody waiting for them (the version poll, an
 * events poll, a request whose client left), so they are aborted, and the
 * socket closes as soon as their callbacks have run. */
static void finish(sg_gateway *g)
{
    if (g->finished) {
        return;
    }
    if (g->client_ok && sg__client_busy(&g->client)) {
        sg__client_abort(&g->client);
        if (!uv_is_active((uv_handle_t *)&g->drain_timer)) {
            uv_timer_start(&g->drain_timer, drain_timer_cb, 5, 5);
        }
        return;
    }
    g->finished = true;
    if (g->client_ok) {
        sg__client_fini(&g->client);
        g->client_ok = false;
    }
    uv_close((uv_handle_t *)&g->sigterm, NULL);
    uv_close((uv_handle_t *)&g->sigint, NULL);
    uv_close((uv_handle_t *)&g->stop_timer, NULL);
    uv_close((uv_handle_t *)&g->drain_timer, NULL);
}

static void drain_timer_cb(uv_timer_t *t)
{
    finish(t->data);
}

static void stop_timer_cb(uv_timer_t *t)
{
    sg_gateway *g = t->data;
    int n = 0;

    for (sg__conn *c = g->conns; c != NULL; c = c->next) {
        n++;
    }
    SG__LOG("stopping: closing %d connection(s) still busy", n);
    sg__http_kill(g);
}

void sg__gateway_stop(sg_gateway *g)
{
    if (g->stopping) {
        return;
    }
    g->stopping = true;
    if (g->listening) {
        uv_close((uv_handle_t *)&g->listener, NULL);
        g->listening = false;
    }
    if (g->events_ok) {
        sg__events_stop(&g->events);
        g->events_ok = false;
    }
    sg__cache_stop(&g->cache);
    sg__http_stop(g);
    if (g->conns == NULL) {
        finish(g);
        return;
    }
    /* In-flight requests end within two reply timeouts (a wait for a
     * context, then the reply); past that, only clients that do not read
     * remain, and they may not hold the process. */
    uv_timer_start(&g->stop_timer, stop_timer_cb,
                   2 * (uint64_t)g->o.matcher_timeout_ms + SG__STOP_GRACE_MS,
                   0);
}

void sg__gateway_conn_gone(sg_gateway *g)
{
    if (g->stopping && g->conns == NULL) {
        finish(g);
    }
}

/* ---- The public API. ---- */

static char *dup_str(const char *s)
{
    char *d = strdup(s);

    if (d == NULL) {
        abort(); /* out of memory */
    }
    return d;
}

int sg_gateway_open(sg_gateway **out, const sg_gateway_opts *o)
{
    sg_gateway *g;
    char pub[1024];
    int rc;

    if (out == NULL || o == NULL || o->matcher == NULL || o->http == NULL ||
        o->max_conns <= 0 || o->max_header == 0 || o->request_timeout_ms <= 0 ||
        o->idle_timeout_ms <= 0 || o->matcher_timeout_ms <= 0 ||
        o->contexts <= 0 || o->cache_mb < 0 ||
        (o->cache_mb > 0 && o->version_poll_ms <= 0)) {
        return SG_EINVAL;
    }
    if (o->pub != NULL) {
        snprintf(pub, sizeof pub, "%s", o->pub);
    } else if ((rc = sg_pub_url(o->matcher, pub, sizeof pub)) != 0) {
        SG__LOG("cannot derive the PUB URL from %s; give it", o->matcher);
        return rc;
    }

    /* A peer that closes early must not kill the process with SIGPIPE:
     * libuv reports EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);

    g = calloc(1, sizeof *g);
    if (g == NULL) {
        abort(); /* out of memory */
    }
    g->o = *o;
    g->matcher_url = dup_str(o->matcher);
    g->http_addr = dup_str(o->http);
    g->pub_url = dup_str(pub);
    g->o.matcher = g->matcher_url;
    g->o.http = g->http_addr;
    g->o.pub = g->pub_url;
    if (g->o.max_body > SG_MSG_BODY_MAX) {
        g->o.max_body = SG_MSG_BODY_MAX;
    }
    if (g->o.max_import_body > SG_MSG_BODY_MAX) {
        g->o.max_import_body = SG_MSG_BODY_MAX;
    }
    if ((rc = uv_loop_init(&g->loop)) != 0) {
        SG__LOG("uv_loop_init: %s", uv_strerror(rc));
        free(g->matcher_url);
        free(g->http_addr);
        free(g->pub_url);
        free(g);
        return sg__err_uv(rc);
    }
    sg__rate_init(&g->rate, g->o.rate_per_s, g->o.rate_burst);
    uv_signal_init(&g->loop, &g->sigterm);
    g->sigterm.data = g;
    uv_signal_init(&g->loop, &g->sigint);
    g->sigint.data = g;
    uv_timer_init(&g->loop, &g->stop_timer);
    g->stop_timer.data = g;
    uv_timer_init(&g->loop, &g->drain_timer);
    g->drain_timer.data = g;
    sg__cache_init(&g->cache, g, &g->loop, g->o.cache_mb,
                   g->o.version_poll_ms);

    /* From here on, a failure unwinds through sg_gateway_close. */
    g->client_ok = true;
    rc = sg__client_init(&g->client, g, &g->loop, g->matcher_url, g->o.contexts,
                         g->o.matcher_timeout_ms);
    if (rc == 0) {
        g->events_ok = true;
        rc = sg__events_init(&g->events, g, &g->loop, g->pub_url);
    }
    if (rc == 0) {
        rc = sg__http_listen(g);
    }
    if (rc == 0) {
        uv_signal_start(&g->sigterm, signal_cb, SIGTERM);
        uv_signal_start(&g->sigint, signal_cb, SIGINT);
        sg__cache_start(&g->cache);
    }
    if (rc != 0) {
        sg_gateway_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int sg_gateway_run(sg_gateway *g)
{
    if (g == NULL) {
        return SG_EINVAL;
    }
    uv_run(&g->loop, UV_RUN_DEFAULT);
    return 0;
}

int sg_gateway_port(const sg_gateway *g)
{
    return g != NULL ? g->port : 0;
}

void sg_gateway_close(sg_gateway *g)
{
    int rc;

    if (g == NULL) {
        return;
    }
    /* Not run, or run and stopped: either way stop and let every close
     * callback run before the loop is closed. */
    sg__gateway_stop(g);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&g->loop);
    if (rc != 0) {
        SG__LOG("uv_loop_close: %s (a handle is still open)", uv_strerror(rc));
        assert(rc == 0);
    }
    sg__rate_fini(&g->rate);
    sg__cache_fini(&g->cache);
    free(g->matcher_url);
    free(g->http_addr);
    free(g->pub_url);
    free(g);
}
