# Twenty sink: the pure tests compile the client and rate sources directly,
# so they depend only on relay_base and libcurl, not on other areas' files
# in relay_sinks.
set(TWENTY_SINK_DIR ${CMAKE_SOURCE_DIR}/workers/sinks)

relay_unit_test(test_twenty_rate ${CMAKE_SOURCE_DIR}/tests/unit/test_twenty_rate.c relay_base)
target_sources(test_twenty_rate PRIVATE ${TWENTY_SINK_DIR}/twenty_rate.c)

relay_unit_test(test_twenty_client ${CMAKE_SOURCE_DIR}/tests/unit/test_twenty_client.c relay_base
                PkgConfig::CURL)
target_sources(test_twenty_client PRIVATE ${TWENTY_SINK_DIR}/twenty_client.c
               ${TWENTY_SINK_DIR}/twenty_requests.c ${TWENTY_SINK_DIR}/twenty_rate.c
               ${TWENTY_SINK_DIR}/http_client.c)

# The sink against tests/fakes/fake_twenty.py (started by the test itself on
# loopback); needs the mappers for the field map.
relay_unit_test(test_twenty_sink ${CMAKE_SOURCE_DIR}/tests/unit/test_twenty_sink.c relay_mappers
                relay_base PkgConfig::CURL)
target_sources(test_twenty_sink PRIVATE ${TWENTY_SINK_DIR}/sink_twenty.c
               ${TWENTY_SINK_DIR}/twenty_client.c ${TWENTY_SINK_DIR}/twenty_requests.c
               ${TWENTY_SINK_DIR}/twenty_rate.c ${TWENTY_SINK_DIR}/http_client.c)
set_tests_properties(test_twenty_rate test_twenty_client test_twenty_sink PROPERTIES
    LABELS "unit;tsan")
