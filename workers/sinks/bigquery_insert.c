/* insertAll of one batch of events (bigquery_insert.h): each event
 * becomes one row of the append-only changelog table (bigquery_payload.c),
 * rows go out in requests of at most 500 rows and 10 MB, and each event
 * gets its own status from BigQuery's answer.
 *
 * A row BigQuery calls `invalid` is rejected alone; rows it `stopped`
 * because of that row are resent at once, in the same write, without the
 * invalid row (one extra request, never a loop: still stopped after that
 * means SINK_RETRY). Transport failures, 5xx, 429 and transient reasons
 * are SINK_RETRY; 401/403 drop the cached token first so the retry uses a
 * fresh one. After a whole-request failure the rest of the batch is not
 * sent (SINK_RETRY), so a dead or hung endpoint costs one timeout per
 * write, not one per 500 rows. */
#define LOG_COMPONENT "sink.bigquery"
#include "workers/sinks/bigquery_insert.h"
#include "mappers/mapper.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth.h"
#include "workers/sinks/bigquery_payload.h"
#include "workers/sinks/http_client.h"

#include <stdbool.h>
#include <string.h>

/* One batch in flight: the rows built so far and which event each is. */
struct bq_batch {
    json_t **rows;
    const char **ids;
    size_t *event_at; /* rows[k] is the row of evs[event_at[k]] */
    size_t count;
};

/* The row of one event, or NULL with err (EINVAL: cannot be written). */
static json_t *event_row(const struct bigquery_insert *st, const struct relay_event *ev,
                         struct relay_error *err)
{
    json_t *columns = NULL;
    if (st->env->mapping != NULL) {
        columns =
            mapper_to_system(st->env->mapping, MAPPER_SYS_BIGQUERY, ev->fields, ev->extra, 0, err);
    } else {
        /* No mapping: BigQuery's column names are the canonical names. */
        columns = json_incref(ev->fields);
    }
    if (columns == NULL) {
        return NULL;
    }
    json_t *row = bigquery_payload_row(ev, columns, err);
    json_decref(columns);
    return row;
}

static void first_error(struct relay_error *err, const struct relay_error *e, bool *has_error)
{
    if (!*has_error && err != NULL) {
        *err = *e;
    }
    *has_error = true;
}

static void batch_free(struct bq_batch *b)
{
    for (size_t k = 0; k < b->count; k++) {
        json_decref(b->rows[k]);
    }
    relay_free(b->rows);
    relay_free(b->ids);
    relay_free(b->event_at);
}

/* Builds the rows; events that cannot become a row are settled here. */
static int batch_build(const struct bigquery_insert *st, struct relay_event *const *evs, size_t n,
                       struct bq_batch *b, enum sink_status *status, struct relay_error *err,
                       bool *has_error)
{
    b->rows = relay_calloc(n, sizeof(*b->rows));
    b->ids = relay_calloc(n, sizeof(*b->ids));
    b->event_at = relay_calloc(n, sizeof(*b->event_at));
    if (b->rows == NULL || b->ids == NULL || b->event_at == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "bigquery: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct relay_error e = {0};
        json_t *row = event_row(st, evs[i], &e);
        if (row == NULL) {
            status[i] = e.code == RELAY_ENOMEM ? SINK_RETRY : SINK_REJECT;
            first_error(err, &e, has_error);
            continue;
        }
        b->rows[b->count] = row;
        b->ids[b->count] = evs[i]->id;
        b->event_at[b->count] = i;
        b->count++;
    }
    return 0;
}

/* Posts one insertAll body for n rows; fills rows[] when it returns
 * BIGQUERY_ROWS. A refused token is dropped from the shared cache. */
static enum bigquery_outcome post_insert(struct bigquery_insert *st, const struct relay_buf *body,
                                         size_t n, enum bigquery_row *rows, struct relay_error *err)
{
    struct http_response resp;
    char *token = NULL;
    enum bigquery_outcome outcome = BIGQUERY_RETRY;
    http_response_init(&resp);
    if (bigquery_auth_request(st->auth, st->http, "POST", st->insert_url, body->data, body->len,
                              &resp, &token, err) != 0) {
        goto out;
    }
    outcome = bigquery_payload_classify(resp.status, resp.body.data, resp.body.len, n, rows, err);
    if (outcome == BIGQUERY_AUTH) {
        bigquery_auth_invalidate(st->auth, token);
    }
out:
    http_response_fini(&resp);
    relay_free(token);
    return outcome;
}

static enum sink_status row_status(enum bigquery_row r)
{
    return r == BIGQUERY_ROW_OK ? SINK_OK : r == BIGQUERY_ROW_REJECT ? SINK_REJECT : SINK_RETRY;
}

/* Sends rows[first..first+count) of b in one body (they fit: they did in a
 * bigger one). Settles each; returns false when the request as a whole
 * failed transiently, so the caller stops sending this batch. */
static bool send_rows(struct bigquery_insert *st, const struct bq_batch *b, const size_t *which,
                      size_t count, bool may_resend, enum sink_status *status,
                      struct relay_error *err, bool *has_error);

static bool settle_answer(struct bigquery_insert *st, const struct bq_batch *b, const size_t *which,
                          size_t count, const enum bigquery_row *rows, bool may_resend,
                          enum sink_status *status, struct relay_error *err, bool *has_error)
{
    size_t *stopped = relay_calloc(count, sizeof(*stopped));
    size_t stopped_count = 0;
    for (size_t k = 0; k < count; k++) {
        size_t ev_at = b->event_at[which[k]];
        if (rows[k] == BIGQUERY_ROW_STOPPED && may_resend && stopped != NULL) {
            stopped[stopped_count++] = which[k];
        } else {
            status[ev_at] = row_status(rows[k]);
        }
    }
    bool go_on = true;
    if (stopped_count > 0) {
        log_debug("insertAll: resending %zu stopped rows", stopped_count);
        go_on = send_rows(st, b, stopped, stopped_count, false, status, err, has_error);
    }
    relay_free(stopped);
    return go_on;
}

/* Posts body (the rows b->rows[which[0..count)]) and settles them. */
static bool post_and_settle(struct bigquery_insert *st, const struct bq_batch *b, const size_t *which,
                            size_t count, const struct relay_buf *body, bool may_resend,
                            enum sink_status *status, struct relay_error *err, bool *has_error)
{
    struct relay_error e = {0};
    enum bigquery_row *results = relay_calloc(count, sizeof(*results));
    if (results == NULL) {
        relay_error_set(&e, RELAY_ENOMEM, "bigquery: out of memory");
        first_error(err, &e, has_error);
        return false;
    }
    bool go_on;
    enum bigquery_outcome outcome = post_insert(st, body, count, results, &e);
    if (e.code != RELAY_OK) {
        first_error(err, &e, has_error);
    }
    if (outcome == BIGQUERY_ROWS) {
        go_on = settle_answer(st, b, which, count, results, may_resend, status, err, has_error);
    } else {
        for (size_t k = 0; k < count; k++) {
            status[b->event_at[which[k]]] = outcome == BIGQUERY_REJECT ? SINK_REJECT : SINK_RETRY;
        }
        go_on = outcome == BIGQUERY_REJECT;
    }
    relay_free(results);
    return go_on;
}

static bool send_rows(struct bigquery_insert *st, const struct bq_batch *b, const size_t *which,
                      size_t count, bool may_resend, enum sink_status *status,
                      struct relay_error *err, bool *has_error)
{
    json_t **rows = relay_calloc(count, sizeof(*rows));
    const char **ids = relay_calloc(count, sizeof(*ids));
    struct relay_buf body;
    struct relay_error e = {0};
    bool go_on = false;
    size_t taken = 0;
    relay_buf_init(&body);
    if (rows == NULL || ids == NULL) {
        relay_error_set(&e, RELAY_ENOMEM, "bigquery: out of memory");
        first_error(err, &e, has_error);
        goto out;
    }
    for (size_t k = 0; k < count; k++) {
        rows[k] = b->rows[which[k]];
        ids[k] = b->ids[which[k]];
    }
    if (bigquery_payload_body(rows, ids, count, count, BIGQUERY_MAX_BYTES, &body, &taken, &e) !=
        0) {
        first_error(err, &e, has_error);
        goto out;
    }
    go_on = post_and_settle(st, b, which, taken, &body, may_resend, status, err, has_error);
out:
    relay_buf_fini(&body);
    relay_free(rows);
    relay_free(ids);
    return go_on;
}

/* Splits the batch into insertAll requests of at most 500 rows and 10 MB. */
static void send_batch(struct bigquery_insert *st, const struct bq_batch *b, enum sink_status *status,
                       struct relay_error *err, bool *has_error)
{
    size_t *which = relay_calloc(b->count > 0 ? b->count : 1, sizeof(*which));
    struct relay_buf body;
    size_t at = 0;
    relay_buf_init(&body);
    for (size_t k = 0; which != NULL && k < b->count; k++) {
        which[k] = k;
    }
    while (which != NULL && at < b->count) {
        struct relay_error e = {0};
        size_t taken = 0;
        relay_buf_reset(&body);
        if (bigquery_payload_body(b->rows + at, b->ids + at, b->count - at, BIGQUERY_MAX_ROWS,
                                  BIGQUERY_MAX_BYTES, &body, &taken, &e) != 0) {
            first_error(err, &e, has_error);
            if (e.code != RELAY_ETOOBIG) {
                break; /* out of memory: the rest stays SINK_RETRY */
            }
            status[b->event_at[at]] = SINK_REJECT; /* one row over 10 MB */
            at++;
            continue;
        }
        bool go_on = post_and_settle(st, b, which + at, taken, &body, true, status, err, has_error);
        at += taken;
        if (!go_on) {
            break;
        }
    }
    relay_buf_fini(&body);
    relay_free(which);
}

enum sink_status bigquery_insert_write(struct bigquery_insert *st, struct relay_event *const *evs,
                                       size_t n, enum sink_status *status, struct relay_error *err)
{
    struct bq_batch batch = {0};
    bool has_error = false;
    for (size_t i = 0; i < n; i++) {
        status[i] = SINK_RETRY;
    }
    if (batch_build(st, evs, n, &batch, status, err, &has_error) == 0) {
        send_batch(st, &batch, status, err, &has_error);
    }
    batch_free(&batch);

    bool all_same = true;
    for (size_t i = 1; i < n; i++) {
        all_same = all_same && status[i] == status[0];
    }
    if (n == 0) {
        return SINK_OK;
    }
    return all_same ? status[0] : SINK_PARTIAL;
}
