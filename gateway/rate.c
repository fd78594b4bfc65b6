/* gateway/rate.c -- per-credential rate limits: one token bucket per
 * credential (or, for requests without one, per client address), keyed by
 * a SipHash of it under a random per-process key so that neither the
 * table nor a memory dump holds a credential and nobody can aim
 * collisions.  The table is open-addressed and fixed in size: when a probe
 * window is full, its least recently used bucket is reused, which only
 * ever errs towards letting a request through.  Loop thread only. */
#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RATE_CAP 8192 /* buckets */
#define RATE_PROBE 8  /* slots looked at per key */

void sg__rate_init(sg__rate *r, int rate_per_s, int burst)
{
    assert(crypto_shorthash_KEYBYTES == sizeof r->hkey);
    if (sodium_init() < 0) {
        abort(); /* libsodium cannot run here at all */
    }
    memset(r, 0, sizeof *r);
    r->rate = rate_per_s;
    r->burst = burst > 0 ? burst : (rate_per_s > 0 ? rate_per_s : 1);
    r->cap = RATE_CAP;
    r->b = calloc(r->cap, sizeof *r->b);
    if (r->b == NULL) {
        abort(); /* out of memory */
    }
    randombytes_buf(r->hkey, sizeof r->hkey);
}

void sg__rate_fini(sg__rate *r)
{
    free(r->b);
    r->b = NULL;
}

int sg__rate_take(sg__rate *r, const char *key, size_t len, uint64_t now_ms)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t k;
    sg__bucket *b = NULL, *oldest = NULL;

    if (r->rate <= 0) {
        return 0;
    }
    crypto_shorthash(h, (const unsigned char *)key, len, r->hkey);
    memcpy(&k, h, sizeof k);
    k |= 1; /* 0 marks a free slot */

    /* Find the key's bucket, a free one, or the stalest in the window. */
    for (size_t i = 0; i < RATE_PROBE; i++) {
        sg__bucket *c = &r->b[(k + i) & (r->cap - 1)];
        if (c->key == k) {
            b = c;
            break;
        }
        if (c->key == 0) {
            b = c;
            b->key = k;
            b->tokens = r->burst;
            b->last_ms = now_ms;
            break;
        }
        if (oldest == NULL || c->last_ms < oldest->last_ms) {
            oldest = c;
        }
    }
    if (b == NULL) {
        b = oldest;
        b->key = k;
        b->tokens = r->burst;
        b->last_ms = now_ms;
    }

    /* Refill, then take. */
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * r->rate / 1000.0;
        if (b->tokens > r->burst) {
            b->tokens = r->burst;
        }
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    double wait = (1.0 - b->tokens) / r->rate;
    int secs = (int)wait;
    return secs < wait ? secs + 1 : (secs < 1 ? 1 : secs);
}
