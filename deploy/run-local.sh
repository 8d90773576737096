#!/usr/bin/env bash
# One command to a running relay on a fresh Debian machine: installs what is
# missing, builds, starts a private redis-server (AOF on, Unix socket under
# the data directory) unless SYNCRELAY_REDIS_URL is set, and runs
# `syncrelay serve` on its embedded defaults: SQLite sink ./syncrelay.db,
# listening on 127.0.0.1:8080. Ctrl-C stops both cleanly.
#
# Environment: SYNCRELAY_DATA_DIR (default ./data), SYNCRELAY_BUILD_DIR
# (default ./build), any SYNCRELAY_<SECTION>_<KEY> config override.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/deploy/packages.sh"
# shellcheck disable=SC2086
install_missing $SYNCRELAY_BUILD_PACKAGES $SYNCRELAY_RUN_PACKAGES

BUILD=${SYNCRELAY_BUILD_DIR:-$REPO/build}
DATA=$(mkdir -p "${SYNCRELAY_DATA_DIR:-./data}" && cd "${SYNCRELAY_DATA_DIR:-./data}" && pwd)
cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRELAY_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j2 --target syncrelay >/dev/null
BIN="$BUILD/syncrelay"

REDIS_PID=""
RELAY_PID=""
stop_all() {
    trap - INT TERM EXIT
    [ -n "$RELAY_PID" ] && kill -TERM "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && redis-cli -s "$DATA/redis.sock" shutdown >/dev/null 2>&1
    [ -n "$REDIS_PID" ] && wait "$REDIS_PID" 2>/dev/null
    echo "syncrelay stopped" >&2
}
trap stop_all INT TERM EXIT

if [ -z "${SYNCRELAY_REDIS_URL:-}" ]; then
    redis-server --port 0 --unixsocket "$DATA/redis.sock" --unixsocketperm 700 \
        --dir "$DATA" --appendonly yes --appendfsync everysec --save "" \
        --logfile "$DATA/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 50); do
        redis-cli -s "$DATA/redis.sock" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    export SYNCRELAY_REDIS_URL="unix://$DATA/redis.sock"
fi

# A local shared secret for Supabase webhooks, made once and kept.
if [ -z "${SYNCRELAY_SUPABASE_SECRET:-}" ]; then
    [ -s "$DATA/supabase.secret" ] || (umask 077 && openssl rand -hex 16 >"$DATA/supabase.secret")
    SYNCRELAY_SUPABASE_SECRET=$(cat "$DATA/supabase.secret")
    export SYNCRELAY_SUPABASE_SECRET
fi

"$BIN" migrate --sink sqlite
"$BIN" serve &
RELAY_PID=$!
LISTEN=${SYNCRELAY_HTTP_LISTEN:-127.0.0.1:8080}
cat >&2 <<MSG

syncrelay is running on http://$LISTEN  (Ctrl-C stops it and its Redis)
  send a test webhook:
    curl -sS -H 'Content-Type: application/json' \\
         -H "X-Syncrelay-Secret: \$(cat $DATA/supabase.secret)" \\
         --data-binary @../shared/fixtures/supabase/contacts.insert.json \\
         http://$LISTEN/v1/webhooks/supabase
  watch the queue:   $BIN status
                     redis-cli -s $DATA/redis.sock LLEN syncrelay:q:sqlite
  see the row:       sqlite3 ./syncrelay.db 'select contact_id, job_title from contacts'
MSG
wait "$RELAY_PID"
