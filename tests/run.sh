#!/usr/bin/env bash
# Installs what is missing, builds syncrelay twice (warnings as errors, then
# ASan+UBSan), and runs every test against a real redis-server and
# PostgreSQL on loopback. No test skips for a missing server: this script
# installs them. Usage: tests/run.sh [ctest args...]
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

if [ -z "${SYNCRELAY_SKIP_SANITIZE:-}" ]; then
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DRELAY_SANITIZE=address,undefined
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite build-asan "$@"
fi
