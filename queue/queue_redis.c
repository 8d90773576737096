/* The Redis queue: handle lifecycle and the moves of an event between the
 * lists of shared/spec/queue.md.
 *
 * DESIGN
 * - Reliable-list pattern: producers LPUSH onto P:q:SINK; a consumer moves
 *   a batch to its own P:inflight:SINK:CONSUMER (LMOVE RIGHT LEFT, oldest
 *   first) and settles each element by its exact bytes: ack removes it,
 *   retry moves it into the P:retry:SINK sorted set, dead into P:dead:SINK.
 *   Every move is one Lua script (queue_scripts.c), so an element is always
 *   in exactly one list, whatever crashes.
 * - A settle that finds its element gone from in-flight (another instance
 *   recovered it because this consumer's heartbeat expired) does nothing:
 *   the event is back on its queue and will be written again (at least
 *   once; sinks are idempotent).
 * - take: one script moves up to N elements. Scripts cannot block, so when
 *   the queue is empty the handle waits with BLMOVE for the first element
 *   (socket timeout raised for that one command), then takes the rest with
 *   the script: two round trips only when it had to wait.
 * - Connection handling and the reconnect backoff live in queue_conn.c;
 *   accept (the arbiter) in queue_accept.c; recovery and depths in
 *   queue_recover.c; dead-letter tooling in queue_admin.c. */
#include "queue/queue_internal.h"
#include "relay/mem.h"

#include <stdio.h>
#include <string.h>

struct queue *queue_open(const struct queue_conf *conf, struct relay_error *err)
{
    struct queue *q = relay_calloc(1, sizeof(*q));
    if (q == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
        return NULL;
    }
    relay_buf_init(&q->scratch);
    if (queue_url_parse(conf->url, &q->url, err) != 0) {
        goto fail;
    }
    const char *prefix = conf->prefix && conf->prefix[0] ? conf->prefix : "syncrelay";
    q->prefix = relay_strdup(prefix);
    if (q->prefix == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
        goto fail;
    }
    q->timeout_ms = conf->timeout_ms ? conf->timeout_ms : 1000;
    q->dedupe_ttl_s = conf->dedupe_ttl_s;
    queue_args_reset(q);
    q->argc = 0;
    for (int i = 0; i < 3; i++) { /* the EVALSHA slots always exist */
        if (queue_args_add(q, "", 0, err) != 0) {
            goto fail;
        }
    }
    /* Connect now when we can; a failure shows on the first call. */
    (void)queue_conn_ensure(q, NULL);
    return q;
fail:
    queue_close(q);
    return NULL;
}

void queue_close(struct queue *q)
{
    if (q == NULL) {
        return;
    }
    if (q->ctx != NULL) {
        redisFree(q->ctx);
    }
    queue_url_fini(&q->url);
    relay_free(q->prefix);
    relay_free(q->argv);
    relay_free(q->argvlen);
    relay_buf_fini(&q->scratch);
    queue_accept_call_free(q->accept);
    relay_free(q);
}

int queue_ping(struct queue *q, struct relay_error *err)
{
    return queue_run_key_done(q, "PING", NULL, err);
}

void queue_batch_init(struct queue_batch *b)
{
    memset(b, 0, sizeof(*b));
}

static void batch_reset(struct queue_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        relay_free(b->items[i].raw);
    }
    b->count = 0;
}

void queue_batch_fini(struct queue_batch *b)
{
    batch_reset(b);
    relay_free(b->items);
    memset(b, 0, sizeof(*b));
}

/* Appends a copy of every string element of r (an array) to b. */
int queue_batch_append_reply(struct queue_batch *b, const redisReply *r, struct relay_error *err)
{
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (b->count == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 16;
            struct queue_item *items = relay_realloc(b->items, cap * sizeof(*items));
            if (items == NULL) {
                return relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
            }
            b->items = items;
            b->cap = cap;
        }
        char *raw = relay_malloc(e->len + 1);
        if (raw == NULL) {
            return relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
        }
        memcpy(raw, e->str, e->len);
        raw[e->len] = '\0';
        b->items[b->count].raw = raw;
        b->items[b->count].len = e->len;
        b->count++;
    }
    return 0;
}

/* Runs the take script for up to max elements into out. */
static int take_some(struct queue *q, const char *qkey, const char *ikey, size_t max,
                     struct queue_batch *out, struct relay_error *err)
{
    char n[24];
    snprintf(n, sizeof(n), "%zu", max);
    queue_args_reset(q);
    if ((queue_args_adds(q, qkey, err) | queue_args_adds(q, ikey, err) |
         queue_args_adds(q, n, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_TAKE, 2, err);
    if (r == NULL) {
        return -1;
    }
    int rc = queue_batch_append_reply(out, r, err);
    freeReplyObject(r);
    return rc;
}

/* BLMOVE for the first element, waiting up to timeout_ms. */
static int wait_first(struct queue *q, const char *qkey, const char *ikey, int timeout_ms,
                      struct queue_batch *out, struct relay_error *err)
{
    char secs[32];
    snprintf(secs, sizeof(secs), "%d.%03d", timeout_ms / 1000, timeout_ms % 1000);
    queue_args_reset(q);
    if ((queue_args_adds(q, "BLMOVE", err) | queue_args_adds(q, qkey, err) |
         queue_args_adds(q, ikey, err) | queue_args_adds(q, "RIGHT", err) |
         queue_args_adds(q, "LEFT", err) | queue_args_adds(q, secs, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_run_blocking(q, (unsigned)timeout_ms, err);
    if (r == NULL) {
        return -1;
    }
    redisReply one = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = &r};
    int rc = r->type == REDIS_REPLY_STRING ? queue_batch_append_reply(out, &one, err) : 0;
    freeReplyObject(r);
    return rc;
}

int queue_take(struct queue *q, const char *sink, const char *consumer, size_t max, int timeout_ms,
               struct queue_batch *out, struct relay_error *err)
{
    char qkey[QUEUE_KEY_MAX];
    char ikey[QUEUE_KEY_MAX];
    batch_reset(out);
    if (max == 0) {
        return 0;
    }
    if (queue_key(qkey, sizeof(qkey), q->prefix, "q", sink, NULL, err) != 0 ||
        queue_key(ikey, sizeof(ikey), q->prefix, "inflight", sink, consumer, err) != 0 ||
        take_some(q, qkey, ikey, max, out, err) != 0) {
        return -1;
    }
    if (out->count > 0 || timeout_ms <= 0) {
        return 0;
    }
    if (wait_first(q, qkey, ikey, timeout_ms, out, err) != 0) {
        return -1;
    }
    if (out->count == 1 && max > 1 && take_some(q, qkey, ikey, max - 1, out, err) != 0) {
        return -1;
    }
    return 0;
}

/* The arguments both acks start with: KEYS inflight, P:stats; ARGV 1 the
 * counter delivered:SINK. The argument vector points into k. */
struct ack_keys {
    char inflight[QUEUE_KEY_MAX];
    char stats[QUEUE_KEY_MAX];
    char counter[QUEUE_KEY_MAX];
};

static int ack_args(struct queue *q, const char *sink, const char *consumer, struct ack_keys *k,
                    struct relay_error *err)
{
    if (queue_key(k->inflight, sizeof(k->inflight), q->prefix, "inflight", sink, consumer, err) !=
            0 ||
        queue_key(k->stats, sizeof(k->stats), q->prefix, "stats", NULL, NULL, err) != 0) {
        return -1;
    }
    snprintf(k->counter, sizeof(k->counter), "delivered:%s", sink);
    queue_args_reset(q);
    return queue_args_adds(q, k->inflight, err) | queue_args_adds(q, k->stats, err) |
           queue_args_adds(q, k->counter, err);
}

int queue_ack(struct queue *q, const char *sink, const char *consumer,
              const struct queue_item *items, size_t count, struct relay_error *err)
{
    if (count == 0) {
        return 0;
    }
    struct ack_keys k;
    int bad = ack_args(q, sink, consumer, &k, err);
    for (size_t i = 0; i < count && !bad; i++) {
        bad |= queue_args_add(q, items[i].raw, items[i].len, err);
    }
    if (bad) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_ACK, 2, err);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* A consumer's in-flight list only grows by its own takes, shrinks by its
 * own settles, and a recovery moves it away whole: when it holds exactly
 * count elements after the consumer wrote everything it took, deleting it
 * acknowledges exactly the batch, without sending ~400 KB of elements
 * back as queue_ack does for 500 contacts. */
int queue_ack_all(struct queue *q, const char *sink, const char *consumer, size_t count, int *done,
                  struct relay_error *err)
{
    struct ack_keys k;
    char n[24];
    *done = 0;
    if (count == 0) {
        return 0;
    }
    snprintf(n, sizeof(n), "%zu", count);
    if ((ack_args(q, sink, consumer, &k, err) | queue_args_adds(q, n, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_ACK_ALL, 2, err);
    if (r == NULL) {
        return -1;
    }
    *done = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return 0;
}

/* Shared by retry and dead: keys inflight, target, stats. */
static int settle_keys(const struct queue *q, const char *sink, const char *consumer,
                       const char *kind, char keys[3][QUEUE_KEY_MAX], struct relay_error *err)
{
    return queue_key(keys[0], QUEUE_KEY_MAX, q->prefix, "inflight", sink, consumer, err) != 0 ||
                   queue_key(keys[1], QUEUE_KEY_MAX, q->prefix, kind, sink, NULL, err) != 0 ||
                   queue_key(keys[2], QUEUE_KEY_MAX, q->prefix, "stats", NULL, NULL, err) != 0
               ? -1
               : 0;
}

int queue_retry(struct queue *q, const char *sink, const char *consumer,
                const struct queue_item *item, const struct relay_buf *updated, int64_t due_ms,
                struct relay_error *err)
{
    char keys[3][QUEUE_KEY_MAX];
    char due[24];
    char counter[QUEUE_KEY_MAX];
    if (settle_keys(q, sink, consumer, "retry", keys, err) != 0) {
        return -1;
    }
    snprintf(due, sizeof(due), "%lld", (long long)due_ms);
    snprintf(counter, sizeof(counter), "retried:%s", sink);
    queue_args_reset(q);
    if ((queue_args_adds(q, keys[0], err) | queue_args_adds(q, keys[1], err) |
         queue_args_adds(q, keys[2], err) | queue_args_add(q, item->raw, item->len, err) |
         queue_args_add(q, updated->data, updated->len, err) | queue_args_adds(q, due, err) |
         queue_args_adds(q, counter, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_RETRY, 3, err);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

int queue_dead(struct queue *q, const char *sink, const char *consumer,
               const struct queue_item *item, const struct relay_buf *updated, unsigned dead_cap,
               size_t *dropped, struct relay_error *err)
{
    char keys[3][QUEUE_KEY_MAX];
    char cap[24];
    char counter[2][QUEUE_KEY_MAX];
    if (dropped != NULL) {
        *dropped = 0;
    }
    if (settle_keys(q, sink, consumer, "dead", keys, err) != 0) {
        return -1;
    }
    snprintf(cap, sizeof(cap), "%u", dead_cap);
    snprintf(counter[0], sizeof(counter[0]), "dead:%s", sink);
    snprintf(counter[1], sizeof(counter[1]), "dead_dropped:%s", sink);
    queue_args_reset(q);
    if ((queue_args_adds(q, keys[0], err) | queue_args_adds(q, keys[1], err) |
         queue_args_adds(q, keys[2], err) | queue_args_add(q, item->raw, item->len, err) |
         queue_args_add(q, updated->data, updated->len, err) | queue_args_adds(q, cap, err) |
         queue_args_adds(q, counter[0], err) | queue_args_adds(q, counter[1], err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_DEAD, 3, err);
    if (r == NULL) {
        return -1;
    }
    if (dropped != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER) {
        *dropped = (size_t)r->element[1]->integer;
    }
    freeReplyObject(r);
    return 0;
}

int queue_promote_due(struct queue *q, const char *sink, int64_t now_ms, size_t max, size_t *moved,
                      struct relay_error *err)
{
    char rkey[QUEUE_KEY_MAX];
    char qkey[QUEUE_KEY_MAX];
    char now[24];
    char n[24];
    *moved = 0;
    if (queue_key(rkey, sizeof(rkey), q->prefix, "retry", sink, NULL, err) != 0 ||
        queue_key(qkey, sizeof(qkey), q->prefix, "q", sink, NULL, err) != 0) {
        return -1;
    }
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(n, sizeof(n), "%zu", max);
    queue_args_reset(q);
    if ((queue_args_adds(q, rkey, err) | queue_args_adds(q, qkey, err) |
         queue_args_adds(q, now, err) | queue_args_adds(q, n, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_PROMOTE, 2, err);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *moved = (size_t)r->integer;
    }
    freeReplyObject(r);
    return 0;
}
