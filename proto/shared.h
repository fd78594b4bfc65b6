/* proto/shared.h -- proto's private functions that the matcher and the
 * gateway use too: songgang's own, never public API (include/songgang/
 * holds only that).  Included by path ("../proto/shared.h") from
 * matcher/internal.h and gateway/internal.h.  Any thread. */
#ifndef SG_PROTO_SHARED_H
#define SG_PROTO_SHARED_H

/* sg__err_nng translates an NNG error code into 0 or a negative SG_E*
 * (proto/errors.c, the one place it is done): bad arguments or URLs are
 * SG_EINVAL; a busy address, a time-out or a refused connection (worth a
 * retry) SG_EBUSY; anything else SG_EIO. */
int sg__err_nng(int nngrc);

#endif /* SG_PROTO_SHARED_H */
