/* The Postgres sink's prepared-statement cache (workers/sinks/pgsql_stmt.c)
 * against a real PostgreSQL (tests/with-postgres.sh): a text is prepared
 * the second time it runs and reused after that; at most PGSQL_STMT_SLOTS
 * stay prepared; and a transaction-mode pooler's answers (the statement is
 * gone: 26000; the name is taken: 42P05) turn the cache off instead of
 * failing every later batch. */
#include "workers/sinks/pgsql_stmt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static PGconn *connect_test(void)
{
    const char *url = getenv("SYNCRELAY_TEST_PG_URL");
    if (url == NULL || url[0] == '\0') {
        fail_msg("SYNCRELAY_TEST_PG_URL is not set: run through tests/with-postgres.sh");
    }
    PGconn *conn = PQconnectdb(url);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    return conn;
}

static long prepared_count(PGconn *conn)
{
    PGresult *r = PQexec(conn, "SELECT count(*) FROM pg_prepared_statements");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* Runs sql ("SELECT $1::int + k") through the cache; returns the SQLSTATE
 * of a failure, or "" when it worked and answered want. */
static const char *run(struct pgsql_stmt_cache *c, PGconn *conn, int k, const char *arg, int want)
{
    static char state[8];
    char sql[64];
    snprintf(sql, sizeof(sql), "SELECT $1::int + %d", k);
    const char *values[1] = {arg};
    PGresult *r = pgsql_stmt_exec(c, conn, sql, strlen(sql), 1, values);
    assert_non_null(r);
    state[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        assert_int_equal(strtol(PQgetvalue(r, 0, 0), NULL, 10), want);
    } else {
        snprintf(state, sizeof(state), "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
    }
    PQclear(r);
    return state;
}

static void prepared_on_second_run(void **unused)
{
    (void)unused;
    struct pgsql_stmt_cache c = {0};
    PGconn *conn = connect_test();
    assert_string_equal(run(&c, conn, 1, "1", 2), "");
    assert_int_equal(prepared_count(conn), 0); /* once: unnamed */
    assert_string_equal(run(&c, conn, 1, "2", 3), "");
    assert_int_equal(prepared_count(conn), 1);
    assert_string_equal(run(&c, conn, 1, "5", 6), ""); /* new values, same statement */
    assert_int_equal(prepared_count(conn), 1);
    pgsql_stmt_cache_clear(&c);
    PQfinish(conn);
}

static void slots_are_bounded(void **unused)
{
    (void)unused;
    struct pgsql_stmt_cache c = {0};
    PGconn *conn = connect_test();
    for (int k = 0; k < PGSQL_STMT_SLOTS + 3; k++) {
        assert_string_equal(run(&c, conn, k, "1", k + 1), "");
        assert_string_equal(run(&c, conn, k, "1", k + 1), "");
    }
    assert_int_equal(prepared_count(conn), PGSQL_STMT_SLOTS);
    assert_string_equal(run(&c, conn, PGSQL_STMT_SLOTS + 2, "0", PGSQL_STMT_SLOTS + 2), "");
    pgsql_stmt_cache_clear(&c);
    PQfinish(conn);
}

/* A pooler moved us to a server connection without our statement. */
static void statement_gone_turns_cache_off(void **unused)
{
    (void)unused;
    struct pgsql_stmt_cache c = {0};
    PGconn *conn = connect_test();
    run(&c, conn, 7, "1", 8);
    run(&c, conn, 7, "1", 8);
    PQclear(PQexec(conn, "DEALLOCATE ALL"));
    assert_string_equal(run(&c, conn, 7, "1", 8), "26000"); /* reported, as transient */
    assert_int_equal(c.disabled, 1);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(run(&c, conn, 7, "2", 9), ""); /* unnamed from now on */
    }
    assert_int_equal(prepared_count(conn), 0);
    pgsql_stmt_cache_clear(&c);
    PQfinish(conn);
}

/* A pooler's server connection already has a statement of that name. */
static void name_taken_turns_cache_off(void **unused)
{
    (void)unused;
    struct pgsql_stmt_cache c = {0};
    PGconn *conn = connect_test();
    char sql[96];
    snprintf(sql, sizeof(sql), "PREPARE syncrelay_%ld_%u AS SELECT 1", (long)getpid(),
             c.next_id + 1);
    PGresult *r = PQexec(conn, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    run(&c, conn, 3, "1", 4);
    assert_string_equal(run(&c, conn, 3, "1", 4), "42P05");
    assert_int_equal(c.disabled, 1);
    assert_string_equal(run(&c, conn, 3, "1", 4), "");
    pgsql_stmt_cache_clear(&c);
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prepared_on_second_run),
        cmocka_unit_test(slots_are_bounded),
        cmocka_unit_test(statement_gone_turns_cache_off),
        cmocka_unit_test(name_taken_turns_cache_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
