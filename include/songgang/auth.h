/* include/songgang/auth.h -- credentials: API keys, worker tokens, roles.
 * An API key (`sgk_<id>_<secret>`) is stored only as the BLAKE2b-256 hash
 * of the whole key; a worker token (`sgt_<id>_<exp>_<worker>_<sig>`) is
 * signed with Ed25519 under dir/token.key and checked without a secret
 * lookup, but its id must be on record and not revoked.  Neither a key
 * nor a token ever appears in a log line or an error message.  The
 * records live in the store (songgang/store.h); any thread that holds a
 * transaction may call these.  Functions return 0 or a negative SG_E*. */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "songgang/err.h"
#include "songgang/store.h"

/* Roles (docs/api.md "Credentials and roles"). */
enum sg_role {
    SG_ROLE_NONE,     /* no credential */
    SG_ROLE_ADMIN,    /* county employment center; may be scoped */
    SG_ROLE_OFFICER,  /* scoped to a region prefix */
    SG_ROLE_EMPLOYER, /* one employer's jobs */
    SG_ROLE_WORKER,   /* a worker token: one worker */
    SG_ROLE__COUNT
};

#define SG_KEY_LEN 56        /* "sgk_" 8 hex "_" 43 base64url */
#define SG_TOKEN_MAX 200     /* "sgt_" id "_" exp "_" worker "_" 128 hex */
#define SG_TOKEN_TTL_DAYS 30 /* default lifetime of a worker token */

/* sg_role_name returns "admin", "officer", ... or NULL out of range;
 * sg_role_parse returns the role named s, or -1. */
const char *sg_role_name(int role);
int sg_role_parse(const char *s);

/* sg_principal is who a checked credential speaks for. */
typedef struct sg_principal {
    uint8_t role;                  /* enum sg_role */
    char id[SG_CRED_ID_LEN + 1];   /* the key's or token's id */
    char scope[SG_REGION_LEN + 1]; /* region prefix; "" = everywhere */
    char employer[SG_ID_MAX + 1];  /* employer role: its employer */
    char worker[SG_ID_MAX + 1];    /* worker role: its worker */
} sg_principal;

/* sg_auth holds the token signing keys, derived from the store's seed.
 * Caller storage: sg_auth_init / sg_auth_fini (which wipes them). */
typedef struct sg_auth {
    bool have;      /* a seed was found: tokens can be issued and checked */
    uint8_t pk[32]; /* Ed25519 public key */
    uint8_t sk[64]; /* Ed25519 secret key */
} sg_auth;

/* sg_auth_init derives the keys from s's token seed (borrowed); without
 * one (a read-only store that has none) every token is refused. */
void sg_auth_init(sg_auth *a, const sg_store *s);
void sg_auth_fini(sg_auth *a);

/* sg_auth_key_create makes an API key for tmpl's role, scope, employer
 * and expires (borrowed; other fields ignored), stores its record in t
 * and writes the key and a NUL into out, and its id into id.  The key is
 * shown this once.  SG_EINVAL with e naming "role", "scope" or
 * "employer" when they do not fit the role (docs/api.md). */
int sg_auth_key_create(sg_txn *t, const sg_cred *tmpl, char out[SG_KEY_LEN + 1],
                       char id[SG_CRED_ID_LEN + 1], sg_error *e);

/* sg_auth_token_issue signs a token for worker (borrowed) that expires at
 * unix time expires, stores its record in t and writes it into out.
 * SG_EINVAL ("worker") for a bad id, SG_EIO when a has no key. */
int sg_auth_token_issue(const sg_auth *a, sg_txn *t, const char *worker,
                        int64_t expires, char out[SG_TOKEN_MAX + 1],
                        char id[SG_CRED_ID_LEN + 1], sg_error *e);

/* sg_auth_check checks credential cred (borrowed) at unix time now and
 * fills *out: 0, or SG_ENOTFOUND for a malformed, unknown, forged,
 * expired or revoked one (the caller answers 401 without saying which),
 * or another SG_E* when the store fails.  Keys are found by hash and
 * compared in constant time; tokens by signature, then by id. */
int sg_auth_check(const sg_auth *a, sg_txn *t, const char *cred, int64_t now,
                  sg_principal *out);

#endif /* SG_AUTH_H */
