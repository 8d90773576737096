/* retry.c: the backoff and give-up rules are pure, so they are pinned
 * exactly here (queue.md: min(cap, base * 2^attempts) with full jitter). */
#include "relay/config.h"
#include "workers/retry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static const struct retry_policy policy = {.base_ms = 100, .max_ms = 1000, .max_attempts = 5};

static void delay_doubles_until_cap(void **state)
{
    (void)state;
    assert_int_equal(retry_delay_ms(&policy, 0), 100);
    assert_int_equal(retry_delay_ms(&policy, 1), 200);
    assert_int_equal(retry_delay_ms(&policy, 3), 800);
    assert_int_equal(retry_delay_ms(&policy, 4), 1000);
    assert_int_equal(retry_delay_ms(&policy, 9), 1000);
}

static void delay_never_overflows(void **state)
{
    (void)state;
    struct retry_policy big = {.base_ms = UINT32_MAX / 2, .max_ms = UINT32_MAX, .max_attempts = 3};
    assert_int_equal(retry_delay_ms(&big, 4000000000u), UINT32_MAX);
    assert_int_equal(retry_delay_ms(&policy, UINT32_MAX), 1000);
}

static void gives_up_after_max_attempts(void **state)
{
    (void)state;
    assert_false(retry_should_give_up(&policy, 0));
    assert_false(retry_should_give_up(&policy, 4));
    assert_true(retry_should_give_up(&policy, 5));
    assert_true(retry_should_give_up(&policy, 6));
}

static void jitter_spans_zero_to_delay(void **state)
{
    (void)state;
    assert_int_equal(retry_jitter_ms(800, 0), 0);
    assert_int_equal(retry_jitter_ms(800, UINT32_MAX), 800);
    assert_int_equal(retry_jitter_ms(800, 1u << 31), 400);
    assert_int_equal(retry_jitter_ms(0, UINT32_MAX), 0);
    for (uint32_t r = 0; r < 1000; r++) {
        assert_true(retry_jitter_ms(1000, r * 4294967u) <= 1000);
    }
}

static void horizon_sums_the_delays(void **state)
{
    (void)state;
    /* attempts 1..4 wait 200 + 400 + 800 + 1000; the 5th failure is dead. */
    assert_int_equal(retry_horizon_ms(&policy), 2400);
    struct retry_policy one = {.base_ms = 100, .max_ms = 1000, .max_attempts = 1};
    assert_int_equal(retry_horizon_ms(&one), 0);
}

static void policy_from_config_fills_defaults(void **state)
{
    (void)state;
    struct relay_config conf = {0};
    struct retry_policy p = retry_policy_from_config(&conf);
    assert_int_equal(p.base_ms, 500);
    assert_int_equal(p.max_ms, 60000);
    assert_int_equal(p.max_attempts, 10);
    conf.retry.base_ms = 2000;
    conf.retry.cap_ms = 1000; /* a cap below the base is raised to it */
    conf.retry.max_attempts = 3;
    p = retry_policy_from_config(&conf);
    assert_int_equal(p.base_ms, 2000);
    assert_int_equal(p.max_ms, 2000);
    assert_int_equal(p.max_attempts, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delay_doubles_until_cap),
        cmocka_unit_test(delay_never_overflows),
        cmocka_unit_test(gives_up_after_max_attempts),
        cmocka_unit_test(jitter_spans_zero_to_delay),
        cmocka_unit_test(horizon_sums_the_delays),
        cmocka_unit_test(policy_from_config_fills_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
