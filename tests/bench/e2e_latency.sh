#!/usr/bin/env bash
# End-to-end latency, webhook to row in Postgres (issue 9): `syncrelay
# serve` (receiver + workers) with a real redis-server and PostgreSQL on
# loopback; tests/chaos/loadgen.py posts signed Twenty person.created
# webhooks at a fixed rate (default 1,000/s for 10 s), each a fresh contact,
# recording when each request was sent. PostgreSQL runs with
# track_commit_timestamp = on, so each row's visibility time is the commit
# time of the transaction that wrote it (pg_xact_commit_timestamp(xmin)):
# no polling, nothing added to the table. Prints one line:
#   e2e p50=..ms p99=..ms rate=1000/s n=...
# plus a detail line (see tests/bench/e2e_latency.py).
# Usage: tests/bench/e2e_latency.sh [RATE [SECONDS]]
# Environment: SYNCRELAY_BIN, THREADS (sender threads = keep-alive
#   connections, default 16), HTTP_THREADS (relay http.threads, default 32:
#   civetweb serves one connection per thread, keep-alive included, so a
#   sender with more connections than threads starves), BATCH_SIZE,
#   PG_WORKERS, E2E_SQLITE=on (also deliver to a SQLite file, sharing the
#   CPU as in a full deployment; default off).
set -euo pipefail
RATE=${1:-1000}
SECONDS_LOAD=${2:-10}
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../chaos/chaos_lib.sh"
[ -x "$BIN" ] || { echo "e2e: no syncrelay binary at $BIN (set SYNCRELAY_BIN)" >&2; exit 2; }
lib_init
chaos_start_redis off
start_postgres
psql_q "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null
pg_stop
pg_start
assert_eq on "$(psql_q "SHOW track_commit_timestamp")" "track_commit_timestamp"
HTTP_THREADS=${HTTP_THREADS:-32} CHAOS_SQLITE=${E2E_SQLITE:-off} chaos_config
chaos_start_relay

chaos_load "$TEST_TMP/load.jsonl" --rate "$RATE" --duration "$SECONDS_LOAD" \
    --count $((RATE * SECONDS_LOAD)) --threads "${THREADS:-16}" --twenty-share 1 \
    --update-share 0 --redeliver-share 0 --tag e2e 2>"$TEST_TMP/loadgen.err" ||
    fail "loadgen: $(cat "$TEST_TMP/loadgen.err")"
chaos_wait_drained 60 || fail "not drained"
chaos_stop_relay
psql_q "SELECT contact_id || '|' || extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM contacts" \
    >"$TEST_TMP/arrivals.txt"
cat "$TEST_TMP/loadgen.err" >&2
$PY "$(dirname "$0")/e2e_latency.py" "$TEST_TMP/load.jsonl" "$TEST_TMP/arrivals.txt" "$RATE"
