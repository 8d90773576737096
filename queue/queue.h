/* Durable hand-off between HTTP ingress and the workers, backed by Redis
 * lists with the key layout of shared/spec/queue.md (a public interface:
 * operators read it with redis-cli). Every move of an event is one atomic
 * Lua script, so an event is always in exactly one place. queue_redis.c
 * explains the design.
 *
 * Not thread-safe: every thread opens its own handle (hiredis contexts are
 * not thread-safe). A handle whose connection broke reconnects on the next
 * call; the failing call returns -1 with RELAY_EIO. */
#ifndef RELAY_QUEUE_QUEUE_H
#define RELAY_QUEUE_QUEUE_H

#include "relay/buf.h"
#include "relay/error.h"
#include "relay/event.h"

#include <stddef.h>
#include <stdint.h>

struct queue_conf {
    const char *url;       /* redis://[:password@]host:port[/db] or unix:///path */
    const char *prefix;    /* P */
    unsigned timeout_ms;   /* connect and command timeout */
    unsigned dedupe_ttl_s; /* P:seen TTL */
};

struct queue;

struct queue *queue_open(const struct queue_conf *conf, struct relay_error *err);
void queue_close(struct queue *q); /* NULL is a no-op */

/* PING; 0 when Redis answers. */
int queue_ping(struct queue *q, struct relay_error *err) RELAY_MUST_CHECK;

enum queue_verdict {
    QUEUE_ACCEPTED = 0, /* queued to the sinks in *queued_mask */
    QUEUE_DUPLICATE,    /* this delivery was seen before */
    QUEUE_ECHO,         /* every changed field equals the stored digest */
    QUEUE_STALE,        /* every changed field is older than stored (or ties lost) */
};

/* Ingest, in one atomic script: dedupe on ev->delivery, run the arbiter of
 * contact.md over ev->changed (digests from mapper_value_digest), narrow
 * ev->changed to the accepted fields, record P:seen, push the encoded
 * event onto P:q:SINK for every sink in route_mask, count in P:stats.
 * ev->changed is rewritten in place. Returns 0 with *verdict set, or -1
 * (RELAY_EIO: Redis unreachable or slow; nothing was written). */
int queue_accept(struct queue *q, struct relay_event *ev, unsigned route_mask,
                 enum queue_verdict *verdict, unsigned *queued_mask,
                 struct relay_error *err) RELAY_MUST_CHECK;

/* One taken element: the raw bytes exactly as stored (needed to settle it). */
struct queue_item {
    char *raw; /* owned by the batch */
    size_t len;
};

struct queue_batch {
    struct queue_item *items; /* owned */
    size_t count;
    size_t cap;
};

void queue_batch_init(struct queue_batch *b);
void queue_batch_fini(struct queue_batch *b);

/* Moves up to max events from P:q:SINK to P:inflight:SINK:CONSUMER in one
 * round trip (oldest first), waiting up to timeout_ms when the queue is
 * empty. Appends them to out (reset first). 0 on success, even when empty. */
int queue_take(struct queue *q, const char *sink, const char *consumer, size_t max,
               int timeout_ms, struct queue_batch *out, struct relay_error *err) RELAY_MUST_CHECK;

/* Removes settled elements from the consumer's in-flight list and counts
 * them as delivered:SINK. */
int queue_ack(struct queue *q, const char *sink, const char *consumer,
              const struct queue_item *items, size_t count,
              struct relay_error *err) RELAY_MUST_CHECK;

/* Atomically replaces item (in flight) by updated (the re-encoded event
 * with attempts/error) in P:retry:SINK with score due_ms. */
int queue_retry(struct queue *q, const char *sink, const char *consumer,
                const struct queue_item *item, const struct relay_buf *updated, int64_t due_ms,
                struct relay_error *err) RELAY_MUST_CHECK;

/* Atomically replaces item (in flight) by updated in P:dead:SINK (newest
 * first), trimming to dead_cap when non-zero and counting what it drops. */
int queue_dead(struct queue *q, const char *sink, const char *consumer,
               const struct queue_item *item, const struct relay_buf *updated, unsigned dead_cap,
               struct relay_error *err) RELAY_MUST_CHECK;

/* Moves retries due by now_ms (at most max) back onto P:q:SINK; *moved
 * gets the count. One script per call. */
int queue_promote_due(struct queue *q, const char *sink, int64_t now_ms, size_t max,
                      size_t *moved, struct relay_error *err) RELAY_MUST_CHECK;

/* Sets P:consumer:CONSUMER with a TTL (host, pid, start time as value). */
int queue_heartbeat(struct queue *q, const char *consumer, unsigned ttl_s, const char *info,
                    struct relay_error *err) RELAY_MUST_CHECK;

/* Deletes P:consumer:CONSUMER (clean stop). */
int queue_heartbeat_clear(struct queue *q, const char *consumer,
                          struct relay_error *err) RELAY_MUST_CHECK;

/* Moves the in-flight lists of consumers without a live heartbeat back
 * onto their queues (front of the line: they are the oldest). *moved gets
 * the number of events. Safe to run from many instances at once. */
int queue_recover(struct queue *q, size_t *moved, struct relay_error *err) RELAY_MUST_CHECK;

/* Depths of one sink, the numbers `syncrelay status` prints. */
struct queue_depths {
    long long queued;
    long long in_flight;
    long long retrying;
    long long dead;
    int64_t oldest_queued_ms; /* age of the oldest queued event, 0 when empty */
};

int queue_depths(struct queue *q, const char *sink, struct queue_depths *out,
                 struct relay_error *err) RELAY_MUST_CHECK;

#endif
