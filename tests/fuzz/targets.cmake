# The fuzz targets and what each is built from; included by both builds:
# tests/fuzz/CMakeLists.txt (clang libFuzzer, RELAY_FUZZ=ON) and
# tests/cmake/fuzz.cmake (replay.c with any compiler, registered in CTest).
# Sink sources are compiled in directly (as tests/cmake/bigquery.cmake and
# twenty.cmake do), so a target does not depend on every file of relay_sinks.
set(FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(FUZZ_SINKS ${CMAKE_SOURCE_DIR}/workers/sinks)

set(RELAY_FUZZ_TARGETS webhook_twenty webhook_supabase config mapping event bigquery_response
    twenty_response)

set(FUZZ_WEBHOOK_SOURCES ${FUZZ_DIR}/fuzz_webhook.c ${FUZZ_DIR}/fuzz_mapper.c
    ${CMAKE_SOURCE_DIR}/relay/webhook_auth.c)
set(FUZZ_SOURCES_webhook_twenty ${FUZZ_DIR}/fuzz_webhook_twenty.c ${FUZZ_WEBHOOK_SOURCES})
set(FUZZ_LIBS_webhook_twenty relay_mappers relay_base)
set(FUZZ_SOURCES_webhook_supabase ${FUZZ_DIR}/fuzz_webhook_supabase.c ${FUZZ_WEBHOOK_SOURCES})
set(FUZZ_LIBS_webhook_supabase relay_mappers relay_base)
set(FUZZ_SOURCES_config ${FUZZ_DIR}/fuzz_config.c ${CMAKE_SOURCE_DIR}/queue/queue_url.c)
set(FUZZ_LIBS_config relay_config PkgConfig::HIREDIS PkgConfig::LIBPQ)
set(FUZZ_SOURCES_mapping ${FUZZ_DIR}/fuzz_mapping.c ${FUZZ_DIR}/fuzz_mapper.c)
set(FUZZ_LIBS_mapping relay_mappers relay_base)
set(FUZZ_SOURCES_event ${FUZZ_DIR}/fuzz_event.c)
set(FUZZ_LIBS_event relay_base)
set(FUZZ_SOURCES_bigquery_response ${FUZZ_DIR}/fuzz_bigquery_response.c ${FUZZ_DIR}/fuzz_mapper.c
    ${FUZZ_SINKS}/bigquery_payload.c ${FUZZ_SINKS}/bigquery_query.c ${FUZZ_SINKS}/bigquery_auth.c
    ${FUZZ_SINKS}/http_client.c)
set(FUZZ_LIBS_bigquery_response relay_mappers relay_base PkgConfig::CURL PkgConfig::OPENSSL)
set(FUZZ_SOURCES_twenty_response ${FUZZ_DIR}/fuzz_twenty_response.c ${FUZZ_DIR}/fuzz_mapper.c
    ${FUZZ_SINKS}/twenty_client.c
    ${FUZZ_SINKS}/twenty_rate.c ${FUZZ_SINKS}/http_client.c)
set(FUZZ_LIBS_twenty_response relay_mappers relay_base PkgConfig::CURL)

# relay_fuzz_executable(NAME TARGET EXTRA_SOURCES...): one target's binary.
function(relay_fuzz_executable name target)
    add_executable(${name} ${FUZZ_SOURCES_${target}} ${FUZZ_DIR}/fuzz_util.c ${ARGN})
    target_link_libraries(${name} PRIVATE ${FUZZ_LIBS_${target}})
endfunction()
