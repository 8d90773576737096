#!/usr/bin/env bash
# Installs what is missing, builds syncrelay twice (warnings as errors, then
# ASan+UBSan), and runs every test against a real redis-server and
# PostgreSQL on loopback; in between runs every libFuzzer target for
# SYNCRELAY_FUZZ_SECONDS (60 when CI=true); then builds the tests labelled
# tsan (the unit tests of queue/ and workers/, and the scenarios whose
# threads share state) under ThreadSanitizer and runs them. No test skips for a missing server: this script installs them.
# SYNCRELAY_SKIP_SANITIZE=1 skips the ASan+UBSan and TSan stages.
# Usage: tests/run.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/packages.sh
# shellcheck disable=SC2086
install_missing $SYNCRELAY_BUILD_PACKAGES $SYNCRELAY_RUN_PACKAGES $SYNCRELAY_TEST_PACKAGES

# Debian's service scripts may start a system redis/postgres on install;
# the tests use their own private instances and do not need them.
JOBS=${JOBS:-2}

build() { # build DIR CMAKE_ARGS...
    local dir=$1
    shift
    cmake -S . -B "$dir" -DRELAY_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$JOBS"
}

run_suite() { # run_suite DIR
    (cd "$1" && ctest --output-on-failure -j"$JOBS" "${@:2}")
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build "$@"

# libFuzzer: every target of tests/fuzz for SYNCRELAY_FUZZ_SECONDS each
# (clang build in build-fuzz). Default 60 in CI, 0 (skip) locally; the
# saved crashers and corpora are replayed by CTest anyway. FUZZ_JOBS
# targets at a time (default 4: the seven in two rounds, each target
# half a core, to keep CI near 20 minutes on 2 cores).
FUZZ_SECONDS=${SYNCRELAY_FUZZ_SECONDS:-0}
[ "${CI:-}" = true ] && FUZZ_SECONDS=${SYNCRELAY_FUZZ_SECONDS:-60}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
    JOBS=${FUZZ_JOBS:-4} tests/fuzz/run-fuzzers.sh "$FUZZ_SECONDS"
fi

if [ -z "${SYNCRELAY_SKIP_SANITIZE:-}" ]; then
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DRELAY_SANITIZE=address,undefined
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite build-asan "$@"

    # ThreadSanitizer cannot share a build with ASan. build-tsan builds only
    # the targets of the tests labelled tsan (each test is named after its
    # target), to keep CI time down.
    cmake -S . -B build-tsan -DRELAY_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
        -DRELAY_SANITIZE=thread >/dev/null
    mapfile -t tsan_tests < <(cd build-tsan && ctest -N -L tsan | sed -n 's/^ *Test *#[0-9]*: //p')
    [ "${#tsan_tests[@]}" -gt 0 ] || { echo "no tests labelled tsan" >&2; exit 1; }
    cmake --build build-tsan -j"$JOBS" --target "${tsan_tests[@]}"
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_suite build-tsan -L tsan "$@"
fi
