/* matcher/auth.c -- API keys, worker tokens and the principal they name.
 * Keys are random (32 bytes) and stored only as a BLAKE2b-256 hash of the
 * whole key, so a copy of the data directory holds no usable key.  Worker
 * tokens are Ed25519-signed (the seed is dir/token.key), so a QR link can
 * be checked by signature first and by its record (not revoked) second.
 * Nothing here logs, and no error message holds a credential.  Called in
 * whatever thread owns the transaction (matcher reader or writer, CLI). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "songgang/auth.h"

#define SECRET_LEN 32 /* random bytes of a key's secret */
#define SECRET_B64 43 /* their base64url length, no padding */
#define SIG_HEX 128   /* hex digits of an Ed25519 signature */

static const char *const role_names[SG_ROLE__COUNT] = {
    "none", "admin", "officer", "employer", "worker",
};

const char *sg_role_name(int role)
{
    return role >= 0 && role < SG_ROLE__COUNT ? role_names[role] : NULL;
}

int sg_role_parse(const char *s)
{
    for (int r = SG_ROLE_ADMIN; r < SG_ROLE__COUNT; r++) {
        if (strcmp(s, role_names[r]) == 0) {
            return r;
        }
    }
    return -1;
}

void sg_auth_init(sg_auth *a, const sg_store *s)
{
    memset(a, 0, sizeof(*a));
    const uint8_t *seed = sg_store_token_seed(s);
    if (seed != NULL && sodium_init() >= 0) {
        crypto_sign_seed_keypair(a->pk, a->sk, seed);
        a->have = true;
    }
}

void sg_auth_fini(sg_auth *a)
{
    sodium_memzero(a, sizeof(*a));
}

static bool lhex_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* scope_ok: "" or a known region code of 2, 4, 6, 9 or 12 digits. */
static bool scope_ok(const char *s)
{
    size_t n = strlen(s);
    sg_region_info info;
    if (n == 0) {
        return true;
    }
    if (n != 2 && n != 4 && n != 6 && n != 9 && n != 12) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return sg_region_lookup(s, &info) == 0;
}

/* new_id makes a random 8-hex-digit id. */
static void new_id(char id[SG_CRED_ID_LEN + 1])
{
    uint8_t r[SG_CRED_ID_LEN / 2];
    randombytes_buf(r, sizeof(r));
    sodium_bin2hex(id, SG_CRED_ID_LEN + 1, r, sizeof(r));
}

int sg_auth_key_create(sg_txn *t, const sg_cred *tmpl, char out[SG_KEY_LEN + 1],
                       char id[SG_CRED_ID_LEN + 1], sg_error *e)
{
    int role = tmpl->role;
    if (role != SG_ROLE_ADMIN && role != SG_ROLE_OFFICER &&
        role != SG_ROLE_EMPLOYER) {
        return sg_error_set(e, SG_EINVAL, "role",
                            "an API key is for admin, officer or employer "
                            "(a worker gets a token)");
    }
    if (!scope_ok(tmpl->scope)) {
        return sg_error_set(e, SG_EINVAL, "scope",
                            "must be a known region code of 2, 4, 6, 9 or "
                            "12 digits");
    }
    if (role == SG_ROLE_OFFICER && tmpl->scope[0] == '\0') {
        return sg_error_set(e, SG_EINVAL, "scope",
                            "an officer key needs a scope");
    }
    if (role == SG_ROLE_EMPLOYER && tmpl->scope[0] != '\0') {
        return sg_error_set(e, SG_EINVAL, "scope",
                            "an employer key has no scope");
    }
    if ((role == SG_ROLE_EMPLOYER) != (tmpl->employer[0] != '\0') ||
        (tmpl->employer[0] != '\0' &&
         !sg_id_valid(tmpl->employer, strlen(tmpl->employer)))) {
        return sg_error_set(e, SG_EINVAL, "employer",
                            role == SG_ROLE_EMPLOYER
                                ? "an employer key needs a valid employer id"
                                : "only an employer key names an employer");
    }
    sg_cred c;
    memset(&c, 0, sizeof(c));
    c.role = (uint8_t)role;
    memcpy(c.scope, tmpl->scope, sizeof(c.scope));
    memcpy(c.employer, tmpl->employer, sizeof(c.employer));
    c.created = (int64_t)time(NULL);
    c.expires = tmpl->expires;
    char key[SG_KEY_LEN + 1];
    int rc;
    do { /* a taken id (1 in 4 billion) just draws again */
        uint8_t secret[SECRET_LEN];
        char b64[SECRET_B64 + 1];
        new_id(c.id);
        randombytes_buf(secret, sizeof(secret));
        sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        snprintf(key, sizeof(key), "sgk_%s_%s", c.id, b64);
        crypto_generichash(c.hash, sizeof(c.hash), (const uint8_t *)key,
                           SG_KEY_LEN, NULL, 0);
        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(b64, sizeof(b64));
        rc = sg_txn_cred_add(t, &c);
    } while (rc == SG_EEXIST);
    if (rc == 0) {
        memcpy(out, key, sizeof(key));
        memcpy(id, c.id, sizeof(c.id));
    }
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* token_body writes "<id>_<exp>_<worker>", the signed part of a token. */
static int token_body(char *buf, size_t cap, const char *id, int64_t exp,
                      const char *worker)
{
    return snprintf(buf, cap, "%s_%lld_%s", id, (long long)exp, worker);
}

int sg_auth_token_issue(const sg_auth *a, sg_txn *t, const char *worker,
                        int64_t expires, char out[SG_TOKEN_MAX + 1],
                        char id[SG_CRED_ID_LEN + 1], sg_error *e)
{
    if (!sg_id_valid(worker, strlen(worker))) {
        return sg_error_set(e, SG_EINVAL, "worker",
                            "must be 1-32 of A-Z a-z 0-9 _ -");
    }
    if (expires < 0) {
        return sg_error_set(e, SG_EINVAL, "expires", "must not be negative");
    }
    if (!a->have) {
        return sg_error_set(e, SG_EIO, "", "no token signing key");
    }
    sg_cred c;
    memset(&c, 0, sizeof(c));
    c.token = true;
    c.role = SG_ROLE_WORKER;
    memcpy(c.worker, worker, strlen(worker) + 1);
    c.created = (int64_t)time(NULL);
    c.expires = expires;
    int rc;
    do {
        new_id(c.id);
        rc = sg_txn_cred_add(t, &c);
    } while (rc == SG_EEXIST);
    if (rc != 0) {
        return rc;
    }
    char body[64]; /* 8 + 1 + at most 19 + 1 + at most 32 */
    int n = token_body(body, sizeof(body), c.id, expires, worker);
    if (n < 0 || (size_t)n >= sizeof(body)) {
        return sg_error_set(e, SG_EINVAL, "expires", "too large");
    }
    uint8_t sig[crypto_sign_BYTES];
    char hex[SIG_HEX + 1];
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, (size_t)n, a->sk);
    sodium_bin2hex(hex, sizeof(hex), sig, sizeof(sig));
    snprintf(out, SG_TOKEN_MAX + 1, "sgt_%s_%s", body, hex);
    memcpy(id, c.id, sizeof(c.id));
    return 0;
}

/* check_key: "sgk_" + 8 hex + "_" + 43 base64url, found by its hash. */
static int check_key(sg_txn *t, const char *cred, int64_t now,
                     sg_principal *out)
{
    size_t n = strlen(cred);
    if (n != SG_KEY_LEN || cred[4 + SG_CRED_ID_LEN] != '_' ||
        !lhex_ok(cred + 4, SG_CRED_ID_LEN)) {
        return SG_ENOTFOUND;
    }
    uint8_t hash[SG_CRED_HASH_LEN];
    crypto_generichash(hash, sizeof(hash), (const uint8_t *)cred, n, NULL, 0);
    sg_cred c;
    int rc = sg_txn_key_get(t, hash, &c);
    if (rc != 0) {
        return rc == SG_ECORRUPT ? rc : SG_ENOTFOUND;
    }
    if (sodium_memcmp(c.hash, hash, sizeof(hash)) != 0 || c.token ||
        memcmp(c.id, cred + 4, SG_CRED_ID_LEN) != 0 || c.revoked ||
        (c.expires != 0 && now >= c.expires)) {
        return SG_ENOTFOUND;
    }
    memset(out, 0, sizeof(*out));
    out->role = c.role;
    memcpy(out->id, c.id, sizeof(out->id));
    memcpy(out->scope, c.scope, sizeof(out->scope));
    memcpy(out->employer, c.employer, sizeof(out->employer));
    return 0;
}

/* check_token: "sgt_<id>_<exp>_<worker>_<sig>".  The worker id may hold
 * '_', so the signature (fixed length) is cut from the end first. */
static int check_token(const sg_auth *a, sg_txn *t, const char *cred,
                       int64_t now, sg_principal *out)
{
    size_t n = strlen(cred);
    if (!a->have || n < 4 + SG_CRED_ID_LEN + 5 + SIG_HEX || n > SG_TOKEN_MAX ||
        cred[n - SIG_HEX - 1] != '_' || !lhex_ok(cred + n - SIG_HEX, SIG_HEX)) {
        return SG_ENOTFOUND;
    }
    const char *body = cred + 4;
    size_t blen = n - 4 - SIG_HEX - 1;
    uint8_t sig[crypto_sign_BYTES];
    if (sodium_hex2bin(sig, sizeof(sig), cred + n - SIG_HEX, SIG_HEX, NULL,
                       NULL, NULL) != 0 ||
        crypto_sign_verify_detached(sig, (const uint8_t *)body, blen, a->pk) !=
            0) {
        return SG_ENOTFOUND;
    }
    /* Signed, so well formed as issued; parse it all the same. */
    char id[SG_CRED_ID_LEN + 1], worker[SG_ID_MAX + 1];
    if (blen < SG_CRED_ID_LEN + 4 || body[SG_CRED_ID_LEN] != '_' ||
        !lhex_ok(body, SG_CRED_ID_LEN)) {
        return SG_ENOTFOUND;
    }
    memcpy(id, body, SG_CRED_ID_LEN);
    id[SG_CRED_ID_LEN] = '\0';
    size_t i = SG_CRED_ID_LEN + 1;
    int64_t exp = 0;
    size_t digits = 0;
    while (i < blen && body[i] >= '0' && body[i] <= '9' && digits < 18) {
        exp = exp * 10 + (body[i] - '0');
        i++;
        digits++;
    }
    size_t wl = blen - i - 1;
    if (digits == 0 || i >= blen || body[i] != '_' || wl < 1 ||
        wl > SG_ID_MAX) {
        return SG_ENOTFOUND;
    }
    memcpy(worker, body + i + 1, wl);
    worker[wl] = '\0';
    if (!sg_id_valid(worker, strlen(worker)) || now >= exp) {
        return SG_ENOTFOUND;
    }
    sg_cred c;
    int rc = sg_txn_token_get(t, id, &c);
    if (rc != 0) {
        return rc == SG_ECORRUPT ? rc : SG_ENOTFOUND;
    }
    if (!c.token || c.revoked || c.expires != exp ||
        strcmp(c.worker, worker) != 0) {
        return SG_ENOTFOUND;
    }
    memset(out, 0, sizeof(*out));
    out->role = SG_ROLE_WORKER;
    memcpy(out->id, id, sizeof(out->id));
    memcpy(out->worker, worker, sizeof(out->worker));
    return 0;
}

int sg_auth_check(const sg_auth *a, sg_txn *t, const char *cred, int64_t now,
                  sg_principal *out)
{
    if (cred == NULL || strlen(cred) > SG_TOKEN_MAX) {
        return SG_ENOTFOUND;
    }
    if (strncmp(cred, "sgk_", 4) == 0) {
        return check_key(t, cred, now, out);
    }
    if (strncmp(cred, "sgt_", 4) == 0) {
        return check_token(a, t, cred, now, out);
    }
    return SG_ENOTFOUND;
}

/* ---- Scopes: region prefixes. ---- */

bool sg__under(const char *region, const char *prefix)
{
    return strncmp(region, prefix, strlen(prefix)) == 0;
}

bool sg__job_under(const sg_job *j, const char *prefix)
{
    for (size_t i = 0; i < j->nsites; i++) {
        if (sg__under(j->sites[i].region, prefix)) {
            return true;
        }
    }
    return prefix[0] == '\0';
}
