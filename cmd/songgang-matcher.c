/* cmd/songgang-matcher.c -- `songgang-matcher`: the matcher as its own process.
 * Opens the store and the API, serves them over NNG (matcher/service.c)
 * and waits for SIGTERM or SIGINT; then it stops receiving, answers and
 * commits what is in flight, closes LMDB cleanly and exits 0.  The signals
 * are blocked before any thread starts (NNG starts its own), so that only
 * the main thread's sigwait ever sees them. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "songgang/api.h"
#include "songgang/service.h"
#include "songgang/store.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: songgang-matcher --db DIR --listen URL [--pub URL]\n"
            "                        [--contexts N] [--readers N] "
            "[--push-top N]\n");
}

/* int_arg parses a positive decimal option value up to max. */
static int int_arg(const char *name, const char *s, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "songgang-matcher: %s must be 1 to %d\n", name, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    char pub[1024];
    sg_service_opts so = {0};
    sg_api_opts ao = {0};
    sg_store *store = NULL;
    sg_api *api = NULL;
    sg_service *sv = NULL;
    sigset_t set;
    int sig, rc;

    /* Block before any thread exists: every thread inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "songgang-matcher: %s needs a value\n", a);
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--db") == 0) {
            db = v;
        } else if (strcmp(a, "--listen") == 0) {
            so.listen = v;
        } else if (strcmp(a, "--pub") == 0) {
            so.pub = v;
        } else if (strcmp(a, "--contexts") == 0) {
            if (int_arg(a, v, 4096, &so.contexts) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--readers") == 0) {
            if (int_arg(a, v, 256, &so.readers) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--push-top") == 0) {
            if (int_arg(a, v, 1000, &ao.push_top) != 0) {
                return 2;
            }
        } else {
            fprintf(stderr, "songgang-matcher: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    if (db == NULL || so.listen == NULL) {
        usage();
        return 2;
    }
    if (so.pub == NULL && sg_pub_url(so.listen, pub, sizeof pub) != 0) {
        fprintf(stderr,
                "songgang-matcher: cannot derive a PUB URL from %s: "
                "give --pub\n",
                so.listen);
        return 2;
    }

    rc = sg_store_open(&store, db, 0);
    if (rc != 0) {
        fprintf(stderr, "songgang-matcher: cannot open store %s: %s\n", db,
                sg_strerror(rc));
        return 1;
    }
    rc = sg_api_open(&api, store, &ao);
    if (rc != 0) {
        fprintf(stderr, "songgang-matcher: cannot start the API: %s\n",
                sg_strerror(rc));
        goto out_close_store;
    }
    rc = sg_service_open(&sv, store, api, &so);
    if (rc != 0) {
        fprintf(stderr, "songgang-matcher: cannot serve on %s: %s\n", so.listen,
                sg_strerror(rc));
        goto out_close_api;
    }
    fprintf(stderr, "songgang-matcher: listening on %s (pub %s)\n", so.listen,
            so.pub != NULL ? so.pub : pub);

    do {
        if (sigwait(&set, &sig) != 0) {
            sig = 0;
        }
    } while (sig != SIGTERM && sig != SIGINT);
    fprintf(stderr, "songgang-matcher: %s: finishing and closing\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sg_service_close(sv);

out_close_api:
    sg_api_close(api);
out_close_store:
    sg_store_close(store);
    return rc == 0 ? 0 : 1;
}
