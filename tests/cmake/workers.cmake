# Unit tests of workers/: the pure retry rules, the SQLite schema, the SQL sinks' column index.
relay_unit_test(test_retry ${CMAKE_SOURCE_DIR}/tests/unit/test_retry.c relay_workers)
relay_unit_test(test_sink_schema ${CMAKE_SOURCE_DIR}/tests/unit/test_sink_schema.c relay_workers)
relay_unit_test(test_sql_fields ${CMAKE_SOURCE_DIR}/tests/unit/test_sql_fields.c relay_sinks)
set_tests_properties(test_retry test_sink_schema test_sql_fields PROPERTIES LABELS "unit;tsan")

# The worker loop against a real redis-server (tests/with-redis.sh, as for
# the queue tests): deferral, throttle and max_batch with a fake sink kind.
relay_unit_test(test_worker ${CMAKE_SOURCE_DIR}/tests/unit/test_worker.c relay_workers)
set_target_properties(test_worker PROPERTIES
    CROSSCOMPILING_EMULATOR "bash;${CMAKE_SOURCE_DIR}/tests/with-redis.sh")
set_tests_properties(test_worker PROPERTIES TIMEOUT 120 LABELS "unit;tsan")

# The Postgres sink's prepared-statement cache against a real PostgreSQL
# (tests/with-postgres.sh starts a private one, as with-redis.sh does).
relay_unit_test(test_pgsql_stmt ${CMAKE_SOURCE_DIR}/tests/unit/test_pgsql_stmt.c relay_sinks)
set_target_properties(test_pgsql_stmt PROPERTIES
    CROSSCOMPILING_EMULATOR "bash;${CMAKE_SOURCE_DIR}/tests/with-postgres.sh")
set_tests_properties(test_pgsql_stmt PROPERTIES TIMEOUT 120 LABELS "unit;tsan")
