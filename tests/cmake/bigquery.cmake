# BigQuery sink: unit tests compile the sink's own sources directly so they
# depend only on relay_base (and libcurl/OpenSSL), not on other areas'
# files in relay_sinks.
set(BQ_SINK_DIR ${CMAKE_SOURCE_DIR}/workers/sinks)

relay_unit_test(test_bigquery_payload ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_payload.c
                relay_base)
target_sources(test_bigquery_payload PRIVATE ${BQ_SINK_DIR}/bigquery_payload.c)

relay_unit_test(test_bigquery_auth ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_auth.c relay_base
                PkgConfig::CURL PkgConfig::OPENSSL)
target_sources(test_bigquery_auth PRIVATE ${BQ_SINK_DIR}/bigquery_auth.c
               ${BQ_SINK_DIR}/http_client.c)

relay_unit_test(test_bigquery_query ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_query.c relay_base
                PkgConfig::CURL PkgConfig::OPENSSL)
target_sources(test_bigquery_query PRIVATE ${BQ_SINK_DIR}/bigquery_query.c
               ${BQ_SINK_DIR}/bigquery_auth.c ${BQ_SINK_DIR}/http_client.c)

# The stand-in for the worker pool that the integration scenarios drive
# (tests/integration/test_bigquery*.sh); not a CTest entry itself.
add_executable(bigquery_driver ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_driver.c
               ${BQ_SINK_DIR}/sink_bigquery.c ${BQ_SINK_DIR}/bigquery_payload.c
               ${BQ_SINK_DIR}/bigquery_auth.c ${BQ_SINK_DIR}/bigquery_query.c
               ${BQ_SINK_DIR}/http_client.c)
target_link_libraries(bigquery_driver PRIVATE relay_mappers relay_base PkgConfig::CURL
                      PkgConfig::OPENSSL Threads::Threads)
