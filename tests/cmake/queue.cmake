# Queue (Redis): the cmocka binaries need a real redis-server, so CTest runs
# them through tests/with-redis.sh (the target's CROSSCOMPILING_EMULATOR is
# the launcher add_test puts in front of an executable target), which starts
# a private server and exports SYNCRELAY_TEST_REDIS_URL. Without that
# variable the tests fail rather than skip.
foreach(t test_queue test_queue_admin test_queue_xref test_queue_group)
    relay_unit_test(${t} ${CMAKE_SOURCE_DIR}/tests/unit/${t}.c relay_queue)
    set_target_properties(${t} PROPERTIES
        CROSSCOMPILING_EMULATOR "bash;${CMAKE_SOURCE_DIR}/tests/with-redis.sh")
    set_tests_properties(${t} PROPERTIES TIMEOUT 120 LABELS "unit;tsan")
endforeach()

# Throughput benchmark, run by hand (no timed tests in CTest):
#   tests/with-redis.sh build/tests/test_queue_bench [threads] [events per thread]
add_executable(test_queue_bench ${CMAKE_SOURCE_DIR}/tests/unit/test_queue_bench.c)
target_link_libraries(test_queue_bench PRIVATE relay_queue ${CMOCKA_LIB})

# The Redis half of ingest on its own, run by hand: tests/bench/accept_redis.sh.
add_executable(accept_redis ${CMAKE_SOURCE_DIR}/tests/bench/accept_redis.c)
target_link_libraries(accept_redis PRIVATE relay_mappers relay_queue)
