/* jobs.query / getQueryResults on the `contacts` view and the decoding of
 * BigQuery's f/v row format; see bigquery_query.h. */
#include "workers/sinks/bigquery_query.h"
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth.h"
#include "workers/sinks/http_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUERY_TIMEOUT_MS 10000u /* server-side wait per call (timeoutMs) */
#define QUERY_MAX_POLLS 600     /* getQueryResults calls while jobComplete is false */
#define QUERY_POLL_PAUSE_NS 50000000L

struct bigquery_query {
    const struct config_bigquery *conf;
    struct http_client *http;
    struct bigquery_auth *auth;
    char *base_url; /* {endpoint}/bigquery/v2/projects/{project} */
    unsigned page_size;
};

/* ------------------------------------------------------------ decoding */

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

/* ------------------------------------------------------------ requests */

struct bigquery_query *bigquery_query_open(const struct config_bigquery *conf,
                                           struct relay_error *err)
{
    struct bigquery_query *q = relay_calloc(1, sizeof(*q));
    struct relay_buf url;
    relay_buf_init(&url);
    if (q == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery query: out of memory");
        return NULL;
    }
    q->conf = conf;
    if (conf->project == NULL || conf->project[0] == '\0' || conf->dataset == NULL ||
        conf->dataset[0] == '\0' || strpbrk(conf->project, "/?#`") != NULL ||
        strpbrk(conf->dataset, "/?#`.") != NULL) {
        relay_error_set(err, RELAY_ECONFIG, "bigquery query: needs a valid project and dataset");
        goto fail;
    }
    const char *endpoint = conf->endpoint != NULL && conf->endpoint[0] != '\0'
                               ? conf->endpoint
                               : "https://bigquery.googleapis.com";
    size_t len = strlen(endpoint);
    while (len > 0 && endpoint[len - 1] == '/') {
        len--;
    }
    if (relay_buf_append(&url, endpoint, len) != 0 ||
        relay_buf_printf(&url, "/bigquery/v2/projects/%s", conf->project) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery query: out of memory");
        goto fail;
    }
    q->base_url = url.data;
    url.data = NULL;
    q->http =
        http_client_create(conf->timeout_ms > 0 ? conf->timeout_ms + QUERY_TIMEOUT_MS : 0, err);
    if (q->http == NULL || (q->auth = bigquery_auth_create(conf, err)) == NULL) {
        goto fail;
    }
    return q;
fail:
    relay_buf_fini(&url);
    bigquery_query_close(q);
    return NULL;
}

void bigquery_query_close(struct bigquery_query *q)
{
    if (q == NULL) {
        return;
    }
    http_client_destroy(q->http);
    bigquery_auth_destroy(q->auth);
    relay_free(q->base_url);
    relay_free(q);
}

void bigquery_query_set_page_size(struct bigquery_query *q, unsigned rows)
{
    q->page_size = rows;
}

/* Percent-encodes s (RFC 3986 unreserved kept) onto out. */
static int append_escaped(struct relay_buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        int rc = plain ? relay_buf_append(out, p, 1) : relay_buf_printf(out, "%%%02X", *p);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

/* One authenticated call; *answer is the parsed JSON object of a 200. */
static int call_api(struct bigquery_query *q, const char *method, const char *url, const char *body,
                    json_t **answer, struct relay_error *err)
{
    struct http_response resp;
    struct relay_buf auth_header;
    int rc = -1;
    http_response_init(&resp);
    relay_buf_init(&auth_header);
    char *token = bigquery_auth_token(q->auth, q->http, err);
    if (token == NULL || relay_buf_printf(&auth_header, "Authorization: Bearer %s", token) != 0) {
        if (token != NULL) {
            relay_error_set(err, RELAY_ENOMEM, "bigquery query: out of memory");
        }
        goto out;
    }
    const char *headers[] = {"Content-Type: application/json", auth_header.data, NULL};
    if (http_client_request(q->http, method, url, headers, body, body ? strlen(body) : 0, &resp,
                            err) != 0) {
        goto out;
    }
    if (resp.status == 401 || resp.status == 403) {
        bigquery_auth_invalidate(q->auth, token);
        relay_error_set(err, RELAY_EAUTH, "bigquery query: HTTP %ld", resp.status);
        goto out;
    }
    if (resp.status != 200) {
        relay_error_set(err, resp.status >= 500 || resp.status == 429 ? RELAY_EIO : RELAY_EINVAL,
                        "bigquery query: HTTP %ld", resp.status);
        goto out;
    }
    *answer = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    if (!json_is_object(*answer)) {
        json_decref(*answer);
        *answer = NULL;
        relay_error_set(err, RELAY_EINVAL, "bigquery query: answer is not a JSON object");
        goto out;
    }
    rc = 0;
out:
    if (auth_header.data != NULL) {
        memset(auth_header.data, 0, auth_header.len);
    }
    relay_buf_fini(&auth_header);
    http_response_fini(&resp);
    relay_free(token);
    return rc;
}

static char *query_body(const struct bigquery_query *q, const char *contact_id)
{
    struct relay_buf sql;
    relay_buf_init(&sql);
    if (relay_buf_printf(&sql, "SELECT * FROM `%s.%s.contacts`%s ORDER BY contact_id",
                         q->conf->project, q->conf->dataset,
                         contact_id != NULL ? " WHERE contact_id = @contact_id" : "") != 0) {
        return NULL;
    }
    json_t *req = json_pack("{s:s,s:b,s:i}", "query", sql.data, "useLegacySql", 0, "timeoutMs",
                            (int)QUERY_TIMEOUT_MS);
    relay_buf_fini(&sql);
    if (req != NULL && q->page_size > 0) {
        json_object_set_new(req, "maxResults", json_integer(q->page_size));
    }
    if (req != NULL && contact_id != NULL) {
        json_object_set_new(req, "parameterMode", json_string("NAMED"));
        json_object_set_new(req, "queryParameters",
                            json_pack("[{s:s,s:{s:s},s:{s:s}}]", "name", "contact_id",
                                      "parameterType", "type", "STRING", "parameterValue", "value",
                                      contact_id));
    }
    char *text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return text;
}

/* GET .../queries/{jobId}?location=..&maxResults=..&pageToken=.. */
static int results_url(const struct bigquery_query *q, const json_t *answer, const char *page_token,
                       struct relay_buf *url)
{
    const json_t *ref = json_object_get(answer, "jobReference");
    const char *job_id = json_string_value(json_object_get(ref, "jobId"));
    const char *location = json_string_value(json_object_get(ref, "location"));
    if (job_id == NULL) {
        return -1;
    }
    relay_buf_reset(url);
    if (relay_buf_printf(url, "%s/queries/", q->base_url) != 0 ||
        append_escaped(url, job_id) != 0 ||
        relay_buf_printf(url, "?timeoutMs=%u", QUERY_TIMEOUT_MS) != 0) {
        return -1;
    }
    if (location != NULL &&
        (relay_buf_appends(url, "&location=") != 0 || append_escaped(url, location) != 0)) {
        return -1;
    }
    if (q->page_size > 0 && relay_buf_printf(url, "&maxResults=%u", q->page_size) != 0) {
        return -1;
    }
    if (page_token != NULL &&
        (relay_buf_appends(url, "&pageToken=") != 0 || append_escaped(url, page_token) != 0)) {
        return -1;
    }
    return 0;
}

static long deliver_rows(const json_t *answer, bigquery_query_fn fn, void *ctx,
                         struct relay_error *err)
{
    const json_t *schema = json_object_get(answer, "schema");
    size_t i;
    json_t *row;
    long count = 0;
    json_array_foreach(json_object_get(answer, "rows"), i, row)
    {
        json_t *contact = bigquery_query_decode_row(schema, row, err);
        if (contact == NULL) {
            return -1;
        }
        int rc = fn(contact, ctx, err);
        json_decref(contact);
        if (rc != 0) {
            return -1;
        }
        count++;
    }
    return count;
}

long bigquery_query_contacts(struct bigquery_query *q, const char *contact_id, bigquery_query_fn fn,
                             void *ctx, struct relay_error *err)
{
    struct relay_buf url;
    json_t *answer = NULL;
    long total = -1;
    relay_buf_init(&url);
    char *body = query_body(q, contact_id);
    if (body == NULL || relay_buf_printf(&url, "%s/queries", q->base_url) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery query: out of memory");
        goto out;
    }
    if (call_api(q, "POST", url.data, body, &answer, err) != 0) {
        goto out;
    }
    long delivered = 0;
    for (int polls = 0;;) {
        bool complete = json_is_true(json_object_get(answer, "jobComplete"));
        const char *token = json_string_value(json_object_get(answer, "pageToken"));
        if (complete) {
            long n = deliver_rows(answer, fn, ctx, err);
            if (n < 0) {
                goto out;
            }
            delivered += n;
            if (token == NULL) {
                break;
            }
        } else if (++polls > QUERY_MAX_POLLS) {
            relay_error_set(err, RELAY_EIO, "bigquery query: job not complete after %d polls",
                            QUERY_MAX_POLLS);
            goto out;
        } else {
            /* The server already waited up to timeoutMs; pause briefly in
             * case it answered at once. */
            nanosleep(&(struct timespec){0, QUERY_POLL_PAUSE_NS}, NULL);
        }
        if (results_url(q, answer, complete ? token : NULL, &url) != 0) {
            relay_error_set(err, RELAY_EINVAL, "bigquery query: answer has no jobReference");
            goto out;
        }
        json_decref(answer);
        answer = NULL;
        if (call_api(q, "GET", url.data, NULL, &answer, err) != 0) {
            goto out;
        }
    }
    total = delivered;
out:
    json_decref(answer);
    relay_buf_fini(&url);
    relay_free(body);
    return total;
}
