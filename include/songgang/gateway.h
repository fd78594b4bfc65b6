/* include/songgang/gateway.h -- the HTTP gateway: a libuv event loop that
 * speaks HTTP/1.1 (llhttp) to clients and forwards each request to the
 * matcher over NNG (songgang/msg.h), streams push events as Server-Sent
 * Events, enforces limits and serves /healthz and /metrics.  It holds no
 * data of its own, only a bounded cache of replies the matcher marked
 * reusable, each valid for one data version (docs/protocol.md).  Its
 * loop runs on the thread that calls sg_gateway_run; NNG completions
 * reach it through uv_async_send. */
#ifndef SG_GATEWAY_H
#define SG_GATEWAY_H

#include <stddef.h>

#include "songgang/err.h"

typedef struct sg_gateway sg_gateway; /* opaque */

typedef struct sg_gateway_opts {
    const char *matcher;     /* REQ URL of the matcher */
    const char *pub;         /* its PUB URL; NULL = derived */
    const char *http;        /* "HOST:PORT" to listen on */
    int max_conns;           /* open connections (default 1024) -> 503 */
    size_t max_header;       /* header bytes (default 16 KiB) -> 431 */
    size_t max_body;         /* body bytes (default 1 MiB) -> 413 */
    size_t max_import_body;  /* POST /v1/workers:import (default 32 MiB) */
    int request_timeout_ms;  /* whole request (default 30 s) -> 408 */
    int idle_timeout_ms;     /* keep-alive idle (default 60 s) */
    int matcher_timeout_ms;  /* reply wait (default 5 s) -> 503 */
    int rate_per_s;          /* per credential (default 100) -> 429 */
    int rate_burst;          /* bucket size (default 200) */
    int contexts;            /* REQ contexts (default 64) */
    int heartbeat_ms;        /* SSE comment interval (default 15 s) */
    int quiet;               /* no access log on stderr */
    int cache_mb;            /* reply cache, MiB (default 64); 0 = none */
    int version_poll_ms;     /* data version poll (default 50): the
                                longest a write made elsewhere may go
                                unseen by the cache */
} sg_gateway_opts;

/* sg_gateway_opts_default fills o with the defaults above. */
void sg_gateway_opts_default(sg_gateway_opts *o);

/* sg_gateway_open binds the HTTP port and dials the matcher (it need not
 * be up yet: NNG reconnects by itself).  *out returned owned. */
int sg_gateway_open(sg_gateway **out, const sg_gateway_opts *o);
/* sg_gateway_run runs the loop until SIGTERM or SIGINT: then it stops
 * accepting, finishes in-flight requests, closes streams and returns 0. */
int sg_gateway_run(sg_gateway *g);
/* sg_gateway_port returns the bound TCP port (useful with port 0). */
int sg_gateway_port(const sg_gateway *g);
void sg_gateway_close(sg_gateway *g); /* NULL is a no-op */

#endif /* SG_GATEWAY_H */
