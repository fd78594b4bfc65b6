/* cmd/songgang-gateway.c -- `songgang-gateway`: the HTTP gateway as a process of
 * its own, in front of a `songgang-matcher` reached over NNG.  It parses
 * the flags, opens the gateway, says where it listens and runs the loop on
 * the main thread until SIGTERM or SIGINT; exit 0 after a clean stop,
 * 1 when it cannot start, 2 for a usage error. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "songgang/gateway.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: songgang-gateway --matcher URL --http HOST:PORT\n"
            "         [--pub URL] [--max-conns N] [--rate N] [--burst N]\n"
            "         [--max-header BYTES] [--max-body BYTES]\n"
            "         [--max-import-body BYTES] [--request-timeout-ms MS]\n"
            "         [--idle-timeout-ms MS] [--matcher-timeout-ms MS]\n"
            "         [--contexts N] [--heartbeat-ms MS]\n"
            "         [--cache-mb N (0 = none)] [--version-poll-ms MS]\n"
            "         [--quiet]\n");
}

/* num parses a positive decimal flag value; false when it is not one. */
static bool num(const char *s, long long max, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    sg_gateway_opts o;
    sg_gateway *g = NULL;
    bool burst_given = false;
    int rc;

    sg_gateway_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        bool takes = true;

        if (strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "songgang-gateway: %s wants a value\n", a);
            usage();
            return 2;
        }
        if (strcmp(a, "--matcher") == 0) {
            o.matcher = v;
        } else if (strcmp(a, "--http") == 0) {
            o.http = v;
        } else if (strcmp(a, "--pub") == 0) {
            o.pub = v;
        } else {
            takes = false;
        }
        if (takes) {
            i++;
            continue;
        }
        /* The one flag where 0 means something: no reply cache. */
        if (strcmp(a, "--cache-mb") == 0 && strcmp(v, "0") == 0) {
            o.cache_mb = 0;
            i++;
            continue;
        }
        if (!num(v, 1LL << 40, &n)) {
            fprintf(stderr, "songgang-gateway: %s: not a positive number: %s\n",
                    a, v);
            return 2;
        }
        i++;
        if (strcmp(a, "--max-conns") == 0 && n <= 1000000) {
            o.max_conns = (int)n;
        } else if (strcmp(a, "--rate") == 0 && n <= 1000000000) {
            o.rate_per_s = (int)n;
        } else if (strcmp(a, "--burst") == 0 && n <= 2000000000) {
            o.rate_burst = (int)n;
            burst_given = true;
        } else if (strcmp(a, "--max-header") == 0) {
            o.max_header = (size_t)n;
        } else if (strcmp(a, "--max-body") == 0) {
            o.max_body = (size_t)n;
        } else if (strcmp(a, "--max-import-body") == 0) {
            o.max_import_body = (size_t)n;
        } else if (strcmp(a, "--request-timeout-ms") == 0 && n <= 86400000) {
            o.request_timeout_ms = (int)n;
        } else if (strcmp(a, "--idle-timeout-ms") == 0 && n <= 86400000) {
            o.idle_timeout_ms = (int)n;
        } else if (strcmp(a, "--matcher-timeout-ms") == 0 && n <= 86400000) {
            o.matcher_timeout_ms = (int)n;
        } else if (strcmp(a, "--contexts") == 0 && n <= 65536) {
            o.contexts = (int)n;
        } else if (strcmp(a, "--heartbeat-ms") == 0 && n <= 86400000) {
            o.heartbeat_ms = (int)n;
        } else if (strcmp(a, "--cache-mb") == 0 && n <= 1048576) {
            o.cache_mb = (int)n;
        } else if (strcmp(a, "--version-poll-ms") == 0 && n <= 60000) {
            o.version_poll_ms = (int)n;
        } else {
            fprintf(stderr, "songgang-gateway: unknown flag or value: %s %s\n",
                    a, v);
            usage();
            return 2;
        }
    }
    if (o.matcher == NULL || o.http == NULL) {
        usage();
        return 2;
    }
    if (!burst_given) {
        /* A burst of two seconds' worth. */
        long long b = 2LL * o.rate_per_s;
        o.rate_burst = b > 2000000000 ? 2000000000 : (int)b;
    }

    if ((rc = sg_gateway_open(&g, &o)) != 0) {
        fprintf(stderr,
                "songgang-gateway: cannot start on %s (matcher %s): "
                "%s\n",
                o.http, o.matcher, sg_strerror(rc));
        return 1;
    }
    {
        /* With port 0, say which port it got. */
        char host[256];
        const char *colon = strrchr(o.http, ':');
        size_t hn = colon ? (size_t)(colon - o.http) : 0;
        snprintf(host, sizeof host, "%.*s", (int)hn, o.http);
        fprintf(stderr, "songgang-gateway: listening on http://%s:%d\n", host,
                sg_gateway_port(g));
    }
    rc = sg_gateway_run(g);
    sg_gateway_close(g);
    return rc == 0 ? 0 : 1;
}
