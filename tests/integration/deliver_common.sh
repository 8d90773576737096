# Helpers for the delivery scenarios (test_deliver*.sh, test_fault*.sh) and
# tests/bench/drain.sh. Source after tests/lib.sh, lib_init, start_redis and
# start_postgres. Queue prefix "t".

BIN=${SYNCRELAY_BIN:-$REPO_DIR/build/syncrelay}
FIXTURES=${RELAY_FIXTURES:-$REPO_DIR/../shared/fixtures}
DELIVER_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/deliver_check.py

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# deliver_setup [extra yaml]: writes $CONF and migrates both databases.
deliver_setup() {
    LITE_DB="$TEST_TMP/lite.db"
    CONF="$TEST_TMP/syncrelay.yaml"
    cat >"$CONF" <<EOC
redis: {url: "$REDIS_URL", prefix: "t"}
postgres: {url: "$PG_URL", workers: 2}
sqlite: {path: "$LITE_DB"}
workers: {batch_size: ${BATCH_SIZE:-200}, heartbeat_ttl_s: ${HEARTBEAT_TTL:-3}, grace_ms: 5000}
retry: {base_ms: ${RETRY_BASE_MS:-100}, cap_ms: ${RETRY_CAP_MS:-1000}, max_attempts: ${RETRY_MAX:-5}}
log: {level: ${LOG_LEVEL:-warn}}
EOC
    "$BIN" --config "$CONF" migrate >/dev/null || fail "migrate"
    "$BIN" --config "$CONF" migrate >/dev/null || fail "migrate is not idempotent"
}

# fixture_envelopes: every Twenty person and Supabase contact fixture as a
# queue envelope, one per line.
fixture_envelopes() {
    local f src
    for f in "$FIXTURES"/twenty/person*.json "$FIXTURES"/supabase/contacts*.json; do
        src=$(basename "$(dirname "$f")")
        "$BIN" transform --from "$src" --to canonical "$f" 2>/dev/null |
            python3 "$DELIVER_PY" envelope || fail "transform $f"
    done
}

# make_event SOURCE CONTACT VERSION FIELDS_JSON CHANGED_CSV [OP]
make_event() {
    python3 "$DELIVER_PY" make "$@"
}

# push_events FILE SINK...: LPUSH every line of FILE onto t:q:SINK.
push_events() {
    local file=$1 sink
    shift
    for sink in "$@"; do
        python3 "$DELIVER_PY" resp "t:q:$sink" <"$file" | rcli --pipe >/dev/null
    done
}

start_workers() {
    "$BIN" --config "$CONF" serve --role workers 2>>"$TEST_TMP/workers.log" &
    WORKERS_PID=$!
    LIB_PIDS+=("$WORKERS_PID")
}

stop_workers() {
    kill -TERM "$WORKERS_PID"
    wait "$WORKERS_PID" || fail "serve exited with $?: $(tail -5 "$TEST_TMP/workers.log")"
}

# pending: events not yet settled (queued, in flight, waiting to retry).
pending() {
    local n=0 k
    for k in t:q:postgres t:q:sqlite; do n=$((n + $(rcli LLEN "$k"))); done
    for k in t:retry:postgres t:retry:sqlite; do n=$((n + $(rcli ZCARD "$k"))); done
    for k in $(rcli --scan --pattern 't:inflight:*'); do n=$((n + $(rcli LLEN "$k"))); done
    echo "$n"
}

# wait_drained [seconds]: until nothing is pending.
wait_drained() {
    local i limit=$((${1:-30} * 10))
    for ((i = 0; i < limit; i++)); do
        [ "$(pending)" = 0 ] && return 0
        sleep 0.1
    done
    fail "queues not drained: $(pending) pending; log: $(tail -3 "$TEST_TMP/workers.log")"
}

pg_rows() { psql_q "SELECT row_to_json(c) FROM contacts c ORDER BY contact_id"; }
lite_rows() { sqlite3 -json "$LITE_DB" "SELECT * FROM contacts ORDER BY contact_id"; }

# check_rows EVENTS_FILE LABEL: both databases hold what contact.md's rule
# makes of the events, field by field.
check_rows() {
    pg_rows >"$TEST_TMP/pg.jsonl"
    lite_rows >"$TEST_TMP/lite.json"
    python3 "$DELIVER_PY" check "$1" "$TEST_TMP/pg.jsonl" "$TEST_TMP/lite.json" ||
        fail "$2: rows differ from the expected ones"
}

# snapshot: both databases' rows, canonical, without generated ids.
snapshot() {
    pg_rows >"$TEST_TMP/pg.jsonl"
    lite_rows >"$TEST_TMP/lite.json"
    python3 "$DELIVER_PY" snapshot "$TEST_TMP/pg.jsonl" "$TEST_TMP/lite.json"
}

# dead_summary SINK: "contact class code message" per dead letter.
dead_summary() {
    rcli LRANGE "t:dead:$1" 0 -1 | python3 "$DELIVER_PY" dead
}
