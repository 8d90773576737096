/* sql_fields: the SQL sinks' columns by canonical field name, and the
 * plain-name rule for what they write into SQL text. */
#include "workers/sinks/sql_fields.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void finds_every_column_and_nothing_else(void **state)
{
    (void)state;
    static const char *const names[] = {"tags", "emails", "company", "phones", "contact_id",
                                        "updated_at", "a", "zz"};
    const size_t n = sizeof(names) / sizeof(names[0]);
    struct sql_fields f;
    assert_int_equal(sql_fields_init(&f, n), 0);
    for (size_t i = 0; i < n; i++) {
        sql_fields_add(&f, names[i]);
    }
    sql_fields_sort(&f);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sql_fields_find(&f, names[i]), (long)i);
    }
    assert_int_equal(sql_fields_find(&f, ""), -1);
    assert_int_equal(sql_fields_find(&f, "company_"), -1);
    assert_int_equal(sql_fields_find(&f, "zzz"), -1);
    sql_fields_fini(&f);
    assert_int_equal(sql_fields_init(&f, 0), 0); /* no columns: nothing found */
    sql_fields_sort(&f);
    assert_int_equal(sql_fields_find(&f, "a"), -1);
    sql_fields_fini(&f);
}

static void plain_names(void **state)
{
    (void)state;
    assert_true(sql_plain_name("contact_id"));
    assert_true(sql_plain_name("_x9"));
    assert_false(sql_plain_name(""));
    assert_false(sql_plain_name("9lives"));
    assert_false(sql_plain_name("Name"));
    assert_false(sql_plain_name("a-b"));
    assert_false(sql_plain_name("a\"; DROP TABLE contacts; --"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_every_column_and_nothing_else),
        cmocka_unit_test(plain_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
