/* Consumer liveness and what `syncrelay status` reads: heartbeats, the
 * recovery of in-flight lists left by dead consumers, depths and the
 * shared counters. */
#include "queue/queue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int queue_heartbeat(struct queue *q, const char *consumer, unsigned ttl_s, const char *info,
                    struct relay_error *err)
{
    char key[QUEUE_KEY_MAX];
    char ttl[24];
    if (queue_key(key, sizeof(key), q->prefix, "consumer", consumer, NULL, err) != 0) {
        return -1;
    }
    snprintf(ttl, sizeof(ttl), "%u", ttl_s ? ttl_s : 1);
    queue_args_reset(q);
    if ((queue_args_adds(q, "SET", err) | queue_args_adds(q, key, err) |
         queue_args_adds(q, info ? info : "", err) | queue_args_adds(q, "EX", err) |
         queue_args_adds(q, ttl, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_run(q, err);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

int queue_heartbeat_clear(struct queue *q, const char *consumer, struct relay_error *err)
{
    char key[QUEUE_KEY_MAX];
    if (queue_key(key, sizeof(key), q->prefix, "consumer", consumer, NULL, err) != 0) {
        return -1;
    }
    return queue_run_key_done(q, "DEL", key, err);
}

/* Runs the recover script for one in-flight key; adds to *moved. */
static int recover_one(struct queue *q, const char *ikey, size_t len, size_t *moved,
                       struct relay_error *err)
{
    char sink[128];
    char consumer[QUEUE_KEY_MAX];
    char ckey[QUEUE_KEY_MAX];
    char qkey[QUEUE_KEY_MAX];
    if (queue_key_parse_inflight(q->prefix, ikey, len, sink, sizeof(sink), consumer,
                                 sizeof(consumer)) != 0) {
        return 0; /* not ours (the MATCH pattern is wider than the layout) */
    }
    if (queue_key(ckey, sizeof(ckey), q->prefix, "consumer", consumer, NULL, err) != 0 ||
        queue_key(qkey, sizeof(qkey), q->prefix, "q", sink, NULL, err) != 0) {
        return -1;
    }
    queue_args_reset(q);
    if ((queue_args_add(q, ikey, len, err) | queue_args_adds(q, ckey, err) |
         queue_args_adds(q, qkey, err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_RECOVER, 3, err);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *moved += (size_t)r->integer;
    }
    freeReplyObject(r);
    return 0;
}

/* SCAN with MATCH pattern; calls fn for every key found. */
static int scan_keys(struct queue *q, const char *pattern,
                     int (*fn)(struct queue *q, const char *key, size_t len, void *ctx,
                               struct relay_error *err),
                     void *ctx, struct relay_error *err)
{
    char cursor[32] = "0";
    do {
        queue_args_reset(q);
        if ((queue_args_adds(q, "SCAN", err) | queue_args_adds(q, cursor, err) |
             queue_args_adds(q, "MATCH", err) | queue_args_adds(q, pattern, err) |
             queue_args_adds(q, "COUNT", err) | queue_args_adds(q, "500", err)) != 0) {
            return -1;
        }
        redisReply *r = queue_conn_run(q, err);
        if (r == NULL) {
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return relay_error_set(err, RELAY_EIO, "redis SCAN: unexpected reply");
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            if (k->type == REDIS_REPLY_STRING && fn(q, k->str, k->len, ctx, err) != 0) {
                freeReplyObject(r);
                return -1;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

static int recover_visit(struct queue *q, const char *key, size_t len, void *ctx,
                         struct relay_error *err)
{
    return recover_one(q, key, len, ctx, err);
}

/* "escaped(base):*" into out. */
static int match_under(const char *base, char *out, size_t cap, struct relay_error *err)
{
    if (queue_key_glob_escape(out, cap - 2, base) != 0) {
        return relay_error_set(err, RELAY_EINVAL, "queue key too long");
    }
    size_t n = strlen(out);
    memcpy(out + n, ":*", 3);
    return 0;
}

int queue_recover(struct queue *q, size_t *moved, struct relay_error *err)
{
    char base[QUEUE_KEY_MAX];
    char pattern[2 * QUEUE_KEY_MAX];
    *moved = 0;
    if (queue_key(base, sizeof(base), q->prefix, "inflight", NULL, NULL, err) != 0 ||
        match_under(base, pattern, sizeof(pattern), err) != 0) {
        return -1;
    }
    return scan_keys(q, pattern, recover_visit, moved, err);
}

int64_t queue_ts_to_ms(const char *ts, size_t len)
{
    struct tm tm = {0};
    int year, mon, day, hour, min, sec;
    long usec;
    char z;
    if (len != RELAY_TS_LEN || ts[4] != '-' || ts[10] != 'T' || ts[19] != '.') {
        return -1;
    }
    char tmp[RELAY_TS_LEN + 1];
    memcpy(tmp, ts, len);
    tmp[len] = '\0';
    if (sscanf(tmp, "%4d-%2d-%2dT%2d:%2d:%2d.%6ld%c", &year, &mon, &day, &hour, &min, &sec, &usec,
               &z) != 8 ||
        z != 'Z') {
        return -1;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm) * 1000 + usec / 1000;
}

/* Runs the command in the scratch vector; *out = its integer answer. */
/* *out = the integer answer r (0 for any other answer), freeing r; -1
 * when the command failed (r NULL, err set by the run). */
static int take_integer(redisReply *r, long long *out)
{
    if (r == NULL) {
        return -1;
    }
    *out = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return 0;
}

static int count_key(struct queue *q, const char *cmd, const char *key, long long *out,
                     struct relay_error *err)
{
    return take_integer(queue_run_key(q, cmd, key, err), out);
}

static int inflight_visit(struct queue *q, const char *key, size_t len, void *ctx,
                          struct relay_error *err)
{
    long long n = 0;
    queue_args_reset(q);
    if ((queue_args_adds(q, "LLEN", err) | queue_args_add(q, key, len, err)) != 0 ||
        take_integer(queue_conn_run(q, err), &n) != 0) {
        return -1;
    }
    *(long long *)ctx += n;
    return 0;
}

/* Age of the element at the consumer end of qkey (its received_at). */
static int oldest_age(struct queue *q, const char *qkey, int64_t *age_ms, struct relay_error *err)
{
    *age_ms = 0;
    queue_args_reset(q);
    if ((queue_args_adds(q, "LINDEX", err) | queue_args_adds(q, qkey, err) |
         queue_args_adds(q, "-1", err)) != 0) {
        return -1;
    }
    redisReply *r = queue_conn_run(q, err);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING) {
        json_t *o = json_loadb(r->str, r->len, 0, NULL);
        json_t *at = json_object_get(o, "received_at");
        int64_t t =
            json_is_string(at) ? queue_ts_to_ms(json_string_value(at), json_string_length(at)) : -1;
        int64_t now = queue_wall_ms();
        *age_ms = t >= 0 && now > t ? now - t : 0;
        json_decref(o);
    }
    freeReplyObject(r);
    return 0;
}

int queue_depths(struct queue *q, const char *sink, struct queue_depths *out,
                 struct relay_error *err)
{
    char qkey[QUEUE_KEY_MAX];
    char rkey[QUEUE_KEY_MAX];
    char dkey[QUEUE_KEY_MAX];
    char ibase[QUEUE_KEY_MAX];
    char pattern[2 * QUEUE_KEY_MAX];
    memset(out, 0, sizeof(*out));
    if (queue_key(qkey, sizeof(qkey), q->prefix, "q", sink, NULL, err) != 0 ||
        queue_key(rkey, sizeof(rkey), q->prefix, "retry", sink, NULL, err) != 0 ||
        queue_key(dkey, sizeof(dkey), q->prefix, "dead", sink, NULL, err) != 0 ||
        queue_key(ibase, sizeof(ibase), q->prefix, "inflight", sink, NULL, err) != 0 ||
        match_under(ibase, pattern, sizeof(pattern), err) != 0) {
        return -1;
    }
    if (count_key(q, "LLEN", qkey, &out->queued, err) != 0 ||
        count_key(q, "ZCARD", rkey, &out->retrying, err) != 0 ||
        count_key(q, "LLEN", dkey, &out->dead, err) != 0 ||
        scan_keys(q, pattern, inflight_visit, &out->in_flight, err) != 0 ||
        oldest_age(q, qkey, &out->oldest_queued_ms, err) != 0) {
        return -1;
    }
    return 0;
}

int queue_stats(struct queue *q, json_t **out, struct relay_error *err)
{
    char key[QUEUE_KEY_MAX];
    *out = NULL;
    if (queue_key(key, sizeof(key), q->prefix, "stats", NULL, NULL, err) != 0) {
        return -1;
    }
    redisReply *r = queue_run_key(q, "HGETALL", key, err);
    if (r == NULL) {
        return -1;
    }
    json_t *o = json_object();
    int rc = o == NULL ? relay_error_set(err, RELAY_ENOMEM, "stats: out of memory") : 0;
    for (size_t i = 0; rc == 0 && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        const redisReply *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (json_object_setn_new(o, k->str, k->len, json_integer(strtoll(v->str, NULL, 10))) != 0) {
            rc = relay_error_set(err, RELAY_ENOMEM, "stats: out of memory");
        }
    }
    freeReplyObject(r);
    if (rc != 0) {
        json_decref(o);
        return -1;
    }
    *out = o;
    return 0;
}
