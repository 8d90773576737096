/* The decoding half of bigquery_query.h: BigQuery's f/v row format (a
 * schema plus rows[{f:[{v:..}]}]) into canonical contact objects, and its
 * epoch-seconds TIMESTAMP text into canonical timestamps. Pure and
 * thread-safe; the jobs.query / getQueryResults requests that produce
 * these rows are in bigquery_jobs.c. */
#include "workers/sinks/bigquery_query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exact decimal -> microseconds: digits, point and exponent are read as
 * integers, never through a double (which cannot hold 16 digits exactly). */
static int parse_epoch_micros(const char *s, int64_t *out)
{
    bool negative = false, seen_point = false, any_digit = false;
    int64_t mantissa = 0;
    int scale = 0; /* value = mantissa * 10^scale seconds */
    const char *p = s;
    if (*p == '-' || *p == '+') {
        negative = *p++ == '-';
    }
    for (; *p != '\0' && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.' && !seen_point) {
            seen_point = true;
            continue;
        }
        if (*p < '0' || *p > '9') {
            return -1;
        }
        any_digit = true;
        if (mantissa < INT64_MAX / 100) {
            mantissa = mantissa * 10 + (*p - '0');
            scale -= seen_point ? 1 : 0;
        } else if (!seen_point) {
            scale++; /* beyond 17 digits: keep the magnitude, drop precision */
        }
    }
    if (!any_digit) {
        return -1;
    }
    if (*p == 'e' || *p == 'E') {
        char *end = NULL;
        errno = 0;
        long exp = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != '\0' || errno != 0 || exp < -400 || exp > 400) {
            return -1;
        }
        scale += (int)exp;
    }
    scale += 6; /* seconds -> microseconds */
    for (; scale > 0; scale--) {
        if (mantissa > INT64_MAX / 10) {
            return -1;
        }
        mantissa *= 10;
    }
    int64_t rest = 0;
    for (; scale < 0 && mantissa != 0; scale++) {
        rest |= mantissa % 10;
        mantissa /= 10;
    }
    /* Truncation toward the past, so that pre-1970 instants stay ordered. */
    *out = negative ? -mantissa - (rest != 0) : mantissa;
    return 0;
}

int bigquery_query_timestamp(const char *text, char out[RELAY_TS_LEN + 1], struct relay_error *err)
{
    int64_t us = 0;
    if (text == NULL || parse_epoch_micros(text, &us) != 0) {
        return relay_error_set(err, RELAY_EINVAL, "bigquery: bad TIMESTAMP value");
    }
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1) {
        return relay_error_set(err, RELAY_EINVAL, "bigquery: TIMESTAMP out of range");
    }
    char text_out[64];
    int n = snprintf(text_out, sizeof(text_out), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)frac);
    if (n != RELAY_TS_LEN) {
        return relay_error_set(err, RELAY_EINVAL, "bigquery: TIMESTAMP out of range");
    }
    memcpy(out, text_out, RELAY_TS_LEN + 1);
    return 0;
}

static json_t *decode_record(const json_t *fields, const json_t *row, struct relay_error *err);

static json_t *decode_number(const char *text, bool is_float, struct relay_error *err)
{
    char *end = NULL;
    errno = 0;
    if (is_float) {
        double d = strtod(text, &end);
        if (end != text && *end == '\0' && errno == 0 && d - d == 0) {
            return json_real(d);
        }
    } else {
        long long v = strtoll(text, &end, 10);
        if (end != text && *end == '\0' && errno == 0) {
            return json_integer(v);
        }
    }
    relay_error_set(err, RELAY_EINVAL, "bigquery: bad %s value", is_float ? "FLOAT" : "INTEGER");
    return NULL;
}

/* One scalar cell value v (a string or a nested {"f":..}) of type `type`. */
static json_t *decode_scalar(const json_t *field, const json_t *v, struct relay_error *err)
{
    const char *type = json_string_value(json_object_get(field, "type"));
    type = type != NULL ? type : "STRING";
    if (json_is_null(v)) {
        return json_null();
    }
    if (strcmp(type, "RECORD") == 0 || strcmp(type, "STRUCT") == 0) {
        return decode_record(json_object_get(field, "fields"), v, err);
    }
    const char *text = json_string_value(v);
    if (text == NULL) {
        relay_error_set(err, RELAY_EINVAL, "bigquery: cell of %s is not a string", type);
        return NULL;
    }
    if (strcmp(type, "FLOAT") == 0 || strcmp(type, "FLOAT64") == 0) {
        return decode_number(text, true, err);
    }
    if (strcmp(type, "INTEGER") == 0 || strcmp(type, "INT64") == 0) {
        return decode_number(text, false, err);
    }
    if (strcmp(type, "BOOLEAN") == 0 || strcmp(type, "BOOL") == 0) {
        return json_boolean(strcmp(text, "true") == 0);
    }
    if (strcmp(type, "TIMESTAMP") == 0) {
        char ts[RELAY_TS_LEN + 1];
        return bigquery_query_timestamp(text, ts, err) == 0 ? json_string(ts) : NULL;
    }
    if (strcmp(type, "JSON") == 0) {
        json_t *parsed = json_loads(text, JSON_DECODE_ANY, NULL);
        if (parsed == NULL) {
            relay_error_set(err, RELAY_EINVAL, "bigquery: JSON cell does not parse");
        }
        return parsed;
    }
    return json_string(text); /* STRING and the types syncrelay does not use */
}

static json_t *decode_cell(const json_t *field, const json_t *cell, struct relay_error *err)
{
    const char *mode = json_string_value(json_object_get(field, "mode"));
    const json_t *v = json_object_get(cell, "v");
    if (mode == NULL || strcmp(mode, "REPEATED") != 0) {
        return decode_scalar(field, v, err);
    }
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        json_t *value = decode_scalar(field, json_object_get(item, "v"), err);
        if (value == NULL || json_array_append_new(out, value) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out; /* a NULL REPEATED cell is [] */
}

static json_t *decode_record(const json_t *fields, const json_t *row, struct relay_error *err)
{
    const json_t *cells = json_object_get(row, "f");
    if (!json_is_array(fields) || !json_is_array(cells) ||
        json_array_size(cells) != json_array_size(fields)) {
        relay_error_set(err, RELAY_EINVAL, "bigquery: row does not match the schema");
        return NULL;
    }
    json_t *out = json_object();
    for (size_t i = 0; out != NULL && i < json_array_size(fields); i++) {
        const json_t *field = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(field, "name"));
        json_t *value = decode_cell(field, json_array_get(cells, i), err);
        if (name == NULL || value == NULL || json_object_set_new(out, name, value) != 0) {
            if (name == NULL) {
                json_decref(value);
                relay_error_set(err, RELAY_EINVAL, "bigquery: schema field without a name");
            }
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

json_t *bigquery_query_decode_row(const json_t *schema, const json_t *row, struct relay_error *err)
{
    const json_t *fields = json_is_array(schema) ? schema : json_object_get(schema, "fields");
    json_t *out = decode_record(fields, row, err);
    json_t *extra = json_object_get(out, "extra");
    if (json_is_object(extra)) {
        const char *key;
        json_t *value;
        void *tmp;
        json_object_foreach_safe(extra, tmp, key, value)
        {
            if (json_is_null(value)) {
                json_object_del(extra, key);
            }
        }
    }
    return out;
}
