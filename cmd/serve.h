/* cmd/serve.h -- `songgang serve`, called by the CLI (cmd/songgang.c). */
#ifndef SG_SERVE_H
#define SG_SERVE_H

#include "songgang/match.h"

typedef struct sg_serve_opts {
    const char *db;          /* data directory */
    const char *http;        /* HOST:PORT */
    int push_top;            /* candidates pushed per job (0 = default) */
    const sg_weights *weights; /* borrowed; NULL = defaults */
    int rate_per_s;          /* per-credential rate (0 = default) */
    int request_timeout_ms;  /* slow-client limit (0 = default) */
    int max_conns;           /* open HTTP connections (0 = default) */
    int quiet;               /* no access log */
    int cache_mb;            /* reply cache MiB (0 = default, < 0 = none) */
    int version_poll_ms;     /* data version poll (0 = default) */
} sg_serve_opts;

/* sg__serve runs the matcher and the gateway in this process until
 * SIGTERM/SIGINT; returns the process exit code (0 after a clean stop). */
int sg__serve(const sg_serve_opts *so);

#endif /* SG_SERVE_H */
