# BigQuery sink: unit tests compile the sink's own sources directly so they
# depend only on relay_base (and libcurl/OpenSSL), not on other areas'
# files in relay_sinks.
set(BQ_SINK_DIR ${CMAKE_SOURCE_DIR}/workers/sinks)
# The token source: sources, JWT, exchange, shared cache, authenticated call.
set(BQ_AUTH_SOURCES ${BQ_SINK_DIR}/bigquery_auth.c ${BQ_SINK_DIR}/bigquery_jwt.c
    ${BQ_SINK_DIR}/bigquery_token_fetch.c ${BQ_SINK_DIR}/bigquery_token_cache.c
    ${BQ_SINK_DIR}/bigquery_api.c ${BQ_SINK_DIR}/http_client.c)
# The reader of push/verify: row decoding and the jobs.query requests.
set(BQ_QUERY_SOURCES ${BQ_SINK_DIR}/bigquery_query.c ${BQ_SINK_DIR}/bigquery_jobs.c)

relay_unit_test(test_bigquery_payload ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_payload.c
                relay_base)
target_sources(test_bigquery_payload PRIVATE ${BQ_SINK_DIR}/bigquery_payload.c)

relay_unit_test(test_bigquery_auth ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_auth.c relay_base
                PkgConfig::CURL PkgConfig::OPENSSL)
target_sources(test_bigquery_auth PRIVATE ${BQ_AUTH_SOURCES})

relay_unit_test(test_bigquery_query ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_query.c relay_base
                PkgConfig::CURL PkgConfig::OPENSSL)
target_sources(test_bigquery_query PRIVATE ${BQ_QUERY_SOURCES} ${BQ_AUTH_SOURCES})
set_tests_properties(test_bigquery_payload test_bigquery_auth test_bigquery_query PROPERTIES
    LABELS "unit;tsan")

# The stand-in for the worker pool that the integration scenarios drive
# (tests/integration/test_bigquery*.sh); not a CTest entry itself.
add_executable(bigquery_driver ${CMAKE_SOURCE_DIR}/tests/unit/test_bigquery_driver.c
               ${BQ_SINK_DIR}/sink_bigquery.c ${BQ_SINK_DIR}/bigquery_insert.c
               ${BQ_SINK_DIR}/bigquery_payload.c ${BQ_QUERY_SOURCES} ${BQ_AUTH_SOURCES})
target_link_libraries(bigquery_driver PRIVATE relay_mappers relay_base PkgConfig::CURL
                      PkgConfig::OPENSSL Threads::Threads)
