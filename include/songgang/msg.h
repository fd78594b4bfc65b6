/* include/songgang/msg.h -- the messages between gateway and matcher.
 * The gateway is an HTTP front that holds no data: it forwards each HTTP
 * request to the matcher as one request message (method, path, query,
 * credential, body bytes) and writes the reply message (status, content
 * type, body bytes) back as the HTTP response.  All API semantics -- auth,
 * roles, scope, validation, records -- live in the matcher (matcher/api.c).
 * Both messages are msgpack maps (docs/protocol.md), decoded strictly with
 * every size bounded before use.  No I/O; any thread. */
#ifndef SG_MSG_H
#define SG_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "songgang/err.h"
#include "songgang/proto.h" /* sg_buf */

#define SG_MSG_VERSION 1
#define SG_MSG_PATH_MAX 2048       /* bytes of a path */
#define SG_MSG_QUERY_MAX 32        /* query parameters */
#define SG_MSG_QKEY_MAX 64         /* bytes of a parameter name */
#define SG_MSG_QVAL_MAX 1024       /* bytes of a parameter value */
#define SG_MSG_CRED_MAX 512        /* bytes of a credential */
#define SG_MSG_BODY_MAX (32u << 20) /* bytes of a body (import) */

/* Formats of a body. */
typedef enum sg_fmt {
    SG_FMT_NONE,    /* no body */
    SG_FMT_JSON,    /* application/json */
    SG_FMT_MSGPACK, /* application/msgpack */
    SG_FMT_NDJSON,  /* application/x-ndjson */
    SG_FMT_TEXT,    /* text/plain; charset=utf-8 (metrics) */
} sg_fmt;

/* sg_fmt_mime returns the Content-Type of f ("" for SG_FMT_NONE). */
const char *sg_fmt_mime(sg_fmt f);

typedef struct sg_qparam {
    const char *key; /* NUL-terminated, borrowed */
    const char *val; /* NUL-terminated, borrowed */
} sg_qparam;

/* sg_msg_req is a request.  Strings and the body are borrowed: from the
 * caller when encoding, from the decoded bytes (copied into the struct's
 * own storage) when decoding -- see sg_msg_req_decode. */
typedef struct sg_msg_req {
    char method[8];                     /* GET, POST, PUT, DELETE, SG */
    char path[SG_MSG_PATH_MAX + 1];     /* "/v1/jobs/J1", no query */
    int nq;                             /* query parameters */
    sg_qparam q[SG_MSG_QUERY_MAX];      /* decoded (not %-encoded) */
    char cred[SG_MSG_CRED_MAX + 1];     /* API key or worker token, "" */
    char host[256];                     /* the Host header, for links */
    uint8_t ctype;                      /* enum sg_fmt of the body */
    uint8_t accept;                     /* enum sg_fmt wanted back */
    uint64_t last_event_id;             /* Last-Event-ID, 0 = none */
    const uint8_t *body;                /* body bytes (borrowed) */
    size_t body_len;                    /* their length */
    char qstore[SG_MSG_QUERY_MAX * 2 * 80]; /* decode: key/value storage */
} sg_msg_req;

/* sg_msg_req_get returns the value of query parameter key, or NULL. */
const char *sg_msg_req_get(const sg_msg_req *r, const char *key);

/* The query parameters' value rules, one wording for every route.  Each
 * reads parameter name of r, gives def when it is absent, and returns 0
 * with *out, or SG_EINVAL with e naming the parameter; *out is written
 * only on success.
 * sg_msg_req_long: a decimal integer from lo to hi ("must be an integer
 * from LO to HI"); sg_msg_req_seq: an event sequence number, up to 19
 * digits ("must be a sequence number"); sg_msg_req_date: YYYY-MM-DD
 * ("must be a date YYYY-MM-DD"). */
int sg_msg_req_long(const sg_msg_req *r, const char *name, long lo, long hi,
                    long def, long *out, sg_error *e);
int sg_msg_req_seq(const sg_msg_req *r, const char *name, uint64_t def,
                   uint64_t *out, sg_error *e);
int sg_msg_req_date(const sg_msg_req *r, const char *name, int32_t def,
                    int32_t *out, sg_error *e);

/* sg_msg_req_encode appends the msgpack form of r (borrowed) to out
 * (caller-owned).  r must be valid: empty cred/host, a zero
 * last_event_id and an empty body are left out. */
void sg_msg_req_encode(const sg_msg_req *r, sg_buf *out);
/* sg_msg_req_decode decodes untrusted bytes into *out; body points into p,
 * which must outlive *out.  0, or SG_EINVAL/SG_ETOOBIG with e naming the
 * field; *out untouched on error.  Query keys and values longer than the
 * qstore allows are SG_ETOOBIG.  Rules beyond the table in
 * docs/protocol.md: v, m and p are required; p starts with '/' and is
 * UTF-8 without control characters; parameter names are 1-64 bytes and
 * unique, names and values UTF-8 without NUL; cred and host are
 * printable ASCII without spaces; acc absent or 0 means JSON. */
int sg_msg_req_decode(const uint8_t *p, size_t len, sg_msg_req *out,
                      sg_error *e);

/* A stream an SSE request was granted (reply to GET /v1/events). */
typedef enum sg_stream_kind {
    SG_STREAM_NONE,   /* not a stream reply */
    SG_STREAM_WORKER, /* one worker's inbox */
    SG_STREAM_REGION, /* every event for workers under a region prefix */
} sg_stream_kind;

/* sg_status_code returns the error code word of an HTTP status
 * ("not_found" for 404; "internal" for one without its own word). */
const char *sg_status_code(int status);
/* sg_error_body appends the error body {"error": {"code", "message",
 * "field"}} to out (caller-owned): msgpack when fmt is SG_FMT_MSGPACK,
 * else JSON, and returns the format written.  The strings are borrowed
 * (NULL message or field is ""); bytes that are not UTF-8 are written
 * as '?'.  Every error answer of the API, the service and the gateway
 * is built here. */
sg_fmt sg_error_body(sg_buf *out, sg_fmt fmt, const char *code,
                     const char *message, const char *field);

/* sg_msg_reply is a reply.  body is borrowed like the request's. */
typedef struct sg_msg_reply {
    int status;                     /* HTTP status */
    uint8_t ctype;                  /* enum sg_fmt of the body */
    const uint8_t *body;            /* body bytes (borrowed) */
    size_t body_len;                /* their length */
    uint8_t stream;                 /* enum sg_stream_kind */
    char stream_key[SG_ID_MAX + 1]; /* worker id or region prefix */
    uint64_t seq;                   /* events: last seq in the body */
    bool more;                      /* events: more after seq */
    uint64_t version;               /* data version; 0 = unknown */
    int64_t cache_until_ms;         /* reusable until (unix ms); 0 = no */
} sg_msg_reply;

/* sg_msg_reply_encode appends the msgpack form of r (borrowed) to out;
 * st/sk are written for a stream reply, seq/more when either is set,
 * ver and cu when they are not 0.
 * sg_msg_reply_decode decodes untrusted bytes like sg_msg_req_decode:
 * 0, or SG_EINVAL/SG_ETOOBIG with e naming the field; body points into
 * p; *out untouched on error.  s (100-599) is required; st and sk come
 * together or not at all; ver and cu are integers from 0 to INT64_MAX
 * (a gateway may reuse the reply for the same request while the data
 * version is ver and the time is before cu: docs/protocol.md). */
void sg_msg_reply_encode(const sg_msg_reply *r, sg_buf *out);
int sg_msg_reply_decode(const uint8_t *p, size_t len, sg_msg_reply *out,
                        sg_error *e);

/* An event as the matcher stores it and sends it to gateways: a msgpack
 * map {seq, type, worker, region, data} where data is the JSON text the
 * SSE client receives.  Lists of events travel as a msgpack array of
 * these maps in a reply body (ctype SG_FMT_MSGPACK). */
typedef struct sg_event {
    uint64_t seq;                    /* global sequence number, from 1 */
    char type[8];                    /* "match", "removed", "list" */
    char worker[SG_ID_MAX + 1];      /* recipient */
    char region[SG_REGION_LEN + 1];  /* recipient's village code */
    const char *data;                /* JSON text, borrowed */
    size_t data_len;                 /* its length */
} sg_event;

/* sg_event_encode appends the map of ev (borrowed) to out; a caller
 * writes the array header (msgpack-c's msgpack_pack_array) before. */
void sg_event_encode(const sg_event *ev, sg_buf *out);
/* sg_events_decode walks a msgpack array of events in p, calling cb for
 * each (borrowed for the call); a non-zero cb return stops the walk and
 * is returned.  The whole array is checked before the first call, so cb
 * never sees part of a bad message: SG_EINVAL with e naming the field
 * ("[3].worker").  Seqs must increase; data is non-empty UTF-8 without
 * control characters (one SSE data line). */
typedef int (*sg_event_cb)(void *arg, const sg_event *ev);
int sg_events_decode(const uint8_t *p, size_t len, sg_event_cb cb, void *arg,
                     sg_error *e);

/* The doorbell the matcher publishes after each commit that added events:
 * 8 bytes, the last seq, big-endian. */
void sg_doorbell_encode(uint64_t seq, uint8_t out[8]);
/* sg_doorbell_decode: 0 and *seq, or SG_EINVAL unless len is 8. */
int sg_doorbell_decode(const uint8_t *p, size_t len, uint64_t *seq);

/* sg_pub_url derives the default PUB URL (the doorbell) from a REP listen
 * URL into buf: ipc:// and inproc:// add ".pub", tcp:// takes the next
 * port.  Returns 0, SG_EINVAL for a URL it cannot derive from, or
 * SG_ETOOBIG when buf is too small; buf is written only on success. */
int sg_pub_url(const char *listen, char *buf, size_t cap);

#endif /* SG_MSG_H */
