#!/usr/bin/env bash
# Ingest benchmark (issue 3): a private redis-server with AOF
# (appendfsync everysec, the documented deployment setting), `syncrelay
# serve --role receiver`, and wrk for 10 s with 50 connections. Every
# request is a new contact at a new version (mixed Supabase inserts and
# pre-signed Twenty person.created), so every one runs the whole accept
# path: auth, mapping, arbiter script, fan-out to three queues.
# Prints one line: accepted webhooks/s, p50/p99 latency, the relay's peak
# RSS. Targets on a 2-core machine: >= 15000/s, p99 < 10 ms, < 64 MB.
#
# Usage: tests/bench/ingest.sh [BINARY]   (default: build/syncrelay, or
# $SYNCRELAY_BIN). DURATION, CONNECTIONS, HTTP_THREADS (the relay's http.threads) override the defaults.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BIN=${1:-${SYNCRELAY_BIN:-$REPO_DIR/build/syncrelay}}
FIX=${RELAY_FIXTURES:-$REPO_DIR/../shared/fixtures}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
HTTP_THREADS=${HTTP_THREADS:-64}
[ -x "$BIN" ] || { echo "no syncrelay binary at $BIN" >&2; exit 2; }

lib_init
# REDIS_UNIX=1: the relay talks to Redis over a Unix socket (as
# deploy/run-local.sh does) instead of loopback TCP.
start_redis --appendonly yes --appendfsync everysec --unixsocket "$TEST_TMP/redis.sock" \
    --unixsocketperm 700 ${REDIS_EXTRA:-}
[ -n "${REDIS_UNIX:-}" ] && REDIS_URL="unix://$TEST_TMP/redis.sock"
HTTP_PORT=$(free_port)
CONF="$TEST_TMP/relay.yaml"
# civetweb serves a keep-alive connection on one thread, so the relay gets
# at least as many threads as wrk has connections.
cat >"$CONF" <<EOF
http:
  listen: "127.0.0.1:$HTTP_PORT"
  threads: $HTTP_THREADS
redis:
  url: "$REDIS_URL"
twenty:
  secret: "bench-secret"
  url: "http://127.0.0.1:1"
  api_key: "unused"
supabase:
  secret: "bench-sb-secret"
sqlite:
  path: "$TEST_TMP/unused.db"
postgres:
  url: "postgresql://nobody@127.0.0.1:1/unused"
bigquery:
  project: "unused"
  token: "unused"
EOF

# Enough pre-signed Twenty requests for one in three at 30,000 requests/s.
TWENTY_COUNT=$((DURATION * 10000))
python3 "$HERE/ingest_gen.py" "$FIX" "$TEST_TMP" bench-secret "$TWENTY_COUNT" 2

"$BIN" --config "$CONF" serve --role receiver 2>"$TEST_TMP/relay.log" &
RELAY_PID=$!
LIB_PIDS+=("$RELAY_PID")
wait_for curl -sf "http://127.0.0.1:$HTTP_PORT/healthz"

# BENCH_PERF=FILE: record a CPU profile of the relay during the run.
PERF_PID=""
if [ -n "${BENCH_PERF:-}" ]; then
    perf record -F ${BENCH_PERF_HZ:-199} --call-graph dwarf,16384 -p "$RELAY_PID" -o "$BENCH_PERF" -- sleep "$DURATION" 2>/dev/null &
    PERF_PID=$!
fi
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
RELAY_CPU0=$(cpu_s "$RELAY_PID")
REDIS_CPU0=$(cpu_s "$REDIS_PID")
BENCH_DIR="$TEST_TMP" SUPABASE_SECRET=bench-sb-secret \
    /usr/bin/time -f "%U %S" -o "$TEST_TMP/wrk.time" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$HERE/ingest.lua" \
    "http://127.0.0.1:$HTTP_PORT" >"$TEST_TMP/wrk.out"

[ -n "$PERF_PID" ] && wait "$PERF_PID"
RELAY_CPU=$(awk -v a="$RELAY_CPU0" -v b="$(cpu_s "$RELAY_PID")" 'BEGIN { print b - a }')
REDIS_CPU=$(awk -v a="$REDIS_CPU0" -v b="$(cpu_s "$REDIS_PID")" 'BEGIN { print b - a }')
WRK_CPU=$(awk '{ print $1 + $2 }' "$TEST_TMP/wrk.time")
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$RELAY_PID/status")
ACCEPTED=$(redis-cli -p "$REDIS_PORT" LLEN syncrelay:q:bigquery)
SECONDS_RUN=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' "$TEST_TMP/wrk.out")
REQUESTS=$(awk '/requests in/ {print $1}' "$TEST_TMP/wrk.out")
NON2XX=$(awk '/Non-2xx/ {print $5}' "$TEST_TMP/wrk.out")
# wrk prints latencies as 1.23ms / 845.00us / 1.02s: normalise to ms.
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000;
                           printf "%.2f", n }'
}
P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$TEST_TMP/wrk.out")")
P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$TEST_TMP/wrk.out")")
RATE=$(awk -v a="$ACCEPTED" -v s="$SECONDS_RUN" 'BEGIN { printf "%d", a / s }')
if [ -n "${BENCH_VERBOSE:-}" ]; then
    cat "$TEST_TMP/wrk.out" >&2
    redis-cli -p "$REDIS_PORT" INFO commandstats | grep -E 'evalsha|cmdstat_eval' >&2 || true
    # CPU per accepted webhook: comparable across runs even on a busy machine.
    awk -v n="$ACCEPTED" -v r="$RELAY_CPU" -v d="$REDIS_CPU" -v w="$WRK_CPU" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
        'BEGIN { printf "cpu per accepted webhook: relay %.1f us, redis %.1f us, wrk %.1f us (load %s)\n",
                 r * 1e6 / n, d * 1e6 / n, w * 1e6 / n, l }' >&2
fi
echo "ingest: ${RATE} accepted webhooks/s, p50 ${P50} ms, p99 ${P99} ms, peak RSS $((HWM_KB / 1024)) MB" \
    "(${REQUESTS} requests, ${ACCEPTED} accepted, ${NON2XX:-0} non-2xx, ${CONNECTIONS} connections, ${DURATION} s)"
