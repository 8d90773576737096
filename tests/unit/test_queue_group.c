/* Group commit (queue_group.c) against a real redis-server
 * (tests/with-redis.sh): many threads' accept scripts through one
 * connection give each caller its own verdict, exactly as queue_accept
 * does; a bad event fails before Redis; a flushed script cache, a killed
 * connection, a paused and an unreachable Redis are each handled. Runs
 * under TSan. */
#include "test_queue_util.h"

#include <pthread.h>

#define TS1 "2025-09-14T10:00:00.000000Z"
#define TS2 "2025-09-14T11:00:00.000000Z"
#define PG RELAY_SINK_BIT(RELAY_SINK_POSTGRES)
#define THREADS 4
#define PER_THREAD 150

static struct queue_group *group_open(const char *url, const char *prefix)
{
    struct queue_conf conf = {.url = url, .prefix = prefix, .timeout_ms = 2000};
    struct relay_error err = {0};
    struct queue_group *g = queue_group_start(&conf, &err);
    assert_non_null(g);
    return g;
}

/* queue_group_accept with digests computed from ev->fields (as tq_accept). */
static int group_accept(struct queue_group *g, struct queue_accept_call *c, struct relay_event *ev,
                        enum queue_verdict *verdict, struct relay_error *err)
{
    size_t n = json_array_size(ev->changed);
    char digests[8][17];
    const char *ptrs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(ev->changed, i));
        tq_digest(json_object_get(ev->fields, name), digests[i]);
        ptrs[i] = digests[i];
    }
    unsigned queued = 0;
    return queue_group_accept(g, c, ev, ptrs, PG, verdict, &queued, err);
}

struct worker {
    struct queue_group *g;
    int index;
    int accepted;
    int duplicates;
};

/* PER_THREAD new contacts, then a redelivery of the first one. */
static void *run_worker(void *arg)
{
    struct worker *w = arg;
    struct queue_accept_call *c = queue_accept_call_new();
    for (int i = 0; i <= PER_THREAD; i++) {
        char contact[32], delivery[32];
        snprintf(contact, sizeof(contact), "C%d-%d", w->index, i % PER_THREAD);
        snprintf(delivery, sizeof(delivery), "d%d-%d", w->index, i % PER_THREAD);
        struct relay_event *ev = tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, contact, TS1,
                                          delivery, "job_title", "\"CTO\"", NULL);
        enum queue_verdict v = QUEUE_STALE;
        struct relay_error err = {0};
        if (group_accept(w->g, c, ev, &v, &err) == 0) {
            w->accepted += v == QUEUE_ACCEPTED;
            w->duplicates += v == QUEUE_DUPLICATE;
        }
        relay_event_destroy(ev);
    }
    queue_accept_call_free(c);
    return NULL;
}

static void threads_share_one_connection(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct queue_group *g = group_open(tq_url(), t->prefix);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.g = g, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].accepted, PER_THREAD);
        assert_int_equal(w[i].duplicates, 1);
    }
    queue_group_stop(g);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), THREADS * PER_THREAD);
    assert_int_equal(tq_stat(t, "accepted"), THREADS * PER_THREAD);
    assert_int_equal(tq_stat(t, "duplicate"), THREADS);
    tq_close(t);
}

/* The answer narrows changed as queue_accept does. */
static void verdict_and_narrowing(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct queue_group *g = group_open(tq_url(), t->prefix);
    struct queue_accept_call *c = queue_accept_call_new();
    struct relay_error err = {0};
    enum queue_verdict v;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "N1", TS2, "n1",
                                      "job_title", "\"CTO\"", NULL);
    assert_int_equal(group_accept(g, c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    ev = tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "N1", TS1, "n2", "job_title",
                  "\"CEO\"", "city", "\"Oslo\"", NULL);
    assert_int_equal(group_accept(g, c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    char changed[128];
    tq_changed(ev, changed, sizeof(changed));
    assert_string_equal(changed, "[\"city\"]");
    relay_event_destroy(ev);
    ev = tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "N1", TS1, "n3", "job_title",
                  "\"CEO\"", NULL);
    assert_int_equal(group_accept(g, c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_STALE);
    relay_event_destroy(ev);
    queue_accept_call_free(c);
    queue_group_stop(g);
    tq_close(t);
}

/* An event without contact_id fails before Redis: nothing is written. */
static void bad_event_touches_nothing(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct queue_group *g = group_open(tq_url(), t->prefix);
    struct queue_accept_call *c = queue_accept_call_new();
    struct relay_error err = {0};
    enum queue_verdict v;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "B1", TS1, "b1",
                                      "job_title", "\"CTO\"", NULL);
    relay_free(ev->contact_id);
    ev->contact_id = NULL;
    assert_int_equal(group_accept(g, c, ev, &v, &err), -1);
    assert_int_equal(err.code, RELAY_EINVAL);
    assert_int_equal(tq_int(t, "EXISTS %s:stats", t->prefix), 0);
    relay_event_destroy(ev);
    queue_accept_call_free(c);
    queue_group_stop(g);
    tq_close(t);
}

/* SCRIPT FLUSH, then a killed connection: each next call still succeeds
 * (NOSCRIPT reloads; a quick break is retried on a new connection). */
static void flushed_scripts_and_killed_connection(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct queue_group *g = group_open(tq_url(), t->prefix);
    struct queue_accept_call *c = queue_accept_call_new();
    struct relay_error err = {0};
    enum queue_verdict v;
    freeReplyObject(tq_cmd(t, "SCRIPT FLUSH"));
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "K1", TS1, "k1",
                                      "job_title", "\"CTO\"", NULL);
    assert_int_equal(group_accept(g, c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    freeReplyObject(tq_cmd(t, "CLIENT KILL TYPE normal SKIPME yes"));
    ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "K2", TS1, "k2", "job_title", "\"CTO\"",
                  NULL);
    assert_int_equal(group_accept(g, c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    assert_int_equal(tq_stat(t, "accepted"), 2);
    queue_accept_call_free(c);
    queue_group_stop(g);
    tq_close(t);
}

struct one_call {
    struct queue_group *g;
    int rc;
    struct relay_error err;
};

static void *accept_one(void *arg)
{
    struct one_call *o = arg;
    struct queue_accept_call *c = queue_accept_call_new();
    enum queue_verdict v;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "P1", TS1, "p1",
                                      "job_title", "\"CTO\"", NULL);
    o->rc = group_accept(o->g, c, ev, &v, &o->err);
    relay_event_destroy(ev);
    queue_accept_call_free(c);
    return NULL;
}

/* Redis paused: the batch in flight times out, the call queued behind it
 * fails at once instead of waiting a new connection, neither script runs
 * once Redis resumes, and the next call after it succeeds. */
static void slow_redis_fails_the_queued_call_at_once(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct queue_conf conf = {.url = tq_url(), .prefix = t->prefix, .timeout_ms = 200};
    struct relay_error err = {0};
    struct queue_group *g = queue_group_start(&conf, &err);
    assert_non_null(g);
    struct one_call first = {.g = g}, second = {.g = g};
    accept_one(&first); /* connected, one accepted */
    assert_int_equal(first.rc, 0);
    freeReplyObject(tq_cmd(t, "CLIENT PAUSE 1000 ALL"));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, accept_one, &first), 0);
    usleep(50 * 1000); /* the first call's batch is in flight */
    accept_one(&second);
    pthread_join(th, NULL);
    assert_int_equal(first.rc, -1);
    assert_int_equal(first.err.code, RELAY_EIO);
    assert_int_equal(second.rc, -1);
    assert_int_equal(second.err.code, RELAY_EIO);
    assert_non_null(strstr(second.err.msg, "next attempt"));
    usleep(1100 * 1000); /* the pause is over */
    struct queue_accept_call *c = queue_accept_call_new();
    enum queue_verdict v;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "P2", TS1, "p2",
                                      "job_title", "\"CTO\"", NULL);
    assert_int_equal(group_accept(g, c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    assert_int_equal(tq_stat(t, "accepted"), 2);
    assert_int_equal(tq_stat(t, "duplicate"), 0);
    queue_accept_call_free(c);
    queue_group_stop(g);
    tq_close(t);
}

/* Nobody listens: the call fails with RELAY_EIO, and again at once while
 * the reconnect backoff runs. */
static void unreachable_redis_fails(void **state)
{
    (void)state;
    struct queue_group *g = group_open("redis://127.0.0.1:1", "unreachable");
    struct queue_accept_call *c = queue_accept_call_new();
    for (int i = 0; i < 2; i++) {
        struct relay_error err = {0};
        enum queue_verdict v;
        struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "U1", TS1, "u1",
                                          "job_title", "\"CTO\"", NULL);
        assert_int_equal(group_accept(g, c, ev, &v, &err), -1);
        assert_int_equal(err.code, RELAY_EIO);
        assert_non_null(strstr(err.msg, "redis"));
        relay_event_destroy(ev);
    }
    queue_accept_call_free(c);
    queue_group_stop(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_share_one_connection),
        cmocka_unit_test(verdict_and_narrowing),
        cmocka_unit_test(bad_event_touches_nothing),
        cmocka_unit_test(flushed_scripts_and_killed_connection),
        cmocka_unit_test(slow_redis_fails_the_queued_call_at_once),
        cmocka_unit_test(unreachable_redis_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
