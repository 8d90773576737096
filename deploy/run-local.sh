#!/usr/bin/env bash
# One command to a running relay on a fresh Debian machine: installs what is
# missing, builds, starts a private redis-server (AOF on, Unix socket under
# the data directory) unless SYNCRELAY_REDIS_URL is set, creates the SQLite
# schema and runs `syncrelay serve` on its embedded defaults: SQLite sink
# ./syncrelay.db, listening on 127.0.0.1:8080. Ctrl-C stops both cleanly.
# Works from any directory: data and the SQLite file go in the current one.
#
# Environment: SYNCRELAY_DATA_DIR (default ./data), SYNCRELAY_BUILD_DIR
# (default <repo>/build; an existing build tree is built, not reconfigured),
# any SYNCRELAY_<SECTION>_<KEY> config override (SYNCRELAY_HTTP_LISTEN,
# SYNCRELAY_SQLITE_PATH, SYNCRELAY_POSTGRES_URL, ...).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/packages.sh"
# shellcheck disable=SC2086
install_missing $SYNCRELAY_BUILD_PACKAGES $SYNCRELAY_RUN_PACKAGES

say() { echo "run-local: $*" >&2; }
die() {
    say "$*"
    exit 1
}

BUILD=${SYNCRELAY_BUILD_DIR:-$REPO/build}
DATA=$(mkdir -p "${SYNCRELAY_DATA_DIR:-./data}" && cd "${SYNCRELAY_DATA_DIR:-./data}" && pwd)
SOCK="$DATA/redis.sock"
LISTEN=${SYNCRELAY_HTTP_LISTEN:-127.0.0.1:8080}

# The first listening address as host and port ("8080", "0.0.0.0:8080s").
FIRST=${LISTEN%%,*}
FIRST=${FIRST%[sr]}
PORT=${FIRST##*:}
HOST=127.0.0.1
case "$FIRST" in
*:*) HOST=${FIRST%:*} ;;
esac
case "$HOST" in
0.0.0.0 | "" | "[::]") HOST=127.0.0.1 ;;
esac
URL="http://$HOST:$PORT"

# Refuse to start next to something that already owns the port or the data
# directory, rather than failing half-way or talking to a stranger.
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    die "$HOST:$PORT is already in use; set SYNCRELAY_HTTP_LISTEN=127.0.0.1:<port> to use another"
fi
if [ -z "${SYNCRELAY_REDIS_URL:-}" ]; then
    if [ -S "$SOCK" ] && redis-cli -s "$SOCK" ping >/dev/null 2>&1; then
        die "a redis-server already runs on $SOCK (another run-local.sh on $DATA?)"
    fi
    # sun_path holds 107 bytes.
    [ ${#SOCK} -lt 100 ] || die "data directory path too long for a Unix socket: $DATA"
fi

if [ -f "$BUILD/CMakeCache.txt" ]; then
    say "building in $BUILD"
else
    say "configuring and building in $BUILD (a few minutes the first time)"
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRELAY_TESTING=OFF >/dev/null
fi
cmake --build "$BUILD" -j2 --target syncrelay >/dev/null
BIN="$BUILD/syncrelay"

REDIS_PID=""
RELAY_PID=""
stop_all() {
    local status=$?
    trap - INT TERM EXIT
    set +e
    if [ -n "$RELAY_PID" ]; then
        kill -TERM "$RELAY_PID" 2>/dev/null
        wait "$RELAY_PID" 2>/dev/null
    fi
    if [ -n "$REDIS_PID" ]; then
        # SHUTDOWN rewrites nothing here (no RDB); the AOF is fsynced on exit.
        redis-cli -s "$SOCK" shutdown >/dev/null 2>&1 || kill -TERM "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    say "syncrelay stopped"
    exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${SYNCRELAY_REDIS_URL:-}" ]; then
    # setsid: a Ctrl-C in the terminal reaches this script only, which stops
    # the relay first and Redis after it (nothing is lost in between).
    setsid redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 \
        --dir "$DATA" --appendonly yes --appendfsync everysec --save "" \
        --logfile "$DATA/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server did not start: see $DATA/redis.log"
        sleep 0.1
    done
    redis-cli -s "$SOCK" ping >/dev/null 2>&1 || die "redis-server did not answer: see $DATA/redis.log"
    export SYNCRELAY_REDIS_URL="unix://$SOCK"
fi
case "$SYNCRELAY_REDIS_URL" in
unix://*)
    REDIS_CLI="redis-cli -s ${SYNCRELAY_REDIS_URL#unix://}" && REDIS_CLI=${REDIS_CLI%%\?*}
    REDIS_SHOWN=$SYNCRELAY_REDIS_URL
    ;;
*) # may hold a password: show the variable, not its value
    REDIS_CLI="redis-cli -u \"\$SYNCRELAY_REDIS_URL\""
    REDIS_SHOWN='"$SYNCRELAY_REDIS_URL"'
    ;;
esac

# A local shared secret for Supabase webhooks, made once and kept.
if [ -z "${SYNCRELAY_SUPABASE_SECRET:-}" ]; then
    if [ ! -s "$DATA/supabase.secret" ]; then
        (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$DATA/supabase.secret")
    fi
    SYNCRELAY_SUPABASE_SECRET=$(cat "$DATA/supabase.secret")
    export SYNCRELAY_SUPABASE_SECRET
fi

if [ "${SYNCRELAY_SQLITE_PATH:-}" != "off" ]; then
    "$BIN" migrate --sink sqlite >/dev/null
fi
"$BIN" serve &
RELAY_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$RELAY_PID" 2>/dev/null || {
        wait "$RELAY_PID" || true
        RELAY_PID=""
        die "syncrelay serve did not start (see its log above)"
    }
    sleep 0.1
done

SAMPLE='{"type":"INSERT","table":"contacts","schema":"public","old_record":null,"record":{"id":"local-1","contact_id":"CNT-LOCAL-1","first_name":"Ada","last_name":"Lovelace","emails":["ada@example.org"],"updated_at":"2025-01-01T00:00:00+00:00"}}'
SQLITE_DB=${SYNCRELAY_SQLITE_PATH:-./syncrelay.db}
cat >&2 <<MSG

syncrelay is running on $URL  (Ctrl-C stops it and its Redis)
  supabase secret file: $DATA/supabase.secret
  send a test webhook:
    curl -sS -H 'Content-Type: application/json' \\
         -H "X-Syncrelay-Secret: \$(cat $DATA/supabase.secret)" \\
         --data-binary '$SAMPLE' \\
         $URL/v1/webhooks/supabase
  watch the queue:
    SYNCRELAY_REDIS_URL=${REDIS_SHOWN} $BIN status
    $REDIS_CLI LLEN syncrelay:q:sqlite
    curl -s $URL/metrics | grep -E '^syncrelay_(queue|sink)_'
  see the row:
    sqlite3 $SQLITE_DB 'select contact_id, first_name, last_name from contacts'
MSG
wait "$RELAY_PID"
