/* cmd/serve.c -- `songgang serve`: the matcher and the gateway in one
 * process, joined by NNG inproc:// sockets: the embedded default.  The
 * service runs on its own threads (songgang/service.h); the gateway's
 * libuv loop runs on the calling thread until SIGTERM or SIGINT, then
 * everything shuts down in order: gateway (finishes in-flight requests),
 * service (answers and commits what is queued), API, store.  It knows the
 * gateway only through its opaque public header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "songgang/api.h"
#include "songgang/gateway.h"
#include "songgang/service.h"
#include "songgang/store.h"

#include "serve.h"

int sg__serve(const sg_serve_opts *so)
{
    sg_store *s = NULL;
    sg_api *api = NULL;
    sg_service *sv = NULL;
    sg_gateway *g = NULL;
    char url[64];
    /* A per-process name, so that two servers in one test never meet. */
    snprintf(url, sizeof(url), "inproc://songgang-%ld", (long)getpid());

    int rc = sg_store_open(&s, so->db, 0);
    if (rc != 0) {
        fprintf(stderr, "songgang: %s: cannot open the store: %s\n", so->db,
                sg_strerror(rc));
        return 1;
    }
    sg_api_opts ao = {.push_top = so->push_top, .w = so->weights};
    if ((rc = sg_api_open(&api, s, &ao)) != 0) {
        fprintf(stderr, "songgang: api: %s\n", sg_strerror(rc));
        goto out_close_store;
    }
    sg_service_opts svo = {.listen = url};
    if ((rc = sg_service_open(&sv, s, api, &svo)) != 0) {
        fprintf(stderr, "songgang: matcher service: %s\n", sg_strerror(rc));
        goto out_close_api;
    }
    sg_gateway_opts go;
    sg_gateway_opts_default(&go);
    go.matcher = url;
    go.http = so->http;
    if (so->rate_per_s > 0) {
        go.rate_per_s = so->rate_per_s;
        go.rate_burst = 2 * so->rate_per_s;
    }
    if (so->request_timeout_ms > 0) {
        go.request_timeout_ms = so->request_timeout_ms;
    }
    if (so->max_conns > 0) {
        go.max_conns = so->max_conns;
    }
    if (so->cache_mb != 0) {
        go.cache_mb = so->cache_mb > 0 ? so->cache_mb : 0;
    }
    if (so->version_poll_ms > 0) {
        go.version_poll_ms = so->version_poll_ms;
    }
    go.quiet = so->quiet;
    if ((rc = sg_gateway_open(&g, &go)) != 0) {
        fprintf(stderr, "songgang: cannot listen on %s: %s\n", so->http,
                sg_strerror(rc));
        goto out_close_service;
    }
    fprintf(stderr, "songgang: serving %s on http://%s (matcher %s)\n",
            so->db, so->http, url);
    rc = sg_gateway_run(g);
    sg_gateway_close(g);
out_close_service:
    sg_service_close(sv);
out_close_api:
    sg_api_close(api);
out_close_store:
    sg_store_close(s);
    return rc == 0 ? 0 : 1;
}
