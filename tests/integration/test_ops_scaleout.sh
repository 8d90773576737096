#!/usr/bin/env bash
# Scale-out (issue 8): two `serve --role all` instances on different ports
# against one Redis and one PostgreSQL. A bounded load is spread over both
# while a lock on the contacts table holds every postgres batch in flight;
# instance A is SIGKILLed with events in its in-flight lists and more load
# follows. Once the lock is released, B's scheduler recovers A's in-flight
# lists after A's heartbeats expire (workers.heartbeat_ttl_s: 2), and every
# accepted webhook (HTTP 202) is a row in Postgres; nothing is left queued,
# in flight, retrying or dead.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SYNCRELAY_BIN:?SYNCRELAY_BIN not set}
FIX=${RELAY_FIXTURES:?RELAY_FIXTURES not set}
LOAD="python3 $HERE/ops_load.py tw-secret $FIX/twenty/person.created.json"

lib_init
start_redis
start_postgres
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# conf NAME PORT: one instance's config (only the HTTP port differs).
conf() {
    cat >"$TEST_TMP/$1.yaml" <<EOF
http: {listen: "127.0.0.1:$2", threads: 4}
redis: {url: "$REDIS_URL", prefix: "so", timeout_ms: 1000}
twenty: {secret: "tw-secret"}
postgres: {url: "$PG_URL", workers: 2}
sqlite: {path: "off"}
workers: {batch_size: 20, heartbeat_ttl_s: 2, grace_ms: 2000}
retry: {base_ms: 100, cap_ms: 500, max_attempts: 100}
log: {level: info}
EOF
}
PORT_A=$(free_port)
PORT_B=$(free_port)
conf a "$PORT_A"
conf b "$PORT_B"
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"
"$BIN" --config "$TEST_TMP/a.yaml" migrate >/dev/null || fail "migrate"
"$BIN" --config "$TEST_TMP/a.yaml" serve --role all 2>"$TEST_TMP/a.log" &
PID_A=$!
"$BIN" --config "$TEST_TMP/b.yaml" serve --role all 2>"$TEST_TMP/b.log" &
PID_B=$!
LIB_PIDS+=("$PID_A" "$PID_B")
wait_for curl -sf "$A/healthz" || fail "A did not start: $(cat "$TEST_TMP/a.log")"
wait_for curl -sf "$B/healthz" || fail "B did not start: $(cat "$TEST_TMP/b.log")"

ANSWERS="$TEST_TMP/answers"
rows() { psql_q "SELECT count(*) FROM contacts"; }
accepted() { awk '$1 == 202' "$ANSWERS" | wc -l; }
# wait_rows N: until Postgres holds N contacts (60 s).
wait_rows() {
    for _ in $(seq 1 600); do
        [ "$(rows)" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "postgres has $(rows) rows, expected $1; A: $(tail -3 "$TEST_TMP/a.log"); B: $(tail -3 "$TEST_TMP/b.log")"
}

# Warm-up through both instances: both sinks open, rows land.
$LOAD 1 4 "$ANSWERS" "$A" "$B"
assert_eq 4 "$(accepted)" "warm-up accepted"
wait_rows 4

# Hold every postgres write: each instance's workers block inside a batch.
mkfifo "$TEST_TMP/lock.fifo"
psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 <"$TEST_TMP/lock.fifo" >"$TEST_TMP/lock.log" 2>&1 &
LOCK_PID=$!
LIB_PIDS+=("$LOCK_PID")
exec 7>"$TEST_TMP/lock.fifo"
echo "BEGIN; LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&7
locked() { # polled: the lock is taken asynchronously through the fifo
    [ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE c.relname = 'contacts' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
wait_for locked || fail "could not lock contacts"

$LOAD 100 60 "$ANSWERS" "$A" "$B"
assert_eq 64 "$(accepted)" "accepted before the kill"

# A's in-flight lists (consumer HOST:PID_A:THREAD) must hold events.
inflight_a() {
    local n=0 k
    for k in $(rcli --scan --pattern "so:inflight:postgres:*:$PID_A:*"); do
        n=$((n + $(rcli LLEN "$k")))
    done
    echo "$n"
}
a_holds_events() { [ "$(inflight_a)" -gt 0 ]; } # polled, not evaluated once
wait_for a_holds_events || fail "A never held events in flight"
STRANDED=$(inflight_a)
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null

# More load while A is dead: its share is refused (not accepted), B's lands.
$LOAD 200 40 "$ANSWERS" "$A" "$B"
[ "$(awk '$1 == 0' "$ANSWERS" | wc -l)" -eq 20 ] || fail "posts to the dead A were not refused"
TOTAL=$(accepted)
assert_eq 84 "$TOTAL" "accepted in all"

echo "COMMIT;" >&7
exec 7>&-
wait "$LOCK_PID"

wait_rows "$TOTAL"
# Every accepted record is a row, and nothing else is.
awk '$1 == 202 {print $2}' "$ANSWERS" | sort >"$TEST_TMP/want"
psql_q "SELECT contact_id FROM contacts ORDER BY 1" | sort >"$TEST_TMP/got"
cmp -s "$TEST_TMP/want" "$TEST_TMP/got" ||
    fail "accepted != rows: $(diff "$TEST_TMP/want" "$TEST_TMP/got" | head -5)"
# Nothing left anywhere, nothing dead.
for _ in $(seq 1 100); do
    left=$(($(rcli LLEN so:q:postgres) + $(rcli ZCARD so:retry:postgres)))
    for k in $(rcli --scan --pattern 'so:inflight:postgres:*'); do
        left=$((left + $(rcli LLEN "$k")))
    done
    [ "$left" -eq 0 ] && break
    sleep 0.1
done
assert_eq 0 "$left" "events left in queues"
assert_eq 0 "$(rcli LLEN so:dead:postgres)" "dead letters"
grep -q 'recovered [0-9]* in-flight event' "$TEST_TMP/b.log" ||
    fail "B never recovered A's in-flight events ($STRANDED stranded)"
# B's own metrics saw the recovered events written.
WRITTEN=$(curl -s "$B/metrics" | sed -n 's/^syncrelay_sink_written_total{sink="postgres"} //p')
[ "$WRITTEN" -ge "$STRANDED" ] || fail "B wrote $WRITTEN, fewer than A's $STRANDED stranded"

kill -TERM "$PID_B"
wait "$PID_B" || fail "B exited with $?: $(tail -5 "$TEST_TMP/b.log")"
echo "ok ($STRANDED in flight at A when killed, $TOTAL accepted)"
