/* tools/gen.h -- the synthetic-data generator behind `songgang gen`.
 * It writes workers and jobs as NDJSON that looks like a Chinese county's
 * records (labor classes, households, 帮扶车间, 公益性岗位 ...), for demos,
 * tests and benchmarks.  Output depends only on the options: the same
 * options give the same bytes on every machine.  Runs on the caller's
 * thread; no global state. */
#ifndef SG_GEN_H
#define SG_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "songgang/err.h"
#include "songgang/proto.h" /* sg_region_info */

/* sg_gen_opts says what to generate. */
typedef struct sg_gen_opts {
    const char *county; /* 6-digit home county, e.g. "360425" */
    int counties;       /* K >= 1: county plus the next K-1 in table order */
    uint64_t workers;   /* N worker lines, written first */
    uint64_t jobs;      /* M job lines, written after the workers */
    uint64_t seed;      /* PRNG seed; same seed, same bytes */
} sg_gen_opts;

/* sg_gen_write borrows out and o and writes N worker lines then M job
 * lines, one JSON object per line, each with "kind".  "The next K-1
 * counties" are those that follow o->county in sg_county_at order,
 * wrapping around.  Returns 0; SG_EINVAL when o->county is not a known
 * Jiangxi county or o->counties is not in 1..sg_county_count(); SG_EIO
 * when a write fails (what was written stays written). */
int sg_gen_write(FILE *out, const sg_gen_opts *o);

/* sg__region_export_count / sg__region_export_at enumerate the counties
 * flagged export in data/regions.tsv (labor-export destinations outside
 * Jiangxi).  They are defined in proto/tables.c and belong in
 * proto/internal.h; they are declared here because the generator is
 * their only user. */
size_t sg__region_export_count(void);
const sg_region_info *sg__region_export_at(size_t i);

#endif /* SG_GEN_H */
