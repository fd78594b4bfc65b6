/* include/songgang/service.h -- the matcher as an NNG service.
 * A REP socket with a bounded number of contexts receives request
 * messages; reads run in LMDB read transactions (short ones on the NNG
 * thread that received them, long ones on reader threads), writes
 * are queued to one writer thread that runs every queued request in its
 * own nested transaction of one write transaction and commits them
 * together (a group commit), replying only after the commit is durable.
 * After a commit that added events it publishes a doorbell on the PUB
 * socket.  Functions return 0 or a negative SG_E*. */
#ifndef SG_SERVICE_H
#define SG_SERVICE_H

#include "songgang/api.h"
#include "songgang/msg.h" /* sg_pub_url */
#include "songgang/store.h"

typedef struct sg_service sg_service; /* opaque */

typedef struct sg_service_opts {
    const char *listen; /* REP URL: tcp://, ipc://, inproc:// */
    const char *pub;    /* PUB URL; NULL = derived (docs/protocol.md) */
    int contexts;       /* REP contexts (default 64) */
    int readers;        /* reader threads for long reads (default 2) */
} sg_service_opts;

/* sg_service_open listens and starts serving; s and a are borrowed and
 * must outlive the service.  *out returned owned. */
int sg_service_open(sg_service **out, sg_store *s, sg_api *a,
                    const sg_service_opts *o);
/* sg_service_close stops receiving, finishes and answers what is in
 * flight, commits, and frees the service.  NULL is a no-op. */
void sg_service_close(sg_service *sv);

#endif /* SG_SERVICE_H */
