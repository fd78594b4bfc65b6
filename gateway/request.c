/* gateway/request.c -- turning a parsed HTTP request into a request
 * message (docs/protocol.md): the path, the %-decoded query, the
 * credential (a Bearer header, else ?token= on a GET, which never stays in
 * the query and never reaches a log).  Every value is checked here
 * against the limits and character rules the matcher's decoder applies
 * (the error bodies themselves are proto's sg_error_body), so that a bad
 * request gets a precise 400 from the gateway instead of a message the
 * matcher refuses.  Pure functions: no I/O, no state, any thread. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

bool sg__printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* utf8_ok tells whether s[0..n) is shortest-form UTF-8 without NUL: the
 * rule the matcher's decoder applies to query names and values. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    return memchr(s, '\0', n) == NULL && sg_utf8_valid((const char *)s, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* pct_decode decodes s[0..n) (%XX and '+' as space) into out[cap];
 * returns the decoded length, or -1 for a bad escape, -2 when too long. */
static long pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                return -1;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o >= cap) {
            return -2;
        }
        out[o++] = (char)c;
    }
    return (long)o;
}

size_t sg__path_len(const char *url, size_t len)
{
    size_t i = 0;

    while (i < len && url[i] != '?' && url[i] != '#') {
        i++;
    }
    return i;
}

bool sg__bearer(const char *v, size_t len, char *out, size_t cap)
{
    size_t i = 0, j;

    while (i < len && (v[i] == ' ' || v[i] == '\t')) {
        i++;
    }
    if (len - i < 7 || strncasecmp(v + i, "bearer", 6) != 0 ||
        (v[i + 6] != ' ' && v[i + 6] != '\t')) {
        return false;
    }
    i += 6;
    while (i < len && (v[i] == ' ' || v[i] == '\t')) {
        i++;
    }
    j = len;
    while (j > i && (v[j - 1] == ' ' || v[j - 1] == '\t')) {
        j--;
    }
    if (j == i || j - i >= cap) {
        return false;
    }
    memcpy(out, v + i, j - i);
    out[j - i] = '\0';
    return true;
}

/* add_param decodes one key=value pair of the query into m. */
static int add_param(sg_msg_req *m, size_t *used, const char *s, size_t n,
                     bool is_get, bool have_cred, sg_error *e)
{
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    const char *vs = eq ? eq + 1 : s + n;
    size_t vn = eq ? n - kn - 1 : 0;
    char key[SG_MSG_QKEY_MAX + 1];
    char val[SG_MSG_QVAL_MAX + 1];
    char field[80];
    long kl, vl;

    kl = pct_decode(s, kn, key, SG_MSG_QKEY_MAX);
    if (kl == -1) {
        return sg_error_set(e, SG_EINVAL, "q", "bad %%-escape in a name");
    }
    if (kl == -2) {
        return sg_error_set(e, SG_ETOOBIG, "q",
                            "parameter name longer than %d bytes",
                            SG_MSG_QKEY_MAX);
    }
    if (kl == 0) {
        return sg_error_set(e, SG_EINVAL, "q", "empty parameter name");
    }
    key[kl] = '\0';
    if (!utf8_ok((const unsigned char *)key, (size_t)kl)) {
        return sg_error_set(e, SG_EINVAL, "q",
                            "parameter name is not valid text");
    }
    snprintf(field, sizeof field, "%s", key);
    vl = pct_decode(vs, vn, val, SG_MSG_QVAL_MAX);
    if (vl == -1) {
        return sg_error_set(e, SG_EINVAL, field, "bad %%-escape");
    }
    if (vl == -2) {
        return sg_error_set(e, SG_ETOOBIG, field, "longer than %d bytes",
                            SG_MSG_QVAL_MAX);
    }
    val[vl] = '\0';
    if (!utf8_ok((const unsigned char *)val, (size_t)vl)) {
        return sg_error_set(e, SG_EINVAL, field, "not valid text");
    }

    /* The token is a credential: it never travels as a parameter. */
    if (strcmp(key, "token") == 0) {
        if (!is_get || have_cred || m->cred[0] != '\0') {
            return 0;
        }
        if (vl == 0 || (size_t)vl > SG_MSG_CRED_MAX ||
            !sg__printable(val, (size_t)vl)) {
            return sg_error_set(e, SG_EINVAL, "token",
                                "not a token (printable ASCII, at most "
                                "%d bytes)",
                                SG_MSG_CRED_MAX);
        }
        memcpy(m->cred, val, (size_t)vl + 1);
        return 0;
    }
    for (int i = 0; i < m->nq; i++) {
        if (strcmp(m->q[i].key, key) == 0) {
            return sg_error_set(e, SG_EINVAL, field, "given twice");
        }
    }
    if (m->nq >= SG_MSG_QUERY_MAX) {
        return sg_error_set(e, SG_EINVAL, "q", "more than %d parameters",
                            SG_MSG_QUERY_MAX);
    }
    if ((size_t)kl + 1 + (size_t)vl + 1 > sizeof m->qstore - *used) {
        return sg_error_set(e, SG_ETOOBIG, "q",
                            "parameters longer than %zu bytes in all",
                            sizeof m->qstore);
    }
    m->q[m->nq].key = m->qstore + *used;
    memcpy(m->qstore + *used, key, (size_t)kl + 1);
    *used += (size_t)kl + 1;
    m->q[m->nq].val = m->qstore + *used;
    memcpy(m->qstore + *used, val, (size_t)vl + 1);
    *used += (size_t)vl + 1;
    m->nq++;
    return 0;
}

int sg__req_build(sg_msg_req *m, const char *method, const char *url,
                  size_t url_len, const char *cred, const char *host,
                  uint8_t ctype, uint8_t accept, uint64_t leid,
                  const uint8_t *body, size_t body_len, sg_error *e)
{
    size_t plen = sg__path_len(url, url_len);
    size_t used = 0;
    bool is_get = strcmp(method, "GET") == 0;
    const char *q, *end;

    /* Method and path. */
    if (plen == 0 || url[0] != '/') {
        return sg_error_set(e, SG_EINVAL, "path", "must start with /");
    }
    if (plen > SG_MSG_PATH_MAX) {
        return sg_error_set(e, SG_ETOOBIG, "path", "longer than %d bytes",
                            SG_MSG_PATH_MAX);
    }
    if (!sg__printable(url, plen)) {
        return sg_error_set(e, SG_EINVAL, "path",
                            "must be printable ASCII (%%-encode the rest)");
    }
    snprintf(m->method, sizeof m->method, "%s", method);
    memcpy(m->path, url, plen);
    m->path[plen] = '\0';

    /* Credential: the header wins over ?token=. */
    m->cred[0] = '\0';
    if (cred != NULL && cred[0] != '\0') {
        size_t n = strlen(cred);
        if (n > SG_MSG_CRED_MAX || !sg__printable(cred, n)) {
            return sg_error_set(e, SG_EINVAL, "authorization",
                                "not a key (printable ASCII, at most %d "
                                "bytes)",
                                SG_MSG_CRED_MAX);
        }
        memcpy(m->cred, cred, n + 1);
    }

    /* Query, up to a fragment if a client sent one. */
    m->nq = 0;
    if (plen < url_len && url[plen] == '?') {
        q = url + plen + 1;
        end = memchr(q, '#', url_len - plen - 1);
        if (end == NULL) {
            end = url + url_len;
        }
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *stop = amp ? amp : end;
            if (stop > q) {
                int rc = add_param(m, &used, q, (size_t)(stop - q), is_get,
                                   cred != NULL && cred[0] != '\0', e);
                if (rc != 0) {
                    return rc;
                }
            }
            q = stop + 1;
        }
    }

    /* Host, formats, Last-Event-ID, body. */
    m->host[0] = '\0';
    if (host != NULL && host[0] != '\0') {
        size_t n = strlen(host);
        if (n >= sizeof m->host || !sg__printable(host, n)) {
            return sg_error_set(e, SG_EINVAL, "host",
                                "not a host name (printable ASCII, at most "
                                "255 bytes)");
        }
        memcpy(m->host, host, n + 1);
    }
    m->ctype = body_len > 0 ? ctype : SG_FMT_NONE;
    m->accept = accept;
    m->last_event_id = leid;
    m->body = body_len > 0 ? body : NULL;
    m->body_len = body_len;
    return 0;
}

/* ---- The access log's view of a URL. ---- */

void sg__log_target(const char *url, size_t len, char *out, size_t cap)
{
    size_t plen = sg__path_len(url, len);
    size_t o = 0;
    bool in_key = true;
    size_t klen = 0;

    if (cap == 0) {
        return;
    }
    /* The path as is, without control bytes. */
    for (size_t i = 0; i < plen && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)url[i];
        out[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    /* Then the parameter names only: "?worker=&token=". */
    if (plen < len && url[plen] == '?') {
        for (size_t i = plen; i < len && o + 1 < cap; i++) {
            unsigned char c = (unsigned char)url[i];
            if (c == '#') {
                break;
            }
            if (c == '?' || c == '&') {
                out[o++] = (char)c;
                in_key = true;
                klen = 0;
            } else if (c == '=') {
                if (in_key) {
                    out[o++] = '=';
                }
                in_key = false;
            } else if (in_key && klen < 32) {
                bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '_' || c == '-';
                out[o++] = plain ? (char)c : '?';
                klen++;
            }
        }
    }
    out[o] = '\0';
}
