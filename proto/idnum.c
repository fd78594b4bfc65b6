/* proto/idnum.c -- national ID numbers (GB 11643-1999), checked and then
 * kept only as a keyed BLAKE2b hash and a masked form.  The clear number
 * is copied only into a stack temporary that is wiped with sodium_memzero,
 * and no error reason ever quotes any part of it.  Any thread. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define IDNUM_LEN 18

/* Province-level codes of GB/T 2260 that an ID number may start with. */
static bool province_ok(unsigned p)
{
    return (p >= 11 && p <= 15) || (p >= 21 && p <= 23) ||
           (p >= 31 && p <= 37) || (p >= 41 && p <= 46) ||
           (p >= 50 && p <= 54) || (p >= 61 && p <= 65) || p == 71 ||
           p == 81 || p == 82;
}

static unsigned dig(char c)
{
    return (unsigned)(c - '0');
}

int sg_idnum_check(const char *s, size_t len, sg_error *e)
{
    static const unsigned weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6,
                                         3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    unsigned sum = 0, y, m, d;
    char last;

    if (s == NULL || len != IDNUM_LEN) {
        return sg_error_set(e, SG_EINVAL, "id_number",
                            "must be 18 characters");
    }
    for (size_t i = 0; i < 17; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return sg_error_set(e, SG_EINVAL, "id_number",
                                "must be 17 digits then a digit or X");
        }
    }
    last = s[17] == 'x' ? 'X' : s[17];
    if (!((last >= '0' && last <= '9') || last == 'X')) {
        return sg_error_set(e, SG_EINVAL, "id_number",
                            "must be 17 digits then a digit or X");
    }
    if (!province_ok(dig(s[0]) * 10 + dig(s[1]))) {
        return sg_error_set(e, SG_EINVAL, "id_number",
                            "does not start with a province code");
    }
    y = dig(s[6]) * 1000 + dig(s[7]) * 100 + dig(s[8]) * 10 + dig(s[9]);
    m = dig(s[10]) * 10 + dig(s[11]);
    d = dig(s[12]) * 10 + dig(s[13]);
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 ||
        d > sg__days_in_month(y, m)) {
        return sg_error_set(e, SG_EINVAL, "id_number",
                            "birth date is not a real date");
    }
    for (size_t i = 0; i < 17; i++) {
        sum += dig(s[i]) * weights[i];
    }
    if (check[sum % 11] != last) {
        return sg_error_set(e, SG_EINVAL, "id_number",
                            "check digit does not match");
    }
    return 0;
}

int sg_idnum_protect(sg_worker *w, const char *s, size_t len,
                     const uint8_t *key, sg_error *e)
{
    char norm[IDNUM_LEN];
    uint8_t hash[SG_IDNUM_HASH_LEN];
    int rc;

    if (w == NULL) {
        return sg_error_set(e, SG_EINVAL, "id_number", "no record");
    }
    if (key == NULL) {
        return sg_error_set(e, SG_EINVAL, "id_number",
                            "no key to protect it");
    }
    rc = sg_idnum_check(s, len, e);
    if (rc != 0) {
        return rc;
    }
    if (sodium_init() < 0) {
        abort(); /* libsodium cannot run here at all */
    }
    /* Hash the normalised form, so 'x' and 'X' give the same hash. */
    memcpy(norm, s, IDNUM_LEN);
    if (norm[17] == 'x') {
        norm[17] = 'X';
    }
    crypto_generichash(hash, sizeof hash, (const unsigned char *)norm,
                       IDNUM_LEN, key, SG_IDNUM_KEY_LEN);
    memcpy(w->idnum_hash, hash, sizeof hash);
    memcpy(w->idnum_masked, norm, 6);
    memset(w->idnum_masked + 6, '*', 8);
    memcpy(w->idnum_masked + 14, norm + 14, 4);
    w->idnum_masked[18] = '\0';
    w->has_idnum = true;
    sodium_memzero(norm, sizeof norm);
    sodium_memzero(hash, sizeof hash);
    return 0;
}
