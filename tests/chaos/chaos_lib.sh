# Helpers for the chaos scenarios (tests/chaos/chaos.sh) and the latency
# bench (tests/bench/e2e_latency.sh). Source after tests/lib.sh and
# lib_init. Everything runs on loopback and is stopped by lib_cleanup.
#
#   chaos_start_redis MODE   MODE: off | everysec | always (AOF appendfsync)
#   chaos_kill_redis / chaos_restart_redis   kill -9, then the same port and dir
#   chaos_start_bigquery     the fake BigQuery (sets BQ_BASE)
#   chaos_config             writes $CONF (every sink that was started) and migrates
#   chaos_start_relay / chaos_kill_relay / chaos_stop_relay
#   chaos_pending            events not yet settled, over every enabled sink
#   chaos_wait_drained S     until nothing is pending (at most S seconds)

CHAOS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${SYNCRELAY_BIN:-$REPO_DIR/build/syncrelay}
FIXTURES=${RELAY_FIXTURES:-$REPO_DIR/../shared/fixtures}
PY=/usr/bin/python3
CHAOS_PREFIX=chaos
TWENTY_SECRET=twenty-webhook-secret
SUPABASE_SECRET=supabase-test-secret
CHAOS_SINKS=()

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

chaos_redis_server() {
    local dir=$REDIS_DIR
    local aof=(--appendonly no)
    if [ "$REDIS_MODE" != off ]; then
        aof=(--appendonly yes --appendfsync "$REDIS_MODE" --aof-use-rdb-preamble yes)
    fi
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" "${aof[@]}" \
        --dir "$dir" >>"$dir/log" 2>&1 &
    REDIS_PID=$!
    LIB_PIDS+=("$REDIS_PID")
    wait_for redis-cli -p "$REDIS_PORT" ping || fail "redis-server did not start: $(tail -3 "$dir/log")"
    # A restarted server answers LOADING until the AOF is read.
    local i
    for i in $(seq 1 100); do
        [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    fail "redis-server still loading"
}

chaos_start_redis() {
    REDIS_MODE=${1:-off}
    REDIS_PORT=$(free_port)
    REDIS_DIR="$TEST_TMP/redis-$REDIS_PORT"
    mkdir -p "$REDIS_DIR"
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    chaos_redis_server
}

chaos_kill_redis() {
    kill -KILL "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null || true
}

chaos_restart_redis() { chaos_redis_server; }

chaos_start_bigquery() {
    local keydir=$TEST_TMP/bqkey
    mkdir -p "$keydir"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keydir/key.pem" 2>/dev/null
    openssl pkey -in "$keydir/key.pem" -pubout -out "$keydir/pub.pem"
    BQ_PORT=$(free_port)
    KEY_PEM=$keydir/key.pem PORT=$BQ_PORT $PY -c '
import json, os
print(json.dumps({"type": "service_account", "private_key_id": "kid-chaos",
  "private_key": open(os.environ["KEY_PEM"]).read(),
  "client_email": "relay@chaos-project.iam.gserviceaccount.com",
  "token_uri": "http://127.0.0.1:%s/token" % os.environ["PORT"]}))' >"$keydir/sa.json"
    $PY "$REPO_DIR/tests/fakes/fake_bigquery.py" "$BQ_PORT" \
        --schema "$REPO_DIR/deploy/bigquery/contacts_changes.schema.json" \
        --pubkey "$keydir/pub.pem" --kid kid-chaos \
        --client-email relay@chaos-project.iam.gserviceaccount.com \
        >"$TEST_TMP/fake_bq.out" 2>"$TEST_TMP/fake_bq.err" &
    LIB_PIDS+=($!)
    wait_for grep -q "^PORT $BQ_PORT" "$TEST_TMP/fake_bq.out" || fail "fake BigQuery did not start"
    BQ_BASE=http://127.0.0.1:$BQ_PORT
    BQ_CREDENTIALS=$keydir/sa.json
}

# bq_control JSON: a control call to the fake BigQuery.
bq_control() {
    curl -sf -X POST -d "$1" "$BQ_BASE/_control" >/dev/null || fail "bq control $1"
}

# chaos_config: $CONF for the servers started so far (postgres if PG_URL,
# bigquery if BQ_BASE; SQLite unless CHAOS_SQLITE=off), then migrate.
chaos_config() {
    RELAY_PORT=${RELAY_PORT:-$(free_port)}
    RELAY_URL=http://127.0.0.1:$RELAY_PORT
    LITE_DB=$TEST_TMP/chaos.db
    CONF=$TEST_TMP/chaos.yaml
    CHAOS_SINKS=()
    [ "${CHAOS_SQLITE:-on}" = off ] || CHAOS_SINKS=(sqlite)
    {
        echo "http: {listen: \"127.0.0.1:$RELAY_PORT\", threads: ${HTTP_THREADS:-8}}"
        echo "redis: {url: \"$REDIS_URL\", prefix: \"$CHAOS_PREFIX\", timeout_ms: 1000}"
        echo "twenty: {secret: \"$TWENTY_SECRET\", url: \"\"}"
        echo "supabase: {secret: \"$SUPABASE_SECRET\"}"
        if [ "${CHAOS_SQLITE:-on}" = off ]; then
            echo "sqlite: {path: \"off\"}"
        else
            echo "sqlite: {path: \"$LITE_DB\"}"
        fi
        if [ -n "${PG_URL:-}" ]; then
            echo "postgres: {url: \"$PG_URL\", workers: ${PG_WORKERS:-2}}"
            CHAOS_SINKS+=(postgres)
        fi
        if [ -n "${BQ_BASE:-}" ]; then
            echo "bigquery: {project: chaos-project, dataset: crm, endpoint: \"$BQ_BASE\","
            echo "           credentials: \"$BQ_CREDENTIALS\", workers: 2, timeout_ms: 3000}"
            CHAOS_SINKS+=(bigquery)
        fi
        echo "workers: {batch_size: ${BATCH_SIZE:-200}, heartbeat_ttl_s: ${HEARTBEAT_TTL:-2}, grace_ms: 3000}"
        echo "retry: {base_ms: ${RETRY_BASE_MS:-100}, cap_ms: ${RETRY_CAP_MS:-2000}, max_attempts: ${RETRY_MAX:-40}}"
        echo "log: {level: ${LOG_LEVEL:-warn}}"
    } >"$CONF"
    "$BIN" --config "$CONF" migrate >"$TEST_TMP/migrate.log" 2>&1 ||
        fail "migrate: $(cat "$TEST_TMP/migrate.log")"
}

chaos_start_relay() {
    "$BIN" --config "$CONF" serve 2>>"$TEST_TMP/relay.log" &
    RELAY_PID=$!
    LIB_PIDS+=("$RELAY_PID")
    wait_for curl -sf "$RELAY_URL/healthz" || fail "relay did not start: $(tail -5 "$TEST_TMP/relay.log")"
}

chaos_kill_relay() {
    kill -KILL "$RELAY_PID"
    wait "$RELAY_PID" 2>/dev/null || true
}

# chaos_stop_relay: SIGTERM; a non-zero exit fails the run.
chaos_stop_relay() {
    kill -TERM "$RELAY_PID"
    local st=0
    wait "$RELAY_PID" || st=$?
    [ "$st" = 0 ] || fail "relay exited with $st after SIGTERM: $(tail -5 "$TEST_TMP/relay.log")"
}

chaos_pending() {
    local n=0 s k
    for s in "${CHAOS_SINKS[@]}"; do
        n=$((n + $(rcli LLEN "$CHAOS_PREFIX:q:$s") + $(rcli ZCARD "$CHAOS_PREFIX:retry:$s")))
    done
    for k in $(rcli --scan --pattern "$CHAOS_PREFIX:inflight:*"); do n=$((n + $(rcli LLEN "$k"))); done
    echo "$n"
}

# chaos_where_pending: every non-empty queue, retry set and inflight list,
# with the live consumers' heartbeats (what is stuck, and whose it is).
chaos_where_pending() {
    local s k n
    for s in "${CHAOS_SINKS[@]}"; do
        n=$(rcli LLEN "$CHAOS_PREFIX:q:$s")
        [ "$n" = 0 ] || echo "  $CHAOS_PREFIX:q:$s $n"
        n=$(rcli ZCARD "$CHAOS_PREFIX:retry:$s")
        [ "$n" = 0 ] || echo "  $CHAOS_PREFIX:retry:$s $n"
    done
    for k in $(rcli --scan --pattern "$CHAOS_PREFIX:inflight:*"); do
        n=$(rcli LLEN "$k")
        [ "$n" = 0 ] || echo "  $k $n: $(rcli LRANGE "$k" 0 -1 | cut -c1-160 | head -3)"
    done
    for k in $(rcli --scan --pattern "$CHAOS_PREFIX:consumer:*"); do
        echo "  heartbeat $k ttl=$(rcli PTTL "$k")ms"
    done
}

# chaos_wait_drained SECONDS: 0 once nothing is pending; 1 at the limit.
chaos_wait_drained() {
    local i limit=$((${1:-60} * 10))
    for ((i = 0; i < limit; i++)); do
        [ "$(chaos_pending 2>/dev/null)" = 0 ] && return 0
        sleep 0.1
    done
    echo "not drained after ${1:-60} s: $(chaos_pending) pending" >&2
    chaos_where_pending >&2
    return 1
}

# chaos_load OUT [loadgen args...]: the load generator against the relay.
chaos_load() {
    local out=$1
    shift
    $PY "$CHAOS_DIR/loadgen.py" --url "$RELAY_URL" --out "$out" --fixtures "$FIXTURES" \
        --twenty-secret "$TWENTY_SECRET" --supabase-secret "$SUPABASE_SECRET" "$@"
}

# chaos_check LOADLOG... -- [check args]: compares with every sink.
chaos_check() {
    $PY "$CHAOS_DIR/check.py" --redis-port "$REDIS_PORT" --prefix "$CHAOS_PREFIX" \
        --sinks "$(IFS=,; echo "${CHAOS_SINKS[*]}")" --sqlite "$LITE_DB" \
        ${PG_URL:+--pg-url "$PG_URL"} ${BQ_BASE:+--bq "$BQ_BASE"} "$@"
}
