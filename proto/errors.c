/* proto/errors.c -- the error answers every part of songgang writes: the
 * {"error": {"code", "message", "field"}} body in JSON or msgpack, the
 * code word of each HTTP status, the rules of the numeric and date query
 * parameters, and the translation of NNG's error codes.  The matcher's
 * API, its service and the gateway all answer through these, so a client
 * sees one shape and one wording whoever refused it.  No I/O, no state
 * (NNG is read for its error numbers only); any thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "songgang/msg.h"

#include "internal.h"

const char *sg_status_code(int status)
{
    switch (status) {
    case 400:
    case 415: /* a Content-Type we do not take is a bad request */
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 409:
        return "conflict";
    case 413:
        return "payload_too_large";
    case 429:
        return "rate_limited";
    case 431:
        return "headers_too_large";
    case 503:
        return "unavailable";
    default:
        return "internal";
    }
}

/* utf8_len returns the length of the valid UTF-8 sequence at s[0..n), or
 * 0 when it is not one. */
static size_t utf8_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c < 0x80             ? 1
               : (c & 0xe0) == 0xc0 ? 2
               : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4
                                    : 0;
    return k != 0 && k <= n && sg_utf8_valid(s, k) ? k : 0;
}

/* json_str appends s as a JSON string, escaped as jansson escapes it
 * (so the API's bodies keep their bytes); bytes that are not UTF-8
 * become '?', since a reason may quote a client's input. */
static void json_str(sg_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);

    sg_buf_append(out, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_len(s + i, n - i);
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc != NULL) {
            sg_buf_append(out, esc, 2);
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sg_buf_append(out, u, 6);
        } else if (k == 0) {
            sg_buf_append(out, "?", 1);
            i++;
            continue;
        } else {
            sg_buf_append(out, s + i, k);
            i += k;
            continue;
        }
        i++;
    }
    sg_buf_append(out, "\"", 1);
}

/* mp_str appends s as a msgpack str in its shortest header, with bytes
 * that are not UTF-8 as '?' like json_str. */
static void mp_str(sg_buf *out, const char *s)
{
    size_t n = strlen(s);
    char *t = malloc(n + 1);
    size_t m = 0;
    uint8_t h[5];

    if (t == NULL) {
        abort();
    }
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        if (k == 0) {
            t[m++] = '?';
            i++;
        } else {
            memcpy(t + m, s + i, k);
            m += k;
            i += k;
        }
    }
    if (m < 32) {
        h[0] = (uint8_t)(0xa0 | m);
        sg_buf_append(out, h, 1);
    } else if (m < 256) {
        h[0] = 0xd9;
        h[1] = (uint8_t)m;
        sg_buf_append(out, h, 2);
    } else if (m < 65536) {
        h[0] = 0xda;
        h[1] = (uint8_t)(m >> 8);
        h[2] = (uint8_t)m;
        sg_buf_append(out, h, 3);
    } else {
        h[0] = 0xdb;
        h[1] = (uint8_t)(m >> 24);
        h[2] = (uint8_t)(m >> 16);
        h[3] = (uint8_t)(m >> 8);
        h[4] = (uint8_t)m;
        sg_buf_append(out, h, 5);
    }
    sg_buf_append(out, t, m);
    free(t);
}

sg_fmt sg_error_body(sg_buf *out, sg_fmt fmt, const char *code,
                     const char *message, const char *field)
{
    static const uint8_t map1 = 0x81, map3 = 0x83;

    if (field == NULL) {
        field = "";
    }
    if (message == NULL) {
        message = "";
    }
    if (fmt == SG_FMT_MSGPACK) {
        sg_buf_append(out, &map1, 1);
        mp_str(out, "error");
        sg_buf_append(out, &map3, 1);
        mp_str(out, "code");
        mp_str(out, code);
        mp_str(out, "message");
        mp_str(out, message);
        mp_str(out, "field");
        mp_str(out, field);
        return SG_FMT_MSGPACK;
    }
    sg_buf_append(out, "{\"error\":{\"code\":", 17);
    json_str(out, code);
    sg_buf_append(out, ",\"message\":", 11);
    json_str(out, message);
    sg_buf_append(out, ",\"field\":", 9);
    json_str(out, field);
    sg_buf_append(out, "}}", 2);
    return SG_FMT_JSON;
}

int sg__err_nng(int nngrc)
{
    switch (nngrc) {
    case 0:
        return 0;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
        return SG_EINVAL;
    /* Someone else holds it, or the peer is not there yet: worth a retry. */
    case NNG_EBUSY:
    case NNG_EADDRINUSE:
    case NNG_ETIMEDOUT:
    case NNG_ECONNREFUSED:
        return SG_EBUSY;
    default:
        return SG_EIO;
    }
}

/* ---- Query parameters. ---- */

/* digits tells whether s is 1 to max ASCII digits. */
static bool digits(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

int sg_msg_req_long(const sg_msg_req *r, const char *name, long lo, long hi,
                    long def, long *out, sg_error *e)
{
    const char *v = sg_msg_req_get(r, name);
    long x;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    /* 18 digits fit a long on every platform songgang runs on. */
    if (!digits(v, 18) || (x = strtol(v, NULL, 10)) < lo || x > hi) {
        return sg_error_set(e, SG_EINVAL, name,
                            "must be an integer from %ld to %ld", lo, hi);
    }
    *out = x;
    return 0;
}

int sg_msg_req_seq(const sg_msg_req *r, const char *name, uint64_t def,
                   uint64_t *out, sg_error *e)
{
    const char *v = sg_msg_req_get(r, name);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!digits(v, 19)) {
        return sg_error_set(e, SG_EINVAL, name, "must be a sequence number");
    }
    *out = strtoull(v, NULL, 10);
    return 0;
}

int sg_msg_req_date(const sg_msg_req *r, const char *name, int32_t def,
                    int32_t *out, sg_error *e)
{
    const char *v = sg_msg_req_get(r, name);
    int32_t d;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (sg_date_parse(v, strlen(v), &d) != 0) {
        return sg_error_set(e, SG_EINVAL, name, "must be a date YYYY-MM-DD");
    }
    *out = d;
    return 0;
}
