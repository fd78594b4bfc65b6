/* include/songgang/api.h -- the HTTP API's semantics, in the matcher.
 * sg_api_handle answers one request message (songgang/msg.h) against the
 * store: it authenticates the credential (API keys, signed worker tokens),
 * checks role and scope, validates and writes records, ranks matches and
 * appends push events (docs/api.md).  The service (songgang/service.h)
 * runs reads in read transactions (on NNG's threads or its reader
 * threads) and writes in nested transactions of a group commit on its
 * writer thread. */
#ifndef SG_API_H
#define SG_API_H

#include <stdbool.h>
#include <stdint.h>

#include "songgang/match.h"
#include "songgang/msg.h"
#include "songgang/store.h"

typedef struct sg_api sg_api; /* opaque */

typedef struct sg_api_opts {
    int push_top;        /* candidates pushed per job write (default 50) */
    const sg_weights *w; /* borrowed; NULL = defaults */
} sg_api_opts;

/* sg_api_open makes an API over s (borrowed; must outlive it).  It loads
 * (or, on a writable store, creates) the token signing key in the data
 * directory.  *out returned owned. */
int sg_api_open(sg_api **out, sg_store *s, const sg_api_opts *o);
void sg_api_close(sg_api *a); /* NULL is a no-op */

/* sg_api_is_write tells whether req must run in a write transaction. */
bool sg_api_is_write(const sg_msg_req *req);

/* sg_api_handle answers req inside t (a read transaction, or for a write a
 * nested transaction the caller commits on success and aborts otherwise).
 * It always fills *reply (its body points into *body, which the caller
 * owns) and returns 0 when t's writes should be kept, or a negative SG_E*
 * when they must be discarded (the reply then carries the error).
 * *last_seq is raised to the seq of the last event the request appended.
 * reply->version is sg_txn_version(t) (for a write, the service replaces
 * it by the committed version); reply->cache_until_ms is set on a 200 to
 * a GET whose route's reply depends only on the request, the credential,
 * the data and the day: the earliest of the credential's expiry and, when
 * the request gave no as_of, the next Asia/Shanghai midnight
 * (docs/protocol.md "Reusing replies"). */
int sg_api_handle(sg_api *a, sg_txn *t, const sg_msg_req *req,
                  sg_msg_reply *reply, sg_buf *body, uint64_t *last_seq);

#endif /* SG_API_H */
