/* Scrape-time Redis metrics; see metrics_redis.h.
 *
 * DESIGN: every number is read first and rendered after, so a Redis
 * failure half-way never leaves a metric family with some sinks missing:
 * either all queue and shared samples appear, or none (redis_up 0). */
#include "relay/metrics_redis.h"

#include "queue/queue.h"
#include "relay/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

struct gauge {
    const char *name;
    const char *help;
};

static const struct gauge gauges[] = {
    {"syncrelay_queue_queued", "Events waiting in P:q:SINK (every instance)."},
    {"syncrelay_queue_in_flight", "Events taken by a consumer and not settled yet."},
    {"syncrelay_queue_retrying", "Events waiting in P:retry:SINK for their next attempt."},
    {"syncrelay_queue_dead", "Dead letters in P:dead:SINK."},
    {"syncrelay_queue_oldest_age_seconds", "Age of the oldest queued event (0 when empty)."},
};
#define GAUGE_COUNT (sizeof(gauges) / sizeof(gauges[0]))

static double gauge_value(const struct queue_depths *d, size_t g)
{
    switch (g) {
    case 0:
        return (double)d->queued;
    case 1:
        return (double)d->in_flight;
    case 2:
        return (double)d->retrying;
    case 3:
        return (double)d->dead;
    default:
        return (double)d->oldest_queued_ms / 1000.0;
    }
}

/* Appends s as a label value: backslash, double quote and newline escaped. */
static int append_label(struct relay_buf *out, const char *s, size_t len)
{
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        char c = s[i];
        if (c == '\\' || c == '"') {
            char esc[2] = {'\\', c};
            rc = relay_buf_append(out, esc, 2);
        } else if (c == '\n') {
            rc = relay_buf_appends(out, "\\n");
        } else {
            rc = relay_buf_append(out, &c, 1);
        }
    }
    return rc;
}

static int render_depths(const struct queue_depths *depths, unsigned mask, struct relay_buf *out)
{
    int rc = 0;
    for (size_t g = 0; g < GAUGE_COUNT && rc == 0; g++) {
        rc = relay_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name,
                              gauges[g].help, gauges[g].name);
        for (int s = 0; s < RELAY_SINK_COUNT && rc == 0; s++) {
            if ((mask & RELAY_SINK_BIT(s)) != 0) {
                rc = relay_buf_printf(out, "%s{sink=\"%s\"} %.17g\n", gauges[g].name,
                                      relay_sink_name((enum relay_sink)s),
                                      gauge_value(&depths[s], g));
            }
        }
    }
    return rc;
}

/* P:stats "name" -> syncrelay_shared_events_total{outcome="name"};
 * "name:SINK" -> syncrelay_shared_sink_events_total{sink,outcome}. */
static int render_stats(json_t *stats, bool per_sink, struct relay_buf *out)
{
    const char *name = per_sink ? "syncrelay_shared_sink_events_total"
                                : "syncrelay_shared_events_total";
    int rc = relay_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name,
                              per_sink ? "P:stats counters per sink, shared by every instance."
                                       : "P:stats webhook verdicts, shared by every instance.",
                              name);
    const char *key;
    json_t *value;
    json_object_foreach(stats, key, value)
    {
        const char *colon = strchr(key, ':');
        if (rc != 0 || (colon != NULL) != per_sink || !json_is_integer(value)) {
            continue;
        }
        size_t klen = colon != NULL ? (size_t)(colon - key) : strlen(key);
        rc = relay_buf_printf(out, "%s{", name);
        if (rc == 0 && per_sink) {
            rc = relay_buf_appends(out, "sink=\"");
            rc = rc ? rc : append_label(out, colon + 1, strlen(colon + 1));
            rc = rc ? rc : relay_buf_appends(out, "\",");
        }
        rc = rc ? rc : relay_buf_appends(out, "outcome=\"");
        rc = rc ? rc : append_label(out, key, klen);
        rc = rc ? rc
                : relay_buf_printf(out, "\"} %lld\n", (long long)json_integer_value(value));
    }
    return rc;
}

/* Reads every number; 0 or -1 with err (Redis). */
static int read_all(struct queue *q, unsigned mask, struct queue_depths *depths, json_t **stats,
                    struct relay_error *err)
{
    if (q == NULL) {
        return -1;
    }
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        if ((mask & RELAY_SINK_BIT(s)) != 0 &&
            queue_depths(q, relay_sink_name((enum relay_sink)s), &depths[s], err) != 0) {
            return -1;
        }
    }
    return queue_stats(q, stats, err);
}

int metrics_redis_render(struct queue *q, unsigned sink_mask, struct relay_buf *out,
                         struct relay_error *err)
{
    struct queue_depths depths[RELAY_SINK_COUNT];
    memset(depths, 0, sizeof(depths));
    json_t *stats = NULL;
    struct relay_error local = {0};
    bool up = read_all(q, sink_mask, depths, &stats, err != NULL ? err : &local) == 0;
    int rc = relay_buf_printf(out,
                              "# HELP syncrelay_redis_up Whether Redis answered this scrape.\n"
                              "# TYPE syncrelay_redis_up gauge\nsyncrelay_redis_up %d\n",
                              up ? 1 : 0);
    if (rc == 0 && up) {
        rc = render_depths(depths, sink_mask, out);
        rc = rc ? rc : render_stats(stats, false, out);
        rc = rc ? rc : render_stats(stats, true, out);
    }
    json_decref(stats);
    return rc;
}
