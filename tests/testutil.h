/* tests/testutil.h -- small helpers shared by the cmocka tests: a fresh
 * temporary data directory per test, removed afterwards. */
#ifndef SG_TESTUTIL_H
#define SG_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tu_tempdir makes a new empty directory under $TMPDIR (or /tmp). */
static inline void tu_tempdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/sgtest.XXXXXX", base ? base : "/tmp");
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

/* tu_rmrf removes a directory made by tu_tempdir and what is in it. */
static inline void tu_rmrf(const char *dir)
{
    char cmd[512];
    if (strstr(dir, "/sgtest.") == NULL) {
        abort(); /* never remove anything else */
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
}

#endif /* SG_TESTUTIL_H */
