#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]: runs CMD against a private PostgreSQL on
# loopback (tests/lib.sh), with its URL in SYNCRELAY_TEST_PG_URL; the
# server is stopped when CMD ends. CTest wraps test_pgsql_stmt in it.
set -u
. "$(dirname "$0")/lib.sh"
lib_init
start_postgres || fail "postgres did not start"
export SYNCRELAY_TEST_PG_URL="$PG_URL"
"$@"
