/* Timestamps: any RFC 3339 form a source sends -> the canonical
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, six fraction digits, truncated).
 * Our own parser rather than strptime: strptime ignores offsets and
 * fractions, and timegm depends on the C library. Days are counted with
 * Howard Hinnant's days_from_civil/civil_from_days (proleptic Gregorian).
 * Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TS_FRACTION_MAX_DIGITS 9

/* The broken-down input, before the offset is applied. */
struct ts_parts {
    int year, month, day, hour, minute, second;
    long micros;        /* fraction truncated to microseconds */
    int offset_minutes; /* local time = UTC + offset */
};

/* A cursor over the input; parse steps advance pos. */
struct ts_cursor {
    const char *s;
    size_t len, pos;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits into *value; false if they are not there. */
static bool read_digits(struct ts_cursor *c, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (c->pos >= c->len || !is_digit(c->s[c->pos])) {
            return false;
        }
        v = v * 10 + (c->s[c->pos++] - '0');
    }
    *value = v;
    return true;
}

static bool read_char(struct ts_cursor *c, const char *accepted)
{
    if (c->pos < c->len && c->s[c->pos] != '\0' && strchr(accepted, c->s[c->pos]) != NULL) {
        c->pos++;
        return true;
    }
    return false;
}

static bool is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Date, separator and time of day; shape only, ranges are checked later. */
static int parse_date_time(struct ts_cursor *c, struct ts_parts *p, struct relay_error *err)
{
    if (!read_digits(c, 4, &p->year) || !read_char(c, "-") || !read_digits(c, 2, &p->month) ||
        !read_char(c, "-") || !read_digits(c, 2, &p->day)) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp without a YYYY-MM-DD date");
    }
    if (!read_char(c, "Tt ")) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp without a time");
    }
    if (!read_digits(c, 2, &p->hour) || !read_char(c, ":") || !read_digits(c, 2, &p->minute) ||
        !read_char(c, ":") || !read_digits(c, 2, &p->second)) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp without an HH:MM:SS time");
    }
    return 0;
}

/* Optional ".digits": 1 to 9 digits, truncated (not rounded) to 6. */
static int parse_fraction(struct ts_cursor *c, struct ts_parts *p, struct relay_error *err)
{
    p->micros = 0;
    if (!read_char(c, ".")) {
        return 0;
    }
    int n = 0;
    while (c->pos < c->len && is_digit(c->s[c->pos])) {
        if (n < 6) {
            p->micros = p->micros * 10 + (c->s[c->pos] - '0');
        }
        n++;
        c->pos++;
    }
    if (n == 0) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp with an empty fraction");
    }
    if (n > TS_FRACTION_MAX_DIGITS) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp fraction longer than 9 digits");
    }
    for (; n < 6; n++) {
        p->micros *= 10;
    }
    return 0;
}

/* "Z", "z", or a sign followed by HH, HHMM or HH:MM (Postgres prints "+00"). */
static int parse_offset(struct ts_cursor *c, struct ts_parts *p, struct relay_error *err)
{
    p->offset_minutes = 0;
    if (c->pos >= c->len) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp without offset");
    }
    if (read_char(c, "Zz")) {
        return 0;
    }
    char sign = c->s[c->pos];
    if (!read_char(c, "+-")) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp with a bad offset");
    }
    int hours = 0;
    int minutes = 0;
    if (!read_digits(c, 2, &hours)) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp with a bad offset");
    }
    bool has_colon = read_char(c, ":");
    if ((has_colon || c->pos < c->len) && !read_digits(c, 2, &minutes)) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp with a bad offset");
    }
    if (hours > 23 || minutes > 59) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp offset out of range");
    }
    p->offset_minutes = (sign == '-' ? -1 : 1) * (hours * 60 + minutes);
    return 0;
}

/* Leap seconds (:60) are rejected: the canonical form could not keep them
 * in order with the following second. */
static int check_ranges(const struct ts_parts *p, struct relay_error *err)
{
    if (p->month < 1 || p->month > 12) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp month out of range");
    }
    if (p->day < 1 || p->day > days_in_month(p->year, p->month)) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp day out of range");
    }
    if (p->hour > 23 || p->minute > 59 || p->second > 59) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp time out of range");
    }
    return 0;
}

static bool is_infinity(const char *in, size_t len)
{
    if (len > 0 && (in[0] == '-' || in[0] == '+')) {
        in++;
        len--;
    }
    return len == 8 && strncasecmp(in, "infinity", 8) == 0;
}

static int parse_timestamp(const char *in, size_t len, struct ts_parts *p, struct relay_error *err)
{
    struct ts_cursor c = {.s = in, .len = len, .pos = 0};
    if (is_infinity(in, len)) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp is infinite");
    }
    if (parse_date_time(&c, p, err) != 0 || parse_fraction(&c, p, err) != 0 ||
        parse_offset(&c, p, err) != 0) {
        return -1;
    }
    if (c.pos != c.len) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp with trailing text");
    }
    return check_ranges(p, err);
}

/* value (0 <= value < 10^width) as exactly width decimal digits. */
static void put_digits(char *out, long value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

static int format_utc(const struct ts_parts *p, char out[28], struct relay_error *err)
{
    int64_t secs = days_from_civil(p->year, p->month, p->day) * 86400 + p->hour * 3600 +
                   p->minute * 60 + p->second - (int64_t)p->offset_minutes * 60;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y = 0;
    int m = 0;
    int d = 0;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp out of range after UTC conversion");
    }
    if (p->micros < 0 || p->micros > 999999) {
        return relay_error_set(err, RELAY_EINVAL, "timestamp cannot be formatted");
    }
    /* "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ" by hand: on the ingest hot
     * path, several times per webhook. */
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (long)(rem / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (long)(rem / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (long)(rem % 60), 2);
    out[19] = '.';
    put_digits(out + 20, p->micros, 6);
    out[26] = 'Z';
    out[27] = '\0';
    return 0;
}

static int normalize_n(const char *in, size_t len, char out[28], struct relay_error *err)
{
    struct ts_parts p;
    out[0] = '\0';
    if (parse_timestamp(in, len, &p, err) != 0) {
        return -1;
    }
    return format_utc(&p, out, err);
}

int transform_timestamp_normalize(const char *in, char out[28], struct relay_error *err)
{
    if (in == NULL) {
        out[0] = '\0';
        return relay_error_set(err, RELAY_EINVAL, "timestamp is missing");
    }
    return normalize_n(in, strlen(in), out, err);
}

json_t *transform_timestamp(const json_t *in, struct relay_error *err)
{
    if (json_is_null(in)) {
        return json_null();
    }
    if (transform_expect_text(in, err) != 0) {
        return NULL;
    }
    char out[28];
    /* The length, not strlen: a NUL inside the text is trailing text. */
    if (normalize_n(json_string_value(in), json_string_length(in), out, err) != 0) {
        return NULL;
    }
    json_t *res = json_string_nocheck(out);
    if (res == NULL) {
        transform_oom(err);
    }
    return res;
}
