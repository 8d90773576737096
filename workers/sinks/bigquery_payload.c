/* Changelog rows, insertAll bodies and insertAll answers; see
 * bigquery_payload.h. The column list below is the order of
 * deploy/bigquery/contacts_changes.schema.json; the fake server and the
 * tests read that file, so a drift between the two fails a test. */
#include "workers/sinks/bigquery_payload.h"
#include "relay/mem.h"

#include <stdbool.h>
#include <string.h>

enum column_kind { COL_SCALAR, COL_JSON, COL_ARRAY, COL_SKIP };

struct column {
    const char *name;
    enum column_kind kind;
};

/* The 29 contact columns after contact_id (contact.md order). */
static const struct column contact_columns[] = {
    {"twenty_id", COL_SCALAR},
    {"supabase_id", COL_SCALAR},
    {"full_name", COL_SCALAR},
    {"display_name", COL_SCALAR},
    {"name_prefix", COL_SCALAR},
    {"first_name", COL_SCALAR},
    {"middle_name", COL_SCALAR},
    {"last_name", COL_SCALAR},
    {"name_suffix", COL_SCALAR},
    {"nickname", COL_SCALAR},
    {"phonetic_name", COL_SCALAR},
    {"company", COL_SCALAR},
    {"job_title", COL_SCALAR},
    {"department", COL_SCALAR},
    {"relationship_type", COL_SCALAR},
    {"relationship_strength", COL_SCALAR},
    {"social_network", COL_JSON},
    {"tags", COL_ARRAY},
    {"created_at", COL_SCALAR},
    {"updated_at", COL_SCALAR},
    {"deleted_at", COL_SCALAR},
    {"llm_summary", COL_SCALAR},
    {"llm_context", COL_JSON},
    {"ai_insights", COL_JSON},
    {"communication_stats", COL_JSON},
    {"llm_updated_at", COL_SCALAR},
    /* syncrelay's own bookkeeping: never copied from an event (BRIEF). */
    {"sync_metadata", COL_SKIP},
    {"emails", COL_ARRAY},
    {"phones", COL_ARRAY},
};
#define CONTACT_COLUMN_COUNT (sizeof(contact_columns) / sizeof(contact_columns[0]))

static const struct column *find_column(const char *name)
{
    for (size_t i = 0; i < CONTACT_COLUMN_COUNT; i++) {
        if (strcmp(contact_columns[i].name, name) == 0) {
            return &contact_columns[i];
        }
    }
    return NULL;
}

/* A JSON column's value as BigQuery's insertAll wants it: a string holding
 * the JSON text. A value that is already a string is taken as that text
 * (mapper_to_system encodes JSON columns); anything else is encoded here. */
static json_t *json_column_value(const json_t *value)
{
    if (json_is_string(value) || json_is_null(value)) {
        return json_deep_copy(value);
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        return NULL;
    }
    json_t *s = json_string(text);
    relay_free(text); /* jansson allocates through relay_malloc (relay_mem_init) */
    return s;
}

static json_t *column_value(enum column_kind kind, const json_t *value)
{
    if (kind == COL_JSON) {
        return json_column_value(value);
    }
    if (kind == COL_ARRAY && json_is_null(value)) {
        return json_array(); /* BigQuery cannot store a NULL array (BRIEF) */
    }
    return json_deep_copy(value);
}

static int set_new(json_t *row, const char *key, json_t *value, struct relay_error *err)
{
    if (value == NULL || json_object_set_new(row, key, value) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "bigquery row: out of memory");
    }
    return 0;
}

static int add_header_columns(json_t *row, const struct relay_event *ev, struct relay_error *err)
{
    if (set_new(row, "event_id", json_string(ev->id), err) != 0 ||
        set_new(row, "op", json_string(relay_op_name(ev->op)), err) != 0 ||
        set_new(row, "source", json_string(relay_source_name(ev->source)), err) != 0 ||
        set_new(row, "version", json_string(ev->version), err) != 0) {
        return -1;
    }
    json_t *changed = ev->changed != NULL ? json_deep_copy(ev->changed) : json_array();
    if (set_new(row, "changed", changed, err) != 0 ||
        set_new(row, "received_at", json_string(ev->received_at), err) != 0) {
        return -1;
    }
    const char *contact_id = ev->contact_id;
    json_t *given = json_object_get(ev->fields, "contact_id");
    if (contact_id == NULL && json_is_string(given)) {
        contact_id = json_string_value(given);
    }
    if (contact_id == NULL) {
        return relay_error_set(err, RELAY_EINVAL, "bigquery row: event %s has no contact_id",
                               ev->id);
    }
    return set_new(row, "contact_id", json_string(contact_id), err);
}

/* Known columns in schema order, then any column the mapping added that the
 * table does not know: BigQuery refuses it as `invalid` (ignoreUnknownValues
 * is false), which surfaces a mapping/schema drift instead of losing data. */
static int add_contact_columns(json_t *row, const json_t *columns, struct relay_error *err)
{
    for (size_t i = 0; i < CONTACT_COLUMN_COUNT; i++) {
        const struct column *col = &contact_columns[i];
        json_t *value = json_object_get(columns, col->name);
        if (value == NULL || col->kind == COL_SKIP) {
            continue;
        }
        if (set_new(row, col->name, column_value(col->kind, value), err) != 0) {
            return -1;
        }
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)columns, key, value)
    {
        if (strcmp(key, "contact_id") == 0 || strcmp(key, "extra") == 0 ||
            find_column(key) != NULL) {
            continue;
        }
        if (set_new(row, key, json_deep_copy(value), err) != 0) {
            return -1;
        }
    }
    return 0;
}

json_t *bigquery_payload_row(const struct relay_event *ev, const json_t *columns,
                             struct relay_error *err)
{
    json_t *row = json_object();
    if (row == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery row: out of memory");
        return NULL;
    }
    if (add_header_columns(row, ev, err) != 0 || add_contact_columns(row, columns, err) != 0) {
        json_decref(row);
        return NULL;
    }
    const json_t *extra = json_object_get(columns, "extra");
    if (extra == NULL) {
        extra = ev->extra;
    }
    if (extra != NULL && !json_is_null(extra) &&
        set_new(row, "extra", json_column_value(extra), err) != 0) {
        json_decref(row);
        return NULL;
    }
    return row;
}

/* {"insertId":"<id>","json":<row>} as compact JSON, in a string the
 * caller frees with relay_free; NULL on ENOMEM. */
static char *encode_row_entry(const json_t *row, const char *id)
{
    json_t *entry = json_pack("{s:s,s:O}", "insertId", id, "json", row);
    if (entry == NULL) {
        return NULL;
    }
    char *text = json_dumps(entry, JSON_COMPACT);
    json_decref(entry);
    return text;
}

static void truncate_to(struct relay_buf *out, size_t len)
{
    out->len = len;
    if (out->data != NULL) {
        out->data[len] = '\0';
    }
}

static const char body_head[] =
    "{\"skipInvalidRows\":false,\"ignoreUnknownValues\":false,\"rows\":[";
static const char body_tail[] = "]}";

int bigquery_payload_body(json_t *const *rows, const char *const *ids, size_t n, size_t max_rows,
                          size_t max_bytes, struct relay_buf *out, size_t *taken,
                          struct relay_error *err)
{
    size_t start = out->len;
    size_t count = 0;
    *taken = 0;
    if (relay_buf_appends(out, body_head) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "bigquery body: out of memory");
    }
    while (count < n && count < max_rows) {
        char *entry = encode_row_entry(rows[count], ids[count]);
        if (entry == NULL) {
            truncate_to(out, start);
            return relay_error_set(err, RELAY_ENOMEM, "bigquery body: out of memory");
        }
        size_t entry_len = strlen(entry);
        size_t would_be = out->len - start + (count > 0) + entry_len + sizeof(body_tail) - 1;
        if (would_be > max_bytes) {
            relay_free(entry);
            break;
        }
        int rc = count > 0 ? relay_buf_appends(out, ",") : 0;
        if (rc == 0) {
            rc = relay_buf_append(out, entry, entry_len);
        }
        relay_free(entry);
        if (rc != 0) {
            truncate_to(out, start);
            return relay_error_set(err, RELAY_ENOMEM, "bigquery body: out of memory");
        }
        count++;
    }
    if (count == 0) {
        truncate_to(out, start);
        return relay_error_set(err, RELAY_ETOOBIG, "bigquery row %s: larger than %zu bytes", ids[0],
                               max_bytes);
    }
    if (relay_buf_appends(out, body_tail) != 0) {
        truncate_to(out, start);
        return relay_error_set(err, RELAY_ENOMEM, "bigquery body: out of memory");
    }
    *taken = count;
    return 0;
}

/* The reasons BigQuery gives for transient failures (REST "Error messages"
 * table): retrying the same request may succeed. */
static bool is_transient_reason(const char *reason)
{
    static const char *const transient[] = {"backendError",  "internalError", "rateLimitExceeded",
                                            "quotaExceeded", "timeout",       NULL};
    for (size_t i = 0; transient[i] != NULL; i++) {
        if (strcmp(reason, transient[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* A row's errors[]: `invalid` anywhere is permanent; only `stopped` means
 * the row itself was fine; anything else is treated as transient. */
static enum bigquery_row classify_row_errors(const json_t *errors, const char **reason,
                                             const char **message)
{
    enum bigquery_row result = BIGQUERY_ROW_STOPPED;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *r = json_string_value(json_object_get(e, "reason"));
        r = r != NULL ? r : "";
        if (strcmp(r, "stopped") == 0) {
            continue;
        }
        if (result != BIGQUERY_ROW_REJECT) {
            *reason = r;
            *message = json_string_value(json_object_get(e, "message"));
        }
        result = strcmp(r, "invalid") == 0       ? BIGQUERY_ROW_REJECT
                 : result == BIGQUERY_ROW_REJECT ? BIGQUERY_ROW_REJECT
                                                 : BIGQUERY_ROW_RETRY;
    }
    if (json_array_size(errors) == 0) {
        result = BIGQUERY_ROW_RETRY; /* an error entry with no reason: be careful */
    }
    return result;
}

static enum bigquery_outcome classify_insert_errors(const json_t *answer, size_t n,
                                                    enum bigquery_row *rows,
                                                    struct relay_error *err)
{
    const json_t *insert_errors = json_object_get(answer, "insertErrors");
    bool has_failure = false;
    size_t i;
    json_t *entry;
    for (i = 0; i < n; i++) {
        rows[i] = BIGQUERY_ROW_OK;
    }
    json_array_foreach(insert_errors, i, entry)
    {
        json_t *index = json_object_get(entry, "index");
        if (!json_is_integer(index) || json_integer_value(index) < 0 ||
            (size_t)json_integer_value(index) >= n) {
            relay_error_set(err, RELAY_EIO, "insertAll: insertErrors names no row of the request");
            return BIGQUERY_RETRY;
        }
        size_t at = (size_t)json_integer_value(index);
        const char *reason = "stopped";
        const char *message = NULL;
        rows[at] = classify_row_errors(json_object_get(entry, "errors"), &reason, &message);
        if (rows[at] != BIGQUERY_ROW_STOPPED && !has_failure) {
            has_failure = true;
            relay_error_set(err, rows[at] == BIGQUERY_ROW_REJECT ? RELAY_EINVAL : RELAY_EIO,
                            "insertAll: row %zu: %s: %.160s", at, reason,
                            message != NULL ? message : "");
        }
    }
    if (!has_failure && json_array_size(insert_errors) > 0) {
        relay_error_set(err, RELAY_EIO, "insertAll: rows stopped with no failed row");
    }
    return BIGQUERY_ROWS;
}

/* error.errors[0].reason of a Google API error answer, or "". */
static const char *error_reason(const json_t *answer)
{
    const json_t *errors = json_object_get(json_object_get(answer, "error"), "errors");
    const char *reason = json_string_value(json_object_get(json_array_get(errors, 0), "reason"));
    return reason != NULL ? reason : "";
}

static enum bigquery_outcome classify_status(long status, const char *reason,
                                             struct relay_error *err)
{
    if (status == 401 || (status == 403 && !is_transient_reason(reason))) {
        relay_error_set(err, RELAY_EAUTH, "insertAll: HTTP %ld %s", status, reason);
        return BIGQUERY_AUTH;
    }
    if (status == 404) {
        relay_error_set(err, RELAY_ECONFIG, "insertAll: HTTP 404 %s (does the table exist?)",
                        reason);
        return BIGQUERY_RETRY;
    }
    if (status == 408 || status == 429 || status >= 500 || status < 400 ||
        is_transient_reason(reason)) {
        relay_error_set(err, RELAY_EIO, "insertAll: HTTP %ld %s", status, reason);
        return BIGQUERY_RETRY;
    }
    relay_error_set(err, RELAY_EPERM, "insertAll: HTTP %ld %s", status, reason);
    return BIGQUERY_REJECT;
}

enum bigquery_outcome bigquery_payload_classify(long http_status, const char *body, size_t len,
                                                size_t n, enum bigquery_row *rows,
                                                struct relay_error *err)
{
    json_t *answer = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    enum bigquery_outcome outcome;
    if (http_status >= 200 && http_status < 300) {
        if (!json_is_object(answer)) {
            relay_error_set(err, RELAY_EIO, "insertAll: HTTP %ld with an unreadable body",
                            http_status);
            outcome = BIGQUERY_RETRY;
        } else {
            outcome = classify_insert_errors(answer, n, rows, err);
        }
    } else {
        outcome = classify_status(http_status, error_reason(answer), err);
    }
    json_decref(answer);
    return outcome;
}
