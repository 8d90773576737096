/* OAuth 2.0 access tokens for BigQuery, from the first source configured:
 * 1. a static token (bigquery.token);
 * 2. a service-account key file (bigquery.credentials, else the
 *    GOOGLE_APPLICATION_CREDENTIALS environment variable): an RS256 JWT
 *    exchanged at the key's token_uri (or bigquery.token_url);
 * 3. the GCE metadata server (bigquery.metadata_url; empty disables it, so
 *    a test can never reach out of loopback by accident).
 * One struct bigquery_auth is shared by every BigQuery worker thread: the
 * token is cached, refreshed by one thread at a time a few minutes before
 * it expires, and never locked during the HTTP exchange. */
#ifndef RELAY_WORKERS_SINKS_BIGQUERY_AUTH_H
#define RELAY_WORKERS_SINKS_BIGQUERY_AUTH_H

#include "relay/config.h"
#include "relay/error.h"

#include <stddef.h>

struct bigquery_auth;
struct http_client;
struct http_response;

#define BIGQUERY_AUTH_SCOPE "https://www.googleapis.com/auth/bigquery"
#define BIGQUERY_AUTH_METADATA_PATH "/computeMetadata/v1/instance/service-accounts/default/token"

/* Reads the key file now (if that is the source). conf is copied. NULL +
 * err (RELAY_ECONFIG: no source, unreadable key file, bad key). */
struct bigquery_auth *bigquery_auth_create(const struct config_bigquery *conf,
                                           struct relay_error *err);
void bigquery_auth_destroy(struct bigquery_auth *a); /* NULL is a no-op; no thread may use it */

/* A valid access token, owned by the caller (relay_free). When the cached
 * one is missing or due for refresh, the calling thread fetches a new one
 * through its own client http, unless another thread already is: then it
 * uses the old token while that is still valid, or waits for the refresh.
 * Thread-safe. NULL + err (RELAY_EIO: the token endpoint is unreachable or
 * failed transiently; RELAY_EAUTH: it refused the credentials). */
char *bigquery_auth_token(struct bigquery_auth *a, struct http_client *http,
                          struct relay_error *err);

/* The API refused token (401/403): forgets it, unless another thread
 * already replaced it, so the next bigquery_auth_token fetches a fresh
 * one. No effect for a static token. Thread-safe. */
void bigquery_auth_invalidate(struct bigquery_auth *a, const char *token);

/* One call to the BigQuery REST API: METHOD url with "Content-Type:
 * application/json", a bearer token from bigquery_auth_token and body
 * (borrowed; may be NULL with len 0). resp as in http_client_request. On
 * 0 a response arrived, whatever its status, and *token is the token that
 * was sent (owned by the caller, relay_free), so that the caller can pass
 * it to bigquery_auth_invalidate when the API refused it. -1 + err (as
 * bigquery_auth_token, or as http_client_request) with *token NULL.
 * Thread-safe as bigquery_auth_token; http is the calling thread's. */
int bigquery_auth_request(struct bigquery_auth *a, struct http_client *http, const char *method,
                          const char *url, const char *body, size_t len,
                          struct http_response *resp, char **token,
                          struct relay_error *err) RELAY_MUST_CHECK;

/* Token fetches done so far (for tests and logs). Thread-safe. */
unsigned long bigquery_auth_refresh_count(struct bigquery_auth *a);

/* The signed assertion for the service-account source, issued at iat_s
 * (seconds since the epoch): header.claims.signature, base64url. Caller
 * frees with relay_free. NULL + err, also when the source is not a key. */
char *bigquery_auth_jwt(const struct bigquery_auth *a, long long iat_s, struct relay_error *err);

#endif
