/* Unit tests for relay/buf.c: appends, growth, printf, reset, and that a
 * failed allocation leaves the buffer as it was. */
#include "relay/buf.h"
#include "relay/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void starts_empty(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    relay_buf_reset(&b); /* no data yet: still fine */
    relay_buf_fini(&b);
    relay_buf_fini(&b); /* twice is fine: fini re-inits */
}

static void append_keeps_nul_terminated(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(relay_buf_append(&b, "", 0), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(relay_buf_append(&b, "ab\0cd", 5), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "ab\0cd", 6);
    assert_int_equal(relay_buf_appends(&b, "ef"), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "ab\0cdef", 8);
    relay_buf_fini(&b);
}

static void grows_past_initial_capacity(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    char chunk[100];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(relay_buf_append(&b, chunk, sizeof(chunk)), 0);
    }
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[9999], 'x');
    assert_int_equal(b.data[10000], '\0');
    /* One append much larger than the capacity doubles until it fits. */
    static char big[70000];
    memset(big, 'y', sizeof(big));
    assert_int_equal(relay_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 80000);
    assert_int_equal(b.data[80000], '\0');
    relay_buf_fini(&b);
}

static void printf_appends(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(relay_buf_printf(&b, "%s=%d", "n", 42), 0);
    assert_int_equal(relay_buf_printf(&b, ";%05.1f", 2.5), 0);
    assert_string_equal(b.data, "n=42;002.5");
    assert_int_equal(b.len, strlen("n=42;002.5"));
    char wide[600];
    memset(wide, 'z', sizeof(wide) - 1);
    wide[sizeof(wide) - 1] = '\0';
    assert_int_equal(relay_buf_printf(&b, "[%s]", wide), 0);
    assert_int_equal(b.len, 10 + 601);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(relay_buf_printf(&b, "%s", ""), 0);
    assert_int_equal(b.len, 611);
    relay_buf_fini(&b);
}

static void reset_keeps_allocation(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(relay_buf_appends(&b, "hello"), 0);
    char *data = b.data;
    size_t cap = b.cap;
    relay_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    assert_int_equal(relay_buf_appends(&b, "x"), 0);
    assert_string_equal(b.data, "x");
    relay_buf_fini(&b);
}

static void failed_growth_leaves_buffer_intact(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    relay_mem_fail_after(1);
    assert_int_equal(relay_buf_appends(&b, "a"), -1);
    relay_mem_fail_after(0);
    assert_null(b.data);
    assert_int_equal(relay_buf_appends(&b, "abc"), 0);
    char big[300];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    relay_mem_fail_after(1);
    assert_int_equal(relay_buf_appends(&b, big), -1);
    relay_mem_fail_after(1);
    assert_int_equal(relay_buf_printf(&b, "%s", big), -1);
    relay_mem_fail_after(0);
    assert_string_equal(b.data, "abc");
    assert_int_equal(b.len, 3);
    relay_buf_fini(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_empty),
        cmocka_unit_test(append_keeps_nul_terminated),
        cmocka_unit_test(grows_past_initial_capacity),
        cmocka_unit_test(printf_appends),
        cmocka_unit_test(reset_keeps_allocation),
        cmocka_unit_test(failed_growth_leaves_buffer_intact),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
