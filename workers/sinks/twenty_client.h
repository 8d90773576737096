/* Twenty CRM's REST API for people (shared/spec/sinks.md, Twenty): find by
 * a field, create one or a batch (<= 60), PATCH, soft delete, restore, hard
 * delete, and list with starting_after paging. One twenty_client per
 * thread (it owns one http_client, hence one CURL handle). Every request
 * first takes a token from the shared rate bucket (twenty_rate.h): when
 * none is left the call sends nothing, fails with RELAY_EIO, and
 * twenty_client_throttled_ms() says how long to wait.
 *
 * Errors (err->code): RELAY_EIO transient (network, timeout, 5xx, 429, the
 * older 400 "rate limit" answer, local throttling); RELAY_ECONFIG a bad API
 * key (401/403: permanent for the deployment, retried); RELAY_EINVAL any
 * other 4xx (permanent for the input); RELAY_ENOMEM. Messages carry the
 * status and Twenty's `error` name, never a body or the key.
 *
 * The pure helpers below (URL and filter building, answer classification,
 * composite merging) are exported for the unit tests. */
#ifndef RELAY_WORKERS_SINKS_TWENTY_CLIENT_H
#define RELAY_WORKERS_SINKS_TWENTY_CLIENT_H

#include "relay/buf.h"
#include "relay/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWENTY_BATCH_MAX 60  /* POST /rest/batch/people takes at most 60 */
#define TWENTY_LIST_MAX 200  /* GET limit */

struct twenty_rate;
struct twenty_client;

/* base_url: "https://host" or "https://host/rest" (both work); api_key is
 * copied; rate is borrowed (shared, outlives the client). NULL + err. */
struct twenty_client *twenty_client_create(const char *base_url, const char *api_key,
                                           unsigned timeout_ms, struct twenty_rate *rate,
                                           struct relay_error *err);
void twenty_client_destroy(struct twenty_client *c); /* NULL is a no-op */

/* After a call that failed because no token was left: the milliseconds to
 * wait (>= 1); 0 when the last call was not throttled locally. */
int64_t twenty_client_throttled_ms(const struct twenty_client *c);

/* Requests actually sent by this client (tests, stats). */
unsigned long twenty_client_request_count(const struct twenty_client *c);

/* GET /rest/people?filter=FIELD[eq]:"VALUE" (with deletedAt[is]:NOT_NULL
 * added when is_deleted: Twenty hides soft-deleted records unless the
 * filter names deletedAt). *out gets the first match (owned) or NULL. */
int twenty_find(struct twenty_client *c, const char *field, const char *value, bool is_deleted,
                json_t **out, struct relay_error *err) RELAY_MUST_CHECK;

/* POST /rest/people; *out (may be NULL) gets the created record (owned). */
int twenty_create(struct twenty_client *c, const json_t *body, json_t **out,
                  struct relay_error *err) RELAY_MUST_CHECK;

/* POST /rest/batch/people with 1..TWENTY_BATCH_MAX bodies; *out (may be
 * NULL) gets the array of created records (owned), in request order. */
int twenty_create_many(struct twenty_client *c, const json_t *bodies, json_t **out,
                       struct relay_error *err) RELAY_MUST_CHECK;

/* PATCH /rest/people/{id}; composites in body must be whole. */
int twenty_update(struct twenty_client *c, const char *id, const json_t *body, json_t **out,
                  struct relay_error *err) RELAY_MUST_CHECK;

/* DELETE /rest/people/{id}?soft_delete=true (is_soft) or without (hard). */
int twenty_delete(struct twenty_client *c, const char *id, bool is_soft,
                  struct relay_error *err) RELAY_MUST_CHECK;

/* PATCH /rest/people/{id}/restore (clears deletedAt). */
int twenty_restore(struct twenty_client *c, const char *id,
                   struct relay_error *err) RELAY_MUST_CHECK;

/* One page of GET /rest/people?limit=L[&starting_after=CURSOR] (after may
 * be NULL). *people (owned) gets the array; *end_cursor (owned, may be
 * NULL when the page is empty) and *has_next the paging state. */
int twenty_list(struct twenty_client *c, const char *after, unsigned limit, json_t **people,
                char **end_cursor, bool *has_next, struct relay_error *err) RELAY_MUST_CHECK;

/* --- pure helpers (no I/O; thread-safe) --- */

/* Appends the filter FIELD[eq]:"VALUE" (plus ",deletedAt[is]:NOT_NULL"
 * when is_deleted). -1 with RELAY_EINVAL when value holds '"' or '\\'. */
int twenty_filter_eq(struct relay_buf *out, const char *field, const char *value,
                     bool is_deleted, struct relay_error *err) RELAY_MUST_CHECK;

/* Appends s percent-encoded for a query string (RFC 3986 unreserved kept). */
int twenty_url_escape(struct relay_buf *out, const char *s) RELAY_MUST_CHECK;

/* Classifies an answer: 0 for 2xx; else -1 with err as described above.
 * body may be NULL. what names the call ("create"). */
int twenty_classify(long status, const char *body, size_t len, const char *what,
                    struct relay_error *err);

/* Takes data.<key> out of a JSON answer (a new reference), NULL + EINVAL
 * when it is not there. */
json_t *twenty_answer_data(const char *body, size_t len, const char *key,
                           struct relay_error *err);

/* Makes a PATCH body's composites whole from the record Twenty holds:
 * `name` gets the record's missing sub-fields; `phones` keeps the record's
 * primaryPhoneCountryCode (and each additional phone's countryCode) where
 * the calling code is unchanged. Modifies body in place; record may be NULL. */
void twenty_merge_composites(json_t *body, const json_t *record);

#endif
