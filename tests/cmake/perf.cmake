# Ingest performance work: mapper_value_digest streams jansson's encoding
# into SHA-256; this test holds it to the documented json_dumps formula.
relay_unit_test(test_mapper_digest ${CMAKE_SOURCE_DIR}/tests/unit/test_mapper_digest.c relay_mappers)

# The rewritten accept script against the previous one, side by side on
# random event sequences (needs the private Redis of tests/with-redis.sh).
relay_unit_test(test_queue_accept ${CMAKE_SOURCE_DIR}/tests/unit/test_queue_accept.c relay_queue)
set_target_properties(test_queue_accept PROPERTIES
    CROSSCOMPILING_EMULATOR "bash;${CMAKE_SOURCE_DIR}/tests/with-redis.sh")
set_tests_properties(test_queue_accept PROPERTIES TIMEOUT 120 LABELS "unit;tsan")
