#!/usr/bin/env bash
# One chaos scenario under a bounded webhook load, on loopback: a real
# redis-server, PostgreSQL, SQLite file and the fake BigQuery behind
# `syncrelay serve` (receiver + workers). tests/chaos/loadgen.py posts
# signed Twenty and Supabase webhooks at a fixed rate (fresh contacts,
# updates, redeliveries) and records every answer; one fault is injected
# mid-stream; once the load ends and the queues drain, tests/chaos/check.py
# compares the accepted event ids with every sink and prints one line
#   SINK accepted=N landed=N dead=N lost=N
#
# Usage: tests/chaos/chaos.sh SCENARIO
#   kill            SIGKILL of the relay, restarted after DOWN_S
#   redis-everysec  kill -9 of redis-server (AOF appendfsync everysec),
#                   restarted on the same dir after DOWN_S: a loss is
#                   reported with its window, not a failure
#   redis-always    the same with appendfsync always: lost must be 0
#   pg              Postgres stopped (pg_stop) for DOWN_S, then started
#   bq              the fake BigQuery answers 503 to every insertAll for DOWN_S
#   none            no fault (baseline)
# Environment: RATE (req/s, default 200), DURATION (s of load, default 20),
#   FAULT_AT (s into the load, default DURATION/3), DOWN_S (default 1 for
#   kills, 6 for pg/bq), DRAIN_S (default 60), SYNCRELAY_BIN, RELAY_FIXTURES,
#   KEEP_TMP=1 keeps the run's directory (logs, load log).
# Exit: 0 when every sink lost nothing it must not lose and no event was
# dead-lettered; 1 otherwise; 2 on bad usage.
set -euo pipefail
SCENARIO=${1:-}
case "$SCENARIO" in
kill | redis-everysec | redis-always | pg | bq | none) ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/chaos_lib.sh"
RATE=${RATE:-200}
DURATION=${DURATION:-20}
FAULT_AT=${FAULT_AT:-$(awk "BEGIN {print $DURATION / 3}")}
case "$SCENARIO" in
pg | bq) DOWN_S=${DOWN_S:-6} ;;
*) DOWN_S=${DOWN_S:-1} ;;
esac
DRAIN_S=${DRAIN_S:-60}
[ -x "$BIN" ] || { echo "chaos: no syncrelay binary at $BIN (set SYNCRELAY_BIN)" >&2; exit 2; }

lib_init
case "$SCENARIO" in
redis-everysec) chaos_start_redis everysec ;;
redis-always) chaos_start_redis always ;;
*) chaos_start_redis off ;;
esac
start_postgres
chaos_start_bigquery
chaos_config
chaos_start_relay
echo "chaos $SCENARIO: rate=${RATE}/s duration=${DURATION}s fault at +${FAULT_AT}s for ${DOWN_S}s (tmp $TEST_TMP)"

LOADLOG=$TEST_TMP/load.jsonl
chaos_load "$LOADLOG" --rate "$RATE" --duration "$DURATION" --count $((RATE * DURATION + 1)) \
    --tag "${SCENARIO//-/}" 2>"$TEST_TMP/loadgen.err" &
LOAD_PID=$!
LIB_PIDS+=("$LOAD_PID")

now() { date +%s.%N; }

# chaos_selftest: the check must see damage. Three Twenty contacts that had
# one accepted event each lose their Postgres row (two of them their SQLite
# row too), one of them gets a dead letter on P:dead:postgres, and the
# fake BigQuery forgets everything: check.py must exit 1 and count exactly
# that.
chaos_selftest() {
    local picked ids out st=0
    picked=$($PY - "$LOADLOG" <<'PY'
import collections, json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
acc = [e for e in ev if e["status"] == 202 and e["id"]]
n = collections.Counter(e["contact"] for e in acc)
one = [e for e in acc if e["source"] == "twenty" and e["kind"] == "new" and n[e["contact"]] == 1]
print(" ".join("%s=%s" % (e["contact"], e["id"]) for e in one[:3]))
PY
)
    set -- $picked
    [ $# = 3 ] || fail "selftest: not enough single-event contacts"
    psql_q "DELETE FROM contacts WHERE contact_id IN ('${1%=*}', '${2%=*}', '${3%=*}')"
    sqlite3 "$LITE_DB" "DELETE FROM contacts WHERE contact_id IN ('${1%=*}', '${2%=*}')"
    rcli LPUSH "$CHAOS_PREFIX:dead:postgres" \
        "{\"id\": \"${1#*=}\", \"error\": {\"class\": \"permanent\", \"code\": \"selftest\"}}" >/dev/null
    bq_control '{"reset": true}'
    out=$(chaos_check --log "$LOADLOG") || st=$?
    echo "$out" | sed 's/^/selftest: /'
    [ "$st" = 1 ] || fail "selftest: check.py exited $st on damaged sinks"
    echo "$out" | grep -q '^postgres accepted=[0-9]* landed=[0-9]* dead=1 lost=2$' || fail "selftest: postgres line"
    echo "$out" | grep -q '^sqlite accepted=[0-9]* landed=[0-9]* dead=0 lost=2$' || fail "selftest: sqlite line"
    echo "$out" | grep -Eq '^bigquery accepted=([0-9]+) landed=0 dead=0 lost=\1$' || fail "selftest: bigquery line"
    echo "$out" | grep -q 'postgres loss window: 2 accepted events lost' || fail "selftest: no loss window"
    echo "selftest: check.py counts lost and dead events"
}
sleep "$FAULT_AT"
FAULT_START=$(now)
case "$SCENARIO" in
kill)
    chaos_kill_relay
    sleep "$DOWN_S"
    inflight=$(for k in $(rcli --scan --pattern "$CHAOS_PREFIX:inflight:*"); do rcli LLEN "$k"; done |
        awk '{s += $1} END {print s + 0}')
    echo "relay killed; ${inflight} events were in flight"
    chaos_start_relay
    ;;
redis-everysec | redis-always)
    keys_before=$(rcli DBSIZE)
    chaos_kill_redis
    sleep "$DOWN_S"
    chaos_restart_redis
    echo "redis-server (appendfsync ${SCENARIO#redis-}) killed with $keys_before keys, restarted with $(rcli DBSIZE)"
    ;;
pg)
    pg_stop
    sleep "$DOWN_S"
    pg_start
    ;;
bq)
    bq_control '{"fail": 503, "count": 1000000}'
    sleep "$DOWN_S"
    bq_control '{"fail": 503, "count": 0}'
    ;;
none) ;;
esac
FAULT_END=$(now)

wait "$LOAD_PID" || fail "loadgen failed: $(cat "$TEST_TMP/loadgen.err")"
cat "$TEST_TMP/loadgen.err"
kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay died: $(tail -5 "$TEST_TMP/relay.log")"
drained=yes
chaos_wait_drained "$DRAIN_S" || drained=no
kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay died while draining: $(tail -5 "$TEST_TMP/relay.log")"

ALLOW=()
[ "$SCENARIO" = redis-everysec ] && ALLOW=(--allow-loss all)
st=0
chaos_check --log "$LOADLOG" --mark "fault=$FAULT_START" --mark "recovered=$FAULT_END" \
    --json "$TEST_TMP/check.json" "${ALLOW[@]}" || st=$?
if [ "$SCENARIO" = bq ]; then
    served=$(curl -sf "$BQ_BASE/_rows" | $PY -c 'import json,sys; print(json.load(sys.stdin)["stats"]["failures_served"])')
    [ "$served" -gt 0 ] || fail "the fake BigQuery served no 503: the scenario tested nothing"
fi
if [ "$SCENARIO" = pg ]; then
    retried=$(rcli HGET "$CHAOS_PREFIX:stats" retried:postgres)
    [ "${retried:-0}" -gt 0 ] || fail "Postgres down caused no retry: the scenario tested nothing"
fi
chaos_stop_relay
warn=$(grep -c 'level="error"' "$TEST_TMP/relay.log" || true)
echo "relay log: $warn error line(s); drained=$drained"
[ "$drained" = yes ] || [ "$st" != 0 ] || fail "queues not drained within ${DRAIN_S}s"
[ "$st" = 0 ] || fail "chaos $SCENARIO: events lost or dead-lettered (see above; KEEP_TMP=1 to keep $TEST_TMP)"
[ -n "${CHAOS_SELFTEST:-}" ] && chaos_selftest
echo "chaos $SCENARIO: ok"
