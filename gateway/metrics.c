/* gateway/metrics.c -- counters and histograms for GET /metrics in the
 * Prometheus text format: requests by route pattern (ids replaced, so the
 * label set stays small and never holds a worker id or a token) and
 * status, request durations, matcher round trips, open SSE streams, the
 * reply cache and the LMDB size that the matcher reports to SG /stats.
 * Plain counters: only the loop thread writes or reads them. */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const double bounds[SG__HIST_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0,
};

const char *sg__route_name(int route)
{
    const sg_route *rt = sg_route_get(route);

    return rt != NULL ? rt->pattern : "other";
}

static void observe(sg__hist *h, double secs)
{
    for (int i = 0; i < SG__HIST_BUCKETS; i++) {
        if (secs <= bounds[i]) {
            h->n[i]++;
        }
    }
    h->count++;
    h->sum += secs;
}

void sg__metrics_request(sg__metrics *m, int route, int status, double secs)
{
    if (route < 0 || route >= SG_ROUTE__COUNT) {
        route = SG_ROUTE_NONE;
    }
    if (status < 100 || status > 599) {
        status = 500;
    }
    m->req[route][status]++;
    observe(&m->dur[route], secs);
}

void sg__metrics_rtt(sg__metrics *m, double secs)
{
    observe(&m->rtt, secs);
}

int sg__metrics_stats(sg__metrics *m, const uint8_t *body, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)body, len, 0, &je);
    json_t *v = root ? json_object_get(root, "lmdb_bytes") : NULL;
    int rc = SG_EINVAL;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        m->lmdb_bytes = (uint64_t)json_integer_value(v);
        m->have_lmdb = true;
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* printf_buf appends formatted text to out. */
static void printf_buf(sg_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void printf_buf(sg_buf *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sg_buf_append(out, line,
                      (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

static void render_hist(sg_buf *out, const char *name, const char *labels,
                        const sg__hist *h)
{
    const char *sep = labels[0] != '\0' ? "," : "";

    for (int i = 0; i < SG__HIST_BUCKETS; i++) {
        printf_buf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels,
                   sep, bounds[i], h->n[i]);
    }
    printf_buf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
               sep, h->count);
    if (labels[0] != '\0') {
        printf_buf(out, "%s_sum{%s} %.6f\n", name, labels, h->sum);
        printf_buf(out, "%s_count{%s} %" PRIu64 "\n", name, labels, h->count);
    } else {
        printf_buf(out, "%s_sum %.6f\n", name, h->sum);
        printf_buf(out, "%s_count %" PRIu64 "\n", name, h->count);
    }
}

void sg__metrics_render(sg_gateway *g, sg_buf *out)
{
    const sg__metrics *m = &g->metrics;
    char labels[96];

    printf_buf(out, "# HELP songgang_http_requests_total HTTP requests "
                    "answered, by route and status.\n"
                    "# TYPE songgang_http_requests_total counter\n");
    for (int r = 0; r < SG_ROUTE__COUNT; r++) {
        for (int s = 100; s < 600; s++) {
            if (m->req[r][s] != 0) {
                printf_buf(out,
                           "songgang_http_requests_total{route=\"%s\","
                           "status=\"%d\"} %" PRIu64 "\n",
                           sg__route_name(r), s, m->req[r][s]);
            }
        }
    }
    printf_buf(out, "# HELP songgang_http_request_duration_seconds From a "
                    "request's first byte to its answer.\n"
                    "# TYPE songgang_http_request_duration_seconds "
                    "histogram\n");
    for (int r = 0; r < SG_ROUTE__COUNT; r++) {
        if (m->dur[r].count != 0) {
            snprintf(labels, sizeof labels, "route=\"%s\"", sg__route_name(r));
            render_hist(out, "songgang_http_request_duration_seconds", labels,
                        &m->dur[r]);
        }
    }
    printf_buf(out, "# HELP songgang_matcher_rtt_seconds Request message "
                    "sent to reply received.\n"
                    "# TYPE songgang_matcher_rtt_seconds histogram\n");
    render_hist(out, "songgang_matcher_rtt_seconds", "", &m->rtt);
    printf_buf(out,
               "# HELP songgang_sse_streams Open Server-Sent Events "
               "streams.\n# TYPE songgang_sse_streams gauge\n"
               "songgang_sse_streams %zu\n",
               g->events.nstreams);
    printf_buf(out,
               "# HELP songgang_sse_streams_dropped_total Streams ended "
               "because the client read too slowly.\n"
               "# TYPE songgang_sse_streams_dropped_total counter\n"
               "songgang_sse_streams_dropped_total %" PRIu64 "\n",
               m->streams_dropped);
    printf_buf(out,
               "# HELP songgang_http_connections Open client "
               "connections.\n# TYPE songgang_http_connections gauge\n"
               "songgang_http_connections %d\n",
               g->nconns);
    printf_buf(out,
               "# HELP songgang_http_connections_rejected_total "
               "Connections answered 503 over max_conns.\n"
               "# TYPE songgang_http_connections_rejected_total counter\n"
               "songgang_http_connections_rejected_total %" PRIu64 "\n",
               m->conns_rejected);
    printf_buf(out,
               "# HELP songgang_matcher_up Whether a connection to the "
               "matcher is up.\n# TYPE songgang_matcher_up gauge\n"
               "songgang_matcher_up %d\n",
               sg__client_up(&g->client) ? 1 : 0);
    printf_buf(out,
               "# HELP songgang_cache_hits_total Requests answered from the "
               "reply cache.\n# TYPE songgang_cache_hits_total counter\n"
               "songgang_cache_hits_total %" PRIu64 "\n"
               "# HELP songgang_cache_misses_total GET requests the cache "
               "could not answer.\n# TYPE songgang_cache_misses_total "
               "counter\nsonggang_cache_misses_total %" PRIu64 "\n",
               g->cache.hits, g->cache.misses);
    printf_buf(out,
               "# HELP songgang_cache_entries Replies held (some may be of "
               "older data, until evicted).\n"
               "# TYPE songgang_cache_entries gauge\n"
               "songgang_cache_entries %zu\n"
               "# HELP songgang_cache_bytes Bytes the reply cache holds.\n"
               "# TYPE songgang_cache_bytes gauge\n"
               "songgang_cache_bytes %zu\n",
               g->cache.n, g->cache.bytes);
    printf_buf(out,
               "# HELP songgang_data_version The newest data version seen "
               "in a matcher reply.\n# TYPE songgang_data_version gauge\n"
               "songgang_data_version %" PRIu64 "\n",
               g->cache.known);
    if (m->have_lmdb) {
        printf_buf(out,
                   "# HELP songgang_lmdb_bytes Size of the matcher's LMDB "
                   "data, as of the last SG /stats.\n"
                   "# TYPE songgang_lmdb_bytes gauge\n"
                   "songgang_lmdb_bytes %" PRIu64 "\n",
                   m->lmdb_bytes);
    }
}
