/* bench/nng_hop.c -- the NNG request/reply hop alone, without the store.
 * An echo REP server with K contexts (each an aio that replies from its
 * own callback, as matcher/service.c receives) answers C client contexts
 * each doing N round trips of a B-byte message, over inproc:// and
 * tcp://127.0.0.1.  It prints round trips per second and latency
 * percentiles, so that the service's bounded contexts and the gateway's
 * context count are chosen from numbers.  Measures, never asserts; not
 * part of `make test`.
 * usage: nng_hop [N per client] [B bytes] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

typedef struct echo_ctx {
    nng_ctx ctx;  /* REP context */
    nng_aio *aio; /* its aio */
    bool sending; /* the aio carries a reply */
} echo_ctx;

static void echo_cb(void *arg)
{
    echo_ctx *e = arg;
    int rv = nng_aio_result(e->aio);

    if (e->sending) {
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(e->aio));
        }
        e->sending = false;
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    if (rv != 0) {
        return; /* closed */
    }
    e->sending = true;
    nng_ctx_send(e->ctx, e->aio); /* the request's message, back */
}

typedef struct client {
    nng_socket sock; /* shared REQ socket */
    int n;           /* round trips */
    size_t bytes;    /* message size */
    double *lat;     /* [n] seconds */
} client;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *client_main(void *arg)
{
    client *c = arg;
    nng_ctx ctx;
    nng_aio *aio;

    if (nng_ctx_open(&ctx, c->sock) != 0 ||
        nng_aio_alloc(&aio, NULL, NULL) != 0) {
        abort();
    }
    for (int i = 0; i < c->n; i++) {
        nng_msg *m;
        double t0 = now();

        if (nng_msg_alloc(&m, c->bytes) != 0) {
            abort();
        }
        memset(nng_msg_body(m), 'x', c->bytes);
        nng_aio_set_msg(aio, m);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            abort();
        }
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            abort();
        }
        nng_msg_free(nng_aio_get_msg(aio));
        c->lat[i] = now() - t0;
    }
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void run(const char *url, int k, int nc, int n, size_t bytes)
{
    nng_socket rep, req;
    echo_ctx *e = calloc((size_t)k, sizeof *e);
    client *c = calloc((size_t)nc, sizeof *c);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    double *all = calloc((size_t)nc * (size_t)n, sizeof *all);
    double t0, t;

    if (nng_rep0_open(&rep) != 0 || nng_listen(rep, url, NULL, 0) != 0) {
        fprintf(stderr, "cannot listen on %s\n", url);
        exit(1);
    }
    for (int i = 0; i < k; i++) {
        if (nng_ctx_open(&e[i].ctx, rep) != 0 ||
            nng_aio_alloc(&e[i].aio, echo_cb, &e[i]) != 0) {
            abort();
        }
        nng_ctx_recv(e[i].ctx, e[i].aio);
    }
    if (nng_req0_open(&req) != 0 ||
        nng_socket_set_ms(req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) !=
            0 ||
        nng_dial(req, url, NULL, 0) != 0) {
        abort();
    }
    t0 = now();
    for (int i = 0; i < nc; i++) {
        c[i].sock = req;
        c[i].n = n;
        c[i].bytes = bytes;
        c[i].lat = all + (size_t)i * (size_t)n;
        pthread_create(&th[i], NULL, client_main, &c[i]);
    }
    for (int i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
    }
    t = now() - t0;
    qsort(all, (size_t)nc * (size_t)n, sizeof *all, cmp);
    printf("| %-22s | %4d | %4d | %9.0f | %7.1f | %7.1f | %7.1f |\n", url, k,
           nc, (double)nc * n / t, all[(size_t)nc * n / 2] * 1e6,
           all[(size_t)nc * n * 99 / 100] * 1e6, all[(size_t)nc * n - 1] * 1e6);
    fflush(stdout);
    nng_close(req);
    for (int i = 0; i < k; i++) {
        nng_aio_stop(e[i].aio);
    }
    nng_close(rep);
    for (int i = 0; i < k; i++) {
        nng_aio_free(e[i].aio);
    }
    free(e);
    free(c);
    free(th);
    free(all);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    size_t bytes = argc > 2 ? (size_t)atol(argv[2]) : 512;
    static const int ks[] = {16, 64, 256};
    static const int cs[] = {1, 8, 64, 256};
    int port = 27000 + (int)(now() * 1000) % 2000;

    printf("NNG %s, %d round trips per client, %zu-byte messages\n\n",
           nng_version(), n, bytes);
    printf("| url | REP ctx | clients | trips/s | p50 us | p99 us | max "
           "us |\n|---|---|---|---|---|---|---|\n");
    for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++) {
        for (size_t b = 0; b < sizeof cs / sizeof cs[0]; b++) {
            char url[64];
            int rounds = cs[b] >= 64 ? n / 4 : n;

            snprintf(url, sizeof url, "inproc://hop-%zu-%zu", a, b);
            run(url, ks[a], cs[b], rounds, bytes);
            snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port++);
            run(url, ks[a], cs[b], rounds, bytes);
        }
    }
    nng_fini();
    return 0;
}
