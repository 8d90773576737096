#!/usr/bin/env bash
# GET /metrics (issue 8) on `syncrelay serve --role all` against a real
# redis-server, PostgreSQL and SQLite file. Every scrape must parse as
# Prometheus text (ops_prom.py check). The counters move as events flow:
#  1. webhooks accepted per source, written per sink, batch histograms,
#     queue gauges back to 0 once delivered, shared P:stats counters;
#  2. a duplicate, a 401 (bad secret), a poison element dead-lettered;
#  3. Postgres down: retried and retrying move, then Postgres back: the
#     event lands, the postgres reconnect is counted, the queue drains;
#  4. Redis down: the scrape still answers 200 with the local metrics and
#     syncrelay_redis_up 0; Redis back: redis_up 1 and a redis reconnect.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SYNCRELAY_BIN:?SYNCRELAY_BIN not set}
FIX=${RELAY_FIXTURES:?RELAY_FIXTURES not set}
PROM="python3 $HERE/ops_prom.py"

lib_init
start_redis
start_postgres
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"
LITE_DB="$TEST_TMP/lite.db"
CONF="$TEST_TMP/relay.yaml"
cat >"$CONF" <<EOF
http: {listen: "127.0.0.1:$HTTP_PORT", threads: 4}
redis: {url: "$REDIS_URL", prefix: "m", timeout_ms: 1000}
twenty: {secret: "tw-secret"}
supabase: {secret: "sb-secret"}
postgres: {url: "$PG_URL", workers: 1}
sqlite: {path: "$LITE_DB"}
workers: {batch_size: 50, heartbeat_ttl_s: 3, grace_ms: 3000}
retry: {base_ms: 200, cap_ms: 1000, max_attempts: 100}
log: {level: info}
EOF
"$BIN" --config "$CONF" migrate >/dev/null || fail "migrate"
"$BIN" --config "$CONF" serve --role all 2>"$TEST_TMP/relay.log" &
RELAY_PID=$!
LIB_PIDS+=("$RELAY_PID")
wait_for curl -sf "$URL/healthz" || fail "relay did not start: $(cat "$TEST_TMP/relay.log")"

N=0
# scrape: fetches /metrics into $TEST_TMP/m.N (sets M) and checks it parses.
scrape() {
    N=$((N + 1))
    M="$TEST_TMP/m.$N"
    local status
    status=$(curl -s -o "$M" -w '%{http_code}' "$URL/metrics")
    assert_eq 200 "$status" "GET /metrics"
    $PROM check "$M" || fail "scrape $N is not valid Prometheus text (see $M)"
}
# wait_metric EXPR NAME [LABELS...]: scrapes until `EXPR` holds (bash
# arithmetic with the value as $v), for up to 30 s; $M is the scrape that
# satisfied it.
wait_metric() {
    local expr=$1 v
    shift
    for _ in $(seq 1 300); do
        scrape
        v=$($PROM get "$M" "$@")
        [ "$v" != missing ] && (($expr)) && return 0
        sleep 0.1
    done
    fail "timed out waiting for $* to satisfy $expr (last: $v)"
}
post() { # post SOURCE FILE [curl args]: sets STATUS
    local src=$1 file=$2
    shift 2
    STATUS=$(curl -s -o "$TEST_TMP/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$file" "$@" "$URL/v1/webhooks/$src")
}
post_twenty() {
    local ts sig
    read -r ts sig < <(python3 "$HERE/sign.py" twenty tw-secret "$1")
    post twenty "$1" -H "X-Twenty-Webhook-Timestamp: $ts" -H "X-Twenty-Webhook-Signature: $sig"
}
post_supabase() { post supabase "$1" -H "X-Syncrelay-Secret: ${2:-sb-secret}"; }
# drained SINK...: until queued, in flight and retrying are 0 for each.
drained() {
    local s
    for s in "$@"; do
        wait_metric 'v == 0' syncrelay_queue_queued sink="$s"
        wait_metric 'v == 0' syncrelay_queue_in_flight sink="$s"
        wait_metric 'v == 0' syncrelay_queue_retrying sink="$s"
    done
}

# 0. a fresh relay: everything present, nothing counted
scrape
assert_eq 1 "$($PROM get "$M" syncrelay_redis_up)" "redis_up at start"
assert_eq 0 "$($PROM get "$M" syncrelay_sink_written_total sink=postgres)" "written at start"
assert_eq 0 "$($PROM get "$M" syncrelay_queue_queued sink=sqlite)" "queued at start"
assert_eq missing "$($PROM get "$M" syncrelay_queue_queued sink=bigquery)" "a disabled sink has no gauge"

# 1. events flow
post_twenty "$FIX/twenty/person.created.json"
assert_eq 202 "$STATUS" "twenty person.created: $(cat "$TEST_TMP/answer")"
post_supabase "$FIX/supabase/contacts.insert.json"
assert_eq 202 "$STATUS" "supabase insert: $(cat "$TEST_TMP/answer")"
drained postgres sqlite
scrape
assert_eq 1 "$($PROM get "$M" syncrelay_events_total source=twenty outcome=accepted)" "twenty accepted"
assert_eq 1 "$($PROM get "$M" syncrelay_events_total source=supabase outcome=accepted)" "supabase accepted"
assert_eq 1 "$($PROM get "$M" syncrelay_http_requests_total route=/v1/webhooks/twenty status=202)" \
    "twenty 202s"
assert_eq 1 "$($PROM get "$M" syncrelay_sink_written_total sink=postgres)" "postgres written"
assert_eq 2 "$($PROM get "$M" syncrelay_sink_written_total sink=sqlite)" "sqlite written"
[ "$($PROM get "$M" syncrelay_batch_seconds_count sink=postgres)" -ge 1 ] || fail "postgres batches"
[ "$($PROM get "$M" syncrelay_batch_seconds_count sink=sqlite)" -ge 1 ] || fail "sqlite batches"
assert_eq 2 "$($PROM get "$M" syncrelay_shared_events_total outcome=accepted)" "shared accepted"
assert_eq 2 "$($PROM get "$M" syncrelay_shared_sink_events_total sink=sqlite outcome=delivered)" \
    "shared delivered:sqlite"
assert_eq 0 "$($PROM get "$M" syncrelay_queue_oldest_age_seconds sink=postgres)" "oldest age, empty"
assert_eq 1 "$(psql_q "SELECT count(*) FROM contacts")" "postgres rows"

# 2. duplicate, 401, poison
post_supabase "$FIX/supabase/contacts.insert.json"
assert_eq 200 "$STATUS" "redelivery"
post_supabase "$FIX/supabase/contacts.insert.json" wrong-secret
assert_eq 401 "$STATUS" "bad secret"
redis-cli -p "$REDIS_PORT" LPUSH m:q:sqlite 'this is not an event' >/dev/null
wait_metric 'v == 1' syncrelay_sink_dead_total sink=sqlite
scrape
assert_eq 1 "$($PROM get "$M" syncrelay_events_total source=supabase outcome=duplicate)" "duplicate"
assert_eq 1 "$($PROM get "$M" syncrelay_events_total source=supabase outcome=rejected)" "rejected"
assert_eq 1 "$($PROM get "$M" syncrelay_http_requests_total route=/v1/webhooks/supabase status=401)" \
    "401s"
assert_eq 1 "$($PROM get "$M" syncrelay_queue_dead sink=sqlite)" "queue_dead sqlite"
assert_eq 1 "$($PROM get "$M" syncrelay_shared_sink_events_total sink=sqlite outcome=dead)" \
    "shared dead:sqlite"
assert_eq 1 "$($PROM get "$M" syncrelay_shared_events_total outcome=duplicate)" "shared duplicate"

# 3. Postgres down: the change waits in retry, then lands
pg_stop
post_twenty "$FIX/twenty/person.updated.json"
assert_eq 202 "$STATUS" "twenty person.updated: $(cat "$TEST_TMP/answer")"
wait_metric 'v >= 1' syncrelay_sink_retried_total sink=postgres
scrape
assert_eq 0 "$($PROM get "$M" syncrelay_sink_dead_total sink=postgres)" "nothing dead during the outage"
pending=$(($($PROM get "$M" syncrelay_queue_retrying sink=postgres) + \
    $($PROM get "$M" syncrelay_queue_in_flight sink=postgres) + \
    $($PROM get "$M" syncrelay_queue_queued sink=postgres)))
[ "$pending" -ge 1 ] || fail "the postgres event is neither queued, in flight nor retrying"
pg_start
wait_metric 'v == 2' syncrelay_sink_written_total sink=postgres
drained postgres sqlite
scrape
[ "$($PROM get "$M" syncrelay_reconnects_total target=postgres)" -ge 1 ] ||
    fail "no postgres reconnect counted"
assert_eq 0 "$($PROM get "$M" syncrelay_sink_dead_total sink=postgres)" "nothing dead after the outage"

# 4. Redis down: local metrics still served
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
wait_metric 'v == 0' syncrelay_redis_up # $M is that scrape
assert_eq 2 "$($PROM get "$M" syncrelay_sink_written_total sink=postgres)" "local metrics without redis"
assert_eq missing "$($PROM get "$M" syncrelay_queue_queued sink=postgres)" "no queue gauges without redis"
assert_eq missing "$($PROM get "$M" syncrelay_shared_events_total outcome=accepted)" \
    "no shared counters without redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$TEST_TMP/redis-$REDIS_PORT" >>"$TEST_TMP/redis-$REDIS_PORT/log" 2>&1 &
LIB_PIDS+=("$!")
wait_metric 'v == 1' syncrelay_redis_up
wait_metric 'v >= 1' syncrelay_reconnects_total target=redis

kill -TERM "$RELAY_PID"
wait "$RELAY_PID" || fail "serve exited with $?: $(tail -5 "$TEST_TMP/relay.log")"
echo "ok"
