/* proto/routes.c -- the table of HTTP routes and its path matcher.
 * One row per (method, pattern): the API's dispatcher, the service's
 * choice of thread and the gateway's metrics labels, body limits and
 * stream handling all read these rows, so a route is declared once.
 * A linear walk: 21 short patterns cost less than any index would.
 * No state; any thread. */
#include <stdbool.h>
#include <string.h>

#include "songgang/routes.h"

#define API SG_ROUTE_API
#define GW SG_ROUTE_GATEWAY
#define SG SG_ROUTE_INTERNAL
#define CACHE SG_ROUTE_CACHE

static const sg_route table[SG_ROUTE__COUNT] = {
    [SG_ROUTE_JOBS_LIST] = {"GET", "/v1/jobs", "jobs_list", API | CACHE},
    [SG_ROUTE_JOB_POST] = {"POST", "/v1/jobs", "job_post", API},
    [SG_ROUTE_JOB_GET] = {"GET", "/v1/jobs/{id}", "job_get", API | CACHE},
    [SG_ROUTE_JOB_PUT] = {"PUT", "/v1/jobs/{id}", "job_put", API},
    [SG_ROUTE_JOB_DELETE] = {"DELETE", "/v1/jobs/{id}", "job_delete", API},
    [SG_ROUTE_JOB_CANDIDATES] = {"GET", "/v1/jobs/{id}/candidates",
                                 "job_candidates", API | CACHE},
    [SG_ROUTE_WORKER_POST] = {"POST", "/v1/workers", "worker_post", API},
    [SG_ROUTE_IMPORT] = {"POST", "/v1/workers:import", "import",
                         API | SG_ROUTE_BULK},
    [SG_ROUTE_WORKER_GET] = {"GET", "/v1/workers/{id}", "worker_get",
                             API | CACHE},
    [SG_ROUTE_WORKER_PUT] = {"PUT", "/v1/workers/{id}", "worker_put", API},
    [SG_ROUTE_WORKER_MATCHES] = {"GET", "/v1/workers/{id}/matches",
                                 "worker_matches", API | CACHE},
    [SG_ROUTE_WORKER_TOKEN] = {"POST", "/v1/workers/{id}/token", "worker_token",
                               API},
    /* A region list walks every worker under the code: seconds, at worst,
     * which must not hold one of NNG's few task threads. */
    [SG_ROUTE_REGION_JOBS] = {"GET", "/v1/regions/{code}/jobs", "region_jobs",
                              API | CACHE | SG_ROUTE_LONG},
    [SG_ROUTE_ME] = {"GET", "/v1/me", "me", API | CACHE},
    [SG_ROUTE_ME_MATCHES] = {"GET", "/v1/me/matches", "me_matches",
                             API | CACHE},
    [SG_ROUTE_EVENTS] = {"GET", "/v1/events", "events", API | SG_ROUTE_STREAM},
    [SG_ROUTE_HEALTHZ] = {"GET", "/healthz", "healthz", GW},
    [SG_ROUTE_METRICS] = {"GET", "/metrics", "metrics", GW},
    [SG_ROUTE_POLL] = {"SG", "/events/poll", "poll", SG},
    [SG_ROUTE_STATS] = {"SG", "/stats", "stats", SG},
    [SG_ROUTE_VERSION] = {"SG", "/version", "version", SG},
};

const sg_route *sg_route_get(int id)
{
    if (id <= SG_ROUTE_NONE || id >= SG_ROUTE__COUNT) {
        return NULL;
    }
    return &table[id];
}

/* pattern_match matches path[0..len) against pat, where a "{...}"
 * segment must be shorter than limit; it copies that segment into arg
 * (limit bytes) when arg is not NULL. */
static bool pattern_match(const char *pat, const char *path, size_t len,
                          size_t limit, char *arg)
{
    const char *end = path + len;

    if (arg != NULL) {
        arg[0] = '\0';
    }
    while (*pat != '\0') {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            const char *seg = path;
            size_t n;
            while (path < end && *path != '/') {
                path++;
            }
            n = (size_t)(path - seg);
            if (n == 0 || n >= limit) {
                return false;
            }
            if (arg != NULL) {
                memcpy(arg, seg, n);
                arg[n] = '\0';
            }
            pat = close + 1;
        } else if (path == end || *pat++ != *path++) {
            return false;
        }
    }
    return path == end;
}

int sg_route_match(const char *method, const char *path, size_t len,
                   unsigned where, int *any, char *arg, size_t cap)
{
    int first = SG_ROUTE_NONE;
    size_t limit = arg != NULL && cap > 0 ? cap : (size_t)-1;

    if (cap == 0) {
        arg = NULL;
    }
    for (int id = SG_ROUTE_NONE + 1; id < SG_ROUTE__COUNT; id++) {
        const sg_route *rt = &table[id];
        if ((rt->flags & where) == 0 ||
            !pattern_match(rt->pattern, path, len, limit, NULL)) {
            continue;
        }
        if (first == SG_ROUTE_NONE) {
            first = id;
        }
        if (method != NULL && strcmp(rt->method, method) == 0) {
            if (any != NULL) {
                *any = first;
            }
            if (arg != NULL) {
                pattern_match(rt->pattern, path, len, limit, arg);
            }
            return id;
        }
    }
    if (any != NULL) {
        *any = first;
    }
    return SG_ROUTE_NONE;
}
