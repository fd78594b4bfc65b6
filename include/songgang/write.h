/* include/songgang/write.h -- the one write path: every record write that
 * the API (matcher/api.c) and the `songgang` command (cmd/songgang.c)
 * make goes through these functions, so a record is stored, indexed and
 * pushed the same way whoever writes it.  Each call runs inside a write
 * transaction the caller owns (and commits); the pushes it makes are in
 * that same transaction (docs/api.md "Push").
 *
 * SG_WRITE_NO_PUSH turns the pushes off: the record and its index entries
 * are written as usual but no event is appended and no pushed set is
 * read or changed.  A pushed set therefore still names exactly the
 * workers that were told of its job and not yet told it was taken back,
 * so a later write with pushes on (close-job, DELETE, PUT) sends `removed`
 * to those and nobody else.  The bulk `songgang import` uses it.
 * Functions return 0 or a negative SG_E* (songgang/err.h). */
#ifndef SG_WRITE_H
#define SG_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "songgang/err.h"
#include "songgang/match.h" /* sg_weights */
#include "songgang/proto.h" /* sg_worker, sg_job, sg_kind */
#include "songgang/store.h" /* sg_txn */

#define SG_WRITE_NO_PUSH 0x1 /* store and index only: no events */

#define SG_WRITE_PUSH_TOP 50 /* candidates pushed per job write, default */

/* sg_write is the state of the writes of one request or one command, in
 * caller storage (sg_write_init); it never owns anything. */
typedef struct sg_write {
    sg_txn *t;           /* the write transaction (borrowed) */
    unsigned flags;      /* SG_WRITE_* */
    int push_top;        /* candidates pushed per job write */
    const sg_weights *w; /* weights of the rankings (borrowed); NULL = defaults */
    int32_t as_of;       /* "today" of the rankings */
    const char *scope;   /* import: region prefix every line must stay under
                            (borrowed); NULL or "" = everywhere */
    uint64_t last_seq;   /* highest seq appended so far; 0 = none */
} sg_write;

/* sg_write_init fills wr for write transaction t (borrowed) with flags
 * (SG_WRITE_*), push_top (<= 0: SG_WRITE_PUSH_TOP), weights w (borrowed,
 * NULL = defaults), as_of today (Asia/Shanghai) and no scope. */
void sg_write_init(sg_write *wr, sg_txn *t, unsigned flags, int push_top,
                   const sg_weights *w);

/* sg_write_worker upserts w (borrowed) with its index entries and pushes
 * (a worker whose status turns returned or idle gets a `list` event).  It
 * reads the stored record first when pushing.  sg_write_worker_over is
 * the same for a caller that already read the stored record in wr->t:
 * old is it (borrowed), or NULL when there is none.  SG_EINVAL (e names
 * the field) for an invalid record, SG_EEXIST (field "id_number") when
 * another worker holds its ID number; on those nothing is written.  Any
 * other error is the store's: the caller must abort wr->t. */
int sg_write_worker(sg_write *wr, const sg_worker *w, sg_error *e);
int sg_write_worker_over(sg_write *wr, const sg_worker *old,
                         const sg_worker *w, sg_error *e);

/* sg_write_job / sg_write_job_over upsert j (borrowed) likewise; an open
 * job with openings is ranked and sent to its top push_top candidates as
 * `match`, whom it reached before and no longer does gets `removed`. */
int sg_write_job(sg_write *wr, const sg_job *j, sg_error *e);
int sg_write_job_over(sg_write *wr, const sg_job *old, const sg_job *j,
                      sg_error *e);

/* sg_write_close_job closes job id (idempotent: a closed job is left as
 * it is) and sends `removed` to every worker it reached.  *out (may be
 * NULL) gets the job as it now stands, on success only.  0 or
 * SG_ENOTFOUND, or the store's error. */
int sg_write_close_job(sg_write *wr, const char *id, sg_job *out);

/* sg_write_delete_job closes job id as sg_write_close_job does (so those
 * it reached are told), then deletes it with its index entries and its
 * pushed set.  0 or SG_ENOTFOUND, or the store's error. */
int sg_write_delete_job(sg_write *wr, const char *id);

/* sg_write_delete_worker deletes worker id with its index entries (the
 * household's others are re-posted if it was the one employed).  It sends
 * no event: a deleted worker has no stream left, and pushed sets that
 * still name it are skipped when their job is taken back.  0 or
 * SG_ENOTFOUND, or the store's error. */
int sg_write_delete_worker(sg_write *wr, const char *id);

/* sg_write_import_line decodes one NDJSON line (len bytes, borrowed) of
 * kind want (0: the line carries "kind", worker or job) and writes it as
 * sg_write_worker / sg_write_job do.  With wr->scope set, a worker line
 * must be under it, and so must the worker it replaces.  idkey is the
 * ID-number key (sg_store_idkey).  Returns 0 when the line landed, 1 when
 * it was rejected (e gives the field and the reason; nothing of it was
 * written), or a negative SG_E* when the store failed (the caller must
 * abort wr->t).  *kind (may be NULL) gets the line's kind when it
 * decoded. */
int sg_write_import_line(sg_write *wr, const char *line, size_t len,
                         sg_kind want, const uint8_t *idkey, sg_kind *kind,
                         sg_error *e);

#endif /* SG_WRITE_H */
