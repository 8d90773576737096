#!/usr/bin/env bash
# with-redis.sh CMD [ARGS...]: runs CMD against a private redis-server on
# loopback (tests/lib.sh), with its URL in SYNCRELAY_TEST_REDIS_URL; the
# server is stopped when CMD ends. CTest wraps test_queue in it.
set -u
. "$(dirname "$0")/lib.sh"
lib_init
start_redis || fail "redis-server did not start"
export SYNCRELAY_TEST_REDIS_URL="$REDIS_URL"
"$@"
