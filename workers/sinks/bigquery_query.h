/* Reading contacts back from BigQuery (for push and verify): jobs.query on
 * the `contacts` view (deploy/bigquery/contacts_view.sql) in the sink's
 * dataset, polling getQueryResults while jobComplete is false and paging
 * with pageToken, and decoding BigQuery's REST row format (schema plus
 * rows[{f:[{v:..}]}]) into canonical contact objects:
 *   STRING -> string; FLOAT/FLOAT64 -> real; INTEGER/INT64 -> integer;
 *   BOOLEAN/BOOL -> true/false; TIMESTAMP (epoch seconds, e.g.
 *   "1.73140087927E9") -> canonical "2024-11-12T08:41:19.270000Z";
 *   JSON (its text) -> the parsed value; REPEATED -> array; RECORD ->
 *   object; other types -> their string. `extra` loses its null members.
 * One struct bigquery_query per thread (it owns a CURL handle). */
#ifndef RELAY_WORKERS_SINKS_BIGQUERY_QUERY_H
#define RELAY_WORKERS_SINKS_BIGQUERY_QUERY_H

#include "relay/config.h"
#include "relay/error.h"
#include "relay/event.h"

#include <jansson.h>

struct bigquery_query;

/* Called once per contact, in contact_id order. contact is borrowed for
 * the call. Return 0 to go on, -1 (with err set) to stop the read. */
typedef int (*bigquery_query_fn)(const json_t *contact, void *ctx, struct relay_error *err);

/* A reader with its own HTTP client and token source. conf is borrowed
 * and must outlive it. NULL + err (RELAY_ECONFIG: no project/dataset, no
 * credentials). */
struct bigquery_query *bigquery_query_open(const struct config_bigquery *conf,
                                           struct relay_error *err);
void bigquery_query_close(struct bigquery_query *q); /* NULL is a no-op */

/* Rows per page asked for (maxResults); 0 lets the server choose. */
void bigquery_query_set_page_size(struct bigquery_query *q, unsigned rows);

/* Runs SELECT * FROM `project.dataset.contacts` [WHERE contact_id =
 * @contact_id] ORDER BY contact_id and calls fn for every contact.
 * contact_id NULL reads them all. Returns the number of contacts
 * delivered, or -1 with err (RELAY_EIO: network/5xx, RELAY_EAUTH,
 * RELAY_EINVAL: an answer we cannot decode, or fn's error). */
long bigquery_query_contacts(struct bigquery_query *q, const char *contact_id, bigquery_query_fn fn,
                             void *ctx, struct relay_error *err);

/* Pure helpers, exposed for tests. */

/* One row {"f":[{"v":..}...]} under schema {"fields":[...]} (or the fields
 * array itself) -> a new object keyed by column name. NULL + err. */
json_t *bigquery_query_decode_row(const json_t *schema, const json_t *row, struct relay_error *err);

/* BigQuery's epoch-seconds TIMESTAMP text ("1.73140087927E9", "1731400879.27",
 * "-1.0E0") -> canonical timestamp, exact to the microsecond (truncated).
 * 0, or -1 with err when it is not such a number. */
int bigquery_query_timestamp(const char *text, char out[RELAY_TS_LEN + 1], struct relay_error *err);

#endif
