/* proto/time.c -- dates (days since 1970-01-01) and RFC 3339 times.
 * Civil-date arithmetic is Howard Hinnant's days_from_civil algorithm, so
 * no libc time zone state is touched: Asia/Shanghai is a fixed UTC+8 (no
 * DST since 1991).  Only years 1900..2199 parse, which keeps every year
 * four digits.  Pure functions (sg_today reads the clock): any thread. */
#include <string.h>
#include <time.h>

#include "internal.h"

#define SHANGHAI_OFFSET (8 * 3600)

int64_t sg__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void sg__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

unsigned sg__days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m < 1 || m > 12) {
        return 0;
    }
    return m == 2 && leap ? 29 : dim[m - 1];
}

bool sg__date_ok(int32_t days)
{
    return days >= SG__DATE_MIN && days <= SG__DATE_MAX;
}

/* Read n ASCII digits; false if any is not a digit. */
static bool digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Parse "YYYY-MM-DD" at s (10 bytes available) into days. */
static bool parse_ymd(const char *s, int64_t *days)
{
    unsigned y, m, d;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) ||
        s[7] != '-' || !digits(s + 8, 2, &d)) {
        return false;
    }
    if (y < SG__YEAR_MIN || y > SG__YEAR_MAX || m < 1 || m > 12 || d < 1 ||
        d > sg__days_in_month(y, m)) {
        return false;
    }
    *days = sg__days_from_civil(y, m, d);
    return true;
}

int sg_date_parse(const char *s, size_t len, int32_t *days)
{
    int64_t v;

    if (s == NULL || days == NULL || len != 10 || !parse_ymd(s, &v)) {
        return SG_EINVAL;
    }
    *days = (int32_t)v;
    return 0;
}

/* Write n digits of v, most significant first. */
static void put_digits(char *out, int n, unsigned v)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Write the "YYYY-MM-DD" of days into out (10 bytes, no NUL).  A date
 * outside the supported years is written as 0000-00-00 rather than with
 * a year that does not fit. */
static void put_ymd(char *out, int64_t days)
{
    int64_t y = 0;
    unsigned m = 0, d = 0;

    if (days >= SG__DATE_MIN && days <= SG__DATE_MAX) {
        sg__civil_from_days(days, &y, &m, &d);
    }
    put_digits(out, 4, (unsigned)y);
    out[4] = '-';
    put_digits(out + 5, 2, m);
    out[7] = '-';
    put_digits(out + 8, 2, d);
}

void sg_date_format(int32_t days, char buf[11])
{
    put_ymd(buf, days);
    buf[10] = '\0';
}

/* Floor division, for times before 1970. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int32_t sg_time_date(int64_t secs)
{
    int64_t days;

    if (secs > INT64_MAX - SHANGHAI_OFFSET) {
        return SG_DATE_NONE;
    }
    days = floor_div(secs + SHANGHAI_OFFSET, 86400);
    if (days <= INT32_MIN || days > INT32_MAX) {
        return SG_DATE_NONE;
    }
    return (int32_t)days;
}

int32_t sg_today(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return sg_time_date((int64_t)ts.tv_sec);
}

/* The grammar is RFC 3339's date-time: full-date "T" partial-time
 * time-offset, with "T" and "Z" in either case, seconds 00..59 (leap
 * seconds are refused), and a fraction of 1..18 digits that is dropped
 * (the seconds are floored, which is exact for a positive fraction). */
int sg_time_parse(const char *s, size_t len, int64_t *secs)
{
    int64_t days, v;
    unsigned hh, mm, ss, oh = 0, om = 0;
    size_t i = 19;
    int sign = 0;

    if (s == NULL || secs == NULL || len < 20 || !parse_ymd(s, &days)) {
        return SG_EINVAL;
    }
    if ((s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &hh) ||
        s[13] != ':' || !digits(s + 14, 2, &mm) || s[16] != ':' ||
        !digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59) {
        return SG_EINVAL;
    }
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start || i - start > 18) {
            return SG_EINVAL;
        }
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        if (len - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59) {
            return SG_EINVAL;
        }
        i += 6;
    } else {
        return SG_EINVAL;
    }
    if (i != len) {
        return SG_EINVAL;
    }
    v = days * 86400 + hh * 3600 + mm * 60 + ss -
        sign * (int64_t)(oh * 3600 + om * 60);
    /* Keep the result formattable: its Shanghai date must be supported. */
    if (!sg__date_ok(sg_time_date(v))) {
        return SG_EINVAL;
    }
    *secs = v;
    return 0;
}

void sg_time_format(int64_t secs, char buf[26])
{
    int32_t days = sg_time_date(secs);
    int64_t sod = 0;

    if (sg__date_ok(days)) {
        sod = secs + SHANGHAI_OFFSET - (int64_t)days * 86400;
    }
    put_ymd(buf, sg__date_ok(days) ? days : SG_DATE_NONE);
    buf[10] = 'T';
    put_digits(buf + 11, 2, (unsigned)(sod / 3600));
    buf[13] = ':';
    put_digits(buf + 14, 2, (unsigned)(sod / 60 % 60));
    buf[16] = ':';
    put_digits(buf + 17, 2, (unsigned)(sod % 60));
    memcpy(buf + 19, "+08:00", 7);
}
