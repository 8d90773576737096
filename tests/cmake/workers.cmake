# Unit tests of workers/: the pure retry rules and the sinks' schema copies.
relay_unit_test(test_retry ${CMAKE_SOURCE_DIR}/tests/unit/test_retry.c relay_workers)
relay_unit_test(test_sink_schema ${CMAKE_SOURCE_DIR}/tests/unit/test_sink_schema.c relay_workers)
