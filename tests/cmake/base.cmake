# Config, event codec and buffer unit tests, plus the allocation-failure
# torture runs (label torture) over config_load and relay_event_decode.
relay_unit_test(test_config ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c relay_config)
relay_unit_test(test_event ${CMAKE_SOURCE_DIR}/tests/unit/test_event.c relay_base)
relay_unit_test(test_buf ${CMAKE_SOURCE_DIR}/tests/unit/test_buf.c relay_base)

add_test(NAME torture_config COMMAND test_config --torture)
add_test(NAME torture_event COMMAND test_event --torture)
set_tests_properties(torture_config torture_event PROPERTIES LABELS torture)
