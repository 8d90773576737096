# Fuzz regression (label fuzz-replay): every fuzz target built against
# tests/fuzz/replay.c with the normal compiler, replaying its seed corpus
# and its saved crashers (tests/fuzz/regress/<target>/) on every test run,
# so a fixed crash stays fixed; and open/<target>/, reproducers of bugs
# reported and not fixed yet, which must still fail. The libFuzzer builds themselves are
# tests/fuzz/run-fuzzers.sh (RELAY_FUZZ=ON, clang).
include(${CMAKE_SOURCE_DIR}/tests/fuzz/targets.cmake)

foreach(t ${RELAY_FUZZ_TARGETS})
    relay_fuzz_executable(fuzz_${t}_replay ${t} ${FUZZ_DIR}/replay.c)
    add_test(NAME fuzz_replay_${t}
             COMMAND fuzz_${t}_replay ${FUZZ_DIR}/corpus/${t} ${FUZZ_DIR}/regress/${t})
    set_tests_properties(fuzz_replay_${t} PROPERTIES LABELS fuzz-replay TIMEOUT 120)
    # open/<target>/: reproducers of reported, not yet fixed bugs; each must
    # still fail (the test says when one is fixed and belongs in regress/).
    file(GLOB open_inputs ${FUZZ_DIR}/open/${t}/*)
    if(open_inputs)
        add_test(NAME fuzz_open_${t} COMMAND fuzz_${t}_replay --expect-fail ${FUZZ_DIR}/open/${t})
        set_tests_properties(fuzz_open_${t} PROPERTIES LABELS fuzz-replay TIMEOUT 120)
    endif()
endforeach()
