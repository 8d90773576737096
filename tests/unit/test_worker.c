/* The worker loop (workers/worker.c) against the private Redis of
 * tests/with-redis.sh, with a fake sink kind whose answers the test
 * scripts: SINK_DEFER puts an event back without counting an attempt or
 * adding an error (so a tight rate limit never dead-letters anything),
 * throttle_ms holds the worker before it takes (and a stop still ends a
 * long wait), kind->max_batch caps a take, and a fully delivered batch is
 * acknowledged with queue_ack_all (one DEL) only when that is exact. */
#include "test_queue_util.h"

#include "workers/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define SINK "twenty" /* any sink name works for the keys */
#define WAIT_MS 30000 /* generous: the machine may be busy */

/* The fake sink's script and what it saw. Written by the worker thread,
 * read by the test: atomics only. */
struct fake {
    atomic_int calls;        /* write calls */
    atomic_int ok;           /* events answered SINK_OK */
    atomic_int defers_left;  /* whole-batch DEFER answers still to give */
    atomic_int partial_left; /* PARTIAL answers (first event OK, the rest DEFER) to give */
    atomic_int tainted;      /* events seen with attempts > 0 or an error */
    atomic_int max_n;        /* largest batch written */
    atomic_uint throttle;    /* what throttle_ms answers */
    atomic_int throttle_calls;
};

static struct fake F;

static void fake_reset(void)
{
    atomic_store(&F.calls, 0);
    atomic_store(&F.ok, 0);
    atomic_store(&F.defers_left, 0);
    atomic_store(&F.partial_left, 0);
    atomic_store(&F.tainted, 0);
    atomic_store(&F.max_n, 0);
    atomic_store(&F.throttle, 0);
    atomic_store(&F.throttle_calls, 0);
}

static bool fake_enabled(const struct relay_config *conf)
{
    (void)conf;
    return true;
}

static unsigned fake_workers(const struct relay_config *conf)
{
    (void)conf;
    return 1;
}

static void *fake_open(const struct sink_env *env, struct relay_error *err)
{
    (void)env;
    (void)err;
    return &F;
}

static void fake_close(void *state)
{
    (void)state;
}

static enum sink_status fake_write(void *state, struct relay_event *const *evs, size_t n,
                                   enum sink_status *status, struct relay_error *err)
{
    (void)state;
    atomic_fetch_add(&F.calls, 1);
    if ((int)n > atomic_load(&F.max_n)) {
        atomic_store(&F.max_n, (int)n);
    }
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->attempts > 0 || evs[i]->error != NULL) {
            atomic_fetch_add(&F.tainted, 1);
        }
    }
    if (atomic_load(&F.defers_left) > 0) {
        atomic_fetch_sub(&F.defers_left, 1);
        relay_error_set(err, RELAY_EIO, "fake: rate limit");
        return SINK_DEFER;
    }
    if (n > 1 && atomic_load(&F.partial_left) > 0) {
        atomic_fetch_sub(&F.partial_left, 1);
        status[0] = SINK_OK;
        for (size_t i = 1; i < n; i++) {
            status[i] = SINK_DEFER;
        }
        atomic_fetch_add(&F.ok, 1);
        return SINK_PARTIAL;
    }
    atomic_fetch_add(&F.ok, (int)n);
    return SINK_OK;
}

static unsigned fake_throttle(void *state)
{
    (void)state;
    atomic_fetch_add(&F.throttle_calls, 1);
    return atomic_load(&F.throttle);
}

static struct sink_kind fake_kind = {
    .name = SINK,
    .id = RELAY_SINK_TWENTY,
    .is_enabled = fake_enabled,
    .worker_count = fake_workers,
    .open = fake_open,
    .write = fake_write,
    .close = fake_close,
};

/* One worker thread over a tq, with its pool_shared. */
struct harness {
    struct tq *t;
    struct relay_config conf;
    struct sink_env env;
    struct queue_conf qconf;
    struct pool_shared sh;
    struct worker w;
};

static int64_t now_ms(void)
{
    return worker_now_ms();
}

static void nap(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sets up h; the worker starts with harness_run (events pushed before it
 * starts are taken as one batch). */
static void harness_init(struct harness *h, unsigned max_attempts, unsigned batch_size)
{
    memset(h, 0, sizeof(*h));
    h->t = tq_open();
    h->env.conf = &h->conf;
    h->qconf = (struct queue_conf){.url = tq_url(), .prefix = h->t->prefix, .timeout_ms = 2000};
    h->sh.env = &h->env;
    h->sh.qconf = &h->qconf;
    h->sh.policy = (struct retry_policy){.base_ms = 10, .max_ms = 20, .max_attempts = max_attempts};
    h->sh.batch_size = batch_size;
    h->sh.heartbeat_ttl_s = 15;
    snprintf(h->sh.host, sizeof(h->sh.host), "test");
    h->sh.pid = (long)getpid();
    atomic_init(&h->sh.stop, false);
    atomic_init(&h->sh.heartbeat_ok, true); /* no scheduler here */
    h->w.shared = &h->sh;
    h->w.kind = &fake_kind;
    atomic_init(&h->w.generation, 0);
    atomic_init(&h->w.busy, false);
    atomic_init(&h->w.finished, false);
    atomic_init(&h->w.abandoned, false);
}

static void harness_run(struct harness *h)
{
    assert_int_equal(pthread_create(&h->w.thread, NULL, worker_main, &h->w), 0);
}

/* Stops the worker; returns how long the join took in ms. */
static int64_t harness_stop(struct harness *h)
{
    int64_t t0 = now_ms();
    atomic_store(&h->sh.stop, true);
    pthread_join(h->w.thread, NULL);
    return now_ms() - t0;
}

static void push_events(struct harness *h, int count)
{
    for (int i = 0; i < count; i++) {
        char contact[32];
        struct relay_buf buf;
        struct relay_error err = {0};
        snprintf(contact, sizeof(contact), "CNT-W%d", i);
        struct relay_event *ev = tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, contact,
                                          "2025-09-14T10:00:00.000000Z", contact, "full_name",
                                          "\"Ada\"", NULL);
        relay_buf_init(&buf);
        assert_int_equal(relay_event_encode(ev, &buf, &err), 0);
        redisReply *r = redisCommand(h->t->raw, "LPUSH %s:q:" SINK " %b", h->t->prefix, buf.data,
                                     buf.len);
        assert_non_null(r);
        freeReplyObject(r);
        relay_buf_fini(&buf);
        relay_event_destroy(ev);
    }
}

/* Waits until F.ok reaches want, promoting deferred events the way the
 * scheduler does (with a clock far ahead, so their due time has come). */
static void wait_ok(struct harness *h, int want)
{
    int64_t deadline = now_ms() + WAIT_MS;
    while (atomic_load(&F.ok) < want && now_ms() < deadline) {
        struct relay_error err = {0};
        size_t moved = 0;
        assert_int_equal(queue_promote_due(h->t->q, SINK, now_ms() + 3600000, 100, &moved, &err),
                         0);
        nap(10);
    }
    assert_int_equal(atomic_load(&F.ok), want);
}

/* Nothing left anywhere but the delivered counter. */
static void assert_settled(struct harness *h, long long delivered)
{
    assert_int_equal(tq_int(h->t, "LLEN %s:dead:" SINK, h->t->prefix), 0);
    assert_int_equal(tq_int(h->t, "ZCARD %s:retry:" SINK, h->t->prefix), 0);
    assert_int_equal(tq_int(h->t, "LLEN %s:q:" SINK, h->t->prefix), 0);
    assert_int_equal(tq_int(h->t, "LLEN %s:inflight:" SINK ":test:%ld:0", h->t->prefix,
                            h->sh.pid),
                     0);
    assert_int_equal(tq_stat(h->t, "delivered:" SINK), delivered);
}

/* Five deferrals with max_attempts 2: if a deferral counted as an attempt
 * the event would be dead after the second one. */
static void defer_counts_no_attempt(void **state)
{
    (void)state;
    struct harness h;
    fake_reset();
    atomic_store(&F.defers_left, 5);
    harness_init(&h, 2, 100);
    push_events(&h, 1);
    harness_run(&h);
    wait_ok(&h, 1);
    harness_stop(&h);
    assert_int_equal(atomic_load(&F.calls), 6);
    assert_int_equal(atomic_load(&F.tainted), 0); /* no attempts, no error on the way */
    assert_settled(&h, 1);
    tq_close(h.t);
}

/* PARTIAL with DEFER for some events: those come back untried, the rest
 * is acknowledged. */
static void partial_defer(void **state)
{
    (void)state;
    struct harness h;
    fake_reset();
    atomic_store(&F.partial_left, 3);
    harness_init(&h, 1, 100);
    push_events(&h, 4);
    harness_run(&h);
    wait_ok(&h, 4);
    harness_stop(&h);
    assert_int_equal(atomic_load(&F.tainted), 0);
    assert_int_equal(atomic_load(&F.calls), 4);
    assert_settled(&h, 4);
    tq_close(h.t);
}

/* throttle_ms > 0 keeps the worker from taking; a stop ends the wait
 * within a slice, not after the (10 minute) throttle. */
static void throttle_waits_and_stops(void **state)
{
    (void)state;
    struct harness h;
    fake_reset();
    fake_kind.throttle_ms = fake_throttle;
    atomic_store(&F.throttle, 600000);
    harness_init(&h, 12, 100);
    push_events(&h, 1);
    harness_run(&h);
    int64_t deadline = now_ms() + WAIT_MS;
    while (atomic_load(&F.throttle_calls) < 3 && now_ms() < deadline) {
        nap(10);
    }
    assert_true(atomic_load(&F.throttle_calls) >= 3); /* it keeps asking */
    assert_int_equal(atomic_load(&F.calls), 0);
    assert_int_equal(tq_int(h.t, "LLEN %s:q:" SINK, h.t->prefix), 1); /* not taken */
    atomic_store(&F.throttle, 0);
    wait_ok(&h, 1);
    atomic_store(&F.throttle, 600000);
    nap(50);
    int64_t took = harness_stop(&h);
    fake_kind.throttle_ms = NULL;
    assert_true(took < 5000);
    assert_settled(&h, 1);
    tq_close(h.t);
}

/* kind->max_batch caps a take below workers.batch_size. */
static void max_batch_caps_take(void **state)
{
    (void)state;
    struct harness h;
    fake_reset();
    fake_kind.max_batch = 3;
    harness_init(&h, 12, 100);
    push_events(&h, 7);
    harness_run(&h);
    wait_ok(&h, 7);
    harness_stop(&h);
    fake_kind.max_batch = 0;
    assert_true(atomic_load(&F.max_n) <= 3);
    assert_true(atomic_load(&F.calls) >= 3);
    assert_settled(&h, 7);
    tq_close(h.t);
}

/* queue_ack_all deletes the in-flight list only when it holds exactly the
 * batch; anything else (an element stranded there) changes nothing. */
static void ack_all_only_exact(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    int done = -1;
    freeReplyObject(tq_cmd(t, "RPUSH %s:inflight:" SINK ":c1 a b c", t->prefix));
    assert_int_equal(queue_ack_all(t->q, SINK, "c1", 2, &done, &err), 0);
    assert_int_equal(done, 0);
    assert_int_equal(tq_int(t, "LLEN %s:inflight:" SINK ":c1", t->prefix), 3);
    assert_int_equal(tq_stat(t, "delivered:" SINK), 0);
    assert_int_equal(queue_ack_all(t->q, SINK, "c1", 3, &done, &err), 0);
    assert_int_equal(done, 1);
    assert_int_equal(tq_int(t, "EXISTS %s:inflight:" SINK ":c1", t->prefix), 0);
    assert_int_equal(tq_stat(t, "delivered:" SINK), 3);
    assert_int_equal(queue_ack_all(t->q, SINK, "c1", 1, &done, &err), 0); /* recovered meanwhile */
    assert_int_equal(done, 0);
    assert_int_equal(tq_stat(t, "delivered:" SINK), 3);
    tq_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defer_counts_no_attempt),
        cmocka_unit_test(partial_defer),
        cmocka_unit_test(throttle_waits_and_stops),
        cmocka_unit_test(max_batch_caps_take),
        cmocka_unit_test(ack_all_only_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
