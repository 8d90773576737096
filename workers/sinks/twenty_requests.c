/* The I/O half of twenty_client.h: the client handle and Twenty's REST
 * calls for people over http_client. Every call: take a rate token, send,
 * classify the status, parse the `data` member (twenty_client.c reads the
 * answers). */
#include "relay/mem.h"
#include "workers/sinks/http_client.h"
#include "workers/sinks/twenty_client.h"
#include "workers/sinks/twenty_rate.h"

#include <string.h>

struct twenty_client {
    struct http_client *http;
    struct twenty_rate *rate; /* borrowed, shared by the process */
    char *base;               /* ".../rest", no trailing slash */
    char *auth_header;        /* "Authorization: Bearer <key>"; secret */
    int64_t throttled_ms;
    unsigned long request_count;
    struct http_response resp; /* reused between calls */
};

static bool ends_with_rest(const struct relay_buf *base)
{
    return base->len >= 5 && memcmp(base->data + base->len - 5, "/rest", 5) == 0;
}

struct twenty_client *twenty_client_create(const char *base_url, const char *api_key,
                                           unsigned timeout_ms, struct twenty_rate *rate,
                                           struct relay_error *err)
{
    struct twenty_client *c = relay_calloc(1, sizeof(*c));
    struct relay_buf base, auth;
    relay_buf_init(&base);
    relay_buf_init(&auth);
    if (c == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "twenty client: out of memory");
        return NULL;
    }
    http_response_init(&c->resp);
    c->rate = rate;
    if (http_client_append_base(&base, base_url) != 0 ||
        (!ends_with_rest(&base) && relay_buf_appends(&base, "/rest") != 0) ||
        relay_buf_printf(&auth, "Authorization: Bearer %s", api_key) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "twenty client: out of memory");
        goto fail;
    }
    c->base = base.data;
    c->auth_header = auth.data;
    relay_buf_init(&base);
    relay_buf_init(&auth);
    c->http = http_client_create(timeout_ms, err);
    if (c->http == NULL) {
        goto fail;
    }
    return c;
fail:
    relay_buf_fini(&base);
    relay_buf_fini(&auth);
    twenty_client_destroy(c);
    return NULL;
}

void twenty_client_destroy(struct twenty_client *c)
{
    if (c == NULL) {
        return;
    }
    http_client_destroy(c->http);
    http_response_fini(&c->resp);
    relay_free(c->base);
    if (c->auth_header != NULL) {
        memset(c->auth_header, 0, strlen(c->auth_header)); /* a secret */
    }
    relay_free(c->auth_header);
    relay_free(c);
}

int64_t twenty_client_throttled_ms(const struct twenty_client *c)
{
    return c->throttled_ms;
}

unsigned long twenty_client_request_count(const struct twenty_client *c)
{
    return c->request_count;
}

/* Sends one request after taking a rate token; classifies the answer.
 * On 0, c->resp holds the answer body. */
static int call(struct twenty_client *c, const char *method, const char *url, const json_t *body,
                const char *what, struct relay_error *err)
{
    char *payload = NULL;
    int result = -1;
    int64_t now = twenty_rate_now_ms();
    int64_t wait = 0;
    c->throttled_ms = 0;
    if (c->rate != NULL && !twenty_rate_take(c->rate, now, &wait)) {
        c->throttled_ms = wait;
        return relay_error_set(err, RELAY_EIO, "twenty %s: throttled (next token in %lld ms)",
                               what, (long long)wait);
    }
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL) {
            return relay_error_set(err, RELAY_ENOMEM, "twenty %s: cannot encode body", what);
        }
    }
    const char *headers[] = {c->auth_header, "Accept: application/json",
                             body != NULL ? "Content-Type: application/json" : NULL, NULL};
    c->request_count++;
    if (http_client_request(c->http, method, url, headers, payload,
                            payload != NULL ? strlen(payload) : 0, &c->resp, err) != 0) {
        goto out;
    }
    result = twenty_classify(c->resp.status, c->resp.body.data, c->resp.body.len, what, err);
    if (result != 0 && err != NULL && err->code == RELAY_EIO && c->resp.status != 0 &&
        c->rate != NULL && (c->resp.status == 429 || c->resp.status == 400)) {
        twenty_rate_penalize(c->rate, twenty_rate_now_ms(), 0);
    }
out:
    relay_free(payload); /* jansson allocates through relay_malloc */
    return result;
}

/* Builds base + suffix into url. */
static int make_url(const struct twenty_client *c, struct relay_buf *url, const char *suffix,
                    struct relay_error *err)
{
    relay_buf_reset(url);
    if (relay_buf_appends(url, c->base) != 0 || relay_buf_appends(url, suffix) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
    }
    return 0;
}

/* Appends "/people/<escaped id>" to url. */
static int append_person(struct relay_buf *url, const char *id, struct relay_error *err)
{
    if (relay_buf_appends(url, "/people/") != 0 || twenty_url_escape(url, id) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
    }
    return 0;
}

int twenty_find(struct twenty_client *c, const char *field, const char *value, bool is_deleted,
                json_t **out, struct relay_error *err)
{
    struct relay_buf url, filter;
    relay_buf_init(&url);
    relay_buf_init(&filter);
    json_t *people = NULL;
    int rc = -1;
    *out = NULL;
    if (twenty_filter_eq(&filter, field, value, is_deleted, err) != 0 ||
        make_url(c, &url, "/people?limit=2&filter=", err) != 0) {
        goto out;
    }
    if (twenty_url_escape(&url, filter.data) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
        goto out;
    }
    if (call(c, "GET", url.data, NULL, "find", err) != 0) {
        goto out;
    }
    people = twenty_answer_data(c->resp.body.data, c->resp.body.len, "people", err);
    if (!json_is_array(people)) {
        relay_error_set(err, RELAY_EIO, "twenty find: data.people is not an array");
        goto out;
    }
    if (json_array_size(people) > 0) {
        *out = json_incref(json_array_get(people, 0));
    }
    rc = 0;
out:
    json_decref(people);
    relay_buf_fini(&url);
    relay_buf_fini(&filter);
    return rc;
}

/* One write call whose answer is data.<key>; *out (may be NULL) gets it. */
static int write_call(struct twenty_client *c, const char *method, const char *url,
                      const json_t *body, const char *key, const char *what, json_t **out,
                      struct relay_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (call(c, method, url, body, what, err) != 0) {
        return -1;
    }
    if (out == NULL) {
        return 0;
    }
    *out = twenty_answer_data(c->resp.body.data, c->resp.body.len, key, err);
    return *out != NULL ? 0 : -1;
}

int twenty_create(struct twenty_client *c, const json_t *body, json_t **out,
                  struct relay_error *err)
{
    struct relay_buf url;
    relay_buf_init(&url);
    int rc = make_url(c, &url, "/people", err);
    if (rc == 0) {
        rc = write_call(c, "POST", url.data, body, "createPerson", "create", out, err);
    }
    relay_buf_fini(&url);
    return rc;
}

int twenty_create_many(struct twenty_client *c, const json_t *bodies, json_t **out,
                       struct relay_error *err)
{
    size_t n = json_array_size(bodies);
    if (n == 0 || n > TWENTY_BATCH_MAX) {
        return relay_error_set(err, RELAY_EINVAL, "twenty batch: %zu records (1..%d)", n,
                               TWENTY_BATCH_MAX);
    }
    struct relay_buf url;
    relay_buf_init(&url);
    int rc = make_url(c, &url, "/batch/people", err);
    if (rc == 0) {
        rc = write_call(c, "POST", url.data, bodies, "createPeople", "batch create", out, err);
    }
    if (rc == 0 && out != NULL && json_array_size(*out) != n) {
        json_decref(*out);
        *out = NULL;
        rc = relay_error_set(err, RELAY_EIO, "twenty batch: answer does not hold %zu records", n);
    }
    relay_buf_fini(&url);
    return rc;
}

int twenty_update(struct twenty_client *c, const char *id, const json_t *body, json_t **out,
                  struct relay_error *err)
{
    struct relay_buf url;
    relay_buf_init(&url);
    int rc = make_url(c, &url, "", err);
    if (rc == 0) {
        rc = append_person(&url, id, err);
    }
    if (rc == 0) {
        rc = write_call(c, "PATCH", url.data, body, "updatePerson", "update", out, err);
    }
    relay_buf_fini(&url);
    return rc;
}

int twenty_delete(struct twenty_client *c, const char *id, bool is_soft, struct relay_error *err)
{
    struct relay_buf url;
    relay_buf_init(&url);
    int rc = make_url(c, &url, "", err);
    if (rc == 0) {
        rc = append_person(&url, id, err);
    }
    if (rc == 0 && is_soft && relay_buf_appends(&url, "?soft_delete=true") != 0) {
        rc = relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
    }
    if (rc == 0) {
        rc = call(c, "DELETE", url.data, NULL, is_soft ? "soft delete" : "destroy", err);
    }
    relay_buf_fini(&url);
    return rc;
}

int twenty_restore(struct twenty_client *c, const char *id, struct relay_error *err)
{
    struct relay_buf url;
    relay_buf_init(&url);
    int rc = make_url(c, &url, "", err);
    if (rc == 0) {
        rc = append_person(&url, id, err);
    }
    if (rc == 0 && relay_buf_appends(&url, "/restore") != 0) {
        rc = relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
    }
    if (rc == 0) {
        rc = call(c, "PATCH", url.data, NULL, "restore", err);
    }
    relay_buf_fini(&url);
    return rc;
}

int twenty_list(struct twenty_client *c, const char *after, unsigned limit, json_t **people,
                char **end_cursor, bool *has_next, struct relay_error *err)
{
    struct relay_buf url;
    relay_buf_init(&url);
    json_t *root = NULL;
    int rc = -1;
    *people = NULL;
    *end_cursor = NULL;
    *has_next = false;
    if (limit == 0 || limit > TWENTY_LIST_MAX) {
        limit = TWENTY_LIST_MAX;
    }
    if (make_url(c, &url, "/people", err) != 0 ||
        relay_buf_printf(&url, "?limit=%u", limit) != 0 ||
        (after != NULL && (relay_buf_appends(&url, "&starting_after=") != 0 ||
                           twenty_url_escape(&url, after) != 0))) {
        relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
        goto out;
    }
    if (call(c, "GET", url.data, NULL, "list", err) != 0) {
        goto out;
    }
    root = json_loadb(c->resp.body.data != NULL ? c->resp.body.data : "", c->resp.body.len, 0,
                      NULL);
    json_t *list = json_object_get(json_object_get(root, "data"), "people");
    json_t *page = json_object_get(root, "pageInfo");
    if (!json_is_array(list)) {
        relay_error_set(err, RELAY_EIO, "twenty list: data.people is not an array");
        goto out;
    }
    *people = json_incref(list);
    *has_next = json_is_true(json_object_get(page, "hasNextPage"));
    const char *cursor = json_string_value(json_object_get(page, "endCursor"));
    if (cursor != NULL) {
        *end_cursor = relay_strdup(cursor);
    }
    rc = 0;
out:
    json_decref(root);
    relay_buf_fini(&url);
    return rc;
}
