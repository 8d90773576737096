/* The BigQuery changelog wire format, with no I/O: an event becomes one row
 * of `contacts_changes`, rows become insertAll request bodies (at most
 * BIGQUERY_MAX_ROWS rows and BIGQUERY_MAX_BYTES bytes each), and an
 * insertAll answer becomes a status per row. Pure and thread-safe; the
 * unit tests check these bytes exactly (tests/unit/test_bigquery_payload.c).
 *
 * Row columns (deploy/bigquery/contacts_changes.schema.json): event_id, op,
 * source, version, changed, received_at, contact_id, then the contact
 * columns the event carries, then extra. A contact column the event does
 * not carry is left out of the row: BigQuery stores NULL, or [] for an
 * ARRAY column, and the `contacts` view only ever reads a field from rows
 * whose `changed` names it, so an absent array is never mistaken for []. */
#ifndef RELAY_WORKERS_SINKS_BIGQUERY_PAYLOAD_H
#define RELAY_WORKERS_SINKS_BIGQUERY_PAYLOAD_H

#include "relay/buf.h"
#include "relay/error.h"
#include "relay/event.h"

#include <jansson.h>
#include <stddef.h>

#define BIGQUERY_MAX_ROWS 500                    /* recommended rows per insertAll */
#define BIGQUERY_MAX_BYTES (10u * 1024u * 1024u) /* HTTP request size limit */

/* The changelog row for ev. columns is the event's contact as BigQuery
 * columns (mapper_to_system for MAPPER_SYS_BIGQUERY, or the canonical
 * fields: the names are the same); borrowed. JSON columns that are not
 * already strings are JSON-encoded, null arrays become [], sync_metadata is
 * never copied (syncrelay's own), extra comes from columns["extra"] or else
 * ev->extra. Returns a new object the caller owns; NULL + err. */
json_t *bigquery_payload_row(const struct relay_event *ev, const json_t *columns,
                             struct relay_error *err);

/* Appends one insertAll body to out holding rows[0..*taken) with their
 * insertIds (ids[i], the event ids): as many leading rows as fit in
 * max_rows rows and max_bytes bytes, at least one. When rows[0] alone is
 * larger than max_bytes, *taken is 0 and it returns -1 with RELAY_ETOOBIG.
 * Both arrays are borrowed and hold n entries (n > 0). */
int bigquery_payload_body(json_t *const *rows, const char *const *ids, size_t n, size_t max_rows,
                          size_t max_bytes, struct relay_buf *out, size_t *taken,
                          struct relay_error *err) RELAY_MUST_CHECK;

/* What became of one row of an insertAll request. */
enum bigquery_row {
    BIGQUERY_ROW_OK = 0,
    BIGQUERY_ROW_RETRY,   /* transient (backendError, internalError, rateLimitExceeded...) */
    BIGQUERY_ROW_REJECT,  /* `invalid`: this row breaks the table schema */
    BIGQUERY_ROW_STOPPED, /* `stopped`: not stored because another row failed; resend as is */
};

/* What became of the whole request. */
enum bigquery_outcome {
    BIGQUERY_ROWS = 0, /* 2xx: rows[] says what became of each row */
    BIGQUERY_RETRY,    /* 5xx, 408, 429, 404, 403 rate/quota limits, unreadable 2xx */
    BIGQUERY_REJECT,   /* 400 and the other 4xx: the request as a whole is refused */
    BIGQUERY_AUTH,     /* 401, 403 otherwise: refresh the token, then retry */
};

/* Classifies an insertAll answer (status and body) for a request of n rows;
 * fills rows[n] when it returns BIGQUERY_ROWS. err describes the first
 * failure (never the body itself). Thread-safe. */
enum bigquery_outcome bigquery_payload_classify(long http_status, const char *body, size_t len,
                                                size_t n, enum bigquery_row *rows,
                                                struct relay_error *err);

#endif
