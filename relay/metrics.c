/* Process-local metrics and their Prometheus rendering; see metrics.h.
 * Counters are plain _Atomic arrays indexed by enums, so rendering walks
 * fixed tables. */
#include "relay/metrics.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#define METRICS_STATUS_SLOTS 12
#define METRICS_BUCKETS 12

static const int status_codes[METRICS_STATUS_SLOTS] = {200, 202, 400, 401, 404, 405,
                                                       413, 415, 500, 503, 0, 0};
static const char *const route_names[METRICS_ROUTE_COUNT] = {
    "/v1/webhooks/twenty", "/v1/webhooks/supabase", "/healthz", "/readyz", "/metrics", "other"};
static const char *const outcome_names[METRICS_OUTCOME_COUNT] = {
    "accepted", "duplicate", "echo", "stale", "ignored", "rejected", "quarantined"};
static const char *const conn_names[METRICS_CONN_COUNT] = {"redis", "postgres", "sqlite", "http"};
/* Upper bounds in seconds; the last bucket is +Inf. */
static const double bucket_bounds[METRICS_BUCKETS - 1] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                          0.25,  0.5,   1,    2.5,   10};

static _Atomic unsigned long requests[METRICS_ROUTE_COUNT][METRICS_STATUS_SLOTS];
static _Atomic unsigned long events[RELAY_SOURCE_COUNT][METRICS_OUTCOME_COUNT];
static _Atomic unsigned long sink_written[RELAY_SINK_COUNT];
static _Atomic unsigned long sink_retried[RELAY_SINK_COUNT];
static _Atomic unsigned long sink_dead[RELAY_SINK_COUNT];
static _Atomic unsigned long batch_buckets[RELAY_SINK_COUNT][METRICS_BUCKETS];
static _Atomic unsigned long batch_count[RELAY_SINK_COUNT];
static _Atomic unsigned long batch_micros[RELAY_SINK_COUNT]; /* sum, in microseconds */
static _Atomic unsigned long reconnects[METRICS_CONN_COUNT];

static void add(_Atomic unsigned long *counter, unsigned long n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static unsigned long get(_Atomic unsigned long *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* The slot of a status code; unknown codes share the last slot ("other"). */
static int status_slot(int status)
{
    for (int i = 0; i < METRICS_STATUS_SLOTS - 2; i++) {
        if (status_codes[i] == status) {
            return i;
        }
    }
    return METRICS_STATUS_SLOTS - 1;
}

void metrics_http_request(enum metrics_route route, int status)
{
    if ((unsigned)route < METRICS_ROUTE_COUNT) {
        add(&requests[route][status_slot(status)], 1);
    }
}

void metrics_event(enum relay_source source, enum metrics_outcome outcome)
{
    if ((unsigned)source < RELAY_SOURCE_COUNT && (unsigned)outcome < METRICS_OUTCOME_COUNT) {
        add(&events[source][outcome], 1);
    }
}

void metrics_sink_written(enum relay_sink sink, unsigned count)
{
    if ((unsigned)sink < RELAY_SINK_COUNT) {
        add(&sink_written[sink], count);
    }
}

void metrics_sink_retried(enum relay_sink sink, unsigned count)
{
    if ((unsigned)sink < RELAY_SINK_COUNT) {
        add(&sink_retried[sink], count);
    }
}

void metrics_sink_dead(enum relay_sink sink, unsigned count)
{
    if ((unsigned)sink < RELAY_SINK_COUNT) {
        add(&sink_dead[sink], count);
    }
}

void metrics_batch_seconds(enum relay_sink sink, double seconds)
{
    if ((unsigned)sink >= RELAY_SINK_COUNT) {
        return;
    }
    int b = 0;
    while (b < METRICS_BUCKETS - 1 && seconds > bucket_bounds[b]) {
        b++;
    }
    add(&batch_buckets[sink][b], 1);
    add(&batch_count[sink], 1);
    add(&batch_micros[sink], (unsigned long)(seconds * 1e6));
}

void metrics_reconnect(enum metrics_conn conn)
{
    if ((unsigned)conn < METRICS_CONN_COUNT) {
        add(&reconnects[conn], 1);
    }
}

static int render_help(struct relay_buf *out, const char *name, const char *type, const char *help)
{
    return relay_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int render_requests(struct relay_buf *out)
{
    int rc = render_help(out, "syncrelay_http_requests_total", "counter",
                         "HTTP requests by route and status.");
    for (int r = 0; r < METRICS_ROUTE_COUNT && rc == 0; r++) {
        for (int s = 0; s < METRICS_STATUS_SLOTS && rc == 0; s++) {
            unsigned long n = get(&requests[r][s]);
            if (n == 0) {
                continue;
            }
            char status[16];
            if (status_codes[s] != 0) {
                snprintf(status, sizeof(status), "%d", status_codes[s]);
            } else {
                snprintf(status, sizeof(status), "other");
            }
            rc = relay_buf_printf(out, "syncrelay_http_requests_total{route=\"%s\",status=\"%s\"} %lu\n",
                                  route_names[r], status, n);
        }
    }
    return rc;
}

static int render_events(struct relay_buf *out)
{
    int rc = render_help(out, "syncrelay_events_total", "counter",
                         "Webhook events by source and outcome (this process).");
    for (int s = 0; s < RELAY_SOURCE_COUNT && rc == 0; s++) {
        for (int o = 0; o < METRICS_OUTCOME_COUNT && rc == 0; o++) {
            rc = relay_buf_printf(out, "syncrelay_events_total{source=\"%s\",outcome=\"%s\"} %lu\n",
                                  relay_source_name((enum relay_source)s), outcome_names[o],
                                  get(&events[s][o]));
        }
    }
    return rc;
}

static int render_sink_counter(struct relay_buf *out, const char *name, const char *help,
                               _Atomic unsigned long *counters)
{
    int rc = render_help(out, name, "counter", help);
    for (int k = 0; k < RELAY_SINK_COUNT && rc == 0; k++) {
        rc = relay_buf_printf(out, "%s{sink=\"%s\"} %lu\n", name,
                              relay_sink_name((enum relay_sink)k), get(&counters[k]));
    }
    return rc;
}

static int render_batches(struct relay_buf *out)
{
    int rc = render_help(out, "syncrelay_batch_seconds", "histogram",
                         "Time to write one batch to a sink.");
    for (int k = 0; k < RELAY_SINK_COUNT && rc == 0; k++) {
        const char *sink = relay_sink_name((enum relay_sink)k);
        unsigned long cumulative = 0;
        for (int b = 0; b < METRICS_BUCKETS && rc == 0; b++) {
            cumulative += get(&batch_buckets[k][b]);
            if (b < METRICS_BUCKETS - 1) {
                rc = relay_buf_printf(out, "syncrelay_batch_seconds_bucket{sink=\"%s\",le=\"%g\"} %lu\n",
                                      sink, bucket_bounds[b], cumulative);
            } else {
                rc = relay_buf_printf(out, "syncrelay_batch_seconds_bucket{sink=\"%s\",le=\"+Inf\"} %lu\n",
                                      sink, cumulative);
            }
        }
        rc = rc ? rc
                : relay_buf_printf(out,
                                   "syncrelay_batch_seconds_sum{sink=\"%s\"} %.6f\n"
                                   "syncrelay_batch_seconds_count{sink=\"%s\"} %lu\n",
                                   sink, (double)get(&batch_micros[k]) / 1e6, sink,
                                   get(&batch_count[k]));
    }
    return rc;
}

static int render_reconnects(struct relay_buf *out)
{
    int rc = render_help(out, "syncrelay_reconnects_total", "counter",
                         "Reconnections to Redis, databases and HTTP endpoints.");
    for (int c = 0; c < METRICS_CONN_COUNT && rc == 0; c++) {
        rc = relay_buf_printf(out, "syncrelay_reconnects_total{target=\"%s\"} %lu\n",
                              conn_names[c], get(&reconnects[c]));
    }
    return rc;
}

int metrics_render(struct relay_buf *out)
{
    if (render_requests(out) != 0 || render_events(out) != 0 ||
        render_sink_counter(out, "syncrelay_sink_written_total", "Events written by a sink.",
                            sink_written) != 0 ||
        render_sink_counter(out, "syncrelay_sink_retried_total", "Events scheduled for retry.",
                            sink_retried) != 0 ||
        render_sink_counter(out, "syncrelay_sink_dead_total", "Events dead-lettered.",
                            sink_dead) != 0 ||
        render_batches(out) != 0 || render_reconnects(out) != 0) {
        return -1;
    }
    return 0;
}
