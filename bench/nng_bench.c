/* bench/nng_bench.c -- the NNG request/reply hop alone, as the gateway
 * uses it: a REP server echoing a 3 KB reply to 200-byte requests over
 * tcp://127.0.0.1, and a REQ client with 1, 16, 64 and 256 contexts in
 * flight (resend timer off, as in the gateway).  Prints round trips per
 * second and p50/p99 per context count, so the gateway's bounded context
 * pool can be sized from a measurement.  Not a test. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQ_SIZE 200
#define REP_SIZE 3000
#define SERVER_CTX 64

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- Server: SERVER_CTX contexts, each receive -> reply -> receive. ---- */

typedef struct srv_ctx {
    nng_ctx ctx; /* its context */
    nng_aio *aio; /* its aio */
    int sending;  /* 1 while a reply is in flight */
} srv_ctx;

static void srv_cb(void *arg)
{
    srv_ctx *c = arg;
    if (nng_aio_result(c->aio) != 0) {
        if (c->sending) {
            nng_msg_free(nng_aio_get_msg(c->aio));
        }
        return; /* closed */
    }
    if (c->sending) {
        c->sending = 0;
        nng_ctx_recv(c->ctx, c->aio);
        return;
    }
    nng_msg *m = nng_aio_get_msg(c->aio);
    nng_msg_clear(m);
    nng_msg_realloc(m, REP_SIZE);
    memset(nng_msg_body(m), 'r', REP_SIZE);
    c->sending = 1;
    nng_aio_set_msg(c->aio, m);
    nng_ctx_send(c->ctx, c->aio);
}

/* ---- Client: n contexts each looping request -> reply. ---- */

typedef struct cli_ctx {
    nng_ctx ctx;      /* its context */
    nng_aio *aio;     /* its aio */
    int sending;      /* request in flight (send phase) */
    double t0;        /* when the request left */
    struct run *run;  /* shared counters */
} cli_ctx;

typedef struct run {
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;  /* signalled when done */
    long left;          /* requests still to start */
    long done;          /* replies received */
    long total;         /* requests wanted */
    double *lat;        /* latency of each, µs */
} run;

static void cli_start(cli_ctx *c)
{
    nng_msg *m;
    nng_msg_alloc(&m, REQ_SIZE);
    memset(nng_msg_body(m), 'q', REQ_SIZE);
    c->sending = 1;
    c->t0 = now_us();
    nng_aio_set_msg(c->aio, m);
    nng_ctx_send(c->ctx, c->aio);
}

static void cli_cb(void *arg)
{
    cli_ctx *c = arg;
    run *r = c->run;
    if (nng_aio_result(c->aio) != 0) {
        if (c->sending) {
            nng_msg_free(nng_aio_get_msg(c->aio));
        }
        return;
    }
    if (c->sending) {
        c->sending = 0;
        nng_ctx_recv(c->ctx, c->aio);
        return;
    }
    nng_msg_free(nng_aio_get_msg(c->aio));
    double lat = now_us() - c->t0;
    pthread_mutex_lock(&r->mu);
    r->lat[r->done++] = lat;
    int again = r->left > 0;
    if (again) {
        r->left--;
    }
    if (r->done == r->total) {
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (again) {
        cli_start(c);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *url, int nctx, long total)
{
    nng_socket s;
    nng_req0_open(&s);
    nng_setopt_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_dial(s, url, NULL, 0);
    run r = {.total = total, .left = total};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.lat = malloc((size_t)total * sizeof(double));
    cli_ctx *cs = calloc((size_t)nctx, sizeof(cli_ctx));
    for (int i = 0; i < nctx; i++) {
        nng_ctx_open(&cs[i].ctx, s);
        nng_aio_alloc(&cs[i].aio, cli_cb, &cs[i]);
        cs[i].run = &r;
    }
    double t0 = now_us();
    pthread_mutex_lock(&r.mu);
    int start = (int)(nctx < total ? nctx : total);
    r.left -= start;
    pthread_mutex_unlock(&r.mu);
    for (int i = 0; i < start; i++) {
        cli_start(&cs[i]);
    }
    pthread_mutex_lock(&r.mu);
    while (r.done < r.total) {
        pthread_cond_wait(&r.cv, &r.mu);
    }
    pthread_mutex_unlock(&r.mu);
    double secs = (now_us() - t0) / 1e6;
    qsort(r.lat, (size_t)total, sizeof(double), cmp_d);
    printf("| %d | %ld | %.0f | %.0f | %.0f |\n", nctx, total, total / secs,
           r.lat[total / 2], r.lat[(long)(total * 0.99)]);
    for (int i = 0; i < nctx; i++) {
        nng_aio_stop(cs[i].aio);
        nng_aio_free(cs[i].aio);
        nng_ctx_close(cs[i].ctx);
    }
    nng_close(s);
    free(cs);
    free(r.lat);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://127.0.0.1:17999";
    nng_socket rep;
    if (nng_rep0_open(&rep) != 0 || nng_listen(rep, url, NULL, 0) != 0) {
        fprintf(stderr, "nng_bench: cannot listen on %s\n", url);
        return 1;
    }
    srv_ctx sc[SERVER_CTX];
    for (int i = 0; i < SERVER_CTX; i++) {
        sc[i].sending = 0;
        nng_ctx_open(&sc[i].ctx, rep);
        nng_aio_alloc(&sc[i].aio, srv_cb, &sc[i]);
        nng_ctx_recv(sc[i].ctx, sc[i].aio);
    }
    printf("| contexts | round trips | per second | p50 µs | p99 µs |\n");
    printf("|---|---|---|---|---|\n");
    static const int counts[] = {1, 16, 64, 256};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        measure(url, counts[i], counts[i] == 1 ? 20000 : 100000);
    }
    for (int i = 0; i < SERVER_CTX; i++) {
        nng_aio_stop(sc[i].aio);
        nng_aio_free(sc[i].aio);
        nng_ctx_close(sc[i].ctx);
    }
    nng_close(rep);
    return 0;
}
