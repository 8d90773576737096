/* Process-local counters and histograms for GET /metrics (Prometheus text
 * format). Every update is a relaxed atomic add: callable from any thread,
 * no locks, no allocation. Queue depths and the counters shared by all
 * instances live in Redis and are added at scrape time by the HTTP layer. */
#ifndef RELAY_RELAY_METRICS_H
#define RELAY_RELAY_METRICS_H

#include "relay/buf.h"
#include "relay/event.h"

enum metrics_route {
    METRICS_ROUTE_TWENTY = 0,
    METRICS_ROUTE_SUPABASE,
    METRICS_ROUTE_HEALTHZ,
    METRICS_ROUTE_READYZ,
    METRICS_ROUTE_METRICS,
    METRICS_ROUTE_OTHER,
    METRICS_ROUTE_COUNT
};

enum metrics_outcome {
    METRICS_ACCEPTED = 0,
    METRICS_DUPLICATE,
    METRICS_ECHO,
    METRICS_STALE,
    METRICS_IGNORED,    /* an object that is not synced */
    METRICS_REJECTED,   /* 4xx: bad signature, bad body, too big */
    METRICS_QUARANTINED, /* fields quarantined (counted per field) */
    METRICS_OUTCOME_COUNT
};

enum metrics_conn { METRICS_CONN_REDIS = 0, METRICS_CONN_POSTGRES, METRICS_CONN_SQLITE,
                    METRICS_CONN_HTTP, METRICS_CONN_COUNT };

void metrics_http_request(enum metrics_route route, int status);
void metrics_event(enum relay_source source, enum metrics_outcome outcome);
void metrics_sink_written(enum relay_sink sink, unsigned count);
void metrics_sink_retried(enum relay_sink sink, unsigned count);
void metrics_sink_dead(enum relay_sink sink, unsigned count);
/* One written batch took seconds (histogram per sink). */
void metrics_batch_seconds(enum relay_sink sink, double seconds);
void metrics_reconnect(enum metrics_conn conn);

/* Appends every process-local metric in Prometheus text format. */
int metrics_render(struct relay_buf *out) RELAY_MUST_CHECK;

#endif
