# Shared helpers for tests/run.sh, the integration scenarios and the
# benchmarks: free ports, private redis-server and PostgreSQL instances on
# loopback, and cleanup. Source it; every server it starts is stopped by
# lib_cleanup (registered on EXIT by lib_init).

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LIB_DIR/.." && pwd)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

lib_init() {
    TEST_TMP=$(mktemp -d /tmp/syncrelay-test.XXXXXX)
    chmod 755 "$TEST_TMP"
    LIB_PIDS=()
    LIB_PGDATAS=()
    trap lib_cleanup EXIT
}

lib_cleanup() {
    local status=$? pid d
    set +e
    for pid in "${LIB_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for d in "${LIB_PGDATAS[@]}"; do
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
    done
    for pid in "${LIB_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TEST_TMP"
    # The script's own status stands; a server that a test already reaped is no failure.
    exit "$status"
}

# free_port: prints a TCP port nobody listens on.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for CMD...: retries CMD for up to 10 s.
wait_for() {
    local i
    for i in $(seq 1 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

# start_redis [extra redis-server args]: sets REDIS_PORT, REDIS_URL, REDIS_PID.
start_redis() {
    REDIS_PORT=$(free_port)
    local dir="$TEST_TMP/redis-$REDIS_PORT"
    mkdir -p "$dir"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" "$@" >"$dir/log" 2>&1 &
    REDIS_PID=$!
    LIB_PIDS+=("$REDIS_PID")
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    wait_for redis-cli -p "$REDIS_PORT" ping
}

# start_postgres: sets PG_PORT, PG_URL, PG_DATA. Runs as the postgres user
# (PostgreSQL refuses root) with a UTF-8 database.
start_postgres() {
    PG_PORT=$(free_port)
    PG_DATA="$TEST_TMP/pg-$PG_PORT"
    mkdir -p "$PG_DATA"
    chown postgres "$PG_DATA"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -E UTF8 --no-locale -A trust \
        --nosync -U postgres >"$TEST_TMP/initdb-$PG_PORT.log" 2>&1 || {
        cat "$TEST_TMP/initdb-$PG_PORT.log" >&2
        return 1
    }
    LIB_PGDATAS+=("$PG_DATA")
    pg_start
    PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_start() {
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$PG_DATA/log" \
        -o "-p $PG_PORT -k $PG_DATA -c fsync=off -c listen_addresses=127.0.0.1" start >/dev/null
}

pg_stop() {
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
}

# psql_q SQL: runs SQL against the test database, unaligned, no headers.
psql_q() {
    psql "$PG_URL" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# fail MESSAGE: prints and exits non-zero.
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: expected [$1], got [$2]"
}
