/* gateway/cache.c -- the reply cache: repeated reads answered by the
 * gateway itself, exactly as the matcher would answer them.  The matcher
 * marks a reply reusable (cache_until_ms) when it depends only on the
 * request, the credential, the data and the day, and tags every reply with
 * the data version it reflects (LMDB's transaction id).  An entry is
 * keyed by a keyed hash of the whole request message -- method, path,
 * query, the full credential, host, formats -- and answers only while:
 *   - its version is the highest the gateway has seen in any reply, so a
 *     write through this gateway (whose reply carries the new version)
 *     ends every older entry at once;
 *   - a version poll (SG /version, every poll_ms / 2) sent less than
 *     poll_ms ago has answered, so a write made elsewhere (another
 *     gateway, the CLI) is seen within poll_ms, and a matcher that does
 *     not answer gets no reply served in its name;
 *   - the time is before its cache_until_ms (credential expiry, midnight);
 *   - the connection to the matcher is the one it came over (a restarted
 *     matcher may have other data, weights or code: everything goes).
 * Entries are evicted least recently used first, to a bound in bytes.
 * The key is a hash, so the table never holds a credential.  Loop thread
 * only. */
#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define CACHE_BUCKETS0 1024 /* initial hash buckets */
#define ENTRY_SHARE 8       /* an entry may take 1/ENTRY_SHARE of the bound */

struct sg__centry {
    sg__centry *chain;         /* next in its hash bucket */
    sg__centry *newer;         /* towards the most recently used */
    sg__centry *older;         /* towards the least recently used */
    uint8_t key[SG__CACHE_KEY]; /* hash of the request message */
    uint64_t version;          /* data version of the reply */
    int64_t until_ms;          /* unix ms it may be used until */
    size_t cost;               /* bytes counted against the bound */
    int status;                /* HTTP status */
    uint8_t ctype;             /* enum sg_fmt of the body */
    size_t len;                /* body bytes */
    uint8_t body[];            /* the body */
};

/* ---- Clocks. ---- */

/* mono_ms is the clock of the freshness window (never jumps). */
static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* wall_ms is the clock of cache_until_ms, which the matcher sets from its
 * own: the two must agree (one machine, or NTP). */
static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- The table and the LRU list. ---- */

static size_t bucket(const sg__cache *c, const uint8_t *key)
{
    uint64_t h;

    memcpy(&h, key, sizeof h);
    return (size_t)h & (c->cap - 1);
}

static void lru_unlink(sg__cache *c, sg__centry *e)
{
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        c->mru = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        c->lru = e->newer;
    }
    e->newer = e->older = NULL;
}

static void lru_push(sg__cache *c, sg__centry *e)
{
    e->newer = NULL;
    e->older = c->mru;
    if (c->mru != NULL) {
        c->mru->newer = e;
    } else {
        c->lru = e;
    }
    c->mru = e;
}

/* find returns the entry of key and, in *link, the pointer that holds it. */
static sg__centry *find(sg__cache *c, const uint8_t *key, sg__centry ***link)
{
    sg__centry **p = &c->tab[bucket(c, key)];

    for (; *p != NULL; p = &(*p)->chain) {
        if (memcmp((*p)->key, key, SG__CACHE_KEY) == 0) {
            *link = p;
            return *p;
        }
    }
    return NULL;
}

/* drop frees e, which *link holds. */
static void drop(sg__cache *c, sg__centry **link, sg__centry *e)
{
    *link = e->chain;
    lru_unlink(c, e);
    c->bytes -= e->cost;
    c->n--;
    free(e);
}

static void drop_key(sg__cache *c, const uint8_t *key)
{
    sg__centry **link, *e = find(c, key, &link);

    if (e != NULL) {
        drop(c, link, e);
    }
}

/* grow doubles the buckets once the chains average more than one. */
static void grow(sg__cache *c)
{
    size_t old = c->cap;
    sg__centry **tab = c->tab;

    c->cap = old * 2;
    c->tab = calloc(c->cap, sizeof *c->tab);
    if (c->tab == NULL) {
        abort(); /* out of memory */
    }
    for (size_t i = 0; i < old; i++) {
        while (tab[i] != NULL) {
            sg__centry *e = tab[i];
            size_t b = bucket(c, e->key);
            tab[i] = e->chain;
            e->chain = c->tab[b];
            c->tab[b] = e;
        }
    }
    free(tab);
}

static void clear(sg__cache *c)
{
    while (c->lru != NULL) {
        drop_key(c, c->lru->key);
    }
    assert(c->n == 0 && c->bytes == 0);
}

/* same_epoch starts over when the connection to the matcher changed: the
 * matcher may now be another process, with other data (restored from a
 * copy, whose versions may repeat), weights or code. */
static void same_epoch(sg__cache *c, unsigned epoch)
{
    if (epoch == c->epoch) {
        return;
    }
    clear(c);
    c->epoch = epoch;
    c->known = 0;
    c->fresh_set = false;
}

/* ---- Using and filling the cache. ---- */

bool sg__cache_on(const sg__cache *c)
{
    return c->max_bytes > 0 && c->handles;
}

void sg__cache_key(const sg__cache *c, const uint8_t *msg, size_t len,
                   uint8_t key[SG__CACHE_KEY])
{
    crypto_generichash(key, SG__CACHE_KEY, msg, len, c->hkey, sizeof c->hkey);
}

const sg__centry *sg__cache_get(sg__cache *c, const uint8_t *key,
                                unsigned epoch)
{
    sg__centry **link, *e;

    same_epoch(c, epoch);
    e = find(c, key, &link);
    if (e == NULL) {
        c->misses++;
        return NULL;
    }
    /* Older data or past its time: it can never answer again. */
    if (e->version != c->known || wall_ms() >= e->until_ms) {
        drop(c, link, e);
        c->misses++;
        return NULL;
    }
    /* No recent word from the matcher: a write made elsewhere might be
     * unseen.  The entry stays: the next poll may vouch for it again. */
    if (!c->fresh_set || mono_ms() - c->fresh_ms >= (uint64_t)c->poll_ms) {
        c->misses++;
        return NULL;
    }
    lru_unlink(c, e);
    lru_push(c, e);
    c->hits++;
    return e;
}

void sg__centry_reply(const sg__centry *e, sg_msg_reply *out)
{
    memset(out, 0, sizeof *out);
    out->status = e->status;
    out->ctype = e->ctype;
    out->body = e->len > 0 ? e->body : NULL;
    out->body_len = e->len;
    out->version = e->version;
    out->cache_until_ms = e->until_ms;
}

void sg__cache_seen(sg__cache *c, const sg_msg_reply *rep, unsigned epoch)
{
    if (c->max_bytes == 0) {
        return;
    }
    same_epoch(c, epoch);
    if (rep->version > c->known) {
        c->known = rep->version; /* every older entry is stale now */
    }
}

void sg__cache_put(sg__cache *c, const uint8_t *key, unsigned sent_epoch,
                   unsigned epoch, const sg_msg_reply *rep)
{
    sg__centry *e;
    size_t cost;
    size_t b;

    if (!sg__cache_on(c)) {
        return;
    }
    same_epoch(c, epoch);
    /* Only what the matcher marked reusable, of the newest data known, from
     * the matcher the request went to. */
    if (sent_epoch != epoch || rep->cache_until_ms <= 0 || rep->version == 0 ||
        rep->version != c->known || rep->status != 200 ||
        rep->stream != SG_STREAM_NONE || wall_ms() >= rep->cache_until_ms) {
        return;
    }
    cost = sizeof *e + rep->body_len;
    if (cost > c->max_bytes / ENTRY_SHARE) {
        drop_key(c, key); /* too big to keep; an older copy must go too */
        return;
    }

    drop_key(c, key);
    e = malloc(cost);
    if (e == NULL) {
        abort(); /* out of memory */
    }
    memcpy(e->key, key, SG__CACHE_KEY);
    e->version = rep->version;
    e->until_ms = rep->cache_until_ms;
    e->cost = cost;
    e->status = rep->status;
    e->ctype = rep->ctype;
    e->len = rep->body_len;
    if (rep->body_len > 0) {
        memcpy(e->body, rep->body, rep->body_len);
    }
    b = bucket(c, key);
    e->chain = c->tab[b];
    c->tab[b] = e;
    lru_push(c, e);
    c->bytes += cost;
    c->n++;

    /* Evict to the bound, least recently used first (never e itself:
     * it is the most recent and fits). */
    while (c->bytes > c->max_bytes) {
        drop_key(c, c->lru->key);
    }
    if (c->n > c->cap) {
        grow(c);
    }
}

/* ---- The version poll. ---- */

static void poll_cb(void *arg, int rc, const sg_msg_reply *rep,
                    const sg_error *e)
{
    sg__cache *c = arg;

    (void)e;
    c->poll = NULL;
    /* The client has already raised `known` from rep (sg__cache_seen).
     * Only an answer from the matcher we talk to now vouches: replies
     * stored up to the version it gave are current as of its sending. */
    if (rc == 0 && rep->status == 200 && rep->version > 0 &&
        c->poll_epoch == sg__client_epoch(&c->g->client) &&
        c->poll_epoch == c->epoch) {
        if (!c->fresh_set || c->poll_sent_ms > c->fresh_ms) {
            c->fresh_ms = c->poll_sent_ms;
        }
        c->fresh_set = true;
    }
}

static void timer_cb(uv_timer_t *t)
{
    sg__cache *c = t->data;
    sg_msg_req m;
    sg_error e;
    int rc;

    if (c->poll != NULL) {
        return; /* one at a time: a slow matcher is not asked twice */
    }
    /* The send time, taken before the call: the answer is at least as
     * new as this. */
    c->poll_sent_ms = mono_ms();
    c->poll_epoch = sg__client_epoch(&c->g->client);
    same_epoch(c, c->poll_epoch);
    rc = sg__req_build(&m, "SG", "/version", 8, NULL, NULL, SG_FMT_NONE,
                       SG_FMT_JSON, 0, NULL, 0, &e);
    assert(rc == 0);
    (void)rc;
    if (sg__client_call_first(&c->g->client, &m, poll_cb, c, &c->poll) != 0) {
        c->poll = NULL; /* the matcher is down: no answer vouches */
    }
}

void sg__cache_init(sg__cache *c, sg_gateway *g, uv_loop_t *loop,
                    int cache_mb, int poll_ms)
{
    if (sodium_init() < 0) {
        abort(); /* libsodium cannot run here at all */
    }
    memset(c, 0, sizeof *c);
    c->g = g;
    c->max_bytes = cache_mb > 0 ? (size_t)cache_mb << 20 : 0;
    c->poll_ms = poll_ms > 1 ? poll_ms : 2;
    c->cap = CACHE_BUCKETS0;
    c->tab = calloc(c->cap, sizeof *c->tab);
    if (c->tab == NULL) {
        abort(); /* out of memory */
    }
    randombytes_buf(c->hkey, sizeof c->hkey);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles = true;
}

void sg__cache_start(sg__cache *c)
{
    if (!sg__cache_on(c)) {
        return;
    }
    /* Two polls per window, so that one answer is always younger than
     * poll_ms while the matcher answers within poll_ms / 2. */
    uint64_t every = (uint64_t)c->poll_ms / 2;
    uv_timer_start(&c->timer, timer_cb, 0, every > 0 ? every : 1);
}

void sg__cache_stop(sg__cache *c)
{
    if (!c->handles) {
        return;
    }
    if (c->poll != NULL) {
        sg__call_cancel(&c->g->client, c->poll);
        c->poll = NULL;
    }
    uv_close((uv_handle_t *)&c->timer, NULL);
    c->handles = false;
    c->fresh_set = false;
}

void sg__cache_fini(sg__cache *c)
{
    if (c->tab == NULL) {
        return;
    }
    clear(c);
    free(c->tab);
    c->tab = NULL;
}
