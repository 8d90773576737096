/* The Twenty rate bucket with an injected clock: burst, refill, the
 * sliding-window guarantee, the 429 pause, and several threads sharing one
 * bucket (under TSan in CI). */
#include "workers/sinks/twenty_rate.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Sends as fast as the bucket allows from t0 for span_ms; returns how many. */
static int send_greedily(struct twenty_rate *r, int64_t t0, int64_t span_ms, int64_t *times,
                         int cap)
{
    int sent = 0;
    for (int64_t t = t0; t < t0 + span_ms && sent < cap; t++) {
        while (sent < cap && twenty_rate_take(r, t, NULL)) {
            times[sent++] = t;
        }
    }
    return sent;
}

static void burst_then_refuses_with_wait(void **state)
{
    (void)state;
    struct twenty_rate *r = twenty_rate_create(100, 0);
    assert_non_null(r);
    for (int i = 0; i < 10; i++) {
        assert_true(twenty_rate_take(r, 0, NULL));
    }
    int64_t wait = 0;
    assert_false(twenty_rate_take(r, 0, &wait));
    /* refill: 100 - 10 - 1 = 89 tokens per minute -> 60000/89 = 674.2 ms */
    assert_int_equal(wait, 675);
    assert_false(twenty_rate_take(r, 674, NULL));
    assert_true(twenty_rate_take(r, 675, NULL));
    twenty_rate_destroy(r);
}

static void any_minute_holds_at_most_the_limit(void **state)
{
    (void)state;
    enum { CAP = 1000 };
    static int64_t times[CAP];
    struct twenty_rate *r = twenty_rate_create(100, 0);
    int sent = send_greedily(r, 0, 5 * 60000, times, CAP);
    assert_true(sent > 400); /* it does send at nearly the limit */
    for (int i = 0; i < sent; i++) {
        int in_window = 0;
        for (int j = i; j < sent && times[j] < times[i] + 60000; j++) {
            in_window++;
        }
        assert_true(in_window <= 100);
    }
    twenty_rate_destroy(r);
}

static void penalty_pauses_everything(void **state)
{
    (void)state;
    struct twenty_rate *r = twenty_rate_create(100, 0);
    twenty_rate_penalize(r, 1000, 5000);
    int64_t wait = 0;
    assert_false(twenty_rate_take(r, 1000, &wait));
    assert_int_equal(wait, 5000);
    assert_int_equal(twenty_rate_wait_ms(r, 3000), 3000);
    assert_false(twenty_rate_take(r, 5999, NULL));
    assert_true(twenty_rate_take(r, 6000, NULL));
    twenty_rate_destroy(r);
}

static void default_limit_and_clock_going_back(void **state)
{
    (void)state;
    struct twenty_rate *r = twenty_rate_create(0, 10000); /* 0: default 100 */
    int n = 0;
    while (twenty_rate_take(r, 10000, NULL)) {
        n++;
    }
    assert_int_equal(n, 10);
    assert_false(twenty_rate_take(r, 5000, NULL)); /* earlier time adds nothing */
    assert_int_equal(twenty_rate_wait_ms(r, 10000), 675);
    twenty_rate_destroy(r);
    twenty_rate_destroy(NULL);
}

static void waiting_for_several_tokens(void **state)
{
    (void)state;
    struct twenty_rate *r = twenty_rate_create(30, 0); /* burst 3, refill 26/min */
    assert_int_equal(twenty_rate_wait_n_ms(r, 0, 3), 0);
    assert_true(twenty_rate_take(r, 0, NULL));
    assert_true(twenty_rate_take(r, 0, NULL));
    /* one left: two more due at 60000/26 ms each */
    assert_int_equal(twenty_rate_wait_n_ms(r, 0, 1), 0);
    assert_int_equal(twenty_rate_wait_n_ms(r, 0, 3), (2 * 60000 + 25) / 26);
    assert_int_equal(twenty_rate_wait_n_ms(r, 0, 99), (2 * 60000 + 25) / 26); /* capped */
    twenty_rate_destroy(r);
}

static void tiny_limit_still_paces(void **state)
{
    (void)state;
    struct twenty_rate *r = twenty_rate_create(1, 0);
    assert_true(twenty_rate_take(r, 0, NULL));
    int64_t wait = 0;
    assert_false(twenty_rate_take(r, 0, &wait));
    assert_int_equal(wait, 60000);
    twenty_rate_destroy(r);
}

static void shared_bucket_is_one(void **state)
{
    (void)state;
    struct twenty_rate *a = twenty_rate_shared(50);
    struct twenty_rate *b = twenty_rate_shared(999);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_true(twenty_rate_now_ms() > 0);
}

#define RACERS 4

struct racer {
    struct twenty_rate *r;
    int taken;
    struct twenty_rate *shared;
};

static void *race(void *arg)
{
    struct racer *x = arg;
    for (int i = 0; i < 1000; i++) {
        x->taken += twenty_rate_take(x->r, 0, NULL);
        (void)twenty_rate_wait_n_ms(x->r, 0, 2);
    }
    x->shared = twenty_rate_shared(70);
    return NULL;
}

/* Worker threads take from one bucket at once: together they get exactly
 * its burst, and they all find the same process-wide bucket. */
static void threads_share_one_bucket(void **state)
{
    (void)state;
    struct twenty_rate *r = twenty_rate_create(100, 0); /* burst 10 */
    pthread_t th[RACERS];
    struct racer x[RACERS];
    for (int i = 0; i < RACERS; i++) {
        x[i] = (struct racer){.r = r};
        assert_int_equal(pthread_create(&th[i], NULL, race, &x[i]), 0);
    }
    int taken = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        taken += x[i].taken;
        assert_non_null(x[i].shared);
        assert_ptr_equal(x[i].shared, x[0].shared);
    }
    assert_int_equal(taken, 10);
    twenty_rate_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_refuses_with_wait),
        cmocka_unit_test(any_minute_holds_at_most_the_limit),
        cmocka_unit_test(penalty_pauses_everything),
        cmocka_unit_test(default_limit_and_clock_going_back),
        cmocka_unit_test(waiting_for_several_tokens),
        cmocka_unit_test(tiny_limit_still_paces),
        cmocka_unit_test(shared_bucket_is_one),
        cmocka_unit_test(threads_share_one_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
