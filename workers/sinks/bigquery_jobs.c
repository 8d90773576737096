/* The request half of bigquery_query.h: jobs.query on the `contacts`
 * view, polling getQueryResults while jobComplete is false and paging with
 * pageToken; every page's rows are decoded by bigquery_query.c and handed
 * to the caller's function. One struct bigquery_query per thread. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth.h"
#include "workers/sinks/bigquery_query.h"
#include "workers/sinks/http_client.h"

#include <stdbool.h>
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
    if (http_client_append_base(&url, endpoint) != 0 ||
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

/* One authenticated call; *answer is the parsed JSON object of a 200. */
static int call_api(struct bigquery_query *q, const char *method, const char *url, const char *body,
                    json_t **answer, struct relay_error *err)
{
    struct http_response resp;
    char *token = NULL;
    int rc = -1;
    http_response_init(&resp);
    if (bigquery_auth_request(q->auth, q->http, method, url, body, body ? strlen(body) : 0, &resp,
                              &token, err) != 0) {
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
        http_client_escape(url, job_id) != 0 ||
        relay_buf_printf(url, "?timeoutMs=%u", QUERY_TIMEOUT_MS) != 0) {
        return -1;
    }
    if (location != NULL &&
        (relay_buf_appends(url, "&location=") != 0 || http_client_escape(url, location) != 0)) {
        return -1;
    }
    if (q->page_size > 0 && relay_buf_printf(url, "&maxResults=%u", q->page_size) != 0) {
        return -1;
    }
    if (page_token != NULL &&
        (relay_buf_appends(url, "&pageToken=") != 0 || http_client_escape(url, page_token) != 0)) {
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
