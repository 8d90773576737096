/* Helpers shared by test_queue.c and test_queue_admin.c: a queue handle on
 * the private Redis of tests/with-redis.sh (SYNCRELAY_TEST_REDIS_URL, the
 * tests FAIL when it is unset), a raw hiredis context to inspect keys the
 * way an operator would, a unique key prefix per test, and event builders. */
#ifndef RELAY_TESTS_TEST_QUEUE_UTIL_H
#define RELAY_TESTS_TEST_QUEUE_UTIL_H

#include "queue/queue.h"
#include "relay/event.h"
#include "relay/mem.h"

#include <hiredis.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

struct tq {
    struct queue *q;
    redisContext *raw;
    char prefix[64];
};

static int tq_counter;

static inline const char *tq_url(void)
{
    const char *url = getenv("SYNCRELAY_TEST_REDIS_URL");
    if (url == NULL || url[0] == '\0') {
        fail_msg("SYNCRELAY_TEST_REDIS_URL is not set: run through tests/with-redis.sh");
    }
    return url;
}

static inline int tq_parse_port(const char *url)
{
    const char *colon = strrchr(url, ':');
    assert_non_null(colon);
    return (int)strtol(colon + 1, NULL, 10);
}

static inline struct tq *tq_open(void)
{
    struct tq *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->prefix, sizeof(t->prefix), "t%d-%d", (int)getpid(), ++tq_counter);
    struct queue_conf conf = {
        .url = tq_url(), .prefix = t->prefix, .timeout_ms = 2000, .dedupe_ttl_s = 600};
    struct relay_error err = {0};
    t->q = queue_open(&conf, &err);
    assert_non_null(t->q);
    assert_int_equal(queue_ping(t->q, &err), 0);
    t->raw = redisConnect("127.0.0.1", tq_parse_port(tq_url()));
    assert_non_null(t->raw);
    assert_int_equal(t->raw->err, 0);
    return t;
}

static inline void tq_close(struct tq *t)
{
    queue_close(t->q);
    redisFree(t->raw);
    free(t);
}

/* Runs a raw command "CMD P:rest args" with %s for the prefix already
 * expanded by the caller; returns the reply (caller frees). */
static inline redisReply *tq_cmd(struct tq *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(t->raw, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    return r;
}

static inline long long tq_int(struct tq *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(t->raw, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    long long v = -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        v = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
        v = strtoll(r->str, NULL, 10);
    } else if (r->type == REDIS_REPLY_NIL) {
        v = 0;
    }
    freeReplyObject(r);
    return v;
}

/* A P:stats counter (0 when absent). */
static inline long long tq_stat(struct tq *t, const char *name)
{
    return tq_int(t, "HGET %s:stats %s", t->prefix, name);
}

/* An upsert of contact with version; fields given as name, JSON text pairs,
 * NULL-terminated; every field is changed. */
static inline struct relay_event *tq_event(enum relay_source src, enum relay_op op,
                                           const char *contact, const char *version,
                                           const char *delivery, ...)
{
    struct relay_event *ev = relay_event_create();
    assert_non_null(ev);
    ev->source = src;
    ev->op = op;
    ev->contact_id = relay_strdup(contact);
    ev->record_id = relay_strdup(contact);
    snprintf(ev->version, sizeof(ev->version), "%s", version);
    snprintf(ev->received_at, sizeof(ev->received_at), "%s", version);
    snprintf(ev->delivery, sizeof(ev->delivery), "%s", delivery);
    relay_event_set_id(ev);
    va_list ap;
    va_start(ap, delivery);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
        const char *json = va_arg(ap, const char *);
        json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_object_set_new(ev->fields, name, v);
        json_array_append_new(ev->changed, json_string(name));
    }
    va_end(ap);
    return ev;
}

/* Fake digests for the test: the value's compact JSON hashed by FNV, 16
 * hex, the same for the same value; null gets QUEUE_NULL_DIGEST, as from
 * mapper_value_digest. */
static inline void tq_digest(const json_t *v, char out[17])
{
    if (v == NULL || json_is_null(v)) { /* as mapper_value_digest: the script knows null */
        snprintf(out, 17, "%s", QUEUE_NULL_DIGEST);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = s; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    free(s);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The digests of ev's changed fields, as queue_accept wants them. */
struct tq_digests {
    char digests[64][17];
    const char *ptrs[64];
};

static inline const char *const *tq_digests_of(const struct relay_event *ev, struct tq_digests *d)
{
    size_t n = json_array_size(ev->changed);
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(ev->changed, i));
        tq_digest(json_object_get(ev->fields, name), d->digests[i]);
        d->ptrs[i] = d->digests[i];
    }
    return d->ptrs;
}

/* queue_accept with digests computed from ev->fields. */
static inline int tq_accept(struct tq *t, struct relay_event *ev, unsigned mask,
                            enum queue_verdict *verdict, unsigned *queued, struct relay_error *err)
{
    struct tq_digests d;
    return queue_accept(t->q, ev, tq_digests_of(ev, &d), mask, verdict, queued, err);
}

/* The changed array of ev as compact JSON text, into out. */
static inline void tq_changed(const struct relay_event *ev, char *out, size_t cap)
{
    char *s = json_dumps(ev->changed, JSON_COMPACT);
    snprintf(out, cap, "%s", s);
    free(s);
}

#endif
