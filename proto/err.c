/* proto/err.c -- names of the SG_E* codes and the sg_error helpers.
 * sg_error_set formats with vsnprintf into the fixed arrays, so a long
 * reason is cut rather than overflowing; the cut never splits a UTF-8
 * character.  No state: any thread may call these. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "songgang/err.h"

const char *sg_strerror(int rc)
{
    switch (rc) {
    case SG_OK:
        return "success";
    case SG_EINVAL:
        return "invalid input";
    case SG_ENOTFOUND:
        return "not found";
    case SG_EEXIST:
        return "already exists";
    case SG_EIO:
        return "input/output error";
    case SG_EFULL:
        return "store is full";
    case SG_ETOOBIG:
        return "input too big";
    case SG_EVERSION:
        return "unknown schema version";
    case SG_ECORRUPT:
        return "corrupt record";
    case SG_EBUSY:
        return "resource busy";
    default:
        return "unknown error";
    }
}

/* Cut a string that vsnprintf truncated back to a character boundary, so
 * that a reason shown to a user is still valid UTF-8. */
static void trim_utf8(char *s, size_t cap)
{
    size_t n = strlen(s);
    size_t i;

    if (n + 1 < cap) {
        return; /* not truncated */
    }
    /* Walk back over continuation bytes to the lead byte of the last
     * character and drop it if the character is incomplete. */
    i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
    }
    if (i > 0 && ((unsigned char)s[i - 1] & 0x80) != 0) {
        unsigned char lead = (unsigned char)s[i - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < want) {
            s[i - 1] = '\0';
        }
    }
}

int sg_error_set(sg_error *e, int rc, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL) {
        return rc;
    }
    snprintf(e->field, sizeof e->field, "%s", field != NULL ? field : "");
    trim_utf8(e->field, sizeof e->field);
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    trim_utf8(e->reason, sizeof e->reason);
    return rc;
}

void sg_error_clear(sg_error *e)
{
    if (e == NULL) {
        return;
    }
    e->field[0] = '\0';
    e->reason[0] = '\0';
}
