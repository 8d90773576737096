/* queue_ack_all (queue.h): acknowledging a whole batch with one DEL.
 * Added by the workers' owner for drain throughput: queue_ack sends every
 * acknowledged element back to Redis (the script compares them before it
 * deletes), which for a batch of 500 contacts is ~400 KB per round trip.
 * When a worker acknowledges everything it took, its in-flight list holds
 * exactly those elements (a consumer's list only grows by its own takes,
 * shrinks by its own settles, and a recovery moves it away whole), so the
 * list's length is enough to know that deleting it acknowledges exactly
 * the batch. Any other length (something stranded there by an earlier
 * failed take, or the list was recovered) answers "not done" and the
 * caller falls back to queue_ack. */
#include "queue/queue_internal.h"

#include <stdio.h>

/* KEYS: 1 inflight, 2 P:stats. ARGV: 1 count, 2 counter (delivered:SINK).
 * Answer: 1 deleted, 0 the list does not hold exactly count elements. */
static const char ack_all_lua[] =
    "if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[1])\n"
    "return 1\n";

int queue_ack_all(struct queue *q, const char *sink, const char *consumer, size_t count,
                  int *done, struct relay_error *err)
{
    char ikey[QUEUE_KEY_MAX];
    char skey[QUEUE_KEY_MAX];
    char counter[QUEUE_KEY_MAX];
    char n[24];
    *done = 0;
    if (count == 0) {
        return 0;
    }
    if (queue_key(ikey, sizeof(ikey), q->prefix, "inflight", sink, consumer, err) != 0 ||
        queue_key(skey, sizeof(skey), q->prefix, "stats", NULL, NULL, err) != 0) {
        return -1;
    }
    snprintf(counter, sizeof(counter), "delivered:%s", sink);
    snprintf(n, sizeof(n), "%zu", count);
    queue_args_reset(q);
    if ((queue_args_adds(q, "EVAL", err) | queue_args_add(q, ack_all_lua, sizeof(ack_all_lua) - 1, err) |
         queue_args_adds(q, "2", err) | queue_args_adds(q, ikey, err) |
         queue_args_adds(q, skey, err) | queue_args_adds(q, n, err) |
         queue_args_adds(q, counter, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_run(q, err);
    if (r == NULL) {
        return -1;
    }
    *done = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return 0;
}
