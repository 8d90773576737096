# Value transforms (mappers/transform*.c): one cmocka binary.
relay_unit_test(test_transform ${CMAKE_SOURCE_DIR}/tests/unit/test_transform.c relay_mappers)
# The allocation-failure walk alone, for `ctest -L torture`.
add_test(NAME torture_transform COMMAND test_transform allocation_failures_are_clean)
set_tests_properties(torture_transform PROPERTIES LABELS torture)
