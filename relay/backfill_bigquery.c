/* Backfill reader of BigQuery (backfill_reader_internal.h): the contacts
 * view read with bigquery_query_contacts (jobs.query, ORDER BY contact_id,
 * pageToken paging inside). A query job's pages cannot be resumed from a
 * contact_id, so the first page request runs the query once and keeps the
 * contacts in memory; pages are then cut from that list and the cursor is
 * the last contact_id served, so an interrupted push resumes after it (the
 * new run queries again and skips what was already pushed). The memory is
 * the view's size: fine for the hundreds of thousands of contacts a CRM
 * holds; document it before pointing it at more. --since filters here. */
#include "relay/backfill_reader_internal.h"
#include "relay/config.h"
#include "relay/mem.h"
#include "workers/sinks/bigquery_query.h"

#include <string.h>

struct bq_reader {
    struct bigquery_query *query;
    json_t *all; /* every contact of the view, in contact_id order; NULL until read */
};

static void *bq_open(const struct relay_config *conf, struct relay_error *err)
{
    struct bq_reader *r = relay_calloc(1, sizeof(*r));
    if (r == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    r->query = bigquery_query_open(&conf->bigquery, err);
    if (r->query == NULL) {
        relay_free(r);
        return NULL;
    }
    return r;
}

static void bq_close(void *state)
{
    struct bq_reader *r = state;
    if (r != NULL) {
        bigquery_query_close(r->query);
        json_decref(r->all);
        relay_free(r);
    }
}

static int keep_contact(const json_t *contact, void *ctx, struct relay_error *err)
{
    json_t *copy = json_deep_copy(contact);
    if (copy == NULL || json_array_append_new(ctx, copy) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    return 0;
}

static int load_all(struct bq_reader *r, struct relay_error *err)
{
    if (r->all != NULL) {
        return 0;
    }
    json_t *all = json_array();
    if (all == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    if (bigquery_query_contacts(r->query, NULL, keep_contact, all, err) < 0) {
        json_decref(all);
        return -1;
    }
    r->all = all;
    return 0;
}

static const char *id_at(const json_t *all, size_t i)
{
    const char *id = json_string_value(json_object_get(json_array_get(all, i), "contact_id"));
    return id != NULL ? id : "";
}

/* Index of the first contact whose contact_id is after cursor. */
static size_t first_after(const json_t *all, const char *cursor)
{
    size_t lo = 0;
    size_t hi = json_array_size(all);
    if (cursor == NULL) {
        return 0;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(id_at(all, mid), cursor) <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int bq_next(void *state, const char *cursor, unsigned limit, const char *since,
                   json_t **rows, char **next_cursor, bool *is_last, struct relay_error *err)
{
    struct bq_reader *r = state;
    (void)since; /* filtered by backfill_reader.c after mapping */
    if (load_all(r, err) != 0) {
        return -1;
    }
    size_t total = json_array_size(r->all);
    size_t start = first_after(r->all, cursor);
    size_t end = total - start > limit ? start + limit : total;
    *rows = json_array();
    for (size_t i = start; *rows != NULL && i < end; i++) {
        json_t *copy = json_deep_copy(json_array_get(r->all, i));
        if (copy == NULL || json_array_append_new(*rows, copy) != 0) {
            json_decref(*rows);
            *rows = NULL;
        }
    }
    *next_cursor = end > start ? relay_strdup(id_at(r->all, end - 1)) : NULL;
    if (*rows == NULL || (end > start && *next_cursor == NULL)) {
        json_decref(*rows);
        *rows = NULL;
        relay_free(*next_cursor);
        *next_cursor = NULL;
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    *is_last = end >= total;
    return 0;
}

static int bq_get(void *state, const char *contact_id, json_t **row, struct relay_error *err)
{
    struct bq_reader *r = state;
    json_t *found = json_array();
    *row = NULL;
    if (found == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    if (bigquery_query_contacts(r->query, contact_id, keep_contact, found, err) < 0) {
        json_decref(found);
        return -1;
    }
    *row = json_incref(json_array_get(found, 0));
    json_decref(found);
    return 0;
}

static long long bq_remaining(void *state, const char *cursor, const char *since)
{
    struct bq_reader *r = state;
    struct relay_error err = {0};
    (void)since;
    if (load_all(r, &err) != 0) {
        return -1;
    }
    return (long long)(json_array_size(r->all) - first_after(r->all, cursor));
}

const struct backfill_reader_ops backfill_bigquery_ops = {
    .name = "bigquery",
    .filters_since = false,
    .open = bq_open,
    .next = bq_next,
    .get = bq_get,
    .remaining = bq_remaining,
    .close = bq_close,
};
