/* The deployment SQL is compiled in (migrate, the SQLite sink) and shipped
 * as deploy/sql/{supabase,sqlite}.sql for operators: both copies must be the same bytes. */
#include "relay/mem.h"
#include "workers/sinks/pgsql_schema.h"
#include "workers/sinks/sqlite_schema.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void pgsql_copy_matches_file(void **state)
{
    (void)state;
    assert_string_equal(pgsql_schema_sql, read_all(RELAY_SOURCE_DIR "/deploy/sql/supabase.sql"));
}

static void sqlite_copy_matches_file(void **state)
{
    (void)state;
    assert_string_equal(sqlite_schema_sql, read_all(RELAY_SOURCE_DIR "/deploy/sql/sqlite.sql"));
}

static void sqlite_migrate_is_idempotent(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sink_schema.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
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
        cmocka_unit_test(pgsql_copy_matches_file),
        cmocka_unit_test(sqlite_copy_matches_file),
        cmocka_unit_test(sqlite_migrate_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
