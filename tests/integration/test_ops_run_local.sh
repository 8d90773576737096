#!/usr/bin/env bash
# deploy/run-local.sh end to end (issue 8): run from a clean directory that
# is not the repository, against the already-built tree ($RELAY_BUILD_DIR,
# built, not reconfigured) on a free port; the Supabase fixture posted with
# the secret it prints lands in ./syncrelay.db; a second copy refuses the
# port in use; SIGINT to the process group (what Ctrl-C sends) stops the
# relay and its private redis-server with nothing left running.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
FIX=${RELAY_FIXTURES:?RELAY_FIXTURES not set}
BUILD=${RELAY_BUILD_DIR:?RELAY_BUILD_DIR not set}
RUN_LOCAL="$REPO_DIR/deploy/run-local.sh"

lib_init
WORK="$TEST_TMP/work"
mkdir -p "$WORK"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"

# set -m: the script gets its own process group and, as in a terminal,
# SIGINT is not ignored (non-interactive shells ignore it in background jobs).
set -m
(cd "$WORK" && SYNCRELAY_BUILD_DIR="$BUILD" SYNCRELAY_HTTP_LISTEN="127.0.0.1:$PORT" \
    exec "$RUN_LOCAL") >"$TEST_TMP/run-local.log" 2>&1 &
RUN_PID=$!
set +m
LIB_PIDS+=("$RUN_PID")

# The banner comes once the relay answers /healthz.
for _ in $(seq 1 600); do
    grep -q "syncrelay is running" "$TEST_TMP/run-local.log" && break
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 0.5
done
grep -q "syncrelay is running on $URL" "$TEST_TMP/run-local.log" ||
    fail "run-local.sh did not start: $(tail -n 30 "$TEST_TMP/run-local.log")"
curl -sf "$URL/healthz" >/dev/null || fail "relay not answering on $URL"
[ -S "$WORK/data/redis.sock" ] || fail "no private redis socket under ./data"
REDIS_SERVER_PID=$(redis-cli -s "$WORK/data/redis.sock" INFO server | tr -d '\r' |
    sed -n 's/^process_id://p')
[ -n "$REDIS_SERVER_PID" ] || fail "private redis-server does not answer"
RELAY_SERVE_PID=$(pgrep -P "$RUN_PID" -f "syncrelay serve")
[ -n "$RELAY_SERVE_PID" ] || fail "no syncrelay serve child of run-local.sh"
assert_eq yes "$(redis-cli -s "$WORK/data/redis.sock" CONFIG GET appendonly | tail -n 1)" \
    "private redis AOF"

# A second copy must refuse the port in use, loudly, and start nothing.
(cd "$WORK" && SYNCRELAY_BUILD_DIR="$BUILD" SYNCRELAY_HTTP_LISTEN="127.0.0.1:$PORT" \
    SYNCRELAY_DATA_DIR="$TEST_TMP/data2" "$RUN_LOCAL") >"$TEST_TMP/second.log" 2>&1
[ $? -ne 0 ] || fail "a second run-local.sh on a used port succeeded"
grep -q "already in use" "$TEST_TMP/second.log" ||
    fail "second run-local.sh: no port-in-use message: $(cat "$TEST_TMP/second.log")"
[ ! -e "$TEST_TMP/data2/redis.sock" ] || fail "second run-local.sh started a redis-server"

# The printed secret file, then the Supabase fixture.
SECRET_FILE=$(sed -n 's/^ *supabase secret file: //p' "$TEST_TMP/run-local.log")
[ -s "$SECRET_FILE" ] || fail "no secret file printed"
STATUS=$(curl -s -o "$TEST_TMP/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-Syncrelay-Secret: $(cat "$SECRET_FILE")" \
    --data-binary @"$FIX/supabase/contacts.insert.json" "$URL/v1/webhooks/supabase")
assert_eq 202 "$STATUS" "fixture POST ($(cat "$TEST_TMP/answer"))"
# A wrong secret is refused (the printed one is the one in use).
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-Syncrelay-Secret: not-the-secret" \
    --data-binary @"$FIX/supabase/contacts.insert.json" "$URL/v1/webhooks/supabase")
assert_eq 401 "$STATUS" "wrong secret"

row() { sqlite3 "$WORK/syncrelay.db" \
    "select contact_id || '|' || job_title from contacts where contact_id = 'CNT-000187'" 2>/dev/null; }
for _ in $(seq 1 100); do
    [ -n "$(row)" ] && break
    sleep 0.1
done
assert_eq "CNT-000187|Director of Procurement" "$(row)" "row in ./syncrelay.db"

# Ctrl-C: SIGINT to the whole foreground process group.
kill -INT -- "-$RUN_PID"
for _ in $(seq 1 150); do
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$RUN_PID" 2>/dev/null && fail "run-local.sh still running 15 s after SIGINT"
wait "$RUN_PID"
RC=$?
[ "$RC" -eq 130 ] || [ "$RC" -eq 0 ] || fail "run-local.sh exit status $RC after SIGINT"
for pid in "$RELAY_SERVE_PID" "$REDIS_SERVER_PID"; do
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "process $pid left running after SIGINT"
done
grep -q 'msg="stopped"' "$TEST_TMP/run-local.log" || fail "the relay did not stop cleanly"
grep -q "syncrelay stopped" "$TEST_TMP/run-local.log" || fail "no stop message"
[ ! -S "$WORK/data/redis.sock" ] || fail "redis socket left behind (redis not shut down)"
# The AOF was written: the accepted event's counters survive in it.
grep -rqs "accepted" "$WORK/data/appendonlydir" || fail "nothing in the private redis AOF"
echo "ok"
