/* proto/internal.h -- private declarations shared by the proto/ files.
 * Civil-date arithmetic, the string checks that both validation and the
 * decoders use, and the msgpack decoders without their input size limit
 * (the JSON decoder has its own, larger one).  Any thread may call these:
 * nothing here keeps state. */
#ifndef SG_PROTO_INTERNAL_H
#define SG_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "songgang/proto.h"
#include "shared.h"

/* Dates are supported for years 1900..2199 only: a 4-digit year, and a
 * range wide enough for birth dates and contract ends. */
#define SG__YEAR_MIN 1900
#define SG__YEAR_MAX 2199
#define SG__DATE_MIN (-25567) /* 1900-01-01 in days since 1970-01-01 */
#define SG__DATE_MAX 84005    /* 2199-12-31 */

/* sg__days_from_civil returns the days since 1970-01-01 of y-m-d (any
 * proleptic Gregorian date); sg__civil_from_days is its inverse. */
int64_t sg__days_from_civil(int64_t y, unsigned m, unsigned d);
void sg__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* sg__days_in_month returns 28..31 for month m (1..12) of year y. */
unsigned sg__days_in_month(int64_t y, unsigned m);
/* sg__date_ok tells whether days is a supported date (not SG_DATE_NONE). */
bool sg__date_ok(int32_t days);

/* sg__text_check checks that s[0..len) is valid UTF-8 without control
 * characters (C0, DEL, C1, NUL); returns NULL or a static reason. */
const char *sg__text_check(const char *s, size_t len);
/* sg__phone_ok tells whether s[0..len) is 5-20 of digits, '+', '-', ' '. */
bool sg__phone_ok(const char *s, size_t len);
/* sg__masked_ok tells whether s[0..len) matches [0-9]{6}\*{8}[0-9]{3}[0-9X]. */
bool sg__masked_ok(const char *s, size_t len);
/* sg__hex_parse reads 2n lowercase hex digits into out[n]; false if bad. */
bool sg__hex_parse(const char *s, size_t len, uint8_t *out, size_t n);
/* sg__quote writes s[0..len) into out[cap] for an error message: invalid
 * UTF-8 and control bytes become '?', and a long text is cut with "...". */
void sg__quote(const char *s, size_t len, char *out, size_t cap);

/* sg__worker_check / sg__job_check are sg_worker_validate and
 * sg_job_validate; regions false skips sg_region_check, for the decoders,
 * which have checked every region code already. */
int sg__worker_check(const sg_worker *w, bool regions, sg_error *e);
int sg__job_check(const sg_job *j, bool regions, sg_error *e);

/* sg__worker_decode_mp / sg__job_decode_mp are the strict msgpack decoders
 * without the SG_RECORD_MAX limit on len (callers bound it); same contract
 * as sg_worker_decode / sg_job_decode otherwise. */
int sg__worker_decode_mp(const uint8_t *p, size_t len, const uint8_t *idkey,
                         sg_worker *out, sg_error *e);
int sg__job_decode_mp(const uint8_t *p, size_t len, sg_job *out,
                      sg_error *e);

/* ---- The strict msgpack pull reader (proto/msgpack.c). ----
 * It never allocates: strings point into the input, and every count a
 * header claims is checked against the bytes that remain.  Used by the
 * record decoders and by the message decoders (proto/msg.c). */

enum sg__mp_type {
    SG__MP_NIL,
    SG__MP_BOOL,
    SG__MP_INT,
    SG__MP_FLOAT,
    SG__MP_STR,
    SG__MP_BIN,
    SG__MP_ARRAY,
    SG__MP_MAP
};

typedef struct sg__mp_reader {
    const uint8_t *p; /* input, borrowed */
    size_t len;       /* bytes of input */
    size_t pos;       /* next byte to read */
} sg__mp_reader;

typedef struct sg__mp_item {
    enum sg__mp_type type; /* what was read */
    bool b;                /* SG__MP_BOOL */
    bool big;              /* SG__MP_INT above INT64_MAX */
    int64_t i;             /* SG__MP_INT */
    double f;              /* SG__MP_FLOAT (float32 widened) */
    const char *s;         /* SG__MP_STR, SG__MP_BIN: bytes in the input */
    uint32_t n;            /* STR, BIN: length; ARRAY, MAP: count */
} sg__mp_item;

/* sg__mp_read reads one item header (and a str/bin body, borrowed from
 * r's input) into *it and returns NULL, or a static reason when the bytes
 * are not acceptable msgpack (truncated, 0xc1, ext types, a count larger
 * than the bytes left).  A container's entries are read by further calls;
 * the count is bounded by the bytes that remain. */
const char *sg__mp_read(sg__mp_reader *r, sg__mp_item *it);

#endif /* SG_PROTO_INTERNAL_H */
