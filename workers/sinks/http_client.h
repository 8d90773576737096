/* A small blocking HTTP client over one libcurl easy handle, shared by the
 * REST sinks (BigQuery, Twenty). One struct http_client per thread: the
 * CURL handle inside is never used by two threads at once. The client
 * keeps the connection alive between requests (libcurl's connection cache
 * lives in the easy handle). */
#ifndef RELAY_WORKERS_SINKS_HTTP_CLIENT_H
#define RELAY_WORKERS_SINKS_HTTP_CLIENT_H

#include "relay/buf.h"
#include "relay/error.h"

#include <stddef.h>

struct http_client;

/* What came back from one exchange. body is owned by the struct;
 * http_response_fini releases it. */
struct http_response {
    long status;           /* HTTP status, 0 until a response arrived */
    struct relay_buf body; /* response body, NUL-terminated when non-empty */
};

void http_response_init(struct http_response *r);
void http_response_fini(struct http_response *r); /* keeps r reusable */

/* A handle with CURLOPT_NOSIGNAL and a whole-request timeout of timeout_ms
 * (0: libcurl's default, no limit). curl_global_init must have run before
 * any thread exists. NULL + err on failure. Not thread-safe: one per thread. */
struct http_client *http_client_create(unsigned timeout_ms, struct relay_error *err);
void http_client_destroy(struct http_client *c); /* NULL is a no-op */

/* Performs METHOD url with the given headers (NULL-terminated array of
 * "Name: value" strings, may be NULL) and body (may be NULL with len 0;
 * borrowed for the call). Any previous content of resp is replaced.
 * Returns 0 when a response arrived, whatever its status (check
 * resp->status); -1 with err RELAY_EIO on a network error or timeout, or
 * RELAY_ENOMEM. Never logs the body or the headers (they hold secrets). */
int http_client_request(struct http_client *c, const char *method, const char *url,
                        const char *const *headers, const char *body, size_t len,
                        struct http_response *resp, struct relay_error *err) RELAY_MUST_CHECK;

/* URL building shared by the REST sinks. Pure; thread-safe. */

/* Appends base_url without its trailing slashes, so that a path starting
 * with '/' can follow. 0, or -1 when out of memory. */
int http_client_append_base(struct relay_buf *out, const char *base_url) RELAY_MUST_CHECK;

/* Appends s percent-encoded for a URL path segment or query value: the
 * RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~) stay, every other
 * byte becomes %XX (upper-case hex). 0, or -1 when out of memory. */
int http_client_escape(struct relay_buf *out, const char *s) RELAY_MUST_CHECK;

#endif
