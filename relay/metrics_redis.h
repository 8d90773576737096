/* The Redis half of GET /metrics, read at scrape time: the depths of every
 * enabled sink's queue (queue_depths) and the P:stats counters shared by
 * every instance (queue_stats), in Prometheus text format. metrics.h holds
 * the process-local half. */
#ifndef RELAY_RELAY_METRICS_REDIS_H
#define RELAY_RELAY_METRICS_REDIS_H

#include "relay/buf.h"
#include "relay/error.h"

struct queue;

/* Appends syncrelay_redis_up and, when Redis answered every read,
 * syncrelay_queue_* gauges per sink in sink_mask (RELAY_SINK_BIT) and
 * syncrelay_shared_* counters. q may be NULL (Redis unreachable). A Redis
 * failure is not an error: it renders syncrelay_redis_up 0 and no queue
 * or shared samples, and err (may be NULL) says why. Returns -1 only when
 * out is out of memory. */
int metrics_redis_render(struct queue *q, unsigned sink_mask, struct relay_buf *out,
                         struct relay_error *err) RELAY_MUST_CHECK;

#endif
