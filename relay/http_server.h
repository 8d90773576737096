/* The HTTP server of `syncrelay serve`: civetweb with the webhook routes
 * (POST /v1/webhooks/twenty, POST /v1/webhooks/supabase), GET /healthz,
 * GET /readyz and GET /metrics. Each civetweb worker thread owns one Redis
 * connection, opened in civetweb's init_thread callback and closed in
 * exit_thread. */
#ifndef RELAY_RELAY_HTTP_SERVER_H
#define RELAY_RELAY_HTTP_SERVER_H

#include "relay/error.h"

struct relay_config;
struct mapping;
struct queue_conf;
struct http_server;

/* The sinks the config enables (RELAY_SINK_BIT mask): postgres.url set,
 * sqlite.path not "off", bigquery.project set, twenty.url set. */
unsigned http_server_enabled_sinks(const struct relay_config *conf);

/* Validates the HTTP and auth config and starts listening. conf, mapping
 * and qconf are borrowed and must outlive the server. Call with signals
 * blocked. NULL + err (RELAY_ECONFIG for a config that cannot run, e.g.
 * an empty twenty.secret without allow_unsigned, or TLS without TLS
 * support; RELAY_EIO when the port cannot be bound). */
struct http_server *http_server_start(const struct relay_config *conf,
                                      const struct mapping *mapping, const struct queue_conf *qconf,
                                      struct relay_error *err);

/* Stops accepting, finishes the requests in progress, joins the threads
 * (closing their Redis connections) and frees the server. NULL: no-op. */
void http_server_stop(struct http_server *s);

#endif
