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

/* A group on the test's Redis and prefix, and one caller's buffers. */
struct tg {
    struct tq *t;
    struct queue_group *g;
    struct queue_accept_call *c;
};

static struct tg tg_open(const char *url, unsigned timeout_ms)
{
    struct tg x = {.t = url == NULL ? tq_open() : NULL};
    struct queue_conf conf = {.url = url != NULL ? url : tq_url(),
                              .prefix = x.t != NULL ? x.t->prefix : "unreachable",
                              .timeout_ms = timeout_ms};
    struct relay_error err = {0};
    x.g = queue_group_start(&conf, &err);
    assert_non_null(x.g);
    x.c = queue_accept_call_new();
    assert_non_null(x.c);
    return x;
}

static void tg_close(struct tg *x)
{
    queue_accept_call_free(x->c);
    queue_group_stop(x->g);
    if (x->t != NULL) {
        tq_close(x->t);
    }
}

/* queue_group_accept of ev with digests computed from ev->fields; destroys ev. */
static int group_accept(struct queue_group *g, struct queue_accept_call *c, struct relay_event *ev,
                        enum queue_verdict *verdict, struct relay_error *err)
{
    struct tq_digests d;
    unsigned queued = 0;
    int rc = queue_group_accept(g, c, ev, tq_digests_of(ev, &d), PG, verdict, &queued, err);
    relay_event_destroy(ev);
    return rc;
}

/* A Twenty upsert of contact setting job_title at TS1, as delivery. */
static int accept_title(struct queue_group *g, struct queue_accept_call *c, const char *contact,
                        const char *delivery, enum queue_verdict *verdict, struct relay_error *err)
{
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, contact, TS1, delivery,
                                      "job_title", "\"CTO\"", NULL);
    return group_accept(g, c, ev, verdict, err);
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
        enum queue_verdict v = QUEUE_STALE;
        struct relay_error err = {0};
        if (accept_title(w->g, c, contact, delivery, &v, &err) == 0) {
            w->accepted += v == QUEUE_ACCEPTED;
            w->duplicates += v == QUEUE_DUPLICATE;
        }
    }
    queue_accept_call_free(c);
    return NULL;
}

static void threads_share_one_connection(void **state)
{
    (void)state;
    struct tg x = tg_open(NULL, 2000);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.g = x.g, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].accepted, PER_THREAD);
        assert_int_equal(w[i].duplicates, 1);
    }
    assert_int_equal(tq_int(x.t, "LLEN %s:q:postgres", x.t->prefix), THREADS * PER_THREAD);
    assert_int_equal(tq_stat(x.t, "accepted"), THREADS * PER_THREAD);
    assert_int_equal(tq_stat(x.t, "duplicate"), THREADS);
    tg_close(&x);
}

/* The answer narrows changed as queue_accept does. */
static void verdict_and_narrowing(void **state)
{
    (void)state;
    struct tg x = tg_open(NULL, 2000);
    struct relay_error err = {0};
    enum queue_verdict v;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "N1", TS2, "n1",
                                      "job_title", "\"CTO\"", NULL);
    assert_int_equal(group_accept(x.g, x.c, ev, &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    ev = tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "N1", TS1, "n2", "job_title", "\"CEO\"",
                  "city", "\"Oslo\"", NULL);
    struct tq_digests d;
    unsigned queued = 0;
    assert_int_equal(queue_group_accept(x.g, x.c, ev, tq_digests_of(ev, &d), PG, &v, &queued, &err),
                     0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(queued, PG);
    char changed[128];
    tq_changed(ev, changed, sizeof(changed));
    assert_string_equal(changed, "[\"city\"]");
    relay_event_destroy(ev);
    assert_int_equal(accept_title(x.g, x.c, "N1", "n3", &v, &err), 0);
    assert_int_equal(v, QUEUE_STALE);
    tg_close(&x);
}

/* An event without contact_id fails before Redis: nothing is written. */
static void bad_event_touches_nothing(void **state)
{
    (void)state;
    struct tg x = tg_open(NULL, 2000);
    struct relay_error err = {0};
    enum queue_verdict v;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "B1", TS1, "b1",
                                      "job_title", "\"CTO\"", NULL);
    relay_free(ev->contact_id);
    ev->contact_id = NULL;
    assert_int_equal(group_accept(x.g, x.c, ev, &v, &err), -1);
    assert_int_equal(err.code, RELAY_EINVAL);
    assert_int_equal(tq_int(x.t, "EXISTS %s:stats", x.t->prefix), 0);
    tg_close(&x);
}

/* SCRIPT FLUSH, then a killed connection: each next call still succeeds
 * (NOSCRIPT reloads; a quick break is retried on a new connection). */
static void flushed_scripts_and_killed_connection(void **state)
{
    (void)state;
    struct tg x = tg_open(NULL, 2000);
    struct relay_error err = {0};
    enum queue_verdict v;
    freeReplyObject(tq_cmd(x.t, "SCRIPT FLUSH"));
    assert_int_equal(accept_title(x.g, x.c, "K1", "k1", &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    freeReplyObject(tq_cmd(x.t, "CLIENT KILL TYPE normal SKIPME yes"));
    assert_int_equal(accept_title(x.g, x.c, "K2", "k2", &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(tq_stat(x.t, "accepted"), 2);
    tg_close(&x);
}

struct one_call {
    struct queue_group *g;
    int rc;
    struct relay_error err;
};

/* The same delivery every time: a second run would count a duplicate. */
static void *accept_p1(void *arg)
{
    struct one_call *o = arg;
    struct queue_accept_call *c = queue_accept_call_new();
    enum queue_verdict v;
    o->rc = accept_title(o->g, c, "P1", "p1", &v, &o->err);
    queue_accept_call_free(c);
    return NULL;
}

/* Redis paused: the batch in flight times out, the call queued behind it
 * fails at once instead of waiting a new connection, neither script runs
 * once Redis resumes, and the next call after it succeeds. */
static void slow_redis_fails_the_queued_call_at_once(void **state)
{
    (void)state;
    struct tg x = tg_open(NULL, 200);
    struct one_call first = {.g = x.g}, second = {.g = x.g};
    accept_p1(&first); /* connected, one accepted */
    assert_int_equal(first.rc, 0);
    freeReplyObject(tq_cmd(x.t, "CLIENT PAUSE 1000 ALL"));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, accept_p1, &first), 0);
    usleep(50 * 1000); /* the first call's batch is in flight */
    accept_p1(&second);
    pthread_join(th, NULL);
    assert_int_equal(first.rc, -1);
    assert_int_equal(first.err.code, RELAY_EIO);
    assert_int_equal(second.rc, -1);
    assert_int_equal(second.err.code, RELAY_EIO);
    assert_non_null(strstr(second.err.msg, "next attempt"));
    usleep(1100 * 1000); /* the pause is over */
    enum queue_verdict v;
    struct relay_error err = {0};
    assert_int_equal(accept_title(x.g, x.c, "P2", "p2", &v, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(tq_stat(x.t, "accepted"), 2);
    assert_int_equal(tq_stat(x.t, "duplicate"), 0);
    tg_close(&x);
}

/* Nobody listens: the call fails with RELAY_EIO, and again at once while
 * the reconnect backoff runs. */
static void unreachable_redis_fails(void **state)
{
    (void)state;
    struct tg x = tg_open("redis://127.0.0.1:1", 2000);
    for (int i = 0; i < 2; i++) {
        struct relay_error err = {0};
        enum queue_verdict v;
        assert_int_equal(accept_title(x.g, x.c, "U1", "u1", &v, &err), -1);
        assert_int_equal(err.code, RELAY_EIO);
        assert_non_null(strstr(err.msg, "redis"));
    }
    tg_close(&x);
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
