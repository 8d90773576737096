#!/usr/bin/env bash
# The Redis half of ingest on its own (issue 3's ceiling): the accept
# script of the ingest bench's Supabase insert, a new contact each time,
# through the group commit thread with no HTTP in front (accept_redis.c),
# against a private redis-server with AOF (appendfsync everysec). Prints
# scripts/s and Redis's own CPU per script: one Redis core cannot run more
# than 1 s / that many scripts per second, whatever the relay does.
#
# Usage: tests/bench/accept_redis.sh [EVENTS [THREADS]] (defaults 30000, 8);
# the binary is build/tests/accept_redis, or $ACCEPT_REDIS_BIN.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BIN=${ACCEPT_REDIS_BIN:-$REPO_DIR/build/tests/accept_redis}
FIX=${RELAY_FIXTURES:-$REPO_DIR/../shared/fixtures}
EVENTS=${1:-30000}
THREADS=${2:-8}
[ -x "$BIN" ] || { echo "no accept_redis binary at $BIN" >&2; exit 2; }

lib_init
start_redis --appendonly yes --appendfsync everysec
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
CPU0=$(cpu_s "$REDIS_PID")
OUT=$(SYNCRELAY_TEST_REDIS_URL="$REDIS_URL" "$BIN" "$FIX/supabase/contacts.insert.json" "$EVENTS" "$THREADS")
CPU=$(awk -v a="$CPU0" -v b="$(cpu_s "$REDIS_PID")" 'BEGIN { print b - a }')
N=$(echo "$OUT" | awk '{ print $2 }')
S=$(echo "$OUT" | awk '{ print $4 }')
PER_CALL=$(redis-cli -p "$REDIS_PORT" INFO commandstats | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p')
awk -v n="$N" -v s="$S" -v c="$CPU" -v p="$PER_CALL" 'BEGIN {
    printf "accept_redis: %d scripts/s; Redis CPU %.1f us per script (%.1f us inside it), at most %d/s on one Redis core (%d scripts)\n",
        n / s, c * 1e6 / n, p, n / c, n }'
