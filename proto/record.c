/* proto/record.c -- record defaults, semantic validation, sg_buf, hex.
 * Validation works on the in-memory struct, so a record built by code and
 * a decoded one obey the same rules; the decoders call it last.  Errors
 * name fields as the JSON form does ("sites[1].region").  No state: any
 * thread may call these (an sg_buf belongs to one thread at a time). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- String checks shared with the decoders. ---- */

bool sg_id_valid(const char *s, size_t len)
{
    if (len < 1 || len > SG_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* Decode one UTF-8 character at s[0..len); returns its length (0 when it
 * is invalid: truncated, overlong, a surrogate or above U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t n;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
        (c >= 0xD800 && c <= 0xDFFF)) {
        return 0;
    }
    *cp = c;
    return n;
}

bool sg_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(u + i, len - i, &cp);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

const char *sg__text_check(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(u + i, len - i, &cp);
        if (n == 0) {
            return "not valid UTF-8";
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            return "contains a control character";
        }
        i += n;
    }
    return NULL;
}

bool sg__phone_ok(const char *s, size_t len)
{
    if (len < 5 || len > SG_PHONE_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
              s[i] == ' ')) {
            return false;
        }
    }
    return true;
}

bool sg__masked_ok(const char *s, size_t len)
{
    if (len != 18) {
        return false;
    }
    for (size_t i = 0; i < 18; i++) {
        bool digit = s[i] >= '0' && s[i] <= '9';
        if (i >= 6 && i < 14) {
            if (s[i] != '*') {
                return false;
            }
        } else if (!digit && !(i == 17 && s[i] == 'X')) {
            return false;
        }
    }
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool sg__hex_parse(const char *s, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void sg__quote(const char *s, size_t len, char *out, size_t cap)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    uint32_t cp;

    if (cap < 4) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return;
    }
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(u + i, len - i, &cp);
        bool bad = n == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
        size_t w = bad ? 1 : n;
        if (o + w + 4 > cap) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (bad) {
            out[o++] = '?';
            i += n == 0 ? 1 : n;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
}

/* ---- Defaults. ---- */

void sg_worker_init(sg_worker *w)
{
    memset(w, 0, sizeof *w);
    w->available_from = SG_DATE_NONE;
    w->available_to = SG_DATE_NONE;
}

void sg_job_init(sg_job *j)
{
    memset(j, 0, sizeof *j);
    j->starts = SG_DATE_NONE;
    j->ends = SG_DATE_NONE;
    j->state = SG_JOB_OPEN;
}

/* ---- Validation. ---- */

/* Length of a NUL-terminated field of a fixed array, or cap if it has no
 * terminator (which no rule accepts). */
static size_t field_len(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);

    return nul != NULL ? (size_t)(nul - s) : cap;
}

static int check_id(const char *s, size_t cap, const char *field,
                    sg_error *e)
{
    size_t n = field_len(s, cap);

    if (n == 0) {
        return sg_error_set(e, SG_EINVAL, field, "must not be empty");
    }
    if (!sg_id_valid(s, n)) {
        return sg_error_set(e, SG_EINVAL, field,
                            "must be 1-32 of A-Z a-z 0-9 _ -");
    }
    return 0;
}

static int check_text(const char *s, size_t cap, size_t max,
                      const char *field, sg_error *e)
{
    size_t n = field_len(s, cap);
    const char *why;

    if (n == 0) {
        return sg_error_set(e, SG_EINVAL, field, "must not be empty");
    }
    if (n > max) {
        return sg_error_set(e, SG_EINVAL, field, "longer than %zu bytes",
                            max);
    }
    why = sg__text_check(s, n);
    if (why != NULL) {
        return sg_error_set(e, SG_EINVAL, field, "%s", why);
    }
    return 0;
}

static int check_region(const char *s, const char *field, sg_error *e)
{
    sg_error re;
    size_t n = field_len(s, SG_REGION_LEN + 1);

    sg_error_clear(&re);
    if (sg_region_check(s, n, &re) != 0) {
        return sg_error_set(e, SG_EINVAL, field, "%s", re.reason);
    }
    return 0;
}

static int check_geo(double lat, double lon, const char *prefix,
                     sg_error *e)
{
    char field[48];

    if (!isfinite(lat) || lat < -90.0 || lat > 90.0) {
        snprintf(field, sizeof field, "%slat", prefix);
        return sg_error_set(e, SG_EINVAL, field,
                            "must be a number from -90 to 90");
    }
    if (!isfinite(lon) || lon < -180.0 || lon > 180.0) {
        snprintf(field, sizeof field, "%slon", prefix);
        return sg_error_set(e, SG_EINVAL, field,
                            "must be a number from -180 to 180");
    }
    return 0;
}

static int check_enum(int v, int count, const char *field, sg_error *e)
{
    if (v < 0 || v >= count) {
        return sg_error_set(e, SG_EINVAL, field, "value out of range");
    }
    return 0;
}

static int check_int(int64_t v, int64_t max, const char *field, sg_error *e)
{
    if (v < 0 || v > max) {
        return sg_error_set(e, SG_EINVAL, field,
                            "must be an integer from 0 to %lld",
                            (long long)max);
    }
    return 0;
}

static int check_date(int32_t d, const char *field, sg_error *e)
{
    if (d != SG_DATE_NONE && !sg__date_ok(d)) {
        return sg_error_set(e, SG_EINVAL, field,
                            "must be a date from 1900-01-01 to 2199-12-31");
    }
    return 0;
}

/* A skill list must hold known ids, strictly ascending. */
static int check_skills(const sg_skill *s, size_t n, size_t max,
                        const char *name, sg_error *e)
{
    char field[48];

    if (n > max) {
        return sg_error_set(e, SG_EINVAL, name, "more than %zu entries",
                            max);
    }
    for (size_t i = 0; i < n; i++) {
        bool known = sg_skill_code(s[i]) != NULL;
        if (known && (i == 0 || s[i] > s[i - 1])) {
            continue;
        }
        snprintf(field, sizeof field, "%s[%zu]", name, i);
        if (!known) {
            return sg_error_set(e, SG_EINVAL, field, "unknown skill id %u",
                                (unsigned)s[i]);
        }
        return sg_error_set(e, SG_EINVAL, field,
                            s[i] == s[i - 1] ? "repeated skill"
                                             : "not sorted by skill id");
    }
    return 0;
}

int sg_worker_validate(const sg_worker *w, sg_error *e)
{
    return sg__worker_check(w, true, e);
}

int sg_job_validate(const sg_job *j, sg_error *e)
{
    return sg__job_check(j, true, e);
}

int sg__worker_check(const sg_worker *w, bool regions, sg_error *e)
{
    int rc;

    if (w == NULL) {
        return sg_error_set(e, SG_EINVAL, "", "no record");
    }
    if ((rc = check_id(w->id, sizeof w->id, "id", e)) != 0 ||
        (rc = check_text(w->name, sizeof w->name, SG_NAME_MAX, "name", e)) !=
            0) {
        return rc;
    }
    if (regions && (rc = check_region(w->region, "region", e)) != 0) {
        return rc;
    }
    if (w->has_geo && (rc = check_geo(w->lat, w->lon, "", e)) != 0) {
        return rc;
    }
    if ((rc = check_enum(w->labor_class, SG_LABOR__COUNT, "labor_class",
                         e)) != 0 ||
        (rc = check_skills(w->skills, w->nskills, SG_SKILLS_MAX, "skills",
                           e)) != 0 ||
        (rc = check_enum(w->category, SG_CAT__COUNT, "category", e)) != 0) {
        return rc;
    }
    if (w->risk_eliminated && w->category != SG_CAT_MONITORED) {
        return sg_error_set(e, SG_EINVAL, "risk_eliminated",
                            "true only for category monitored");
    }
    if ((rc = check_id(w->household, sizeof w->household, "household",
                       e)) != 0 ||
        (rc = check_enum(w->travel, SG_TRAVEL__COUNT, "travel", e)) != 0 ||
        (rc = check_int(w->expected_wage, SG_WAGE_MAX, "expected_wage",
                        e)) != 0 ||
        (rc = check_date(w->available_from, "available_from", e)) != 0 ||
        (rc = check_date(w->available_to, "available_to", e)) != 0) {
        return rc;
    }
    if (w->available_from != SG_DATE_NONE &&
        w->available_to != SG_DATE_NONE &&
        w->available_from > w->available_to) {
        return sg_error_set(e, SG_EINVAL, "available_to",
                            "before available_from");
    }
    if ((rc = check_enum(w->status, SG_STATUS__COUNT, "status", e)) != 0) {
        return rc;
    }
    if (w->phone[0] != '\0' &&
        !sg__phone_ok(w->phone, field_len(w->phone, sizeof w->phone))) {
        return sg_error_set(e, SG_EINVAL, "phone",
                            "must be 5-20 of digits, '+', '-', ' '");
    }
    if (w->has_idnum &&
        !sg__masked_ok(w->idnum_masked,
                       field_len(w->idnum_masked, sizeof w->idnum_masked))) {
        return sg_error_set(e, SG_EINVAL, "id_number_masked",
                            "must be 6 digits, 8 '*', 3 digits and a digit "
                            "or X");
    }
    return 0;
}

int sg__job_check(const sg_job *j, bool regions, sg_error *e)
{
    char field[48];
    int rc;

    if (j == NULL) {
        return sg_error_set(e, SG_EINVAL, "", "no record");
    }
    if ((rc = check_id(j->id, sizeof j->id, "id", e)) != 0 ||
        (rc = check_id(j->employer, sizeof j->employer, "employer", e)) !=
            0 ||
        (rc = check_enum(j->source, SG_SOURCE__COUNT, "source", e)) != 0 ||
        (rc = check_text(j->title, sizeof j->title, SG_TITLE_MAX, "title",
                         e)) != 0 ||
        (rc = check_skills(j->required, j->nrequired, SG_REQ_SKILLS_MAX,
                           "skills_required", e)) != 0 ||
        (rc = check_skills(j->preferred, j->npreferred, SG_REQ_SKILLS_MAX,
                           "skills_preferred", e)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < j->npreferred; i++) {
        for (size_t k = 0; k < j->nrequired; k++) {
            if (j->preferred[i] == j->required[k]) {
                snprintf(field, sizeof field, "skills_preferred[%zu]", i);
                return sg_error_set(e, SG_EINVAL, field,
                                    "\"%s\" is also in skills_required",
                                    sg_skill_code(j->preferred[i]));
            }
        }
    }
    if (j->labor_classes == 0 ||
        j->labor_classes >= (1u << SG_LABOR__COUNT)) {
        return sg_error_set(e, SG_EINVAL, "labor_classes",
                            "must be 1-4 distinct labor classes");
    }
    if (j->nsites < 1 || j->nsites > SG_SITES_MAX) {
        return sg_error_set(e, SG_EINVAL, "sites", "must have 1-%d entries",
                            SG_SITES_MAX);
    }
    for (size_t i = 0; i < j->nsites; i++) {
        const sg_site *s = &j->sites[i];
        if (regions || i > 0) {
            snprintf(field, sizeof field, "sites[%zu].region", i);
        }
        if (regions && (rc = check_region(s->region, field, e)) != 0) {
            return rc;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(s->region, j->sites[k].region) == 0) {
                return sg_error_set(e, SG_EINVAL, field,
                                    "same region as sites[%zu]", k);
            }
        }
        if (s->has_geo) {
            snprintf(field, sizeof field, "sites[%zu].", i);
            if ((rc = check_geo(s->lat, s->lon, field, e)) != 0) {
                return rc;
            }
        }
    }
    if ((rc = check_int(j->openings, SG_OPENINGS_MAX, "openings", e)) != 0 ||
        (rc = check_int(j->wage_min, SG_WAGE_MAX, "wage_min", e)) != 0 ||
        (rc = check_int(j->wage_max, SG_WAGE_MAX, "wage_max", e)) != 0) {
        return rc;
    }
    if (j->wage_min > j->wage_max) {
        return sg_error_set(e, SG_EINVAL, "wage_max", "less than wage_min");
    }
    if ((rc = check_date(j->starts, "starts", e)) != 0 ||
        (rc = check_date(j->ends, "ends", e)) != 0) {
        return rc;
    }
    if (j->starts != SG_DATE_NONE && j->ends != SG_DATE_NONE &&
        j->starts > j->ends) {
        return sg_error_set(e, SG_EINVAL, "ends", "before starts");
    }
    if ((rc = check_int(j->contract_months, SG_CONTRACT_MAX,
                        "contract_months", e)) != 0) {
        return rc;
    }
    if (!sg__date_ok(sg_time_date(j->posted))) {
        return sg_error_set(e, SG_EINVAL, "posted",
                            "must be a time from 1900 to 2199");
    }
    return check_enum(j->state, SG_JOB_STATE__COUNT, "state", e);
}

/* ---- Buffers and hex. ---- */

void sg_buf_init(sg_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sg_buf_free(sg_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    sg_buf_init(b);
}

void sg_buf_append(sg_buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (n > SIZE_MAX - b->len) {
        abort();
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap < 256 ? 256 : b->cap;
        while (cap < b->len + n) {
            cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            abort(); /* out of memory: STYLE says abort */
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void sg_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0F];
    }
    out[2 * n] = '\0';
}
