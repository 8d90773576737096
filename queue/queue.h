/* Durable hand-off between HTTP ingress and the workers, backed by Redis
 * lists with the key layout of shared/spec/queue.md (a public interface:
 * operators read it with redis-cli). Every move of an event is one atomic
 * Lua script, so an event is always in exactly one place. queue_redis.c
 * explains the design.
 *
 * Not thread-safe: every thread opens its own handle (hiredis contexts are
 * not thread-safe), except for the group commit below. A handle whose
 * connection broke reconnects on the next call; the failing call returns
 * -1 with RELAY_EIO. */
#ifndef RELAY_QUEUE_QUEUE_H
#define RELAY_QUEUE_QUEUE_H

#include "relay/buf.h"
#include "relay/error.h"
#include "relay/event.h"

#include <stddef.h>
#include <stdint.h>

struct queue_conf {
    const char *url;       /* redis://[:password@]host[:port][/db] or unix:///path[?db=N] */
    const char *prefix;    /* P */
    unsigned timeout_ms;   /* connect and command timeout */
    unsigned dedupe_ttl_s; /* P:seen TTL */
};

struct queue;

/* Copies conf (prefix "" or NULL: "syncrelay"; timeout_ms 0: 1000;
 * dedupe_ttl_s 0: 24 h) and tries to connect. NULL only for a bad URL
 * (RELAY_ECONFIG) or ENOMEM: an unreachable Redis is reported by the first
 * call (queue_ping to check), and the handle keeps reconnecting with a
 * capped backoff (50 ms doubling to 2 s; calls inside it fail at once). */
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

/* mapper_value_digest(null): the accept script tells a null value by it
 * (created_at and deleted_at, once set, stand against any other non-null
 * value; see queue_scripts.c). test_mapper_digest holds the two equal. */
#define QUEUE_NULL_DIGEST "74234e98afe7498f"

/* Ingest, in one atomic script: dedupe on ev->delivery (ev->id when
 * delivery is empty), run the arbiter of contact.md over ev->changed,
 * narrow ev->changed to the accepted fields, record P:seen, push the
 * encoded event onto P:q:SINK for every sink in route_mask, link the
 * record ids of its fields to ev->contact_id (P:xref, see
 * queue_xref_resolve), count in P:stats. queue/ does not link the
 * mappers, so the CALLER computes the digests: digests[i] is
 * mapper_value_digest(fields[changed[i]]) for every
 * i < json_array_size(ev->changed) (16 hex characters; updated_at too).
 * digests is borrowed. ev->changed is rewritten in place (only when the
 * verdict is QUEUE_ACCEPTED). Returns 0 with *verdict and *queued_mask set
 * (mask 0 unless accepted), or -1 (RELAY_EIO: Redis unreachable or slow,
 * nothing was written; RELAY_EINVAL: no contact_id, a bad digest, or an
 * id too long for a key). */
int queue_accept(struct queue *q, struct relay_event *ev, const char *const *digests,
                 unsigned route_mask, enum queue_verdict *verdict, unsigned *queued_mask,
                 struct relay_error *err) RELAY_MUST_CHECK;

/* Group commit (queue_group.c): one thread with its own connection runs
 * the accept scripts of many callers per round trip. queue_group_start
 * opens it as queue_open does (NULL only for a bad URL or ENOMEM) and
 * starts the thread; queue_group_stop answers what is queued, then stops.
 * queue_group_accept is queue_accept through that thread: thread-safe,
 * given a struct queue_accept_call per calling thread (its reusable
 * buffers), and blocking until the answer: about one redis.timeout_ms at
 * most (see queue_group.c). */
struct queue_group;
struct queue_accept_call;
struct queue_group *queue_group_start(const struct queue_conf *conf, struct relay_error *err);
void queue_group_stop(struct queue_group *g); /* NULL is a no-op */
struct queue_accept_call *queue_accept_call_new(void); /* NULL on ENOMEM */
void queue_accept_call_free(struct queue_accept_call *c); /* NULL is a no-op */
int queue_group_accept(struct queue_group *g, struct queue_accept_call *c, struct relay_event *ev,
                       const char *const *digests, unsigned route_mask,
                       enum queue_verdict *verdict, unsigned *queued_mask,
                       struct relay_error *err) RELAY_MUST_CHECK;

/* Identity links (contact.md, Identity; queue_xref.c). An event that
 * queue_accept accepts links the ids its fields carry (twenty_id,
 * supabase_id: non-empty strings) to ev->contact_id, in the same script:
 * P:xref:twenty:ID and P:xref:supabase:ID. For an event whose record came
 * without contact_id (ev->is_contact_id_derived), queue_xref_resolve GETs
 * P:xref:SOURCE:RECORD_ID and, when it names another contact, replaces
 * ev->contact_id (and fields.contact_id when present) with it; ev->id and
 * ev->delivery do not depend on contact_id and stay. Any other event
 * returns 0 at once, without a round trip. Call it before computing the
 * digests for queue_accept. 0 (linked or not), or -1 (RELAY_EIO: Redis
 * unreachable or slow; RELAY_ENOMEM). */
int queue_xref_resolve(struct queue *q, struct relay_event *ev,
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
int queue_take(struct queue *q, const char *sink, const char *consumer, size_t max, int timeout_ms,
               struct queue_batch *out, struct relay_error *err) RELAY_MUST_CHECK;

/* Removes settled elements from the consumer's in-flight list and counts
 * them as delivered:SINK. An element that is no longer in flight (another
 * instance recovered it) is skipped: it will be written again, which the
 * sinks' idempotence absorbs. */
int queue_ack(struct queue *q, const char *sink, const char *consumer,
              const struct queue_item *items, size_t count,
              struct relay_error *err) RELAY_MUST_CHECK;

/* Acknowledges a consumer's whole batch in one round trip without sending
 * the elements back: when P:inflight:SINK:CONSUMER holds exactly count
 * elements (everything the consumer took and has not settled), deletes it
 * and counts them as delivered:SINK; *done = 1. Otherwise changes nothing
 * and *done = 0: the caller then acknowledges with queue_ack. */
int queue_ack_all(struct queue *q, const char *sink, const char *consumer, size_t count, int *done,
                  struct relay_error *err) RELAY_MUST_CHECK;

/* Atomically replaces item (in flight) by updated (the re-encoded event
 * with attempts/error) in P:retry:SINK with score due_ms, counting
 * retried:SINK. When item is no longer in flight (recovered meanwhile)
 * nothing is added: the event is already back on its queue. */
int queue_retry(struct queue *q, const char *sink, const char *consumer,
                const struct queue_item *item, const struct relay_buf *updated, int64_t due_ms,
                struct relay_error *err) RELAY_MUST_CHECK;

/* Atomically replaces item (in flight) by updated in P:dead:SINK (newest
 * first), trimming to dead_cap when non-zero. What the trim drops is
 * counted in P:stats (dead_dropped:SINK) and returned in *dropped (may be
 * NULL) so the caller can log it: dead letters are never evicted silently. */
int queue_dead(struct queue *q, const char *sink, const char *consumer,
               const struct queue_item *item, const struct relay_buf *updated, unsigned dead_cap,
               size_t *dropped, struct relay_error *err) RELAY_MUST_CHECK;

/* Moves retries due by now_ms (at most max) back onto P:q:SINK; *moved
 * gets the count. One script per call. They go to the consumer end of the
 * queue (RPUSH, earliest due taken first): they arrived before anything
 * queued now, so this keeps arrival order as far as it can. */
int queue_promote_due(struct queue *q, const char *sink, int64_t now_ms, size_t max, size_t *moved,
                      struct relay_error *err) RELAY_MUST_CHECK;

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

/* Every P:stats counter as a JSON object {"name": integer}; the caller
 * owns *out. */
int queue_stats(struct queue *q, json_t **out, struct relay_error *err) RELAY_MUST_CHECK;

/* ---- Dead-letter administration (queue_admin.c) ---- */

/* Which dead letters an admin call touches. NULL members match anything.
 * since/until are inclusive and compared as canonical timestamp strings
 * (a prefix such as "2025-09-14" works) against the error's time: the
 * error's "at" when present, else first_error_at. A letter that does not
 * decode matches only a filter that names nothing but the sink. */
struct queue_dead_filter {
    const char *sink; /* NULL: every sink */
    const char *id;
    const char *source;
    const char *contact_id;
    const char *error_code; /* error.code */
    const char *since;
    const char *until;
};

/* 1 when ev (NULL: an undecodable letter) passes f, ignoring f->sink. */
int queue_dead_matches(const struct queue_dead_filter *f, const struct relay_event *ev);

/* Raw LRANGE of P:dead:SINK from offset (0 = newest), at most count
 * elements, into out (reset first). */
int queue_dead_list(struct queue *q, const char *sink, size_t offset, size_t count,
                    struct queue_batch *out, struct relay_error *err) RELAY_MUST_CHECK;

/* Calls visit for every matching dead letter, newest first, sink by sink.
 * item and ev are borrowed for the call (ev NULL when the letter does not
 * decode). visit returns 0 to go on, 1 to stop, -1 to fail (its own err). */
int queue_dead_each(struct queue *q, const struct queue_dead_filter *f,
                    int (*visit)(void *ctx, const char *sink, const struct queue_item *item,
                                 const struct relay_event *ev, struct relay_error *err),
                    void *ctx, struct relay_error *err) RELAY_MUST_CHECK;

/* Deletes the matching dead letters (LREM of the exact element, so a
 * concurrent purge or replay never double counts); with dry_run only
 * counts them. *count gets how many were (or would be) removed. */
int queue_dead_purge(struct queue *q, const struct queue_dead_filter *f, int dry_run, size_t *count,
                     struct relay_error *err) RELAY_MUST_CHECK;

/* Moves the matching dead letters back onto P:q:SINK, oldest first, with
 * attempts = 0, first_error_at and error cleared, and the last error
 * appended to history (earlier history kept). Each move is one atomic
 * script (LREM the exact element, then LPUSH); a letter another replay
 * took first is skipped. Counts replayed:SINK. With dry_run nothing
 * moves. *count gets how many moved (or would move). */
int queue_dead_replay(struct queue *q, const struct queue_dead_filter *f, int dry_run,
                      size_t *count, struct relay_error *err) RELAY_MUST_CHECK;

#endif
