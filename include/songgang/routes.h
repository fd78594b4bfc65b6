/* include/songgang/routes.h -- the one table of HTTP routes.
 * Every part that needs to know a route reads it here: the matcher's API
 * dispatches by route id (matcher/api.c keeps only roles and handlers),
 * the service picks the thread a read runs on, and the gateway labels
 * its metrics, answers /healthz and /metrics, picks the body limit and
 * recognises the events stream.  A pattern's "{...}" segment matches one
 * non-empty segment without '/'.  No I/O, no state; any thread. */
#ifndef SG_ROUTES_H
#define SG_ROUTES_H

#include <stddef.h>

/* Route flags. */
#define SG_ROUTE_CACHE                                                         \
    0x01u                     /* a 200 depends only on the request, the        \
                                 credential, the data and today */
#define SG_ROUTE_LONG 0x02u   /* may read for long: a reader thread */
#define SG_ROUTE_BULK 0x04u   /* takes the import body limit */
#define SG_ROUTE_STREAM 0x08u /* a 200 may open an SSE stream */
/* Where a route is answered (the `where` of sg_route_match). */
#define SG_ROUTE_API 0x10u      /* the matcher's HTTP API */
#define SG_ROUTE_GATEWAY 0x20u  /* the gateway itself */
#define SG_ROUTE_INTERNAL 0x40u /* method SG: gateway to matcher only */

/* Route ids, in the order of the table (proto/routes.c). */
typedef enum sg_route_id {
    SG_ROUTE_NONE,           /* no route */
    SG_ROUTE_JOBS_LIST,      /* GET /v1/jobs */
    SG_ROUTE_JOB_POST,       /* POST /v1/jobs */
    SG_ROUTE_JOB_GET,        /* GET /v1/jobs/{id} */
    SG_ROUTE_JOB_PUT,        /* PUT /v1/jobs/{id} */
    SG_ROUTE_JOB_DELETE,     /* DELETE /v1/jobs/{id} */
    SG_ROUTE_JOB_CANDIDATES, /* GET /v1/jobs/{id}/candidates */
    SG_ROUTE_WORKER_POST,    /* POST /v1/workers */
    SG_ROUTE_IMPORT,         /* POST /v1/workers:import */
    SG_ROUTE_WORKER_GET,     /* GET /v1/workers/{id} */
    SG_ROUTE_WORKER_PUT,     /* PUT /v1/workers/{id} */
    SG_ROUTE_WORKER_MATCHES, /* GET /v1/workers/{id}/matches */
    SG_ROUTE_WORKER_TOKEN,   /* POST /v1/workers/{id}/token */
    SG_ROUTE_REGION_JOBS,    /* GET /v1/regions/{code}/jobs */
    SG_ROUTE_ME,             /* GET /v1/me */
    SG_ROUTE_ME_MATCHES,     /* GET /v1/me/matches */
    SG_ROUTE_EVENTS,         /* GET /v1/events */
    SG_ROUTE_HEALTHZ,        /* GET /healthz (gateway) */
    SG_ROUTE_METRICS,        /* GET /metrics (gateway) */
    SG_ROUTE_POLL,           /* SG /events/poll */
    SG_ROUTE_STATS,          /* SG /stats */
    SG_ROUTE_VERSION,        /* SG /version */
    SG_ROUTE__COUNT
} sg_route_id;

typedef struct sg_route {
    const char *method;  /* GET, POST, PUT, DELETE or SG */
    const char *pattern; /* "/v1/jobs/{id}"; also the metrics label */
    const char *name;    /* a short name, "job_get" */
    unsigned flags;      /* SG_ROUTE_* */
} sg_route;

/* sg_route_get returns the route of id (static), or NULL for
 * SG_ROUTE_NONE and ids out of range. */
const sg_route *sg_route_get(int id);

/* sg_route_match looks up path[0..len) (no query) among the routes whose
 * flags have a bit of where (SG_ROUTE_API, _GATEWAY, _INTERNAL).  It
 * returns the id of the route for method (NULL matches no method), or
 * SG_ROUTE_NONE.  *any (NULL to skip) gets the first route whose pattern
 * matches path, whatever its method, or SG_ROUTE_NONE: a caller answers
 * 404 when *any is SG_ROUTE_NONE and 405 when only the method differs.
 * arg[cap] (NULL when cap is 0) gets the path's "{...}" segment, "" when
 * the pattern has none, and is written only when a route is returned;
 * with an arg, a segment of cap bytes or more matches nothing. */
int sg_route_match(const char *method, const char *path, size_t len,
                   unsigned where, int *any, char *arg, size_t cap);

#endif /* SG_ROUTES_H */
