relay_unit_test(test_metrics ${CMAKE_SOURCE_DIR}/tests/unit/test_metrics.c relay_base)
