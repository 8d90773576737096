/* The SQLite schema (deploy/sql/sqlite.sql, compiled in) applies to a new
 * file and again to an existing one; an unusable path is an error. */
#include "relay/mem.h"
#include "workers/sinks/sqlite_schema.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static void sqlite_migrate_is_idempotent(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sink_schema.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct relay_error err = {0};
    assert_int_equal(sqlite_migrate(path, &err), 0);
    assert_int_equal(sqlite_migrate(path, &err), 0);
    remove(path);
    /* A directory that does not exist cannot hold the file. */
    assert_int_equal(sqlite_migrate("/nonexistent-dir/x.db", &err), -1);
    assert_int_equal(err.code, RELAY_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlite_migrate_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
