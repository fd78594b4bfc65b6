/* include/songgang/err.h -- error codes shared by every module.
 * Functions return 0 or a negative SG_E*.  Errors that come from bad input
 * also fill an sg_error with the field and a reason a person can read, so
 * a caller can show it as is (CLI line, HTTP JSON error).
 *
 * Out-parameters, in every public header:
 *  - inputs first, then out-parameters (a buffer before its capacity:
 *    out, cap), then the sg_error *e, always last;
 *  - except the object a call acts on, which comes first: a constructor's
 *    sg_x **out (sg_x_open), the caller storage of init/fini and
 *    sg_buf_append, a record filled in place (sg_weights_load,
 *    sg_idnum_protect);
 *  - an out-parameter is written only when the call returns 0; on an
 *    error it is left as it was (an sg_error is the one filled on error);
 *  - one that may be NULL, or that is written on an error too, says so
 *    in its prototype's comment. */
#ifndef SG_ERR_H
#define SG_ERR_H

#include <stddef.h>

#define SG_OK 0
#define SG_EINVAL (-1)    /* bad input: see sg_error.field / reason */
#define SG_ENOTFOUND (-2) /* no such record */
#define SG_EEXIST (-3)    /* conflicts with another record */
#define SG_EIO (-4)       /* file system or LMDB failure */
#define SG_EFULL (-5)     /* the LMDB map is full */
#define SG_ETOOBIG (-6)   /* input over a documented limit */
#define SG_EVERSION (-7)  /* record or store of an unknown schema version */
#define SG_ECORRUPT (-8)  /* stored bytes that do not decode */
#define SG_EBUSY (-9)     /* another process holds what we need */

/* sg_error carries the field and the reason for an SG_EINVAL (or
 * SG_ETOOBIG / SG_EEXIST) so that the caller can show them as is.
 * field uses JSON-path-like names: "skills[2]", "sites[0].region". */
typedef struct sg_error {
    char field[64];   /* offending field, "" when it is the whole input */
    char reason[192]; /* why, in English, one line */
} sg_error;

/* sg_strerror returns a static English name for an SG_E* code. */
const char *sg_strerror(int rc);

/* sg_error_set fills e (which may be NULL) and returns rc, so that a
 * decoder can write `return sg_error_set(e, SG_EINVAL, "name", "...")`. */
int sg_error_set(sg_error *e, int rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* sg_error_clear empties e (NULL is a no-op). */
void sg_error_clear(sg_error *e);

#endif /* SG_ERR_H */
